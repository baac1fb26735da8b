// Messages that change (docs/API.md, "Changing a message"): what a message shows now, what I
// may do to it, and which of two states of it is the newer. Pure: no DOM, no network, no timers;
// the Store applies it and Node's test runner exercises it (tests/client/).
import { BOT, parseTime } from "./format.js";

/** The emoji the menu offers: fully qualified (❤️ with its U+FE0F), as the server keys them. */
export const REACTIONS = ["👍", "❤️", "😂", "😮", "😢", "🙏"];

/** A message the server has stored and not deleted: it can be answered, reacted to, changed. */
export function isLive(m) {
  return !!m && !m._local && !!m.id && !m.deleted;
}

export const canReply = isLive;
export const canReact = isLive;
/** Only my own text messages can be edited (an image's or an audio's URL cannot), and no system
 *  message (mine when I changed the chat: the server refuses it). */
export const canEdit = (m, me) => isLive(m) && !m.system && m.user_id === me && m.type === "text";
export const canDelete = (m, me) => isLive(m) && !m.system && m.user_id === me;

/** The reactions as chips, emoji in the order each was first used, users in reaction order. */
export function reactionChips(m, me) {
  if (!m || m.deleted) return [];
  const chips = [];
  for (const [emoji, users] of Object.entries(m.reactions || {})) {
    if (!Array.isArray(users) || users.length === 0) continue;
    chips.push({ emoji, count: users.length, users: [...users], mine: users.includes(me) });
  }
  return chips;
}

export function hasReacted(m, emoji, me) {
  const users = m?.reactions?.[emoji];
  return Array.isArray(users) && users.includes(me);
}

/** The command that toggles my reaction: "unreact" if I have it, else "react". */
export function toggleOp(m, emoji, me) {
  return hasReacted(m, emoji, me) ? "unreact" : "react";
}

/** Who reacted, for a tooltip: "You, bob and Bot". */
export function reactorNames(users, me) {
  const names = users.map((u) => (u === me ? "You" : u === BOT ? "Bot" : u));
  if (names.length <= 1) return names.join("");
  return `${names.slice(0, -1).join(", ")} and ${names.at(-1)}`;
}

/** One line standing for a message, in a quote or the chat list. */
export function snippet(m, max = 140) {
  if (!m) return "";
  if (m.deleted) return "Message deleted";
  if (m.type === "image") return "Photo";
  if (m.type === "audio") return "Audio";
  const text = String(m.content ?? "").replace(/\s+/g, " ").trim();
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

/**
 * Which state of a message is the newer. Each state the client holds says up to which log
 * position of its chat it is known to be current (`covers`): an event's own `pos`; for a REST
 * read, the chat's position when the request went out (the answer shows at least every change
 * seen by then); -1 when nothing is known. An incoming state replaces the held one unless the
 * held one covers more: on a tie the later arrival wins, and any later event about the message
 * (a higher `pos`) replaces either.
 */
export function isNewer(incomingCovers, heldCovers) {
  return incomingCovers >= (heldCovers ?? -1);
}

/**
 * How current a command's answer is (an `ack`, or a REST answer): it shows the message just after
 * my change, and an event about the message may have arrived since the command went out (a
 * reaction someone added after my edit, say), with a newer state. Then the answer is stale
 * (-Infinity: never applied) and the events, which bring my change too, are the truth. Otherwise
 * it is as current as every event seen (`chatPos`): any later event replaces it.
 */
export function answerCovers(heldCovers, posAtSend, chatPos) {
  if (heldCovers !== undefined && heldCovers !== null && heldCovers > (posAtSend ?? -1)) return -Infinity;
  return chatPos ?? -1;
}

/** A server message as the client holds it: its time parsed, and how current it is. */
export function decorate(m, covers = -1) {
  return { ...m, _time: parseTime(m.timestamp) || new Date(), _covers: covers };
}

/**
 * A message's new state, as current as `covers`, for a chat of the Store: it replaces the held
 * message by id, in place (same key, same row), unless what is held is newer. A message not held
 * is dropped: the page that loads it later shows its current state. The chat list's preview may
 * be a message the conversation does not hold; it is updated the same way. Answers whether
 * anything shown changed.
 */
export function applyState(chat, raw, covers = -1) {
  if (!raw?.id) return false;
  let changed = false;
  const key = chat.byId.get(raw.id);
  const held = key ? chat.messages.get(key) : null;
  let updated = null;
  if (held && !held._local && isNewer(covers, held._covers)) {
    updated = decorate(raw, covers);
    updated._key = key;
    if (held._previewUrl) updated._previewUrl = held._previewUrl; // no flash of a reloading image
    chat.messages.set(key, updated);
    chat._sorted = null;
    if (chat.lastMessage === held) chat.lastMessage = updated;
    changed = true;
  }
  const preview = chat.lastMessage;
  if (preview && preview !== updated && !preview._local && preview.id === raw.id && isNewer(covers, preview._covers)) {
    chat.lastMessage = updated || decorate(raw, covers);
    changed = true;
  }
  if (raw.deleted) chat.pendingEdits.delete(raw.id);
  return changed;
}

// ---- my edits: shown at once, until the message shows them -------------------------------

export function beginEdit(chat, id, content) {
  chat.pendingEdits.set(id, { content, acked: false });
}

/**
 * The server answered my edit. Its text stays shown until the message shows it: the answer may
 * have been applied already, or not (an event came first), and then the event that brings the
 * edit is on its way. On failure it goes at once.
 */
export function endEdit(chat, id, { failed = false } = {}) {
  const pending = chat.pendingEdits.get(id);
  if (!pending) return;
  const key = chat.byId.get(id);
  if (failed || (key && chat.messages.get(key)?.content === pending.content)) chat.pendingEdits.delete(id);
  else pending.acked = true;
}

/** A `message_updated` arrived: an answered edit has been overtaken or shown by now. */
export function settleEdit(chat, raw) {
  const pending = raw?.id && chat.pendingEdits.get(raw.id);
  if (pending && (pending.acked || pending.content === raw.content)) chat.pendingEdits.delete(raw.id);
}

/** The text a message shows: my pending edit of it, or its content. */
export function shownContent(chat, m) {
  return (m?.id && chat.pendingEdits.get(m.id)?.content) ?? m?.content;
}
