// E3 and highlighting: outside text is rendered literally inside shadow roots, links are http(s)
// only, and claims are marked by their spans without changing the page's text.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { fakeContentRuntime, loadSitePage, userClick, verifyResult } from "./helpers/extension.mjs";

const HOSTILE_TEXT = "<img src=x onerror=alert(1)>";
const HOSTILE_SNIPPET = "</style><script>alert(1)</script>";
const ANSWER_HTML = `<div data-message-author-role="assistant"><div class="markdown prose" id="answer">
  <p>Use <code>os.path.isdir(p)</code> to test for a directory.</p>
  <pre><code class="language-python">if os.path.isdirectory(p):\n    pass</code></pre>
</div></div>`;

/** The chat page with its answer handed to the controller, wired to a fake background. */
async function handledPage(onMessage, { beforeScripts, maxChars } = {}) {
  const runtime = fakeContentRuntime(onMessage);
  const page = loadSitePage("chatgpt", `<main>${ANSWER_HTML}</main>`, { chrome: runtime.api, beforeScripts });
  const { DocVouch, document } = page;
  const answer = document.getElementById("answer");
  const adapter = DocVouch.adapters.get("chatgpt");
  const extraction = DocVouch.extract.read(answer, maxChars ? { ...adapter, maxChars } : adapter);
  const controller = DocVouch.createAnswerController({ doc: document, send: DocVouch.sendToBackground });
  await controller.handleAnswer({ answer, extraction, key: DocVouch.textKey(extraction.text) });
  const badge = document.querySelector("docvouch-badge");
  return { ...page, answer, extraction, badge, runtime };
}

/** A chat page with one answer, the fake background returning `result`. */
function renderedPage(result, options = {}) {
  return handledPage(async (message) =>
    message.type === "cs-bg-verify" ? { ok: true, result } : { ok: true, enabled: true, mode: "auto" }, options);
}

/** The chat page with its answer handled in on-click mode: a badge waiting for Verify. */
function clickModePage() {
  return handledPage(async (message) =>
    message.type === "cs-bg-verify" ? { ok: true, result: verifyResult([]) } : { ok: true, enabled: true, mode: "click" });
}

function claimFor(text, needle, fields) {
  const start = text.indexOf(needle);
  return { id: `c${start}`, text: needle, span: [start, start + needle.length], kind: "code", score: 0.5, reason: "", symbols: [], evidence: [], ...fields };
}

describe("rendering outside text (E3)", () => {
  test("hostile claim text, reasons and snippets show as literal text; the shadow roots hold no img or script", async () => {
    const text = "Use `os.path.isdir(p)` to test for a directory.";
    const hostile = claimFor(text, "os.path.isdir(p)", {
      verdict: "contradicted", text: HOSTILE_TEXT, reason: HOSTILE_TEXT,
      symbols: [{ name: "x", status: "unknown", suggestion: HOSTILE_TEXT }],
      evidence: [{ title: HOSTILE_SNIPPET, url: "javascript:alert(1)", snippet: HOSTILE_SNIPPET }],
    });
    const { document, DocVouch, badge } = await renderedPage(verifyResult([hostile]));
    const root = DocVouch.render.dom.rootOf(badge);
    userClick(DocVouch, root.querySelector(".dv-summary"));
    assert.equal(root.querySelectorAll("img, script, iframe, object").length, 0);
    assert.equal(root.querySelector(".dv-claim-text").textContent, HOSTILE_TEXT);
    assert.equal(root.querySelector(".dv-snippet").textContent, HOSTILE_SNIPPET);
    assert.equal(root.querySelector(".dv-suggestion code").textContent, HOSTILE_TEXT);
    assert.equal(root.querySelectorAll("a").length, 0, "a javascript: URL is not made into a link");

    const card = DocVouch.render.pageHoverCard(document);
    card.show(hostile, { left: 10, top: 10, bottom: 20, right: 50 });
    assert.equal(card.root.querySelectorAll("img, script").length, 0);
    assert.equal(card.root.querySelector(".dv-reason").textContent, HOSTILE_TEXT);
    assert.equal(document.querySelectorAll("img, script").length, 0, "nothing leaked into the page either");
  });

  test("doc links are http(s), open in a new tab, and send no referrer", async () => {
    const text = "Use `os.path.isdir(p)` to test for a directory.";
    const claim = claimFor(text, "os.path.isdir(p)", {
      verdict: "supported",
      evidence: [{ title: "os.path.isdir", url: "https://docs.python.org/3/library/os.path.html#os.path.isdir", snippet: "Return True if path is an existing directory." }],
    });
    const { badge, DocVouch } = await renderedPage(verifyResult([claim]));
    const link = DocVouch.render.dom.rootOf(badge).querySelector("a.dv-doc-link");
    assert.equal(link.href, "https://docs.python.org/3/library/os.path.html#os.path.isdir");
    assert.equal(link.target, "_blank");
    assert.equal(link.rel, "noopener noreferrer");
  });
});

describe("badge", () => {
  test("reads like the issue's example", async () => {
    const { DocVouch } = loadSitePage("chatgpt", "<main></main>");
    const line = DocVouch.render.format.summaryLine({ score: 72, summary: { claims: 8, supported: 5, partial: 0, unsupported: 2, contradicted: 1 }, claims: [] });
    assert.equal(line, "DocVouch 72 · 5 backed · 1 contradicted · 2 not in docs");
    assert.equal(DocVouch.render.format.summaryLine({ score: null, summary: null, claims: [] }), "DocVouch – · nothing to check");
  });

  test("shows unavailable with a Retry button, and Retry sends one new request", async () => {
    let reply = { ok: false, state: "unavailable", detail: "service not reachable" };
    const { DocVouch, badge, runtime } = await handledPage(async (message) =>
      (message.type === "cs-bg-verify" ? reply : { ok: true, enabled: true, mode: "auto" }));
    assert.equal(badge.dataset.state, "unavailable");
    assert.match(DocVouch.render.dom.rootOf(badge).querySelector(".dv-summary").textContent, /unavailable · service not reachable/);

    reply = { ok: true, result: verifyResult([]) };
    userClick(DocVouch, DocVouch.render.dom.rootOf(badge).querySelector(".dv-action"));
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(badge.dataset.state, "result");
    assert.equal(runtime.sent.filter((m) => m.type === "cs-bg-verify").length, 2);
  });

  test("in on-click mode nothing is sent until the user clicks Verify", async () => {
    const { DocVouch, document, runtime, extraction } = await clickModePage();
    const badge = document.querySelector("docvouch-badge");
    assert.equal(badge.dataset.state, "idle");
    assert.equal(runtime.sent.some((m) => m.type === "cs-bg-verify"), false);
    userClick(DocVouch, DocVouch.render.dom.rootOf(badge).querySelector(".dv-action"));
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(runtime.sent.filter((m) => m.type === "cs-bg-verify").length, 1);
  });
});

describe("what a chat site's own scripts can reach", () => {
  test("the badge's shadow root is closed to the page", async () => {
    const { badge, DocVouch } = await renderedPage(verifyResult([]));
    assert.equal(badge.shadowRoot, null);
    assert.notEqual(DocVouch.render.dom.rootOf(badge), null, "our own scripts still reach it");
  });

  test("a scripted click neither sends the answer in on-click mode nor opens the claims", async () => {
    const { DocVouch, document, runtime, extraction } = await clickModePage();
    const root = DocVouch.render.dom.rootOf(document.querySelector("docvouch-badge"));
    root.querySelector(".dv-action").click();  // untrusted, as a page's element.click() is
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(runtime.sent.some((m) => m.type === "cs-bg-verify"), false);

    const text = extraction.text;
    const shown = await renderedPage(verifyResult([claimFor(text, "os.path.isdir(p)", { verdict: "supported" })]));
    const panel = shown.DocVouch.render.dom.rootOf(shown.badge).querySelector(".dv-panel");
    shown.DocVouch.render.dom.rootOf(shown.badge).querySelector(".dv-summary").click();
    assert.equal(panel.hidden, true);
    userClick(shown.DocVouch, shown.DocVouch.render.dom.rootOf(shown.badge).querySelector(".dv-summary"));
    assert.equal(panel.hidden, false);
  });
});

describe("highlighting claims by span", () => {
  function twoClaims(text) {
    return [
      claimFor(text, "os.path.isdir(p)", { verdict: "supported" }),
      claimFor(text, "os.path.isdirectory(p)", { verdict: "contradicted", symbols: [{ name: "os.path.isdirectory", status: "unknown", suggestion: "os.path.isdir" }] }),
    ];
  }

  test("without the Highlight API, marks wrap exactly the claimed text and the page text is unchanged", async () => {
    const runtimeText = (await renderedPage(verifyResult([]))).extraction.text;
    const page = await renderedPage(verifyResult(twoClaims(runtimeText)));
    const before = page.answer.textContent;
    const marks = [...page.answer.querySelectorAll("mark[data-docvouch-verdict]")].map((mark) => [mark.dataset.docvouchVerdict, mark.textContent]);
    assert.deepEqual(marks, [["supported", "os.path.isdir(p)"], ["contradicted", "os.path.isdirectory(p)"]]);
    assert.equal(page.answer.textContent, before);
    assert.equal(page.badge.dataset.highlights, "2 marks");
  });

  test("with the Highlight API, ranges are registered per verdict and the DOM is left alone", async () => {
    const registry = new Map();
    const install = (window) => {
      window.CSS = { highlights: registry };
      window.Highlight = class { constructor() { this.ranges = new Set(); } add(range) { this.ranges.add(range); } delete(range) { this.ranges.delete(range); } };
    };
    const text = (await renderedPage(verifyResult([]))).extraction.text;
    const page = await renderedPage(verifyResult(twoClaims(text)), { beforeScripts: install });
    assert.equal(page.answer.querySelectorAll("mark").length, 0);
    assert.equal(page.badge.dataset.highlights, "2 highlight-api");
    const [contradicted] = [...registry.get("docvouch-contradicted").ranges];
    assert.equal(contradicted.toString(), "os.path.isdirectory(p)");
    assert.equal(registry.get("docvouch-contradicted").priority > registry.get("docvouch-supported").priority, true);
    const node = contradicted.startContainer;
    assert.equal(page.DocVouch.render.highlighter.claimAt(node, contradicted.startOffset + 3).claim.verdict, "contradicted");
  });

  test("a claim whose span falls outside the text is listed but not highlighted", async () => {
    const text = (await renderedPage(verifyResult([]))).extraction.text;
    const outside = { ...claimFor(text, "os.path.isdir(p)", { verdict: "partial" }), span: [text.length + 5, text.length + 9] };
    const page = await renderedPage(verifyResult([outside]));
    assert.equal(page.answer.querySelectorAll("mark").length, 0);
    userClick(page.DocVouch, page.DocVouch.render.dom.rootOf(page.badge).querySelector(".dv-summary"));
    assert.equal(page.DocVouch.render.dom.rootOf(page.badge).querySelectorAll("li.dv-claim").length, 1);
  });
});

describe("when the background cannot be reached", () => {
  test("an orphaned page (the extension was reloaded) says to reload; a passing failure offers Retry", async () => {
    const runtime = fakeContentRuntime(async () => { throw new Error("Could not establish connection. Receiving end does not exist."); });
    const { DocVouch } = loadSitePage("chatgpt", `<main>${ANSWER_HTML}</main>`, { chrome: runtime.api });
    const passing = await DocVouch.sendToBackground({ type: "cs-bg-verify", payload: { text: "x", trigger: "click" } });
    assert.equal(passing.state, "unavailable");
    assert.match(passing.detail, /try again/);
    runtime.api.runtime.id = undefined; // what Chrome leaves to the scripts of a reloaded extension
    const orphaned = await DocVouch.sendToBackground({ type: "cs-bg-verify", payload: { text: "x", trigger: "click" } });
    assert.equal(orphaned.state, "error");
    assert.match(orphaned.detail, /reload this page/);
  });
});

describe("an answer over the size limit", () => {
  test("the badge says only the first part was checked when the extension cut it", async () => {
    const { DocVouch, badge, extraction } = await renderedPage(verifyResult([]), { maxChars: 30 });
    assert.equal(extraction.truncated, true);
    const footer = DocVouch.render.dom.rootOf(badge).querySelector(".dv-footer");
    assert.match(footer.textContent, /only the first part of the answer was checked/);
  });
});
