"use strict";
// ChatGPT (chatgpt.com; chat.openai.com redirects there). Selectors newest first; each note says
// what it targets and when it was last checked. Remove a selector after its TODO date when the
// fixture it exists for is gone.
DocVouch.adapters.register({
  id: "chatgpt",
  answers: [
    {
      selector: 'div[data-message-author-role="assistant"] .markdown',
      note: "2026-11-25: each turn is an <article data-testid=\"conversation-turn-N\">; the assistant message div carries data-message-author-role and holds the rendered answer in .markdown",
    },
    {
      selector: ".group.w-full .markdown.prose",
      note: "2026-11-25: chat.openai.com layout before author-role attributes (2023): only answers render .markdown.prose. TODO remove after 2027-05-31",
    },
  ],
  streaming: [
    {
      selector: 'button[data-testid="stop-button"]',
      scope: "page",
      note: "2026-11-25: the composer's send button becomes a stop button while an answer streams",
    },
    {
      selector: ".result-streaming",
      scope: "answer",
      note: "2026-11-25: class on the .markdown element while tokens arrive (2023 layout, still seen on shared links)",
    },
  ],
  skip: [
    ".sr-only",
    '[data-testid$="-turn-action-button"]',
  ],
  codeLanguage(pre) {
    // The label sits in the block's header when the <code> element has no language class.
    return DocVouch.adapters.defaultCodeLanguage(pre) || (pre.querySelector(".text-xs")?.textContent.trim().toLowerCase() ?? "");
  },
});

// Test URLs (check by hand after a site redesign, then update the fixtures and notes):
// https://chatgpt.com/ (ask for a Python snippet that uses os.path)
// https://chatgpt.com/share/<any shared conversation with code>
// Fixtures: tests/fixtures/sites/chatgpt-2026.html, tests/fixtures/sites/chatgpt-2023.html
