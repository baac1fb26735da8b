// A window of a chat's history away from its live end: the messages around a search result
// that is further back than the pages held, loaded with `before_seq`/`after_seq` (docs/API.md,
// "Search": there is no "around" parameter; these two pages are it) instead of every page in
// between. The chat then holds two runs of messages with a gap between them: the window (older)
// and the live end (the newest pages, which every new message joins). The conversation shows
// one of them: the window while the reader is in it (`chat.inWindow`), else the live end. Paging
// extends the window both ways; once nothing is missing between it and the live end (its newer
// pages reached them, or the live end's older pages reached it) the two are one run again and
// the window is gone. Pure, like store.js: no DOM, no network, no timers (tests/client/).

/** Messages loaded on each side of a message shown from afar. */
export const AROUND = 25;

/** The messages the conversation shows, in order: the window's, or the live end's. */
export function shownMessages(chat) {
  const w = chat.window;
  if (!w) return chat.sorted;
  if (chat.inWindow) return chat.sorted.filter((m) => Number.isFinite(m.seq) && m.seq >= w.from && m.seq <= w.to);
  return chat.sorted.filter((m) => !Number.isFinite(m.seq) || m.seq > w.to);
}

/** Where the shown run's older page starts: `{beforeSeq, more}` (`more`: there may be one). */
export function olderPage(chat) {
  const w = chat.window;
  if (w && chat.inWindow) return { beforeSeq: w.from, more: w.hasOlder, windowed: true };
  if (w) return { beforeSeq: liveFrom(chat), more: true, windowed: false }; // the gap, at least
  return { beforeSeq: chat.oldestSeq, more: chat.hasMore, windowed: false };
}

/** Whether the shown run has older messages to load. */
export const hasOlder = (chat) => olderPage(chat).more && Number.isFinite(olderPage(chat).beforeSeq);

/**
 * The runs of messages held, each to be read again as one page (client.js, after `ready`): the
 * live end, and the window if there is one (not the gap between them).
 */
export function heldRuns(chat) {
  if (!chat.seqs.size) return [];
  const newest = newestHeld(chat);
  const w = chat.window;
  if (!w) return [{ from: chat.oldestSeq ?? newest, to: newest }];
  const live = liveFrom(chat);
  return [{ from: w.from, to: w.to }, ...(live === null ? [] : [{ from: live, to: newest }])];
}

/** The lowest seq of the live end (above the window). */
function liveFrom(chat) {
  let low = Infinity;
  for (const seq of chat.seqs) if (seq > chat.window.to && seq < low) low = seq;
  return Number.isFinite(low) ? low : null;
}

function newestHeld(chat) {
  let high = -Infinity;
  for (const seq of chat.seqs) if (seq > high) high = seq;
  return high;
}

const seqsOf = (page) => (Array.isArray(page) ? page : []).map((m) => m?.seq).filter(Number.isFinite);

/**
 * The pages around a message far back (`older`: `before_seq=S+1`, ending with it; `newer`:
 * `after_seq=S`, each asked for `limit` messages, read when the chat stood at `covers`): held,
 * as the window. A window held before that this one does not touch is forgotten (the chat holds
 * at most two runs). Answers whether anything was loaded.
 */
export function openWindow(store, chat, older, newer, { covers = -1, limit = AROUND } = {}) {
  const seqs = [...seqsOf(older), ...seqsOf(newer)];
  if (!seqs.length) return false;
  const from = Math.min(...seqs);
  const to = Math.max(...seqs);
  const hasOlderThanIt = seqsOf(older).length >= limit && from > 1;
  const old = chat.window;
  if (old && (old.to + 1 < from || to + 1 < old.from)) dropRun(chat, old);
  else if (old) {
    // Overlapping the window held: one window, as wide as both.
    chat.window = {
      from: Math.min(old.from, from), to: Math.max(old.to, to), hasOlder: from < old.from ? hasOlderThanIt : old.hasOlder,
    };
  }
  if (!chat.window) chat.window = { from, to, hasOlder: hasOlderThanIt };
  chat.inWindow = true;
  store.mergePage(chat, older, { covers });
  store.mergePage(chat, newer, { covers });
  settleWindow(chat, { reachedEnd: seqsOf(newer).length < limit });
  return true;
}

/** A page before the window (`before_seq=from`, `limit` asked for). */
export function addOlderToWindow(store, chat, page, { covers = -1, limit } = {}) {
  const w = chat.window;
  store.mergePage(chat, page, { covers });
  if (!w) return;
  const seqs = seqsOf(page);
  if (seqs.length) w.from = Math.min(w.from, ...seqs);
  w.hasOlder = seqs.length >= limit && w.from > 1;
}

/** A page after the window (`after_seq=to`, `limit` asked for): its newer side grows. */
export function addNewerToWindow(store, chat, page, { covers = -1, limit } = {}) {
  const w = chat.window;
  store.mergePage(chat, page, { covers });
  if (!w) return;
  const seqs = seqsOf(page);
  if (seqs.length) w.to = Math.max(w.to, ...seqs);
  settleWindow(chat, { reachedEnd: seqs.length < limit });
}

/**
 * After messages were added: the window takes in the messages held right after it, and once
 * that reaches the live end (or its newer pages came to the end of the chat) it is gone: the
 * chat is one run again, shown whole. Answers whether it went.
 */
export function settleWindow(chat, { reachedEnd = false } = {}) {
  const w = chat.window;
  if (!w) return false;
  while (chat.seqs.has(w.to + 1)) w.to += 1;
  if (!reachedEnd && w.to < newestHeld(chat)) return false;
  chat.hasMore = w.hasOlder; // the window was the older end of the history held
  chat.window = null;
  chat.inWindow = false;
  chat._sorted = null;
  return true;
}

/** Show the run that holds this seq: the window if it is in it, else the live end. */
export function showRunOf(chat, seq) {
  const w = chat.window;
  chat.inWindow = !!w && Number.isFinite(seq) && seq >= w.from && seq <= w.to;
}

/** Back to the live end (the window stays held, out of sight, until its gap is filled). */
export function leaveWindow(chat) {
  chat.inWindow = false;
}

/** Forget a run of messages (a window no longer shown and apart from the new one). */
function dropRun(chat, run) {
  for (const [key, m] of chat.messages) {
    if (m._local || !Number.isFinite(m.seq) || m.seq < run.from || m.seq > run.to) continue;
    chat.messages.delete(key);
    if (m.id) chat.byId.delete(m.id);
    chat.seqs.delete(m.seq);
  }
  let low = Infinity;
  for (const seq of chat.seqs) low = Math.min(low, seq);
  chat.oldestSeq = Number.isFinite(low) ? low : null;
  chat.window = null;
  chat.inWindow = false;
  chat._sorted = null;
}
