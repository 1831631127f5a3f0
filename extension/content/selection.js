"use strict";
// Injected by the background when the user picks "Verify with DocVouch" on selected text (any
// page; activeTab grants this one tab). Reads the selection like an answer and shows the result
// in a floating badge next to it.
(() => {
  const picked = domSelection() ?? fieldSelection();
  if (!picked || picked.extraction.text.trim() === "") return;

  DocVouch.selectionController ??= DocVouch.createAnswerController({
    doc: document,
    send: DocVouch.sendToBackground,
    attachBadge: (owner, host) => {
      const anchor = owner.rect();
      host.style.setProperty("position", "fixed");
      host.style.setProperty("z-index", "2147483646");
      host.style.setProperty("left", `${Math.max(8, Math.round(anchor.left))}px`);
      host.style.setProperty("top", `${Math.round(Math.min(anchor.bottom + 8, innerHeight - 48))}px`);
      document.documentElement.append(host);
    },
    onClose: () => {},
  });
  // Each selection is its own owner, so verifying a second one leaves the first in place.
  const { owner, extraction } = picked;
  DocVouch.selectionController.handleAnswer({ answer: owner, extraction, key: DocVouch.textKey(extraction.text), trigger: "selection" });

  /** Text selected in the page itself, read like an answer (claims can be highlighted). */
  function domSelection() {
    const selection = getSelection();
    if (!selection || selection.rangeCount === 0 || selection.isCollapsed) return null;
    const range = selection.getRangeAt(0).cloneRange();
    const common = range.commonAncestorContainer;
    const inner = common.nodeType === Node.ELEMENT_NODE ? common : common.parentElement;
    // A selection inside a code block is read from outside it, so that it stays code (fenced,
    // lines kept) rather than being flattened into a sentence.
    const pre = inner?.closest("pre");
    const root = pre ? (pre.parentElement ?? pre) : inner;
    if (!root) return null;
    return { owner: { rect: () => range.getBoundingClientRect() }, extraction: DocVouch.extract.read(root, { clip: range }) };
  }

  /**
   * Text selected in a text box (a textarea or input: the page's selection is collapsed there).
   * Checked as plain text; the box's own text cannot be marked, so the badge alone shows it.
   */
  function fieldSelection() {
    const field = document.activeElement;
    if (!field || !/^(TEXTAREA|INPUT)$/.test(field.tagName) || typeof field.selectionStart !== "number") return null;
    const limit = DocVouch.limits.MAX_ANSWER_CHARS;
    const selected = field.value.slice(field.selectionStart, field.selectionEnd);
    const text = selected.slice(0, limit).replace(/\s+$/, "");
    return {
      owner: { rect: () => field.getBoundingClientRect() },
      extraction: { text, map: new DocVouch.extract.TextMap([]), truncated: selected.length > limit },
    };
  }
})();
