"use strict";
// Gemini (gemini.google.com). Angular custom elements; selectors newest first, with dated notes.
DocVouch.adapters.register({
  id: "gemini",
  answers: [
    {
      selector: "model-response message-content .markdown",
      note: "2026-11-25: <model-response> holds <message-content> whose .markdown div is the rendered reply",
    },
    {
      selector: ".model-response-text .markdown",
      note: "2026-11-25: Bard-era class on the reply wrapper. TODO remove after 2027-05-31",
    },
  ],
  streaming: [
    {
      selector: '[aria-busy="true"]',
      scope: "answer",
      note: "2026-11-25: message-content is aria-busy while the reply is generated",
    },
    {
      selector: 'button[aria-label="Stop response"]',
      scope: "page",
      note: "2026-11-25: the send button turns into a stop button while generating",
    },
  ],
  skip: [
    ".code-block-decoration",
    ".cdk-visually-hidden",
    "sources-list",
  ],
  codeLanguage(pre) {
    const label = pre.closest("code-block")?.querySelector(".code-block-decoration span");
    return DocVouch.adapters.defaultCodeLanguage(pre) || (label?.textContent.trim().toLowerCase() ?? "");
  },
});

// Test URLs (check by hand after a site redesign, then update the fixtures and notes):
// https://gemini.google.com/app (ask for a Python snippet that uses os.path)
// https://gemini.google.com/share/<any shared conversation with code>
// Fixtures: tests/fixtures/sites/gemini-2026.html, tests/fixtures/sites/gemini-2024.html
