// Mentions in the web client (mentions.js; the counts in store.js), without a browser: the
// server's rule as the client reads it back (the same cases as tests/domain/test_mentions.py),
// the marks a message shows, the composer's suggestions and what it inserts, and the unread
// mention counts. Run by `node --test tests/client/` (inside scripts/test).
import assert from "node:assert/strict";
import { describe, test } from "node:test";

import {
  findMentions, insertMention, mentionCandidates, mentionQuery, mentionSpans, mentionToken, mentionsMe, shownMentions,
  suggestMentions,
} from "../../chatactors/web/static/js/mentions.js";
import { Store } from "../../chatactors/web/static/js/store.js";

const PARTICIPANTS = ["alice", "bob", "Anna Maria", "Anna", "bob.", "all", "bot_user"];

describe("who a text mentions: the server's rule", () => {
  const cases = [
    ["hi @alice", ["alice"]],
    ["@alice, @bob! and @alice again", ["alice", "bob"]],
    ["@Anna Maria said", ["Anna Maria"]], // the longest id that follows
    ["@Anna said", ["Anna"]],
    ["@bob. is an id, so is @bob", ["bob.", "bob"]],
    ["@[bob.] and @[Anna Maria]", ["bob.", "Anna Maria"]],
    ["@alicex @bob_ @Alice", []], // a longer word, another case: no id
    ["mail bob@example.com or x@alice", []], // an @ inside a word mentions nobody
    ["@carol @[carol] @[] @[alice", []], // not participants; an unclosed bracket
    ["(@alice)", ["alice"]],
    ["@[all]", ["all"]], // the user called "all"
    ["é@alice 𝐀@alice 東@alice", []], // letters beyond ASCII (one outside the BMP) touch the @
    ["😀@alice", ["alice"]], // an emoji is not a letter
  ];
  for (const [text, mentioned] of cases) {
    test(JSON.stringify(text), () => assert.deepEqual(findMentions(text, PARTICIPANTS, "carol"), mentioned));
  }

  test("@all names every participant but the author, in the chat's order", () => {
    assert.deepEqual(findMentions("@all lunch?", PARTICIPANTS, "bob"), PARTICIPANTS.filter((u) => u !== "bob"));
    assert.deepEqual(findMentions("@alldone", PARTICIPANTS, "bob"), []);
  });

  test("only the first 1000 @ are looked at", () => {
    assert.deepEqual(findMentions(`${"@".repeat(1000)} @alice`, PARTICIPANTS, "carol"), []);
    assert.deepEqual(findMentions(`${"@x ".repeat(999)}@alice`, PARTICIPANTS, "carol"), ["alice"]);
  });

  test("spans are UTF-16 offsets of the JavaScript string, the @ included", () => {
    const text = "😀 @alice and @[Anna Maria]";
    const spans = mentionSpans(text, PARTICIPANTS);
    assert.deepEqual(spans.map((s) => text.slice(s.start, s.end)), ["@alice", "@[Anna Maria]"]);
  });
});

describe("the mentions a message shows", () => {
  const message = (content, mentions, user = "bob") => ({ user_id: user, content, mentions });

  test("only the spans that named someone of its mentions, mine set apart", () => {
    const text = "@alice and @carol, ask @Anna";
    const shown = shownMentions(text, message(text, ["alice", "Anna"]), "alice");
    assert.deepEqual(shown.map((s) => [text.slice(s.start, s.end), s.me]), [["@alice", true], ["@Anna", false]]);
  });

  test("@all counts when the server named people with it", () => {
    const text = "@all standup";
    assert.deepEqual(shownMentions(text, message(text, ["alice", "carol"]), "alice").map((s) => s.me), [true]);
    assert.deepEqual(shownMentions(text, message(text, []), "alice"), []);
  });

  test("the author's own longer id is not read as a shorter one", () => {
    const text = "@Anna Maria here, @Anna";
    const shown = shownMentions(text, message(text, ["Anna"], "Anna Maria"), "Anna");
    assert.deepEqual(shown.map((s) => text.slice(s.start, s.end)), ["@Anna"]);
  });

  test("a span inside a link is left to the link", () => {
    const text = "see https://x.example/@alice and @alice";
    const link = [4, 28];
    assert.deepEqual(shownMentions(text, message(text, ["alice"]), "alice", [link]).map((s) => s.start), [33]);
  });

  test("mentionsMe: someone else's live message naming me", () => {
    assert.equal(mentionsMe({ user_id: "bob", mentions: ["alice"] }, "alice"), true);
    assert.equal(mentionsMe({ user_id: "alice", mentions: ["alice"] }, "alice"), false);
    assert.equal(mentionsMe({ user_id: "bob", mentions: ["alice"], deleted: true }, "alice"), false);
    assert.equal(mentionsMe({ user_id: "bob" }, "alice"), false); // a server without mentions
  });
});

describe("the composer: the @ being typed", () => {
  test("an @ at the start or after a space, up to the caret", () => {
    assert.deepEqual(mentionQuery("hi @bo", 6), { start: 3, end: 6, query: "bo", bracketed: false });
    assert.deepEqual(mentionQuery("@", 1), { start: 0, end: 1, query: "", bracketed: false });
    assert.deepEqual(mentionQuery("(@[Anna M", 9), { start: 1, end: 9, query: "Anna M", bracketed: true });
  });

  test("the rest of the word the caret is in is replaced too", () => {
    assert.equal(mentionQuery("@bobby and", 3).end, 6);
  });

  test("no mention: inside a word, after a space, over a line or a closed bracket", () => {
    assert.equal(mentionQuery("mail bob@ex", 11), null);
    assert.equal(mentionQuery("@ home", 6), null);
    assert.equal(mentionQuery("@bob\nand", 8), null);
    assert.equal(mentionQuery("@[bob] x", 8), null);
    assert.equal(mentionQuery("no at here", 5), null);
  });

  test("suggestions: starts first, then a word that starts so, then contains; accents and case aside", () => {
    const people = ["zoé", "Anna Maria", "Bob Zorro", "ezra"].map((id) => ({ id, label: id, all: false }));
    assert.deepEqual(suggestMentions("zo", people).map((c) => c.id), ["zoé", "Bob Zorro"]);
    assert.deepEqual(suggestMentions("ZOE", people).map((c) => c.id), ["zoé"]);
    assert.deepEqual(suggestMentions("z", people).map((c) => c.id), ["zoé", "Bob Zorro", "ezra"]);
    assert.equal(suggestMentions("", people).length, 4);
    assert.deepEqual(suggestMentions("nobody", people), []);
  });

  test("candidates: the others, the bot after the people, everyone in a group only", () => {
    const group = { participants: ["alice", "bot_user", "bob", "carol"], kind: "group" };
    assert.deepEqual(mentionCandidates(group, "alice").map((c) => c.id), ["bob", "carol", "bot_user", "all"]);
    assert.equal(mentionCandidates(group, "alice").find((c) => c.id === "bot_user").label, "Bot");
    const direct = { participants: ["alice", "bob", "bot_user"], kind: "direct" };
    assert.deepEqual(mentionCandidates(direct, "alice").map((c) => c.id), ["bob", "bot_user"]);
  });
});

describe("the composer: what a chosen mention inserts", () => {
  const names = (text, author = "carol") => findMentions(text, PARTICIPANTS, author);

  test("the plain form when the server reads it back as that id", () => {
    assert.equal(mentionToken("alice", PARTICIPANTS, " hi"), "@alice");
    assert.equal(mentionToken("Anna Maria", PARTICIPANTS, " hi"), "@Anna Maria");
    assert.equal(mentionToken("bob.", PARTICIPANTS, " hi"), "@bob.");
  });

  test("brackets when a longer id, everyone, or the next word would take it", () => {
    assert.equal(mentionToken("Anna", PARTICIPANTS, " Maria is here"), "@[Anna]");
    assert.equal(mentionToken("all", PARTICIPANTS, " "), "@[all]"); // the user called "all"
    assert.equal(mentionToken("bob", PARTICIPANTS, ". ok"), "@[bob]"); // "@bob." would name "bob."
    assert.equal(mentionToken("all", PARTICIPANTS, " ", { all: true }), "@all");
  });

  test("the text with the mention in, a space after it, the caret after the space", () => {
    const query = mentionQuery("ask @an", 7);
    const { text, caret } = insertMention("ask @an", query, { id: "Anna Maria", all: false }, PARTICIPANTS);
    assert.equal(text, "ask @Anna Maria ");
    assert.equal(caret, text.length);
    assert.deepEqual(names(text), ["Anna Maria"]);
  });

  test("in the middle of a text, whatever follows, the server reads the person chosen", () => {
    for (const [id, rest] of [["Anna", "Maria said"], ["bob", ".x"], ["all", "x"], ["alice", ""]]) {
      const before = `hey @${id.slice(0, 2)}`;
      const value = `${before}${rest ? ` ${rest}` : ""}`;
      const query = mentionQuery(value, before.length);
      const { text } = insertMention(value, query, { id, all: false }, PARTICIPANTS);
      assert.deepEqual(names(text), [id], text);
    }
  });
});

describe("unread mentions of me, per chat", () => {
  const T0 = "2026-11-30T10:00:00.000Z";
  let n = 0;
  const msg = (seq, user = "bob", mentions = []) => {
    n += 1;
    return { id: `m${n}`, seq, user_id: user, type: "text", content: "@alice?", timestamp: T0, mentions };
  };
  function setup({ viewing = false } = {}) {
    const store = new Store("alice", { isViewing: () => viewing });
    const { chat } = store.upsertChat({
      chat_id: "c1", participants: ["alice", "bob"], last_message: null, unread_count: 0, unread_mentions: 0,
    });
    return { store, chat };
  }

  test("the list's count, then one more for each new message that names me", () => {
    const store = new Store("alice");
    const { chat } = store.upsertChat({ chat_id: "c1", participants: ["alice", "bob"], last_message: msg(3), unread_count: 2, unread_mentions: 1 });
    assert.equal(chat.unreadMentions, 1);
    store.receive(chat, msg(4, "bob", ["alice"]), 10);
    store.receive(chat, msg(5, "bob", ["carol"]), 11);
    store.receive(chat, msg(6, "alice", ["alice"]), 12); // mine
    assert.equal(chat.unreadMentions, 2);
    assert.equal(chat.unread, 4);
  });

  test("none while I am looking at the chat; reading it clears the count", () => {
    const { store, chat } = setup({ viewing: true });
    store.receive(chat, msg(1, "bob", ["alice"]), 1);
    assert.equal(chat.unreadMentions, 0);
    const other = setup();
    other.store.receive(other.chat, msg(1, "bob", ["alice"]), 1);
    assert.equal(other.chat.unreadMentions, 1);
    other.store.applyRead(other.chat, "alice", 1);
    assert.equal(other.chat.unreadMentions, 0);
  });

  test("the socket's ready count stands; replays it already counted are not counted again", () => {
    const { store, chat } = setup();
    store.applyMentionCounts({ c1: 2 }, { c1: 20 });
    store.receive(chat, msg(1, "bob", ["alice"]), 19); // replayed, in ready's count
    assert.equal(chat.unreadMentions, 2);
    store.receive(chat, msg(2, "bob", ["alice"]), 21); // after it: live
    assert.equal(chat.unreadMentions, 3);
  });

  test("an edit that drops the mention, or a delete, takes it back while unread", () => {
    const { store, chat } = setup();
    const m = msg(1, "bob", ["alice"]);
    store.receive(chat, m, 1);
    store.receive(chat, msg(2, "bob"), 2);
    assert.equal(chat.unreadMentions, 1);
    store.receiveUpdate(chat, { ...m, content: "never mind", mentions: [] }, 3);
    assert.equal(chat.unreadMentions, 0);
    store.receiveUpdate(chat, { ...m, content: "@alice now", mentions: ["alice"] }, 4);
    assert.equal(chat.unreadMentions, 1);
    store.receiveUpdate(chat, { ...m, content: "", mentions: [], deleted: true }, 5);
    assert.equal(chat.unreadMentions, 0);
  });

  test("an edit of a message I have read changes nothing", () => {
    const { store, chat } = setup();
    const m = msg(1, "bob", ["alice"]);
    store.receive(chat, m, 1);
    store.applyRead(chat, "alice", 1);
    store.receive(chat, msg(2, "bob", ["alice"]), 2);
    assert.equal(chat.unreadMentions, 1);
    store.receiveUpdate(chat, { ...m, mentions: [] }, 3);
    assert.equal(chat.unreadMentions, 1);
  });
});
