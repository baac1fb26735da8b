// Messages that change, in the web client's model (store.js, changes.js), without a browser:
// run by `node --test tests/client/` (inside scripts/test).
import assert from "node:assert/strict";
import { describe, test } from "node:test";

import {
  REACTIONS, beginEdit, canDelete, canEdit, canReact, canReply, endEdit, reactionChips, reactorNames,
  shownContent, snippet, toggleOp,
} from "../../chatactors/web/static/js/changes.js";
import { Store } from "../../chatactors/web/static/js/store.js";

const T0 = "2026-11-30T10:00:00.000Z";
const T1 = "2026-11-30T10:05:00.000Z";

function msg(seq, user = "bob", extra = {}) {
  return {
    id: `m${seq}`, seq, user_id: user, type: "text", content: `#${seq}`, timestamp: T0,
    edited_at: null, deleted: false, reactions: {}, reply_to: null, ...extra,
  };
}

function storeWith(participants = ["alice", "bob", "bot_user"], { viewing = false } = {}) {
  const store = new Store("alice", { isViewing: () => viewing });
  const { chat } = store.upsertChat({ chat_id: "c1", participants, created_at: T0, last_message: null, unread_count: 0 });
  return { store, chat };
}

const shown = (chat, id) => chat.messages.get(chat.byId.get(id));

describe("log positions and resume", () => {
  test("a chat resumes by seq until the socket's ready gives its pos, then by pos", () => {
    const { store, chat } = storeWith();
    store.addMessage(chat, msg(1));
    assert.deepEqual(store.positions(), { c1: 1 });
    assert.deepEqual(store.applyReady({ c1: 7, other: 3 }), [chat]);
    assert.deepEqual(store.positions(), { c1: { pos: 7 } });
    // A later ready (a reconnect) does not move a known position: the resume replays from it.
    assert.deepEqual(store.applyReady({ c1: 12 }), []);
    assert.equal(chat.pos, 7);
  });

  test("every event's pos moves the position forward, never back", () => {
    const { store, chat } = storeWith();
    store.applyReady({ c1: 4 });
    store.receive(chat, msg(5), 5);
    store.receiveUpdate(chat, msg(5, "bob", { content: "edited" }), 6);
    store.receive(chat, msg(3), 3); // a replay by seq brings older positions: no step back
    assert.equal(chat.pos, 6);
    assert.deepEqual(store.positions(), { c1: { pos: 6 } });
  });

  test("resync takes the server's positions and forgets my unconfirmed edits", () => {
    const { store, chat } = storeWith();
    store.addMessage(chat, msg(1, "alice"));
    beginEdit(chat, "m1", "new text");
    store.resync(chat, 40, 95);
    assert.equal(chat.lastSeq, 40);
    assert.deepEqual(store.positions(), { c1: { pos: 95 } });
    assert.equal(chat.pendingEdits.size, 0);
  });
});

describe("message_updated", () => {
  test("replaces the message by id, in place, and the list's preview with it", () => {
    const { store, chat } = storeWith();
    store.applyReady({ c1: 0 });
    for (const seq of [1, 2, 3]) store.receive(chat, msg(seq), seq);
    const key = shown(chat, "m2")._key;
    const changed = store.receiveUpdate(chat, msg(2, "bob", { content: "fixed", edited_at: T1 }), 4);
    assert.equal(changed, true);
    assert.equal(shown(chat, "m2").content, "fixed");
    assert.equal(shown(chat, "m2")._key, key);
    assert.deepEqual(chat.sorted.map((m) => m.id), ["m1", "m2", "m3"]);
    store.receiveUpdate(chat, msg(3, "bob", { deleted: true, content: "" }), 5);
    assert.equal(chat.lastMessage.deleted, true);
    assert.equal(chat.unread, 3); // changes are not new messages
  });

  test("a change to a message not held is dropped, but the list's preview of it changes", () => {
    const store = new Store("alice");
    const { chat } = store.upsertChat({ chat_id: "c1", participants: ["alice", "bob"], last_message: msg(9), unread_count: 1 });
    store.applyReady({ c1: 20 });
    assert.equal(store.receiveUpdate(chat, msg(4, "bob", { content: "old one, edited" }), 21), false);
    assert.equal(store.messageById(chat, "m4"), null);
    assert.equal(store.receiveUpdate(chat, msg(9, "bob", { deleted: true, content: "" }), 22), true);
    assert.equal(chat.lastMessage.deleted, true);
    assert.equal(chat.pos, 22);
  });

  test("a replayed message_received shows the message as it is now, and counts once", () => {
    const { store, chat } = storeWith();
    store.applyReady({ c1: 0 });
    store.receive(chat, msg(1), 1);
    assert.equal(store.receive(chat, msg(1, "bob", { content: "edited since", edited_at: T1 }), 1), null);
    assert.equal(shown(chat, "m1").content, "edited since");
    assert.equal(chat.unread, 1);
  });

  test("a page read before an event does not undo it; a page read after it wins", () => {
    const { store, chat } = storeWith();
    store.applyReady({ c1: 10 });
    store.receive(chat, msg(1), 11);
    const coversBefore = store.coversNow(chat); // 11: the page request goes out now
    store.receiveUpdate(chat, msg(1, "bob", { reactions: { "👍": ["carol"] } }), 12); // while it is on its way
    store.mergePage(chat, [msg(1)], { covers: coversBefore }); // the page answers the older state
    assert.deepEqual(shown(chat, "m1").reactions, { "👍": ["carol"] });
    store.mergePage(chat, [msg(1, "bob", { content: "later", reactions: { "👍": ["carol"] } })], { covers: store.coversNow(chat) });
    assert.equal(shown(chat, "m1").content, "later");
  });

  test("what was read before the position was known is replaced by anything read after", () => {
    const store = new Store("alice");
    const { chat } = store.upsertChat({ chat_id: "c1", participants: ["alice", "bob"], last_message: msg(3), unread_count: 0 });
    store.addPage(chat, [msg(1), msg(2), msg(3)], { covers: -1 });
    store.applyReady({ c1: 5 });
    // Read again after ready: bob edited message 2 just before the socket subscribed.
    store.mergePage(chat, [msg(1), msg(2, "bob", { content: "edited in the gap" }), msg(3)], { covers: store.coversNow(chat) });
    assert.equal(shown(chat, "m2").content, "edited in the gap");
  });
});

describe("answers to my changes", () => {
  test("an answer that arrives before its event shows at once", () => {
    const { store, chat } = storeWith();
    store.applyReady({ c1: 0 });
    store.receive(chat, msg(1), 1);
    const posAtSend = chat.pos;
    assert.equal(store.applyAnswer(chat, msg(1, "bob", { reactions: { "❤️": ["alice"] } }), posAtSend), true);
    assert.deepEqual(shown(chat, "m1").reactions, { "❤️": ["alice"] });
    // Its event follows and is applied as usual.
    store.receiveUpdate(chat, msg(1, "bob", { reactions: { "❤️": ["alice"] } }), 2);
    assert.equal(chat.pos, 2);
  });

  test("an answer overtaken by a later event about the message is not applied", () => {
    const { store, chat } = storeWith();
    store.applyReady({ c1: 0 });
    store.receive(chat, msg(1, "alice"), 1);
    const posAtSend = chat.pos;
    // My edit (pos 2), then bob's reaction (pos 3): both events come before the edit's answer.
    store.receiveUpdate(chat, msg(1, "alice", { content: "mine, edited", edited_at: T1 }), 2);
    const both = { content: "mine, edited", edited_at: T1, reactions: { "👍": ["bob"] } };
    store.receiveUpdate(chat, msg(1, "alice", both), 3);
    assert.equal(store.applyAnswer(chat, msg(1, "alice", { content: "mine, edited", edited_at: T1 }), posAtSend), false);
    assert.deepEqual(shown(chat, "m1").reactions, { "👍": ["bob"] });
  });

  test("my send answered after its event and a reaction to it keeps the reaction", () => {
    const { store, chat } = storeWith();
    store.applyReady({ c1: 0 });
    const pending = store.addPending(chat, { type: "text", content: "hi" });
    const stored = msg(1, "alice", { client_message_id: pending.client_message_id, content: "hi" });
    store.beginAttempt(chat, pending);
    store.receive(chat, stored, 1);
    store.receiveUpdate(chat, { ...stored, reactions: { "😂": ["bob"] } }, 2);
    assert.equal(store.confirm(chat, pending, stored, 0), null);
    assert.deepEqual(shown(chat, "m1").reactions, { "😂": ["bob"] });
    assert.equal(chat.messages.size, 1);
  });
});

describe("my edits", () => {
  test("show at once, stay until the message shows them, and go back on failure", () => {
    const { store, chat } = storeWith();
    store.applyReady({ c1: 0 });
    store.receive(chat, msg(1, "alice"), 1);
    const m = () => shown(chat, "m1");
    beginEdit(chat, "m1", "typo fixed");
    assert.equal(shownContent(chat, m()), "typo fixed");
    endEdit(chat, "m1"); // answered, but the event with the new text is still on its way
    assert.equal(shownContent(chat, m()), "typo fixed");
    store.receiveUpdate(chat, msg(1, "alice", { content: "typo fixed", edited_at: T1 }), 2);
    assert.equal(chat.pendingEdits.size, 0);
    assert.equal(shownContent(chat, m()), "typo fixed");

    beginEdit(chat, "m1", "refused");
    endEdit(chat, "m1", { failed: true });
    assert.equal(shownContent(chat, m()), "typo fixed");
  });

  test("a delete ends an edit in progress", () => {
    const { store, chat } = storeWith();
    store.applyReady({ c1: 0 });
    store.receive(chat, msg(1, "alice"), 1);
    beginEdit(chat, "m1", "never mind");
    store.receiveUpdate(chat, msg(1, "alice", { deleted: true, content: "" }), 2);
    assert.equal(shownContent(chat, shown(chat, "m1")), "");
  });
});

describe("reactions", () => {
  test("chips keep the server's order, count users and know mine", () => {
    const m = msg(1, "bob", { reactions: { "👍": ["bob", "alice"], "🎉": ["carol"], "😢": [] } });
    assert.deepEqual(reactionChips(m, "alice"), [
      { emoji: "👍", count: 2, users: ["bob", "alice"], mine: true },
      { emoji: "🎉", count: 1, users: ["carol"], mine: false },
    ]);
    assert.deepEqual(reactionChips({ ...m, deleted: true }, "alice"), []);
  });

  test("a toggle takes back my reaction or adds it", () => {
    const m = msg(1, "bob", { reactions: { "👍": ["alice"] } });
    assert.equal(toggleOp(m, "👍", "alice"), "unreact");
    assert.equal(toggleOp(m, "❤️", "alice"), "react");
    assert.equal(toggleOp(m, "👍", "bob"), "react");
  });

  test("who reacted, for the tooltip", () => {
    assert.equal(reactorNames(["bob"], "alice"), "bob");
    assert.equal(reactorNames(["alice", "bob", "bot_user"], "alice"), "You, bob and Bot");
  });

  test("the offered emoji are single, fully qualified emoji", () => {
    assert.ok(REACTIONS.includes("❤️") && !REACTIONS.includes("❤"));
    const graphemes = new Intl.Segmenter("en", { granularity: "grapheme" });
    for (const emoji of REACTIONS) assert.equal([...graphemes.segment(emoji)].length, 1, emoji);
  });
});

describe("what I may do, replies and snippets", () => {
  test("edit my own text messages; delete my own; reply and react to any stored one", () => {
    const mine = msg(1, "alice");
    const theirs = msg(2, "bob");
    const image = msg(3, "alice", { type: "image", content: "https://x/y.png" });
    assert.equal(canEdit(mine, "alice"), true);
    assert.equal(canEdit(theirs, "alice"), false);
    assert.equal(canEdit(image, "alice"), false);
    assert.equal(canDelete(image, "alice"), true);
    assert.equal(canDelete(theirs, "alice"), false);
    assert.equal(canReply(theirs) && canReact(theirs), true);
    const gone = { ...mine, deleted: true };
    assert.equal(canEdit(gone, "alice") || canDelete(gone, "alice") || canReply(gone) || canReact(gone), false);
    const pending = { ...mine, id: null, _local: true };
    assert.equal(canReply(pending) || canReact(pending) || canEdit(pending, "alice"), false);
  });

  test("a reply finds its original if held", () => {
    const { store, chat } = storeWith();
    store.addMessage(chat, msg(1));
    const reply = msg(2, "alice", { reply_to: "m1" });
    const far = msg(3, "alice", { reply_to: "m-long-ago" });
    store.addMessage(chat, reply);
    assert.equal(store.replyTarget(chat, reply)?.id, "m1");
    assert.equal(store.replyTarget(chat, far), null);
    assert.equal(store.replyTarget(chat, msg(4)), null);
  });

  test("snippets: one line, shortened; media and deleted messages by name", () => {
    assert.equal(snippet(msg(1, "bob", { content: "two\nlines  here" })), "two lines here");
    assert.equal(snippet(msg(1, "bob", { content: "x".repeat(200) }), 10), `${"x".repeat(9)}…`);
    assert.equal(snippet(msg(1, "bob", { type: "image" })), "Photo");
    assert.equal(snippet(msg(1, "bob", { type: "audio" })), "Audio");
    assert.equal(snippet(msg(1, "bob", { deleted: true, content: "" })), "Message deleted");
  });
});
