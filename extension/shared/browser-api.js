"use strict";
// Firefox exposes promise-based `browser`; Chromium exposes promise-returning `chrome` in MV3.
globalThis.DocVouch ??= {};

DocVouch.ext = globalThis.browser ?? globalThis.chrome;
