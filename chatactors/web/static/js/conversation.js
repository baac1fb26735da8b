// The open conversation: header (its title, edited in place; the members panel), message list
// (grouped by sender and day; system lines for changes to the chat; mentions marked), typing
// indicator, composer with attachments, voice recording and `@` suggestions, and what can be done
// to a message (the menu: react, reply, edit in place, delete; the reply bar; finding a reply's
// original); a message shown from a search result, with the history around it.
import { $, h, icon, reconcile, resetKeyed } from "./dom.js";
import { avatar } from "./avatar.js";
import { audioBody, imageBody } from "./media.js";
import { Recorder } from "./recorder.js";
import { toast } from "./toast.js";
import { MessageMenu, onLongPress } from "./menu.js";
import {
  deletedBody, editedTitle, editorElement, quoteElement, reactionButtons, replyPreview,
} from "./bubble.js";
import { REACTIONS, canDelete, canEdit, hasReacted, isLive, shownContent, snippet } from "./changes.js";
import { chatName, cleanTitle, systemText } from "./members.js";
import { hasOlder } from "./history-window.js";
import { mentionCandidates, mentionsMe, shownMentions } from "./mentions.js";
import { MentionPicker } from "./mention-picker.js";
import { MembersPanel } from "./members-panel.js";
import { TitleEditor } from "./title-editor.js";
import {
  BOT, dayKey, displayName, formatDay, formatFull, formatLastSeen, formatTime, hueOf, linkSpans, linkify,
} from "./format.js";

const GROUP_GAP_MS = 5 * 60 * 1000;
const NEAR_BOTTOM_PX = 96;
const LOAD_OLDER_PX = 400;
const LOAD_NEWER_PX = 400;

export class ConversationView {
  /**
   * @param {{startGroup: (people: string[]) => void, searchHere: (chatId: string) => void}} o
   *   `startGroup` opens "New chat" for a group with them; `searchHere` the search, in this chat
   */
  constructor({ startGroup, searchHere }) {
    this.client = null;
    this.chatId = null;
    this.el = {
      view: $("#chat-view"), noChat: $("#no-chat"), title: $("#chat-title"), subtitle: $("#chat-subtitle"),
      avatar: $("#chat-avatar"), banner: $("#chat-banner"), scroller: $("#scroller"), messages: $("#messages"),
      history: $("#history-status"), typing: $("#typing"), typingText: $("#typing-text"), jump: $("#jump"),
      jumpCount: $("#jump-count"), composer: $("#composer"), input: $("#message-input"), send: $("#send"),
      attach: $("#attach"), fileInput: $("#file-input"), record: $("#record"), recorder: $("#recorder"),
      recordTime: $("#record-time"), recordCancel: $("#record-cancel"), recordSend: $("#record-send"),
      dropZone: $("#drop-zone"), back: $("#back"), replyBar: $("#reply-bar"), replyQuote: $("#reply-quote"),
      replyCancel: $("#reply-cancel"), deleteDialog: $("#delete-dialog"), deletePreview: $("#delete-preview"),
      rename: $("#rename-chat"), titleInput: $("#chat-title-input"), membersButton: $("#chat-members"),
      goneBar: $("#gone-bar"), goneText: $("#gone-text"), goneClose: $("#gone-close"),
      newer: $("#newer-status"), searchHere: $("#search-here-btn"), mentionList: $("#mention-list"),
    };
    this.searchHere = searchHere;
    this.mentions = new MentionPicker({
      input: this.el.input,
      list: this.el.mentionList,
      candidates: () => {
        const chat = this._chat();
        if (!chat || chat.gone) return null;
        return { people: mentionCandidates(chat, this.client.me), participants: chat.participants };
      },
      onInsert: () => {
        this._autosize();
        this._composerState();
      },
    });
    this.panel = new MembersPanel({ startGroup });
    this.titleEditor = new TitleEditor({
      heading: this.el.title, input: this.el.titleInput, button: this.el.rename,
      onSave: (text) => this._saveTitle(text),
    });
    this.savingTitle = null; // {chatId, title}: my new title, shown until the server answers
    this.drafts = new Map();
    this.replies = new Map(); // chat id -> id of the message my next one answers
    this.editing = null; // {chatId, id}: my message being edited in place
    this.jumpTarget = null; // key of a message to bring into view at the next render
    this.pendingDelete = null; // {chatId, id}: waiting for the confirmation dialog
    this.menu = new MessageMenu($("#message-menu"));
    this.stick = true; // keep the newest message in view
    this.unseen = 0; // new messages below the fold
    this.dirty = new Set();
    this.frame = 0;
    this.initialScrollDone = false;
    this.rebuilding = false; // the message list was emptied and awaits its render
    this.recorder = new Recorder({
      onTick: (s) => (this.el.recordTime.textContent = s),
      onState: (on) => this._recordingUi(on),
      onFile: (file) => this._sendFiles([file]),
      onError: (msg) => toast(msg, { kind: "error" }),
    });
    this._wire();
  }

  setClient(client) {
    this.client = client;
    this.chatId = null;
    this.replies.clear();
    this.editing = null;
    this.menu.close();
    this.recorder.cancel();
    this.titleEditor.cancel();
    this.panel.setClient(client);
    this.mentions.close();
    resetKeyed(this.el.messages);
    this._showChat(null);
  }

  // ---- events from the client ----------------------------------------------------------

  onChange({ kind, chatId, ...extra }) {
    if (kind === "active") {
      this._showChat(chatId);
      return;
    }
    if (chatId && chatId !== this.chatId) return;
    if (kind === "chats") return; // list-level news; this chat's own events carry its id
    if (kind === "removed") {
      this.panel.close();
      this.titleEditor.cancel();
      this.menu.close();
      if (extra.byMe) {
        // I left: the conversation closes (the list no longer has it).
        toast(`You left “${extra.name}”`);
        location.hash = "";
        return;
      }
    }
    if (kind === "chat" && this.panel.isOpen) this.panel.render();
    if (kind === "message" && extra.live && !this.stick) this.unseen += 1;
    if (kind === "message" && extra.mine) this.stick = true;
    if (kind === "history" && (extra.older || extra.newer)) this.dirty.add("older");
    if (kind === "history" && extra.reset) {
      this.rebuilding = true;
      resetKeyed(this.el.messages);
      this.editing = null;
      this.menu.close();
    }
    if (kind === "error" && extra.message) toast(extra.message, { kind: "error" });
    this.dirty.add(kind);
    this._schedule();
  }

  _schedule() {
    if (!this.frame) this.frame = requestAnimationFrame(() => {
      this.frame = 0;
      this.render();
    });
  }

  _showChat(chatId) {
    const previous = this.chatId;
    if (previous && previous !== chatId) this.drafts.set(previous, this.el.input.value);
    if (previous !== chatId) {
      this.editing = null;
      this.jumpTarget = null;
      this.mentions.close();
      this.menu.close();
      this.panel.close();
      this.titleEditor.cancel();
    }
    this.recorder.cancel();
    this.chatId = chatId;
    const chat = this._chat();
    this.el.noChat.hidden = !!chat;
    this.el.view.hidden = !chat;
    document.body.classList.toggle("in-chat", !!chat);
    if (previous !== chatId) {
      this.rebuilding = true;
      resetKeyed(this.el.messages);
      this.stick = true;
      this.unseen = 0;
      this.initialScrollDone = false;
      this.el.input.value = this.drafts.get(chatId) || "";
      this._autosize();
      this._composerState();
    }
    if (chat) {
      this.render();
      if (matchMedia("(min-width: 761px)").matches) this.el.input.focus({ preventScroll: true });
    }
  }

  _chat() {
    return this.chatId && this.client ? this.client.chatById(this.chatId) : null;
  }

  // ---- rendering -----------------------------------------------------------------------

  render() {
    const chat = this._chat();
    this.quiet = this.dirty.has("older") || !this.initialScrollDone;
    this.dirty.clear();
    if (!chat) return;
    this._renderHeader(chat);
    this._renderBanner(chat);
    this._renderTyping(chat);
    this._renderMessages(chat);
    this.rebuilding = false;
    this._renderReplyBar(chat);
    this._renderGone(chat);
  }

  _renderHeader(chat) {
    const me = this.client.me;
    const others = chat.otherHumans;
    const saving = this.savingTitle?.chatId === chat.id ? this.savingTitle : null;
    const title = chatName(chat, me, saving ? saving.title : chat.title);
    if (this.el.title.textContent !== title) this.el.title.textContent = title;
    const gone = !!chat.gone;
    if (gone) this.titleEditor.cancel();
    this.el.rename.hidden = gone || this.titleEditor.editing;
    this.el.membersButton.hidden = gone;
    const key = chat.isGroup ? `g:${chat.id}` : `u:${others[0]}:${chat.presenceDot(others[0])}`;
    if (this.el.avatar.dataset.key !== key) {
      this.el.avatar.dataset.key = key;
      const status = chat.isGroup ? null : chat.presenceDot(others[0]);
      this.el.avatar.replaceChildren(avatar(others[0], { size: 40, group: chat.isGroup ? chat.id : null, status }));
    }
    let subtitle;
    let cls = "";
    const typers = [...chat.typing.keys()].filter((u) => u !== me);
    if (gone) {
      subtitle = chat.participants.filter((u) => u !== me).map((u) => displayName(u, me)).join(", ");
    } else if (chat.connection !== "open" && chat.connection !== "gone") {
      // Presence is unknown while this chat's socket is down: say so rather than show stale news.
      subtitle = "connecting…";
      cls = "connecting";
    } else if (chat.isGroup) {
      if (typers.length) {
        subtitle = typingPhrase(typers, me);
        cls = "typing";
      } else {
        const online = chat.others.filter((u) => u !== BOT && chat.statusOf(u) !== "offline").length;
        const names = ["You", ...chat.others.map((u) => displayName(u, me))].join(", ");
        subtitle = online ? `${names} · ${online} online` : names;
      }
    } else {
      const other = others[0];
      const status = chat.statusOf(other);
      if (status === "typing") {
        subtitle = "typing…";
        cls = "typing";
      } else if (status === "online") {
        subtitle = "online";
        cls = "online";
      } else {
        subtitle = formatLastSeen(chat.lastSeenOf(other));
      }
    }
    this.el.subtitle.textContent = subtitle;
    this.el.subtitle.className = `chat-subtitle ${cls}`;
  }

  _renderBanner(chat) {
    const state = chat.connection;
    const show = !chat.gone && (state === "closed" || state === "gone");
    this.el.banner.hidden = !show;
    if (show) {
      const gone = {
        4401: "The server wants you to sign in again (your token is missing or expired).",
        4403: "You are not a participant of this chat.",
        4404: "This chat no longer exists on the server.",
      };
      this.el.banner.textContent = state === "gone"
        ? gone[chat.closeCode] || "The server closed this chat's live connection."
        : "Connection lost. Reconnecting… new messages will appear when it is back.";
    }
  }

  /** Taken out of the chat while it was open: it stays readable, with why instead of the composer. */
  _renderGone(chat) {
    const gone = !!chat.gone;
    this.el.goneBar.hidden = !gone;
    if (!gone) {
      if (this.el.composer.hidden && !this.recorder.active) this.el.composer.hidden = false;
      return;
    }
    this.el.goneText.textContent = chat.gone;
    if (this.recorder.active) this.recorder.cancel();
    this.el.composer.hidden = true;
    this.el.replyBar.hidden = true;
    this.el.typing.hidden = true;
  }

  /** The title typed in the header: saved, shown at once; an error says why and puts it back. */
  async _saveTitle(text) {
    const chat = this._chat();
    if (!chat || chat.gone) return;
    const { title, error } = cleanTitle(text);
    if (error) {
      toast(error, { kind: "error" });
      return;
    }
    this.savingTitle = { chatId: chat.id, title };
    this._renderHeader(chat);
    try {
      await this.client.renameChat(chat.id, title);
    } catch (err) {
      toast(`Could not rename the chat: ${err.message}`, { kind: "error" });
    } finally {
      if (this.savingTitle?.chatId === chat.id) this.savingTitle = null;
      this.dirty.add("chat");
      this._schedule();
    }
  }

  _renderTyping(chat) {
    const typers = [...chat.typing.keys()].filter((u) => u !== this.client.me);
    const show = typers.length > 0;
    const text = show ? typingPhrase(typers, this.client.me) : "";
    if (this.el.typingText.textContent === text) return;
    const atBottom = this._nearBottom();
    this.el.typingText.textContent = text;
    this.el.typing.hidden = !show;
    if (show && atBottom && this.initialScrollDone) this._scrollToBottom(true);
  }

  _renderMessages(chat) {
    const scroller = this.el.scroller;
    // In a window further back nothing sticks to the bottom: newer pages arrive below.
    const windowed = chat.inWindow;
    const wasNearBottom = !windowed && this._nearBottom();
    // Remember where the first visible message is, to keep it in place if older ones arrive.
    const anchor = wasNearBottom ? null : this._firstVisibleRow();
    const anchorTop = anchor ? anchor.getBoundingClientRect().top : 0;

    const items = buildItems(chat, this.client.me);
    const firstRender = !this.initialScrollDone;
    // Whole pages (a chat opening, older history) are not read out message by message.
    if (this.quiet) this.el.messages.setAttribute("aria-busy", "true");
    const created = reconcile(
      this.el.messages,
      items,
      (item) => item.key,
      (item) => (item.kind === "msg" ? this._messageElement(item) : item.kind === "system" ? systemElement(item) : separatorElement(item)),
      (el, item) => {
        if (item.kind === "msg") this._updateMessage(el, item, chat);
        else if (item.kind === "unread") el.firstChild.textContent = unreadLabel(item.count);
      },
    );
    if (this.quiet) requestAnimationFrame(() => this.el.messages.removeAttribute("aria-busy"));
    if (!firstRender) for (const el of created) if (el.classList.contains("row") || el.classList.contains("sysline")) el.classList.add("appear");

    // History state at the top.
    const status = this.el.history;
    if (!chat.historyLoaded) status.textContent = "Loading messages…";
    else if (chat.loadingOlder) status.textContent = "Loading older messages…";
    else if (!hasOlder(chat)) status.textContent = items.length ? "This is the beginning of the conversation" : "No messages yet. Say hello!";
    else status.textContent = "";
    status.classList.toggle("start", chat.historyLoaded && !hasOlder(chat));
    this.el.newer.hidden = !windowed;
    this.el.newer.textContent = chat.loadingNewer ? "Loading newer messages…" : "";

    // Scrolling: stay at the newest message, or keep the reader's place when older pages arrive.
    if (!chat.historyLoaded) return;
    if (this.jumpTarget && this._showMessage(this.jumpTarget)) {
      this.jumpTarget = null;
      this.initialScrollDone = true;
      this._renderJump();
      return;
    }
    if (firstRender) {
      this.initialScrollDone = true;
      scroller.scrollTop = scroller.scrollHeight;
      // Unread messages taller than the screen: start at the "unread" line, not the bottom.
      const marker = this.el.messages.querySelector(".unread-line");
      const top = scroller.getBoundingClientRect().top;
      if (marker && marker.getBoundingClientRect().top < top) {
        scroller.scrollTop += marker.getBoundingClientRect().top - top - 48; // room for the day pill
      }
      this.stick = this._nearBottom();
    } else if (anchor && anchor.isConnected && (windowed || !this.stick)) {
      const shift = anchor.getBoundingClientRect().top - anchorTop;
      if (shift) scroller.scrollTop += shift;
    } else if (!windowed && (this.stick || wasNearBottom)) {
      this._scrollToBottom(true);
      this.unseen = 0;
    }
    this._renderJump();
    // Not enough history to scroll? Fetch more so the reader can get to it.
    if (scroller.scrollHeight <= scroller.clientHeight + 40) {
      if (hasOlder(chat) && !chat.loadingOlder) this.client.loadOlder(chat);
      if (windowed && !chat.loadingNewer) this.client.loadNewer(chat);
    }
  }

  _firstVisibleRow() {
    const top = this.el.scroller.getBoundingClientRect().top;
    for (const el of this.el.messages.children) {
      if (el.classList.contains("row") && el.getBoundingClientRect().bottom > top) return el;
    }
    return null;
  }

  _renderJump() {
    // In a window further back there is always something newer to go to.
    const windowed = !!this._chat()?.inWindow;
    const show = windowed || (!this._nearBottom() && this.el.scroller.scrollHeight > this.el.scroller.clientHeight);
    this.el.jump.hidden = !show;
    this.el.jumpCount.hidden = !(show && this.unseen > 0);
    this.el.jumpCount.textContent = String(this.unseen);
    this.el.jump.setAttribute("aria-label", this.unseen ? `${this.unseen} new messages, scroll to the newest` : "Scroll to the newest message");
  }

  _nearBottom() {
    const s = this.el.scroller;
    return s.scrollHeight - s.scrollTop - s.clientHeight < NEAR_BOTTOM_PX;
  }

  _scrollToBottom(smooth) {
    const s = this.el.scroller;
    const reduce = matchMedia("(prefers-reduced-motion: reduce)").matches;
    s.scrollTo({ top: s.scrollHeight, behavior: smooth && !reduce ? "smooth" : "auto" });
  }

  _messageElement(item) {
    const m = item.m;
    const mine = m.user_id === this.client.me;
    const row = h("div", { class: `row ${mine ? "out" : "in"}`, dataset: { key: m._key, type: m.type, sender: m.user_id } });
    const bubble = h("div", { class: `bubble bubble-${m.type}` });
    const name = h("div", { class: "sender", "aria-hidden": "true", text: displayName(m.user_id, this.client.me) });
    name.style.setProperty("--hue", String(hueOf(m.user_id)));
    const content = h("div", { class: "content" });
    const time = h("time", { datetime: m.timestamp, title: formatFull(m._time), text: formatTime(m._time) });
    const ticks = h("span", { class: "ticks" });
    const edited = h("span", { class: "edited", hidden: true, text: "edited" });
    const meta = h("span", { class: "meta" }, edited, time, ticks);
    const progress = h("div", { class: "progress", hidden: true }, h("span"));
    const failure = h("div", { class: "failure", hidden: true });
    const quote = h("div", { class: "quote-slot" });
    const reactions = h("div", { class: "reactions", role: "group", "aria-label": "Reactions", hidden: true });
    const more = h("button", {
      type: "button", class: "msg-more", "aria-label": "Message actions", "aria-haspopup": "menu",
      "aria-expanded": "false", title: "Reply, react, more", dataset: { action: "menu" },
    }, icon("more", { size: 18 }));
    const tools = h("div", { class: "msg-tools" }, more);
    bubble.append(h("span", { class: "sr-only sr-sender", text: `${displayName(m.user_id, this.client.me)}: ` }), name, quote, content, progress, meta);
    const avatarSlot = h("div", { class: "row-avatar" });
    row.append(avatarSlot, h("div", { class: "row-body" }, bubble, reactions, failure), tools);
    row._parts = { bubble, name, content, ticks, time, meta, progress, failure, avatarSlot, edited, quote, reactions, more, tools };
    return row;
  }

  _updateMessage(row, item, chat) {
    const m = item.m;
    const p = row._parts;
    const mine = m.user_id === this.client.me;
    row.classList.toggle("first", item.first);
    row.classList.toggle("last", item.last);
    // Names and avatars when more than one other person (the bot counts) can write here.
    const multi = chat.others.length > 1;
    row.classList.toggle("group-chat", multi);

    // Content is built once per distinct body (a pending upload keeps its local preview; my
    // edit shows before the server confirms it; the editor stays while I edit).
    const deleted = !!m.deleted;
    const editing = !deleted && this.editing?.chatId === chat.id && this.editing.id === m.id;
    const src = m._previewUrl || (m.type === "text" ? shownContent(chat, m) : m.content);
    const mentioned = JSON.stringify(m.mentions || []);
    const signature = `${m.type}\u0000${src}\u0000${deleted}\u0000${editing}\u0000${mentioned}`;
    row.classList.toggle("mentions-me", mentionsMe(m, this.client.me));
    if (row._signature !== signature) {
      row._signature = signature;
      row.dataset.type = m.type;
      p.bubble.className = `bubble bubble-${deleted ? "deleted" : m.type}${editing ? " editing" : ""}`;
      if (editing) {
        const editor = editorElement(src, {
          onSave: (text) => this._finishEdit(chat, m.id, text),
          onCancel: () => this._cancelEdit(),
        });
        p.content.replaceChildren(editor.element);
        editor.focus();
        p.bubble.scrollIntoView({ block: "nearest" });
      } else p.content.replaceChildren(...(deleted ? deletedBody() : messageBody(m, src, this.client.me)));
    }
    row.classList.toggle("deleted", deleted);
    row.classList.toggle("saving", !!(m.id && chat.pendingEdits.has(m.id)));
    p.edited.hidden = !m.edited_at || deleted;
    if (m.edited_at) p.edited.title = editedTitle(m);
    p.tools.hidden = !isLive(m) || editing;

    // The quote of the message it answers (held, or to be found further back).
    const original = m.reply_to && !deleted ? this.client.store.replyTarget(chat, m) : null;
    const quoteSig = !m.reply_to || deleted ? "" : original ? `${original.id}\u0000${original.deleted}\u0000${snippet(original)}` : "?";
    if (row._quoteSig !== quoteSig) {
      row._quoteSig = quoteSig;
      p.quote.replaceChildren(...(quoteSig ? [quoteElement(original, this.client.me)] : []));
    }

    // Reactions.
    const reactionSig = deleted ? "" : JSON.stringify(m.reactions || {});
    if (row._reactionSig !== reactionSig) {
      row._reactionSig = reactionSig;
      const chips = reactionButtons(m, this.client.me);
      p.reactions.replaceChildren(...chips);
      p.reactions.hidden = chips.length === 0;
    }
    p.time.textContent = formatTime(m._time);
    p.time.setAttribute("datetime", m.timestamp);
    p.time.title = formatFull(m._time);

    if (!mine && multi && item.last && !p.avatarSlot.firstChild) p.avatarSlot.append(avatar(m.user_id, { size: 28 }));
    if (!(item.last && multi && !mine)) p.avatarSlot.replaceChildren();

    // Delivery state.
    let status = "received";
    if (mine) {
      if (m._local) status = m._status === "failed" ? "failed" : "sending";
      else status = chat.readState(m.seq);
    }
    if (row.dataset.status !== status || (status === "partial")) {
      row.dataset.status = status;
      p.ticks.replaceChildren(...ticksFor(status, chat, m));
    }

    // Upload progress.
    const uploading = m._local && m._file && m._status === "sending" && !m._uploadedUrl;
    p.progress.hidden = !uploading;
    if (uploading) p.progress.firstChild.style.width = `${Math.round((m._progress || 0) * 100)}%`;

    // Failure and retry.
    const failed = status === "failed";
    p.failure.hidden = !failed;
    if (failed && p.failure.dataset.error !== m._error) {
      p.failure.dataset.error = m._error || "";
      const retry = h("button", { type: "button", class: "link-btn", text: "Retry" });
      retry.addEventListener("click", () => this.client.retry(chat.id, m._key));
      const discard = h("button", { type: "button", class: "link-btn muted", text: "Delete" });
      discard.addEventListener("click", () => this.client.discard(chat.id, m._key));
      p.failure.replaceChildren(icon("alert", { size: 14 }), h("span", { text: `Not sent${m._error ? ` — ${m._error}` : ""}` }), retry, discard);
    }
  }

  // ---- composer --------------------------------------------------------------------------

  _wire() {
    const e = this.el;
    e.send.append(icon("send", { size: 20 }));
    e.attach.append(icon("paperclip", { size: 20 }));
    e.record.append(icon("mic", { size: 20 }));
    e.recordCancel.append(icon("trash", { size: 20 }));
    e.recordSend.append(icon("send", { size: 20 }));
    e.back.append(icon("back", { size: 22 }));
    e.jump.prepend(icon("down", { size: 20 }));
    e.replyCancel.append(icon("x", { size: 18 }));
    e.rename.append(icon("edit", { size: 18 }));
    e.membersButton.append(icon("users", { size: 20 }));
    e.searchHere.append(icon("search", { size: 19 }));
    e.searchHere.addEventListener("click", () => this.chatId && this.searchHere(this.chatId));
    const rename = () => {
      const chat = this._chat();
      if (chat && !chat.gone) this.titleEditor.start(chat.title, chatName(chat, this.client.me, null));
    };
    e.rename.addEventListener("click", rename);
    e.title.addEventListener("click", rename);
    e.membersButton.addEventListener("click", () => {
      const chat = this._chat();
      if (chat && !chat.gone) this.panel.open(chat.id);
    });
    e.goneClose.addEventListener("click", () => {
      location.hash = "";
    });
    e.replyCancel.addEventListener("click", () => {
      this._cancelReply();
      e.input.focus();
    });
    this._wireMessages();

    e.back.addEventListener("click", () => {
      location.hash = "";
    });
    e.composer.addEventListener("submit", (ev) => {
      ev.preventDefault();
      this._sendText();
    });
    e.input.addEventListener("keydown", (ev) => {
      if (this.mentions.handleKey(ev)) return;
      if (ev.key === "Enter" && !ev.shiftKey && !ev.isComposing && ev.keyCode !== 229) {
        ev.preventDefault();
        this._sendText();
      } else if (ev.key === "Escape" && this.recorder.active) {
        this.recorder.cancel();
      } else if (ev.key === "Escape" && this.replies.has(this.chatId)) {
        ev.preventDefault();
        this._cancelReply();
      } else if (ev.key === "ArrowUp" && !e.input.value && !ev.shiftKey && !ev.altKey && !ev.ctrlKey && !ev.metaKey) {
        // As in most chat apps: up in an empty box edits my last message.
        const chat = this._chat();
        const mine = chat && [...chat.shown].reverse().find((m) => canEdit(m, this.client.me));
        if (mine) {
          ev.preventDefault();
          this._startEdit(chat, mine);
        }
      }
    });
    e.input.addEventListener("input", () => {
      this._autosize();
      this._composerState();
      this.mentions.update();
      if (this.chatId && e.input.value.trim()) this.client.userTyping(this.chatId);
    });
    // The caret moved without typing: the `@` it is after (if any) is another one.
    e.input.addEventListener("click", () => this.mentions.update());
    e.input.addEventListener("keyup", (ev) => {
      if (["ArrowLeft", "ArrowRight", "Home", "End"].includes(ev.key)) this.mentions.update();
    });
    e.input.addEventListener("paste", (ev) => {
      const files = [...(ev.clipboardData?.files || [])];
      if (files.length) {
        ev.preventDefault();
        this._sendFiles(files);
      }
    });
    e.attach.addEventListener("click", () => e.fileInput.click());
    e.fileInput.addEventListener("change", () => {
      this._sendFiles([...e.fileInput.files]);
      e.fileInput.value = "";
    });
    e.record.addEventListener("click", () => this.recorder.start());
    e.recordCancel.addEventListener("click", () => this.recorder.cancel());
    e.recordSend.addEventListener("click", () => this.recorder.finish());
    e.recorder.addEventListener("keydown", (ev) => ev.key === "Escape" && this.recorder.cancel());

    e.scroller.addEventListener("scroll", () => {
      this.menu.reposition();
      // Emptied for a rebuild (another chat, a window), the list is at the top for a moment:
      // that is no reader scrolling up (nor down to a window's end), so nothing loads.
      if (this.rebuilding) return;
      this.stick = this._nearBottom();
      if (this.stick) this.unseen = 0;
      this._renderJump();
      const chat = this._chat();
      if (chat?.inWindow) {
        this.stick = false;
        const below = e.scroller.scrollHeight - e.scroller.scrollTop - e.scroller.clientHeight;
        if (below < LOAD_NEWER_PX) this.client.loadNewer(chat);
      }
      if (chat && e.scroller.scrollTop < LOAD_OLDER_PX) this.client.loadOlder(chat);
    }, { passive: true });
    // Images change height when they load: stay at the bottom if we were there.
    e.messages.addEventListener("load", () => this.stick && this._scrollToBottom(false), true);
    e.jump.addEventListener("click", () => {
      this.unseen = 0;
      this.stick = true;
      const chat = this._chat();
      if (chat?.inWindow) {
        // From a window further back: the live end, at its newest message, at once.
        this.initialScrollDone = false;
        this.client.showLatest(chat);
        return;
      }
      this._scrollToBottom(true);
      this._renderJump();
    });

    // Drag and drop anywhere on the conversation.
    let depth = 0;
    const hasFiles = (ev) => [...(ev.dataTransfer?.types || [])].includes("Files");
    e.view.addEventListener("dragenter", (ev) => {
      if (!hasFiles(ev)) return;
      ev.preventDefault();
      depth += 1;
      e.dropZone.hidden = false;
    });
    e.view.addEventListener("dragover", (ev) => {
      if (!hasFiles(ev)) return;
      ev.preventDefault();
      ev.dataTransfer.dropEffect = "copy";
    });
    e.view.addEventListener("dragleave", () => {
      depth = Math.max(0, depth - 1);
      if (!depth) e.dropZone.hidden = true;
    });
    e.view.addEventListener("drop", (ev) => {
      if (!hasFiles(ev)) return;
      ev.preventDefault();
      depth = 0;
      e.dropZone.hidden = true;
      this._sendFiles([...ev.dataTransfer.files]);
    });
  }

  _sendText() {
    const text = this.el.input.value;
    if (!this.chatId || !text.trim()) return;
    this.stick = true;
    this.client.sendText(this.chatId, text.replace(/\s+$/, ""), { replyTo: this._takeReply() });
    this.el.input.value = "";
    this.drafts.delete(this.chatId);
    this._autosize();
    this._composerState();
    this.el.input.focus();
  }

  _sendFiles(files) {
    if (!this.chatId) return;
    this.stick = true;
    const replyTo = files.length ? this._takeReply() : null;
    for (const file of files) {
      try {
        this.client.sendFile(this.chatId, file, { replyTo });
      } catch (err) {
        toast(err.message, { kind: "error" });
      }
    }
  }

  _autosize() {
    const input = this.el.input;
    input.style.height = "auto";
    input.style.height = `${Math.min(input.scrollHeight, 168)}px`;
  }

  _composerState() {
    this.el.composer.classList.toggle("has-text", this.el.input.value.trim().length > 0);
  }

  _recordingUi(on) {
    this.el.recorder.hidden = !on;
    this.el.composer.hidden = on || !!this._chat()?.gone;
    if (on) this.el.recordSend.focus();
    else this.el.input.focus();
  }

  // ---- what can be done to a message -------------------------------------------------------

  _wireMessages() {
    const e = this.el;
    // One listener for every message's buttons: the row says which message.
    e.messages.addEventListener("click", (ev) => {
      const button = ev.target.closest("[data-action]");
      const row = button?.closest(".row");
      const chat = this._chat();
      const m = row && chat?.messages.get(row.dataset.key);
      if (!m) return;
      switch (button.dataset.action) {
        case "menu":
          // A press on the "⋯" of the message whose menu is open closes it (and nothing more).
          if (ev.detail !== 0 && this.menu.dismissedKey === m._key) this.menu.dismissedKey = null;
          else this._openMenu(row, button);
          break;
        case "quote":
          this._jumpTo(chat, m.reply_to);
          break;
        case "react":
          this.client.toggleReaction(chat.id, m.id, button.dataset.emoji);
          break;
        default:
          break;
      }
    });
    onLongPress(e.messages, ".bubble", (bubble) => {
      const row = bubble.closest(".row");
      if (row && !this.editing) this._openMenu(row, null);
    });
    window.addEventListener("resize", () => this.menu.reposition());
    e.deleteDialog.addEventListener("close", () => {
      const target = this.pendingDelete;
      this.pendingDelete = null;
      if (target && e.deleteDialog.returnValue === "delete") this.client.deleteMessage(target.chatId, target.id);
      e.input.focus({ preventScroll: true });
    });
  }

  _openMenu(row, trigger) {
    const chat = this._chat();
    const m = chat?.messages.get(row.dataset.key);
    if (!isLive(m)) return;
    const me = this.client.me;
    const actions = [{ id: "reply", label: "Reply", icon: "reply" }];
    if (m.type === "text") actions.push({ id: "copy", label: "Copy text", icon: "copy" });
    if (canEdit(m, me)) actions.push({ id: "edit", label: "Edit", icon: "edit" });
    if (canDelete(m, me)) actions.push({ id: "delete", label: "Delete", icon: "trash", danger: true });
    const more = row._parts.more;
    row.classList.add("menu-open");
    more.setAttribute("aria-expanded", "true");
    this.menu.open({
      key: m._key,
      anchor: row._parts.bubble,
      side: m.user_id === me ? "out" : "in",
      reactions: REACTIONS.map((emoji) => ({ emoji, pressed: hasReacted(m, emoji, me) })),
      actions,
      returnFocus: trigger, // a long press leaves the focus where it was
      onPick: (action, emoji) => this._onMenuPick(chat, m.id, action, emoji),
      onClose: () => {
        row.classList.remove("menu-open");
        more.setAttribute("aria-expanded", "false");
      },
    });
  }

  _onMenuPick(chat, id, action, emoji) {
    const m = this.client.store.messageById(chat, id);
    if (!isLive(m)) return;
    switch (action) {
      case "react":
        this.client.toggleReaction(chat.id, id, emoji);
        break;
      case "reply":
        this.replies.set(chat.id, id);
        this._renderReplyBar(chat);
        this.el.input.focus();
        break;
      case "edit":
        this._startEdit(chat, m);
        break;
      case "copy":
        copyText(shownContent(chat, m)).then(
          () => toast("Copied"),
          () => toast("Could not copy the text", { kind: "error" }),
        );
        break;
      case "delete":
        this.pendingDelete = { chatId: chat.id, id };
        this.el.deletePreview.textContent = snippet(m, 200);
        this.el.deleteDialog.returnValue = "";
        this.el.deleteDialog.showModal();
        break;
      default:
        break;
    }
  }

  _startEdit(chat, m) {
    if (!canEdit(m, this.client.me)) return;
    this.menu.close();
    this.editing = { chatId: chat.id, id: m.id };
    this.dirty.add("edit");
    this._schedule();
  }

  _finishEdit(chat, id, text) {
    this.editing = null;
    const content = text.replace(/\s+$/, "");
    // Saving it empty would delete it; that is what Delete is for. Unchanged: nothing to send.
    if (content.trim()) this.client.editMessage(chat.id, id, content);
    this.dirty.add("edit");
    this._schedule();
    this.el.input.focus({ preventScroll: true });
  }

  _cancelEdit() {
    this.editing = null;
    this.dirty.add("edit");
    this._schedule();
    this.el.input.focus({ preventScroll: true });
  }

  /** The reply being written in this chat, taken for the message being sent. */
  _takeReply() {
    const id = this.replies.get(this.chatId) || null;
    this.replies.delete(this.chatId);
    this._renderReplyBar(this._chat());
    return id;
  }

  _cancelReply() {
    this.replies.delete(this.chatId);
    this._renderReplyBar(this._chat());
  }

  _renderReplyBar(chat) {
    const id = chat && this.replies.get(chat.id);
    const original = id ? this.client.store.messageById(chat, id) : null;
    if (id && !original) this.replies.delete(chat.id); // gone with a resync
    const bar = this.el.replyBar;
    bar.hidden = !original;
    const signature = original ? `${original.id}\u0000${snippet(original)}` : "";
    if (bar._signature === signature) return;
    bar._signature = signature;
    this.el.replyQuote.replaceChildren(...(original ? replyPreview(original, this.client.me) : []));
  }

  /**
   * Show a message of the open chat (a search result: `{id, seq}`) scrolled into the middle and
   * highlighted, with the history around it loaded however far back it is.
   */
  async reveal(chatId, message) {
    const chat = this.client?.chats.get(chatId);
    if (!chat || this.chatId !== chatId) return;
    const found = await this.client.reveal(chat, message);
    if (this.chatId !== chatId) return;
    if (!found) {
      toast("That message is no longer in this chat.", { kind: "error" });
      return;
    }
    this.stick = false;
    this.jumpTarget = found._key;
    this.dirty.add("jump");
    this._schedule();
  }

  /** Bring a reply's original into view, loading older pages until it is there. */
  async _jumpTo(chat, id) {
    if (!id) return;
    const found = await this.client.findMessage(chat, id);
    if (this.chatId !== chat.id) return;
    if (!found) {
      toast("The original message could not be found.", { kind: "error" });
      return;
    }
    this.jumpTarget = found._key;
    this.dirty.add("jump");
    this._schedule();
  }

  /** Scroll a message to the middle, highlight it and give it the focus; false if not rendered. */
  _showMessage(key) {
    const row = this.el.messages.querySelector(`[data-key="${CSS.escape(key)}"]`);
    if (!row) return false;
    // At once, not smoothly: older pages that arrive meanwhile keep the first visible row in place.
    row.scrollIntoView({ block: "center", behavior: "auto" });
    this.stick = !this._chat()?.inWindow && this._nearBottom();
    row.classList.remove("flash");
    void row.offsetWidth; // restart the highlight if it is still running
    row.classList.add("flash");
    setTimeout(() => row.classList.remove("flash"), 2000);
    const target = row._parts?.bubble || row; // a bubble, or a system line
    target.setAttribute("tabindex", "-1");
    target.focus({ preventScroll: true });
    return true;
  }
}

// ---- pure helpers ------------------------------------------------------------------------

/**
 * Put text on the clipboard. The Clipboard API needs a secure context; a phone on the LAN
 * opening http://192.168.x.y:8000/ has none (and cannot select a bubble's text either, the long
 * press being the menu), so it falls back to the older copy command on a hidden textarea.
 */
async function copyText(text) {
  if (navigator.clipboard && window.isSecureContext) return navigator.clipboard.writeText(text);
  const area = h("textarea", { class: "sr-only", readonly: true, "aria-hidden": "true" });
  area.value = text;
  const back = document.activeElement;
  document.body.append(area);
  area.select();
  const copied = document.execCommand("copy");
  area.remove();
  back?.focus?.({ preventScroll: true });
  if (!copied) throw new Error("copy refused");
  return undefined;
}

function buildItems(chat, me) {
  const items = [];
  let prev = null;
  let prevItem = null;
  let prevDay = null;
  for (const m of chat.shown) {
    const day = dayKey(m._time);
    if (day !== prevDay) {
      items.push({ kind: "day", key: `day:${day}`, date: m._time });
      prevDay = day;
      prev = null;
    }
    const continues = prev && prev.user_id === m.user_id && m._time - prev._time < GROUP_GAP_MS;
    if (prevItem && !continues) prevItem.last = true;
    if (chat.unreadMarker && m.seq === chat.unreadMarker.seq) {
      items.push({ kind: "unread", key: "unread", count: chat.unreadMarker.count });
      if (prevItem) prevItem.last = true;
      prev = null;
    }
    if (m.system) {
      // A change to the chat: a line of its own, between groups of bubbles.
      items.push({ kind: "system", key: m._key, m, text: systemText(m, me) });
      prev = null;
      continue;
    }
    const item = { kind: "msg", key: m._key, m, first: !(continues && prev), last: false, me };
    items.push(item);
    prev = m;
    prevItem = item;
  }
  if (prevItem) prevItem.last = true;
  // A separator closes the previous group too.
  for (let i = 1; i < items.length; i += 1) if (items[i].kind !== "msg" && items[i - 1].kind === "msg") items[i - 1].last = true;
  return items;
}

function separatorElement(item) {
  if (item.kind === "unread") {
    return h("div", { class: "unread-line", role: "separator" }, h("span", { text: unreadLabel(item.count) }));
  }
  return h("div", { class: "day", role: "separator" }, h("span", { text: formatDay(item.date) }));
}

/** "alice added carol", centred between the bubbles, with its time. */
function systemElement(item) {
  const m = item.m;
  return h("div", { class: "sysline", dataset: { key: m._key, action: m.system.action || "" } },
    h("span", { class: "sysline-text" }, h("span", { text: item.text }),
      h("time", { datetime: m.timestamp, title: formatFull(m._time), text: formatTime(m._time) })));
}

function unreadLabel(count) {
  return `${count} unread message${count === 1 ? "" : "s"}`;
}

function messageBody(m, src, me) {
  if (m.type === "image") return [imageBody(src, { alt: `Image from ${m.user_id}` })];
  if (m.type === "audio") return [audioBody(src, { label: "Audio message" })];
  return [h("p", { class: "text" }, textNodes(String(src ?? ""), m, me))]; // src: the text (my pending edit, or its content)
}

/** A text with its links clickable and the `@` that mentioned someone marked (me: strongly). */
function textNodes(text, m, me) {
  const spans = shownMentions(text, m, me, linkSpans(text).map((link) => [link.start, link.end]));
  if (!spans.length) return linkify(text);
  const nodes = [];
  let at = 0;
  for (const span of spans) {
    if (span.start > at) nodes.push(...linkify(text.slice(at, span.start)));
    nodes.push(h("span", { class: `mention${span.me ? " mention-me" : ""}`, text: text.slice(span.start, span.end) }));
    at = span.end;
  }
  if (at < text.length) nodes.push(...linkify(text.slice(at)));
  return nodes;
}

function ticksFor(status, chat, m) {
  switch (status) {
    case "sending":
      return [icon("clock", { size: 14, label: "Sending" })];
    case "failed":
      return [icon("alert", { size: 14, label: "Not sent" })];
    case "sent":
      return [icon("check", { size: 16, label: "Sent" })];
    case "partial":
      return [icon("checks", { size: 16, label: `Read by ${chat.readersOf(m.seq).join(", ")}` })];
    case "read":
      return [icon("checks", { size: 16, label: "Read" })];
    default:
      return [];
  }
}

function typingPhrase(users, me) {
  const names = users.map((u) => displayName(u, me));
  if (names.length === 1) return `${names[0]} is typing`;
  if (names.length === 2) return `${names[0]} and ${names[1]} are typing`;
  return `${names.length} people are typing`;
}
