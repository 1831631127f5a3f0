"use strict";
// The hover card: one per page, outside the site's DOM tree (on <html>), fixed-positioned next
// to the claim under the pointer. It stays while the pointer moves onto it, so links can be clicked.
globalThis.DocVouch ??= {};
DocVouch.render ??= {};

DocVouch.render.createHoverCard = function createHoverCard(doc, { hideDelayMs = 250 } = {}) {
  const { el, shadowHost } = DocVouch.render.dom;
  const { host, root } = shadowHost(doc, "docvouch-card", DocVouch.render.styles.CARD);
  host.setAttribute("role", "tooltip");
  const card = el(doc, "div", "dv-card");
  root.append(card);
  host.hidden = true;

  let shownClaim = null;
  let hideTimer = null;
  let pointerInside = false;
  host.addEventListener("mouseenter", () => {
    pointerInside = true;
    cancelHide();
  });
  host.addEventListener("mouseleave", () => {
    pointerInside = false;
    hideSoon();
  });
  doc.addEventListener("keydown", (event) => {
    if (event.key === "Escape") hide();
  });

  function show(claim, anchorRect) {
    cancelHide();
    if (!host.isConnected) doc.documentElement.append(host);
    if (shownClaim !== claim) {
      card.replaceChildren(DocVouch.render.claimDetails(doc, claim));
      shownClaim = claim;
    }
    host.hidden = false;
    place(anchorRect);
  }

  function place(anchorRect) {
    const win = doc.defaultView;
    const gap = 6;
    const height = host.getBoundingClientRect().height || 0;
    const below = anchorRect.bottom + gap;
    const top = below + height > win.innerHeight && anchorRect.top - gap - height > 0 ? anchorRect.top - gap - height : below;
    const left = Math.max(8, Math.min(anchorRect.left, win.innerWidth - 388));
    host.style.setProperty("transform", `translate(${Math.round(left)}px, ${Math.round(top)}px)`);
  }

  function hideSoon() {
    if (pointerInside || hideTimer !== null || host.hidden) return;
    hideTimer = doc.defaultView.setTimeout(hide, hideDelayMs);
  }

  function cancelHide() {
    if (hideTimer !== null) doc.defaultView.clearTimeout(hideTimer);
    hideTimer = null;
  }

  function hide() {
    cancelHide();
    host.hidden = true;
    shownClaim = null;
  }

  return Object.freeze({ host, root, show, hideSoon, hide });
};
