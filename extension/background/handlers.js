"use strict";
// What the background does for each message type. The router has already checked the shape and
// the sender; handlers decide with what only the background knows (settings, grants, sender URL).
globalThis.DocVouch ??= {};

DocVouch.createHandlers = function createHandlers({ store, api, verifier, grants, permissions }) {
  const { MessageType } = DocVouch.messages;

  async function siteSettings(_payload, sender) {
    const settings = await store.load();
    const siteId = DocVouch.siteIdForUrl(sender.url);
    return { ok: true, enabled: siteId !== null && settings.sites[siteId] !== false, mode: settings.mode };
  }

  async function verify({ text, trigger }, sender) {
    const siteId = DocVouch.siteIdForUrl(sender.url);
    if (trigger === "selection") {
      if (!grants.consume(sender.tab.id)) return { ok: false, state: "rejected", detail: "no selection was requested from the menu" };
    } else if (siteId === null) {
      return { ok: false, state: "rejected", detail: "not a chat site" };
    }
    return verifier.verify({ text, trigger, siteId, pageUrl: DocVouch.pageUrlForService(sender.url) });
  }

  async function getSettings() {
    const settings = await store.load();
    return { ok: true, settings: { ...settings, hasApiKey: (await store.apiKey()) !== null } };
  }

  async function hasPermissionFor(base) {
    if (!DocVouch.serviceUrl.needsOptionalPermission(base)) return true;
    return permissions.contains({ origins: [DocVouch.serviceUrl.permissionPattern(base)] });
  }

  async function setSettings(patch) {
    if (patch.serviceUrl !== undefined) {
      const url = DocVouch.serviceUrl.parse(patch.serviceUrl);
      if (!url.ok) return { ok: false, state: "error", detail: url.error };
      if (!(await hasPermissionFor(url.base))) return { ok: false, state: "error", detail: `Allow access to ${url.origin} first.` };
    }
    const saved = await store.save(patch);
    if (saved.error) return { ok: false, state: "error", detail: saved.error };
    return { ...(await getSettings()), keyForgotten: saved.keyForgotten === true };
  }

  async function testConnection({ serviceUrl }) {
    const url = DocVouch.serviceUrl.parse(serviceUrl ?? (await store.load()).serviceUrl);
    if (!url.ok) return { ok: false, detail: url.error };
    if (!(await hasPermissionFor(url.base))) return { ok: false, detail: `Allow access to ${url.origin} first.` };
    return api.health(url.base, await store.apiKey());
  }

  return Object.freeze({
    [MessageType.CS_BG_GET_SITE_SETTINGS]: siteSettings,
    [MessageType.CS_BG_VERIFY]: verify,
    [MessageType.UI_BG_GET_SETTINGS]: getSettings,
    [MessageType.UI_BG_SET_SETTINGS]: setSettings,
    [MessageType.UI_BG_TEST_CONNECTION]: testConnection,
  });
};
