"use strict";
// The site-adapter registry and what every adapter shares. A site file only lists selectors
// (with dated notes); finding answers, telling when one is complete and reading it back
// happen here and in extract.js, the same way for every site.
globalThis.DocVouch ??= {};

DocVouch.adapters = (() => {
  const registered = new Map();

  /**
   * Register a site adapter:
   *   id          a DocVouch.siteCatalog id
   *   answers     [{ selector, note }] - the element holding one assistant answer's content
   *   streaming   [{ selector, scope: "page" | "answer", note }] - present while an answer streams
   *   skip        selectors for UI inside an answer that is not answer text (copy buttons, labels)
   *   codeLanguage(preElement) -> string, optional
   */
  function register(adapter) {
    const site = DocVouch.siteCatalog.find((entry) => entry.id === adapter.id);
    if (!site) throw new Error(`unknown site ${adapter.id}`);
    const complete = Object.freeze({ skip: [], streaming: [], codeLanguage: defaultCodeLanguage, ...adapter, site });
    registered.set(adapter.id, complete);
    return complete;
  }

  function forUrl(url) {
    const id = DocVouch.siteIdForUrl(url);
    return id ? registered.get(id) ?? null : null;
  }

  function get(id) {
    return registered.get(id) ?? null;
  }

  function defaultCodeLanguage(pre) {
    const code = pre.querySelector("code") ?? pre;
    const match = /(?:^|\s)(?:language|lang)-([\w+#.-]+)/.exec(code.className || "");
    return match ? match[1] : "";
  }

  return Object.freeze({ register, forUrl, get, defaultCodeLanguage });
})();

DocVouch.answers = (() => {
  /** Every answer element an adapter's selectors find, outermost only, in document order. */
  function find(adapter, root) {
    const found = new Set();
    for (const { selector } of adapter.answers) {
      for (const element of root.querySelectorAll(selector)) found.add(element);
    }
    const elements = [...found].filter((element) => !hasMatchedAncestor(element, found));
    return elements.sort(documentOrder);
  }

  function hasMatchedAncestor(element, matched) {
    for (let node = element.parentElement; node; node = node.parentElement) {
      if (matched.has(node)) return true;
    }
    return false;
  }

  function documentOrder(a, b) {
    // DOCUMENT_POSITION_FOLLOWING (4): b comes after a.
    return a.compareDocumentPosition(b) & 4 ? -1 : 1;
  }

  /**
   * Whether this answer is still being written. Page-scoped signals (a stop button in the
   * composer) only concern the last answer; answer-scoped ones (a streaming flag) concern their own.
   */
  function isStreaming(adapter, answer, { isLast }) {
    const doc = answer.ownerDocument;
    return adapter.streaming.some(({ selector, scope }) => {
      if (scope === "page") return isLast && doc.querySelector(selector) !== null;
      return answer.matches(selector) || answer.closest(selector) !== null || answer.querySelector(selector) !== null;
    });
  }

  return Object.freeze({ find, isStreaming });
})();
