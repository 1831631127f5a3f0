"use strict";
// Styles for the badge, the claim list and the hover card. They live inside shadow roots, so the
// site's CSS cannot reach them and they cannot reach the site.
globalThis.DocVouch ??= {};
DocVouch.render ??= {};

DocVouch.render.styles = (() => {
  const COLORS = `
    :host {
      all: initial;
      --dv-supported: #1a7f37;
      --dv-partial: #b7791f;
      --dv-unsupported: #6e7781;
      --dv-contradicted: #cf222e;
      --dv-bg: #ffffff;
      --dv-fg: #1f2328;
      --dv-muted: #57606a;
      --dv-border: #d0d7de;
      --dv-code-bg: #f3f4f6;
      font: 12px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif;
      color: var(--dv-fg);
    }
    :host([hidden]) { display: none !important; }
    @media (prefers-color-scheme: dark) {
      :host {
        --dv-supported: #3fb950;
        --dv-partial: #d29922;
        --dv-unsupported: #8b949e;
        --dv-contradicted: #f85149;
        --dv-bg: #161b22;
        --dv-fg: #e6edf3;
        --dv-muted: #9da7b3;
        --dv-border: #30363d;
        --dv-code-bg: #262c36;
      }
    }
  `;

  const DETAILS = `
    .dv-detail { display: grid; gap: 4px; }
    .dv-verdict { margin: 0; font-weight: 600; display: flex; align-items: center; gap: 6px; }
    .dv-dot { width: 8px; height: 8px; border-radius: 50%; background: var(--dv-unsupported); flex: none; }
    [data-verdict="supported"] .dv-dot { background: var(--dv-supported); }
    [data-verdict="partial"] .dv-dot { background: var(--dv-partial); }
    [data-verdict="contradicted"] .dv-dot { background: var(--dv-contradicted); }
    .dv-claim-text, .dv-reason, .dv-suggestion { margin: 0; overflow-wrap: anywhere; }
    .dv-claim-text { color: var(--dv-muted); }
    code { font: 11px/1.4 ui-monospace, SFMono-Regular, Menlo, monospace; background: var(--dv-code-bg); padding: 0 3px; border-radius: 3px; }
    .dv-snippet { margin: 2px 0 0; padding: 4px 8px; border-left: 3px solid var(--dv-border); color: var(--dv-muted); overflow-wrap: anywhere; max-height: 7.5em; overflow: auto; }
    .dv-doc-link { color: inherit; font-weight: 600; overflow-wrap: anywhere; }
  `;

  const BADGE = `${COLORS}${DETAILS}
    :host { display: block; margin: 6px 0 2px; }
    .dv-badge { display: inline-flex; flex-direction: column; align-items: flex-start; gap: 6px; max-width: 100%; }
    .dv-row { display: inline-flex; gap: 6px; align-items: center; flex-wrap: wrap; }
    button { font: inherit; color: inherit; cursor: pointer; border: 1px solid var(--dv-border); background: var(--dv-bg); border-radius: 999px; padding: 2px 10px; }
    button:focus-visible { outline: 2px solid var(--dv-muted); outline-offset: 1px; }
    .dv-summary[data-tone="contradicted"] { border-color: var(--dv-contradicted); }
    .dv-summary[data-tone="supported"] { border-color: var(--dv-supported); }
    .dv-summary[data-tone="muted"] { color: var(--dv-muted); }
    .dv-panel { background: var(--dv-bg); border: 1px solid var(--dv-border); border-radius: 8px; padding: 8px 10px; max-width: 640px; }
    .dv-claims { list-style: none; margin: 0; padding: 0; display: grid; gap: 10px; }
    .dv-claim { padding-left: 8px; border-left: 3px solid var(--dv-unsupported); }
    .dv-claim[data-verdict="supported"] { border-left-color: var(--dv-supported); }
    .dv-claim[data-verdict="partial"] { border-left-color: var(--dv-partial); }
    .dv-claim[data-verdict="contradicted"] { border-left-color: var(--dv-contradicted); }
    .dv-footer { margin: 8px 0 0; color: var(--dv-muted); }
    [hidden] { display: none !important; }
  `;

  const CARD = `${COLORS}${DETAILS}
    :host { position: fixed; z-index: 2147483647; top: 0; left: 0; }
    .dv-card { box-sizing: border-box; width: max-content; max-width: min(380px, calc(100vw - 16px)); background: var(--dv-bg);
      border: 1px solid var(--dv-border); border-radius: 8px; padding: 8px 10px; box-shadow: 0 6px 24px rgb(0 0 0 / 18%); }
    .dv-close { position: absolute; top: 4px; right: 6px; border: 0; background: none; color: var(--dv-muted); cursor: pointer; font: inherit; }
    [hidden] { display: none !important; }
  `;

  return Object.freeze({ BADGE, CARD });
})();
