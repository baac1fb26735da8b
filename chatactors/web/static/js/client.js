// The client's conversation with the server: one socket for every chat (`/ws`), history pages
// over REST, sending with retry, typing. Its state and rules live in the Store (store.js); no
// DOM here either. Views listen to "change" events ({kind, chatId}) and re-render.
import { api, getAuthToken } from "./api.js";
import { UserSocket } from "./socket.js";
import { BOT } from "./format.js";
import { PAGE_SIZE, Store, kindOfFile, kindOfType } from "./store.js";

const TYPING_THROTTLE_MS = 3000;
const TYPING_IDLE_MS = 4000;
const TYPING_EXPIRE_MS = 12000;

export class ChatClient extends EventTarget {
  constructor(me) {
    super();
    this.me = me;
    this.store = new Store(me, { isViewing: (chat) => this.isViewing(chat) });
    this.activeId = null;
    this.listFailed = false;
    this.loaded = false;
    this.stopped = false;
    this.socket = null;
    this._refreshing = null;
    this._typingTimers = new Map(); // "<chat>\u0000<user>" -> expiry timer
    this._readTimers = new Map(); // chat id -> debounce timer
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

  get chats() {
    return this.store.chats;
  }

  get chatList() {
    return this.store.chatList;
  }

  get totalUnread() {
    return this.store.totalUnread;
  }

  get contacts() {
    return this.store.contacts;
  }

  get active() {
    return this.activeId ? this.chats.get(this.activeId) || null : null;
  }

  emit(kind, chatId = null, extra = {}) {
    this.dispatchEvent(new CustomEvent("change", { detail: { kind, chatId, ...extra } }));
  }

  // ---- lifecycle ---------------------------------------------------------------------

  async start() {
    document.addEventListener("visibilitychange", this._onVisible);
    window.addEventListener("online", this._onOnline);
    await this.refreshChats();
    if (this.stopped) return;
    this.loaded = true;
    this.emit("chats");
    this.socket = new UserSocket({
      userId: this.me,
      token: getAuthToken(),
      onEvent: (event, chatId, data) => this._onEvent(event, chatId, data),
      onState: (state) => this._onSocketState(state),
    });
    this.socket.start();
  }

  stop() {
    this.stopped = true;
    this.stopTyping();
    document.removeEventListener("visibilitychange", this._onVisible);
    window.removeEventListener("online", this._onOnline);
    this.socket?.stop();
    for (const t of this._typingTimers.values()) clearTimeout(t);
    for (const t of this._readTimers.values()) clearTimeout(t);
    this.chats.clear();
  }

  /** Reconnect now if the socket waits in backoff (the network or the tab is back). */
  nudge() {
    this.socket?.nudge();
  }

  /** "online" | "connecting" | "reconnecting" | "offline" for the whole client. */
  get connectionState() {
    const state = this.socket?.state;
    if (!this.loaded || !state || state === "idle" || state === "connecting") {
      return this.listFailed && navigator.onLine === false ? "offline" : "connecting";
    }
    if (state === "closed") return navigator.onLine === false ? "offline" : "reconnecting";
    return "online"; // open, or gone (refused for good: the banner says why)
  }

  // ---- chat list ---------------------------------------------------------------------

  async refreshChats() {
    let list;
    try {
      list = await api.listChats(this.me);
      this.listFailed = false;
    } catch (err) {
      if (err.status === 401) {
        this.stop();
        this.emit("auth-required");
        return;
      }
      this.listFailed = true;
      this.emit("connection");
      return;
    }
    if (!Array.isArray(list) || this.stopped) return;
    for (const entry of list) {
      // The reference API answers every chat; keep only mine.
      if (Array.isArray(entry.participants) && !entry.participants.includes(this.me)) continue;
      this._upsertChat(entry);
    }
    this.emit("chats");
  }

  _upsertChat(entry) {
    const { chat, isNew } = this.store.upsertChat(entry);
    if (isNew) {
      chat.connection = this.socket ? this._chatConnection() : "connecting";
      chat.closeCode = this.socket?.closeCode ?? null;
      if (chat.live) this._loadChatState(chat);
    }
    return chat;
  }

  /** One list refresh at a time; a refresh asked for meanwhile runs once after it. */
  refreshSoon() {
    if (this._refreshing) {
      this._refreshAgain = true;
      return this._refreshing;
    }
    this._refreshing = this.refreshChats().finally(() => {
      this._refreshing = null;
      if (this._refreshAgain) {
        this._refreshAgain = false;
        this.refreshSoon();
      }
    });
    return this._refreshing;
  }

  /** A chat with these people: the one-to-one chat I already have with them, or a new one. */
  async createChat(people) {
    const existing = this.store.directChatWith(people);
    if (existing) return existing;
    const participants = [this.me, ...people.filter((p) => p && p !== this.me)];
    const res = await api.createChat(participants);
    const chat = this._upsertChat({
      chat_id: res.chat_id,
      participants: [...new Set([...(res.participants || participants), BOT])],
      created_at: res.created_at || new Date().toISOString(),
      last_message: null,
      unread_count: 0,
    });
    this.emit("chats");
    return chat;
  }

  // ---- the socket and its events -----------------------------------------------------

  _chatConnection() {
    const state = this.socket.state;
    return state === "idle" ? "connecting" : state;
  }

  _onSocketState(state) {
    if (this.stopped) return;
    for (const chat of this.chats.values()) {
      chat.connection = this._chatConnection();
      chat.closeCode = this.socket.closeCode;
    }
    if (state === "open") this._onOpen();
    if (state === "gone" && this.socket.closeCode === 4401) {
      this.stop();
      this.emit("auth-required");
      return;
    }
    this.emit("connection");
    this.emit("presence");
    this.emit("chats");
  }

  /** (Re)connected: replay what each chat missed (first thing: the server replays exactly
   *  only before it has sent the chat anything live), then resend what failed. */
  _onOpen() {
    this.socket.request({ op: "resume", positions: this.store.positions() }).catch(() => {
      /* the socket closed again; the next open resumes */
    });
    for (const [chat, message] of this.store.toResend()) this._deliver(chat, message);
    for (const chat of this.chats.values()) this._loadChatState(chat);
  }

  /** Presence, and read marks where they show (my last message's ticks, the open chat). */
  _loadChatState(chat) {
    this.loadPresence(chat);
    if (chat.lastMessage?.user_id === this.me || chat.id === this.activeId) this.loadReads(chat);
  }

  _onEvent(event, chatId, data) {
    if (event === "chat_created") {
      if (data?.chat_id && (!Array.isArray(data.participants) || data.participants.includes(this.me))) {
        this._upsertChat(data);
        this.emit("chats");
      }
      return;
    }
    if (event === "ready") {
      // The chats this socket carries: one made while we were away is listed once over REST.
      const carried = Object.keys(data?.chats || {});
      if (carried.some((id) => !this.chats.has(id))) this.refreshSoon();
      return;
    }
    if (!chatId) return; // future events
    let chat = this.chats.get(chatId);
    if (!chat) {
      // An event of a chat the list does not show yet: hold it, and fetch its entry.
      chat = this._upsertChat({ chat_id: chatId });
      this.refreshSoon();
    }
    switch (event) {
      case "message_received": {
        const message = this.store.receive(chat, data);
        if (!message) return;
        this._clearTypingTimer(chat, data.user_id);
        if (data.user_id !== this.me && this.isViewing(chat)) this.markReadSoon(chat);
        this.emit("message", chat.id, { message, live: true });
        this.emit("presence", chat.id);
        this.emit("chats");
        break;
      }
      case "presence_updated":
        this._applyPresence(chat, data);
        this.emit("presence", chat.id);
        this.emit("chats");
        break;
      case "chat_read": {
        const seq = data.last_read_seq ?? this.store.seqOfId(chat, data.last_read_message_id);
        this._applyRead(chat, data.user_id, seq);
        break;
      }
      case "resync":
      case "resync_required":
        this._resync(chat, data.latest_seq);
        break;
      default:
        break; // future events
    }
  }

  /** The chat missed more than the server replays: start again from its newest page. */
  async _resync(chat, latestSeq) {
    let page = null;
    if (!Number.isFinite(latestSeq)) {
      try {
        page = await api.messages(chat.id, { limit: PAGE_SIZE });
      } catch (err) {
        this.emit("error", chat.id, { message: `Could not catch up: ${err.message}` });
        return;
      }
      latestSeq = page?.at(-1)?.seq ?? chat.lastSeq;
    }
    this.store.resync(chat, latestSeq);
    if (page) {
      this.store.addPage(chat, page);
      chat.historyLoaded = true;
    }
    this.emit("history", chat.id, { reset: true });
    if (this.activeId === chat.id && !page) await this.loadLatest(chat);
    this.refreshSoon(); // fresh unread counts
  }

  _applyPresence(chat, data) {
    const typing = this.store.applyPresence(chat, data);
    this._clearTypingTimer(chat, data?.user_id);
    if (typing) {
      const key = `${chat.id}\u0000${data.user_id}`;
      this._typingTimers.set(
        key,
        setTimeout(() => {
          this._typingTimers.delete(key);
          chat.typing.delete(data.user_id);
          this.emit("presence", chat.id);
          this.emit("chats");
        }, TYPING_EXPIRE_MS),
      );
    }
  }

  _clearTypingTimer(chat, user) {
    const key = `${chat.id}\u0000${user}`;
    clearTimeout(this._typingTimers.get(key));
    this._typingTimers.delete(key);
  }

  _applyRead(chat, user, seq) {
    if (!this.store.applyRead(chat, user, seq)) return;
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
      else for (const [user, id] of Object.entries(res?.read_receipts || {})) this._applyRead(chat, user, this.store.seqOfId(chat, id));
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
      chat.unreadAtOpen = chat.unread;
      if (chat.historyLoaded) this.store.placeUnreadMarker(chat);
    }
    this.emit("active", chatId);
    if (!chat) return;
    if (!chat.historyLoaded) await this.loadLatest(chat);
    this.markReadSoon(chat);
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
      this.store.addPage(chat, page);
      chat.historyLoaded = true;
      if (this.activeId === chat.id && chat.unreadAtOpen) this.store.placeUnreadMarker(chat);
      this.emit("history", chat.id, { initial: true });
      this.emit("chats");
      this.loadReads(chat);
      this.markReadSoon(chat);
    } catch (err) {
      this.emit("error", chat.id, { message: `Could not load messages: ${err.message}` });
    }
  }

  async loadOlder(chat) {
    if (chat.loadingOlder || !chat.hasMore || !chat.historyLoaded || chat.oldestSeq === null) return;
    chat.loadingOlder = true;
    this.emit("loading", chat.id);
    try {
      const page = await api.messages(chat.id, { beforeSeq: chat.oldestSeq, limit: PAGE_SIZE });
      this.store.addPage(chat, page);
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
    clearTimeout(this._readTimers.get(chat.id));
    this._readTimers.set(chat.id, setTimeout(() => this.markRead(chat), 200));
  }

  async markRead(chat) {
    if (!this.isViewing(chat) || !chat.historyLoaded) return;
    const newestOther = chat.newestFromOthers;
    if (newestOther <= (chat.readSeqs[this.me] || 0) && chat.unread === 0) return;
    chat.unread = 0;
    this.emit("chats");
    try {
      const res = this.socket?.isOpen
        ? await this.socket.request({ op: "read", chat_id: chat.id })
        : await api.markRead(chat.id, this.me);
      this._applyRead(chat, this.me, res?.last_read_seq ?? newestOther);
    } catch {
      /* next message or visibility change tries again */
    }
  }

  // ---- sending -----------------------------------------------------------------------

  _pending(chat, fields) {
    const message = this.store.addPending(chat, fields);
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
    if (chat && this.store.discard(chat, key)) {
      this.emit("history", chatId, {});
      this.emit("chats");
    }
  }

  /**
   * One attempt to store a pending message: over the socket when it is open, over REST while
   * it is down. Every attempt carries the same client_message_id, so the server stores the
   * message once however often it is sent; the store lets one attempt be in flight at a time.
   * A transient failure is sent again by itself when the socket is back (see _onOpen).
   */
  async _deliver(chat, message) {
    if (!this.store.beginAttempt(chat, message)) return;
    this.emit("status", chat.id, { message });
    this.stopTyping();
    let viaSocket = false;
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
      const fields = {
        type: message.type,
        content: message._uploadedUrl ?? message.content,
        client_message_id: message.client_message_id,
      };
      viaSocket = !!this.socket?.isOpen;
      const res = viaSocket
        ? await this.socket.request({ op: "send", chat_id: chat.id, ...fields })
        : await api.send(chat.id, { user_id: this.me, ...fields });
      this.store.confirm(chat, message, res?.message);
    } catch (err) {
      if (err.interrupted && viaSocket && !err.timedOut) {
        // Sent, but the socket closed before the answer: try again (REST while it is down).
        this.store.interrupt(chat, message);
        this._deliver(chat, message);
        return;
      }
      this.store.fail(chat, message, err.message, { transient: !!err.transient });
    }
    this.emit("status", chat.id, { message: chat.messages.get(message._key) || message });
    this.emit("chats");
  }

  // ---- my typing ---------------------------------------------------------------------

  /** Call on every keystroke: posts `typing` at most every 3 s, `online` after 4 s idle. */
  userTyping(chatId) {
    if (this._typingChat && this._typingChat !== chatId) this.stopTyping();
    const now = Date.now();
    if (now - this._typingSentAt > TYPING_THROTTLE_MS) {
      this._typingSentAt = now;
      this._typingChat = chatId;
      this._setPresence(chatId, "typing");
    }
    clearTimeout(this._typingIdle);
    this._typingIdle = setTimeout(() => this.stopTyping(), TYPING_IDLE_MS);
  }

  stopTyping() {
    clearTimeout(this._typingIdle);
    if (this._typingChat) {
      this._setPresence(this._typingChat, "online");
      this._typingChat = null;
      this._typingSentAt = 0;
    }
  }

  _setPresence(chatId, status) {
    const done = this.socket?.isOpen
      ? this.socket.request({ op: "presence", chat_id: chatId, status })
      : api.setPresence(chatId, this.me, status);
    done.catch(() => {}); // typing is a hint: a lost one is not worth a retry
  }
}
