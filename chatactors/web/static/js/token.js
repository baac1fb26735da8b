// Reading who a JWT is for, with no DOM and no network (Node's test runner covers it:
// tests/client/token.test.mjs). The server verifies the token; the client only needs its `sub`.

/**
 * The bytes a base64url text stands for (RFC 4648 §5: `-` and `_`, padding optional).
 * Throws on text that is not base64url.
 */
export function base64UrlBytes(text) {
  const base64 = text.replace(/-/g, "+").replace(/_/g, "/");
  if (base64.length % 4 === 1) throw new Error("not base64url: impossible length");
  const padded = base64 + "=".repeat((4 - (base64.length % 4)) % 4);
  // atob gives one character per byte (a "binary string"), not text: decode that as UTF-8 next.
  return Uint8Array.from(atob(padded), (char) => char.charCodeAt(0));
}

/** A JWT's payload as an object; throws if it is not a JWT with a JSON object payload. */
export function tokenPayload(token) {
  const parts = token.split(".");
  if (parts.length !== 3) throw new Error("not a JWT: it has three dot-separated parts");
  // JSON text is UTF-8 (RFC 8259 §8.1), so a user id such as "zoë" comes back as itself.
  const json = new TextDecoder("utf-8", { fatal: true }).decode(base64UrlBytes(parts[1]));
  const payload = JSON.parse(json);
  if (payload === null || typeof payload !== "object" || Array.isArray(payload)) {
    throw new Error("not a JWT: its payload is not a JSON object");
  }
  return payload;
}

/** The user a JWT names (its non-empty string `sub`), or null for anything else. */
export function tokenUser(token) {
  try {
    const { sub } = tokenPayload(token);
    return typeof sub === "string" && sub ? sub : null;
  } catch {
    return null;
  }
}
