// The members panel of the open chat (a dialog): who is in it and who is its admin; add people
// (a group; a one-to-one chat offers to start a group instead), remove someone (the admin), and
// leave the chat, after a confirmation. It follows the chat live: a change made by anyone
// re-renders it. DOM only: who may do what is members.js's, the changes the client's.
import { $, h, icon } from "./dom.js";
import { avatar } from "./avatar.js";
import { BOT } from "./format.js";
import { canAddPeople, chatName, humansOf, memberList, parseNames } from "./members.js";

export class MembersPanel {
  /** @param {{startGroup: (people: string[]) => void}} o */
  constructor({ startGroup }) {
    this.client = null;
    this.chatId = null;
    this.startGroup = startGroup;
    this.busy = false;
    this.el = {
      dialog: $("#members-dialog"), close: $("#members-close"), summary: $("#members-summary"),
      list: $("#members-list"), add: $("#members-add"), addInput: $("#members-add-input"),
      addSubmit: $("#members-add-submit"), suggest: $("#members-suggest"), direct: $("#members-direct"),
      startGroup: $("#members-start-group"), error: $("#members-error"), leave: $("#members-leave"),
      leaveDialog: $("#leave-dialog"), leaveTitle: $("#leave-title"),
    };
    this._wire();
  }

  get isOpen() {
    return this.el.dialog.open;
  }

  setClient(client) {
    this.client = client;
    this.close();
  }

  open(chatId) {
    this.chatId = chatId;
    this._error("");
    this.el.addInput.value = "";
    this.render();
    this.el.dialog.showModal();
    if (!this.el.add.hidden) this.el.addInput.focus();
  }

  close() {
    if (this.el.leaveDialog.open) this.el.leaveDialog.close("cancel");
    if (this.el.dialog.open) this.el.dialog.close();
    this.chatId = null;
  }

  _chat() {
    return this.client?.chats.get(this.chatId) || null;
  }

  render() {
    if (!this.isOpen && !this.chatId) return;
    const chat = this._chat();
    if (!chat) {
      this.close(); // I am no longer in it
      return;
    }
    const me = this.client.me;
    const e = this.el;
    const people = humansOf(chat).length;
    const admin = chat.admin ? (chat.admin === me ? "You are" : `${chat.admin} is`) : null;
    const kind = chat.kind === "direct" ? "One-to-one chat" : `${people} ${people === 1 ? "person" : "people"}`;
    e.summary.textContent = [chatName(chat, me), kind, chat.kind === "group" && admin ? `${admin} the admin` : null]
      .filter(Boolean).join(" · ");
    e.list.replaceChildren(...memberList(chat, me).map((m) => this._memberItem(chat, m)));

    const addable = canAddPeople(chat);
    e.add.hidden = !addable;
    const suggestions = addable ? this.client.contacts.filter((u) => !chat.participants.includes(u)) : [];
    e.suggest.hidden = suggestions.length === 0;
    e.suggest.replaceChildren(...suggestions.map((user) =>
      h("button", { type: "button", class: "chip chip-person chip-add", "aria-label": `Add ${user}`, dataset: { add: user } },
        avatar(user, { size: 22 }), h("span", { text: user }), icon("plus", { size: 14 }))));

    const other = chat.participants.find((u) => u !== me && u !== BOT);
    e.direct.hidden = chat.kind !== "direct";
    e.startGroup.textContent = other ? `Start a group with ${other}` : "Start a group";
    e.startGroup.dataset.with = other || "";
    for (const button of [e.addSubmit, e.leave, ...e.list.querySelectorAll("button")]) button.disabled = this.busy;
  }

  _memberItem(chat, m) {
    const badges = [];
    if (m.admin) badges.push(h("span", { class: "member-badge", text: "Admin" }));
    if (m.bot) badges.push(h("span", { class: "member-badge muted", text: "Answers every chat" }));
    const remove = m.removable
      ? h("button", {
        type: "button", class: "btn btn-small", text: "Remove", dataset: { remove: m.user },
        "aria-label": `Remove ${m.user} from the chat`,
      })
      : null;
    return h("li", { class: "member", dataset: { user: m.user } },
      avatar(m.user, { size: 36 }),
      h("span", { class: "member-name", text: m.me ? `${m.name} (${m.user})` : m.name }),
      ...badges, remove);
  }

  _error(text) {
    this.el.error.textContent = text;
    this.el.error.hidden = !text;
  }

  /** One change at a time; its error shows in the panel. */
  async _run(change) {
    if (this.busy) return false;
    this.busy = true;
    this._error("");
    this.render();
    try {
      await change();
      return true;
    } catch (err) {
      if (this.isOpen) this._error(err.message);
      return false;
    } finally {
      this.busy = false;
      if (this.isOpen) this.render();
    }
  }

  async _add(names) {
    const chat = this._chat();
    if (!chat) return;
    const people = parseNames(names, this.client.me, chat.participants);
    if (!people.length) {
      this._error(names.trim() ? "They are in the chat already." : "Type the name of someone to add.");
      this.el.addInput.focus();
      return;
    }
    if (await this._run(() => this.client.addPeople(chat.id, people))) {
      this.el.addInput.value = "";
      this.el.addInput.focus();
    }
  }

  _wire() {
    const e = this.el;
    e.close.append(icon("x", { size: 20 }));
    e.close.addEventListener("click", () => this.close());
    e.dialog.addEventListener("close", () => {
      this.chatId = null;
    });
    e.add.addEventListener("submit", (ev) => {
      ev.preventDefault();
      this._add(e.addInput.value);
    });
    e.suggest.addEventListener("click", (ev) => {
      const user = ev.target.closest("[data-add]")?.dataset.add;
      if (user) this._add(user);
    });
    e.list.addEventListener("click", (ev) => {
      const user = ev.target.closest("[data-remove]")?.dataset.remove;
      const chat = this._chat();
      if (user && chat) this._run(() => this.client.removeMember(chat.id, user));
    });
    e.startGroup.addEventListener("click", () => {
      const other = e.startGroup.dataset.with;
      this.close();
      this.startGroup(other ? [other] : []);
    });
    e.leave.addEventListener("click", () => {
      const chat = this._chat();
      if (!chat) return;
      e.leaveTitle.textContent = `Leave “${chatName(chat, this.client.me)}”?`;
      e.leaveDialog.returnValue = "";
      e.leaveDialog.showModal();
    });
    e.leaveDialog.addEventListener("close", () => {
      const chat = this._chat();
      if (chat && e.leaveDialog.returnValue === "leave") this._run(() => this.client.leaveChat(chat.id));
    });
  }
}

