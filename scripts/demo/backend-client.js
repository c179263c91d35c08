'use strict';
// A small client of the dev backend's HTTP API and its /api/stream Server-Sent Events, for the demo.
const http = require('node:http');
const { EventEmitter } = require('node:events');

/** JSON over HTTP; rejects with the status and body text on a non-2xx answer. */
async function requestJson(baseUrl, method, path, body) {
  const res = await fetch(new URL(path, baseUrl), {
    method,
    headers: body === undefined ? { accept: 'application/json' } : { accept: 'application/json', 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(5000),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} ${path}: HTTP ${res.status} ${text.slice(0, 200)}`);
  return text ? JSON.parse(text) : null;
}

/**
 * Subscribes to /api/stream. The emitter emits `event` (name, data) for every SSE event and
 * `close` when the stream ends. `close()` ends it.
 */
function openStream(baseUrl) {
  const emitter = new EventEmitter();
  const req = http.get(new URL('/api/stream', baseUrl), { headers: { accept: 'text/event-stream' } }, (res) => {
    if (res.statusCode !== 200) {
      res.resume();
      emitter.emit('close');
      return;
    }
    res.setEncoding('utf8');
    let buf = '';
    res.on('data', (chunk) => {
      buf += chunk;
      let end;
      while ((end = buf.search(/\r?\n\r?\n/)) >= 0) {
        const block = buf.slice(0, end);
        buf = buf.slice(end).replace(/^\r?\n\r?\n/, '');
        let name = 'message';
        const data = [];
        for (const line of block.split(/\r?\n/)) {
          if (line.startsWith('event:')) name = line.slice(6).trim();
          else if (line.startsWith('data:')) data.push(line.slice(5).replace(/^ /, ''));
        }
        if (data.length === 0) continue;
        let parsed = null;
        try {
          parsed = JSON.parse(data.join('\n'));
        } catch {
          // keep going: a bad event only loses its hint, the demo re-reads the API anyway
        }
        emitter.emit('event', name, parsed);
      }
    });
    res.on('end', () => emitter.emit('close'));
  });
  req.on('error', () => emitter.emit('close'));
  emitter.close = () => req.destroy();
  return emitter;
}

/**
 * The backend: `get/post/del` and `waitFor(check, {events, timeoutMs, label})`, which re-runs the
 * async `check` after each SSE event of the given names (and every `pollMs` as a fallback, in case
 * an event is missed) until it returns a truthy value, or rejects after timeoutMs.
 */
function connectBackend(baseUrl, { pollMs = 500 } = {}) {
  const stream = openStream(baseUrl);
  stream.on('error', () => {});
  const client = {
    baseUrl,
    get: (path) => requestJson(baseUrl, 'GET', path),
    post: (path, body) => requestJson(baseUrl, 'POST', path, body),
    del: (path) => requestJson(baseUrl, 'DELETE', path),
    close: () => stream.close(),
    waitFor(check, { events = [], timeoutMs = 10000, label = 'condition' } = {}) {
      return new Promise((resolve, reject) => {
        let done = false;
        let running = false;
        let again = false;
        const finish = (fn, value) => {
          if (done) return;
          done = true;
          clearTimeout(timer);
          clearInterval(poll);
          stream.off('event', onEvent);
          fn(value);
        };
        const run = async () => {
          if (done) return;
          if (running) {
            again = true;
            return;
          }
          running = true;
          try {
            const value = await check();
            if (value) finish(resolve, value);
          } catch {
            // the server may be busy or restarting: the next event or poll tries again
          } finally {
            running = false;
            if (again && !done) {
              again = false;
              void run();
            }
          }
        };
        const onEvent = (name) => {
          if (events.length === 0 || events.includes(name)) void run();
        };
        const timer = setTimeout(() => finish(reject, new Error(`timed out after ${timeoutMs} ms waiting for ${label}`)), timeoutMs);
        const poll = setInterval(run, pollMs);
        stream.on('event', onEvent);
        void run();
      });
    },
  };
  return client;
}

module.exports = { connectBackend, requestJson };
