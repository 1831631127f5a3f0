// Loads the extension's classic scripts into test worlds: a jsdom window for content scripts
// (the same files, in the same order, as the manifest lists) and a vm context for the background.
import { readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import vm from "node:vm";
import { JSDOM } from "jsdom";

const here = dirname(fileURLToPath(import.meta.url));
export const REPO_ROOT = resolve(here, "..", "..", "..");
export const EXTENSION_DIR = join(REPO_ROOT, "extension");
export const FIXTURES_DIR = join(REPO_ROOT, "tests", "fixtures", "sites");

export const manifest = JSON.parse(readFileSync(join(EXTENSION_DIR, "manifest.json"), "utf8"));

export function extensionSource(relativePath) {
  return readFileSync(join(EXTENSION_DIR, relativePath), "utf8");
}

export function fixtureHtml(name) {
  return readFileSync(join(FIXTURES_DIR, name), "utf8");
}

/** The manifest's content-script file list for one site adapter. */
export function contentScriptsFor(siteId) {
  const entry = manifest.content_scripts.find((item) => item.js.includes(`content/sites/${siteId}.js`));
  if (!entry) throw new Error(`no content script entry for ${siteId}`);
  return entry.js;
}

/** A fake `chrome.runtime` for content scripts: replies come from `onMessage(message)`. */
export function fakeContentRuntime(onMessage) {
  const sent = [];
  return {
    sent,
    api: {
      runtime: {
        id: "docvouch-test",
        sendMessage: async (message) => {
          sent.push(structuredClone(message));
          return structuredClone(await onMessage(message));
        },
      },
    },
  };
}

/**
 * A jsdom window at `url` with `files` (paths under extension/) run in it, like content scripts.
 * `chrome` is what the scripts see as the extension API.
 */
export function loadPage(html, { url, files = [], chrome = null, beforeScripts = null } = {}) {
  const dom = new JSDOM(html, { url, runScripts: "outside-only", pretendToBeVisual: true });
  const { window } = dom;
  if (chrome) window.chrome = chrome;
  beforeScripts?.(window);
  const context = dom.getInternalVMContext();
  for (const file of files) new vm.Script(extensionSource(file), { filename: file }).runInContext(context);
  return { dom, window, document: window.document, DocVouch: window.DocVouch };
}

/** Content scripts for `siteId`, without main.js (tests drive the watcher and controller). */
export function loadSitePage(siteId, html, options = {}) {
  const site = { chatgpt: "https://chatgpt.com/c/fixture", claude: "https://claude.ai/chat/fixture", gemini: "https://gemini.google.com/app/fixture",
    copilot: "https://copilot.microsoft.com/chats/fixture", perplexity: "https://www.perplexity.ai/search/fixture", deepseek: "https://chat.deepseek.com/a/chat/s/fixture" };
  const files = contentScriptsFor(siteId).filter((file) => options.withMain || file !== "content/main.js");
  return loadPage(html, { url: site[siteId], files, ...options });
}

/** A storage.local stand-in with the promise API. */
export function memoryStorage(initial = {}) {
  const data = structuredClone(initial);
  return {
    data,
    async get(key) {
      if (key === null || key === undefined) return structuredClone(data);
      const keys = Array.isArray(key) ? key : [key];
      return Object.fromEntries(keys.filter((k) => Object.hasOwn(data, k)).map((k) => [k, structuredClone(data[k])]));
    },
    async set(items) {
      Object.assign(data, structuredClone(items));
    },
    async remove(key) {
      for (const k of Array.isArray(key) ? key : [key]) delete data[k];
    },
    accessLevel: "TRUSTED_AND_UNTRUSTED_CONTEXTS",
    async setAccessLevel({ accessLevel }) {
      this.accessLevel = accessLevel;
    },
  };
}

function fakeEvent() {
  const listeners = [];
  return { listeners, addListener: (fn) => listeners.push(fn) };
}

/**
 * The background exactly as the service worker starts it (service-worker.js and its
 * importScripts), with a fake extension API and `fetch`. Returns a `send(message, sender)`
 * that goes through the real onMessage listener.
 */
export function loadBackground({ fetchImpl, storage = memoryStorage(), grantedOrigins = [] } = {}) {
  const runtimeId = "docvouch-test-id";
  const fetchCalls = [];
  const chrome = {
    runtime: {
      id: runtimeId,
      getURL: (path = "") => `chrome-extension://${runtimeId}/${path}`,
      onMessage: fakeEvent(),
      onInstalled: fakeEvent(),
      openOptionsPage: () => {},
      lastError: undefined,
    },
    storage: { local: storage },
    contextMenus: { created: [], create(item, done) { this.created.push(item); done?.(); }, onClicked: fakeEvent() },
    action: { onClicked: fakeEvent(), badges: {}, titles: {},
      async setBadgeText({ tabId, text }) { this.badges[tabId] = text; },
      async setTitle({ tabId, title }) { this.titles[tabId] = title; } },
    permissions: { contains: async ({ origins }) => origins.every((origin) => grantedOrigins.includes(origin)) },
    scripting: { injected: [], async executeScript(details) { this.injected.push(details); }, async insertCSS() {} },
  };
  const context = vm.createContext({
    chrome,
    console,
    URL,
    AbortController,
    Headers,
    setTimeout,
    clearTimeout,
    structuredClone,
    fetch: async (url, init) => {
      fetchCalls.push({ url: String(url), init });
      return fetchImpl(url, init);
    },
  });
  context.importScripts = (...paths) => {
    for (const path of paths) {
      const file = join("background", path).replace(/^background\/\.\.\//, "");
      new vm.Script(extensionSource(file), { filename: file }).runInContext(context);
    }
  };
  new vm.Script(extensionSource("background/service-worker.js"), { filename: "background/service-worker.js" }).runInContext(context);

  function send(message, sender) {
    const [listener] = chrome.runtime.onMessage.listeners;
    return new Promise((resolvePromise) => {
      const keptOpen = listener(message, sender, resolvePromise);
      if (keptOpen !== true) resolvePromise(undefined);
    });
  }

  const senders = {
    chatPage: (url = "https://chatgpt.com/c/abc") => ({ id: runtimeId, url, tab: { id: 7, url }, frameId: 0 }),
    optionsPage: () => ({ id: runtimeId, url: `chrome-extension://${runtimeId}/options/options.html`, tab: { id: 3 } }),
    otherExtension: () => ({ id: "someone-else", url: "chrome-extension://someone-else/page.html" }),
  };

  return { chrome, context, DocVouch: context.DocVouch, send, senders, fetchCalls, storage };
}

/** A JSON Response like the service's. */
export function jsonResponse(status, body, headers = {}) {
  const type = status >= 400 ? "application/problem+json" : "application/json";
  return new Response(JSON.stringify(body), { status, headers: { "content-type": type, ...headers } });
}

/** A manual clock for timers: nothing fires until `advance(ms)`. */
export function manualClock(start = 1_000_000) {
  let now = start;
  let nextId = 1;
  const timers = new Map();
  return {
    now: () => now,
    setTimeout(fn, ms) {
      const id = nextId++;
      timers.set(id, { at: now + Math.max(0, ms), fn });
      return id;
    },
    clearTimeout(id) {
      timers.delete(id);
    },
    advance(ms) {
      const target = now + ms;
      for (;;) {
        const due = [...timers.entries()].filter(([, t]) => t.at <= target).sort((a, b) => a[1].at - b[1].at)[0];
        if (!due) break;
        timers.delete(due[0]);
        now = due[1].at;
        due[1].fn();
      }
      now = target;
    },
    pending: () => timers.size,
  };
}

/** A verify result the way the service shapes it. */
export function verifyResult(claims, extra = {}) {
  const summary = { claims: claims.length, supported: 0, partial: 0, unsupported: 0, contradicted: 0 };
  for (const claim of claims) summary[claim.verdict] += 1;
  return { score: 72, summary, claims, corpus: { name: "python-docs", version: "3.11", passages: 100 }, took_ms: 6.1, truncated: false, ...extra };
}

/**
 * A click as the user makes it. jsdom cannot dispatch a trusted event, so for this one click the
 * extension's user-action check is told it is one (a page's own scripts cannot do the same: in a
 * browser they run in another world than the extension's).
 */
export function userClick(DocVouch, element) {
  const check = DocVouch.render.isUserAction;
  DocVouch.render.isUserAction = () => true;
  try {
    element.click();
  } finally {
    DocVouch.render.isUserAction = check;
  }
}
