// E1, E2: the background's message boundary, exercised through the real service-worker wiring
// (service-worker.js and its importScripts) with a fake extension API and fetch.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { jsonResponse, loadBackground, memoryStorage, verifyResult } from "./helpers/extension.mjs";

const ANSWER = "Use `os.path.isdir(p)` to test for a directory.";

function okService() {
  return async () => jsonResponse(200, verifyResult([{ id: "c1", text: "x", span: [0, 3], verdict: "supported", evidence: [] }]));
}

describe("message validation (E1)", () => {
  test("an unknown message type is rejected and nothing is fetched", async () => {
    const bg = loadBackground({ fetchImpl: okService() });
    const reply = await bg.send({ type: "cs-bg-delete-everything", payload: {} }, bg.senders.chatPage());
    assert.equal(reply.ok, false);
    assert.equal(reply.state, "rejected");
    assert.equal(bg.fetchCalls.length, 0);
  });

  test("a content script cannot change settings, and they stay as they were", async () => {
    const bg = loadBackground({ fetchImpl: okService() });
    const before = structuredClone(bg.storage.data);
    const reply = await bg.send(
      { type: "ui-bg-set-settings", payload: { serviceUrl: "https://attacker.example", apiKey: "stolen" } },
      bg.senders.chatPage(),
    );
    assert.equal(reply.state, "rejected");
    assert.deepEqual(bg.storage.data, before);
  });

  test("a content script cannot read the settings or run the connection test", async () => {
    const bg = loadBackground({ fetchImpl: okService() });
    for (const type of ["ui-bg-get-settings", "ui-bg-test-connection"]) {
      const reply = await bg.send({ type, payload: {} }, bg.senders.chatPage());
      assert.equal(reply.state, "rejected", type);
    }
    assert.equal(bg.fetchCalls.length, 0);
  });

  test("messages from another extension or with no sender are rejected", async () => {
    const bg = loadBackground({ fetchImpl: okService() });
    for (const sender of [bg.senders.otherExtension(), undefined, { id: "docvouch-test-id" }]) {
      const reply = await bg.send({ type: "cs-bg-verify", payload: { text: ANSWER, trigger: "auto" } }, sender);
      assert.equal(reply.state, "rejected");
    }
    assert.equal(bg.fetchCalls.length, 0);
  });

  test("the options page can save settings and never gets the API key back", async () => {
    const bg = loadBackground({ fetchImpl: okService() });
    const saved = await bg.send({ type: "ui-bg-set-settings", payload: { mode: "click", apiKey: "s3cret" } }, bg.senders.optionsPage());
    assert.equal(saved.ok, true);
    assert.equal(saved.settings.mode, "click");
    assert.equal(saved.settings.hasApiKey, true);
    assert.equal(JSON.stringify(saved).includes("s3cret"), false);
    const read = await bg.send({ type: "ui-bg-get-settings" }, bg.senders.optionsPage());
    assert.equal(JSON.stringify(read).includes("s3cret"), false);
  });

  test("a service URL on another origin needs its optional host permission first", async () => {
    const bg = loadBackground({ fetchImpl: okService() });
    const refused = await bg.send({ type: "ui-bg-set-settings", payload: { serviceUrl: "https://docvouch.team.example" } }, bg.senders.optionsPage());
    assert.equal(refused.ok, false);
    const granted = loadBackground({ fetchImpl: okService(), grantedOrigins: ["https://docvouch.team.example/*"] });
    const accepted = await granted.send({ type: "ui-bg-set-settings", payload: { serviceUrl: "https://docvouch.team.example/" } }, granted.senders.optionsPage());
    assert.equal(accepted.ok, true);
    assert.equal(accepted.settings.serviceUrl, "https://docvouch.team.example");
  });
});

describe("the service URL and its key", () => {
  test("plain http is for this computer only; another machine needs https", async () => {
    const bg = loadBackground({ fetchImpl: okService() });
    const parse = (raw) => bg.DocVouch.serviceUrl.parse(raw);
    for (const raw of ["http://127.0.0.1:8765", "http://localhost:9000", "http://127.1.2.3:8765", "http://[::1]:8765"]) {
      assert.equal(parse(raw).ok, true, raw);
    }
    for (const raw of ["http://192.168.1.5:8765", "http://docvouch.team.example", "http://127.0.0.1.nip.io:8765"]) {
      const parsed = parse(raw);
      assert.equal(parsed.ok, false, raw);
      assert.match(parsed.error, /https:\/\//);
    }
    assert.equal(parse("https://192.168.1.5:8765").ok, true);
  });

  test("a key saved for one service is not sent to the next one", async () => {
    const bg = loadBackground({ fetchImpl: okService(), grantedOrigins: ["https://docvouch.team.example/*"] });
    const options = bg.senders.optionsPage();
    await bg.send({ type: "ui-bg-set-settings", payload: { apiKey: "for-localhost" } }, options);
    const samePlace = await bg.send({ type: "ui-bg-set-settings", payload: { serviceUrl: "http://127.0.0.1:8765/", mode: "auto" } }, options);
    assert.equal(samePlace.settings.hasApiKey, true, "the same origin keeps its key");
    assert.equal(samePlace.keyForgotten, false);
    const moved = await bg.send({ type: "ui-bg-set-settings", payload: { serviceUrl: "https://docvouch.team.example" } }, options);
    assert.equal(moved.ok, true);
    assert.equal(moved.keyForgotten, true);
    assert.equal(moved.settings.hasApiKey, false);
    assert.equal(JSON.stringify(bg.storage.data).includes("for-localhost"), false);
    const withKey = await bg.send({ type: "ui-bg-set-settings", payload: { serviceUrl: "http://127.0.0.1:8765", apiKey: "for-local-again" } }, options);
    assert.equal(withKey.settings.hasApiKey, true, "a new key given with the new URL is kept");
    assert.equal(withKey.keyForgotten, false);
  });
});

describe("verify requests (E2)", () => {
  test("a url field in the message is ignored: only the configured service is fetched", async () => {
    const bg = loadBackground({ fetchImpl: okService() });
    const reply = await bg.send(
      { type: "cs-bg-verify", payload: { text: ANSWER, trigger: "auto", url: "https://evil.example/collect", serviceUrl: "https://evil.example" } },
      bg.senders.chatPage(),
    );
    assert.equal(reply.ok, true);
    assert.deepEqual(bg.fetchCalls.map((call) => call.url), ["http://127.0.0.1:8765/v1/verify"]);
    const body = JSON.parse(bg.fetchCalls[0].init.body);
    assert.deepEqual(Object.keys(body).sort(), ["source", "text"]);
    assert.deepEqual(body.source, { site: "chatgpt", url: "https://chatgpt.com/c/abc" });
  });

  test("the site is taken from the sender's URL, and the page query never leaves the browser", async () => {
    const bg = loadBackground({ fetchImpl: okService() });
    await bg.send({ type: "cs-bg-verify", payload: { text: ANSWER, trigger: "auto", site: "gemini" } }, bg.senders.chatPage("https://claude.ai/chat/1?token=abc#x"));
    assert.deepEqual(JSON.parse(bg.fetchCalls[0].init.body).source, { site: "claude", url: "https://claude.ai/chat/1" });
  });

  test("text longer than MAX_ANSWER_CHARS is rejected before any fetch", async () => {
    const bg = loadBackground({ fetchImpl: okService() });
    const reply = await bg.send({ type: "cs-bg-verify", payload: { text: "a".repeat(100_001), trigger: "auto" } }, bg.senders.chatPage());
    assert.equal(reply.state, "rejected");
    assert.equal(bg.fetchCalls.length, 0);
    const atLimit = await bg.send({ type: "cs-bg-verify", payload: { text: "a".repeat(100_000), trigger: "auto" } }, bg.senders.chatPage());
    assert.equal(atLimit.ok, true);
  });

  test("nothing is sent for a site the user switched off", async () => {
    const storage = memoryStorage({ settings: { sites: { chatgpt: false } } });
    const bg = loadBackground({ fetchImpl: okService(), storage });
    const settings = await bg.send({ type: "cs-bg-get-site-settings" }, bg.senders.chatPage());
    assert.equal(settings.enabled, false);
    const reply = await bg.send({ type: "cs-bg-verify", payload: { text: ANSWER, trigger: "click" } }, bg.senders.chatPage());
    assert.equal(reply.state, "disabled");
    assert.equal(bg.fetchCalls.length, 0);
  });

  test("a page that is not a chat site may only send a selection the user asked for from the menu", async () => {
    const bg = loadBackground({ fetchImpl: okService() });
    const sender = bg.senders.chatPage("https://blog.example/post");
    const unasked = await bg.send({ type: "cs-bg-verify", payload: { text: ANSWER, trigger: "selection" } }, sender);
    assert.equal(unasked.state, "rejected");
    const auto = await bg.send({ type: "cs-bg-verify", payload: { text: ANSWER, trigger: "auto" } }, sender);
    assert.equal(auto.state, "rejected");
    assert.equal(bg.fetchCalls.length, 0);

    const [onClicked] = bg.chrome.contextMenus.onClicked.listeners;
    await onClicked({ menuItemId: "docvouch-verify-selection", frameId: 0 }, { id: 7, url: "https://blog.example/post" });
    assert.equal(bg.chrome.scripting.injected.length, 1);
    const granted = await bg.send({ type: "cs-bg-verify", payload: { text: ANSWER, trigger: "selection" } }, sender);
    assert.equal(granted.ok, true);
    const again = await bg.send({ type: "cs-bg-verify", payload: { text: ANSWER, trigger: "selection" } }, sender);
    assert.equal(again.state, "rejected", "a grant is used once");
    assert.deepEqual(JSON.parse(bg.fetchCalls[0].init.body).source, { site: "selection", url: "https://blog.example/post" });
  });

  test("a page that refuses scripts (a browser page, a PDF) is reported on the toolbar button", async () => {
    const bg = loadBackground({ fetchImpl: okService() });
    bg.chrome.scripting.executeScript = async () => { throw new Error("Cannot access contents of the page"); };
    const [onClicked] = bg.chrome.contextMenus.onClicked.listeners;
    await onClicked({ menuItemId: "docvouch-verify-selection", frameId: 0 }, { id: 9, url: "chrome://settings" });
    assert.equal(bg.chrome.action.badges[9], "!");
    assert.match(bg.chrome.action.titles[9], /cannot read this page/);
  });

  test("the API key goes only in the Authorization header to the configured service", async () => {
    const bg = loadBackground({ fetchImpl: okService() });
    await bg.send({ type: "ui-bg-set-settings", payload: { apiKey: "k-123" } }, bg.senders.optionsPage());
    await bg.send({ type: "cs-bg-verify", payload: { text: ANSWER, trigger: "auto" } }, bg.senders.chatPage());
    const [call] = bg.fetchCalls;
    assert.equal(call.init.headers.Authorization, "Bearer k-123");
    assert.equal(call.init.redirect, "error");
    assert.equal(call.init.credentials, "omit");
  });

  test("the same answer sent twice at once makes one request", async () => {
    let release;
    const gate = new Promise((resolve) => { release = resolve; });
    const bg = loadBackground({ fetchImpl: async () => { await gate; return okService()(); } });
    const message = { type: "cs-bg-verify", payload: { text: ANSWER, trigger: "auto" } };
    const replies = Promise.all([bg.send(message, bg.senders.chatPage()), bg.send(message, bg.senders.chatPage())]);
    await new Promise((resolve) => setImmediate(resolve));
    release();
    const [first, second] = await replies;
    assert.equal(first.ok && second.ok, true);
    assert.equal(bg.fetchCalls.length, 1);
  });

  test("a hostile reply is reduced to plain fields; javascript: links never reach the renderer as links", async () => {
    const hostile = verifyResult([{ id: "c1", text: "<img src=x onerror=alert(1)>", span: [0, 3], verdict: "contradicted",
      evidence: [{ title: "t", url: "javascript:alert(1)", snippet: "</style><script>alert(1)</script>", extra: "dropped" }], onclick: "x" }]);
    const bg = loadBackground({ fetchImpl: async () => jsonResponse(200, hostile) });
    const reply = await bg.send({ type: "cs-bg-verify", payload: { text: ANSWER, trigger: "auto" } }, bg.senders.chatPage());
    const [claim] = reply.result.claims;
    assert.equal(claim.text, "<img src=x onerror=alert(1)>");
    assert.equal("onclick" in claim, false);
    assert.equal("extra" in claim.evidence[0], false);
  });
});
