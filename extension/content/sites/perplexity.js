"use strict";
// Perplexity (www.perplexity.ai and perplexity.ai). Selectors newest first, with dated notes.
DocVouch.adapters.register({
  id: "perplexity",
  answers: [
    {
      selector: 'div[id^="markdown-content-"]',
      note: "2026-11-25: each answer's rendered markdown is a div with id markdown-content-<n>",
    },
    {
      selector: ".break-words > .prose",
      note: "2026-11-25: 2024 layout without ids; the answer is the .prose block. TODO remove after 2027-05-31",
    },
  ],
  streaming: [
    {
      selector: 'button[aria-label="Stop generating response"], button[data-testid="stop-generating-response-button"]',
      scope: "page",
      note: "2026-11-25: stop button shown in the ask box while the answer streams",
    },
  ],
  skip: [
    // The code block's language label and copy button sit beside the <pre> in .codeWrapper.
    ".codeWrapper > :not(pre)",
    ".citation",
    "[data-testid='citation']",
    ".sr-only",
  ],
});

// Test URLs (check by hand after a site redesign, then update the fixtures and notes):
// https://www.perplexity.ai/ (ask how to test whether a path is a directory in Python)
// https://www.perplexity.ai/search/<any shared thread with code>
// Fixtures: tests/fixtures/sites/perplexity-2026.html, tests/fixtures/sites/perplexity-2024.html
