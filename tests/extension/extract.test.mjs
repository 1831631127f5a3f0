// Reading an answer back as markdown-like text while keeping a map to the page's text nodes.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { loadPage } from "./helpers/extension.mjs";

const FILES = ["shared/limits.js", "shared/sites.js", "content/common.js", "content/extract.js", "content/spans.js"];

function read(html, options = {}) {
  const page = loadPage(`<div id="answer">${html}</div>`, { url: "https://example.test/", files: FILES });
  const root = page.document.getElementById("answer");
  return { ...page.DocVouch.extract.read(root, options), page, root };
}

describe("text extraction", () => {
  test("keeps fenced code with its language and inline code in backticks", () => {
    const { text } = read('<p>Call <code>os.path.isdir</code>.</p><pre><code class="language-python">import os\nprint(1)\n</code></pre>');
    assert.equal(text, "Call `os.path.isdir`.\n\n```python\nimport os\nprint(1)\n```");
  });

  test("keeps the indentation inside code blocks but collapses prose whitespace", () => {
    const { text } = read("<p>  two\n   spaces  </p><pre><code>if x:\n    y()</code></pre>");
    assert.equal(text, "two spaces\n\n```\nif x:\n    y()\n```");
  });

  test("writes headings, nested lists and table rows as markdown", () => {
    const { text } = read("<h2>Setup</h2><ul><li>one<ul><li>inner</li></ul></li><li>two</li></ul><table><tr><td>a</td><td>b</td></tr></table>");
    assert.equal(text, "## Setup\n\n- one\n  - inner\n- two\n\n| a | b");
  });

  test("leaves out buttons, hidden text and the adapter's skipped UI", () => {
    const { text } = read('<p>Keep<button>Copy</button> this<span aria-hidden="true">icon</span></p><div class="label">python</div>', { skip: [".label"] });
    assert.equal(text, "Keep this");
  });

  test("leaves out DocVouch's own elements", () => {
    const { text } = read('<p>Answer text here.</p><docvouch-badge data-docvouch="">DocVouch 72</docvouch-badge>');
    assert.equal(text, "Answer text here.");
  });

  test("cuts at MAX_ANSWER_CHARS and says so", () => {
    const { text, truncated } = read(`<p>${"word ".repeat(30)}</p>`, { maxChars: 20 });
    assert.equal(text.length <= 20, true);
    assert.equal(truncated, true);
  });

  test("reads only the selected part of a page for verify-selection", () => {
    const { page, root } = read("<p>First sentence here. Second one is selected.</p><p>Not this.</p>");
    const textNode = root.querySelector("p").firstChild;
    const range = page.document.createRange();
    range.setStart(textNode, textNode.data.indexOf("Second"));
    range.setEnd(textNode, textNode.data.length);
    assert.equal(page.DocVouch.extract.read(root, { clip: range }).text, "Second one is selected.");
  });
});

describe("text map", () => {
  test("maps every page character of the text back to its node and offset", () => {
    const { text, map } = read("<p>Use <code>os.path.isdir(p)</code> to   check.</p>");
    const start = text.indexOf("os.path.isdir");
    const pieces = map.nodeRanges(start, start + "os.path.isdir(p)".length);
    assert.equal(pieces.length, 1);
    assert.equal(pieces[0].node.data.slice(pieces[0].start, pieces[0].end), "os.path.isdir(p)");
  });

  test("a span across elements covers each text node once, and snaps past our backticks", () => {
    const { text, map } = read("<p>Use <code>isdir</code> to   check.</p>");
    assert.equal(text, "Use `isdir` to check.");
    const pieces = [...map.nodeRanges(0, text.length)].map(({ node, start, end }) => node.data.slice(start, end));
    assert.deepEqual(pieces, ["Use ", "isdir", " to   check."]);
  });

  test("a DOM range over a span selects the same words on the page", () => {
    const { text, map } = read("<p>Alpha <b>beta</b> gamma.</p>");
    const start = text.indexOf("beta");
    const range = map.domRange(start, text.indexOf("."));
    assert.equal(range.toString(), "beta gamma");
  });

  test("a span over only our own markup maps to nothing", () => {
    const { map } = read("<pre><code>x = 1</code></pre>");
    assert.equal(map.nodeRanges(0, 3).length, 0); // the opening fence
    assert.equal(map.domRange(0, 3), null);
  });
});

describe("service spans", () => {
  test("code-point spans from Python become UTF-16 offsets after an emoji", () => {
    const page = loadPage("<p></p>", { url: "https://example.test/", files: FILES });
    const { spans } = page.DocVouch;
    const text = "🎉 Use os.path.isdir here";
    const toUtf16 = spans.codePointIndex(text);
    const codePointStart = [...text].indexOf("o"); // 5 code points in; 6 UTF-16 units
    const span = spans.toUtf16([codePointStart, codePointStart + 13], toUtf16, text.length);
    assert.equal(text.slice(span[0], span[1]), "os.path.isdir");
  });

  test("spans over the service's NFC text land on the same words in decomposed page text", () => {
    const page = loadPage("<p></p>", { url: "https://example.test/", files: FILES });
    const { spans } = page.DocVouch;
    // "é" and "è" decomposed (NFC joins each pair), an emoji (two UTF-16 units), and Hindi
    // "क़" as U+0958, which NFC splits into two code points
    for (const text of ["Cafe\u0301 cre\u0300me \uD83C\uDF89: call os.path.isdirectory(p) to check a folder.",
      "\u0958\u0958\u0958 call os.path.isdirectory(p) to check a folder."]) {
      assertLandsOn(spans, text, "os.path.isdirectory(p)");
    }
  });

  function assertLandsOn(spans, text, needle) {
    const service = text.normalize("NFC"); // what the service reads and counts in
    const codePointStart = [...service.slice(0, service.indexOf(needle))].length;
    const span = spans.toUtf16([codePointStart, codePointStart + needle.length], spans.codePointIndex(text), text.length);
    assert.equal(text.slice(span[0], span[1]), needle, JSON.stringify(text));
  }

  test("malformed or empty spans are dropped instead of highlighting the wrong text", () => {
    const page = loadPage("<p></p>", { url: "https://example.test/", files: FILES });
    const { spans } = page.DocVouch;
    const identity = spans.codePointIndex("plain");
    for (const bad of [null, [3], [4, 2], [1.5, 3], [-1, 2], [10, 12], "0,3"]) {
      assert.equal(spans.toUtf16(bad, identity, 5), null, JSON.stringify(bad));
    }
  });
});
