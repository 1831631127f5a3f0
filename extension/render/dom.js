"use strict";
// Element builders for our shadow roots. Text from outside (claims, snippets, reasons) only
// ever goes through textContent; there is no HTML parsing anywhere in the extension.
globalThis.DocVouch ??= {};
DocVouch.render ??= {};

// A click the user made, not one a page script dispatched (`element.click()` from the page
// would otherwise send text to the service, or open evidence for the page to read).
DocVouch.render.isUserAction ??= (event) => event?.isTrusted === true;

DocVouch.render.dom = (() => {
  /** createElement with a class and optional text: el(doc, "p", "dv-reason", claim.reason). */
  function el(doc, tag, className, text) {
    const element = doc.createElement(tag);
    if (className) element.className = className;
    if (text !== undefined && text !== null) element.textContent = String(text);
    return element;
  }

  // Hosts' roots, for our own scripts: the page's scripts run in another world and never see
  // this map, and a closed root gives them no `host.shadowRoot` either.
  const roots = new WeakMap();

  /**
   * A host element with a closed shadow root holding `cssText`. Closed because the roots hold
   * what the page does not have: evidence from the user's own (perhaps private) corpus, which
   * a chat site's scripts must not read. Assistive technology still reads closed roots.
   */
  function shadowHost(doc, tagName, cssText) {
    const host = doc.createElement(tagName);
    host.setAttribute("data-docvouch", "");
    const root = host.attachShadow({ mode: "closed" });
    roots.set(host, root);
    adoptStyles(root, cssText);
    return { host, root };
  }

  /** The shadow root of a host we made, or null. */
  function rootOf(host) {
    return roots.get(host) ?? null;
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

  return Object.freeze({ el, shadowHost, rootOf });
})();
