"use strict";
// Turns a finished answer into a badge and highlights: asks the background to verify it (once
// per distinct text: a re-rendered answer reuses the result it already has), then maps each
// claim's span onto the page text that was sent.
globalThis.DocVouch ??= {};

DocVouch.createAnswerController = function createAnswerController({
  doc,
  send,
  mutate = (change) => change(),
  attachBadge = (answer, host) => answer.after(host),
  onClose = null,
}) {
  const { MessageType } = DocVouch.messages;
  const results = new Map(); // text key -> Promise of the background's reply
  const views = new Map(); // answer -> { key, extraction, badge }

  /** Show (or re-show) DocVouch for one finished answer. `trigger` is "auto" or "selection". */
  async function handleAnswer({ answer, extraction, key, trigger = "auto" }) {
    removeDetachedViews();
    const view = viewFor(answer, extraction, key);
    view.trigger = trigger;
    if (results.has(key)) return showReply(view, await results.get(key));
    const settings = await send({ type: MessageType.CS_BG_GET_SITE_SETTINGS });
    if (trigger !== "selection" && !(settings.ok && settings.enabled)) return removeView(answer);
    if (trigger === "auto" && settings.mode === "click") {
      return mutate(() => view.badge.showIdle());
    }
    return verify(view, trigger);
  }

  function viewFor(answer, extraction, key) {
    const existing = views.get(answer);
    if (existing && existing.key === key && existing.badge.host.isConnected) return existing;
    if (existing) removeView(answer);
    const view = { answer, extraction, key, badge: null };
    view.badge = DocVouch.render.createBadge(doc, {
      onVerify: () => verify(view, "click"),
      // A selection's grant is single-use, so its Retry asks the background again as a selection
      // (and is told to use the menu again); an answer's Retry is a click like Verify.
      onRetry: () => verify(view, view.trigger === "selection" ? "selection" : "click"),
      onClose: onClose ? () => { removeView(answer); onClose(answer); } : null,
    });
    views.set(answer, view);
    mutate(() => attachBadge(answer, view.badge.host));
    return view;
  }

  async function verify(view, trigger) {
    mutate(() => view.badge.showChecking());
    const request = send({ type: MessageType.CS_BG_VERIFY, payload: { text: view.extraction.text, trigger } });
    results.set(view.key, request);
    const reply = await request;
    // Keep only successes: an "unavailable" answer must be retryable by the user's click.
    if (!reply.ok) results.delete(view.key);
    showReply(view, reply);
  }

  function showReply(view, reply) {
    if (views.get(view.answer) !== view) return; // replaced while we waited
    if (reply.ok) return showResult(view, reply.result);
    if (reply.state === "disabled" && view.trigger !== "selection") return removeView(view.answer);
    mutate(() => {
      if (reply.state === "unavailable") view.badge.showUnavailable(reply.detail);
      else view.badge.showError(reply.detail);
    });
  }

  function showResult(view, result) {
    const { text, map } = view.extraction;
    const toUtf16 = DocVouch.spans.codePointIndex(text);
    const entries = [];
    for (const claim of result.claims) {
      const span = DocVouch.spans.toUtf16(claim.span, toUtf16, text.length);
      if (!span) continue;
      const pieces = map.nodeRanges(span[0], span[1]);
      if (pieces.length === 0) continue;
      entries.push({ claim, span, pieces, range: map.domRange(span[0], span[1]) });
    }
    DocVouch.render.pageHoverCard(doc);
    mutate(() => {
      // The extension cut an answer over the size limit before sending it: say so, as the
      // service does for the claims it left out.
      view.badge.showResult(view.extraction.truncated ? { ...result, truncated: true } : result);
      const drawnWith = DocVouch.render.highlighter.apply(view.answer, entries, doc.defaultView);
      view.badge.host.dataset.highlights = `${entries.length} ${drawnWith}`;
    });
  }

  /** Badges of answers the site has removed or replaced go too, with their highlights. */
  function removeDetachedViews() {
    for (const answer of views.keys()) {
      if (answer.isConnected === false) removeView(answer);
    }
  }

  function removeView(answer) {
    const view = views.get(answer);
    if (!view) return;
    views.delete(answer);
    mutate(() => {
      DocVouch.render.highlighter.clear(answer);
      view.badge.remove();
    });
  }

  /** Whether the answer's badge is still on the page (a site re-render may have dropped it). */
  function isShown(answer) {
    return views.get(answer)?.badge.host.isConnected ?? false;
  }

  return Object.freeze({ handleAnswer, isShown, removeView });
};

/** Send a message to the background; a reloaded extension or a closed port reads as an error reply. */
DocVouch.sendToBackground = async function sendToBackground(message) {
  try {
    const reply = await DocVouch.ext.runtime.sendMessage(message);
    return reply ?? { ok: false, state: "error", detail: "no reply from DocVouch" };
  } catch (error) {
    // Only a reloaded or updated extension leaves this page's scripts orphaned (no runtime id);
    // anything else (the worker restarting, a port closed mid-reply) is worth a Retry.
    if (!DocVouch.ext.runtime?.id) return { ok: false, state: "error", detail: "DocVouch was updated; reload this page" };
    return { ok: false, state: "unavailable", detail: `could not reach DocVouch's background (${String(error?.message ?? error).slice(0, 80)}); try again` };
  }
};
