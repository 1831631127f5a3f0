// E8: an unreachable, slow or busy service gives an "unavailable" reply, with at most one retry
// (after the Retry-After it asks for) and no request storm afterwards.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { jsonResponse, loadBackground, verifyResult } from "./helpers/extension.mjs";

const BASE = "http://127.0.0.1:8765";
const REQUEST = { base: BASE, apiKey: null, text: "Use `os.path.isdir`.", source: { site: "chatgpt", url: "https://chatgpt.com/c/1" } };

/** The background's API client with scripted responses and a recorded, instant sleep. */
function client(responses, { limits } = {}) {
  const { DocVouch } = loadBackground({ fetchImpl: async () => { throw new Error("unused"); } });
  const calls = [];
  const sleeps = [];
  const api = DocVouch.createApiClient({
    fetchImpl: async (url, init) => {
      calls.push({ url, init });
      const next = responses.shift();
      if (!next) throw new Error("no more scripted responses");
      return typeof next === "function" ? next(init) : next;
    },
    sleep: async (ms) => { sleeps.push(ms); },
    now: () => Date.parse("2026-11-25T12:00:00Z"),
    limits: limits ? { ...DocVouch.limits, ...limits } : DocVouch.limits,
  });
  return { api, calls, sleeps, DocVouch };
}

const busy = (retryAfter) => jsonResponse(503, { type: "about:blank", title: "Service Unavailable", status: 503, detail: "verify queue is full" },
  retryAfter === undefined ? {} : { "retry-after": retryAfter });
const ok = () => jsonResponse(200, verifyResult([{ id: "c1", text: "x", span: [0, 1], verdict: "supported" }]));

describe("API client retries (E8)", () => {
  test("a 503 with Retry-After is retried once, after that many seconds", async () => {
    const { api, calls, sleeps } = client([busy("2"), ok()]);
    const reply = await api.verify(REQUEST);
    assert.equal(reply.ok, true);
    assert.equal(calls.length, 2);
    assert.deepEqual(sleeps, [2000]);
  });

  test("a second 503 is not retried again: the badge shows unavailable", async () => {
    const { api, calls } = client([busy("1"), busy("1"), ok()]);
    const reply = await api.verify(REQUEST);
    assert.equal(reply.ok, false);
    assert.equal(reply.state, "unavailable");
    assert.equal(reply.detail, "verify queue is full");
    assert.equal(calls.length, 2);
  });

  test("a Retry-After longer than MAX_RETRY_AFTER_S is not waited for", async () => {
    const { api, calls, sleeps } = client([busy("120")]);
    const reply = await api.verify(REQUEST);
    assert.equal(reply.state, "unavailable");
    assert.equal(reply.retryAfterS, 120);
    assert.equal(calls.length, 1);
    assert.deepEqual(sleeps, []);
  });

  test("Retry-After as an HTTP date is honoured too", async () => {
    const { api, sleeps } = client([busy("Wed, 25 Nov 2026 12:00:05 GMT"), ok()]);
    await api.verify(REQUEST);
    assert.deepEqual(sleeps, [5000]);
  });

  test("an unreachable service is not retried", async () => {
    const { api, calls } = client([() => { throw new TypeError("Failed to fetch"); }]);
    const reply = await api.verify(REQUEST);
    assert.deepEqual([reply.ok, reply.state, reply.detail], [false, "unavailable", "service not reachable"]);
    assert.equal(calls.length, 1);
  });

  test("a request that outlives its deadline is aborted and reported as unavailable", async () => {
    const hang = (init) => new Promise((_resolve, reject) => {
      init.signal.addEventListener("abort", () => reject(new DOMException("aborted", "AbortError")));
    });
    const { api, calls } = client([hang], { limits: { VERIFY_TIMEOUT_MS: 30 } });
    const reply = await api.verify(REQUEST);
    assert.equal(reply.state, "unavailable");
    assert.match(reply.detail, /no answer within/);
    assert.equal(calls.length, 1);
  });

  test("problem+json errors show their detail; a rejected key says where to fix it", async () => {
    const { api } = client([jsonResponse(422, { type: "about:blank", title: "Unprocessable", status: 422, detail: "answer_too_long" })]);
    assert.deepEqual({ ...(await api.verify(REQUEST)) }, { ok: false, state: "error", detail: "answer_too_long" });
    const unauthorized = client([jsonResponse(401, { title: "Unauthorized", status: 401 })]);
    assert.match((await unauthorized.api.verify(REQUEST)).detail, /API key rejected/);
  });

  test("a 200 that is not a verify result is an error, not a crash", async () => {
    const { api } = client([new Response("<html>proxy login</html>", { status: 200, headers: { "content-type": "text/html" } })]);
    assert.equal((await api.verify(REQUEST)).state, "error");
  });
});

describe("verify service cool-down (E8)", () => {
  test("after an unavailable reply, automatic requests from other answers pause instead of storming", async () => {
    let now = 0;
    const { api, calls, DocVouch } = client([() => { throw new TypeError("Failed to fetch"); }, ok()]);
    const store = { load: async () => ({ serviceUrl: BASE, mode: "auto", sites: { chatgpt: true } }), apiKey: async () => null };
    const verifier = DocVouch.createVerifyService({ store, api, now: () => now });
    const ask = (text, trigger = "auto") => verifier.verify({ text, trigger, siteId: "chatgpt", pageUrl: "https://chatgpt.com/c/1" });

    assert.equal((await ask("first answer")).state, "unavailable");
    for (let i = 0; i < 20; i += 1) assert.equal((await ask(`answer ${i}`)).state, "unavailable");
    assert.equal(calls.length, 1, "twenty more answers, no more requests");

    const clicked = await ask("answer 3", "click");
    assert.equal(clicked.ok, true, "the user's Retry click goes through");
    assert.equal(calls.length, 2);
  });

  test("the pause ends after the cool-down", async () => {
    let now = 0;
    const { api, calls, DocVouch } = client([() => { throw new TypeError("Failed to fetch"); }, ok()]);
    const store = { load: async () => ({ serviceUrl: BASE, mode: "auto", sites: { chatgpt: true } }), apiKey: async () => null };
    const verifier = DocVouch.createVerifyService({ store, api, now: () => now });
    const ask = (text) => verifier.verify({ text, trigger: "auto", siteId: "chatgpt", pageUrl: "https://chatgpt.com/c/1" });
    await ask("first answer");
    now += DocVouch.limits.UNAVAILABLE_COOLDOWN_MS + 1;
    assert.equal((await ask("later answer")).ok, true);
    assert.equal(calls.length, 2);
  });
});

describe("Test connection", () => {
  const ready = () => jsonResponse(200, { status: "ready" });
  const corpora = () => jsonResponse(200, { default: "python", corpora: [] });
  const refused = () => jsonResponse(401, { type: "about:blank", title: "Unauthorized", status: 401, detail: "a key is required" });

  test("connected means ready and the saved key accepted", async () => {
    const { api, calls } = client([ready(), corpora()]);
    const reply = await api.health(BASE, "k3y");
    assert.equal(reply.ok, true);
    assert.equal(reply.detail, "Connected.");
    assert.deepEqual(calls.map((c) => String(c.url)), [`${BASE}/readyz`, `${BASE}/v1/corpus`]);
    assert.equal(calls[1].init.headers.Authorization, "Bearer k3y");
    assert.equal("Authorization" in (calls[0].init.headers ?? {}), false, "readyz needs no key");
  });

  test("a service that refuses the key is not 'Connected.'", async () => {
    const withKey = client([ready(), refused()]);
    const reply = await withKey.api.health(BASE, "wrong");
    assert.equal(reply.ok, false);
    assert.match(reply.detail, /refused the saved API key/);
    const withoutKey = client([ready(), refused()]);
    assert.match((await withoutKey.api.health(BASE, null)).detail, /needs an API key/);
  });

  test("a service that is up but not ready says so", async () => {
    const { api, calls } = client([jsonResponse(503, { status: 503, detail: "the index failed to load", code: "not_ready" })]);
    const reply = await api.health(BASE, null);
    assert.equal(reply.ok, false);
    assert.match(reply.detail, /not ready: the index failed to load/);
    assert.equal(calls.length, 1);
  });
});
