// "Verify with DocVouch" on selected text: the injected scripts read only the selection and
// show the result in a floating badge, with the claims highlighted in place.
import assert from "node:assert/strict";
import { test } from "node:test";
import { extensionSource, fakeContentRuntime, loadPage, userClick, verifyResult } from "./helpers/extension.mjs";

/** The files the background injects, read from context-menu.js so the test follows any change. */
function selectionScripts() {
  const source = extensionSource("background/context-menu.js");
  const list = /SELECTION_SCRIPTS = Object\.freeze\(\[(.*?)\]\)/s.exec(source)[1];
  return [...list.matchAll(/"([^"]+)"/g)].map(([, file]) => file);
}

/**
 * A page at `url` with the selection scripts' dependencies loaded, `select(document)` run to
 * make the user's selection, then selection.js injected as the menu does. Returns the page
 * and the verify messages it sent.
 */
async function verifySelection(runtime, html, select, url = "https://blog.example/post") {
  const page = loadPage(html, { url, chrome: runtime.api, files: selectionScripts().filter((f) => f !== "content/selection.js"),
    // jsdom has no layout; the badge is placed under the selection's box.
    beforeScripts: (window) => { window.Range.prototype.getBoundingClientRect = () => ({ left: 40, top: 100, bottom: 120, right: 300 }); } });
  select(page.document);
  page.window.eval(extensionSource("content/selection.js"));
  for (let i = 0; i < 5; i += 1) await new Promise((resolve) => setImmediate(resolve));
  return { page, verifies: runtime.sent.filter((message) => message.type === "cs-bg-verify") };
}

/** Selects the whole text of the element with id `id`. */
const selectAllOf = (id) => (document) => {
  const textNode = document.getElementById(id).firstChild;
  const range = document.createRange();
  range.setStart(textNode, 0);
  range.setEnd(textNode, textNode.data.length);
  document.defaultView.getSelection().addRange(range);
};

test("only the selected text is sent, as a selection, and its claims are marked", async () => {
  const runtime = fakeContentRuntime(async (message) => {
    if (message.type !== "cs-bg-verify") return { ok: true, enabled: false, mode: "auto" };
    const start = message.payload.text.indexOf("os.path.isdirectory");
    return { ok: true, result: verifyResult([{ id: "c1", text: "os.path.isdirectory", span: [start, start + 19], verdict: "contradicted",
      symbols: [{ name: "os.path.isdirectory", status: "unknown", suggestion: "os.path.isdir" }], evidence: [] }]) };
  });
  const html = "<article><p>Intro that is not selected.</p><p id='s'>Call os.path.isdirectory on the path first.</p></article>";
  const { page, verifies } = await verifySelection(runtime, html, selectAllOf("s"));
  assert.equal(verifies.length, 1);
  assert.deepEqual({ ...verifies[0].payload }, { text: "Call os.path.isdirectory on the path first.", trigger: "selection" });
  const badge = page.document.querySelector("docvouch-badge");
  assert.equal(badge.parentElement, page.document.documentElement, "floating, outside the page's own layout");
  assert.equal(badge.dataset.state, "result");
  assert.equal(page.document.querySelector("mark[data-docvouch-verdict='contradicted']").textContent, "os.path.isdirectory");

  userClick(page.DocVouch, page.DocVouch.render.dom.rootOf(badge).querySelector(".dv-close"));
  assert.equal(page.document.querySelector("docvouch-badge"), null);
  assert.equal(page.document.querySelector("mark"), null, "closing removes the highlights too");
  assert.equal(page.document.getElementById("s").textContent, "Call os.path.isdirectory on the path first.");
});

test("a selection inside a code block is sent as fenced code, its lines kept", async () => {
  const runtime = fakeContentRuntime(async (message) =>
    message.type === "cs-bg-verify" ? { ok: true, result: verifyResult([]) } : { ok: true, enabled: false, mode: "auto" });
  const code = "import os\nif os.path.isdirectory(p):\n    print(\"dir\")";
  const html = `<article><p>Try this:</p><pre><code id="c" class="language-python">${code}</code></pre></article>`;
  const { verifies } = await verifySelection(runtime, html, selectAllOf("c"));
  assert.equal(verifies.length, 1);
  const sent = verifies[0].payload.text;
  assert.match(sent, /^```/m, "fenced");
  assert.ok(sent.includes(code), JSON.stringify(sent));
  assert.equal(sent.includes("Try this"), false, "only the selection");
});

test("text selected in a text box is checked too (the page's own selection is empty there)", async () => {
  const runtime = fakeContentRuntime(async (message) =>
    message.type === "cs-bg-verify" ? { ok: true, result: verifyResult([]) } : { ok: true, enabled: false, mode: "auto" });
  const html = "<form><textarea id='t'>Draft: call os.path.isdirectory on the path first. Thanks!</textarea></form>";
  const { page, verifies } = await verifySelection(runtime, html, (document) => {
    const box = document.getElementById("t");
    box.focus();
    box.setSelectionRange(7, 51);
  }, "https://mail.example/compose");
  const box = page.document.getElementById("t");
  assert.equal(verifies.length, 1);
  assert.equal(verifies[0].payload.text, "call os.path.isdirectory on the path first.");
  const badge = page.document.querySelector("docvouch-badge");
  assert.equal(badge.dataset.state, "result");
  assert.equal(box.value, "Draft: call os.path.isdirectory on the path first. Thanks!", "the text box is untouched");
});
