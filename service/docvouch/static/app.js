"use strict";
// The paste-an-answer page. Builds every node with createElement/textContent (never
// innerHTML): claim text, reasons and snippets come from an answer and the docs, and the
// page's CSP (script-src 'self') would refuse anything injected anyway.
(() => {
  const VERDICTS = ["supported", "partial", "unsupported", "contradicted"];
  const $ = (id) => document.getElementById(id);
  const answer = $("answer");
  const button = $("check");
  const status = $("status");
  const keyInput = $("api-key");

  function el(tag, props = {}, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(props)) {
      if (name === "className") node.className = value;
      else if (name === "text") node.textContent = value;
      else node.setAttribute(name, value);
    }
    for (const child of children) node.append(child);
    return node;
  }

  function setStatus(text, isError = false) {
    status.textContent = text;
    status.classList.toggle("error", isError);
  }

  // The service answers spans in code points of the NFC text (see engine.normalise_text):
  // normalise the same way and slice by code points, not UTF-16 units.
  function normalise(text) {
    const wellFormed = typeof text.toWellFormed === "function" ? text.toWellFormed() : text;
    return wellFormed.replace(/\r\n?/g, "\n").replaceAll("\u0000", "").normalize("NFC");
  }

  function headers() {
    const out = { "Content-Type": "application/json", Accept: "application/json" };
    const key = keyInput.value.trim();
    if (key) out.Authorization = `Bearer ${key}`;
    return out;
  }

  async function problemText(response) {
    try {
      const body = await response.json();
      if (body && typeof body.detail === "string") return body.detail;
    } catch {
      // not JSON: fall through to the status line
    }
    return `HTTP ${response.status}`;
  }

  async function check() {
    const text = normalise(answer.value);
    if (!text.trim()) {
      setStatus("Paste an answer first.", true);
      return;
    }
    button.disabled = true;
    setStatus("Checking…");
    try {
      const response = await fetch("/v1/verify", {
        method: "POST", headers: headers(), body: JSON.stringify({ text, source: { site: "page" } }),
        credentials: "omit", cache: "no-store",
      });
      if (!response.ok) {
        const detail = await problemText(response);
        if (response.status === 401) $("key-box").open = true;
        const retry = response.headers.get("Retry-After");
        setStatus(retry ? `${detail} (retry in ${retry} s)` : detail, true);
        return;
      }
      const result = await response.json();
      render(text, result);
      const n = result.summary?.claims ?? 0;
      setStatus(`${n} claim${n === 1 ? "" : "s"} checked in ${Math.round(result.took_ms)} ms.`);
    } catch (error) {
      setStatus(`The service could not be reached (${error.message}).`, true);
    } finally {
      button.disabled = false;
    }
  }

  function render(text, result) {
    $("result").hidden = false;
    renderScore(result);
    $("truncated").hidden = !result.truncated;
    const claims = Array.isArray(result.claims) ? result.claims : [];
    renderAnswer(text, claims);
    $("claims").replaceChildren(...claims.map(renderClaim));
  }

  function renderScore(result) {
    const score = $("score");
    score.textContent = result.score === null || result.score === undefined ? "–" : String(result.score);
    score.className = "score " + (result.score === null ? "" : result.score >= 80 ? "good" : result.score >= 50 ? "mixed" : "bad");
    const summary = result.summary || {};
    $("summary").replaceChildren(...VERDICTS.filter((v) => summary[v]).map(
      (v) => el("li", { className: `v-${v}`, text: `${summary[v]} ${v}` })));
  }

  function renderAnswer(text, claims) {
    const points = Array.from(text);
    const view = $("answer-view");
    const parts = [];
    let at = 0;
    const ordered = claims.filter((c) => Array.isArray(c.span)).slice().sort((a, b) => a.span[0] - b.span[0]);
    for (const claim of ordered) {
      const [start, end] = claim.span;
      if (start < at || end <= start || end > points.length) continue; // overlapping or stale
      if (start > at) parts.push(document.createTextNode(points.slice(at, start).join("")));
      const mark = el("mark", {
        className: `claim v-${claim.verdict}`, tabindex: "0", "data-claim": claim.id,
        title: `${claim.verdict}: ${claim.reason || ""}`.slice(0, 300),
      }, points.slice(start, end).join(""));
      mark.addEventListener("click", () => select(claim.id));
      mark.addEventListener("keydown", (event) => { if (event.key === "Enter") select(claim.id); });
      parts.push(mark);
      at = end;
    }
    if (at < points.length) parts.push(document.createTextNode(points.slice(at).join("")));
    view.replaceChildren(...parts);
  }

  function safeUrl(raw) {
    try {
      const url = new URL(raw);
      return url.protocol === "https:" || url.protocol === "http:" ? url.href : null;
    } catch {
      return null;
    }
  }

  function renderClaim(claim) {
    const item = el("li", { className: `claim-card v-${claim.verdict}`, id: `card-${claim.id}` },
      el("span", { className: `badge v-${claim.verdict}`, text: claim.verdict }),
      el("span", { className: "claim-text", text: claim.text }));
    if (claim.reason) item.append(el("p", { className: "reason", text: claim.reason }));
    const suggestion = claim.suggestion || (claim.symbols || []).map((s) => s.suggestion).find(Boolean);
    if (suggestion) {
      item.append(el("p", { className: "suggestion" }, "Did you mean ", el("code", { text: suggestion }), "?"));
    }
    const links = (claim.evidence || []).slice(0, 3).map((evidence) => {
      const href = safeUrl(evidence.url);
      const title = evidence.title || evidence.url || "documentation";
      const link = href ? el("a", { href, target: "_blank", rel: "noopener noreferrer", text: title }) : el("span", { text: title });
      return el("li", {}, link, el("span", { className: "snippet", text: evidence.snippet || "" }));
    });
    if (links.length) item.append(el("ul", { className: "evidence" }, ...links));
    item.addEventListener("click", () => select(claim.id, false));
    return item;
  }

  function select(id, scroll = true) {
    for (const node of document.querySelectorAll(".selected")) node.classList.remove("selected");
    const card = $(`card-${id}`);
    const mark = document.querySelector(`mark[data-claim="${CSS.escape(id)}"]`);
    for (const node of [card, mark]) node?.classList.add("selected");
    if (scroll) card?.scrollIntoView({ behavior: "smooth", block: "nearest" });
  }

  async function showCorpus() {
    try {
      const response = await fetch("/v1/corpus", { headers: headers(), credentials: "omit" });
      if (response.status === 401) {
        $("key-box").open = true;
        return;
      }
      if (!response.ok) return;
      const body = await response.json();
      const main = (body.corpora || []).find((c) => c.name === body.default) || (body.corpora || [])[0];
      if (main) $("corpus").textContent = `Checking against: ${main.title || main.name} · ${main.passages.toLocaleString()} passages`;
    } catch {
      // The check button reports connection problems; the header line stays empty.
    }
  }

  button.addEventListener("click", check);
  answer.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) check();
  });
  showCorpus();
})();
