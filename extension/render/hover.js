"use strict";
// Shows the hover card for the claim under the pointer. Highlights drawn with the CSS Custom
// Highlight API get no events of their own, so one passive pointer listener per page asks which
// highlighted range holds the caret position under the pointer, at most once per frame.
globalThis.DocVouch ??= {};
DocVouch.render ??= {};

DocVouch.render.installHover = function installHover(doc, card) {
  const win = doc.defaultView;
  let pending = null;

  function caretAt(x, y) {
    if (typeof doc.caretPositionFromPoint === "function") {
      const position = doc.caretPositionFromPoint(x, y);
      return position ? { node: position.offsetNode, offset: position.offset } : null;
    }
    if (typeof doc.caretRangeFromPoint === "function") {
      const range = doc.caretRangeFromPoint(x, y);
      return range ? { node: range.startContainer, offset: range.startOffset } : null;
    }
    return null;
  }

  /** The client rect of `range` under (x, y): caret look-ups also answer for blank space past a line's end. */
  function rectUnder(range, x, y) {
    for (const rect of range.getClientRects()) {
      if (x >= rect.left && x <= rect.right && y >= rect.top && y <= rect.bottom) return rect;
    }
    return null;
  }

  function update(x, y, target) {
    if (target === card.host) return;
    const caret = caretAt(x, y);
    const entry = caret ? DocVouch.render.highlighter.claimAt(caret.node, caret.offset) : null;
    const rect = entry ? rectUnder(entry.range, x, y) : null;
    if (entry && rect) card.show(entry.claim, rect);
    else card.hideSoon();
  }

  doc.addEventListener("mousemove", (event) => {
    const { clientX, clientY, target } = event;
    if (pending !== null) return;
    pending = win.requestAnimationFrame(() => {
      pending = null;
      update(clientX, clientY, target);
    });
  }, { passive: true });
};

/** The page's one hover card, created and wired on first use (scripts may be injected twice). */
DocVouch.render.pageHoverCard = function pageHoverCard(doc) {
  if (!DocVouch.render.sharedHoverCard) {
    DocVouch.render.sharedHoverCard = DocVouch.render.createHoverCard(doc);
    DocVouch.render.installHover(doc, DocVouch.render.sharedHoverCard);
  }
  return DocVouch.render.sharedHoverCard;
};
