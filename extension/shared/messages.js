"use strict";
// Message types between the parts of the extension, named by direction:
//   cs-bg-*  content script -> background      ui-bg-*  extension page -> background
// A message is { type, payload }. `validate` keeps only the fields each type declares,
// so an extra field (a URL to fetch, say) never reaches a handler.
globalThis.DocVouch ??= {};

DocVouch.messages = (() => {
  const MessageType = Object.freeze({
    CS_BG_VERIFY: "cs-bg-verify",
    CS_BG_GET_SITE_SETTINGS: "cs-bg-get-site-settings",
    UI_BG_GET_SETTINGS: "ui-bg-get-settings",
    UI_BG_SET_SETTINGS: "ui-bg-set-settings",
    UI_BG_TEST_CONNECTION: "ui-bg-test-connection",
  });

  /** Who may send each type: "content" (a tab's content script) or "extension-page" (options). */
  const SENDER_FOR_PREFIX = Object.freeze({ "cs-bg-": "content", "ui-bg-": "extension-page" });

  const TRIGGERS = Object.freeze(["auto", "click", "selection"]);
  const MODES = Object.freeze(["auto", "click"]);

  const isString = (value) => typeof value === "string";

  // Each field: [required, check(value) -> error string or null].
  const SCHEMAS = Object.freeze({
    [MessageType.CS_BG_VERIFY]: {
      text: [true, (v) => {
        if (!isString(v) || v.trim() === "") return "text must be a non-empty string";
        if (v.length > DocVouch.limits.MAX_ANSWER_CHARS) return "text is longer than MAX_ANSWER_CHARS";
        return null;
      }],
      trigger: [true, (v) => (TRIGGERS.includes(v) ? null : "unknown trigger")],
    },
    [MessageType.CS_BG_GET_SITE_SETTINGS]: {},
    [MessageType.UI_BG_GET_SETTINGS]: {},
    [MessageType.UI_BG_SET_SETTINGS]: {
      serviceUrl: [false, (v) => (isString(v) && v.length <= DocVouch.limits.MAX_SERVICE_URL_CHARS ? null : "bad serviceUrl")],
      mode: [false, (v) => (MODES.includes(v) ? null : "unknown mode")],
      sites: [false, (v) => {
        if (v === null || typeof v !== "object" || Array.isArray(v)) return "sites must be an object";
        const known = DocVouch.siteCatalog.map((site) => site.id);
        for (const [id, enabled] of Object.entries(v)) {
          if (!known.includes(id) || typeof enabled !== "boolean") return `bad site switch ${id}`;
        }
        return null;
      }],
      // null clears the key; a string replaces it; absent leaves it as it is.
      apiKey: [false, (v) => (v === null || (isString(v) && v.length <= DocVouch.limits.MAX_API_KEY_CHARS) ? null : "bad apiKey")],
    },
    [MessageType.UI_BG_TEST_CONNECTION]: {
      serviceUrl: [false, (v) => (isString(v) && v.length <= DocVouch.limits.MAX_SERVICE_URL_CHARS ? null : "bad serviceUrl")],
    },
  });

  function senderKindFor(type) {
    const prefix = Object.keys(SENDER_FOR_PREFIX).find((p) => type.startsWith(p));
    return prefix ? SENDER_FOR_PREFIX[prefix] : null;
  }

  /** `{ ok: true, type, payload }` with only the declared fields, or `{ ok: false, error }`. */
  function validate(message) {
    if (message === null || typeof message !== "object") return { ok: false, error: "not an object" };
    const { type } = message;
    if (!isString(type) || !Object.hasOwn(SCHEMAS, type)) return { ok: false, error: "unknown message type" };
    const raw = message.payload ?? {};
    if (raw === null || typeof raw !== "object" || Array.isArray(raw)) return { ok: false, error: "payload must be an object" };
    const payload = {};
    for (const [field, [required, check]] of Object.entries(SCHEMAS[type])) {
      if (!Object.hasOwn(raw, field)) {
        if (required) return { ok: false, error: `${field} is required` };
        continue;
      }
      const error = check(raw[field]);
      if (error) return { ok: false, error };
      payload[field] = raw[field];
    }
    return { ok: true, type, payload };
  }

  return Object.freeze({ MessageType, TRIGGERS, MODES, SCHEMAS, senderKindFor, validate });
})();
