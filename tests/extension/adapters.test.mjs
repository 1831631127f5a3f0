// E6: every site adapter finds every answer in its saved-shape fixture pages (the current DOM and
// one older snapshot), reads each back with code kept, and tells a streaming answer from a finished one.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { fixtureHtml, loadSitePage } from "./helpers/extension.mjs";

const FIXTURES = {
  chatgpt: ["chatgpt-2026.html", "chatgpt-2023.html"],
  claude: ["claude-2026.html", "claude-2024.html"],
  gemini: ["gemini-2026.html", "gemini-2024.html"],
  copilot: ["copilot-2026.html", "copilot-2024.html"],
  perplexity: ["perplexity-2026.html", "perplexity-2024.html"],
  deepseek: ["deepseek-2026.html", "deepseek-2025.html"],
};

// Every fixture holds the same two answers, written in each site's own DOM.
const FIRST_ANSWER = [
  "To check whether a path is a directory, use `os.path.isdir()`.",
  "",
  "```python",
  "import os",
  "if os.path.isdir(p):",
  '    print("directory")',
  "```",
  "",
  "It returns `True` if path is an existing directory.",
].join("\n");
const SECOND_ANSWER = [
  "1. `pathlib.Path.is_dir()` does the same for `Path` objects.",
  "2. `os.path.exists()` is also true for regular files.",
].join("\n");

function readAnswers(page, siteId) {
  const { DocVouch, document } = page;
  const adapter = DocVouch.adapters.get(siteId);
  return [...DocVouch.answers.find(adapter, document)].map((answer) => DocVouch.extract.read(answer, adapter).text);
}

for (const [siteId, files] of Object.entries(FIXTURES)) {
  describe(`${siteId} adapter`, () => {
    for (const file of files) {
      test(`finds both answers and reads them back as markdown in ${file}`, () => {
        const page = loadSitePage(siteId, fixtureHtml(file));
        assert.deepEqual(readAnswers(page, siteId), [FIRST_ANSWER, SECOND_ANSWER]);
      });

      test(`never reads the user's own messages in ${file}`, () => {
        const page = loadSitePage(siteId, fixtureHtml(file));
        for (const text of readAnswers(page, siteId)) assert.doesNotMatch(text, /How do I check|And with pathlib\?/);
      });
    }

    test("the last answer counts as streaming while the site shows its streaming signal", () => {
      const page = loadSitePage(siteId, fixtureHtml(files[0]));
      const { DocVouch, document } = page;
      const adapter = DocVouch.adapters.get(siteId);
      const answers = DocVouch.answers.find(adapter, document);
      const last = answers[answers.length - 1];
      const isStreaming = (answer) => DocVouch.answers.isStreaming(adapter, answer, { isLast: answer === last });
      assert.equal(answers.some(isStreaming), false, "finished page");

      const signal = adapter.streaming[0];
      if (signal.scope === "page") {
        document.body.insertAdjacentHTML("beforeend", streamingMarkup(signal.selector));
        assert.equal(isStreaming(last), true, "stop button shown: last answer streams");
        assert.equal(isStreaming(answers[0]), false, "older answers are finished");
      } else {
        setStreamingFlag(document, last, signal.selector);
        assert.equal(isStreaming(last), true);
        assert.equal(isStreaming(answers[0]), false);
      }
    });
  });
}

/** Markup matching a page-scoped selector such as button[data-testid="stop-button"]. */
function streamingMarkup(selector) {
  const first = selector.split(",")[0].trim();
  const match = /^(\w+)?((?:\[[^\]]+\])*)$/.exec(first);
  const tag = match?.[1] ?? "div";
  const attributes = [...(match?.[2] ?? "").matchAll(/\[([\w-]+)="([^"]*)"\]/g)].map(([, name, value]) => `${name}="${value}"`).join(" ");
  return `<${tag} ${attributes}></${tag}>`;
}

/** Turn an answer-scoped selector (an attribute or class flag) on for the answer or its wrapper. */
function setStreamingFlag(document, answer, selector) {
  const attribute = /^\[([\w-]+)="([^"]*)"\]$/.exec(selector);
  if (attribute) {
    const holder = answer.closest(`[${attribute[1]}]`) ?? answer;
    holder.setAttribute(attribute[1], attribute[2]);
    return;
  }
  answer.classList.add(selector.replace(/^\./, ""));
}
