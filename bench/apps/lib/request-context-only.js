'use strict';
// A preload that does only what any request-context agent must: enter an AsyncLocalStorage for every
// http request. The `instructions` scenario compares the agent with it, which separates what
// AsyncLocalStorage costs on a given Node version from what the agent itself adds.
const diagnosticsChannel = require('node:diagnostics_channel');
const { AsyncLocalStorage } = require('node:async_hooks');

const storage = new AsyncLocalStorage();
diagnosticsChannel.subscribe('http.server.request.start', (message) => storage.enterWith({ req: message.request }));
