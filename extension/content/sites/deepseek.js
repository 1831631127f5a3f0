"use strict";
// DeepSeek (chat.deepseek.com). Class names are hashed except the ds-* design-system ones, so the
// selectors lean on those. Newest first, with dated notes.
DocVouch.adapters.register({
  id: "deepseek",
  answers: [
    {
      selector: ".ds-message > .ds-markdown",
      note: "2026-11-25: the reply body is a .ds-markdown directly inside the .ds-message; the thinking trace sits in a separate block",
    },
    {
      selector: ".ds-markdown.ds-markdown--block",
      note: "2026-11-25: early-2025 layout without .ds-message. TODO remove after 2027-05-31",
    },
  ],
  streaming: [
    {
      selector: ".ds-markdown--streaming",
      scope: "answer",
      note: "2026-11-25: a modifier class is present on the reply while it streams",
    },
    {
      selector: 'div[role="button"][aria-label="Stop"]',
      scope: "page",
      note: "2026-11-25: the send control becomes a stop control while generating",
    },
  ],
  skip: [
    ".md-code-block-banner",
    ".ds-markdown-cite",
  ],
  codeLanguage(pre) {
    const label = pre.closest(".md-code-block")?.querySelector(".md-code-block-infostring");
    return DocVouch.adapters.defaultCodeLanguage(pre) || (label?.textContent.trim().toLowerCase() ?? "");
  },
});

// Test URLs (check by hand after a site redesign, then update the fixtures and notes):
// https://chat.deepseek.com/ (ask for a Python snippet that uses os.path)
// https://chat.deepseek.com/a/chat/s/<any conversation with code>
// Fixtures: tests/fixtures/sites/deepseek-2026.html, tests/fixtures/sites/deepseek-2025.html
