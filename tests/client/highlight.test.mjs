// Search hits' marks (highlight.js), without a browser: the server's code point offsets turned
// into UTF-16 ranges of JavaScript strings, and the snippet a result shows.
// Run by `node --test tests/client/` (inside scripts/test).
import assert from "node:assert/strict";
import { describe, test } from "node:test";

import {
  SNIPPET_LENGTH, codePointIndex, highlightRuns, snippetRuns, toUtf16Ranges,
} from "../../chatactors/web/static/js/highlight.js";

const marked = (runs) => runs.filter((r) => r.mark).map((r) => r.text);
const whole = (runs) => runs.map((r) => r.text).join("");

describe("code points to UTF-16", () => {
  test("plain ASCII: the offsets are the same", () => {
    assert.deepEqual(toUtf16Ranges("Lunch at noon", [[0, 5]]), [[0, 5]]);
  });

  test("an emoji and a CJK character outside the BMP count once each on the server, twice here", () => {
    // 😀 (U+1F600) and 𠮷 (U+20BB7) are surrogate pairs in JavaScript.
    const content = "😀 lunch 𠮷 café";
    assert.deepEqual(codePointIndex("😀a"), [0, 2, 3]);
    // Server offsets: "lunch" is code points 2..7, "café" 10..14.
    const runs = highlightRuns(content, [[2, 7], [10, 14]]);
    assert.deepEqual(marked(runs), ["lunch", "café"]);
    assert.equal(whole(runs), content);
    // Taken as UTF-16 offsets they would cut the wrong letters: the conversion matters.
    assert.notEqual(content.slice(2, 7), "lunch");
  });

  test("combining accents are code points of their own, as on the server", () => {
    const content = "cafe\u0301 cafe"; // "café" with a combining acute accent: 5 code points
    assert.deepEqual(marked(highlightRuns(content, [[0, 5], [6, 10]])), ["cafe\u0301", "cafe"]);
  });

  test("overlapping and touching spans merge; order does not matter", () => {
    assert.deepEqual(toUtf16Ranges("abcdefghij", [[6, 8], [0, 3], [2, 4], [4, 5]]), [[0, 5], [6, 8]]);
  });

  test("malformed spans are dropped, spans past the end are cut to it", () => {
    const text = "hello";
    assert.deepEqual(toUtf16Ranges(text, [[3, 2], [-1, 2], [1.5, 3], ["0", 2], [9, 12], [3, 99], null, [1]]), [[3, 5]]);
    assert.deepEqual(toUtf16Ranges(text, "nonsense"), []);
    assert.deepEqual(highlightRuns("", []), [{ text: "", mark: false }]);
  });
});

describe("the snippet of a hit", () => {
  test("a short message whole, its line breaks as spaces", () => {
    const runs = snippetRuns("see you\nat lunch", [[11, 16]]);
    assert.equal(whole(runs), "see you at lunch");
    assert.deepEqual(marked(runs), ["lunch"]);
  });

  test("a long one cut around its first match, at a word, with ellipses", () => {
    const words = Array.from({ length: 200 }, (_, i) => `w${i}`);
    words[120] = "needle";
    const content = words.join(" ");
    const start = Array.from(content).indexOf("n");
    const runs = snippetRuns(content, [[start, start + 6]]);
    const text = whole(runs);
    assert.ok(text.startsWith("…w"), text);
    assert.ok(text.endsWith("…"), text);
    assert.deepEqual(marked(runs), ["needle"]);
    assert.ok(Array.from(text).length <= SNIPPET_LENGTH + 2);
    const before = text.slice(1, text.indexOf("needle"));
    assert.ok(before.length >= 25 && before.length <= 45, before);
  });

  test("astral characters before the match do not shift it", () => {
    const content = `${"😀".repeat(300)} target ${"x".repeat(300)}`;
    const runs = snippetRuns(content, [[301, 307]]);
    assert.deepEqual(marked(runs), ["target"]);
  });
});
