"use strict";
// Element builders for our shadow roots. Text from outside (claims, snippets, reasons) only
// ever goes through textContent; there is no HTML parsing anywhere in the extension.
globalThis.DocVouch ??= {};
DocVouch.render ??= {};

DocVouch.render.dom = (() => {
  /** createElement with a class and optional text: el(doc, "p", "dv-reason", claim.reason). */
  function el(doc, tag, className, text) {
    const element = doc.createElement(tag);
    if (className) element.className = className;
    if (text !== undefined && text !== null) element.textContent = String(text);
    return element;
  }

  /**
   * A host element with an open shadow root holding `cssText`. Open rather than closed so that
   * accessibility tools and our browser tests can read it; it holds nothing the page lacks.
   */
  function shadowHost(doc, tagName, cssText) {
    const host = doc.createElement(tagName);
    host.setAttribute("data-docvouch", "");
    const root = host.attachShadow({ mode: "open" });
    adoptStyles(root, cssText);
    return { host, root };
  }

  function adoptStyles(root, cssText) {
    const win = root.ownerDocument.defaultView;
    // Constructed sheets are not subject to a site's style-src CSP; a <style> element is the fallback.
    try {
      if (win && typeof win.CSSStyleSheet === "function" && "adoptedStyleSheets" in root) {
        const sheet = new win.CSSStyleSheet();
        sheet.replaceSync(cssText);
        root.adoptedStyleSheets = [sheet];
        return;
      }
    } catch {
      // fall through: some engines refuse sheets built in a content script's world
    }
    root.append(el(root.ownerDocument, "style", null, cssText));
  }

  return Object.freeze({ el, shadowHost });
})();
