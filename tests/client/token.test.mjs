// Reading a JWT's user in the web client (chatactors/web/static/js/token.js), without a browser:
// run by `node --test tests/client/` (inside scripts/test).
import assert from "node:assert/strict";
import { describe, test } from "node:test";

import { base64UrlBytes, tokenPayload, tokenUser } from "../../chatactors/web/static/js/token.js";

const HEADER = Buffer.from(JSON.stringify({ alg: "HS256", typ: "JWT" })).toString("base64url");

/** A JWT as servers write it: base64url without padding, UTF-8 JSON (the signature is not read). */
function jwtWith(payload) {
  const body = Buffer.from(typeof payload === "string" ? payload : JSON.stringify(payload));
  return `${HEADER}.${body.toString("base64url")}.c2lnbmF0dXJl`;
}

describe("the token's user", () => {
  for (const user of ["alice", "zoë", "Ørjan Åsmund", "李小龍", "🦊 fox", "d'Artagnan"]) {
    test(`${user} reads back as itself`, () => {
      assert.equal(tokenUser(jwtWith({ sub: user, exp: 2_000_000_000 })), user);
    });
  }

  test("every payload length reads back, whatever padding base64 would have needed", () => {
    for (let extra = 0; extra < 6; extra += 1) {
      const user = "zoë" + "x".repeat(extra);
      const token = jwtWith({ sub: user });
      assert.ok(!token.includes("="), "servers leave the padding out");
      assert.equal(tokenUser(token), user);
    }
  });

  test("padding that is present is accepted too", () => {
    const body = Buffer.from(JSON.stringify({ sub: "zoë" })).toString("base64url");
    const padded = body + "=".repeat((4 - (body.length % 4)) % 4);
    assert.notEqual(padded, body);
    assert.equal(tokenUser(`${HEADER}.${padded}.sig`), "zoë");
  });

  test("base64url's own digits (- and _) are read as + and /", () => {
    // "?>" and "??" encode to sextets 62 and 63, the two digits base64url spells differently.
    const token = jwtWith({ sub: "a?>??b" });
    assert.match(token.split(".")[1], /[-_]/);
    assert.equal(tokenUser(token), "a?>??b");
  });

  test("anything that is not a token with a non-empty string sub is nobody", () => {
    const notUsers = [
      "",
      "not-a-jwt",
      `${HEADER}.${jwtWith({ sub: "x" }).split(".")[1]}`, // two parts
      `${HEADER}.!!!.sig`, // not base64url
      `${HEADER}.a.sig`, // an impossible base64 length
      jwtWith("not json"),
      jwtWith("[1, 2]"),
      jwtWith("null"),
      jwtWith({ exp: 1 }),
      jwtWith({ sub: "" }),
      jwtWith({ sub: 42 }),
      `${HEADER}.${Buffer.from([0x7b, 0x22, 0xff, 0x22, 0x7d]).toString("base64url")}.sig`, // not UTF-8
    ];
    for (const token of notUsers) assert.equal(tokenUser(token), null, token);
  });
});

describe("the pieces", () => {
  test("base64url bytes are the bytes, not UTF-16 code units of a Latin-1 reading", () => {
    assert.deepEqual([...base64UrlBytes(Buffer.from("ë").toString("base64url"))], [0xc3, 0xab]);
  });

  test("the payload keeps every claim", () => {
    assert.deepEqual(tokenPayload(jwtWith({ sub: "zoë", exp: 5, iat: 1 })), { sub: "zoë", exp: 5, iat: 1 });
  });
});
