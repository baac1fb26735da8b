// Chats that change (docs/API.md, "Chats that change: titles and members"): a chat's title,
// kind, creator, admin and members, taken from the server's chat objects and from the system
// messages that record each change; what each member may do; the line a system message shows.
// Pure, like store.js and changes.js: no DOM, no network, no timers (tests/client/).
import { BOT, displayName } from "./format.js";
import { isNewer } from "./changes.js";

/** The server's limit on a title (`max_title_chars`). */
export const MAX_TITLE_CHARS = 200;

const CHANGES_MEMBERS = new Set(["members_added", "member_removed", "member_left"]);

/** The people of a chat, bot aside. */
export function humansOf(chat) {
  return chat.participants.filter((u) => u !== BOT);
}

/**
 * What the chat is called: its title (or `title`, one about to be), else its other people
 * ("bob, carol"), else "Bot" (a chat with the bot alone), else "You" (nobody else left).
 */
export function chatName(chat, me, title = chat.title) {
  if (title) return title;
  const others = chat.participants.filter((u) => u !== me);
  const humans = others.filter((u) => u !== BOT);
  if (humans.length) return humans.map((u) => displayName(u, me)).join(", ");
  return others.length ? displayName(BOT, me) : displayName(me, me);
}

/** The members as people, for the members panel: who is admin, who the admin may remove. */
export function memberList(chat, me) {
  return chat.participants.map((user) => ({
    user,
    name: displayName(user, me),
    me: user === me,
    bot: user === BOT,
    admin: user === chat.admin,
    removable: canRemove(chat, me, user),
  }));
}

/** Any participant of a group adds people; a one-to-one chat gains none (start a group instead). */
export function canAddPeople(chat) {
  return chat.kind === "group";
}

/** Only the admin of a group removes others; nobody removes the bot; leaving is for oneself. */
export function canRemove(chat, me, member) {
  return chat.kind === "group" && chat.admin === me && member !== me && member !== BOT && chat.participants.includes(member);
}

/**
 * Names typed into a field (separated by commas, semicolons or new lines), each once, without
 * me, the bot and anyone in `exclude`.
 */
export function parseNames(raw, me, exclude = []) {
  const out = [];
  for (const part of String(raw ?? "").split(/[,;\n]/)) {
    const name = part.trim();
    if (name && name !== me && name !== BOT && !exclude.includes(name) && !out.includes(name)) out.push(name);
  }
  return out;
}

/**
 * A title as typed: {title} (null: no title, the chat is named by its people) or {error}.
 * Spaces at the ends go; a control character (a pasted tab) becomes a space, as a title is one line.
 */
export function cleanTitle(raw) {
  const title = String(raw ?? "").replace(/[\u0000-\u001f\u007f]/g, " ").trim();
  if (!title) return { title: null };
  if ([...title].length > MAX_TITLE_CHARS) return { error: `A title has at most ${MAX_TITLE_CHARS} characters.` };
  return { title };
}

// ---- the chat's state: from chat objects, and from system messages ----------------------

/**
 * A chat object (a list entry, `chat_created`, `chat_updated`, the answer to a change) as
 * current as `covers` (the chat's log position it shows; see changes.js, isNewer): its title,
 * kind, creator, admin and participants replace the held ones unless what is held is newer
 * (a list asked for before a change arrived live must not undo it). Keys the server does not
 * send (a reference server) leave what is held. Answers whether it was applied.
 */
export function applyChatState(chat, entry, covers = -1) {
  if (!entry || !isNewer(covers, chat.stateCovers)) return false;
  if (Array.isArray(entry.participants)) setParticipants(chat, entry.participants);
  if ("title" in entry) chat.title = entry.title ?? null;
  if (entry.kind === "direct" || entry.kind === "group") chat.kind = entry.kind;
  if ("created_by" in entry) chat.createdBy = entry.created_by ?? null;
  if ("admin" in entry) chat.admin = entry.admin ?? null;
  chat.stateCovers = Math.max(chat.stateCovers, covers);
  return true;
}

/**
 * A system message's change, applied to the chat's state, at log position `covers`: a replay
 * after a reconnect brings the system messages of what changed meanwhile without `chat_updated`,
 * so the client follows them, in order, as the server did. Applying one twice changes nothing,
 * and one older than the state held is skipped. Answers whether the state changed.
 */
export function applySystem(chat, system, covers = -1) {
  if (!system || !isNewer(covers, chat.stateCovers)) return false;
  const users = Array.isArray(system.users) ? system.users : [];
  if (system.action === "title_changed") chat.title = system.title ?? null;
  else if (CHANGES_MEMBERS.has(system.action)) {
    const hasBot = chat.participants.includes(BOT);
    let people = humansOf(chat);
    if (system.action === "members_added") {
      for (const u of users) if (u !== BOT && !people.includes(u)) people.push(u);
    } else people = people.filter((u) => !users.includes(u));
    setParticipants(chat, hasBot ? [...people, BOT] : people);
    chat.admin = adminOf(chat);
  } else return false; // an action this client does not know: chat_updated or a reload tells
  chat.stateCovers = Math.max(chat.stateCovers, covers);
  return true;
}

/** The admin, as the server decides it: the creator while a member, else the longest-standing. */
export function adminOf(chat) {
  const humans = humansOf(chat);
  if (chat.createdBy && humans.includes(chat.createdBy)) return chat.createdBy;
  return humans[0] ?? null;
}

/** New participants; what the client knew of those who left (presence, typing, reads) goes. */
function setParticipants(chat, participants) {
  chat.participants = [...participants];
  const inChat = new Set(participants);
  for (const user of [...chat.presence.keys()]) if (!inChat.has(user)) chat.presence.delete(user);
  for (const user of [...chat.typing]) if (!inChat.has(user)) chat.typing.delete(user);
  for (const user of [...chat.seen]) if (!inChat.has(user)) chat.seen.delete(user);
  for (const user of Object.keys(chat.readSeqs)) if (!inChat.has(user)) delete chat.readSeqs[user];
}

// ---- system messages -----------------------------------------------------------------------

export const isSystem = (m) => !!m?.system;

/**
 * The line a system message shows, from my point of view ("You added carol", "alice removed
 * you", "bob left", "alice renamed the chat to “Team”"); its `content` (the server's own line)
 * for an action this client does not know.
 */
export function systemText(m, me) {
  const system = m?.system;
  if (!system) return String(m?.content ?? "");
  // Names stay as they are (ids are case-sensitive); only "you" takes a capital to open a line.
  const who = (u, first = false) => (u === me ? (first ? "You" : "you") : displayName(u, me));
  const by = who(system.by, true);
  const list = Array.isArray(system.users) ? system.users : [];
  const users = joinNames(list.map((u, i) => who(u, i === 0)));
  switch (system.action) {
    case "title_changed":
      return system.title == null ? `${by} removed the chat's title` : `${by} renamed the chat to “${system.title}”`;
    case "members_added":
      return `${by} added ${joinNames(list.map((u) => who(u)))}`;
    case "member_removed":
      return `${by} removed ${joinNames(list.map((u) => who(u)))}`;
    case "member_left":
      return `${users} left`;
    default:
      return String(m.content ?? "");
  }
}

/**
 * Why I am no longer in a chat, from the newest system message held that took me out ("alice
 * removed you from this chat."); a general line when none is held (it happened while I was away).
 */
export function removalNotice(chat, me) {
  const sorted = chat.sorted;
  for (let i = sorted.length - 1; i >= 0; i -= 1) {
    const system = sorted[i].system;
    if (!system || !Array.isArray(system.users) || !system.users.includes(me)) continue;
    if (system.action === "member_removed") return `${displayName(system.by, me)} removed you from this chat.`;
    if (system.action === "member_left") return "You left this chat.";
    if (system.action === "members_added") break; // added after that: something later took me out
  }
  return "You are no longer in this chat.";
}

/** "dave", "dave and erin", "dave, erin and frank". */
export function joinNames(names) {
  if (names.length <= 1) return names.join("");
  return `${names.slice(0, -1).join(", ")} and ${names.at(-1)}`;
}
