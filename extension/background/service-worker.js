"use strict";
// Background entry. Chromium runs this file as the MV3 service worker and loads its helpers with
// importScripts; Firefox lists the same files as background scripts (see scripts/package.py),
// where importScripts does not exist.
if (typeof importScripts === "function") {
  importScripts(
    "../shared/browser-api.js",
    "../shared/limits.js",
    "../shared/sites.js",
    "../shared/messages.js",
    "../shared/service-url.js",
    "../shared/text-key.js",
    "settings-store.js",
    "result-shape.js",
    "api-client.js",
    "sender-policy.js",
    "verify-service.js",
    "handlers.js",
    "message-router.js",
    "context-menu.js",
  );
}

(() => {
  const ext = DocVouch.ext;
  // Nothing in a page's process reads settings or the key (content scripts ask the background),
  // so keep storage out of its reach: a compromised renderer then cannot read the key either.
  // Chrome only; Firefox offers the setting for storage.session alone.
  ext.storage.local.setAccessLevel?.({ accessLevel: "TRUSTED_CONTEXTS" })?.catch?.(() => {});
  const store = DocVouch.createSettingsStore(ext.storage.local);
  const api = DocVouch.createApiClient();
  const grants = DocVouch.createSelectionGrants();
  const router = DocVouch.createMessageRouter({
    handlers: DocVouch.createHandlers({
      store,
      api,
      verifier: DocVouch.createVerifyService({ store, api }),
      grants,
      permissions: ext.permissions,
    }),
    runtimeId: ext.runtime.id,
    extensionOrigin: ext.runtime.getURL(""),
  });

  // Listeners are registered synchronously at start-up so a woken service worker sees the event.
  ext.runtime.onMessage.addListener((message, sender, sendResponse) => {
    router.handle(message, sender).then(sendResponse);
    return true; // the reply is asynchronous
  });
  ext.runtime.onInstalled.addListener(() => DocVouch.contextMenu.create(ext));
  ext.contextMenus.onClicked.addListener((info, tab) => DocVouch.contextMenu.onClicked(ext, grants, info, tab));
  ext.action.onClicked.addListener(() => ext.runtime.openOptionsPage());
})();
