// Mentions (docs/API.md, "Mentions"): where a text names people with `@`, by the server's own
// rule (chatactors/domain/mentions.py, mirrored here), so the conversation marks exactly the
// words that mentioned someone; and the composer's side: the `@` being typed, the participants
// it may mean, and the text that names one so the server reads it back as that person.
// Pure: no DOM (tests/client/mentions.test.mjs).
import { BOT, displayName } from "./format.js";

/** `@all` names every participant but the author (`@[all]` names someone called "all"). */
export const EVERYONE = "all";
/** The server looks at this many `@` of a text, at most. */
const MAX_MARKS = 1000;
/** How far (in code points) a `]` is looked for after `@[`. */
const LONGEST_BRACKETED = 1024;
/** How far back from the caret a mention being typed may begin (UTF-16 units). */
const LONGEST_TYPED = 80;
/** Suggestions shown at once. */
export const MAX_SUGGESTIONS = 8;

// A letter, a digit or `_` (Python's isalnum, or `_`): what may not touch a mention.
const WORD = /^[\p{L}\p{N}_]/u;

function wordAt(text, i) {
  return i < text.length && WORD.test(text.slice(i, i + 2));
}

function wordBefore(text, i) {
  if (i <= 0) return false;
  const low = text.charCodeAt(i - 1);
  const pair = low >= 0xdc00 && low <= 0xdfff && i >= 2 ? 2 : 1; // a surrogate pair: the whole code point
  return WORD.test(text.slice(i - pair, i));
}

const endsWord = (text, end) => !wordAt(text, end);
const codePoints = (text) => Array.from(text).length;

/**
 * Each `@` of `text` that names someone among `participants`, in order:
 * `{start, end, users, all}` with UTF-16 offsets (`start` at the `@`); `all` for `@all`, whose
 * `users` are the participants. Spans may nest (an `@` inside `@[...]`), as on the server.
 */
export function mentionSpans(text, participants) {
  const spans = [];
  text = String(text ?? "");
  if (!text.includes("@")) return spans;
  const ordered = [...new Set(participants || [])];
  const ids = new Set(ordered);
  const longestFirst = [...ordered].sort((a, b) => b.length - a.length);
  let at = text.indexOf("@");
  let marks = 0;
  while (at !== -1 && marks < MAX_MARKS) {
    marks += 1;
    if (!wordBefore(text, at)) {
      const span = namedAt(text, at, ordered, ids, longestFirst);
      if (span) spans.push(span);
    }
    at = text.indexOf("@", at + 1);
  }
  return spans;
}

function namedAt(text, at, ordered, ids, longestFirst) {
  const start = at + 1;
  if (text.startsWith("[", start)) {
    const close = text.indexOf("]", start + 1);
    if (close !== -1 && codePoints(text.slice(start + 1, close)) <= LONGEST_BRACKETED) {
      const named = text.slice(start + 1, close);
      return ids.has(named) ? { start: at, end: close + 1, users: [named], all: false } : null;
    }
  }
  if (text.startsWith(EVERYONE, start) && endsWord(text, start + EVERYONE.length)) {
    return { start: at, end: start + EVERYONE.length, users: ordered, all: true };
  }
  for (const user of longestFirst) {
    if (user && text.startsWith(user, start) && endsWord(text, start + user.length)) {
      return { start: at, end: start + user.length, users: [user], all: false };
    }
  }
  return null;
}

/** Who a text mentions, as the server finds them: in the order first named, the author left out. */
export function findMentions(text, participants, author) {
  const found = new Set();
  for (const span of mentionSpans(text, participants)) for (const user of span.users) found.add(user);
  found.delete(author);
  return [...found];
}

/** Does this message mention me (someone else's, naming me)? */
export function mentionsMe(m, me) {
  return !!m && m.user_id !== me && !m.deleted && Array.isArray(m.mentions) && m.mentions.includes(me);
}

/**
 * The mentions a message shows, marked in its text: the spans that named someone of its
 * `mentions` (the server's verdict, made with the members of the moment), each once, without
 * overlaps. `me`: whether the span names me. `avoid`: ranges (links) a span may not cut into.
 */
export function shownMentions(text, m, me, avoid = []) {
  const mentioned = new Set(Array.isArray(m?.mentions) ? m.mentions : []);
  if (!mentioned.size || !text) return [];
  // The author is a candidate too: "@Anna Maria" by Anna Maria must not be read as "@Anna".
  const candidates = [...mentioned, ...(m.user_id ? [m.user_id] : [])];
  const out = [];
  let end = 0;
  for (const span of mentionSpans(text, candidates)) {
    if (span.start < end) continue;
    if (avoid.some(([s, e]) => span.start < e && s < span.end)) continue;
    const named = span.all ? [...mentioned] : span.users.filter((u) => mentioned.has(u));
    if (!named.length) continue;
    out.push({ start: span.start, end: span.end, me: named.includes(me) });
    end = span.end;
  }
  return out;
}

// ---- the composer --------------------------------------------------------------------------

/**
 * The mention being typed at the caret: `{start, end, query, bracketed}` (`start` at the `@`,
 * `end` after the rest of the word the caret is in), or null. An `@` counts where the server
 * would read one: at the start or after a character that is not a letter, a digit or `_`.
 */
export function mentionQuery(text, caret) {
  text = String(text ?? "");
  if (!Number.isInteger(caret) || caret < 1 || caret > text.length) return null;
  const at = text.lastIndexOf("@", caret - 1);
  if (at === -1 || caret - at > LONGEST_TYPED || wordBefore(text, at)) return null;
  let query = text.slice(at + 1, caret);
  const bracketed = query.startsWith("[");
  if (bracketed) query = query.slice(1);
  if (/[\n\]@]/.test(query) || /^\s/u.test(query)) return null;
  let end = caret;
  while (wordAt(text, end)) end += text.codePointAt(end) > 0xffff ? 2 : 1;
  return { start: at, end, query, bracketed };
}

/** Lower case, without accents: how names are compared while typing. */
function fold(text) {
  return String(text).normalize("NFD").replace(/\p{M}/gu, "").toLowerCase();
}

/**
 * Who an `@` with this query may mean: `{id, label, all}` for each participant but me (people
 * first, then the bot) and, in a group, everyone (`@all`); those whose id or name starts with the
 * query first, then those with a word that does, then those that contain it.
 */
export function mentionCandidates(chat, me) {
  const people = chat.participants.filter((u) => u !== me && u !== BOT);
  const out = people.map((id) => ({ id, label: displayName(id, me), all: false }));
  if (chat.participants.includes(BOT) && me !== BOT) out.push({ id: BOT, label: displayName(BOT, me), all: false });
  if (chat.kind === "group" || (chat.kind === null && people.length > 1)) {
    out.push({ id: EVERYONE, label: "Everyone", all: true });
  }
  return out;
}

export function suggestMentions(query, candidates, limit = MAX_SUGGESTIONS) {
  const q = fold(query);
  const ranked = [];
  candidates.forEach((c, order) => {
    const names = [fold(c.id), fold(c.label)];
    let rank = null;
    if (!q || names.some((n) => n.startsWith(q))) rank = 0;
    else if (names.some((n) => n.split(/[^\p{L}\p{N}]+/u).some((w) => w.startsWith(q)))) rank = 1;
    else if (names.some((n) => n.includes(q))) rank = 2;
    if (rank !== null) ranked.push({ c, rank, order });
  });
  ranked.sort((a, b) => a.rank - b.rank || a.order - b.order);
  return ranked.slice(0, limit).map((r) => r.c);
}

/**
 * The text that names `id` when followed by `after`: `@id` if the server reads that as `id`
 * alone (not a longer id, not everyone), else `@[id]`. `@all` for everyone.
 */
export function mentionToken(id, participants, after = "", { all = false } = {}) {
  if (all) return `@${EVERYONE}`;
  const plain = `@${id}`;
  if (names(plain, after, participants, id)) return plain;
  const bracketed = `@[${id}]`;
  if (!id.includes("]") && names(bracketed, after, participants, id)) return bracketed;
  return plain; // an id with a `]` that another id shadows: nothing names it better
}

function names(token, after, participants, id) {
  const [span] = mentionSpans(token + after, participants);
  return !!span && span.start === 0 && span.end === token.length && !span.all && span.users[0] === id;
}

/**
 * The composer's text with the mention being typed (`query`, from mentionQuery) replaced by the
 * one chosen, followed by a space; answers `{text, caret}` (the caret after that space).
 */
export function insertMention(text, query, choice, participants) {
  const before = text.slice(0, query.start);
  const rest = text.slice(query.end);
  const gap = /^\s/u.test(rest) ? "" : " ";
  const token = mentionToken(choice.id, participants, gap + rest, { all: choice.all });
  return { text: before + token + gap + rest, caret: before.length + token.length + (gap ? 1 : 0) };
}
