// The client's state and its rules, with no DOM, no network and no timers: chats, messages
// by seq and their changes, unread counts, presence, read marks, pending sends and resume
// positions. The connection layer (client.js) feeds it what the server says; the views read it.
// Node's test runner exercises it directly (tests/client/).
import { answerCovers, applyState, decorate, settleEdit } from "./changes.js";
import { BOT, newClientId, parseTime } from "./format.js";
import { settleWindow, shownMessages } from "./history-window.js";
import { applyChatState, applySystem } from "./members.js";
import { mentionsMe } from "./mentions.js";

export const PAGE_SIZE = 50;
// The server reports a never-seen participant's last_seen as the chat's creation time: a
// last_seen this close to it means "never seen", not "seen when the chat was made".
const NEVER_SEEN_SLACK_MS = 2000;

export class Chat {
  constructor(id, me) {
    this.id = id;
    this.me = me;
    this.participants = [];
    this.createdAt = null;
    // The chat's own state (members.js): its title (null: named by its people), kind ("direct" |
    // "group"; null from a server that does not say), creator and admin, and the log position
    // that state is current to.
    this.title = null;
    this.kind = null;
    this.createdBy = null;
    this.admin = null;
    this.stateCovers = -1;
    this.lastMessage = null; // newest message known (for the list preview)
    this.lastActivity = null;
    this.unread = 0;
    // Unread messages that mention me (the list's `unread_mentions`), and the log position up to
    // which the socket's `ready` counted them (a replayed message up to it is in its count).
    this.unreadMentions = 0;
    this.mentionsCountedTo = null;
    this.messages = new Map(); // key ("c:<client id>" or "i:<id>") -> message
    this.byId = new Map(); // server id -> key
    this.lastSeq = 0; // resume point: every message up to it is held (or was never needed)
    // The chat's log position (messages and changes) up to which every event has been applied:
    // the socket resumes from it. null until the socket says where the chat stands (`ready`).
    this.pos = null;
    this.pendingEdits = new Map(); // message id -> {content, acked}: my edits not yet confirmed
    this.seqs = new Set(); // seqs held, to advance lastSeq only over a gap-free run
    this.oldestSeq = null; // lowest seq held: older pages load before it
    this.hasMore = true;
    // A run of history held away from the live end, {from, to, hasOlder} (history-window.js),
    // and whether the conversation shows it rather than the live end.
    this.window = null;
    this.inWindow = false;
    this.historyLoaded = false;
    this.loadingOlder = false;
    this.loadingNewer = false;
    this.presence = new Map(); // user -> {status, lastSeen}
    this.seen = new Set(); // users this client has itself seen online or typing
    this.typing = new Set(); // users typing now (their expiry timers live in the client)
    this.readSeqs = {}; // user -> highest seq read
    this.unreadMarker = null; // {seq, count}: the "unread messages" line while the chat is open
    this.unreadAtOpen = 0;
    // This chat's event stream: "connecting" | "open" | "closed" (down, retrying) | "gone"
    // (refused for good, closeCode says why). Presence is only known while it is open.
    this.connection = "connecting";
    this.closeCode = null;
    this._sorted = null;
  }

  get live() {
    return this.connection === "open";
  }

  /** Participants other than me (bot included). */
  get others() {
    return this.participants.filter((u) => u !== this.me);
  }

  /** Other people (bot excluded, unless the bot is the only one). */
  get otherHumans() {
    const humans = this.others.filter((u) => u !== BOT);
    return humans.length ? humans : this.others;
  }

  /** Shown as a group: a group chat (unless it is me and the bot alone, untitled), or, from a
   *  server that does not say, a chat with more than one other person. */
  get isGroup() {
    const humans = this.others.filter((u) => u !== BOT).length;
    if (this.kind === "group") return humans > 0 || !!this.title;
    return this.kind === null && humans > 1;
  }

  get activityTime() {
    return this.lastMessage?._time || parseTime(this.lastActivity) || parseTime(this.createdAt) || new Date(0);
  }

  /** Messages in display order: confirmed by seq, then pending in the order sent. */
  get sorted() {
    if (!this._sorted) {
      this._sorted = [...this.messages.values()].sort((a, b) => {
        if (!!a._local !== !!b._local) return a._local ? 1 : -1;
        if (a._local) return a._localTime - b._localTime;
        return (a.seq ?? 0) - (b.seq ?? 0) || a._time - b._time;
      });
    }
    return this._sorted;
  }

  /** What the conversation shows: every message held, or one run of them (history-window.js). */
  get shown() {
    return shownMessages(this);
  }

  /** "typing" | "online" | "offline": the last status known (stale while not live). */
  statusOf(user) {
    if (this.typing.has(user)) return "typing";
    const status = this.presence.get(user)?.status || "offline";
    return status === "typing" ? "online" : status; // typing ended (a message, or its timeout)
  }

  /** The dot on an avatar: "online", "stale" (grey: online when last heard, but we are
   *  disconnected, so who knows now) or null. Groups: any other person. */
  presenceDot(user = null) {
    const users = user ? [user] : this.others.filter((u) => u !== BOT);
    if (!users.some((u) => this.statusOf(u) !== "offline")) return null;
    return this.live ? "online" : "stale";
  }

  /** When the user was last seen, or null if they never were (as far as anyone knows). */
  lastSeenOf(user) {
    const lastSeen = this.presence.get(user)?.lastSeen;
    if (!lastSeen) return null;
    if (this.seen.has(user)) return lastSeen;
    const created = parseTime(this.createdAt);
    if (created && lastSeen.getTime() - created.getTime() <= NEVER_SEEN_SLACK_MS) return null;
    return lastSeen;
  }

  /** "sent" | "partial" | "read": has everybody else read my message with this seq? */
  readState(seq) {
    if (!seq) return "sent";
    const readers = this.otherHumans;
    const done = readers.filter((u) => (this.readSeqs[u] || 0) >= seq);
    if (done.length && done.length === readers.length) return "read";
    return done.length ? "partial" : "sent";
  }

  readersOf(seq) {
    return this.otherHumans.filter((u) => (this.readSeqs[u] || 0) >= seq);
  }

  /** The newest seq of a message from someone else. */
  get newestFromOthers() {
    let newest = 0;
    for (const m of this.messages.values()) if (m.user_id !== this.me && (m.seq || 0) > newest) newest = m.seq;
    return newest;
  }
}

export class Store {
  /** @param {string} me  @param {{isViewing?: (chat: Chat) => boolean}} [opts] */
  constructor(me, { isViewing = () => false } = {}) {
    this.me = me;
    this.chats = new Map();
    this.isViewing = isViewing;
  }

  /** Chats, newest activity first. */
  get chatList() {
    return [...this.chats.values()].sort((a, b) => b.activityTime - a.activityTime);
  }

  get totalUnread() {
    let n = 0;
    for (const c of this.chats.values()) n += c.unread;
    return n;
  }

  /** Does this message mention me, and is it one I have not read? (Its held state, if any.) */
  isUnreadMention(chat, m) {
    if (!mentionsMe(m, this.me) || !chat.unread || !Number.isFinite(m.seq)) return false;
    if (m.seq <= (chat.readSeqs[this.me] || 0)) return false;
    // The unread messages are the newest `unread` from others.
    let newer = 0;
    for (const held of chat.messages.values()) if (held.user_id !== this.me && (held.seq ?? 0) > m.seq) newer += 1;
    return newer < chat.unread;
  }

  /** Everybody I share a chat with (for suggestions). */
  get contacts() {
    const people = new Set();
    for (const c of this.chats.values()) for (const u of c.participants) if (u !== this.me && u !== BOT) people.add(u);
    return [...people].sort();
  }

  /**
   * Resume positions for the user socket: chat id -> {pos} (every message and change after it
   * is replayed), or, for a chat whose position is not known yet, the highest seq held without a
   * gap (the messages after it are replayed, each in its current state).
   */
  positions() {
    const out = {};
    for (const chat of this.chats.values()) out[chat.id] = chat.pos === null ? chat.lastSeq : { pos: chat.pos };
    return out;
  }

  /** An event's log position: every entry up to it has been applied, in order. */
  notePos(chat, pos) {
    if (Number.isFinite(pos) && (chat.pos === null || pos > chat.pos)) chat.pos = pos;
  }

  /**
   * The socket's `ready` (`latest_pos` per chat): a chat whose position was unknown takes it,
   * since every entry after it comes on that socket. Answers those chats: what was read of them
   * over REST before may predate a change made before the socket subscribed, so it is read again.
   */
  applyReady(latestPos) {
    const fresh = [];
    for (const [id, pos] of Object.entries(latestPos || {})) {
      const chat = this.chats.get(id);
      if (chat && chat.pos === null && Number.isFinite(pos)) {
        chat.pos = pos;
        fresh.push(chat);
      }
    }
    return fresh;
  }

  /**
   * The socket's `ready` counts, per chat, the unread messages that mention me as the socket
   * subscribed (`latest_pos`): they replace what was counted, and a message replayed after it up
   * to that position is not counted again.
   */
  applyMentionCounts(counts, latestPos) {
    for (const [id, count] of Object.entries(counts || {})) {
      const chat = this.chats.get(id);
      if (!chat || !Number.isFinite(count)) continue;
      chat.unreadMentions = this.isViewing(chat) ? 0 : count;
      const pos = latestPos?.[id];
      chat.mentionsCountedTo = Number.isFinite(pos) ? pos : null;
    }
  }

  /** How current a REST read issued now will be (see changes.js, isNewer). */
  coversNow(chat) {
    return chat.pos ?? -1;
  }

  /**
   * The one-to-one chat I already share with these people, if any: "New chat" with someone I
   * already talk to alone opens that chat instead of creating a twin. (The bot is in every chat.)
   */
  directChatWith(people) {
    const wanted = new Set(people.filter((p) => p && p !== this.me && p !== BOT));
    if (wanted.size !== 1) return null;
    const [other] = wanted;
    let found = null;
    for (const chat of this.chats.values()) {
      if (chat.kind === "group") continue; // a group of two is not a one-to-one chat
      const humans = chat.others.filter((u) => u !== BOT);
      if (humans.length === 1 && humans[0] === other && (!found || chat.activityTime > found.activityTime)) found = chat;
    }
    return found;
  }

  // ---- the chat list -------------------------------------------------------------------

  /**
   * Take a chat as `GET /chats` lists it (or `chat_created` announces it); answers {chat, isNew}.
   * `covers`: how current the list was (the chat's position when it was asked for).
   */
  upsertChat(entry, { covers = -1 } = {}) {
    let chat = this.chats.get(entry.chat_id);
    const isNew = !chat;
    if (isNew) {
      chat = new Chat(entry.chat_id, this.me);
      this.chats.set(chat.id, chat);
    }
    applyChatState(chat, entry, covers);
    chat.createdAt = entry.created_at || chat.createdAt;
    chat.lastActivity = entry.last_activity || chat.lastActivity;
    const last = entry.last_message;
    if (last) {
      if (isNew) this.addMessage(chat, last, { resumeAfter: true, covers }); // events start after it
      else if (!chat.lastMessage || (!chat.lastMessage._local && (last.seq ?? 0) > (chat.lastMessage.seq ?? 0))) {
        chat.lastMessage = decorate(last, covers);
      } else this.applyUpdate(chat, last, covers); // the same message, perhaps changed since
    }
    // The server's count is authoritative when it is at least as fresh as what we hold.
    if (typeof entry.unread_count === "number" && (!last || (last.seq ?? 0) >= chat.lastSeq)) {
      chat.unread = this.isViewing(chat) ? 0 : entry.unread_count;
      if (typeof entry.unread_mentions === "number") chat.unreadMentions = this.isViewing(chat) ? 0 : entry.unread_mentions;
    }
    return { chat, isNew };
  }

  /** I am no longer in this chat: it leaves the list; answers it (or null if it was not there). */
  removeChat(id) {
    const chat = this.chats.get(id) || null;
    this.chats.delete(id);
    return chat;
  }

  // ---- messages ------------------------------------------------------------------------

  keyOf(m) {
    return m.client_message_id && m.user_id === this.me ? `c:${m.client_message_id}` : `i:${m.id}`;
  }

  /**
   * Add a server message; answers the stored message, or null if it was a duplicate (whose
   * state it then takes if newer: a replay or a page shows each message as it is now).
   * `resumeAfter`: what came before it is not needed to resume (a new chat's last message).
   * `covers`: how current this state is (changes.js, isNewer).
   */
  addMessage(chat, raw, { resumeAfter = false, covers = -1 } = {}) {
    if (!raw) return null;
    if (raw.id && chat.byId.has(raw.id)) {
      this.applyUpdate(chat, raw, covers);
      return null;
    }
    const key = this.keyOf(raw);
    const existing = chat.messages.get(key);
    if (existing && !existing._local) {
      this.applyUpdate(chat, raw, covers);
      return null;
    }
    const message = decorate(raw, covers);
    message._key = key;
    if (existing) message._previewUrl = existing._previewUrl; // keep the local preview: no flash
    chat.messages.set(key, message);
    if (raw.id) chat.byId.set(raw.id, key);
    if (Number.isFinite(raw.seq)) {
      chat.seqs.add(raw.seq);
      if (resumeAfter) chat.lastSeq = Math.max(chat.lastSeq, raw.seq);
      // The resume point only moves over messages actually held: my own message answered by a
      // POST while the socket is down must not make the socket skip what others sent before it.
      while (chat.seqs.has(chat.lastSeq + 1)) chat.lastSeq += 1;
      chat.oldestSeq = chat.oldestSeq === null ? raw.seq : Math.min(chat.oldestSeq, raw.seq);
    }
    if (!chat.lastMessage || (raw.seq ?? Infinity) >= (chat.lastMessage.seq ?? 0)) chat.lastMessage = message;
    chat._sorted = null;
    return message;
  }

  /**
   * A `message_received` event (live or replayed, at log position `pos`): adds it and counts it
   * unread unless mine or on screen. A message already held takes the event's state.
   */
  receive(chat, raw, pos = null) {
    const covers = Number.isFinite(pos) ? pos : this.coversNow(chat);
    const message = this.addMessage(chat, raw, { covers });
    // A change to the chat (title, members), also when the message was held already (a page
    // read it first): applied once, in log order (members.js, applySystem).
    if (raw?.system) applySystem(chat, raw.system, covers);
    this.notePos(chat, pos);
    if (!message) return null;
    chat.typing.delete(raw.user_id);
    if (raw.user_id !== this.me && !this.isViewing(chat)) {
      chat.unread += 1;
      const counted = Number.isFinite(pos) && chat.mentionsCountedTo !== null && pos <= chat.mentionsCountedTo;
      if (mentionsMe(raw, this.me) && !counted) chat.unreadMentions += 1;
    }
    return message;
  }

  /** Add a page of history (read when the chat stood at `covers`); answers whether older pages remain. */
  addPage(chat, page, { covers = -1 } = {}) {
    this.mergePage(chat, page, { covers });
    const first = Array.isArray(page) ? page[0]?.seq : undefined;
    chat.hasMore = Array.isArray(page) && page.length >= PAGE_SIZE && Number.isFinite(first) && first > 1;
    return chat.hasMore;
  }

  /** Messages read again over REST: each takes the page's state if that is newer. */
  mergePage(chat, page, { covers = -1 } = {}) {
    for (const m of Array.isArray(page) ? page : []) this.addMessage(chat, m, { covers });
    settleWindow(chat); // the gap between a window and the live end may be filled now
  }

  seqOfId(chat, id) {
    return this.messageById(chat, id)?.seq ?? 0;
  }

  messageById(chat, id) {
    const key = id && chat.byId.get(id);
    return key ? chat.messages.get(key) || null : null;
  }

  /** The message a reply answers, if held (it may be older than every page loaded). */
  replyTarget(chat, m) {
    return m?.reply_to ? this.messageById(chat, m.reply_to) : null;
  }

  // ---- changes to messages (edits, deletes, reactions) ---------------------------------

  /**
   * A message's new state (a `message_updated` event, or a page or answer as current as
   * `covers`): see changes.js, applyState. Answers whether anything shown changed.
   */
  applyUpdate(chat, raw, covers = -1) {
    return applyState(chat, raw, covers);
  }

  /** A `message_updated` event: the message's whole new state, at log position `pos`. */
  receiveUpdate(chat, raw, pos = null) {
    const wasMention = this.isUnreadMention(chat, this.messageById(chat, raw?.id));
    const changed = applyState(chat, raw, Number.isFinite(pos) ? pos : this.coversNow(chat));
    this.notePos(chat, pos);
    settleEdit(chat, raw);
    // An edit that adds or drops a mention of me, or a delete, while it is unread.
    const isMention = this.isUnreadMention(chat, this.messageById(chat, raw?.id));
    if (changed && wasMention !== isMention) chat.unreadMentions = Math.max(0, chat.unreadMentions + (isMention ? 1 : -1));
    return changed;
  }

  /**
   * The answer to one of my changes (an `ack`, or a REST answer), for a command sent when the
   * chat stood at `posAtSend`: applied unless an event about the message came meanwhile.
   */
  applyAnswer(chat, raw, posAtSend) {
    if (!raw?.id) return false;
    return applyState(chat, raw, answerCovers(this.messageById(chat, raw.id)?._covers, posAtSend, chat.pos));
  }

  /** The chat missed more than the server replays: forget what it held, resume at `latestSeq`. */
  resync(chat, latestSeq, latestPos = null) {
    for (const [key, m] of chat.messages) if (!m._local) chat.messages.delete(key);
    chat.byId.clear();
    chat.seqs.clear();
    chat._sorted = null;
    chat.lastSeq = Number(latestSeq) || 0;
    chat.pos = Number.isFinite(latestPos) ? latestPos : null;
    chat.pendingEdits.clear();
    chat.oldestSeq = null;
    chat.hasMore = true;
    chat.window = null;
    chat.inWindow = false;
    chat.historyLoaded = false;
  }

  // ---- presence and reads --------------------------------------------------------------

  /** Answers whether the user is now typing. */
  applyPresence(chat, data) {
    if (!data?.user_id) return false;
    const user = data.user_id;
    chat.presence.set(user, { status: data.status, lastSeen: parseTime(data.last_seen) });
    if (data.status === "online" || data.status === "typing") chat.seen.add(user);
    if (data.status === "typing") chat.typing.add(user);
    else chat.typing.delete(user);
    return data.status === "typing";
  }

  /** Answers whether anything changed. */
  applyRead(chat, user, seq) {
    if (!user || !Number.isFinite(seq)) return false;
    if ((chat.readSeqs[user] || 0) >= seq) return false;
    chat.readSeqs[user] = seq;
    if (user === this.me && seq >= chat.lastSeq) {
      chat.unread = 0;
      chat.unreadMentions = 0;
    }
    return true;
  }

  /** Where "N unread messages" goes: before the oldest of the messages unread at opening. */
  placeUnreadMarker(chat) {
    const count = chat.unreadAtOpen || 0;
    chat.unreadAtOpen = 0;
    chat.unreadMarker = null;
    if (!count) return;
    const fromOthers = chat.shown.filter((m) => !m._local && m.user_id !== this.me);
    const n = Math.min(count, fromOthers.length);
    // More unread than loaded: the line sits above the oldest loaded one, with the true count.
    if (n > 0) chat.unreadMarker = { seq: fromOthers[fromOthers.length - n].seq, count };
  }

  // ---- pending sends -------------------------------------------------------------------

  /** A message I am sending, shown at once; its client_message_id stays with every attempt. */
  addPending(chat, fields) {
    const clientId = newClientId();
    const now = new Date();
    const message = {
      id: null,
      user_id: this.me,
      client_message_id: clientId,
      timestamp: now.toISOString(),
      ...fields,
      _key: `c:${clientId}`,
      _local: true,
      _status: "sending",
      _inFlight: false,
      _autoRetry: false,
      _localTime: performance.now(),
      _time: now,
    };
    chat.messages.set(message._key, message);
    chat._sorted = null;
    chat.lastMessage = message; // the list previews what I am sending
    chat.unreadMarker = null; // I have answered: the "unread" line has served its purpose
    return message;
  }

  isPending(chat, message) {
    return chat.messages.get(message._key) === message;
  }

  /** An attempt is about to go out; answers false if one is already in flight (never twice). */
  beginAttempt(chat, message) {
    if (!this.isPending(chat, message) || message._inFlight) return false;
    message._inFlight = true;
    message._status = "sending";
    message._error = null;
    return true;
  }

  /** The server stored it (answering a send made at `posAtSend`): the pending bubble becomes the stored message. */
  confirm(chat, message, stored, posAtSend = null) {
    message._inFlight = false;
    if (!this.isPending(chat, message)) return null;
    if (stored) return this.addMessage(chat, stored, { covers: answerCovers(undefined, posAtSend, chat.pos) });
    message._status = "sent";
    return message;
  }

  /**
   * The attempt failed. `transient` (network down, server overloaded): it is sent again by
   * itself when the connection is back; otherwise it waits for Retry or Delete.
   */
  fail(chat, message, error, { transient = false } = {}) {
    message._inFlight = false;
    if (!this.isPending(chat, message)) return;
    message._status = "failed";
    message._error = error || "Not sent";
    message._autoRetry = transient;
  }

  /** The attempt's outcome is unknown (the socket closed before the ack): send again later. */
  interrupt(chat, message) {
    message._inFlight = false;
    if (this.isPending(chat, message)) message._autoRetry = true;
  }

  /** Pending messages to send again now that the connection is back, oldest first. */
  toResend() {
    const out = [];
    for (const chat of this.chats.values()) {
      for (const m of chat.sorted) if (m._local && m._autoRetry && !m._inFlight) out.push([chat, m]);
    }
    return out;
  }

  discard(chat, key) {
    const message = chat.messages.get(key);
    if (!message?._local || message._status !== "failed") return false;
    chat.messages.delete(key);
    chat._sorted = null;
    if (chat.lastMessage === message) chat.lastMessage = chat.sorted.at(-1) || null;
    return true;
  }
}

export function kindOfType(type) {
  if (!type) return null;
  if (type.startsWith("image/")) return "image";
  if (type.startsWith("audio/") || type === "video/webm" || type === "video/ogg") return "audio";
  return null;
}

export function kindOfFile(file) {
  return kindOfType(file.type) || (/\.(png|jpe?g|gif|webp|avif|bmp|svg)$/i.test(file.name) ? "image" : /\.(wav|mp3|ogg|oga|opus|m4a|aac|flac|webm)$/i.test(file.name) ? "audio" : null);
}
