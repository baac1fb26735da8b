// Avatars: initials on a per-person hue, a robot for the bot, a group glyph for groups.
import { h, icon } from "./dom.js";
import { BOT, hueOf, initials } from "./format.js";

export function avatar(userId, { size = 40, status = null, group = null } = {}) {
  const el = h("span", { class: "avatar", "aria-hidden": "true" });
  el.style.setProperty("--size", `${size}px`);
  if (group) {
    el.classList.add("avatar-group");
    el.style.setProperty("--hue", String(hueOf(group)));
    el.append(icon("users", { size: Math.round(size * 0.45) }));
  } else if (userId === BOT) {
    el.classList.add("avatar-bot");
    el.append(icon("bot", { size: Math.round(size * 0.5) }));
  } else {
    el.style.setProperty("--hue", String(hueOf(userId)));
    el.append(h("span", { class: "avatar-initials", text: initials(userId) }));
  }
  if (status) el.append(h("span", { class: `presence-dot ${status}` }));
  return el;
}
