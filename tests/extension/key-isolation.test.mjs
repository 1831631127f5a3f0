// E5: only background code names the storage key of the API key; content scripts, the renderer,
// shared code and the options page never do, and no HTML parsing API appears anywhere.
import assert from "node:assert/strict";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { test } from "node:test";
import { EXTENSION_DIR, extensionSource } from "./helpers/extension.mjs";

function filesUnder(directory) {
  return readdirSync(directory).flatMap((name) => {
    const path = join(directory, name);
    return statSync(path).isDirectory() ? filesUnder(path) : [path];
  });
}

const API_KEY_STORAGE_KEY = /API_KEY_STORAGE_KEY\s*=\s*"([^"]+)"/.exec(extensionSource("background/settings-store.js"))[1];
const sourceFiles = filesUnder(EXTENSION_DIR).filter((path) => /\.(js|mjs|html|css|json|py)$/.test(path));

test("the API key's storage key name appears only under background/", () => {
  assert.ok(API_KEY_STORAGE_KEY.length > 5);
  const mentions = sourceFiles.filter((path) => readFileSync(path, "utf8").includes(API_KEY_STORAGE_KEY)).map((path) => relative(EXTENSION_DIR, path));
  assert.deepEqual(mentions, ["background/settings-store.js"]);
});

test("content/ and render/ never touch extension storage", () => {
  for (const path of sourceFiles.filter((p) => /\/(content|render)\//.test(p))) {
    assert.doesNotMatch(readFileSync(path, "utf8"), /\bstorage\.(local|sync|session)\b|API_KEY|apiKey/, relative(EXTENSION_DIR, path));
  }
});

test("no code parses HTML strings (innerHTML, outerHTML, insertAdjacentHTML, document.write, eval)", () => {
  for (const path of sourceFiles.filter((p) => p.endsWith(".js"))) {
    assert.doesNotMatch(readFileSync(path, "utf8"), /\.(innerHTML|outerHTML)\b|insertAdjacentHTML|document\.write|\beval\(|new Function\(/, relative(EXTENSION_DIR, path));
  }
});

test("the background keeps storage.local out of content scripts' reach", async () => {
  const { loadBackground } = await import("./helpers/extension.mjs");
  const bg = loadBackground({ fetchImpl: async () => { throw new Error("unused"); } });
  assert.equal(bg.storage.accessLevel, "TRUSTED_CONTEXTS");
});
