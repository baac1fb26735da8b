// Chats that change (titles, members) in the web client's model (members.js, store.js), without
// a browser: run by `node --test tests/client/` (inside scripts/test).
import assert from "node:assert/strict";
import { describe, test } from "node:test";

import {
  adminOf, applyChatState, applySystem, canAddPeople, canRemove, chatName, cleanTitle, memberList,
  parseNames, removalNotice, systemText,
} from "../../chatactors/web/static/js/members.js";
import { canDelete, canEdit } from "../../chatactors/web/static/js/changes.js";
import { Store } from "../../chatactors/web/static/js/store.js";

const T0 = "2026-11-30T10:00:00.000Z";

function team(extra = {}) {
  return {
    chat_id: "c1", participants: ["alice", "bob", "bot_user"], created_at: T0, title: "Team", kind: "group",
    created_by: "alice", admin: "alice", last_message: null, unread_count: 0, ...extra,
  };
}

function storeAs(me, entry = team(), { viewing = false } = {}) {
  const store = new Store(me, { isViewing: () => viewing });
  const { chat } = store.upsertChat(entry);
  return { store, chat };
}

function system(seq, action, by, users = [], title = null) {
  return {
    id: `s${seq}`, seq, user_id: by, type: "text", content: `(${action})`, timestamp: T0, edited_at: null,
    deleted: false, reactions: {}, reply_to: null, system: { action, by, users, title },
  };
}

describe("a chat's state", () => {
  test("a list entry brings the title, kind, creator and admin", () => {
    const { chat } = storeAs("bob");
    assert.equal(chat.title, "Team");
    assert.equal(chat.kind, "group");
    assert.equal(chat.createdBy, "alice");
    assert.equal(chat.admin, "alice");
    assert.equal(chatName(chat, "bob"), "Team");
    assert.equal(chat.isGroup, true); // a titled group of two still shows as a group
  });

  test("without a title a chat is named by its other people, a chat with the bot alone 'Bot'", () => {
    const { chat } = storeAs("alice", team({ title: null, participants: ["alice", "bob", "carol", "bot_user"] }));
    assert.equal(chatName(chat, "alice"), "bob, carol");
    assert.equal(chatName(chat, "alice", "About to be"), "About to be");
    const alone = storeAs("alice", team({ title: null, participants: ["alice", "bot_user"] })).chat;
    assert.equal(chatName(alone, "alice"), "Bot");
    assert.equal(alone.isGroup, false); // me and the bot, untitled: shown as a chat with the bot
  });

  test("a server that does not say (the reference) keeps the old rules: groups of 3 or more", () => {
    const store = new Store("alice");
    const { chat } = store.upsertChat({ chat_id: "r1", participants: ["alice", "bob"] });
    assert.equal(chat.kind, null);
    assert.equal(chat.title, null);
    assert.equal(chat.isGroup, false);
    applyChatState(chat, { participants: ["alice", "bob", "carol"] });
    assert.equal(chat.isGroup, true);
  });

  test("a state older than the one held does not undo it (a list asked for before a change)", () => {
    const { store, chat } = storeAs("alice");
    store.applyReady({ c1: 5 });
    store.receive(chat, system(6, "title_changed", "bob", [], "Renamed"), 6);
    assert.equal(chat.title, "Renamed");
    // The list asked for when the chat stood at 5 answers the old title: it is not taken.
    store.upsertChat(team(), { covers: 5 });
    assert.equal(chat.title, "Renamed");
    // One asked for after the change is.
    store.upsertChat(team({ title: "Again" }), { covers: 6 });
    assert.equal(chat.title, "Again");
  });

  test("leaving members' presence, typing and read marks go with them", () => {
    const { store, chat } = storeAs("alice", team({ participants: ["alice", "bob", "carol", "bot_user"] }));
    store.applyPresence(chat, { user_id: "bob", status: "typing", last_seen: T0 });
    store.applyRead(chat, "bob", 3);
    applyChatState(chat, team({ participants: ["alice", "carol", "bot_user"] }), 9);
    assert.equal(chat.presence.has("bob"), false);
    assert.equal(chat.typing.has("bob"), false);
    assert.equal("bob" in chat.readSeqs, false);
    assert.equal(chat.readState(1), "sent"); // carol has read nothing: bob no longer counts
  });
});

describe("system messages change the chat as they arrive (a replay has no chat_updated)", () => {
  test("added, renamed, removed and left, applied in log order", () => {
    const { store, chat } = storeAs("alice");
    store.applyReady({ c1: 1 });
    store.receive(chat, system(2, "members_added", "bob", ["carol", "dave"]), 2);
    assert.deepEqual(chat.participants, ["alice", "bob", "carol", "dave", "bot_user"]);
    store.receive(chat, system(3, "title_changed", "carol", [], "Renamed"), 3);
    assert.equal(chat.title, "Renamed");
    store.receive(chat, system(4, "member_removed", "alice", ["bob"]), 4);
    store.receive(chat, system(5, "member_left", "carol", ["carol"]), 5);
    assert.deepEqual(chat.participants, ["alice", "dave", "bot_user"]);
    store.receive(chat, system(6, "title_changed", "dave", [], null), 6);
    assert.equal(chat.title, null);
    assert.equal(chatName(chat, "alice"), "dave");
  });

  test("the creator leaving makes the longest-standing member admin; coming back, the creator again", () => {
    const { store, chat } = storeAs("bob", team({ participants: ["alice", "bob", "carol", "bot_user"] }));
    store.applyReady({ c1: 1 });
    store.receive(chat, system(2, "member_left", "alice", ["alice"]), 2);
    assert.equal(chat.admin, "bob");
    store.receive(chat, system(3, "members_added", "carol", ["alice"]), 3);
    assert.deepEqual(chat.participants, ["bob", "carol", "alice", "bot_user"]);
    assert.equal(chat.admin, "alice");
    assert.equal(adminOf({ participants: ["bot_user"], createdBy: "alice" }), null); // nobody left
  });

  test("a system message applied twice, or older than the state held, changes nothing", () => {
    const { store, chat } = storeAs("alice");
    store.applyReady({ c1: 1 });
    const added = system(2, "members_added", "alice", ["carol"]);
    store.receive(chat, added, 2);
    store.receive(chat, { ...added }, 2); // the ack came first, or a replay after a page
    assert.deepEqual(chat.participants, ["alice", "bob", "carol", "bot_user"]);
    store.receive(chat, system(3, "member_removed", "alice", ["carol"]), 3);
    assert.equal(applySystem(chat, added.system, 2), false); // older: carol stays out
    assert.deepEqual(chat.participants, ["alice", "bob", "bot_user"]);
  });

  test("a system message held from a page first still changes the chat when its event comes", () => {
    const { store, chat } = storeAs("alice");
    store.applyReady({ c1: 1 });
    const renamed = system(2, "title_changed", "bob", [], "From a page");
    store.addPage(chat, [renamed], { covers: 1 }); // pages are history: they do not change the state
    assert.equal(chat.title, "Team");
    assert.equal(store.receive(chat, { ...renamed }, 2), null); // held already
    assert.equal(chat.title, "From a page");
  });

  test("a system message from someone else counts as unread; mine does not", () => {
    const { store, chat } = storeAs("alice");
    store.receive(chat, system(1, "members_added", "bob", ["carol"]), 1);
    store.receive(chat, system(2, "title_changed", "alice", [], "Mine"), 2);
    assert.equal(chat.unread, 1);
  });

  test("an action this client does not know changes nothing and shows the server's line", () => {
    const { chat } = storeAs("alice");
    const m = system(3, "chat_archived", "bob");
    assert.equal(applySystem(chat, m.system, 3), false);
    assert.equal(systemText(m, "alice"), "(chat_archived)");
  });
});

describe("the line a system message shows", () => {
  const line = (me, ...args) => systemText(system(1, ...args), me);

  test("from my point of view: You, you", () => {
    assert.equal(line("carol", "members_added", "alice", ["bob"]), "alice added bob");
    assert.equal(line("alice", "members_added", "alice", ["bob", "carol"]), "You added bob and carol");
    assert.equal(line("bob", "members_added", "alice", ["bob", "carol", "dave"]), "alice added you, carol and dave");
    assert.equal(line("bob", "member_removed", "alice", ["bob"]), "alice removed you");
    assert.equal(line("carol", "member_left", "bob", ["bob"]), "bob left");
    assert.equal(line("bob", "member_left", "bob", ["bob"]), "You left");
    assert.equal(line("bob", "title_changed", "alice", [], "Team"), "alice renamed the chat to “Team”");
    assert.equal(line("alice", "title_changed", "alice", [], null), "You removed the chat's title");
  });

  test("why I am no longer in a chat", () => {
    const { store, chat } = storeAs("bob");
    assert.equal(removalNotice(chat, "bob"), "You are no longer in this chat.");
    store.addMessage(chat, system(1, "member_removed", "alice", ["bob"]));
    assert.equal(removalNotice(chat, "bob"), "alice removed you from this chat.");
    store.addMessage(chat, system(2, "members_added", "carol", ["bob"]));
    assert.equal(removalNotice(chat, "bob"), "You are no longer in this chat."); // added back since
  });

  test("a system message, even mine, can be neither edited nor deleted", () => {
    const m = system(1, "title_changed", "alice", [], "Team");
    assert.equal(canEdit(m, "alice"), false);
    assert.equal(canDelete(m, "alice"), false);
  });
});

describe("who may do what", () => {
  test("anyone adds people to a group; a one-to-one chat gains nobody", () => {
    assert.equal(canAddPeople(storeAs("bob").chat), true);
    const direct = storeAs("bob", team({ title: null, kind: "direct" })).chat;
    assert.equal(canAddPeople(direct), false);
  });

  test("only the admin removes, never themself nor the bot nor someone not in the chat", () => {
    const { chat } = storeAs("alice", team({ participants: ["alice", "bob", "bot_user"] }));
    assert.equal(canRemove(chat, "alice", "bob"), true);
    assert.equal(canRemove(chat, "alice", "alice"), false);
    assert.equal(canRemove(chat, "alice", "bot_user"), false);
    assert.equal(canRemove(chat, "alice", "zoe"), false);
    assert.equal(canRemove(chat, "bob", "alice"), false); // bob is not the admin
    assert.deepEqual(memberList(chat, "alice").map((m) => [m.user, m.name, m.admin, m.removable]), [
      ["alice", "You", true, false], ["bob", "bob", false, true], ["bot_user", "Bot", false, false],
    ]);
  });

  test("names typed: split, trimmed, each once, without me, the bot and those in already", () => {
    assert.deepEqual(parseNames(" carol, dave;carol\nalice, bot_user, bob ,", "alice", ["bob"]), ["carol", "dave"]);
  });

  test("a title: trimmed, empty means none, one line, at most 200 characters", () => {
    assert.deepEqual(cleanTitle("  Team  "), { title: "Team" });
    assert.deepEqual(cleanTitle("   "), { title: null });
    assert.deepEqual(cleanTitle("a\tb"), { title: "a b" });
    assert.deepEqual(cleanTitle("é".repeat(200)), { title: "é".repeat(200) });
    assert.ok(cleanTitle("x".repeat(201)).error);
  });
});

describe("leaving the list", () => {
  test("a chat I am taken out of leaves the list, its unread count and its resume position", () => {
    const { store } = storeAs("bob", team({ unread_count: 4 }));
    store.upsertChat(team({ chat_id: "c2", title: "Other" }));
    assert.equal(store.totalUnread, 4);
    assert.equal(store.removeChat("c1").id, "c1");
    assert.equal(store.removeChat("c1"), null);
    assert.deepEqual(store.chatList.map((c) => c.id), ["c2"]);
    assert.equal(store.totalUnread, 0);
    assert.deepEqual(Object.keys(store.positions()), ["c2"]);
  });

  test("'New chat' with someone reuses our one-to-one chat, never a group of two", () => {
    const store = new Store("alice");
    store.upsertChat(team({ chat_id: "g", title: "Team" }));
    assert.equal(store.directChatWith(["bob"]), null);
    store.upsertChat(team({ chat_id: "d", title: null, kind: "direct", created_by: "alice" }));
    assert.equal(store.directChatWith(["bob"]).id, "d");
  });
});
