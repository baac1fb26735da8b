import { $, h } from "./dom.js";

/** A short message at the bottom of the screen (also read out by screen readers). */
export function toast(text, { kind = "info", ms = 4000 } = {}) {
  const el = h("div", { class: `toast toast-${kind}`, role: kind === "error" ? "alert" : "status", text });
  $("#toasts").append(el);
  setTimeout(() => {
    el.classList.add("leaving");
    setTimeout(() => el.remove(), 300);
  }, ms);
}
