"use strict";
// The service is Python: its spans count code points, while JavaScript strings count UTF-16
// units. They differ only after an astral character (emoji, some CJK), so convert when needed.
globalThis.DocVouch ??= {};

DocVouch.spans = (() => {
  const HAS_SURROGATE = /[\uD800-\uDFFF]/;

  /** A converter from code-point offsets in `text` to UTF-16 offsets. */
  function codePointIndex(text) {
    if (!HAS_SURROGATE.test(text)) return (offset) => offset;
    const utf16At = [0];
    for (const char of text) utf16At.push(utf16At[utf16At.length - 1] + char.length);
    return (offset) => utf16At[Math.min(offset, utf16At.length - 1)];
  }

  /** A claim's [start, end) in UTF-16 units within `text`, or null when the span is unusable. */
  function toUtf16(span, toUtf16Offset, textLength) {
    if (!Array.isArray(span) || span.length !== 2) return null;
    const [start, end] = span;
    if (!Number.isInteger(start) || !Number.isInteger(end) || start < 0 || end <= start) return null;
    const from = toUtf16Offset(start);
    const to = Math.min(toUtf16Offset(end), textLength);
    return from < to ? [from, to] : null;
  }

  return Object.freeze({ codePointIndex, toUtf16 });
})();
