"use strict";
// Entry point on a chat site: find the adapter for this page, and if the user has not switched
// the site off, watch for finished answers. Nothing is observed or sent for a switched-off site.
(() => {
  if (DocVouch.contentStarted) return;
  const adapter = DocVouch.adapters.forUrl(location.href);
  if (!adapter) return;
  DocVouch.contentStarted = true;

  let watcher = null;
  const controller = DocVouch.createAnswerController({
    doc: document,
    send: DocVouch.sendToBackground,
    mutate: (change) => (watcher ? watcher.withoutObserving(change) : change()),
  });
  watcher = DocVouch.createAnswerWatcher({
    adapter,
    document,
    onAnswer: (found) => controller.handleAnswer(found),
    isShown: (answer) => controller.isShown(answer),
  });

  DocVouch.sendToBackground({ type: DocVouch.messages.MessageType.CS_BG_GET_SITE_SETTINGS }).then((settings) => {
    if (settings.ok && settings.enabled) watcher.start();
  });
})();
