"use strict";
// Claude (claude.ai). Selectors newest first, with dated notes.
DocVouch.adapters.register({
  id: "claude",
  answers: [
    {
      selector: "div.font-claude-response",
      note: "2026-11-25: the assistant reply body; user turns are [data-testid=\"user-message\"]",
    },
    {
      selector: "div.font-claude-message",
      note: "2026-11-25: class name before the 2025 rename. TODO remove after 2027-05-31",
    },
  ],
  streaming: [
    {
      selector: '[data-is-streaming="true"]',
      scope: "answer",
      note: "2026-11-25: the turn wrapper around the reply says data-is-streaming=\"true\" until the reply is complete",
    },
    {
      selector: 'button[aria-label="Stop response"]',
      scope: "page",
      note: "2026-11-25: stop button in the composer while a reply streams",
    },
  ],
  skip: [
    ".sr-only",
    // The language label and copy button sit above the <pre>, inside the code-block frame.
    ".code-block__header",
  ],
  codeLanguage(pre) {
    const frame = pre.closest(".code-block__frame");
    return DocVouch.adapters.defaultCodeLanguage(pre) || (frame?.querySelector(".code-block__header")?.textContent.trim().toLowerCase() ?? "");
  },
});

// Test URLs (check by hand after a site redesign, then update the fixtures and notes):
// https://claude.ai/new (ask for a Python snippet that uses os.path)
// https://claude.ai/share/<any shared conversation with code>
// Fixtures: tests/fixtures/sites/claude-2026.html, tests/fixtures/sites/claude-2024.html
