"use strict";
// "Verify with DocVouch" on selected text, on any page. The menu click grants activeTab for that
// tab only, so the extension needs no host permission for arbitrary sites.
globalThis.DocVouch ??= {};

DocVouch.contextMenu = (() => {
  const MENU_ID = "docvouch-verify-selection";

  /** Scripts injected for a selection, in load order (a subset of the chat-site content scripts). */
  const SELECTION_SCRIPTS = Object.freeze([
    "shared/browser-api.js",
    "shared/limits.js",
    "shared/sites.js",
    "shared/messages.js",
    "shared/text-key.js",
    "content/common.js",
    "content/extract.js",
    "content/spans.js",
    "render/format.js",
    "render/styles.js",
    "render/dom.js",
    "render/claim-details.js",
    "render/badge.js",
    "render/card.js",
    "render/highlight.js",
    "render/hover.js",
    "content/answer-controller.js",
    "content/selection.js",
  ]);

  function create(ext) {
    ext.contextMenus.create({ id: MENU_ID, title: "Verify with DocVouch", contexts: ["selection"] }, () => {
      // A second create after an update reports "duplicate id"; reading lastError silences it.
      void ext.runtime.lastError;
    });
  }

  async function onClicked(ext, grants, info, tab) {
    if (info.menuItemId !== MENU_ID || !tab || !Number.isInteger(tab.id)) return;
    const target = { tabId: tab.id, frameIds: [Number.isInteger(info.frameId) ? info.frameId : 0] };
    grants.grant(tab.id);
    try {
      await ext.action.setBadgeText({ tabId: tab.id, text: "" }); // an earlier "cannot read"
    } catch {
      // the tab has closed meanwhile
    }
    try {
      await ext.scripting.insertCSS({ target, files: ["render/highlights.css"] });
      await ext.scripting.executeScript({ target, files: [...SELECTION_SCRIPTS] });
    } catch (error) {
      // Browser pages, PDF viewers and extension stores refuse scripts: say so on the toolbar
      // button, since nothing can be shown in the page itself.
      console.warn("DocVouch: cannot verify a selection on this page", error);
      await tellCannotRead(ext, tab.id);
    }
  }

  async function tellCannotRead(ext, tabId) {
    try {
      await ext.action.setBadgeText({ tabId, text: "!" });
      await ext.action.setTitle({ tabId, title: "DocVouch cannot read this page: browser pages, PDF viewers and extension stores do not let extensions in. Copy the text into a chat or the DocVouch page instead." });
    } catch {
      // the tab has closed meanwhile
    }
  }

  return Object.freeze({ MENU_ID, SELECTION_SCRIPTS, create, onClicked });
})();
