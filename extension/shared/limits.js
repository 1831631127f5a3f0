"use strict";
// Limits and defaults shared by every part of the extension. Classic script (not a module)
// because content scripts cannot import modules without web_accessible_resources.
globalThis.DocVouch ??= {};

DocVouch.limits = Object.freeze({
  /** The service rejects longer answers (RELIABILITY `max_answer_chars`); we cut before sending. */
  MAX_ANSWER_CHARS: 100_000,
  /** Shorter answers ("Sure!", "Done.") hold nothing worth checking. */
  MIN_ANSWER_CHARS: 24,
  /** An answer counts as finished after this long without a DOM mutation. */
  COMPLETION_DEBOUNCE_MS: 800,
  /** The service's own deadline is 10 s; leave room for the network before giving up. */
  VERIFY_TIMEOUT_MS: 12_000,
  HEALTH_TIMEOUT_MS: 3_000,
  /** One retry after a 503 only when the wait it asks for is this short; a service worker may sleep. */
  MAX_RETRY_AFTER_S: 20,
  /** Wait before the single retry when a 503 carries no Retry-After. */
  DEFAULT_RETRY_AFTER_S: 2,
  /** After "unavailable", automatic requests pause this long so many answers cannot make a storm. */
  UNAVAILABLE_COOLDOWN_MS: 15_000,
  /** A context-menu click lets that tab send one selection within this window. */
  SELECTION_GRANT_MS: 60_000,
  MAX_CLAIMS_RENDERED: 200,
  MAX_SERVICE_URL_CHARS: 2_048,
  MAX_API_KEY_CHARS: 4_096,
  DEFAULT_SERVICE_URL: "http://127.0.0.1:8765",
});
