"use strict";
// Words and links shown to the user, derived from a verify result. Nothing here touches the DOM.
globalThis.DocVouch ??= {};
DocVouch.render ??= {};

DocVouch.render.format = (() => {
  const VERDICTS = Object.freeze(["supported", "partial", "unsupported", "contradicted"]);

  const VERDICT_LABELS = Object.freeze({
    supported: "Backed by the docs",
    partial: "Partly backed by the docs",
    unsupported: "Not in the docs",
    contradicted: "Contradicted by the docs",
  });

  // Order and wording of the badge's counts: "DocVouch 72 · 5 backed · 1 contradicted · 2 not in docs".
  const SUMMARY_WORDS = Object.freeze([
    ["supported", "backed"],
    ["partial", "partly backed"],
    ["contradicted", "contradicted"],
    ["unsupported", "not in docs"],
  ]);

  function countVerdicts(claims) {
    const counts = Object.fromEntries(VERDICTS.map((verdict) => [verdict, 0]));
    for (const claim of claims) if (Object.hasOwn(counts, claim.verdict)) counts[claim.verdict] += 1;
    return counts;
  }

  /** The badge line for a result. */
  function summaryLine(result) {
    const score = Number.isFinite(result.score) ? String(Math.round(result.score)) : "–";
    const counts = result.summary ?? countVerdicts(result.claims);
    const parts = SUMMARY_WORDS.filter(([verdict]) => counts[verdict] > 0).map(([verdict, words]) => `${counts[verdict]} ${words}`);
    if (parts.length === 0) parts.push("nothing to check");
    return [`DocVouch ${score}`, ...parts].join(" · ");
  }

  function verdictLabel(verdict) {
    return VERDICT_LABELS[verdict] ?? "Not checked";
  }

  /** The first symbol suggestion of a claim ("os.path.isdir"), or null. */
  function suggestionFor(claim) {
    const symbol = (claim.symbols ?? []).find((entry) => typeof entry.suggestion === "string" && entry.suggestion !== "");
    return symbol ? symbol.suggestion : null;
  }

  /** The URL as a string when it is http(s); anything else (javascript:, data:) becomes null. */
  function safeHttpUrl(raw) {
    try {
      const url = new URL(raw);
      return url.protocol === "http:" || url.protocol === "https:" ? url.href : null;
    } catch {
      return null;
    }
  }

  return Object.freeze({ VERDICTS, summaryLine, verdictLabel, suggestionFor, safeHttpUrl, countVerdicts });
})();
