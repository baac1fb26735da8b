// The message menu: one popover for every message, opened by a message's "⋯" button (shown on
// hover, and reachable with the keyboard) or by a long press on its bubble (phones). A row of
// reactions, then what the message allows (reply, copy, edit, delete). Arrow keys move between
// the items, Escape or a press elsewhere closes it, and focus goes back where it was.
// A manual popover (top layer, so the scroller does not clip it), dismissed here rather than by
// the browser: the browser's light dismiss would close a long-press menu as the finger lifts,
// since the press that opened it began outside it.
import { h, icon } from "./dom.js";

const LONG_PRESS_MS = 450;
const MOVE_TOLERANCE_PX = 10;
const GAP_PX = 6;
const MARGIN_PX = 8;

export class MessageMenu {
  constructor(el) {
    this.el = el;
    this.key = null; // the message the menu is open for
    this.onPick = null;
    this.onClose = null;
    this.returnFocus = null;
    this.anchor = null;
    this.side = "in";
    // The message whose menu the last press outside closed: that press on its own "⋯" button
    // means "close", not "close and open again".
    this.dismissedKey = null;
    document.addEventListener("pointerdown", (ev) => {
      const outside = this.isOpen && !this.el.contains(ev.target);
      this.dismissedKey = outside ? this.key : null;
      if (outside) this.close();
    }, true);
    el.addEventListener("keydown", (ev) => this._onKey(ev));
    // Closed some other way than close() (the element left the top layer): tidy up all the same.
    // The event comes later, so only if no menu is open by then.
    el.addEventListener("toggle", (ev) => {
      if (ev.newState === "closed" && !this.isOpen && this.key !== null) this._closed();
    });
    el.addEventListener("click", (ev) => {
      const item = ev.target.closest("button[data-pick]");
      if (item) this._pick(item.dataset.pick, item.dataset.emoji);
    });
  }

  get isOpen() {
    return this.el.matches(":popover-open");
  }

  /**
   * @param {object} o
   * @param {string} o.key  the message's key
   * @param {Element} o.anchor  its bubble
   * @param {"in"|"out"} o.side  which side of the conversation the bubble is on
   * @param {{emoji: string, pressed: boolean}[]} o.reactions
   * @param {{id: string, label: string, icon: string, danger?: boolean}[]} o.actions
   * @param {(id: string, emoji?: string) => void} o.onPick
   * @param {() => void} [o.onClose]
   * @param {HTMLElement|null} [o.returnFocus]  gets focus back when the menu closes
   */
  open({ key, anchor, side, reactions, actions, onPick, onClose = null, returnFocus = null }) {
    this.close();
    Object.assign(this, { key, onPick, onClose, returnFocus, anchor, side });
    const emoji = reactions.map(({ emoji: e, pressed }) =>
      h("button", {
        type: "button", role: "menuitemcheckbox", class: "menu-emoji", tabindex: "-1", text: e,
        "aria-checked": String(pressed), "aria-label": pressed ? `Remove your ${e}` : `React with ${e}`,
        dataset: { pick: "react", emoji: e },
      }));
    const items = actions.map((a) =>
      h("button", { type: "button", role: "menuitem", class: `menu-item${a.danger ? " danger" : ""}`, tabindex: "-1", dataset: { pick: a.id } },
        icon(a.icon, { size: 18 }), h("span", { text: a.label })));
    this.el.replaceChildren(
      ...(emoji.length ? [h("div", { class: "menu-reactions", role: "group", "aria-label": "React" }, emoji)] : []),
      ...items,
    );
    this.el.showPopover();
    this.reposition();
    this._items()[0]?.focus({ preventScroll: true });
  }

  close() {
    if (!this.isOpen) return;
    this.el.hidePopover();
    this._closed();
  }

  /** Follow the bubble (the conversation scrolled, the window changed size). */
  reposition() {
    if (!this.isOpen) return;
    if (this.anchor?.isConnected) this._place(this.anchor, this.side);
    else this.close();
  }

  _items() {
    return [...this.el.querySelectorAll("button[data-pick]")];
  }

  /** Above the bubble if there is room, else below; aligned with its outer edge; on screen. */
  _place(anchor, side) {
    const a = anchor.getBoundingClientRect();
    const m = this.el.getBoundingClientRect();
    const width = document.documentElement.clientWidth;
    const height = window.innerHeight;
    let top = a.top - m.height - GAP_PX;
    if (top < MARGIN_PX) top = Math.min(a.bottom + GAP_PX, height - m.height - MARGIN_PX);
    let left = side === "out" ? a.right - m.width : a.left;
    left = Math.max(MARGIN_PX, Math.min(left, width - m.width - MARGIN_PX));
    this.el.style.left = `${Math.round(left)}px`;
    this.el.style.top = `${Math.round(Math.max(MARGIN_PX, top))}px`;
  }

  _onKey(ev) {
    const items = this._items();
    const at = items.indexOf(document.activeElement);
    const move = { ArrowDown: 1, ArrowRight: 1, ArrowUp: -1, ArrowLeft: -1 }[ev.key];
    if (move) {
      ev.preventDefault();
      items[(at + move + items.length) % items.length]?.focus();
    } else if (ev.key === "Home" || ev.key === "End") {
      ev.preventDefault();
      (ev.key === "Home" ? items[0] : items.at(-1))?.focus();
    } else if (ev.key === "Escape") {
      ev.preventDefault();
      this.close();
    } else if (ev.key === "Tab") {
      ev.preventDefault(); // a menu is one stop: leave it where it was opened
      this.close();
    }
  }

  _pick(id, emoji) {
    const onPick = this.onPick;
    // Reply and edit put the focus where I type; the rest gives it back to where it was.
    if (id === "reply" || id === "edit") this.returnFocus = null;
    this.close();
    onPick?.(id, emoji);
  }

  _closed() {
    const back = this.returnFocus;
    const onClose = this.onClose;
    Object.assign(this, { key: null, onPick: null, onClose: null, returnFocus: null, anchor: null });
    const lost = document.activeElement === document.body || this.el.contains(document.activeElement);
    if (back?.isConnected && lost) back.focus({ preventScroll: true });
    onClose?.();
  }
}

/**
 * Long press on touch screens: `fire(element)` for an element matching `selector` inside
 * `container` held still for a moment. Mouse and pen users have the hover button instead.
 * The contextmenu and the click that end a long press are swallowed.
 */
export function onLongPress(container, selector, fire) {
  let timer = 0;
  let start = null;
  let fired = false;
  const cancel = () => {
    clearTimeout(timer);
    timer = 0;
  };
  container.addEventListener("pointerdown", (ev) => {
    fired = false;
    cancel();
    if (ev.pointerType !== "touch") return;
    const target = ev.target.closest(selector);
    if (!target || ev.target.closest("textarea, input")) return;
    start = [ev.clientX, ev.clientY];
    timer = setTimeout(() => {
      timer = 0;
      fired = true;
      fire(target);
    }, LONG_PRESS_MS);
  });
  container.addEventListener("pointermove", (ev) => {
    if (timer && Math.hypot(ev.clientX - start[0], ev.clientY - start[1]) > MOVE_TOLERANCE_PX) cancel();
  });
  container.addEventListener("pointerup", cancel);
  container.addEventListener("pointercancel", cancel); // the finger scrolls
  container.addEventListener("contextmenu", (ev) => {
    if (fired || timer) ev.preventDefault();
  });
  container.addEventListener("click", (ev) => {
    if (!fired) return;
    fired = false;
    ev.preventDefault();
    ev.stopPropagation();
  }, true);
}
