"use strict";
// Talks to the DocVouch service: POST /v1/verify, and GET /readyz and /v1/corpus to test it. Every request has a deadline;
// a 503 (or 429) is retried at most once, after the Retry-After it asks for, and only when that
// wait is short. Everything else fails fast, so a dead service never turns into a request storm.
globalThis.DocVouch ??= {};

DocVouch.createApiClient = function createApiClient({
  fetchImpl = (...args) => fetch(...args),
  sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
  now = () => Date.now(),
  limits = DocVouch.limits,
} = {}) {
  /** One request with a deadline covering the body too; never throws. */
  async function send(url, init, timeoutMs) {
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), timeoutMs);
    try {
      const response = await fetchImpl(url, {
        ...init,
        signal: controller.signal,
        credentials: "omit",
        cache: "no-store",
        // A redirect could send the answer to another origin than the one configured.
        redirect: "error",
        referrerPolicy: "no-referrer",
      });
      const body = await readJson(response);
      return { status: response.status, headers: response.headers, body };
    } catch (error) {
      return { failure: controller.signal.aborted ? "timeout" : "unreachable", error };
    } finally {
      clearTimeout(timer);
    }
  }

  async function readJson(response) {
    const type = response.headers.get("content-type") ?? "";
    if (!/\bjson\b/.test(type)) return null;
    try {
      return await response.json();
    } catch {
      return null;
    }
  }

  /** Seconds to wait from a Retry-After header (delta-seconds or an HTTP date), or null. */
  function retryAfterSeconds(headers) {
    const raw = headers?.get("retry-after");
    if (!raw) return null;
    if (/^\d+$/.test(raw.trim())) return Number(raw.trim());
    const date = Date.parse(raw);
    return Number.isNaN(date) ? null : Math.max(0, Math.ceil((date - now()) / 1000));
  }

  function problemDetail(body) {
    if (!body || typeof body !== "object") return null;
    const detail = body.detail ?? body.title ?? body.code;
    return typeof detail === "string" ? detail.slice(0, 300) : null;
  }

  function isBusy(outcome) {
    return outcome.status === 503 || outcome.status === 429;
  }

  /** A reply for the content script: { ok: true, result } or { ok: false, state, detail }. */
  function toReply(outcome) {
    if (outcome.failure === "timeout") {
      return { ok: false, state: "unavailable", detail: `no answer within ${Math.round(limits.VERIFY_TIMEOUT_MS / 1000)} s` };
    }
    if (outcome.failure) return { ok: false, state: "unavailable", detail: "service not reachable" };
    if (isBusy(outcome)) {
      return { ok: false, state: "unavailable", detail: problemDetail(outcome.body) ?? "service busy", retryAfterS: retryAfterSeconds(outcome.headers) };
    }
    if (outcome.status === 401 || outcome.status === 403) {
      return { ok: false, state: "error", detail: "API key rejected; set it in DocVouch options" };
    }
    if (outcome.status !== 200) {
      return { ok: false, state: "error", detail: problemDetail(outcome.body) ?? `service answered HTTP ${outcome.status}` };
    }
    const result = DocVouch.normalizeVerifyResult(outcome.body);
    return result ? { ok: true, result } : { ok: false, state: "error", detail: "unexpected reply from the service" };
  }

  async function verify({ base, apiKey, text, source }) {
    const headers = { "Content-Type": "application/json", Accept: "application/json, application/problem+json" };
    if (apiKey) headers.Authorization = `Bearer ${apiKey}`;
    const init = { method: "POST", headers, body: JSON.stringify({ text, source }) };
    const url = DocVouch.serviceUrl.endpoint(base, "/v1/verify");
    let outcome = await send(url, init, limits.VERIFY_TIMEOUT_MS);
    if (isBusy(outcome)) {
      const waitS = retryAfterSeconds(outcome.headers) ?? limits.DEFAULT_RETRY_AFTER_S;
      if (waitS <= limits.MAX_RETRY_AFTER_S) {
        await sleep(waitS * 1000);
        outcome = await send(url, init, limits.VERIFY_TIMEOUT_MS);
      }
    }
    return toReply(outcome);
  }

  /**
   * The options page's "Test connection": GET /readyz (is it up, are its indexes loaded), then
   * GET /v1/corpus with the saved key, so a key the service refuses is found here and not on
   * the first answer. /healthz alone said "Connected." to a service that refused every check.
   */
  async function health(base, apiKey = null) {
    const ready = await send(DocVouch.serviceUrl.endpoint(base, "/readyz"), { method: "GET" }, limits.HEALTH_TIMEOUT_MS);
    if (ready.failure === "timeout") return { ok: false, detail: `No answer within ${Math.round(limits.HEALTH_TIMEOUT_MS / 1000)} s.` };
    if (ready.failure) return { ok: false, detail: "Could not reach the service. Is `docvouch serve` running?" };
    if (ready.status !== 200) {
      return { ok: false, detail: `The service is up but not ready: ${problemDetail(ready.body) ?? `HTTP ${ready.status}`}` };
    }
    const headers = { Accept: "application/json, application/problem+json" };
    if (apiKey) headers.Authorization = `Bearer ${apiKey}`;
    const corpus = await send(DocVouch.serviceUrl.endpoint(base, "/v1/corpus"), { method: "GET", headers }, limits.HEALTH_TIMEOUT_MS);
    if (corpus.failure) return { ok: false, detail: "The service stopped answering; try again." };
    if (corpus.status === 401 || corpus.status === 403) {
      return { ok: false, detail: apiKey ? "Reached the service, but it refused the saved API key." : "Reached the service; it needs an API key (save one above)." };
    }
    if (corpus.status !== 200) return { ok: false, detail: problemDetail(corpus.body) ?? `The service answered HTTP ${corpus.status}.` };
    return { ok: true, detail: "Connected." };
  }

  return Object.freeze({ verify, health, retryAfterSeconds });
};
