"use strict";
// Who sent a message. Only our own extension can message us at all (no externally_connectable),
// but within it a content script runs next to untrusted page code, so it gets the narrow
// cs-bg-* types only; settings and the connection test are for extension pages.
globalThis.DocVouch ??= {};

DocVouch.classifySender = function classifySender(sender, { runtimeId, extensionOrigin }) {
  if (!sender || sender.id !== runtimeId) return null;
  const url = typeof sender.url === "string" ? sender.url : "";
  if (url.startsWith(extensionOrigin)) return "extension-page";
  if (sender.tab && Number.isInteger(sender.tab.id) && /^https?:/.test(url)) return "content";
  return null;
};

/** Single-use, short-lived permission for one tab to verify a selection after a menu click. */
DocVouch.createSelectionGrants = function createSelectionGrants({ now = () => Date.now(), ttlMs = DocVouch.limits.SELECTION_GRANT_MS } = {}) {
  const expiries = new Map();
  return Object.freeze({
    grant(tabId) {
      expiries.set(tabId, now() + ttlMs);
    },
    consume(tabId) {
      const expiry = expiries.get(tabId);
      expiries.delete(tabId);
      return expiry !== undefined && expiry >= now();
    },
  });
};
