// The chat's title, edited in place in the conversation's header: the "Rename chat" button (or a
// click on the title) turns the title into a field; Enter saves, Escape cancels, and leaving the
// field saves what it holds. An empty field removes the title: the chat is named by its people.
// DOM only: what a title may be is members.js's (cleanTitle), the change the client's.

export class TitleEditor {
  /**
   * @param {object} o
   * @param {HTMLElement} o.heading  the title as shown
   * @param {HTMLInputElement} o.input  the field that replaces it while editing
   * @param {HTMLButtonElement} o.button  "Rename chat": gets the focus back after Enter or Escape
   * @param {(text: string) => void} o.onSave  the field's text, when it differs from the title
   */
  constructor({ heading, input, button, onSave }) {
    Object.assign(this, { heading, input, button, onSave });
    this.initial = "";
    input.addEventListener("keydown", (ev) => {
      if (ev.key === "Enter" && !ev.isComposing && ev.keyCode !== 229) {
        ev.preventDefault();
        this.finish({ save: true, refocus: true });
      } else if (ev.key === "Escape") {
        ev.preventDefault();
        ev.stopPropagation();
        this.finish({ save: false, refocus: true });
      }
    });
    input.addEventListener("blur", () => this.finish({ save: true, refocus: false }));
  }

  get editing() {
    return !this.input.hidden;
  }

  /** Edit `current` (null: the chat has no title; `placeholder` then says what it is called). */
  start(current, placeholder) {
    this.initial = current ?? "";
    this.input.value = this.initial;
    this.input.placeholder = placeholder;
    this.heading.hidden = true;
    this.button.hidden = true;
    this.input.hidden = false;
    this.input.focus();
    this.input.select();
  }

  /** Stop editing (the chat was closed, or it went): nothing is saved. */
  cancel() {
    this.finish({ save: false, refocus: false });
  }

  finish({ save, refocus }) {
    if (!this.editing) return;
    const text = this.input.value;
    // Hidden first: hiding a focused field blurs it, and that blur must find the editing over.
    this.input.hidden = true;
    this.heading.hidden = false;
    this.button.hidden = false;
    if (refocus) this.button.focus({ preventScroll: true });
    if (save && text.trim() !== this.initial.trim()) this.onSave(text);
  }
}
