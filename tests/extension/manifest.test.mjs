// E4: the manifest's permissions and CSP are pinned; changing them is a deliberate act.
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, test } from "node:test";
import vm from "node:vm";
import { EXTENSION_DIR, extensionSource, manifest } from "./helpers/extension.mjs";

const CHAT_SITE_PATTERNS = [
  "https://chatgpt.com/*",
  "https://chat.openai.com/*",
  "https://claude.ai/*",
  "https://gemini.google.com/*",
  "https://copilot.microsoft.com/*",
  "https://perplexity.ai/*",
  "https://www.perplexity.ai/*",
  "https://chat.deepseek.com/*",
];
const DEFAULT_SERVICE_PATTERNS = ["http://127.0.0.1/*", "http://localhost/*"];

describe("manifest pin (E4)", () => {
  test("is Manifest V3", () => {
    assert.equal(manifest.manifest_version, 3);
  });

  test("host_permissions are exactly the chat sites and the loopback service", () => {
    assert.deepEqual([...manifest.host_permissions].sort(), [...CHAT_SITE_PATTERNS, ...DEFAULT_SERVICE_PATTERNS].sort());
  });

  test("no broad host access is granted at install time", () => {
    for (const pattern of manifest.host_permissions) {
      assert.doesNotMatch(pattern, /<all_urls>|^\*:|:\/\/\*\/|:\/\/\*\./, pattern);
    }
    assert.equal(manifest.permissions.includes("<all_urls>"), false);
  });

  test("other service origins are only optional, asked for from the options page", () => {
    assert.deepEqual(manifest.optional_host_permissions, ["https://*/*", "http://*/*"]);
  });

  test("API permissions are the four it needs", () => {
    assert.deepEqual([...manifest.permissions].sort(), ["activeTab", "contextMenus", "scripting", "storage"]);
  });

  test("the extension pages' CSP allows only our own scripts and no plugins", () => {
    const csp = manifest.content_security_policy.extension_pages;
    assert.match(csp, /(^|;)\s*script-src 'self'(;|$)/);
    assert.match(csp, /(^|;)\s*object-src 'none'(;|$)/);
    assert.doesNotMatch(csp, /unsafe-eval|unsafe-inline|wasm-unsafe-eval|https?:/);
    assert.equal(manifest.content_security_policy.sandbox, undefined);
  });

  test("exposes no web-accessible resources and accepts no messages from web pages", () => {
    assert.equal(manifest.web_accessible_resources, undefined);
    assert.equal(manifest.externally_connectable, undefined);
  });

  test("each chat site runs only its own adapter, on its own hosts", () => {
    for (const entry of manifest.content_scripts) {
      const adapters = entry.js.filter((file) => file.startsWith("content/sites/"));
      assert.equal(adapters.length, 1, entry.matches.join());
      assert.equal(entry.js.at(-1), "content/main.js");
      assert.equal(entry.all_frames ?? false, false);
      for (const pattern of entry.matches) assert.ok(CHAT_SITE_PATTERNS.includes(pattern), pattern);
    }
    const covered = manifest.content_scripts.flatMap((entry) => entry.matches).sort();
    assert.deepEqual(covered, [...CHAT_SITE_PATTERNS].sort());
  });

  test("the site catalog the background trusts matches the content-script hosts", () => {
    const context = vm.createContext({});
    vm.runInContext(extensionSource("shared/sites.js"), context);
    const catalogHosts = [...context.DocVouch.siteCatalog.flatMap((site) => [...site.hosts])].sort();
    const manifestHosts = CHAT_SITE_PATTERNS.map((pattern) => new URL(pattern.replace("/*", "/")).hostname).sort();
    assert.deepEqual(catalogHosts, manifestHosts);
  });

  test("every file the manifest, the service worker and the menu injection name exists", () => {
    const files = new Set([
      manifest.background.service_worker,
      manifest.options_ui.page,
      ...Object.values(manifest.icons),
      ...manifest.content_scripts.flatMap((entry) => [...entry.js, ...(entry.css ?? [])]),
    ]);
    const worker = extensionSource("background/service-worker.js");
    for (const [, path] of worker.matchAll(/"((?:\.\.\/)?[\w/-]+\.js)"/g)) files.add(join("background", path).replace(/^shared/, "shared"));
    const menu = extensionSource("background/context-menu.js");
    for (const [, path] of menu.matchAll(/"((?:shared|content|render)\/[\w/-]+\.(?:js|css))"/g)) files.add(path);
    for (const file of files) assert.ok(existsSync(join(EXTENSION_DIR, file)), file);
  });

  test("the options page loads only local scripts", () => {
    const html = readFileSync(join(EXTENSION_DIR, "options", "options.html"), "utf8");
    for (const [, src] of html.matchAll(/<script[^>]*src="([^"]+)"/g)) assert.doesNotMatch(src, /^(https?:)?\/\//);
    assert.doesNotMatch(html, /<script(?![^>]*\bsrc=)[^>]*>/, "no inline scripts");
    assert.doesNotMatch(html, /\son[a-z]+=/i, "no inline event handlers");
  });
});
