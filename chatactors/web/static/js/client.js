// The client's model and its conversation with the server: chats, messages, presence,
// read marks, sockets, polling, sending with retry. No DOM here; views listen to
// "change" events ({kind, chatId}) and re-render.
import { api, getAuthToken } from "./api.js";
import { ChatSocket } from "./socket.js";
import { BOT, newClientId, parseTime } from "./format.js";

export const PAGE_SIZE = 50;
const POLL_MS = 4000;
const TYPING_THROTTLE_MS = 3000;
const TYPING_IDLE_MS = 4000;
const TYPING_EXPIRE_MS = 12000;

export class Chat {
  constructor(id, me) {
    this.id = id;
    this.me = me;
    this.participants = [];
    this.createdAt = null;
    this.lastMessage = null; // newest message known (for the list preview)
    this.lastActivity = null;
    this.unread = 0;
    this.messages = new Map(); // key ("c:<client id>" or "i:<id>") -> message
    this.byId = new Map(); // server id -> key
    this.lastSeq = 0; // resume point: every message up to it is held (or was never needed)
    this.seqs = new Set(); // seqs held, to advance lastSeq only over a gap-free run
    this.oldestSeq = null; // lowest seq held: older pages load before it
    this.hasMore = true;
    this.historyLoaded = false;
    this.loadingOlder = false;
    this.presence = new Map(); // user -> {status, lastSeen}
    this.typing = new Map(); // user -> expiry timer
    this.readSeqs = {}; // user -> highest seq read
    this.unreadMarker = null; // {seq, count}: the "unread messages" line while the chat is open
    this._unreadAtOpen = 0;
    this.socket = null;
    this.socketState = "idle";
    this._sorted = null;
    this._readTimer = null;
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

  get isGroup() {
    return this.others.filter((u) => u !== BOT).length > 1;
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

  statusOf(user) {
    if (this.typing.has(user)) return "typing";
    return this.presence.get(user)?.status || "offline";
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
}

export class ChatClient extends EventTarget {
  constructor(me) {
    super();
    this.me = me;
    this.chats = new Map();
    this.activeId = null;
    this.pollFailed = false;
    this.loaded = false;
    this._pollTimer = null;
    this._typingChat = null;
    this._typingSentAt = 0;
    this._typingIdle = null;
    this._onVisible = () => {
      if (document.visibilityState === "visible") {
        this.nudge();
        const chat = this.active;
        if (chat) this.markReadSoon(chat);
      }
    };
    this._onOnline = () => this.nudge();
  }

  // ---- lifecycle ---------------------------------------------------------------------

  async start() {
    document.addEventListener("visibilitychange", this._onVisible);
    window.addEventListener("online", this._onOnline);
    await this.refreshChats();
    if (this.stopped) return;
    this.loaded = true;
    this.emit("chats");
    const poll = async () => {
      if (this.stopped) return;
      await this.refreshChats();
      if (this._pollTimer !== null) this._pollTimer = setTimeout(poll, POLL_MS);
    };
    this._pollTimer = setTimeout(poll, POLL_MS);
  }

  stop() {
    this.stopped = true;
    this.stopTyping();
    clearTimeout(this._pollTimer);
    this._pollTimer = null;
    document.removeEventListener("visibilitychange", this._onVisible);
    window.removeEventListener("online", this._onOnline);
    for (const chat of this.chats.values()) {
      chat.socket?.stop();
      for (const t of chat.typing.values()) clearTimeout(t);
      clearTimeout(chat._readTimer);
    }
    this.chats.clear();
  }

  /** Reconnect sockets waiting in backoff and refresh the list now. */
  nudge() {
    for (const chat of this.chats.values()) chat.socket?.nudge();
    this.refreshChats();
  }

  emit(kind, chatId = null, extra = {}) {
    this.dispatchEvent(new CustomEvent("change", { detail: { kind, chatId, ...extra } }));
  }

  get active() {
    return this.activeId ? this.chats.get(this.activeId) || null : null;
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

  /** "online" | "connecting" | "reconnecting" | "offline" for the whole client. */
  get connectionState() {
    if (!this.loaded) return "connecting";
    if (this.pollFailed && navigator.onLine === false) return "offline";
    const states = [...this.chats.values()].map((c) => c.socketState).filter((s) => s !== "gone");
    if (states.some((s) => s === "closed")) return "reconnecting";
    if (states.some((s) => s === "connecting" || s === "idle")) return "connecting";
    if (this.pollFailed) return "reconnecting";
    return "online";
  }

  /** Everybody I share a chat with (for suggestions). */
  get contacts() {
    const people = new Set();
    for (const c of this.chats.values()) for (const u of c.participants) if (u !== this.me && u !== BOT) people.add(u);
    return [...people].sort();
  }

  // ---- chat list ---------------------------------------------------------------------

  async refreshChats() {
    let list;
    try {
      list = await api.listChats(this.me);
      this.pollFailed = false;
    } catch (err) {
      if (err.status === 401) {
        this.stop();
        this.emit("auth-required");
        return;
      }
      this.pollFailed = true;
      this.emit("connection");
      return;
    }
    if (!Array.isArray(list)) return;
    for (const entry of list) {
      // The reference API answers every chat; keep only mine.
      if (Array.isArray(entry.participants) && !entry.participants.includes(this.me)) continue;
      this._upsertChat(entry);
    }
    this.emit("chats");
  }

  _upsertChat(entry) {
    let chat = this.chats.get(entry.chat_id);
    const isNew = !chat;
    if (isNew) {
      chat = new Chat(entry.chat_id, this.me);
      this.chats.set(chat.id, chat);
    }
    chat.participants = entry.participants || chat.participants;
    chat.createdAt = entry.created_at || chat.createdAt;
    chat.lastActivity = entry.last_activity || chat.lastActivity;
    const last = entry.last_message;
    if (last) {
      if (isNew) this._addMessage(chat, last, { resumeAfter: true }); // the socket starts after it
      else if (!chat.lastMessage || (!chat.lastMessage._local && (last.seq ?? 0) > (chat.lastMessage.seq ?? 0))) {
        chat.lastMessage = this._decorate(last);
      }
    }
    // The server's count is authoritative when it is at least as fresh as what we hold.
    if (typeof entry.unread_count === "number" && (!last || (last.seq ?? 0) >= chat.lastSeq)) {
      chat.unread = this.isViewing(chat) ? 0 : entry.unread_count;
    }
    if (isNew) this._startSocket(chat);
    return chat;
  }

  async createChat(people) {
    const participants = [this.me, ...people.filter((p) => p && p !== this.me)];
    const res = await api.createChat(participants);
    const chat = this._upsertChat({
      chat_id: res.chat_id,
      participants: [...new Set([...(res.participants || participants), BOT])],
      created_at: new Date().toISOString(),
      last_message: null,
      unread_count: 0,
    });
    this.emit("chats");
    this.refreshChats();
    return chat;
  }

  // ---- sockets and events ------------------------------------------------------------

  _startSocket(chat) {
    chat.socket = new ChatSocket({
      chatId: chat.id,
      userId: this.me,
      token: getAuthToken(),
      afterSeq: () => chat.lastSeq,
      onEvent: (event, data) => this._onEvent(chat, event, data),
      onState: (state) => {
        chat.socketState = state;
        if (state === "open") {
          this.loadPresence(chat);
          this.loadReads(chat);
        }
        this.emit("connection", chat.id);
      },
    });
    chat.socket.start();
  }

  _onEvent(chat, event, data) {
    switch (event) {
      case "message_received": {
        const message = this._addMessage(chat, data);
        if (!message) return;
        this._clearTyping(chat, data.user_id);
        if (data.user_id !== this.me) {
          if (this.isViewing(chat)) this.markReadSoon(chat);
          else chat.unread += 1;
        }
        this.emit("message", chat.id, { message, live: true });
        this.emit("chats");
        break;
      }
      case "presence_updated":
        this._applyPresence(chat, data);
        this.emit("presence", chat.id);
        this.emit("chats");
        break;
      case "chat_read": {
        const seq = data.last_read_seq ?? this._seqOfId(chat, data.last_read_message_id);
        this._applyRead(chat, data.user_id, seq);
        break;
      }
      case "resync_required":
        this._resync(chat, data);
        break;
      default:
        break; // "subscribed", "ack", future events
    }
  }

  async _resync(chat, data) {
    for (const [key, m] of chat.messages) if (!m._local) chat.messages.delete(key);
    chat.byId.clear();
    chat.seqs.clear();
    chat._sorted = null;
    chat.lastSeq = Number(data.latest_seq) || 0;
    chat.oldestSeq = null;
    chat.hasMore = true;
    chat.historyLoaded = false;
    this.emit("history", chat.id, { reset: true });
    if (this.activeId === chat.id) await this.loadLatest(chat);
    this.refreshChats();
  }

  _decorate(m) {
    return { ...m, _time: parseTime(m.timestamp) || new Date() };
  }

  _keyOf(m) {
    return m.client_message_id && m.user_id === this.me ? `c:${m.client_message_id}` : `i:${m.id}`;
  }

  /**
   * Add a server message; answers the stored message, or null if it was a duplicate.
   * `resumeAfter`: what came before it is not needed to resume (a new chat's last message).
   */
  _addMessage(chat, raw, { resumeAfter = false } = {}) {
    if (!raw || (raw.id && chat.byId.has(raw.id))) return null;
    const key = this._keyOf(raw);
    const existing = chat.messages.get(key);
    if (existing && !existing._local) return null;
    const message = this._decorate(raw);
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

  _seqOfId(chat, id) {
    const key = id && chat.byId.get(id);
    return key ? chat.messages.get(key)?.seq ?? 0 : 0;
  }

  _applyPresence(chat, data) {
    if (!data?.user_id) return;
    chat.presence.set(data.user_id, { status: data.status, lastSeen: parseTime(data.last_seen) });
    if (data.status === "typing") {
      clearTimeout(chat.typing.get(data.user_id));
      chat.typing.set(
        data.user_id,
        setTimeout(() => {
          chat.typing.delete(data.user_id);
          this.emit("presence", chat.id);
          this.emit("chats");
        }, TYPING_EXPIRE_MS),
      );
    } else {
      this._clearTyping(chat, data.user_id);
    }
  }

  _clearTyping(chat, user) {
    if (chat.typing.has(user)) {
      clearTimeout(chat.typing.get(user));
      chat.typing.delete(user);
      this.emit("presence", chat.id);
    }
  }

  _applyRead(chat, user, seq) {
    if (!user || !Number.isFinite(seq)) return;
    if ((chat.readSeqs[user] || 0) >= seq) return;
    chat.readSeqs[user] = seq;
    if (user === this.me && seq >= chat.lastSeq) chat.unread = 0;
    this.emit("read", chat.id);
    this.emit("chats");
  }

  async loadPresence(chat) {
    try {
      const list = await api.presence(chat.id);
      for (const p of list || []) this._applyPresence(chat, p);
      this.emit("presence", chat.id);
      this.emit("chats");
    } catch {
      /* the socket's events will fill it in */
    }
  }

  async loadReads(chat) {
    try {
      const res = await api.reads(chat.id);
      const seqs = res?.read_seqs;
      if (seqs) for (const [user, seq] of Object.entries(seqs)) this._applyRead(chat, user, Number(seq) || 0);
      else for (const [user, id] of Object.entries(res?.read_receipts || {})) this._applyRead(chat, user, this._seqOfId(chat, id));
    } catch {
      /* ticks stay as they are */
    }
  }

  // ---- the open conversation -------------------------------------------------------

  async openChat(chatId) {
    const switching = this.activeId !== chatId;
    if (switching) {
      this.stopTyping();
      if (this.active) this.active.unreadMarker = null;
    }
    this.activeId = chatId;
    const chat = this.active;
    if (chat && switching) {
      chat._unreadAtOpen = chat.unread;
      if (chat.historyLoaded) this._placeUnreadMarker(chat);
    }
    this.emit("active", chatId);
    if (!chat) return;
    if (!chat.historyLoaded) await this.loadLatest(chat);
    this.markReadSoon(chat);
  }

  /** Where "N unread messages" goes: before the oldest of the messages unread at opening. */
  _placeUnreadMarker(chat) {
    const count = chat._unreadAtOpen || 0;
    chat._unreadAtOpen = 0;
    chat.unreadMarker = null;
    if (!count) return;
    const fromOthers = chat.sorted.filter((m) => !m._local && m.user_id !== this.me);
    const n = Math.min(count, fromOthers.length);
    // More unread than loaded: the line sits above the oldest loaded one, with the true count.
    if (n > 0) chat.unreadMarker = { seq: fromOthers[fromOthers.length - n].seq, count };
  }

  closeChat() {
    this.stopTyping();
    if (this.active) this.active.unreadMarker = null;
    this.activeId = null;
    this.emit("active", null);
  }

  async loadLatest(chat) {
    const query = chat.lastSeq > 0 ? { beforeSeq: chat.lastSeq + 1, limit: PAGE_SIZE } : { limit: PAGE_SIZE };
    try {
      const page = await api.messages(chat.id, query);
      for (const m of page || []) this._addMessage(chat, m);
      chat.hasMore = this._pageHasMore(page);
      chat.historyLoaded = true;
      if (this.activeId === chat.id && chat._unreadAtOpen) this._placeUnreadMarker(chat);
      this.emit("history", chat.id, { initial: true });
      this.emit("chats");
      this.loadReads(chat);
      this.markReadSoon(chat);
    } catch (err) {
      this.emit("error", chat.id, { message: `Could not load messages: ${err.message}` });
    }
  }

  _pageHasMore(page) {
    if (!Array.isArray(page) || page.length < PAGE_SIZE) return false;
    const first = page[0]?.seq;
    return Number.isFinite(first) && first > 1;
  }

  async loadOlder(chat) {
    if (chat.loadingOlder || !chat.hasMore || !chat.historyLoaded || chat.oldestSeq === null) return;
    chat.loadingOlder = true;
    this.emit("loading", chat.id);
    try {
      const page = await api.messages(chat.id, { beforeSeq: chat.oldestSeq, limit: PAGE_SIZE });
      for (const m of page || []) this._addMessage(chat, m);
      chat.hasMore = this._pageHasMore(page);
      this.emit("history", chat.id, { older: true });
    } catch (err) {
      this.emit("error", chat.id, { message: `Could not load older messages: ${err.message}` });
    } finally {
      chat.loadingOlder = false;
      this.emit("loading", chat.id);
    }
  }

  isViewing(chat) {
    return this.activeId === chat.id && document.visibilityState === "visible";
  }

  markReadSoon(chat) {
    if (!this.isViewing(chat)) return;
    clearTimeout(chat._readTimer);
    chat._readTimer = setTimeout(() => this.markRead(chat), 200);
  }

  async markRead(chat) {
    if (!this.isViewing(chat) || !chat.historyLoaded) return;
    let newestOther = 0;
    for (const m of chat.messages.values()) if (m.user_id !== this.me && (m.seq || 0) > newestOther) newestOther = m.seq;
    if (newestOther <= (chat.readSeqs[this.me] || 0) && chat.unread === 0) return;
    chat.unread = 0;
    this.emit("chats");
    try {
      const res = await api.markRead(chat.id, this.me);
      this._applyRead(chat, this.me, res?.last_read_seq ?? newestOther);
    } catch {
      /* next message or visibility change tries again */
    }
  }

  // ---- sending -----------------------------------------------------------------------

  _pending(chat, fields) {
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
      _localTime: performance.now(),
      _time: now,
    };
    chat.messages.set(message._key, message);
    chat._sorted = null;
    chat.lastMessage = message; // the list previews what I am sending
    chat.unreadMarker = null; // I have answered: the "unread" line has served its purpose
    this.emit("message", chat.id, { message, mine: true });
    this.emit("chats");
    return message;
  }

  sendText(chatId, text) {
    const chat = this.chats.get(chatId);
    if (!chat || !text.trim()) return null;
    const message = this._pending(chat, { type: "text", content: text });
    this._deliver(chat, message);
    return message;
  }

  sendFile(chatId, file) {
    const chat = this.chats.get(chatId);
    if (!chat) return null;
    const type = kindOfFile(file);
    if (!type) throw new Error(`"${file.name}" is not an image or an audio file`);
    const message = this._pending(chat, {
      type,
      content: "",
      _file: file,
      _previewUrl: URL.createObjectURL(file),
      _progress: 0,
    });
    this._deliver(chat, message);
    return message;
  }

  retry(chatId, key) {
    const chat = this.chats.get(chatId);
    const message = chat?.messages.get(key);
    if (message?._local && message._status === "failed") this._deliver(chat, message);
  }

  discard(chatId, key) {
    const chat = this.chats.get(chatId);
    const message = chat?.messages.get(key);
    if (message?._local && message._status === "failed") {
      chat.messages.delete(key);
      chat._sorted = null;
      if (chat.lastMessage === message) chat.lastMessage = chat.sorted.at(-1) || null;
      this.emit("history", chatId, {});
      this.emit("chats");
    }
  }

  async _deliver(chat, message) {
    const stillPending = () => chat.messages.get(message._key) === message;
    message._status = "sending";
    message._error = null;
    this.emit("status", chat.id, { message });
    this.stopTyping();
    try {
      if (message._file && !message._uploadedUrl) {
        const media = await api.upload(message._file, (p) => {
          message._progress = p;
          this.emit("status", chat.id, { message });
        });
        message._uploadedUrl = media.url;
        const kind = kindOfType(media.content_type);
        if (kind) message.type = kind;
      }
      // The same client_message_id on every attempt: the server stores the message once.
      const res = await api.send(chat.id, {
        user_id: this.me,
        type: message.type,
        content: message._uploadedUrl ?? message.content,
        client_message_id: message.client_message_id,
      });
      if (stillPending()) {
        if (res?.message) this._addMessage(chat, res.message);
        else message._status = "sent";
        this.emit("status", chat.id, { message: chat.messages.get(message._key) });
        this.emit("chats");
      }
    } catch (err) {
      if (stillPending()) {
        message._status = "failed";
        message._error = err.message || "Not sent";
        this.emit("status", chat.id, { message });
        this.emit("chats");
      }
    }
  }

  // ---- my typing ---------------------------------------------------------------------

  /** Call on every keystroke: posts `typing` at most every 3 s, `online` after 4 s idle. */
  userTyping(chatId) {
    if (this._typingChat && this._typingChat !== chatId) this.stopTyping();
    const now = Date.now();
    if (now - this._typingSentAt > TYPING_THROTTLE_MS) {
      this._typingSentAt = now;
      this._typingChat = chatId;
      api.setPresence(chatId, this.me, "typing").catch(() => {});
    }
    clearTimeout(this._typingIdle);
    this._typingIdle = setTimeout(() => this.stopTyping(), TYPING_IDLE_MS);
  }

  stopTyping() {
    clearTimeout(this._typingIdle);
    if (this._typingChat) {
      api.setPresence(this._typingChat, this.me, "online").catch(() => {});
      this._typingChat = null;
      this._typingSentAt = 0;
    }
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
