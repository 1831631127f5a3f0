"use strict";
// The chat sites DocVouch watches. The background decides which site a message came from by
// matching the sender's URL against this list, never by trusting a field in the message.
globalThis.DocVouch ??= {};

DocVouch.siteCatalog = Object.freeze([
  { id: "chatgpt", label: "ChatGPT", hosts: ["chatgpt.com", "chat.openai.com"] },
  { id: "claude", label: "Claude", hosts: ["claude.ai"] },
  { id: "gemini", label: "Gemini", hosts: ["gemini.google.com"] },
  { id: "copilot", label: "Microsoft Copilot", hosts: ["copilot.microsoft.com"] },
  { id: "perplexity", label: "Perplexity", hosts: ["perplexity.ai", "www.perplexity.ai"] },
  { id: "deepseek", label: "DeepSeek", hosts: ["chat.deepseek.com"] },
].map((site) => Object.freeze({ ...site, hosts: Object.freeze(site.hosts) })));

/** The catalog id for a URL's host, or null for any other page. */
DocVouch.siteIdForUrl = function siteIdForUrl(url) {
  let host;
  try {
    host = new URL(url).hostname;
  } catch {
    return null;
  }
  const site = DocVouch.siteCatalog.find((entry) => entry.hosts.includes(host));
  return site ? site.id : null;
};
