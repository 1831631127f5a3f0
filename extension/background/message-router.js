"use strict";
// One entry for every message: validate the shape, check the sender may send that type, then
// call its handler. Anything else gets { ok: false, state: "rejected" } and changes nothing.
globalThis.DocVouch ??= {};

DocVouch.createMessageRouter = function createMessageRouter({ handlers, runtimeId, extensionOrigin }) {
  const { validate, senderKindFor } = DocVouch.messages;

  function reject(detail) {
    return { ok: false, state: "rejected", detail };
  }

  async function handle(message, sender) {
    const checked = validate(message);
    if (!checked.ok) return reject(checked.error);
    const senderKind = DocVouch.classifySender(sender, { runtimeId, extensionOrigin });
    if (senderKind === null || senderKind !== senderKindFor(checked.type)) return reject("sender may not send this type");
    const handler = handlers[checked.type];
    if (!handler) return reject("no handler");
    try {
      return await handler(checked.payload, sender);
    } catch (error) {
      console.error("DocVouch: handler failed", checked.type, error);
      return { ok: false, state: "error", detail: "DocVouch hit an internal error" };
    }
  }

  return Object.freeze({ handle });
};
