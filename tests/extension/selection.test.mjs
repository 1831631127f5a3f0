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

test("only the selected text is sent, as a selection, and its claims are marked", async () => {
  const runtime = fakeContentRuntime(async (message) => {
    if (message.type !== "cs-bg-verify") return { ok: true, enabled: false, mode: "auto" };
    const start = message.payload.text.indexOf("os.path.isdirectory");
    return { ok: true, result: verifyResult([{ id: "c1", text: "os.path.isdirectory", span: [start, start + 19], verdict: "contradicted",
      symbols: [{ name: "os.path.isdirectory", status: "unknown", suggestion: "os.path.isdir" }], evidence: [] }]) };
  });
  const files = selectionScripts();
  const html = "<article><p>Intro that is not selected.</p><p id='s'>Call os.path.isdirectory on the path first.</p></article>";
  const page = loadPage(html, { url: "https://blog.example/post", chrome: runtime.api, files: files.filter((f) => f !== "content/selection.js"),
    // jsdom has no layout; the badge is placed under the selection's box.
    beforeScripts: (window) => { window.Range.prototype.getBoundingClientRect = () => ({ left: 40, top: 100, bottom: 120, right: 300 }); } });
  const textNode = page.document.getElementById("s").firstChild;
  const range = page.document.createRange();
  range.setStart(textNode, 0);
  range.setEnd(textNode, textNode.data.length);
  page.window.getSelection().addRange(range);

  page.window.eval(extensionSource("content/selection.js"));
  for (let i = 0; i < 5; i += 1) await new Promise((resolve) => setImmediate(resolve));

  const verifies = runtime.sent.filter((message) => message.type === "cs-bg-verify");
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
  const files = selectionScripts();
  const code = "import os\nif os.path.isdirectory(p):\n    print(\"dir\")";
  const html = `<article><p>Try this:</p><pre><code id="c" class="language-python">${code}</code></pre></article>`;
  const page = loadPage(html, { url: "https://blog.example/post", chrome: runtime.api, files: files.filter((f) => f !== "content/selection.js"),
    beforeScripts: (window) => { window.Range.prototype.getBoundingClientRect = () => ({ left: 40, top: 100, bottom: 120, right: 300 }); } });
  const textNode = page.document.getElementById("c").firstChild;
  const range = page.document.createRange();
  range.setStart(textNode, 0);
  range.setEnd(textNode, textNode.data.length);
  page.window.getSelection().addRange(range);

  page.window.eval(extensionSource("content/selection.js"));
  for (let i = 0; i < 5; i += 1) await new Promise((resolve) => setImmediate(resolve));

  const verifies = runtime.sent.filter((message) => message.type === "cs-bg-verify");
  assert.equal(verifies.length, 1);
  const sent = verifies[0].payload.text;
  assert.match(sent, /^```/m, "fenced");
  assert.ok(sent.includes(code), JSON.stringify(sent));
  assert.equal(sent.includes("Try this"), false, "only the selection");
});

test("text selected in a text box is checked too (the page's own selection is empty there)", async () => {
  const runtime = fakeContentRuntime(async (message) =>
    message.type === "cs-bg-verify" ? { ok: true, result: verifyResult([]) } : { ok: true, enabled: false, mode: "auto" });
  const files = selectionScripts();
  const html = "<form><textarea id='t'>Draft: call os.path.isdirectory on the path first. Thanks!</textarea></form>";
  const page = loadPage(html, { url: "https://mail.example/compose", chrome: runtime.api, files: files.filter((f) => f !== "content/selection.js") });
  const box = page.document.getElementById("t");
  box.focus();
  box.setSelectionRange(7, 51);

  page.window.eval(extensionSource("content/selection.js"));
  for (let i = 0; i < 5; i += 1) await new Promise((resolve) => setImmediate(resolve));

  const verifies = runtime.sent.filter((message) => message.type === "cs-bg-verify");
  assert.equal(verifies.length, 1);
  assert.equal(verifies[0].payload.text, "call os.path.isdirectory on the path first.");
  const badge = page.document.querySelector("docvouch-badge");
  assert.equal(badge.dataset.state, "result");
  assert.equal(box.value, "Draft: call os.path.isdirectory on the path first. Thanks!", "the text box is untouched");
});
