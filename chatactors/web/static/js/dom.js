// Tiny DOM helpers. Everything user-supplied goes through textContent or a
// validated attribute; nothing is ever parsed as HTML (no innerHTML anywhere).

const SVG_NS = "http://www.w3.org/2000/svg";

/**
 * Create an element. `props` keys: class, text, dataset, on<event>, aria-*,
 * and any attribute; a few (value, checked, disabled, hidden) are set as properties.
 */
export function h(tag, props = {}, ...children) {
  const el = document.createElement(tag);
  setProps(el, props);
  appendChildren(el, children);
  return el;
}

const PROPERTY_KEYS = new Set(["value", "checked", "disabled", "hidden", "multiple"]);

export function setProps(el, props) {
  for (const [key, value] of Object.entries(props || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "class") el.className = value;
    else if (key === "text") el.textContent = value;
    else if (key === "dataset") Object.assign(el.dataset, value);
    else if (key.startsWith("on") && typeof value === "function") {
      el.addEventListener(key.slice(2).toLowerCase(), value);
    } else if (PROPERTY_KEYS.has(key)) el[key] = value;
    else el.setAttribute(key, value === true ? "" : String(value));
  }
}

export function appendChildren(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

/** Replace all children of `el`. */
export function replaceChildren(el, ...children) {
  el.replaceChildren();
  appendChildren(el, children);
  return el;
}

export const $ = (selector, root = document) => root.querySelector(selector);

// Icons: Feather icons (MIT, see /static/icons/LICENSE-feather.txt) plus a few of our own,
// built as SVG DOM so they obey the CSP and inherit currentColor.
const ICONS = {
  send: [["path", { d: "M22 2 11 13" }], ["path", { d: "M22 2 15 22l-4-9-9-4z" }]],
  paperclip: [["path", { d: "M21.44 11.05l-9.19 9.19a6 6 0 0 1-8.49-8.49l9.19-9.19a4 4 0 0 1 5.66 5.66l-9.2 9.19a2 2 0 0 1-2.83-2.83l8.49-8.48" }]],
  mic: [["path", { d: "M12 1a3 3 0 0 0-3 3v8a3 3 0 0 0 6 0V4a3 3 0 0 0-3-3z" }], ["path", { d: "M19 10v2a7 7 0 0 1-14 0v-2" }], ["path", { d: "M12 19v4M8 23h8" }]],
  x: [["path", { d: "M18 6 6 18M6 6l12 12" }]],
  check: [["path", { d: "M20 6 9 17l-5-5" }]],
  checks: [["path", { d: "M1.5 12.5 6 17 16.5 6.5" }], ["path", { d: "M10.5 16 11.5 17 22.5 6.5" }]],
  clock: [["circle", { cx: 12, cy: 12, r: 10 }], ["path", { d: "M12 6v6l4 2" }]],
  plus: [["path", { d: "M12 5v14M5 12h14" }]],
  edit: [["path", { d: "M12 20h9" }], ["path", { d: "M16.5 3.5a2.121 2.121 0 0 1 3 3L7 19l-4 1 1-4L16.5 3.5z" }]],
  back: [["path", { d: "M19 12H5M12 19l-7-7 7-7" }]],
  down: [["path", { d: "M12 5v14M19 12l-7 7-7-7" }]],
  play: [["path", { d: "M6 3.5v17l14-8.5z", fill: "currentColor" }]],
  pause: [["rect", { x: 6, y: 4, width: 4, height: 16, rx: 1, fill: "currentColor" }], ["rect", { x: 14, y: 4, width: 4, height: 16, rx: 1, fill: "currentColor" }]],
  users: [["path", { d: "M17 21v-2a4 4 0 0 0-4-4H5a4 4 0 0 0-4 4v2" }], ["circle", { cx: 9, cy: 7, r: 4 }], ["path", { d: "M23 21v-2a4 4 0 0 0-3-3.87M16 3.13a4 4 0 0 1 0 7.75" }]],
  alert: [["circle", { cx: 12, cy: 12, r: 10 }], ["path", { d: "M12 8v4M12 16h.01" }]],
  retry: [["path", { d: "M23 4v6h-6" }], ["path", { d: "M20.49 15a9 9 0 1 1-2.12-9.36L23 10" }]],
  switch: [["path", { d: "M17 1l4 4-4 4" }], ["path", { d: "M3 11V9a4 4 0 0 1 4-4h14" }], ["path", { d: "M7 23l-4-4 4-4" }], ["path", { d: "M21 13v2a4 4 0 0 1-4 4H3" }]],
  image: [["rect", { x: 3, y: 3, width: 18, height: 18, rx: 2 }], ["circle", { cx: 8.5, cy: 8.5, r: 1.5 }], ["path", { d: "M21 15l-5-5L5 21" }]],
  audio: [["path", { d: "M9 18V5l12-2v13" }], ["circle", { cx: 6, cy: 18, r: 3 }], ["circle", { cx: 18, cy: 16, r: 3 }]],
  search: [["circle", { cx: 11, cy: 11, r: 8 }], ["path", { d: "M21 21l-4.35-4.35" }]],
  chat: [["path", { d: "M21 15a2 2 0 0 1-2 2H7l-4 4V5a2 2 0 0 1 2-2h14a2 2 0 0 1 2 2z" }]],
  bot: [["rect", { x: 3, y: 8, width: 18, height: 12, rx: 4 }], ["path", { d: "M12 8V4" }], ["circle", { cx: 12, cy: 3, r: 1 }], ["path", { d: "M9 13v2M15 13v2" }]],
  trash: [["path", { d: "M3 6h18" }], ["path", { d: "M19 6v14a2 2 0 0 1-2 2H7a2 2 0 0 1-2-2V6m3 0V4a2 2 0 0 1 2-2h4a2 2 0 0 1 2 2v2" }]],
  stop: [["rect", { x: 6, y: 6, width: 12, height: 12, rx: 2, fill: "currentColor" }]],
  reply: [["path", { d: "M9 14 4 9l5-5" }], ["path", { d: "M20 20v-7a4 4 0 0 0-4-4H4" }]],
  smile: [["circle", { cx: 12, cy: 12, r: 10 }], ["path", { d: "M8 14s1.5 2 4 2 4-2 4-2M9 9h.01M15 9h.01" }]],
  more: [["circle", { cx: 5, cy: 12, r: 1.6, fill: "currentColor" }], ["circle", { cx: 12, cy: 12, r: 1.6, fill: "currentColor" }], ["circle", { cx: 19, cy: 12, r: 1.6, fill: "currentColor" }]],
  ban: [["circle", { cx: 12, cy: 12, r: 10 }], ["path", { d: "M4.93 4.93l14.14 14.14" }]],
  copy: [["rect", { x: 9, y: 9, width: 13, height: 13, rx: 2 }], ["path", { d: "M5 15H4a2 2 0 0 1-2-2V4a2 2 0 0 1 2-2h9a2 2 0 0 1 2 2v1" }]],
};

export function icon(name, { size = 20, label = null, cls = "" } = {}) {
  const svg = document.createElementNS(SVG_NS, "svg");
  svg.setAttribute("viewBox", "0 0 24 24");
  svg.setAttribute("width", size);
  svg.setAttribute("height", size);
  svg.setAttribute("fill", "none");
  svg.setAttribute("stroke", "currentColor");
  svg.setAttribute("stroke-width", "2");
  svg.setAttribute("stroke-linecap", "round");
  svg.setAttribute("stroke-linejoin", "round");
  svg.setAttribute("class", `icon icon-${name} ${cls}`.trim());
  if (label) {
    svg.setAttribute("role", "img");
    svg.setAttribute("aria-label", label);
  } else {
    svg.setAttribute("aria-hidden", "true");
  }
  for (const [tag, attrs] of ICONS[name] || []) {
    const child = document.createElementNS(SVG_NS, tag);
    for (const [k, v] of Object.entries(attrs)) child.setAttribute(k, v);
    svg.append(child);
  }
  return svg;
}

/**
 * Keyed reconciliation: make `container`'s children exactly `items` in order,
 * reusing the element previously made for each key. `create(item)` makes a new
 * element, `update(el, item)` refreshes one. Returns the set of newly created elements.
 */
export function reconcile(container, items, keyOf, create, update) {
  const cache = container._keyed || (container._keyed = new Map());
  const seen = new Set();
  const created = new Set();
  let cursor = container.firstChild;
  for (const item of items) {
    const key = keyOf(item);
    seen.add(key);
    let el = cache.get(key);
    if (!el) {
      el = create(item);
      cache.set(key, el);
      created.add(el);
    }
    update?.(el, item);
    if (el !== cursor) container.insertBefore(el, cursor);
    else cursor = cursor.nextSibling;
  }
  for (const [key, el] of cache) {
    if (!seen.has(key)) {
      el.remove();
      cache.delete(key);
    }
  }
  return created;
}

/** Clear the keyed cache of a container (e.g. when switching chats). */
export function resetKeyed(container) {
  container._keyed = new Map();
  container.replaceChildren();
}
