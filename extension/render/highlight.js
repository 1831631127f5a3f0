"use strict";
// Colours each claim's text on the page by verdict. Where the CSS Custom Highlight API exists the
// page DOM is not touched at all (the site's layout, React's text nodes and copy buttons stay as
// they are); elsewhere each claim's text is wrapped in lightweight <mark> elements.
globalThis.DocVouch ??= {};
DocVouch.render ??= {};

DocVouch.render.highlighter ??= (() => {
  // Where claims overlap, the more serious verdict is drawn on top (and wins a <mark>).
  const SEVERITY = Object.freeze({ contradicted: 4, partial: 3, unsupported: 2, supported: 1 });
  const HIGHLIGHT_PREFIX = "docvouch-";
  const MARK_ATTRIBUTE = "data-docvouch-verdict";

  const applied = new Map(); // owner (an answer element or a selection) -> [{ claim, range, marks }]

  function highlightApi(win) {
    return win && win.CSS && win.CSS.highlights && typeof win.Highlight === "function" ? win : null;
  }

  /**
   * Highlight `entries` ([{ claim, range, pieces }], pieces being TextMap.nodeRanges) for `owner`,
   * replacing what that owner had. Returns how the claims were drawn: "highlight-api" or "marks".
   */
  function apply(owner, entries, win) {
    clear(owner);
    const api = highlightApi(win);
    if (api) {
      try {
        for (const entry of entries) namedHighlight(api, entry.claim.verdict).add(entry.range);
        applied.set(owner, entries.map(({ claim, range }) => ({ claim, range, marks: [] })));
        return "highlight-api";
      } catch {
        // an engine that exposes the API but refuses ranges from a content script: use marks
      }
    }
    applied.set(owner, wrapInMarks(entries));
    return "marks";
  }

  function namedHighlight(win, verdict) {
    const name = `${HIGHLIGHT_PREFIX}${verdict}`;
    let highlight = win.CSS.highlights.get(name);
    if (!highlight) {
      highlight = new win.Highlight();
      highlight.priority = SEVERITY[verdict] ?? 0;
      win.CSS.highlights.set(name, highlight);
    }
    return highlight;
  }

  function wrapInMarks(entries) {
    const chosen = withoutOverlaps(entries);
    // Split each text node from its end backwards so earlier offsets into it stay valid.
    const pieces = chosen.flatMap((entry) => entry.pieces.map((piece) => ({ ...piece, entry })));
    const byNode = new Map();
    for (const piece of pieces) byNode.set(piece.node, [...(byNode.get(piece.node) ?? []), piece]);
    const marksOf = new Map(chosen.map((entry) => [entry, []]));
    for (const [node, nodePieces] of byNode) {
      nodePieces.sort((a, b) => b.start - a.start);
      for (const piece of nodePieces) {
        if (piece.end < node.data.length) node.splitText(piece.end);
        const middle = piece.start > 0 ? node.splitText(piece.start) : node;
        const mark = node.ownerDocument.createElement("mark");
        mark.setAttribute(MARK_ATTRIBUTE, piece.entry.claim.verdict);
        middle.replaceWith(mark);
        mark.append(middle);
        marksOf.get(piece.entry).unshift(mark);
      }
    }
    return chosen.map((entry) => {
      const marks = marksOf.get(entry).sort((a, b) => (a.compareDocumentPosition(b) & 4 ? -1 : 1));
      const range = marks[0].ownerDocument.createRange();
      range.setStartBefore(marks[0]);
      range.setEndAfter(marks[marks.length - 1]);
      return { claim: entry.claim, range, marks };
    });
  }

  function withoutOverlaps(entries) {
    const bySeverity = [...entries].sort((a, b) => (SEVERITY[b.claim.verdict] ?? 0) - (SEVERITY[a.claim.verdict] ?? 0));
    const kept = [];
    for (const entry of bySeverity) {
      if (entry.pieces.length === 0) continue;
      if (kept.some((other) => other.span[0] < entry.span[1] && entry.span[0] < other.span[1])) continue;
      kept.push(entry);
    }
    return kept;
  }

  function clear(owner) {
    const entries = applied.get(owner);
    if (!entries) return;
    applied.delete(owner);
    const win = entries[0]?.range.startContainer.ownerDocument?.defaultView;
    const api = highlightApi(win);
    for (const { claim, range, marks } of entries) {
      if (api) api.CSS.highlights.get(`${HIGHLIGHT_PREFIX}${claim.verdict}`)?.delete(range);
      for (const mark of marks) {
        const parent = mark.parentNode;
        if (!parent) continue;
        mark.replaceWith(...mark.childNodes);
        parent.normalize();
      }
    }
  }

  /** The highlighted claim at a caret position (a text node and offset), or null. */
  function claimAt(node, offset) {
    for (const entries of applied.values()) {
      for (const entry of entries) {
        try {
          if (entry.range.isPointInRange(node, offset)) return entry;
        } catch {
          // the node is in another document or was removed: not this entry
        }
      }
    }
    return null;
  }

  return Object.freeze({ apply, clear, claimAt, SEVERITY });
})();
