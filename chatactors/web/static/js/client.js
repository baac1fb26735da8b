// The client's conversation with the server: one socket for every chat (`/ws`), history pages
// over REST, sending with retry, changes to messages (edit, delete, reactions), changes to chats
// (title, members), typing. Its state and rules live in the Store (store.js, changes.js,
// members.js); no DOM here either (the page's visibility and the network's state come from
// page.js, handed in by app.js). Views listen to "change" events ({kind, chatId}) and re-render.
import { api, getAuthToken } from "./api.js";
import { UserSocket } from "./socket.js";
import { BOT } from "./format.js";
import { answerCovers, beginEdit, endEdit, toggleOp } from "./changes.js";
import {
  AROUND, addNewerToWindow, addOlderToWindow, hasOlder, heldRuns, leaveWindow, olderPage, openWindow, settleWindow,
  showRunOf,
} from "./history-window.js";
import { applyChatState, chatName, removalNotice } from "./members.js";
import { searchParams } from "./search.js";
import { PAGE_SIZE, Store, kindOfFile, kindOfType } from "./store.js";

// Reading back every message held when a chat's position becomes known: at most this many.
const MAX_REREAD = 1000;

const TYPING_THROTTLE_MS = 3000;
const TYPING_IDLE_MS = 4000;
const TYPING_EXPIRE_MS = 12000;

export class ChatClient extends EventTarget {
  /** @param {string} me @param {typeof import("./page.js").browserPage} page whether the page
   *  is seen or offline, and word when that changes (page.js) */
  constructor(me, page) {
    super();
    this.me = me;
    this.page = page;
    this.store = new Store(me, { isViewing: (chat) => this.isViewing(chat) });
    this.activeId = null;
    // The open chat, if I was taken out of it while it was open: it stays on screen, read-only,
    // with a notice (chat.gone), until I go elsewhere. Never in the list.
    this.left = new Map();
    // Chats I am leaving from this tab: the socket's `chat_removed` may come before the answer,
    // and must close the conversation as the answer would, not show it as taken from me.
    this._leaving = new Set();
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
    this._readyPos = null; // the current socket's `latest_pos` per chat, from its `ready`
    this._reacting = new Set(); // "<message id>\u0000<emoji>": one toggle in flight at a time
    this._unwatchPage = null;
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

  /** A chat of mine, or the open one I was just taken out of (shown read-only). */
  chatById(id) {
    return (id && (this.chats.get(id) || this.left.get(id))) || null;
  }

  emit(kind, chatId = null, extra = {}) {
    this.dispatchEvent(new CustomEvent("change", { detail: { kind, chatId, ...extra } }));
  }

  // ---- lifecycle ---------------------------------------------------------------------

  async start() {
    this._unwatchPage = this.page.watch({
      onVisible: () => {
        this.nudge();
        const chat = this.active;
        if (chat) this.markReadSoon(chat);
      },
      onOnline: () => this.nudge(),
    });
    await this.refreshChats();
    if (this.stopped) return;
    this.loaded = true;
    this.emit("chats");
    this.socket = new UserSocket({
      userId: this.me,
      token: getAuthToken(),
      onEvent: (event, chatId, data, pos) => this._onEvent(event, chatId, data, pos),
      onState: (state) => this._onSocketState(state),
    });
    this.socket.start();
  }

  stop() {
    this.stopped = true;
    this.stopTyping();
    this._unwatchPage?.();
    this._unwatchPage = null;
    this.socket?.stop();
    for (const t of this._typingTimers.values()) clearTimeout(t);
    for (const t of this._readTimers.values()) clearTimeout(t);
    this.chats.clear();
    this.left.clear();
  }

  /** Reconnect now if the socket waits in backoff (the network or the tab is back). */
  nudge() {
    this.socket?.nudge();
  }

  /** "online" | "connecting" | "reconnecting" | "offline" for the whole client. */
  get connectionState() {
    const state = this.socket?.state;
    if (!this.loaded || !state || state === "idle" || state === "connecting") {
      return this.listFailed && this.page.isOffline() ? "offline" : "connecting";
    }
    if (state === "closed") return this.page.isOffline() ? "offline" : "reconnecting";
    return "online"; // open, or gone (refused for good: the banner says why)
  }

  // ---- chat list ---------------------------------------------------------------------

  async refreshChats() {
    let list;
    // How current the list is for each chat: its position when asked (see changes.js, isNewer).
    const covers = new Map([...this.chats.values()].map((c) => [c.id, this.store.coversNow(c)]));
    const known = [...this.chats.keys()];
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
    const listed = new Set();
    for (const entry of list) {
      // The reference API answers every chat; keep only mine.
      if (Array.isArray(entry.participants) && !entry.participants.includes(this.me)) continue;
      listed.add(entry.chat_id);
      this._upsertChat(entry, { covers: covers.get(entry.chat_id) ?? -1 });
    }
    // A chat held when the list was asked for and not in it: I am no longer in it (taken out
    // while the socket was down, say). One that arrived meanwhile is not judged by this list.
    for (const id of known) if (!listed.has(id)) this._dropChat(id);
    this.emit("chats");
  }

  _upsertChat(entry, { covers = -1 } = {}) {
    const { chat, isNew } = this.store.upsertChat(entry, { covers });
    if (isNew) {
      // A chat the current socket carries: every entry after its `ready` position comes on it.
      const pos = this._readyPos?.[chat.id];
      if (Number.isFinite(pos)) chat.pos = pos;
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

  /**
   * A chat with these people: the one-to-one chat I already have with them, or a new one.
   * `title` (null: none) or `group` make it a group, however many people it has.
   */
  async createChat(people, { title = null, group = false } = {}) {
    const existing = !title && !group ? this.store.directChatWith(people) : null;
    if (existing) return existing;
    const participants = [this.me, ...people.filter((p) => p && p !== this.me)];
    const res = await api.createChat(participants, { userId: this.me, title, group });
    const chat = this._upsertChat({
      ...res, // title, kind, created_by, admin
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
    if (state !== "open") this._readyPos = null;
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

  _onEvent(event, chatId, data, pos) {
    if (event === "chat_created") {
      if (data?.chat_id && (!Array.isArray(data.participants) || data.participants.includes(this.me))) {
        this.left.delete(data.chat_id); // added back to the chat I was taken out of
        const chat = this._upsertChat(data);
        // A new chat: its whole log follows on this socket. A chat I was added to: what follows
        // comes after `latest_pos`; its history before is read over REST when it opens.
        if (chat.pos === null) chat.pos = data.last_message && Number.isFinite(data.latest_pos) ? data.latest_pos : 0;
        this.emit("chats");
      }
      return;
    }
    if (event === "chat_removed") {
      if (chatId) this._dropChat(chatId);
      return;
    }
    if (event === "ready") {
      this._onReady(data);
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
        const message = this.store.receive(chat, data, pos);
        if (!message) {
          // Held already (a replay, or the ack came first): it may show a newer state.
          this.emit("update", chat.id);
          return;
        }
        this._clearTypingTimer(chat, data.user_id);
        if (data.user_id !== this.me && this.isViewing(chat)) this.markReadSoon(chat);
        this.emit("message", chat.id, { message, live: true });
        this.emit("presence", chat.id);
        this.emit("chats");
        break;
      }
      case "message_updated":
        this.store.receiveUpdate(chat, data, pos);
        this.emit("update", chat.id, { id: data?.id });
        if (chat.lastMessage?.id === data?.id) this.emit("chats");
        break;
      case "presence_updated":
        this._applyPresence(chat, data);
        this.emit("presence", chat.id);
        this.emit("chats");
        break;
      case "chat_updated":
        // The chat's whole new state, right after the system message that changed it.
        applyChatState(chat, data, Math.max(chat.pos ?? -1, chat.stateCovers));
        this._chatChanged(chat);
        break;
      case "chat_read": {
        const seq = data.last_read_seq ?? this.store.seqOfId(chat, data.last_read_message_id);
        this._applyRead(chat, data.user_id, seq);
        break;
      }
      case "resync":
      case "resync_required":
        this._resync(chat, data.latest_seq, data.latest_pos);
        break;
      default:
        break; // future events
    }
  }

  /**
   * The socket's first event. The chats it carries: one made while we were away is listed once
   * over REST. A chat whose log position was unknown (all of them, the first time) takes the
   * socket's; what was read of it over REST before the socket subscribed may miss a change made
   * in between, so the list and the pages held are read again, now that they can be placed.
   */
  _onReady(data) {
    this._readyPos = data?.latest_pos && typeof data.latest_pos === "object" ? data.latest_pos : null;
    const carried = Object.keys(data?.chats || {});
    const fresh = this.store.applyReady(this._readyPos);
    this.store.applyMentionCounts(data?.unread_mentions, this._readyPos);
    // A chat held and not carried: perhaps I was taken out of it while away (the list says).
    const missing = [...this.chats.keys()].some((id) => !(id in (data?.chats || {})));
    if (carried.some((id) => !this.chats.has(id)) || fresh.length || missing) this.refreshSoon();
    for (const chat of fresh) if (chat.historyLoaded && !chat._reading) this._reread(chat);
  }

  /** Read every message held again (they were read before the chat's position was known). */
  async _reread(chat) {
    const runs = heldRuns(chat); // the newest messages, and a window further back if one is held
    if (!runs.length) return;
    const covers = this.store.coversNow(chat);
    try {
      const pages = await Promise.all(runs.map((run) => api.messages(chat.id, {
        beforeSeq: run.to + 1, limit: Math.min(MAX_REREAD, run.to - run.from + 1), userId: this.me,
      })));
      for (const page of pages) this.store.mergePage(chat, page, { covers });
      this.emit("update", chat.id);
      this.emit("chats");
    } catch {
      /* the next change to each message brings its state; a reload shows it */
    }
  }

  /** After a page read before the chat's position was known: read it again if it now is. */
  _rereadIfPlaced(chat, covers) {
    if (covers < 0 && chat.pos !== null) this._reread(chat);
  }

  /** The chat missed more than the server replays: start again from its newest page. */
  async _resync(chat, latestSeq, latestPos) {
    let page = null;
    if (!Number.isFinite(latestSeq)) {
      try {
        page = await api.messages(chat.id, { limit: PAGE_SIZE, userId: this.me });
      } catch (err) {
        this.emit("error", chat.id, { message: `Could not catch up: ${err.message}` });
        return;
      }
      latestSeq = page?.at(-1)?.seq ?? chat.lastSeq;
    }
    this.store.resync(chat, latestSeq, latestPos);
    if (page) {
      this.store.addPage(chat, page, { covers: this.store.coversNow(chat) });
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
      const list = await api.presence(chat.id, this.me);
      for (const p of list || []) this._applyPresence(chat, p);
      this.emit("presence", chat.id);
      this.emit("chats");
    } catch {
      /* the socket's events will fill it in */
    }
  }

  async loadReads(chat) {
    try {
      const res = await api.reads(chat.id, this.me);
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
      this.left.clear();
      this.stopTyping();
      if (this.active) this.active.unreadMarker = null;
    }
    this.activeId = chatId;
    const chat = this.active;
    if (chat && switching) {
      // A chat opened from the list starts at its newest messages, even if a window further
      // back was being read in it before (a search result opens it there afterwards).
      leaveWindow(chat);
      chat.unreadAtOpen = chat.unread;
      if (chat.historyLoaded) this.store.placeUnreadMarker(chat);
    }
    this.emit("active", chatId);
    if (!chat) return;
    if (!chat.historyLoaded) await this.loadLatest(chat);
    this.markReadSoon(chat);
  }

  closeChat() {
    this.left.clear();
    this.stopTyping();
    if (this.active) this.active.unreadMarker = null;
    this.activeId = null;
    this.emit("active", null);
  }

  async loadLatest(chat) {
    const query = { ...(chat.lastSeq > 0 ? { beforeSeq: chat.lastSeq + 1 } : {}), limit: PAGE_SIZE, userId: this.me };
    const covers = this.store.coversNow(chat);
    chat._reading = true;
    try {
      const page = await api.messages(chat.id, query);
      this.store.addPage(chat, page, { covers });
      chat.historyLoaded = true;
      this._rereadIfPlaced(chat, covers);
      if (this.activeId === chat.id && chat.unreadAtOpen) this.store.placeUnreadMarker(chat);
      this.emit("history", chat.id, { initial: true });
      this.emit("chats");
      this.loadReads(chat);
      this.markReadSoon(chat);
    } catch (err) {
      if (!this._refused(err)) this.emit("error", chat.id, { message: `Could not load messages: ${err.message}` });
    } finally {
      chat._reading = false;
    }
  }

  /**
   * The page before the oldest message shown (of the live end, or of a window further back);
   * answers whether it loaded (the one in flight, if any).
   */
  loadOlder(chat) {
    if (chat._olderLoad) return chat._olderLoad;
    if (!hasOlder(chat) || !chat.historyLoaded) return Promise.resolve(false);
    chat._olderLoad = this._loadOlder(chat).finally(() => {
      chat._olderLoad = null;
    });
    return chat._olderLoad;
  }

  async _loadOlder(chat) {
    chat.loadingOlder = true;
    this.emit("loading", chat.id);
    const covers = this.store.coversNow(chat);
    const { beforeSeq, windowed } = olderPage(chat);
    try {
      const page = await api.messages(chat.id, { beforeSeq, limit: PAGE_SIZE, userId: this.me });
      if (windowed) addOlderToWindow(this.store, chat, page, { covers, limit: PAGE_SIZE });
      else {
        this.store.addPage(chat, page, { covers });
        if (chat.window) chat.hasMore = true; // the window is older still
      }
      this.emit("history", chat.id, { older: true });
      this._rereadIfPlaced(chat, covers);
      return true;
    } catch (err) {
      if (!this._refused(err)) this.emit("error", chat.id, { message: `Could not load older messages: ${err.message}` });
      return false;
    } finally {
      chat.loadingOlder = false;
      this.emit("loading", chat.id);
    }
  }

  /**
   * The message with this id, loading older pages until it is held (a reply's original may be
   * far back); null if the chat has no such message, or loading fails.
   */
  async findMessage(chat, id) {
    for (;;) {
      const found = this.store.messageById(chat, id);
      if (found) return found;
      if (!hasOlder(chat) || !chat.historyLoaded) return null;
      if (!(await this.loadOlder(chat))) return null;
    }
  }

  /**
   * The messages after the window being shown (reading it towards the live end); answers whether
   * they loaded. Once they reach the live end the window is gone (history-window.js).
   */
  loadNewer(chat) {
    if (chat._newerLoad) return chat._newerLoad;
    if (!chat.window || !chat.inWindow) return Promise.resolve(false);
    chat._newerLoad = this._loadNewer(chat).finally(() => {
      chat._newerLoad = null;
    });
    return chat._newerLoad;
  }

  async _loadNewer(chat) {
    chat.loadingNewer = true;
    this.emit("loading", chat.id);
    const covers = this.store.coversNow(chat);
    try {
      const page = await api.messages(chat.id, { afterSeq: chat.window.to, limit: PAGE_SIZE, userId: this.me });
      addNewerToWindow(this.store, chat, page, { covers, limit: PAGE_SIZE });
      this.emit("history", chat.id, { newer: true });
      this._rereadIfPlaced(chat, covers);
      return true;
    } catch (err) {
      if (!this._refused(err)) this.emit("error", chat.id, { message: `Could not load newer messages: ${err.message}` });
      return false;
    } finally {
      chat.loadingNewer = false;
      this.emit("loading", chat.id);
    }
  }

  /**
   * Show a message (a search result: its `id` and `seq`) in its chat: held already, or loaded
   * with the messages around it as a window (history-window.js), however far back it is.
   * Answers the message as held, or null (not in the chat any more, or loading failed).
   */
  async reveal(chat, { id, seq }) {
    if (!chat.historyLoaded && !chat._reading) await this.loadLatest(chat);
    let found = this.store.messageById(chat, id);
    if (!found && Number.isFinite(seq)) {
      const covers = this.store.coversNow(chat);
      try {
        const [older, newer] = await Promise.all([
          api.messages(chat.id, { beforeSeq: seq + 1, limit: AROUND, userId: this.me }),
          api.messages(chat.id, { afterSeq: seq, limit: AROUND, userId: this.me }),
        ]);
        openWindow(this.store, chat, older, newer, { covers, limit: AROUND });
        this._rereadIfPlaced(chat, covers);
      } catch (err) {
        if (!this._refused(err)) this.emit("error", chat.id, { message: `Could not load the message: ${err.message}` });
        return null;
      }
      found = this.store.messageById(chat, id);
    }
    if (!found) return null;
    showRunOf(chat, found.seq);
    this.emit("history", chat.id, { reset: true });
    return found;
  }

  /** Back from a window to the newest messages. */
  showLatest(chat) {
    if (!chat.inWindow) return;
    leaveWindow(chat);
    settleWindow(chat);
    this.emit("history", chat.id, { reset: true });
  }

  /** `GET /search` as me: `query` {q, chatId, from, type, cursor, limit} (search.js, searchParams). */
  search(query) {
    return api.search(searchParams({ ...query, userId: this.me }));
  }

  isViewing(chat) {
    return this.activeId === chat.id && this.page.isVisible();
  }

  markReadSoon(chat) {
    if (!this.isViewing(chat)) return;
    clearTimeout(this._readTimers.get(chat.id));
    this._readTimers.set(chat.id, setTimeout(() => this.markRead(chat), 200));
  }

  async markRead(chat) {
    if (!this.isViewing(chat) || !chat.historyLoaded) return;
    const newestOther = chat.newestFromOthers;
    if (newestOther <= (chat.readSeqs[this.me] || 0) && chat.unread === 0 && chat.unreadMentions === 0) return;
    chat.unread = 0;
    chat.unreadMentions = 0;
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

  /** `replyTo`: the id of the message this one answers. */
  sendText(chatId, text, { replyTo = null } = {}) {
    const chat = this.chats.get(chatId);
    if (!chat || !text.trim()) return null;
    const message = this._pending(chat, { type: "text", content: text, reply_to: replyTo });
    this._deliver(chat, message);
    return message;
  }

  sendFile(chatId, file, { replyTo = null } = {}) {
    const chat = this.chats.get(chatId);
    if (!chat) return null;
    const type = kindOfFile(file);
    if (!type) throw new Error(`"${file.name}" is not an image or an audio file`);
    const message = this._pending(chat, {
      type,
      content: "",
      reply_to: replyTo,
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
        ...(message.reply_to ? { reply_to: message.reply_to } : {}),
      };
      viaSocket = !!this.socket?.isOpen;
      const posAtSend = chat.pos;
      const res = viaSocket
        ? await this.socket.request({ op: "send", chat_id: chat.id, ...fields })
        : await api.send(chat.id, { user_id: this.me, ...fields });
      this.store.confirm(chat, message, res?.message, posAtSend);
    } catch (err) {
      if (err.interrupted && viaSocket && !err.timedOut) {
        // Sent, but the socket closed before the answer: try again (REST while it is down).
        this.store.interrupt(chat, message);
        this._deliver(chat, message);
        return;
      }
      const refused = this._refused(err);
      this.store.fail(chat, message, refused ? "you are not in this chat" : err.message, { transient: !!err.transient });
    }
    this.emit("status", chat.id, { message: chat.messages.get(message._key) || message });
    this.emit("chats");
  }

  // ---- changing messages: edit, delete, react -------------------------------------------

  /**
   * One change to a message: over the socket when it is open (the `message_updated` event
   * follows), over REST while it is down. Every change is idempotent, so one whose answer was
   * lost with the socket goes again over REST. The answer is applied at once, unless an event
   * about the message overtook it (see Store.applyAnswer). Rejects with the server's error.
   */
  async _change(chat, command, viaRest) {
    const posAtSend = chat.pos;
    let res;
    if (this.socket?.isOpen) {
      try {
        res = await this.socket.request({ ...command, chat_id: chat.id });
      } catch (err) {
        if (!err.interrupted) throw err;
        res = await viaRest();
      }
    } else res = await viaRest();
    if (res?.message && this.store.applyAnswer(chat, res.message, posAtSend)) {
      this.emit("update", chat.id, { id: res.message.id });
      if (chat.lastMessage?.id === res.message.id) this.emit("chats");
    }
    return res?.message ?? null;
  }

  /** Edit my text message: the new text shows at once; answers whether the server took it. */
  async editMessage(chatId, id, content) {
    const chat = this.chats.get(chatId);
    const held = chat && this.store.messageById(chat, id);
    if (!held || !content.trim() || content === held.content) return false;
    beginEdit(chat, id, content);
    this.emit("update", chat.id, { id });
    let failed = false;
    try {
      await this._change(chat, { op: "edit", message_id: id, content }, () => api.editMessage(chat.id, id, this.me, content));
    } catch (err) {
      failed = true;
      this.emit("error", chat.id, { message: `Could not edit the message: ${err.message}` });
    }
    endEdit(chat, id, { failed });
    this.emit("update", chat.id, { id });
    this.emit("chats");
    return !failed;
  }

  async deleteMessage(chatId, id) {
    const chat = this.chats.get(chatId);
    if (!chat) return false;
    try {
      await this._change(chat, { op: "delete", message_id: id }, () => api.deleteMessage(chat.id, id, this.me));
      return true;
    } catch (err) {
      this.emit("error", chat.id, { message: `Could not delete the message: ${err.message}` });
      return false;
    }
  }

  /** Add my reaction with this emoji, or take it back if I have it (one toggle at a time). */
  async toggleReaction(chatId, id, emoji) {
    const chat = this.chats.get(chatId);
    const held = chat && this.store.messageById(chat, id);
    const key = `${id}\u0000${emoji}`;
    if (!held || this._reacting.has(key)) return;
    const op = toggleOp(held, emoji, this.me);
    this._reacting.add(key);
    try {
      await this._change(chat, { op, message_id: id, emoji }, () =>
        op === "react" ? api.react(chat.id, id, emoji, this.me) : api.unreact(chat.id, id, emoji, this.me));
    } catch (err) {
      this.emit("error", chat.id, { message: `Could not ${op === "react" ? "add" : "remove"} the reaction: ${err.message}` });
    } finally {
      this._reacting.delete(key);
    }
  }

  // ---- changing chats: title, members ---------------------------------------------------

  /** Name the chat (null: no title, named by its people). Rejects with the server's error. */
  async renameChat(chatId, title) {
    const chat = this.chats.get(chatId);
    if (!chat || (title ?? null) === (chat.title ?? null)) return;
    await this._changeChat(chat, () => api.renameChat(chat.id, this.me, title ?? null));
  }

  /** Add people to a group. Rejects with the server's error (a one-to-one chat: 422). */
  async addPeople(chatId, people) {
    const chat = this.chats.get(chatId);
    if (!chat || !people.length) return;
    await this._changeChat(chat, () => api.addParticipants(chat.id, this.me, people));
  }

  /** Remove someone (the admin of a group only; the server says 403 otherwise). */
  async removeMember(chatId, member) {
    const chat = this.chats.get(chatId);
    if (!chat) return;
    await this._changeChat(chat, () => api.removeParticipant(chat.id, member, this.me));
  }

  /** Leave the chat: it leaves the list at once. */
  async leaveChat(chatId) {
    const chat = this.chats.get(chatId);
    if (!chat) return;
    this._leaving.add(chatId);
    try {
      await this._changeChat(chat, () => api.removeParticipant(chat.id, this.me, this.me));
    } finally {
      this._leaving.delete(chatId);
    }
  }

  /**
   * One change to a chat, over REST (the socket has no command for it). The answer's system
   * message shows at once (its event, arriving too, is the same message), and the answer's
   * chat is applied as current to its own `last_pos`, so an event of a later change is not
   * undone by it, nor it by an older one.
   */
  async _changeChat(chat, call) {
    const posAtSend = chat.pos;
    let res;
    try {
      res = await call();
    } catch (err) {
      this._refused(err);
      throw err;
    }
    if (!this.chats.has(chat.id)) return; // I left, and the socket said so first: it is gone
    if (res?.message) {
      const message = this.store.addMessage(chat, res.message, { covers: answerCovers(undefined, posAtSend, chat.pos) });
      if (message) this.emit("message", chat.id, { message, mine: true });
    }
    if (res?.chat) applyChatState(chat, res.chat, Number.isFinite(res.chat.last_pos) ? res.chat.last_pos : -1);
    this._chatChanged(chat, { byMe: true });
  }

  /** The chat's state changed: views re-render; if I am no longer in it, it goes. */
  _chatChanged(chat, { byMe = false } = {}) {
    if (Array.isArray(chat.participants) && chat.participants.length && !chat.participants.includes(this.me)) {
      this._dropChat(chat.id, { byMe });
      return;
    }
    this.emit("chat", chat.id);
    this.emit("presence", chat.id);
    this.emit("chats");
  }

  /**
   * I am no longer in the chat (removed, or I left; `chat_removed`, a change's answer, or the
   * list): it leaves the list, its timers stop. If it is open and someone else took me out, it
   * stays on screen read-only with a notice saying why; if I left, the view closes it.
   */
  _dropChat(chatId, { byMe = false } = {}) {
    const chat = this.store.removeChat(chatId);
    if (!chat) return;
    byMe ||= this._leaving.has(chatId);
    for (const user of chat.typing) this._clearTypingTimer(chat, user);
    chat.typing.clear();
    clearTimeout(this._readTimers.get(chatId));
    this._readTimers.delete(chatId);
    if (this._typingChat === chatId) {
      clearTimeout(this._typingIdle);
      this._typingChat = null;
    }
    if (this.activeId === chatId && !byMe) {
      chat.gone = removalNotice(chat, this.me);
      this.left.set(chatId, chat);
    }
    this.emit("removed", chatId, { byMe, name: chatName(chat, this.me) });
    this.emit("chats");
  }

  /** A 403 means I may no longer be in the chat: the list says whether (answers whether it was). */
  _refused(err) {
    if (err?.status !== 403) return false;
    this.refreshSoon();
    return true;
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
