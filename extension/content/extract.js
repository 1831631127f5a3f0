"use strict";
// Reads an answer's DOM back as markdown-like text (fenced code blocks, `inline code`, list
// markers, headings) so the service sees what the user saw, and keeps a map from every
// character that came from the page to its text node and offset. Characters we add (fences,
// backticks, newlines, list markers) have no node; a claim span over them snaps to page text.
globalThis.DocVouch ??= {};

DocVouch.extract = (() => {
  const IGNORED_TAGS = new Set([
    "script", "style", "noscript", "template", "button", "svg", "select", "textarea", "input", "img", "video", "audio", "canvas",
  ]);
  const PARAGRAPH_TAGS = new Set(["p", "pre", "blockquote", "ul", "ol", "table", "hr", "figure", "details", "h1", "h2", "h3", "h4", "h5", "h6"]);
  const LINE_TAGS = new Set([
    "div", "li", "tr", "dl", "dt", "dd", "section", "article", "aside", "header", "footer", "main", "nav", "summary",
    "figcaption", "address", "caption", "tbody", "thead", "tfoot",
  ]);
  const OWN_NODE_SELECTOR = "[data-docvouch]";
  const HIDDEN_SELECTOR = "[hidden], [aria-hidden='true']";
  const WHITESPACE = /[ \t\n\r\f]/;

  /** Maps offsets in the extracted text back to the page's text nodes. */
  class TextMap {
    constructor(segments) {
      this.segments = segments;
    }

    /** Index of the first segment that ends after `offset`. */
    firstSegmentEndingAfter(offset) {
      let low = 0;
      let high = this.segments.length;
      while (low < high) {
        const mid = (low + high) >> 1;
        if (this.segments[mid].outEnd <= offset) low = mid + 1;
        else high = mid;
      }
      return low;
    }

    /** The page text covered by [start, end): one { node, start, end } per text node, in order. */
    nodeRanges(start, end) {
      const ranges = [];
      for (let i = this.firstSegmentEndingAfter(start); i < this.segments.length; i += 1) {
        const segment = this.segments[i];
        if (segment.outStart >= end) break;
        const first = Math.max(start, segment.outStart);
        const last = Math.min(end, segment.outEnd) - 1;
        const piece = { node: segment.node, start: segment.sourceOffset(first), end: segment.sourceOffset(last) + 1 };
        const previous = ranges[ranges.length - 1];
        // Words of one text node come as separate segments (collapsed spaces); give one piece per node.
        if (previous && previous.node === piece.node && previous.end <= piece.start) previous.end = piece.end;
        else ranges.push(piece);
      }
      return ranges;
    }

    /** A DOM Range over [start, end), or null when the span holds no page text. */
    domRange(start, end) {
      const pieces = this.nodeRanges(start, end);
      if (pieces.length === 0) return null;
      const first = pieces[0];
      const last = pieces[pieces.length - 1];
      const range = first.node.ownerDocument.createRange();
      range.setStart(first.node, first.start);
      range.setEnd(last.node, last.end);
      return range;
    }
  }

  class Segment {
    constructor(node, outStart, sourceOffsets) {
      this.node = node;
      this.outStart = outStart;
      this.outEnd = outStart + sourceOffsets.length;
      this.sourceOffsets = Int32Array.from(sourceOffsets);
    }

    sourceOffset(outOffset) {
      return this.sourceOffsets[outOffset - this.outStart];
    }
  }

  /**
   * Accumulates text the way a browser shows it: runs of whitespace collapse to one space, and a
   * space is only written once something follows it on the same line (none before a line break).
   */
  class Writer {
    constructor(maxChars) {
      this.maxChars = maxChars;
      this.parts = [];
      this.length = 0;
      this.segments = [];
      this.lastChar = "";
      this.pendingSpace = null; // { node, offset } of a collapsed space not yet written
      this.full = false;
    }

    append(text) {
      if (!text || this.full) return;
      this.parts.push(text);
      this.length += text.length;
      this.lastChar = text[text.length - 1];
      this.full = this.length > this.maxChars;
    }

    flushSpace() {
      const space = this.pendingSpace;
      if (!space) return;
      this.pendingSpace = null;
      this.segments.push(new Segment(space.node, this.length, [space.offset]));
      this.append(" ");
    }

    /** Text we add ourselves (fences, backticks, list markers): no page node behind it. */
    synthetic(text) {
      this.flushSpace();
      this.append(text);
    }

    lineBreak(count) {
      this.pendingSpace = null;
      if (this.length === 0 || count === 0) return;
      const tail = this.parts.slice(-count).join("").slice(-count);
      const present = tail.length - tail.replace(/\n+$/, "").length;
      if (count > present) this.append("\n".repeat(count - present));
    }

    atLineStart() {
      return this.length === 0 || this.lastChar === "\n";
    }

    /** Page text from `node` between source offsets; `preserve` keeps whitespace as in <pre>. */
    pageText(node, from, to, preserve) {
      if (this.full) return;
      const source = node.data;
      let out = "";
      const offsets = [];
      for (let i = from; i < to; i += 1) {
        const char = source[i];
        if (!preserve && WHITESPACE.test(char)) {
          if (out !== "") {
            this.segments.push(new Segment(node, this.length, offsets.splice(0)));
            this.append(out);
            out = "";
          }
          if (!this.pendingSpace && !this.atLineStart() && this.lastChar !== " ") this.pendingSpace = { node, offset: i };
          continue;
        }
        this.flushSpace();
        out += char;
        offsets.push(i);
      }
      if (out === "") return;
      this.segments.push(new Segment(node, this.length, offsets));
      this.append(out);
    }

    finish() {
      let text = this.parts.join("");
      const truncated = text.length > this.maxChars;
      if (truncated) text = text.slice(0, this.maxChars);
      text = text.replace(/\s+$/, "");
      const segments = this.segments.filter((segment) => segment.outStart < text.length);
      const last = segments[segments.length - 1];
      if (last && last.outEnd > text.length) {
        const kept = Array.from(last.sourceOffsets.subarray(0, text.length - last.outStart));
        segments[segments.length - 1] = new Segment(last.node, last.outStart, kept);
      }
      return { text, map: new TextMap(segments), truncated };
    }
  }

  /**
   * Read `root` back as text. Options: skip (selectors of UI to leave out), codeLanguage(pre),
   * clip (a Range: only the selected part, for "verify selection"), maxChars.
   */
  function read(root, options = {}) {
    const context = {
      skip: [OWN_NODE_SELECTOR, HIDDEN_SELECTOR, ...(options.skip ?? [])].join(", "),
      codeLanguage: options.codeLanguage ?? DocVouch.adapters.defaultCodeLanguage,
      clip: options.clip ?? null,
      writer: new Writer(options.maxChars ?? DocVouch.limits.MAX_ANSWER_CHARS),
      listDepth: 0,
    };
    visitChildren(root, context, false);
    return context.writer.finish();
  }

  function visitChildren(element, context, preserve) {
    for (let child = element.firstChild; child && !context.writer.full; child = child.nextSibling) {
      visit(child, context, preserve);
    }
  }

  function visit(node, context, preserve) {
    if (context.clip && !context.clip.intersectsNode(node)) return;
    if (node.nodeType === 3) {
      visitText(node, context, preserve);
      return;
    }
    if (node.nodeType !== 1) return;
    const tag = node.localName;
    if (IGNORED_TAGS.has(tag) || node.matches(context.skip)) return;
    const { writer } = context;
    if (tag === "br") return writer.synthetic("\n");
    if (tag === "pre" && !preserve) return visitCodeBlock(node, context);
    if (tag === "code" && !preserve) return visitInlineCode(node, context);
    if (preserve) {
      if (LINE_TAGS.has(tag) && writer.length > 0 && writer.lastChar !== "\n") writer.synthetic("\n");
      return visitChildren(node, context, true);
    }
    if (PARAGRAPH_TAGS.has(tag)) return visitBlock(node, context, 2);
    if (LINE_TAGS.has(tag)) return visitBlock(node, context, 1);
    if (tag === "td" || tag === "th") {
      writer.synthetic(writer.lastChar === "\n" || writer.length === 0 ? "| " : " | ");
      return visitChildren(node, context, false);
    }
    return visitChildren(node, context, false);
  }

  function visitText(node, context, preserve) {
    const { clip } = context;
    const from = clip && clip.startContainer === node ? clip.startOffset : 0;
    const to = clip && clip.endContainer === node ? clip.endOffset : node.data.length;
    context.writer.pageText(node, from, to, preserve);
  }

  function visitBlock(element, context, defaultBreaks) {
    const { writer } = context;
    const tag = element.localName;
    const breaks = breaksInsideListItem(element) ?? defaultBreaks;
    writer.lineBreak(breaks);
    if (/^h[1-6]$/.test(tag)) writer.synthetic(`${"#".repeat(Number(tag[1]))} `);
    if (tag === "li") writer.synthetic(`${"  ".repeat(Math.max(0, context.listDepth - 1))}${listMarker(element)} `);
    if (tag === "blockquote") writer.synthetic("> ");
    const nested = tag === "ul" || tag === "ol";
    if (nested) context.listDepth += 1;
    visitChildren(element, context, false);
    if (nested) context.listDepth -= 1;
    writer.lineBreak(breaks);
  }

  /** A paragraph in a list item stays on the marker's line (first) or on the next line (later). */
  function breaksInsideListItem(element) {
    const item = element.parentElement;
    if (!item || item.localName !== "li") return null;
    if (element.localName === "ul" || element.localName === "ol") return 1;
    return item.firstElementChild === element ? 0 : 1;
  }

  function listMarker(item) {
    const list = item.parentElement;
    if (!list || list.localName !== "ol") return "-";
    const start = Number.parseInt(list.getAttribute("start") ?? "1", 10) || 1;
    const position = [...list.children].filter((child) => child.localName === "li").indexOf(item);
    return `${start + position}.`;
  }

  function visitCodeBlock(pre, context) {
    const { writer } = context;
    writer.lineBreak(2);
    writer.synthetic(`\`\`\`${context.codeLanguage(pre) || ""}\n`);
    visitChildren(pre.querySelector("code") ?? pre, context, true);
    if (writer.lastChar !== "\n") writer.synthetic("\n");
    writer.synthetic("```");
    writer.lineBreak(2);
  }

  function visitInlineCode(code, context) {
    const fence = code.textContent.includes("`") ? "``" : "`";
    context.writer.synthetic(fence);
    visitChildren(code, context, false);
    context.writer.synthetic(fence);
  }

  return Object.freeze({ read, TextMap });
})();
