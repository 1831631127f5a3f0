"use strict";
// A short key for an answer's text: the content script uses it to avoid re-sending a re-rendered
// answer, the background to merge identical requests in flight.
globalThis.DocVouch ??= {};

DocVouch.textKey = function textKey(text) {
  // Two 32-bit FNV-1a passes with different offsets: enough to tell answers on one page apart,
  // cheap on 100,000 characters, and synchronous (crypto.subtle is async and page-dependent).
  let first = 0x811c9dc5;
  let second = 0x01000193 ^ text.length;
  for (let i = 0; i < text.length; i += 1) {
    const code = text.charCodeAt(i);
    first = Math.imul(first ^ code, 0x01000193);
    second = Math.imul(second ^ code, 0x5bd1e995);
  }
  const hex = (value) => (value >>> 0).toString(16).padStart(8, "0");
  return `${text.length}:${hex(first)}${hex(second)}`;
};
