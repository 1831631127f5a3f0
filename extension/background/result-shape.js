"use strict";
// The service's reply is outside input: keep only the fields the renderer uses, with the types
// it expects, so a malformed or hostile reply cannot reach the page as anything but plain text.
globalThis.DocVouch ??= {};

DocVouch.normalizeVerifyResult = (() => {
  const VERDICTS = ["supported", "partial", "unsupported", "contradicted"];
  const MAX_TEXT = 4_000;

  const text = (value, max = MAX_TEXT) => (typeof value === "string" ? value.slice(0, max) : "");
  const number = (value) => (typeof value === "number" && Number.isFinite(value) ? value : null);

  function span(value) {
    return Array.isArray(value) && value.length === 2 && value.every(Number.isInteger) ? [value[0], value[1]] : null;
  }

  function claim(raw, index) {
    if (raw === null || typeof raw !== "object" || !VERDICTS.includes(raw.verdict)) return null;
    return {
      id: text(raw.id, 64) || `c${index}`,
      text: text(raw.text),
      span: span(raw.span),
      kind: text(raw.kind, 32),
      verdict: raw.verdict,
      score: number(raw.score),
      reason: text(raw.reason),
      symbols: (Array.isArray(raw.symbols) ? raw.symbols : []).slice(0, 20).filter((s) => s && typeof s === "object").map((s) => ({
        name: text(s.name, 300),
        status: text(s.status, 32),
        suggestion: typeof s.suggestion === "string" ? text(s.suggestion, 300) : null,
      })),
      evidence: (Array.isArray(raw.evidence) ? raw.evidence : []).slice(0, 5).filter((e) => e && typeof e === "object").map((e) => ({
        title: text(e.title, 300),
        url: text(e.url, 2_048),
        snippet: text(e.snippet, 1_000),
      })),
    };
  }

  /** The reply as the renderer needs it, or null when it is not a verify result at all. */
  return function normalizeVerifyResult(body) {
    if (body === null || typeof body !== "object" || !Array.isArray(body.claims)) return null;
    const claims = body.claims.slice(0, DocVouch.limits.MAX_CLAIMS_RENDERED).map(claim).filter(Boolean);
    const summary = body.summary && typeof body.summary === "object"
      ? Object.fromEntries(["claims", ...VERDICTS].map((key) => [key, Number.isInteger(body.summary[key]) ? body.summary[key] : 0]))
      : null;
    const corpus = body.corpus && typeof body.corpus === "object"
      ? { name: text(body.corpus.name, 200), version: text(body.corpus.version, 100) }
      : null;
    return { score: number(body.score), summary, claims, corpus, took_ms: number(body.took_ms), truncated: body.truncated === true };
  };
})();
