// Preloaded into Electronegativity (scripts/check-electronegativity.mjs): it asks GitHub for
// translations and Electron's release list with `got` at every run. Nothing may leave this
// machine, and got's retry after a failed lookup crashes the run under Node 24, so `got` is
// replaced by one that rejects at once; the tool already carries on without both (English text,
// no release-list check).
const Module = require('node:module');
const load = Module._load;
const offline = () => Promise.reject(new Error('offline: Bootchain runs Electronegativity without network'));
offline.head = offline;
offline.get = offline;
Module._load = function (request, parent, isMain) {
  if (request === 'got') return { __esModule: true, default: offline };
  return load.call(this, request, parent, isMain);
};
