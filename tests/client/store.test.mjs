// The web client's model (chatactors/web/static/js/store.js), without a browser: run by
// `node --test tests/client/` (inside scripts/test).
import assert from "node:assert/strict";
import { describe, test } from "node:test";

import { PAGE_SIZE, Store } from "../../chatactors/web/static/js/store.js";

const T0 = "2026-11-30T10:00:00.000Z";
let nextId = 0;

function msg(seq, user = "bob", extra = {}) {
  nextId += 1;
  return { id: `m${nextId}`, chat_id: "c1", seq, user_id: user, type: "text", content: `#${seq}`, timestamp: T0, ...extra };
}

function storeWith(participants = ["alice", "bob", "bot_user"], { viewing = false, ...entry } = {}) {
  const store = new Store("alice", { isViewing: () => viewing });
  const { chat } = store.upsertChat({ chat_id: "c1", participants, created_at: T0, last_message: null, unread_count: 0, ...entry });
  return { store, chat };
}

describe("messages and resume positions", () => {
  test("the resume point moves only over a gap-free run of seqs", () => {
    const { store, chat } = storeWith();
    store.addMessage(chat, msg(1));
    store.addMessage(chat, msg(3)); // 2 not held yet: a REST answer to my own send, say
    assert.equal(chat.lastSeq, 1);
    assert.deepEqual(store.positions(), { c1: 1 });
    store.addMessage(chat, msg(2));
    assert.equal(chat.lastSeq, 3);
    assert.deepEqual(chat.sorted.map((m) => m.seq), [1, 2, 3]);
  });

  test("a chat discovered in the list resumes after its last message", () => {
    const store = new Store("alice");
    store.upsertChat({ chat_id: "c9", participants: ["alice", "bob"], last_message: msg(41), unread_count: 3 });
    assert.deepEqual(store.positions(), { c9: 41 });
    assert.equal(store.chats.get("c9").unread, 3);
  });

  test("the same message twice (replay and page, socket and POST answer) is kept once", () => {
    const { store, chat } = storeWith();
    const m = msg(1);
    assert.ok(store.addMessage(chat, m));
    assert.equal(store.addMessage(chat, { ...m }), null);
    assert.equal(store.receive(chat, { ...m }), null);
    assert.equal(chat.messages.size, 1);
    assert.equal(chat.unread, 0);
  });

  test("a page of history: more pages only when it is full and does not start at seq 1", () => {
    const { store, chat } = storeWith();
    const page = Array.from({ length: PAGE_SIZE }, (_, i) => msg(i + 51));
    assert.equal(store.addPage(chat, page), true);
    assert.equal(chat.oldestSeq, 51);
    assert.equal(store.addPage(chat, [msg(1), msg(2)]), false);
  });

  test("resync forgets what was held but keeps my pending messages", () => {
    const { store, chat } = storeWith();
    store.addMessage(chat, msg(1));
    const pending = store.addPending(chat, { type: "text", content: "still mine" });
    store.resync(chat, 40);
    assert.equal(chat.lastSeq, 40);
    assert.deepEqual([...chat.messages.values()], [pending]);
    assert.equal(chat.historyLoaded, false);
  });
});

describe("unread counts", () => {
  test("live messages from others count unless the chat is on screen; mine never do", () => {
    const { store, chat } = storeWith();
    store.receive(chat, msg(1, "bob"));
    store.receive(chat, msg(2, "alice"));
    assert.equal(chat.unread, 1);
    assert.equal(store.totalUnread, 1);
    const viewed = storeWith(undefined, { viewing: true });
    viewed.store.receive(viewed.chat, msg(1, "bob"));
    assert.equal(viewed.chat.unread, 0);
  });

  test("my read mark at the newest message clears the count", () => {
    const { store, chat } = storeWith();
    store.receive(chat, msg(1));
    store.receive(chat, msg(2));
    assert.equal(store.applyRead(chat, "alice", 2), true);
    assert.equal(chat.unread, 0);
    assert.equal(store.applyRead(chat, "alice", 1), false); // never backwards
  });

  test("the list's count is not taken when it is older than what the socket brought", () => {
    const { store, chat } = storeWith();
    store.receive(chat, msg(1));
    store.receive(chat, msg(2));
    store.upsertChat({ chat_id: "c1", last_message: msg(1), unread_count: 1 });
    assert.equal(chat.unread, 2);
    store.upsertChat({ chat_id: "c1", last_message: msg(2), unread_count: 0 });
    assert.equal(chat.unread, 0);
  });

  test("the unread line sits before the oldest unread message from others", () => {
    const { store, chat } = storeWith();
    for (const seq of [1, 2, 3, 4]) store.receive(chat, msg(seq, seq === 3 ? "alice" : "bob"));
    chat.unreadAtOpen = 2;
    store.placeUnreadMarker(chat);
    assert.deepEqual(chat.unreadMarker, { seq: 2, count: 2 });
  });

  test("read ticks: read by all other people, the bot not counted", () => {
    const { store, chat } = storeWith(["alice", "bob", "carol", "bot_user"]);
    store.applyRead(chat, "bot_user", 5);
    assert.equal(chat.readState(5), "sent");
    store.applyRead(chat, "bob", 5);
    assert.equal(chat.readState(5), "partial");
    store.applyRead(chat, "carol", 6);
    assert.equal(chat.readState(5), "read");
  });
});

describe("new chat with someone I already talk to alone (issue 12 item 16)", () => {
  test("opens the existing one-to-one chat, the newest if there are several", () => {
    const store = new Store("alice");
    store.upsertChat({ chat_id: "old", participants: ["alice", "bob", "bot_user"], created_at: "2026-01-01T00:00:00Z" });
    store.upsertChat({ chat_id: "new", participants: ["alice", "bob", "bot_user"], created_at: "2026-06-01T00:00:00Z" });
    store.upsertChat({ chat_id: "group", participants: ["alice", "bob", "carol", "bot_user"], created_at: "2026-11-01T00:00:00Z" });
    assert.equal(store.directChatWith(["bob"])?.id, "new");
    assert.equal(store.directChatWith(["bob", "alice", "bot_user", " "].map((p) => p.trim()))?.id, "new");
  });

  test("a group, or someone new, makes a new chat", () => {
    const store = new Store("alice");
    store.upsertChat({ chat_id: "g", participants: ["alice", "bob", "carol", "bot_user"] });
    store.upsertChat({ chat_id: "b", participants: ["alice", "bot_user"] });
    assert.equal(store.directChatWith(["bob"]), null); // only a group with bob
    assert.equal(store.directChatWith(["bob", "carol"]), null); // groups are never reused
    assert.equal(store.directChatWith(["dave"]), null);
  });
});

describe("presence", () => {
  test("dots are green while connected and grey (stale) while disconnected", () => {
    const { store, chat } = storeWith();
    chat.connection = "open";
    store.applyPresence(chat, { user_id: "bob", status: "online", last_seen: T0 });
    assert.equal(chat.presenceDot("bob"), "online");
    assert.equal(chat.presenceDot(), "online");
    chat.connection = "closed";
    assert.equal(chat.presenceDot("bob"), "stale");
    store.applyPresence(chat, { user_id: "bob", status: "offline", last_seen: T0 });
    assert.equal(chat.presenceDot("bob"), null);
  });

  test("typing comes and goes with the status", () => {
    const { store, chat } = storeWith();
    assert.equal(store.applyPresence(chat, { user_id: "bob", status: "typing", last_seen: T0 }), true);
    assert.equal(chat.statusOf("bob"), "typing");
    store.receive(chat, msg(1, "bob")); // a message ends typing
    assert.equal(chat.statusOf("bob"), "online");
  });

  test("'last seen' only for someone really seen, not the chat's creation time", () => {
    const { store, chat } = storeWith();
    store.applyPresence(chat, { user_id: "bob", status: "offline", last_seen: "2026-11-30T10:00:01Z" });
    assert.equal(chat.lastSeenOf("bob"), null);
    store.applyPresence(chat, { user_id: "bob", status: "offline", last_seen: "2026-11-30T11:30:00Z" });
    assert.equal(chat.lastSeenOf("bob")?.toISOString(), "2026-11-30T11:30:00.000Z");
  });

  test("someone this client saw online counts as seen, even right after the chat was made", () => {
    const { store, chat } = storeWith();
    store.applyPresence(chat, { user_id: "bob", status: "online", last_seen: T0 });
    store.applyPresence(chat, { user_id: "bob", status: "offline", last_seen: T0 });
    assert.equal(chat.lastSeenOf("bob")?.toISOString(), T0);
  });
});

describe("pending sends", () => {
  test("one attempt in flight at a time, the same client_message_id throughout", () => {
    const { store, chat } = storeWith();
    const m = store.addPending(chat, { type: "text", content: "hi" });
    assert.equal(store.beginAttempt(chat, m), true);
    assert.equal(store.beginAttempt(chat, m), false);
    store.fail(chat, m, "Network error", { transient: true });
    assert.deepEqual(store.toResend(), [[chat, m]]);
    assert.equal(store.beginAttempt(chat, m), true);
    assert.deepEqual(store.toResend(), []); // in flight: not resent twice
    const stored = store.confirm(chat, m, msg(1, "alice", { client_message_id: m.client_message_id, content: "hi" }));
    assert.equal(stored._key, m._key); // the pending bubble becomes the stored message in place
    assert.equal(chat.messages.size, 1);
    assert.equal(stored._local, undefined);
    assert.deepEqual(store.toResend(), []);
  });

  test("the stored message arriving on the socket first ends the pending send", () => {
    const { store, chat } = storeWith();
    const m = store.addPending(chat, { type: "text", content: "hi" });
    store.beginAttempt(chat, m);
    store.receive(chat, msg(1, "alice", { client_message_id: m.client_message_id }));
    assert.equal(store.confirm(chat, m, msg(1, "alice", { client_message_id: m.client_message_id })), null);
    assert.equal(chat.messages.size, 1);
    assert.equal(store.toResend().length, 0);
  });

  test("a refused message waits for Retry; an interrupted one is resent; Delete drops it", () => {
    const { store, chat } = storeWith();
    const refused = store.addPending(chat, { type: "text", content: "x" });
    store.beginAttempt(chat, refused);
    store.fail(chat, refused, "Content too long");
    const cut = store.addPending(chat, { type: "text", content: "y" });
    store.beginAttempt(chat, cut);
    store.interrupt(chat, cut);
    assert.deepEqual(store.toResend().map(([, m]) => m.content), ["y"]);
    assert.equal(store.discard(chat, cut._key), false); // not failed: nothing to delete
    assert.equal(store.discard(chat, refused._key), true);
    assert.equal(chat.lastMessage, cut);
  });
});
