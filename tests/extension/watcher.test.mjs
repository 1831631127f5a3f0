// E7: while an answer streams, a storm of DOM mutations costs one timer and sends nothing; once the
// answer is finished (streaming signal gone, then quiet for the debounce) it is sent exactly once.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { fakeContentRuntime, fixtureHtml, loadSitePage, manualClock, verifyResult } from "./helpers/extension.mjs";

const flushMutations = () => new Promise((resolve) => setImmediate(resolve));

/** chatgpt-streaming.html with the content scripts, a manual clock, and a counting fake background. */
async function streamingPage() {
  const runtime = fakeContentRuntime(async (message) => {
    if (message.type === "cs-bg-get-site-settings") return { ok: true, enabled: true, mode: "auto" };
    if (message.type === "cs-bg-verify") return { ok: true, result: verifyResult([]) };
    return { ok: false, state: "rejected" };
  });
  const page = loadSitePage("chatgpt", fixtureHtml("chatgpt-streaming.html"), { chrome: runtime.api });
  const { DocVouch, document } = page;
  const clock = manualClock();
  let watcher = null;
  const handled = [];
  const controller = DocVouch.createAnswerController({
    doc: document,
    send: DocVouch.sendToBackground,
    mutate: (change) => watcher.withoutObserving(change),
  });
  watcher = DocVouch.createAnswerWatcher({
    adapter: DocVouch.adapters.get("chatgpt"),
    document,
    clock,
    onAnswer: (found) => handled.push(controller.handleAnswer(found)),
    isShown: (answer) => controller.isShown(answer),
  });
  watcher.start();
  const verifies = () => runtime.sent.filter((message) => message.type === "cs-bg-verify");
  const settle = async () => {
    await flushMutations();
    clock.advance(DocVouch.limits.COMPLETION_DEBOUNCE_MS + 1);
    await Promise.all(handled);
    await flushMutations();
  };
  return { ...page, clock, watcher, runtime, verifies, settle, answer: () => document.getElementById("answer") };
}

function finishStreaming(document) {
  document.getElementById("answer").classList.remove("result-streaming");
  document.querySelector('[data-testid="stop-button"]').dataset.testid = "send-button";
}

describe("answer watcher (E7)", () => {
  test("10,000 mutations in one second while streaming, then one request for the finished answer", async () => {
    const { document, clock, verifies, settle, answer } = await streamingPage();
    const paragraph = document.createElement("p");
    const text = document.createTextNode("");
    paragraph.append(text);
    answer().append(paragraph);
    for (let i = 0; i < 10_000; i += 1) {
      text.appendData(i % 7 === 0 ? " " : "x");
      if (i % 100 === 99) {
        await flushMutations();
        clock.advance(10); // 100 mutations every 10 ms: 10,000 in one second
      }
    }
    await flushMutations();
    assert.equal(verifies().length, 0, "nothing sent while streaming");
    assert.ok(clock.pending() <= 1, "the storm keeps at most one timer");

    finishStreaming(document);
    await settle();
    assert.equal(verifies().length, 1);
    assert.equal(verifies()[0].payload.text, answer().textContent.replace(/\s+/g, " ").trim());
  });

  test("a pause longer than the debounce while the stop button shows sends nothing", async () => {
    const { document, clock, verifies, settle, answer } = await streamingPage();
    answer().append(Object.assign(document.createElement("p"), { textContent: "Partial answer that stalls for a while…" }));
    await flushMutations();
    clock.advance(5_000);
    await flushMutations();
    assert.equal(verifies().length, 0);
    answer().lastChild.append(" and then finishes.");
    finishStreaming(document);
    await settle();
    assert.equal(verifies().length, 1);
    assert.match(verifies()[0].payload.text, /and then finishes\.$/);
  });

  test("a re-rendered answer with the same text gets its badge back without a new request", async () => {
    const { document, verifies, settle, answer } = await streamingPage();
    answer().append(Object.assign(document.createElement("p"), { textContent: "os.path.isdir returns True for directories." }));
    finishStreaming(document);
    await settle();
    assert.equal(verifies().length, 1);

    const copy = answer().cloneNode(true);
    answer().replaceWith(copy);
    await settle();
    assert.equal(verifies().length, 1, "no second request");
    assert.equal(document.querySelectorAll("docvouch-badge").length, 1, "the old badge went with the old answer");
    assert.equal(copy.nextElementSibling.localName, "docvouch-badge");
    assert.equal(copy.nextElementSibling.dataset.state, "result");
  });

  test("typing elsewhere on the page does not read the finished answers again", async () => {
    const { DocVouch, document, verifies, settle, answer } = await streamingPage();
    answer().append(Object.assign(document.createElement("p"), { textContent: "os.path.isdir returns True for directories." }));
    finishStreaming(document);
    await settle();
    assert.equal(verifies().length, 1);

    const reads = [];
    const extract = DocVouch.extract;
    DocVouch.extract = { ...extract, read: (root, options) => { reads.push(root); return extract.read(root, options); } };
    const composer = document.createElement("div");
    document.body.append(composer);
    for (const letter of "a follow-up question") {
      composer.textContent += letter; // the page changes, outside every answer
      await settle();
    }
    assert.deepEqual(reads, [], "no answer was read again");

    answer().lastChild.append(" Edited.");
    await settle();
    assert.deepEqual(reads, [answer()], "an answer that changed is read again");
    DocVouch.extract = extract;
  });

  test("our own badge and highlights do not count as page activity", async () => {
    const { document, clock, verifies, settle, answer } = await streamingPage();
    answer().append(Object.assign(document.createElement("p"), { textContent: "os.path.isdir returns True for directories." }));
    finishStreaming(document);
    await settle();
    assert.equal(clock.pending(), 0, "rendering the badge armed no new timer");
    await settle();
    assert.equal(verifies().length, 1);
  });
});
