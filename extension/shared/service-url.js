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
    const path = url.pathname.replace(/\/+$/, "");
    return { ok: true, base: `${url.origin}${path}`, origin: url.origin, hostname: url.hostname };
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
