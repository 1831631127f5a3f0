"use strict";
// The badge under an answer: "DocVouch 72 · 5 backed · 1 contradicted · 2 not in docs". Clicking
// it opens the list of claims (the keyboard way to the same details the hover card shows).
globalThis.DocVouch ??= {};
DocVouch.render ??= {};

DocVouch.render.createBadge = function createBadge(doc, { onVerify, onRetry, onClose = null } = {}) {
  const { el, shadowHost } = DocVouch.render.dom;
  const format = DocVouch.render.format;
  const { host, root } = shadowHost(doc, "docvouch-badge", DocVouch.render.styles.BADGE);

  const container = el(doc, "div", "dv-badge");
  const row = el(doc, "div", "dv-row");
  const summary = el(doc, "button", "dv-summary");
  summary.type = "button";
  const action = el(doc, "button", "dv-action");
  action.type = "button";
  const panel = el(doc, "div", "dv-panel");
  panel.hidden = true;
  row.append(summary, action);
  if (onClose) {
    const close = el(doc, "button", "dv-close", "×");
    close.type = "button";
    close.setAttribute("aria-label", "Close DocVouch");
    close.addEventListener("click", (event) => {
      if (DocVouch.render.isUserAction(event)) onClose();
    });
    row.append(close);
  }
  container.append(row, panel);
  root.append(container);

  let actionHandler = null;
  action.addEventListener("click", (event) => {
    if (DocVouch.render.isUserAction(event)) actionHandler?.();
  });
  summary.addEventListener("click", (event) => {
    if (!panel.firstChild || !DocVouch.render.isUserAction(event)) return;
    panel.hidden = !panel.hidden;
    summary.setAttribute("aria-expanded", String(!panel.hidden));
  });

  function setState(state, text, { tone = "muted", actionLabel = null, onAction = null } = {}) {
    host.dataset.state = state;
    summary.textContent = text;
    summary.dataset.tone = tone;
    summary.removeAttribute("aria-expanded");
    panel.hidden = true;
    panel.replaceChildren();
    action.hidden = !actionLabel;
    action.textContent = actionLabel ?? "";
    actionHandler = onAction;
  }

  const badge = {
    host,
    root,
    showIdle() {
      setState("idle", "DocVouch", { actionLabel: "Verify with DocVouch", onAction: onVerify });
    },
    showChecking() {
      setState("checking", "DocVouch · checking…");
    },
    showUnavailable(detail) {
      setState("unavailable", `DocVouch unavailable${detail ? ` · ${detail}` : ""}`, { actionLabel: "Retry", onAction: onRetry });
    },
    showError(detail) {
      setState("error", `DocVouch · ${detail || "could not check this answer"}`, { actionLabel: "Retry", onAction: onRetry });
    },
    showResult(result) {
      const counts = result.summary ?? format.countVerdicts(result.claims);
      const tone = counts.contradicted > 0 ? "contradicted" : counts.supported > 0 ? "supported" : "muted";
      setState("result", format.summaryLine(result), { tone });
      summary.setAttribute("aria-expanded", "false");
      panel.append(claimList(result), footer(result));
    },
    remove() {
      host.remove();
    },
  };

  function claimList(result) {
    const list = el(doc, "ol", "dv-claims");
    for (const claim of result.claims) {
      const item = el(doc, "li", "dv-claim");
      item.dataset.verdict = claim.verdict;
      item.dataset.claimId = claim.id;
      item.append(DocVouch.render.claimDetails(doc, claim, { showClaimText: true }));
      list.append(item);
    }
    return list;
  }

  function footer(result) {
    const parts = [];
    if (result.corpus?.name) parts.push(`Checked against ${result.corpus.name}${result.corpus.version ? ` ${result.corpus.version}` : ""}`);
    if (Number.isFinite(result.took_ms)) parts.push(`${Math.round(result.took_ms)} ms`);
    if (result.truncated) parts.push("only the first part of the answer was checked");
    return el(doc, "p", "dv-footer", parts.join(" · "));
  }

  return badge;
};
