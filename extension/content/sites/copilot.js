"use strict";
// Microsoft Copilot (copilot.microsoft.com). Selectors newest first, with dated notes.
DocVouch.adapters.register({
  id: "copilot",
  answers: [
    {
      selector: '[data-content="ai-message"]',
      note: "2026-11-25: each reply is a [data-content=\"ai-message\"] block; user turns are [data-content=\"user-message\"]",
    },
    {
      selector: '[data-testid="ai-message"] .ac-textBlock',
      note: "2026-11-25: late-2024 layout that still rendered replies in adaptive-card text blocks. TODO remove after 2027-05-31",
    },
  ],
  streaming: [
    {
      selector: 'button[data-testid="stop-button"], button[aria-label="Interrupt message"]',
      scope: "page",
      note: "2026-11-25: the submit button becomes an interrupt button while a reply streams",
    },
  ],
  skip: [
    ".sr-only",
    '[data-testid="message-item-reactions"]',
    '[data-testid="code-block-header"]',
  ],
});

// Test URLs (check by hand after a site redesign, then update the fixtures and notes):
// https://copilot.microsoft.com/ (ask for a Python snippet that uses os.path)
// https://copilot.microsoft.com/shares/<any shared conversation with code>
// Fixtures: tests/fixtures/sites/copilot-2026.html, tests/fixtures/sites/copilot-2024.html
