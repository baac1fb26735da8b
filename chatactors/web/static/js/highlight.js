// A search hit's text with its matches marked (docs/API.md, "Search"). The server gives each
// match as [start, end) in Unicode code points; JavaScript strings count UTF-16 units, in
// which an emoji or a rare CJK character takes two, so the offsets are converted before the
// text is cut. Also the snippet a result shows: a long message cut down around its first match.
// Pure: no DOM (tests/client/highlight.test.mjs); the views turn runs into text and <mark>s.

/** Code points kept before the first match in a snippet, and the snippet's length. */
export const SNIPPET_BEFORE = 40;
export const SNIPPET_LENGTH = 180;
const ELLIPSIS = "…";

/** The UTF-16 index of every code point boundary: out[i] is where code point i starts. */
export function codePointIndex(text) {
  const out = [0];
  let at = 0;
  for (const ch of text) {
    at += ch.length;
    out.push(at);
  }
  return out;
}

/**
 * Highlights ([start, end) in code points) as UTF-16 ranges of `text`: in order, overlapping
 * or touching ones merged, each cut to the text; malformed ones (not integers, empty, outside
 * the text) dropped, so a bad answer can never break the page.
 */
export function toUtf16Ranges(text, highlights) {
  const index = codePointIndex(String(text ?? ""));
  const length = index.length - 1;
  const spans = [];
  for (const pair of Array.isArray(highlights) ? highlights : []) {
    if (!Array.isArray(pair)) continue;
    const [start, end] = pair;
    if (!Number.isInteger(start) || !Number.isInteger(end) || start < 0 || start >= length || end <= start) continue;
    spans.push([index[start], index[Math.min(end, length)]]);
  }
  return mergeRanges(spans);
}

function mergeRanges(spans) {
  spans.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  const merged = [];
  for (const [start, end] of spans) {
    const last = merged.at(-1);
    if (last && start <= last[1]) last[1] = Math.max(last[1], end);
    else merged.push([start, end]);
  }
  return merged;
}

/** `text` as runs, marked or not, in order: [{text, mark}], covering it all. */
export function markRuns(text, ranges) {
  const runs = [];
  let at = 0;
  for (const [start, end] of ranges) {
    if (start > at) runs.push({ text: text.slice(at, start), mark: false });
    runs.push({ text: text.slice(start, end), mark: true });
    at = end;
  }
  if (at < text.length || !runs.length) runs.push({ text: text.slice(at), mark: false });
  return runs;
}

/** The whole content of a hit as runs with its matches marked. */
export function highlightRuns(content, highlights) {
  const text = String(content ?? "");
  return markRuns(text, toUtf16Ranges(text, highlights));
}

/**
 * What a result shows of a hit: at most `length` code points of its content, starting a little
 * before its first match (at a word's start if one is near), with "…" where it was cut and its
 * white space (line breaks, tabs) shown as plain spaces, so that it stays on its lines.
 */
export function snippetRuns(content, highlights, { before = SNIPPET_BEFORE, length = SNIPPET_LENGTH } = {}) {
  const text = String(content ?? "");
  const chars = Array.from(text);
  const ranges = toUtf16Ranges(text, highlights);
  let from = 0;
  let to = chars.length;
  if (chars.length > length) {
    const index = codePointIndex(text);
    const first = ranges.length ? index.indexOf(ranges[0][0]) : 0;
    from = Math.max(0, first - before);
    // Start at a word rather than inside one, if a space is a few characters on.
    if (from > 0) {
      const space = chars.slice(from, first).findIndex((ch) => /\s/u.test(ch));
      if (space !== -1 && space < 12) from += space + 1;
    }
    to = Math.min(chars.length, from + length);
    const start16 = index[from];
    const end16 = index[to];
    const cut = ranges
      .filter(([s, e]) => e > start16 && s < end16)
      .map(([s, e]) => [Math.max(s, start16) - start16, Math.min(e, end16) - start16]);
    const runs = markRuns(text.slice(start16, end16), cut);
    return flatten(runs, from > 0, to < chars.length);
  }
  return flatten(markRuns(text, ranges), false, false);
}

function flatten(runs, cutStart, cutEnd) {
  const out = runs.map((run) => ({ text: run.text.replace(/\s/gu, " "), mark: run.mark }));
  if (cutStart) out.unshift({ text: ELLIPSIS, mark: false });
  if (cutEnd) out.push({ text: ELLIPSIS, mark: false });
  return out.filter((run) => run.text !== "" || out.length === 1);
}
