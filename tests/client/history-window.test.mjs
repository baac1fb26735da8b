// A window of history away from the live end (history-window.js, with store.js), without a
// browser: opening one around a message far back, paging it both ways, leaving it and coming
// back, and the two runs becoming one when the gap between them is filled.
// Run by `node --test tests/client/` (inside scripts/test).
import assert from "node:assert/strict";
import { describe, test } from "node:test";

import {
  AROUND, addNewerToWindow, addOlderToWindow, hasOlder, heldRuns, leaveWindow, olderPage, openWindow, showRunOf,
} from "../../chatactors/web/static/js/history-window.js";
import { PAGE_SIZE, Store } from "../../chatactors/web/static/js/store.js";

const T0 = "2026-11-30T10:00:00.000Z";
const msg = (seq) => ({ id: `m${seq}`, seq, user_id: "bob", type: "text", content: `#${seq}`, timestamp: T0 });
const range = (from, to) => Array.from({ length: Math.max(0, to - from + 1) }, (_, i) => msg(from + i));
const seqs = (messages) => messages.map((m) => m.seq);

/** A chat of `total` messages whose newest page is held. */
function chatOf(total) {
  const store = new Store("alice");
  const { chat } = store.upsertChat({ chat_id: "c1", participants: ["alice", "bob"], last_message: null, unread_count: 0 });
  store.addPage(chat, range(Math.max(1, total - PAGE_SIZE + 1), total));
  chat.historyLoaded = true;
  return { store, chat };
}

/** What the server answers around seq `s` of a chat of `total`. */
function around(s, total) {
  return [range(Math.max(1, s - AROUND + 1), s), range(s + 1, Math.min(total, s + AROUND))];
}

describe("a window around a message far back", () => {
  test("shows only the messages around it, with older and newer ones to load", () => {
    const { store, chat } = chatOf(1000);
    assert.equal(openWindow(store, chat, ...around(300, 1000)), true);
    assert.deepEqual(seqs(chat.shown), seqs(range(276, 325)));
    assert.deepEqual(olderPage(chat), { beforeSeq: 276, more: true, windowed: true });
    assert.equal(chat.oldestSeq, 276);
    assert.equal(chat.lastMessage.seq, 1000); // the list's preview is still the newest
  });

  test("older pages extend it down to the first message", () => {
    const { store, chat } = chatOf(1000);
    openWindow(store, chat, ...around(30, 1000));
    addOlderToWindow(store, chat, range(1, 5), { limit: PAGE_SIZE });
    assert.equal(chat.shown[0].seq, 1);
    assert.equal(hasOlder(chat), false);
  });

  test("newer pages extend it until it meets the live end: then one run, the window gone", () => {
    const { store, chat } = chatOf(200);
    openWindow(store, chat, ...around(60, 200)); // 36..85, the live end 151..200
    addNewerToWindow(store, chat, range(86, 135), { limit: PAGE_SIZE });
    assert.ok(chat.window);
    assert.equal(chat.shown.at(-1).seq, 135);
    addNewerToWindow(store, chat, range(136, 185), { limit: PAGE_SIZE }); // reaches 151: held
    assert.equal(chat.window, null);
    assert.deepEqual(seqs(chat.shown), seqs(range(36, 200)));
    assert.equal(hasOlder(chat), true);
  });

  test("a message just before the live end: the pages join it at once", () => {
    const { store, chat } = chatOf(200);
    openWindow(store, chat, ...around(140, 200));
    assert.equal(chat.window, null);
    assert.deepEqual(seqs(chat.shown), seqs(range(116, 200)));
  });

  test("the newer page reaching the chat's end closes it even with nothing held after it", () => {
    const store = new Store("alice");
    const { chat } = store.upsertChat({ chat_id: "c1", participants: ["alice", "bob"], last_message: null });
    openWindow(store, chat, ...around(30, 40));
    assert.equal(chat.window, null);
    assert.deepEqual(seqs(chat.shown), seqs(range(6, 40)));
  });

  test("new messages join the live end, out of the window's sight", () => {
    const { store, chat } = chatOf(1000);
    openWindow(store, chat, ...around(300, 1000));
    store.receive(chat, msg(1001), 1001);
    assert.equal(chat.shown.at(-1).seq, 325);
    leaveWindow(chat);
    assert.equal(chat.shown.at(-1).seq, 1001);
    assert.equal(chat.shown[0].seq, 951);
  });

  test("leaving it shows the live end again, which pages back towards the window", () => {
    const { store, chat } = chatOf(1000);
    openWindow(store, chat, ...around(300, 1000));
    leaveWindow(chat);
    assert.deepEqual(olderPage(chat), { beforeSeq: 951, more: true, windowed: false });
    // Coming back to a message of the window shows it again, without loading.
    showRunOf(chat, store.messageById(chat, "m300").seq);
    assert.equal(chat.inWindow, true);
    assert.equal(chat.shown.length, 50);
    // The live end's older pages, down to the window: one run again.
    leaveWindow(chat);
    store.addPage(chat, range(326, 950));
    assert.equal(chat.window, null);
    assert.deepEqual(seqs(chat.shown), seqs(range(276, 1000)));
  });

  test("a second window apart from the first forgets the first", () => {
    const { store, chat } = chatOf(1000);
    openWindow(store, chat, ...around(300, 1000));
    openWindow(store, chat, ...around(600, 1000));
    assert.deepEqual(seqs(chat.shown), seqs(range(576, 625)));
    assert.equal(store.messageById(chat, "m300"), null);
    assert.equal(chat.oldestSeq, 576);
    // One that overlaps it widens it instead.
    openWindow(store, chat, ...around(640, 1000));
    assert.deepEqual(seqs(chat.shown), seqs(range(576, 665)));
  });

  test("nothing there (a chat emptied, an unknown seq): no window", () => {
    const { store, chat } = chatOf(100);
    assert.equal(openWindow(store, chat, [], []), false);
    assert.equal(chat.window, null);
  });

  test("resync forgets the window with everything else", () => {
    const { store, chat } = chatOf(1000);
    openWindow(store, chat, ...around(300, 1000));
    store.resync(chat, 1000);
    assert.equal(chat.window, null);
    assert.equal(chat.inWindow, false);
  });
});

describe("reading again what is held", () => {
  test("the live end and the window, each as one page, not the gap between them", () => {
    const { store, chat } = chatOf(1000);
    assert.deepEqual(heldRuns(chat), [{ from: 951, to: 1000 }]);
    openWindow(store, chat, ...around(300, 1000));
    assert.deepEqual(heldRuns(chat), [{ from: 276, to: 325 }, { from: 951, to: 1000 }]);
  });
});
