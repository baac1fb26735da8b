// The parts a bubble shows for a message that changes: the quote of the message it answers,
// the reaction chips under it, "edited", the placeholder of a deleted message, and the editor
// that edits my message in place. DOM only: what they show comes from changes.js and the Store.
import { h, icon } from "./dom.js";
import { displayName, formatFull, hueOf, parseTime } from "./format.js";
import { reactionChips, reactorNames, snippet } from "./changes.js";

/**
 * The quote above a reply: the original's sender and a line of it. A button: it shows the
 * original. `original` null: older than every page loaded (finding it loads them).
 */
export function quoteElement(original, me) {
  if (!original) {
    return h("button", { type: "button", class: "quote quote-missing", dataset: { action: "quote" }, title: "Show the original message" },
      h("span", { class: "quote-name", text: "Reply to an earlier message" }),
      h("span", { class: "quote-text", text: "Show it" }));
  }
  const name = displayName(original.user_id, me);
  const quote = h("button", {
    type: "button", class: `quote${original.deleted ? " quote-deleted" : ""}`, dataset: { action: "quote" },
    title: "Show the original message",
  }, h("span", { class: "quote-name", text: name }), h("span", { class: "quote-text", text: snippet(original) }));
  quote.style.setProperty("--hue", String(hueOf(original.user_id)));
  return quote;
}

/** What the composer shows while I write a reply. */
export function replyPreview(original, me) {
  const text = h("div", { class: "reply-bar-text" },
    h("span", { class: "quote-name", text: `Replying to ${displayName(original.user_id, me)}` }),
    h("span", { class: "quote-text", text: snippet(original) }));
  text.style.setProperty("--hue", String(hueOf(original.user_id)));
  return [icon("reply", { size: 18 }), text];
}

/** The chips under a message: one per emoji with its count, mine pressed, who reacted on hover. */
export function reactionButtons(m, me) {
  return reactionChips(m, me).map((chip) => {
    const names = reactorNames(chip.users, me);
    return h("button", {
      type: "button", class: `reaction${chip.mine ? " mine" : ""}`, dataset: { action: "react", emoji: chip.emoji },
      "aria-pressed": String(chip.mine), title: names, "aria-label": `${chip.emoji} ${chip.count}: ${names}`,
    }, h("span", { class: "reaction-emoji", text: chip.emoji }), h("span", { class: "reaction-count", text: String(chip.count) }));
  });
}

/** What a deleted message leaves in the timeline. */
export function deletedBody() {
  return [h("span", { class: "deleted-note" }, icon("ban", { size: 15 }), h("span", { text: "Message deleted" }))];
}

export function editedTitle(m) {
  const when = parseTime(m.edited_at);
  return when ? `Edited ${formatFull(when)}` : "Edited";
}

/**
 * The in-place editor of my text message: Enter saves, Shift+Enter adds a line, Escape cancels;
 * Save and Cancel buttons for touch screens. `focus()` on the answer puts the caret at the end.
 */
export function editorElement(text, { onSave, onCancel }) {
  const input = h("textarea", { class: "edit-input", rows: "1", "aria-label": "Edit message", enterkeyhint: "done" });
  input.value = text;
  const autosize = () => {
    input.style.height = "auto";
    input.style.height = `${Math.min(input.scrollHeight, 220)}px`;
  };
  input.addEventListener("input", autosize);
  input.addEventListener("keydown", (ev) => {
    if (ev.key === "Enter" && !ev.shiftKey && !ev.isComposing && ev.keyCode !== 229) {
      ev.preventDefault();
      onSave(input.value);
    } else if (ev.key === "Escape") {
      ev.preventDefault();
      ev.stopPropagation();
      onCancel();
    }
  });
  const cancel = h("button", { type: "button", class: "edit-btn", text: "Cancel" });
  const save = h("button", { type: "button", class: "edit-btn edit-save", text: "Save" });
  cancel.addEventListener("click", onCancel);
  save.addEventListener("click", () => onSave(input.value));
  const editor = h("div", { class: "editor" }, input,
    h("div", { class: "edit-bar" }, h("span", { class: "edit-hint", text: "Esc to cancel · Enter to save" }), cancel, save));
  return {
    element: editor,
    focus() {
      autosize();
      input.focus({ preventScroll: true });
      input.setSelectionRange(input.value.length, input.value.length);
    },
  };
}
