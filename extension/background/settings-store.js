"use strict";
// Settings in storage.local. The API key is kept under its own storage key that only background
// code names: content scripts and the options page never read it (the options page only learns
// whether one is set).
globalThis.DocVouch ??= {};

DocVouch.createSettingsStore = function createSettingsStore(storageArea) {
  const SETTINGS_STORAGE_KEY = "settings";
  const API_KEY_STORAGE_KEY = "docvouchServiceApiKey";

  function defaults() {
    return {
      serviceUrl: DocVouch.limits.DEFAULT_SERVICE_URL,
      mode: "auto",
      sites: Object.fromEntries(DocVouch.siteCatalog.map((site) => [site.id, true])),
    };
  }

  /** Stored settings over the defaults; anything malformed in storage falls back to its default. */
  async function load() {
    const stored = (await storageArea.get(SETTINGS_STORAGE_KEY))[SETTINGS_STORAGE_KEY] ?? {};
    const settings = defaults();
    const url = DocVouch.serviceUrl.parse(stored.serviceUrl ?? "");
    if (url.ok) settings.serviceUrl = url.base;
    if (DocVouch.messages.MODES.includes(stored.mode)) settings.mode = stored.mode;
    for (const id of Object.keys(settings.sites)) {
      if (typeof stored.sites?.[id] === "boolean") settings.sites[id] = stored.sites[id];
    }
    return settings;
  }

  /** Apply a validated ui-bg-set-settings payload. Returns the new settings or { error }. */
  async function save(patch) {
    const settings = await load();
    let movedOrigin = false;
    if (patch.serviceUrl !== undefined) {
      const url = DocVouch.serviceUrl.parse(patch.serviceUrl);
      if (!url.ok) return { error: url.error };
      movedOrigin = url.origin !== new URL(settings.serviceUrl).origin;
      settings.serviceUrl = url.base;
    }
    if (patch.mode !== undefined) settings.mode = patch.mode;
    if (patch.sites !== undefined) Object.assign(settings.sites, patch.sites);
    await storageArea.set({ [SETTINGS_STORAGE_KEY]: settings });
    // A key belongs to the service it was made for: a new origin without a new key forgets it,
    // rather than handing it to whatever the URL now names.
    const newKey = typeof patch.apiKey === "string" && patch.apiKey.trim() !== "";
    if (patch.apiKey === null || patch.apiKey === "" || (movedOrigin && !newKey)) await storageArea.remove(API_KEY_STORAGE_KEY);
    else if (newKey) await storageArea.set({ [API_KEY_STORAGE_KEY]: patch.apiKey.trim() });
    return { settings, keyForgotten: movedOrigin && !newKey };
  }

  async function apiKey() {
    const value = (await storageArea.get(API_KEY_STORAGE_KEY))[API_KEY_STORAGE_KEY];
    return typeof value === "string" && value !== "" ? value : null;
  }

  return Object.freeze({ load, save, apiKey, defaults });
};
