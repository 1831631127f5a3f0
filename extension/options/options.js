"use strict";
// The options page. It writes settings through the background (which owns storage and the API
// key) and asks for a host permission, inside the click that needs it, when the service URL is
// not on this machine's loopback.
(() => {
  const { MessageType } = DocVouch.messages;
  const form = document.getElementById("settings-form");
  const serviceUrlInput = document.getElementById("service-url");
  const apiKeyInput = document.getElementById("api-key");
  const apiKeyStatus = document.getElementById("api-key-status");
  const connectionStatus = document.getElementById("connection-status");
  const saveStatus = document.getElementById("save-status");
  const siteSwitches = document.getElementById("site-switches");

  let clearKeyRequested = false;

  function send(type, payload = {}) {
    return DocVouch.ext.runtime.sendMessage({ type, payload });
  }

  function say(output, text, tone) {
    output.textContent = text;
    output.dataset.tone = tone;
  }

  function renderSiteSwitches(sites) {
    siteSwitches.replaceChildren(...DocVouch.siteCatalog.map((site) => {
      const label = document.createElement("label");
      label.className = "site-switch";
      const box = document.createElement("input");
      box.type = "checkbox";
      box.name = `site-${site.id}`;
      box.dataset.siteId = site.id;
      box.checked = sites[site.id] !== false;
      label.append(box, document.createTextNode(`${site.label} (${site.hosts.join(", ")})`));
      return label;
    }));
  }

  function showSettings(settings) {
    serviceUrlInput.value = settings.serviceUrl;
    form.elements.mode.value = settings.mode;
    renderSiteSwitches(settings.sites);
    apiKeyInput.value = "";
    apiKeyInput.placeholder = settings.hasApiKey ? "A key is saved (type to replace it)" : "No key";
    apiKeyStatus.textContent = settings.hasApiKey ? "A key is saved. It is sent only to the service URL above." : "Only needed when the service asks for one.";
    clearKeyRequested = false;
  }

  /**
   * Make sure the extension may reach `base`. Must run inside the click handler: browsers only show
   * the permission prompt during a user gesture.
   */
  async function ensurePermission(base) {
    if (!DocVouch.serviceUrl.needsOptionalPermission(base)) return true;
    const origins = [DocVouch.serviceUrl.permissionPattern(base)];
    // request() first and without an await before it: Firefox refuses a prompt once the click's
    // gesture has passed through an await. It resolves at once when access is already granted.
    try {
      return await DocVouch.ext.permissions.request({ origins });
    } catch {
      return false;
    }
  }

  function parsedServiceUrl(output) {
    const url = DocVouch.serviceUrl.parse(serviceUrlInput.value);
    if (!url.ok) say(output, url.error, "error");
    return url;
  }

  async function onSave(event) {
    event.preventDefault();
    const url = parsedServiceUrl(saveStatus);
    if (!url.ok) return;
    if (!(await ensurePermission(url.base))) return say(saveStatus, `DocVouch needs your permission to reach ${url.origin}.`, "error");
    const sites = Object.fromEntries([...siteSwitches.querySelectorAll("input[data-site-id]")].map((box) => [box.dataset.siteId, box.checked]));
    const payload = { serviceUrl: url.base, mode: form.elements.mode.value || "auto", sites };
    // A key typed after "Remove key" replaces the old one rather than being dropped with it.
    if (apiKeyInput.value.trim() !== "") payload.apiKey = apiKeyInput.value.trim();
    else if (clearKeyRequested) payload.apiKey = null;
    const reply = await send(MessageType.UI_BG_SET_SETTINGS, payload);
    if (!reply?.ok) return say(saveStatus, reply?.detail ?? "Could not save.", "error");
    showSettings(reply.settings);
    const forgot = reply.keyForgotten ? " The saved API key was for the previous service and was removed; enter this one's key if it needs one." : "";
    say(saveStatus, `Saved. Switched-off sites stop at their next page load.${forgot}`, "ok");
  }

  async function onTestConnection() {
    const url = parsedServiceUrl(connectionStatus);
    if (!url.ok) return;
    if (!(await ensurePermission(url.base))) return say(connectionStatus, `DocVouch needs your permission to reach ${url.origin}.`, "error");
    say(connectionStatus, "Testing…", "");
    const reply = await send(MessageType.UI_BG_TEST_CONNECTION, { serviceUrl: url.base });
    say(connectionStatus, reply?.detail ?? "No reply.", reply?.ok ? "ok" : "error");
  }

  document.getElementById("clear-api-key").addEventListener("click", () => {
    clearKeyRequested = true;
    apiKeyInput.value = "";
    apiKeyStatus.textContent = "The key will be removed when you save.";
  });
  document.getElementById("test-connection").addEventListener("click", onTestConnection);
  form.addEventListener("submit", onSave);

  send(MessageType.UI_BG_GET_SETTINGS).then((reply) => {
    if (reply?.ok) showSettings(reply.settings);
    else say(saveStatus, "Could not load the settings.", "error");
  });
})();
