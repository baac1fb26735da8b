// Searching messages (search.js), without a browser: what is asked while typing and on Enter,
// the query string, and the results grouped by chat across pages.
// Run by `node --test tests/client/` (inside scripts/test).
import assert from "node:assert/strict";
import { describe, test } from "node:test";

import { groupHits, hitCount, liveQuery, searchParams, typedQuery } from "../../chatactors/web/static/js/search.js";

describe("what is searched for", () => {
  test("while typing, the word being typed is a prefix", () => {
    assert.equal(liveQuery("lun"), "lun*");
    assert.equal(liveQuery("lunch fri"), "lunch fri*");
    assert.equal(liveQuery("  café"), "café*");
  });

  test("a space after it, quotes or a star: as typed", () => {
    assert.equal(liveQuery("lunch "), "lunch");
    assert.equal(liveQuery('"the conf'), '"the conf');
    assert.equal(liveQuery("conf* room"), "conf* room");
  });

  test("nothing until two letters (or one CJK character); a last word of one letter stays a word", () => {
    assert.equal(liveQuery("l"), null);
    assert.equal(liveQuery("!!"), null);
    assert.equal(liveQuery("東"), "東");
    assert.equal(liveQuery("東京"), "東京");
    assert.equal(liveQuery("plan b"), "plan b");
  });

  test("Enter searches what was typed, if it has a word", () => {
    assert.equal(typedQuery("  lunch  "), "lunch");
    assert.equal(typedQuery("a"), "a");
    assert.equal(typedQuery("*"), null);
    assert.equal(typedQuery(""), null);
  });

  test("the query string carries only the filters that are set", () => {
    assert.deepEqual(searchParams({ q: "x", userId: "alice" }), { q: "x", user_id: "alice", limit: "20" });
    assert.deepEqual(
      searchParams({ q: "x", userId: "alice", chatId: "c1", from: "bob", type: "image", cursor: "abc", limit: 5 }),
      { q: "x", user_id: "alice", limit: "5", chat_id: "c1", from: "bob", type: "image", cursor: "abc" },
    );
  });
});

describe("results grouped by chat", () => {
  const hit = (chat, id) => ({ chat_id: chat, message: { id, content: id }, highlights: [] });

  test("each chat once, in the order first met, its hits in the server's order", () => {
    const groups = groupHits([], [hit("a", "1"), hit("b", "2"), hit("a", "3")]);
    assert.deepEqual(groups.map((g) => [g.chatId, g.hits.map((h) => h.message.id)]), [["a", ["1", "3"]], ["b", ["2"]]]);
  });

  test("a next page joins the groups shown, a message found twice shows once", () => {
    const first = groupHits([], [hit("a", "1"), hit("b", "2")]);
    const both = groupHits(first, [hit("b", "2"), hit("c", "4"), hit("a", "5")]);
    assert.deepEqual(both.map((g) => [g.chatId, g.hits.map((h) => h.message.id)]), [["a", ["1", "5"]], ["b", ["2"]], ["c", ["4"]]]);
    assert.equal(hitCount(both), 4);
    assert.equal(hitCount(first), 2); // left as it was
  });

  test("malformed hits are skipped", () => {
    assert.deepEqual(groupHits([], [null, { chat_id: "a" }, { message: { id: "1" } }]), []);
    assert.deepEqual(groupHits([], undefined), []);
  });
});
