// Formatting helpers: names, colours, local times, link detection.
import { h } from "./dom.js";

export const BOT = "bot_user";

export function displayName(userId, me) {
  if (userId === me) return "You";
  if (userId === BOT) return "Bot";
  return userId;
}

export function initials(userId) {
  if (userId === BOT) return "B";
  const parts = String(userId).trim().split(/[\s._-]+/).filter(Boolean);
  const letters = parts.length > 1 ? parts[0][0] + parts[1][0] : String(userId).slice(0, 2);
  return letters.toUpperCase();
}

/** A stable hue per user id, so a person keeps their colour everywhere. */
export function hueOf(userId) {
  let hash = 2166136261;
  for (const ch of String(userId)) {
    hash ^= ch.codePointAt(0);
    hash = Math.imul(hash, 16777619);
  }
  return Math.abs(hash) % 360;
}

/** Parse a server timestamp (ISO 8601; a missing zone is read as UTC like the server means it). */
export function parseTime(value) {
  if (!value) return null;
  if (value instanceof Date) return value;
  let text = String(value);
  if (/T\d{2}:\d{2}(:\d{2}(\.\d+)?)?$/.test(text)) text += "Z";
  const date = new Date(text);
  return Number.isNaN(date.getTime()) ? null : date;
}

const timeFmt = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit" });
const weekdayFmt = new Intl.DateTimeFormat(undefined, { weekday: "long" });
const shortWeekdayFmt = new Intl.DateTimeFormat(undefined, { weekday: "short" });
const dateFmt = new Intl.DateTimeFormat(undefined, { day: "numeric", month: "short" });
const longDateFmt = new Intl.DateTimeFormat(undefined, { weekday: "long", day: "numeric", month: "long", year: "numeric" });
const fullFmt = new Intl.DateTimeFormat(undefined, { dateStyle: "full", timeStyle: "short" });

export const formatTime = (date) => (date ? timeFmt.format(date) : "");
export const formatFull = (date) => (date ? fullFmt.format(date) : "");

function startOfDay(date) {
  const d = new Date(date);
  d.setHours(0, 0, 0, 0);
  return d;
}

export function dayKey(date) {
  return date ? `${date.getFullYear()}-${date.getMonth() + 1}-${date.getDate()}` : "unknown";
}

function daysAgo(date, now = new Date()) {
  return Math.round((startOfDay(now) - startOfDay(date)) / 86400000);
}

/** "Today", "Yesterday", "Monday", or a full date: the label of a day separator. */
export function formatDay(date) {
  if (!date) return "";
  const ago = daysAgo(date);
  if (ago === 0) return "Today";
  if (ago === 1) return "Yesterday";
  if (ago > 1 && ago < 7) return weekdayFmt.format(date);
  return longDateFmt.format(date);
}

/** Compact time for the chat list: 14:02, Yesterday, Mon, 3 Nov. */
export function formatListTime(date) {
  if (!date) return "";
  const ago = daysAgo(date);
  if (ago === 0) return timeFmt.format(date);
  if (ago === 1) return "Yesterday";
  if (ago > 1 && ago < 7) return shortWeekdayFmt.format(date);
  return dateFmt.format(date);
}

export function formatLastSeen(date) {
  if (!date) return "offline";
  const ago = daysAgo(date);
  if (ago === 0) return `last seen today at ${timeFmt.format(date)}`;
  if (ago === 1) return `last seen yesterday at ${timeFmt.format(date)}`;
  return `last seen ${dateFmt.format(date)} at ${timeFmt.format(date)}`;
}

export function formatDuration(seconds) {
  if (!Number.isFinite(seconds) || seconds < 0) return "0:00";
  const s = Math.floor(seconds);
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`;
}

export function formatBytes(bytes) {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(0)} KB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}

/** A URL we are willing to put in src/href: http(s), same-origin relative, blob: and data:. */
export function safeUrl(value, { allowData = true } = {}) {
  const text = String(value || "").trim();
  try {
    const url = new URL(text, location.href);
    if (url.protocol === "http:" || url.protocol === "https:" || url.protocol === "blob:") return url.href;
    if (allowData && url.protocol === "data:") return text;
  } catch {
    /* not a URL */
  }
  return null;
}

const LOOPBACK = new Set(["localhost", "127.0.0.1", "[::1]", "0.0.0.0"]);

/**
 * A media URL as this page can load it. The server names its files with an absolute URL; when
 * that URL says "loopback" (http://localhost:8000/media/...) but this page came from elsewhere
 * (a phone on the LAN, another port), the file is still on the server that served this page,
 * which is the only place such a URL can mean. Everything else is left alone.
 */
export function mediaUrl(value) {
  const safe = safeUrl(value);
  if (!safe || !/^https?:/.test(safe)) return safe;
  const url = new URL(safe);
  if (LOOPBACK.has(url.hostname) && url.pathname.startsWith("/media/") && url.host !== location.host) {
    return new URL(url.pathname + url.search, location.origin).href;
  }
  return safe;
}

const LINK_RE = /\b(https?:\/\/[^\s<>"']+|www\.[^\s<>"']+\.[^\s<>"']+)/gi;

/** Where `text` has links: [{start, end, raw}] (trailing punctuation is the sentence's). */
export function linkSpans(text) {
  const spans = [];
  for (const match of String(text).matchAll(LINK_RE)) {
    let raw = match[0];
    const trail = raw.match(/[.,;:!?)\]]+$/);
    if (trail) raw = raw.slice(0, -trail[0].length);
    spans.push({ start: match.index, end: match.index + raw.length, raw });
  }
  return spans;
}

/** Text as DOM nodes with http(s) links made clickable; never parsed as HTML. */
export function linkify(text) {
  text = String(text);
  const nodes = [];
  let last = 0;
  for (const { start, end, raw } of linkSpans(text)) {
    if (start > last) nodes.push(document.createTextNode(text.slice(last, start)));
    const href = safeUrl(raw.startsWith("www.") ? `https://${raw}` : raw, { allowData: false });
    if (href) {
      nodes.push(h("a", { href, target: "_blank", rel: "noopener noreferrer nofollow", text: raw }));
    } else {
      nodes.push(document.createTextNode(raw));
    }
    last = end;
  }
  if (last < text.length) nodes.push(document.createTextNode(text.slice(last)));
  return nodes;
}

export function newClientId() {
  if (crypto.randomUUID) return crypto.randomUUID();
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}
