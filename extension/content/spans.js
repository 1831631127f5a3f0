"use strict";
// The service is Python, and reads the answer in NFC: its spans count code points of the NFC
// text, while the page's text may be decomposed ("e" + U+0301) and JavaScript strings count
// UTF-16 units (two for an emoji). Convert when either differs.
globalThis.DocVouch ??= {};

DocVouch.spans = (() => {
  const HAS_SURROGATE = /[\uD800-\uDFFF]/;

  /** A converter from the service's offsets (code points of `text` in NFC) to UTF-16 offsets. */
  function codePointIndex(text) {
    const composed = text.normalize("NFC") === text;
    if (composed && !HAS_SURROGATE.test(text)) return (offset) => offset;
    const utf16At = [0];
    if (composed) {
      for (const char of text) utf16At.push(utf16At[utf16At.length - 1] + char.length);
    } else {
      // NFC composes within a grapheme cluster: map cluster by cluster. Offsets inside a
      // cluster that normalisation changed fall back to its start.
      let raw = 0;
      for (const { segment } of new Intl.Segmenter(undefined, { granularity: "grapheme" }).segment(text)) {
        const normal = segment.normalize("NFC");
        const chars = [...normal];
        if (normal === segment) {
          let at = raw;
          for (const char of chars) {
            at += char.length;
            utf16At.push(at);
          }
        } else {
          for (let i = 1; i < chars.length; i += 1) utf16At.push(raw);
          utf16At.push(raw + segment.length);
        }
        raw += segment.length;
      }
    }
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
