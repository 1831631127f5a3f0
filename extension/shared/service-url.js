"use strict";
// Parsing the configured service URL, shared by the options page (to ask for a host
// permission) and the background (the only code that fetches from it).
globalThis.DocVouch ??= {};

DocVouch.serviceUrl = (() => {
  /** Origins the manifest grants at install time; any other needs optional_host_permissions. */
  const BUILT_IN_HOSTS = Object.freeze(["127.0.0.1", "localhost"]);

  /** A normalised base URL ("http://host:port" plus any path prefix, no trailing slash), or an error. */
  function parse(raw) {
    if (typeof raw !== "string" || raw.trim() === "") return { ok: false, error: "Enter the service URL." };
    if (raw.length > DocVouch.limits.MAX_SERVICE_URL_CHARS) return { ok: false, error: "That URL is too long." };
    let url;
    try {
      url = new URL(raw.trim());
    } catch {
      return { ok: false, error: "That is not a URL." };
    }
    if (url.protocol !== "http:" && url.protocol !== "https:") {
      return { ok: false, error: "Use an http:// or https:// URL." };
    }
    // Credentials in the URL would be sent with every request and shown in the options page.
    if (url.username || url.password) return { ok: false, error: "Put the API key in its own field, not in the URL." };
    if (url.search || url.hash) return { ok: false, error: "Leave out the ?query and #fragment." };
    // Answers (often client work) and the API key would cross the network in clear text.
    if (url.protocol === "http:" && !isLoopback(url.hostname)) {
      return { ok: false, error: "Use https:// for a service on another machine; http:// is for this computer (127.0.0.1, localhost) only." };
    }
    const path = url.pathname.replace(/\/+$/, "");
    return { ok: true, base: `${url.origin}${path}`, origin: url.origin, hostname: url.hostname };
  }

  /** 127.0.0.0/8, ::1 and localhost: names that never leave this computer. */
  function isLoopback(hostname) {
    return hostname === "localhost" || hostname === "[::1]" || /^127(?:\.\d{1,3}){3}$/.test(hostname);
  }

  /** The match pattern that grants fetch access to the service (ports are not part of patterns). */
  function permissionPattern(base) {
    const url = new URL(base);
    return `${url.protocol}//${url.hostname}/*`;
  }

  function needsOptionalPermission(base) {
    const url = new URL(base);
    return !(url.protocol === "http:" && BUILT_IN_HOSTS.includes(url.hostname));
  }

  /** An endpoint under the base, e.g. endpoint(base, "/v1/verify"). */
  function endpoint(base, path) {
    return `${base}${path}`;
  }

  return Object.freeze({ parse, permissionPattern, needsOptionalPermission, endpoint });
})();
