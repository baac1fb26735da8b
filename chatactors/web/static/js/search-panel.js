// The search box at the top of the chat list: it filters the list by chat (as before) and finds
// messages (`GET /search`) as you type, shown under the chats that match, grouped by chat, the
// matched words marked; "More results" pages on. Filters: in the open chat, from someone, of a
// type. Choosing a result opens its chat at that message. Ctrl/Cmd+K or "/" (app.js) focus it.
// The rules (what to ask, grouping, marks) are search.js's and highlight.js's; this is the DOM.
import { $, h, icon, reconcile } from "./dom.js";
import { avatar } from "./avatar.js";
import { BOT, displayName, formatFull, formatListTime, parseTime } from "./format.js";
import { snippetRuns } from "./highlight.js";
import { chatName } from "./members.js";
import { groupHits, liveQuery, typedQuery } from "./search.js";

/** How long typing pauses before the search goes out. */
const TYPING_PAUSE_MS = 250;

const TYPES = [["", "Any type"], ["text", "Text"], ["image", "Images"], ["audio", "Audio"]];

export class SearchPanel {
  /**
   * @param {{onTerm: (text: string) => void, onOpen: (hit: object) => void}} o  `onTerm`: the
   *   text typed (the chat list filters by it); `onOpen`: a result chosen ({chat_id, message})
   */
  constructor({ onTerm, onOpen }) {
    this.client = null;
    this.onTerm = onTerm;
    this.onOpen = onOpen;
    this.activeChatId = null;
    this.el = {
      input: $("#chat-search"), cancel: $("#search-cancel"), filters: $("#search-filters"), here: $("#search-here"),
      hereLabel: $("#search-here-label"), from: $("#search-from"), type: $("#search-type"),
      section: $("#search-results"), status: $("#search-status"), groups: $("#search-groups"), more: $("#search-more"),
      chatsHeading: $("#chats-heading"), wrap: $("#chat-list-wrap"),
    };
    this.timer = 0;
    this.generation = 0;
    this.reset();
    this._wire();
  }

  setClient(client) {
    this.client = client;
    this.activeChatId = null;
    this.el.input.value = "";
    this.el.here.checked = false;
    this.el.from.value = "";
    this.el.type.value = "";
    this.reset();
    this.onTerm("");
    this.render();
  }

  reset() {
    clearTimeout(this.timer);
    this.generation += 1; // an answer on its way is for an older query: dropped
    this.q = null; // the query of the results shown
    this.groups = [];
    this.cursor = null;
    this.loading = false;
    this.error = null;
    this.answered = false;
  }

  get text() {
    return this.el.input.value;
  }

  /** The open chat ("In this chat" searches it). */
  setActiveChat(chatId) {
    if (this.activeChatId === chatId) return;
    this.activeChatId = chatId;
    if (this.el.here.checked && this.text.trim()) this.searchNow();
    this.render();
  }

  /** Put the focus in the box (Ctrl/Cmd+K, "/", the header's search button). */
  focus({ here = false } = {}) {
    if (here && this.activeChatId && !this.el.here.checked) {
      this.el.here.checked = true;
      if (this.text.trim()) this.searchNow();
    }
    document.body.classList.add("searching");
    this.render();
    this.el.input.focus();
    this.el.input.select();
  }

  /** Leave the search: empty box, no results (Escape in an empty box, Cancel, a result opened). */
  close() {
    document.body.classList.remove("searching");
  }

  _wire() {
    const e = this.el;
    e.more.prepend(icon("down", { size: 16 }));
    e.input.addEventListener("input", () => {
      this.onTerm(this.text);
      clearTimeout(this.timer);
      if (!this.text.trim()) {
        this.reset();
        this.render();
        return;
      }
      this.timer = setTimeout(() => this.search(liveQuery(this.text)), TYPING_PAUSE_MS);
    });
    e.input.addEventListener("keydown", (ev) => {
      if (ev.key === "Enter" && !ev.isComposing) {
        ev.preventDefault();
        this.searchNow();
      } else if (ev.key === "ArrowDown") {
        ev.preventDefault();
        this._items()[0]?.focus();
      } else if (ev.key === "Escape") {
        ev.preventDefault();
        if (this.text) this._clear();
        else {
          this.close();
          e.input.blur();
          $("#message-input")?.focus({ preventScroll: true });
        }
      }
    });
    e.cancel.addEventListener("click", () => {
      this._clear();
      this.close();
    });
    e.here.addEventListener("change", () => this._filtersChanged());
    e.from.addEventListener("change", () => this._filtersChanged());
    e.type.addEventListener("change", () => this._filtersChanged());
    e.more.addEventListener("click", () => this.search(this.q, { more: true }));
    e.groups.addEventListener("click", (ev) => {
      const button = ev.target.closest(".hit");
      const hit = button && this._hit(button.dataset.chatId, button.dataset.messageId);
      if (hit) this.onOpen(hit);
    });
    // Arrows move through the chats and results; Escape goes back to the box.
    e.wrap.addEventListener("keydown", (ev) => {
      if (!["ArrowDown", "ArrowUp", "Escape"].includes(ev.key) || !this.text.trim()) return;
      const items = this._items();
      const at = items.indexOf(document.activeElement);
      if (at === -1) return;
      ev.preventDefault();
      if (ev.key === "Escape") e.input.focus();
      else if (ev.key === "ArrowDown") items[Math.min(at + 1, items.length - 1)].focus();
      else if (at === 0) e.input.focus();
      else items[at - 1].focus();
    });
  }

  _items() {
    return [...this.el.wrap.querySelectorAll(".chat-item, .hit, #search-more:not([hidden])")];
  }

  _clear() {
    this.el.input.value = "";
    this.onTerm("");
    this.reset();
    this.render();
  }

  _filtersChanged() {
    if (this.text.trim()) this.searchNow();
    else this.render();
  }

  /** Search now (Enter, a filter changed): as while typing, or a single letter as a word. */
  searchNow() {
    clearTimeout(this.timer);
    this.search(liveQuery(this.text) ?? typedQuery(this.text));
  }

  /** `more`: the next page of the results shown. */
  async search(q, { more = false } = {}) {
    if (!this.client) return;
    if (!q) {
      this.reset();
      this.render();
      return;
    }
    if (more && (!this.cursor || this.loading)) return;
    if (!more) this.reset();
    const generation = (this.generation += 1);
    this.q = q;
    this.loading = true;
    this.error = null;
    this.render();
    const chatId = this.el.here.checked ? this.activeChatId : null;
    try {
      const res = await this.client.search({
        q, chatId, from: this.el.from.value || null, type: this.el.type.value || null, cursor: more ? this.cursor : null,
      });
      if (generation !== this.generation) return;
      this.groups = groupHits(more ? this.groups : [], res?.results);
      this.cursor = res?.next_cursor || null;
      this.answered = true;
      // A result in a chat the list does not have yet (added a moment ago): list it.
      if (this.groups.some((g) => !this.client.chats.has(g.chatId))) this.client.refreshSoon();
    } catch (err) {
      if (generation !== this.generation) return;
      this.error = err.status === 422 ? err.message : `Search failed: ${err.message}`;
    } finally {
      if (generation === this.generation) {
        this.loading = false;
        this.render();
      }
    }
  }

  _hit(chatId, messageId) {
    return this.groups.find((g) => g.chatId === chatId)?.hits.find((hit) => hit.message.id === messageId) || null;
  }

  // ---- rendering -----------------------------------------------------------------------------

  render() {
    const e = this.el;
    const searching = !!this.text.trim();
    e.chatsHeading.hidden = !searching;
    e.filters.hidden = !searching;
    e.section.hidden = !searching;
    if (!this.client) return;
    this._renderFilters();
    if (!searching) {
      reconcile(e.groups, [], (g) => g.chatId, () => null);
      return;
    }
    let status = "";
    if (this.loading && !this.groups.length) status = "Searching…";
    else if (this.error) status = this.error;
    else if (!this.q) status = "Type a little more to search messages.";
    else if (this.answered && !this.groups.length) status = `No messages with “${this.q.replace(/\*$/, "")}”`;
    e.status.textContent = status;
    e.status.classList.toggle("error", !!this.error);
    reconcile(e.groups, this.groups, (g) => g.chatId, (g) => this._groupElement(g), (el, g) => this._updateGroup(el, g));
    e.more.hidden = !this.cursor;
    e.more.disabled = this.loading;
    e.more.lastChild.textContent = this.loading && this.groups.length ? "Loading…" : "More results";
  }

  /** The chat names shown may have changed (a title, the list read again). */
  refresh() {
    if (this.groups.length || this.text.trim()) this.render();
  }

  _renderFilters() {
    const e = this.el;
    const chat = this.activeChatId ? this.client.chatById(this.activeChatId) : null;
    e.here.disabled = !chat;
    e.here.parentElement.hidden = !chat;
    if (!chat) e.here.checked = false;
    const name = chat ? `In “${chatName(chat, this.client.me)}”` : "In this chat";
    if (e.hereLabel.textContent !== name) e.hereLabel.textContent = name;
    // From: me, and the people of the chat searched (or everyone I chat with).
    const me = this.client.me;
    const people = e.here.checked && chat ? chat.participants.filter((u) => u !== me) : [...this.client.contacts, BOT];
    const options = [["", "From anyone"], [me, "From me"], ...people.map((u) => [u, `From ${displayName(u, me)}`])];
    const signature = JSON.stringify(options);
    if (e.from._signature !== signature) {
      const value = e.from.value;
      e.from._signature = signature;
      e.from.replaceChildren(...options.map(([v, label]) => h("option", { value: v, text: label })));
      e.from.value = options.some(([v]) => v === value) ? value : "";
    }
    if (!e.type.options.length) e.type.replaceChildren(...TYPES.map(([v, label]) => h("option", { value: v, text: label })));
  }

  _groupElement(group) {
    const list = h("ul", { class: "hit-list" });
    const title = h("h4", { class: "hit-chat" });
    const li = h("li", { class: "hit-group" }, title, list);
    li._parts = { title, list };
    return li;
  }

  _updateGroup(li, group) {
    const chat = this.client.chatById(group.chatId);
    const name = chat ? chatName(chat, this.client.me) : "A chat";
    const titleSig = `${name}\u0000${chat?.isGroup}`;
    if (li._titleSig !== titleSig) {
      li._titleSig = titleSig;
      const face = chat?.isGroup ? avatar(null, { size: 22, group: chat.id }) : avatar(chat?.otherHumans[0] || BOT, { size: 22 });
      li._parts.title.replaceChildren(face, h("span", { class: "hit-chat-name", text: name }));
      li.setAttribute("aria-label", `In ${name}`);
    }
    reconcile(li._parts.list, group.hits, (hit) => hit.message.id, (hit) => this._hitElement(hit, group.chatId));
  }

  _hitElement(hit, chatId) {
    const m = hit.message;
    const me = this.client.me;
    const time = parseTime(m.timestamp);
    const text = h("span", { class: "hit-text" });
    if (m.type === "image" || m.type === "audio") {
      text.append(icon(m.type, { size: 14 }), h("span", { class: "hit-kind", text: m.type === "image" ? "Photo · " : "Audio · " }));
    }
    for (const run of snippetRuns(m.content, hit.highlights)) text.append(run.mark ? h("mark", { text: run.text }) : run.text);
    const button = h("button", { type: "button", class: "hit", dataset: { chatId, messageId: m.id } },
      h("span", { class: "hit-top" },
        h("span", { class: "hit-who", text: displayName(m.user_id, me) }),
        time ? h("time", { class: "hit-time", datetime: time.toISOString(), title: formatFull(time), text: formatListTime(time) }) : null),
      text);
    return h("li", {}, button);
  }
}
