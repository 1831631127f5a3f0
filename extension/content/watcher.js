"use strict";
// Watches the page for finished answers. The MutationObserver callback only notes the time, so
// a storm of streamed tokens costs one timer; when the page has been quiet for the debounce
// interval and the site shows no streaming signal, each answer is read and handed on once.
globalThis.DocVouch ??= {};

DocVouch.createAnswerWatcher = function createAnswerWatcher({
  adapter,
  document: doc,
  onAnswer,
  isShown = () => true,
  debounceMs = DocVouch.limits.COMPLETION_DEBOUNCE_MS,
  clock = { now: () => Date.now(), setTimeout: (fn, ms) => setTimeout(fn, ms), clearTimeout: (id) => clearTimeout(id) },
}) {
  const handledKeys = new WeakMap(); // answer element -> key of the text last handed on
  // Nodes the page changed since the last scan: only answers holding one are read again, so
  // typing in the composer of a long chat does not re-read every answer on the page.
  const touched = new Set();
  const MAX_TOUCHED = 2_000;
  let everythingTouched = true;
  let lastMutationAt = clock.now();
  let timer = null;
  let observer = null;

  function onMutation(records) {
    lastMutationAt = clock.now();
    if (!records) everythingTouched = true;
    else if (!everythingTouched) {
      for (const record of records) touched.add(record.target);
      if (touched.size > MAX_TOUCHED) everythingTouched = true;
    }
    if (timer === null) timer = clock.setTimeout(onQuietCheck, debounceMs);
  }

  /** The answers that hold a node changed since the last scan (all of them after a flood). */
  function changedAnswers(answers) {
    if (everythingTouched) return new Set(answers);
    const all = new Set(answers);
    const changed = new Set();
    for (const node of touched) {
      for (let at = node; at; at = at.parentNode) {
        if (all.has(at)) {
          changed.add(at);
          break;
        }
      }
    }
    return changed;
  }

  function onQuietCheck() {
    timer = null;
    const quietFor = clock.now() - lastMutationAt;
    if (quietFor < debounceMs) {
      timer = clock.setTimeout(onQuietCheck, debounceMs - quietFor);
      return;
    }
    scan();
  }

  /** Hand on every finished answer whose text changed since it was last handed on. */
  function scan() {
    const answers = DocVouch.answers.find(adapter, doc);
    const changed = changedAnswers(answers);
    touched.clear();
    everythingTouched = false;
    answers.forEach((answer, index) => {
      // Handed on before, untouched since, badge still there: no need to read it again.
      if (handledKeys.has(answer) && !changed.has(answer) && isShown(answer)) return;
      if (DocVouch.answers.isStreaming(adapter, answer, { isLast: index === answers.length - 1 })) return;
      const extraction = DocVouch.extract.read(answer, { skip: adapter.skip, codeLanguage: adapter.codeLanguage });
      if (extraction.text.length < DocVouch.limits.MIN_ANSWER_CHARS) return;
      const key = DocVouch.textKey(extraction.text);
      // Same text and our badge still there: nothing to do. A re-rendered answer (new element, or
      // our badge dropped by the site) is handed on again; the controller reuses its result.
      if (handledKeys.get(answer) === key && isShown(answer)) return;
      handledKeys.set(answer, key);
      onAnswer({ answer, extraction, key });
    });
  }

  /** Run `change` (our own rendering) without our observer seeing it as page activity. */
  function withoutObserving(change) {
    if (!observer) return change();
    observer.disconnect();
    try {
      return change();
    } finally {
      observer.takeRecords();
      observe();
    }
  }

  function observe() {
    observer.observe(doc.body, { childList: true, subtree: true, characterData: true });
  }

  function start() {
    observer = new doc.defaultView.MutationObserver(onMutation);
    observe();
    onMutation(null); // answers already on the page when we arrive count as finished once quiet
  }

  function stop() {
    observer?.disconnect();
    observer = null;
    if (timer !== null) clock.clearTimeout(timer);
    timer = null;
  }

  /** Forget an answer so the next scan hands it on again (after its badge was removed, say). */
  function forget(answer) {
    handledKeys.delete(answer);
  }

  return Object.freeze({ start, stop, scan, withoutObserving, forget });
};
