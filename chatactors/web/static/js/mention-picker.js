// The composer's `@` suggestions: typing `@` (and the start of a name) lists the chat's
// participants that match, and `@all` in a group; arrows move, Enter or Tab (or a click) puts the
// mention in as the server reads it, Escape closes the list. The rules are mentions.js's; this is
// the listbox (aria-activedescendant on the message box, so the focus stays in it).
import { h } from "./dom.js";
import { avatar } from "./avatar.js";
import { BOT } from "./format.js";
import { insertMention, mentionQuery, suggestMentions } from "./mentions.js";

export class MentionPicker {
  /**
   * @param {{input: HTMLTextAreaElement, list: HTMLElement, candidates: () => {people: object[],
   *   participants: string[]} | null, onInsert: () => void}} o  `candidates`: who the open chat
   *   may mention (mentions.js, mentionCandidates) and its participants; `onInsert`: the text changed
   */
  constructor({ input, list, candidates, onInsert }) {
    this.input = input;
    this.list = list;
    this.candidates = candidates;
    this.onInsert = onInsert;
    this.query = null; // {start, end, query, bracketed} while the list is open
    this.items = [];
    this.active = 0;
    this.dismissedAt = null; // the `@` whose list Escape closed: not reopened until another one
    input.setAttribute("aria-autocomplete", "list");
    input.setAttribute("aria-controls", list.id);
    input.setAttribute("aria-expanded", "false");
    list.addEventListener("mousedown", (ev) => ev.preventDefault()); // keep the focus in the box
    list.addEventListener("click", (ev) => {
      const option = ev.target.closest("[data-index]");
      if (option) this.pick(Number(option.dataset.index));
    });
    input.addEventListener("blur", () => this.close());
  }

  get isOpen() {
    return this.query !== null;
  }

  /** Look at the text before the caret again (after a key, a click, any input). */
  update() {
    const input = this.input;
    const source = this.candidates();
    const caret = input.selectionStart === input.selectionEnd ? input.selectionStart : -1;
    const query = source && caret > 0 ? mentionQuery(input.value, caret) : null;
    if (!query || query.start === this.dismissedAt) {
      if (!query) this.dismissedAt = null;
      this.close();
      return;
    }
    const items = suggestMentions(query.query, source.people);
    if (!items.length) {
      this.close();
      return;
    }
    const kept = this.isOpen ? this.items[this.active]?.id : null;
    this.query = query;
    this.items = items;
    this.participants = source.participants;
    const again = items.findIndex((c) => c.id === kept);
    this.active = again === -1 ? 0 : again;
    this.render();
  }

  render() {
    this.list.replaceChildren(
      ...this.items.map((c, index) => {
        const selected = index === this.active;
        const handle = c.all ? "@all" : `@${c.id}`;
        return h("li", {
          id: `mention-option-${index}`, role: "option", class: `mention-option${selected ? " active" : ""}`,
          "aria-selected": String(selected), dataset: { index: String(index), user: c.id },
        },
        c.all ? h("span", { class: "mention-everyone", "aria-hidden": "true", text: "@" }) : avatar(c.id, { size: 26 }),
        h("span", { class: "mention-name", text: c.label }),
        h("span", { class: "mention-handle", text: c.all ? "notify everyone here" : c.id === BOT || c.label !== c.id ? handle : "" }));
      }),
    );
    this.list.hidden = false;
    this.input.setAttribute("aria-expanded", "true");
    this.input.setAttribute("aria-activedescendant", `mention-option-${this.active}`);
    this.list.children[this.active]?.scrollIntoView({ block: "nearest" });
  }

  close() {
    if (!this.isOpen && this.list.hidden) return;
    this.query = null;
    this.items = [];
    this.list.hidden = true;
    this.list.replaceChildren();
    this.input.setAttribute("aria-expanded", "false");
    this.input.removeAttribute("aria-activedescendant");
  }

  /** A key in the message box: answers whether the list used it (then nothing else should). */
  handleKey(ev) {
    if (!this.isOpen || ev.isComposing || ev.keyCode === 229) return false;
    if (ev.altKey || ev.ctrlKey || ev.metaKey) return false;
    const n = this.items.length;
    switch (ev.key) {
      case "ArrowDown":
        this.active = (this.active + 1) % n;
        break;
      case "ArrowUp":
        this.active = (this.active - 1 + n) % n;
        break;
      case "Enter":
      case "Tab":
        if (ev.shiftKey) return false;
        this.pick(this.active);
        break;
      case "Escape":
        this.dismissedAt = this.query.start;
        this.close();
        break;
      default:
        return false;
    }
    ev.preventDefault();
    ev.stopPropagation();
    if (this.isOpen) this.render();
    return true;
  }

  pick(index) {
    const choice = this.items[index];
    if (!choice || !this.query) return;
    const { text, caret } = insertMention(this.input.value, this.query, choice, this.participants);
    this.input.value = text;
    this.input.setSelectionRange(caret, caret);
    this.close();
    this.input.focus();
    this.onInsert?.();
  }
}
