// A minimal wss:// endpoint with the self-signed certificate of test/fixtures/apps/tls: records
// every frame an agent sends and counts TLS handshakes that failed. For certificate and proxy tests.
import https from 'node:https';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createRequire } from 'node:module';
import { ROOT } from './process.mjs';

const require = createRequire(import.meta.url);
const { WebSocketServer } = require('ws');

export const TLS_CERT = join(ROOT, 'test', 'fixtures', 'apps', 'tls', 'cert.pem');
const TLS_KEY = join(ROOT, 'test', 'fixtures', 'apps', 'tls', 'key.pem');

/** Resolves { url, port, frames, tlsErrors(), waitForFrame(predicate, ms) }; closed when `t` ends. */
export async function startTlsBackend(t) {
  const server = https.createServer({ key: readFileSync(TLS_KEY), cert: readFileSync(TLS_CERT) });
  const wss = new WebSocketServer({ server });
  const frames = [];
  const waiters = [];
  let tlsErrors = 0;
  server.on('tlsClientError', () => tlsErrors++);
  wss.on('connection', (ws) => ws.on('message', (d) => {
    frames.push(JSON.parse(String(d)));
    for (const w of [...waiters]) if (frames.some(w.predicate)) w.resolve();
  }));
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => {
    for (const c of wss.clients) c.terminate();
    server.close();
  });
  const port = server.address().port;
  return {
    port,
    url: `wss://127.0.0.1:${port}/ws/agent`,
    frames,
    tlsErrors: () => tlsErrors,
    waitForFrame(predicate, timeoutMs = 15_000) {
      if (frames.some(predicate)) return Promise.resolve();
      return new Promise((resolve, reject) => {
        const w = { predicate, resolve: () => { clearTimeout(timer); waiters.splice(waiters.indexOf(w), 1); resolve(); } };
        const timer = setTimeout(() => {
          waiters.splice(waiters.indexOf(w), 1);
          reject(new Error(`no matching frame over wss:// within ${timeoutMs} ms`));
        }, timeoutMs);
        waiters.push(w);
      });
    },
  };
}
