"use strict";
// Decides whether an answer may be sent, and sends it: the site must be switched on, identical
// requests in flight are merged, and after the service was unavailable automatic requests pause
// for a cool-down (a click from the user still goes through, one request per click).
globalThis.DocVouch ??= {};

DocVouch.createVerifyService = function createVerifyService({ store, api, now = () => Date.now(), limits = DocVouch.limits }) {
  const inFlight = new Map();
  let pausedUntil = 0;

  /** Verify `text` from a page. `siteId` is derived from the sender, never from the message. */
  async function verify({ text, trigger, siteId, pageUrl }) {
    const settings = await store.load();
    if (siteId && settings.sites[siteId] === false) {
      return { ok: false, state: "disabled", detail: "DocVouch is switched off for this site" };
    }
    if (trigger === "auto" && now() < pausedUntil) {
      return { ok: false, state: "unavailable", detail: "service was unavailable; paused briefly" };
    }
    const key = `${siteId ?? "page"}|${DocVouch.textKey(text)}`;
    if (!inFlight.has(key)) {
      const request = send({ text, siteId, pageUrl, base: settings.serviceUrl }).finally(() => inFlight.delete(key));
      inFlight.set(key, request);
    }
    return inFlight.get(key);
  }

  async function send({ text, siteId, pageUrl, base }) {
    const reply = await api.verify({ base, apiKey: await store.apiKey(), text, source: { site: siteId ?? "selection", url: pageUrl } });
    if (reply.state === "unavailable") {
      const askedMs = Number.isFinite(reply.retryAfterS) ? reply.retryAfterS * 1000 : 0;
      pausedUntil = now() + Math.max(limits.UNAVAILABLE_COOLDOWN_MS, askedMs);
    } else if (reply.ok) {
      pausedUntil = 0;
    }
    return reply;
  }

  return Object.freeze({ verify });
};

/** The page URL as sent to the service: origin and path only, since a query may hold tokens. */
DocVouch.pageUrlForService = function pageUrlForService(url) {
  try {
    const parsed = new URL(url);
    return `${parsed.origin}${parsed.pathname}`;
  } catch {
    return "";
  }
};
