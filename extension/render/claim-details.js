"use strict";
// One claim's verdict, reason, suggestion, evidence snippet and doc link, shown both in the
// hover card and in the badge's claim list.
globalThis.DocVouch ??= {};
DocVouch.render ??= {};

DocVouch.render.claimDetails = function claimDetails(doc, claim, { showClaimText = false } = {}) {
  const { el } = DocVouch.render.dom;
  const format = DocVouch.render.format;
  const box = el(doc, "div", "dv-detail");
  box.dataset.verdict = claim.verdict;

  const verdict = el(doc, "p", "dv-verdict");
  verdict.append(el(doc, "span", "dv-dot"), el(doc, "span", null, format.verdictLabel(claim.verdict)));
  box.append(verdict);

  if (showClaimText && claim.text) box.append(el(doc, "p", "dv-claim-text", claim.text));
  if (claim.reason) box.append(el(doc, "p", "dv-reason", claim.reason));

  const suggestion = format.suggestionFor(claim);
  if (suggestion) {
    const line = el(doc, "p", "dv-suggestion", "Did you mean ");
    line.append(el(doc, "code", null, suggestion), doc.createTextNode("?"));
    box.append(line);
  }

  const evidence = (claim.evidence ?? [])[0];
  if (evidence) {
    if (evidence.snippet) box.append(el(doc, "blockquote", "dv-snippet", evidence.snippet));
    const href = format.safeHttpUrl(evidence.url);
    if (href) {
      const link = el(doc, "a", "dv-doc-link", `${evidence.title || href} ↗`);
      link.href = href;
      link.target = "_blank";
      link.rel = "noopener noreferrer";
      box.append(link);
    }
  }
  return box;
};
