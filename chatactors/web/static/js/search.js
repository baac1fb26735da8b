// Searching messages (docs/API.md, "Search"): what to ask the server for as the user types,
// the query string of `GET /search`, and the results grouped by chat across pages.
// Pure: no DOM, no network (tests/client/search.test.mjs); search-panel.js shows it.

/** The server's bound on `q` (characters). */
export const MAX_QUERY_CHARS = 1000;
/** Results per page. */
export const SEARCH_PAGE = 20;

const WORD_CHAR = /[\p{L}\p{N}]/gu;
const TRAILING_WORD = /[\p{L}\p{N}]+$/u;
// Scripts the server splits into single characters (each one is a whole word).
const CJK = /[\p{Script=Han}\p{Script=Hiragana}\p{Script=Katakana}\p{Script=Hangul}\p{Script=Thai}]/u;

/** Whether the server would find a word to search for in `text` (else it answers 422). */
export function hasWord(text) {
  return (String(text ?? "").match(WORD_CHAR) || []).length > 0;
}

/** The query as typed (Enter): trimmed, or null if it has no word. */
export function typedQuery(text) {
  const q = String(text ?? "").trim().slice(0, MAX_QUERY_CHARS);
  return hasWord(q) ? q : null;
}

/**
 * What to search for while the user is still typing: null until there are two letters or digits
 * (or one CJK character); the word being typed (the last, with nothing after it) becomes a prefix
 * (`lun` finds "lunch"), unless the query already says how to match (a `"` or a `*`). A space
 * after the last word searches whole words only.
 */
export function liveQuery(text) {
  const raw = String(text ?? "").slice(0, MAX_QUERY_CHARS);
  const q = raw.trim();
  const letters = (q.match(WORD_CHAR) || []).length;
  if (!letters || (letters < 2 && !CJK.test(q))) return null;
  if (q !== raw.trimStart() || q.includes('"') || q.includes("*")) return q; // a trailing space, or operators
  const last = Array.from(q.match(TRAILING_WORD)?.[0] || "");
  if (last.length >= 2 && !CJK.test(last.at(-1))) return `${q}*`;
  return q;
}

/**
 * The query string of `GET /search` (as an object of strings): `q`, who searches, and the
 * filters that are set (`chat_id`, `from`, `type`), the page size and the cursor of a next page.
 */
export function searchParams({ q, userId, chatId = null, from = null, type = null, cursor = null, limit = SEARCH_PAGE }) {
  const params = { q, user_id: userId, limit: String(limit) };
  if (chatId) params.chat_id = chatId;
  if (from) params.from = from;
  if (type) params.type = type;
  if (cursor) params.cursor = cursor;
  return params;
}

/**
 * Results grouped by chat: `groups` ([{chatId, hits}], as shown so far) with the hits of one more
 * page added, each to its chat's group (a new group after the others, in the order met), each
 * message once. Answers new groups; `groups` is left as it was.
 */
export function groupHits(groups, hits) {
  const out = groups.map((g) => ({ chatId: g.chatId, hits: [...g.hits] }));
  const byChat = new Map(out.map((g) => [g.chatId, g]));
  const seen = new Set(out.flatMap((g) => g.hits.map((hit) => hit.message?.id)));
  for (const hit of Array.isArray(hits) ? hits : []) {
    const id = hit?.message?.id;
    if (!hit?.chat_id || !id || seen.has(id)) continue;
    seen.add(id);
    let group = byChat.get(hit.chat_id);
    if (!group) {
      group = { chatId: hit.chat_id, hits: [] };
      byChat.set(hit.chat_id, group);
      out.push(group);
    }
    group.hits.push(hit);
  }
  return out;
}

/** How many hits the groups hold. */
export function hitCount(groups) {
  return groups.reduce((n, g) => n + g.hits.length, 0);
}
