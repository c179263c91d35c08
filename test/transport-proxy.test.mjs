// Outbound proxies: HTTP_PROXY (ws://) and HTTPS_PROXY (wss://) through a real CONNECT proxy,
// NO_PROXY, a proxy that refuses, and the choice rules as units.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { createRequire } from 'node:module';
import { startBackend, agentEnv } from './helpers/backend.mjs';
import { APP } from './helpers/edge.mjs';
import { REGISTER_CJS, cleanEnv, startNode } from './helpers/process.mjs';
import { TLS_CERT, startTlsBackend } from './helpers/tls-backend.mjs';

const require = createRequire(import.meta.url);
const { bypassesProxy, chooseProxy } = require('../dist/worker/transport/proxy.js');

/** A CONNECT proxy on 127.0.0.1:0 that records every request; `refuse` answers 407 instead. */
async function startProxy(t, { refuse = false } = {}) {
  const requests = [];
  const sockets = new Set();
  const waiters = [];
  const server = net.createServer((client) => {
    sockets.add(client);
    client.on('close', () => sockets.delete(client));
    client.on('error', () => {});
    let head = Buffer.alloc(0);
    const onData = (chunk) => {
      head = Buffer.concat([head, chunk]);
      const end = head.indexOf('\r\n\r\n');
      if (end === -1) return;
      client.removeListener('data', onData);
      const [requestLine, ...headerLines] = head.subarray(0, end).toString('latin1').split('\r\n');
      const headers = Object.fromEntries(headerLines.map((l) => [l.slice(0, l.indexOf(':')).toLowerCase(), l.slice(l.indexOf(':') + 1).trim()]));
      const [method, target] = requestLine.split(' ');
      requests.push({ method, target, headers });
      for (const w of waiters.splice(0)) w();
      if (refuse || method !== 'CONNECT') {
        client.end('HTTP/1.1 407 Proxy Authentication Required\r\nContent-Length: 0\r\n\r\n');
        return;
      }
      const colon = target.lastIndexOf(':');
      const upstream = net.connect(Number(target.slice(colon + 1)), target.slice(0, colon), () => {
        client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
        const rest = head.subarray(end + 4);
        if (rest.length) upstream.write(rest);
        client.pipe(upstream).pipe(client);
      });
      sockets.add(upstream);
      upstream.on('close', () => sockets.delete(upstream));
      upstream.on('error', () => client.destroy());
    };
    client.on('data', onData);
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => {
    for (const s of sockets) s.destroy();
    server.close();
  });
  return {
    port: server.address().port,
    requests,
    /** Resolves once the proxy has seen a request. */
    seen: () => new Promise((resolve) => (requests.length ? resolve() : waiters.push(resolve))),
  };
}

test('ws:// through HTTP_PROXY: a CONNECT tunnel with the proxy credentials, which never appear in a log line', { timeout: 60_000 }, async (t) => {
  const backend = await startBackend({ t });
  const proxy = await startProxy(t);
  const app = startNode(['--require', REGISTER_CJS, APP], { env: agentEnv(backend, { HTTP_PROXY: `http://proxyuser:p%40ss-7f3e@127.0.0.1:${proxy.port}`, AIVORY_DEBUG: '1' }), t });
  await app.waitForOutput(/ready/);
  await backend.waitFor('agent', () => true, 20_000);
  assert.equal(proxy.requests.length, 1);
  assert.equal(proxy.requests[0].method, 'CONNECT');
  assert.equal(proxy.requests[0].target, `127.0.0.1:${backend.port}`);
  assert.equal(proxy.requests[0].headers['proxy-authorization'], `Basic ${Buffer.from('proxyuser:p@ss-7f3e').toString('base64')}`);
  assert.match(app.stderr(), /connecting through the proxy http:\/\/127\.0\.0\.1:\d+\//);
  assert.doesNotMatch(app.stderr(), /p@ss-7f3e|p%40ss-7f3e|proxyuser/);
});

test('NO_PROXY naming the backend host: the agent connects directly', { timeout: 60_000 }, async (t) => {
  const backend = await startBackend({ t });
  const proxy = await startProxy(t);
  startNode(['--require', REGISTER_CJS, APP], { env: agentEnv(backend, { http_proxy: `http://127.0.0.1:${proxy.port}`, no_proxy: 'example.com, 127.0.0.1' }), t });
  await backend.waitFor('agent', () => true, 20_000);
  assert.equal(proxy.requests.length, 0);
});

test('a proxy that refuses the tunnel: a debug line with its answer, retries, and the app is not affected', { timeout: 60_000 }, async (t) => {
  const backend = await startBackend({ t });
  const proxy = await startProxy(t, { refuse: true });
  const env = agentEnv(backend, { HTTP_PROXY: `127.0.0.1:${proxy.port}`, AIVORY_DEBUG: '1', AIVORY_RECONNECT_BASE_MS: '100', AIVORY_RECONNECT_MAX_MS: '400', LIFETIME_MS: '4000' });
  const app = startNode(['--require', REGISTER_CJS, APP], { env, t });
  await app.waitForOutput(/the proxy refused the tunnel: HTTP\/1\.1 407 Proxy Authentication Required/, 20_000, 'stderr');
  await app.waitForOutput(/connecting to \S+ \(attempt 2\)/, 20_000, 'stderr');
  const { code } = await app.exited;
  assert.equal(code, 0);
  assert.ok(proxy.requests.length >= 2);
  assert.equal(backend.events('agent').length, 0, 'nothing reached the backend around the proxy');
});

test('wss:// through HTTPS_PROXY: TLS with the backend inside the tunnel, its certificate still verified', { timeout: 60_000 }, async (t) => {
  const backend = await startTlsBackend(t);
  const base = { AIVORY_API_KEY: 'fake-key-for-proxy-test', AIVORY_BACKEND_URL: backend.url, AIVORY_DEBUG: '1', AIVORY_RECONNECT_BASE_MS: '100' };

  // Not trusted: the tunnel opens, TLS with the backend fails, nothing is sent.
  const untrustedProxy = await startProxy(t);
  const untrusted = startNode(['--require', REGISTER_CJS, APP], { env: cleanEnv({ ...base, HTTPS_PROXY: `http://127.0.0.1:${untrustedProxy.port}` }), t });
  await untrusted.waitForOutput(/failed: self[- ]signed certificate/, 20_000, 'stderr');
  untrusted.kill();
  assert.equal(backend.frames.length, 0);
  assert.equal(untrustedProxy.requests[0].target, `127.0.0.1:${backend.port}`);

  // Trusted the standard way: register arrives through the proxy (HTTP_PROXY is not the one used for wss://).
  const proxy = await startProxy(t);
  startNode(['--require', REGISTER_CJS, APP], { env: cleanEnv({ ...base, HTTPS_PROXY: `http://127.0.0.1:${proxy.port}`, HTTP_PROXY: 'http://127.0.0.1:9', NODE_EXTRA_CA_CERTS: TLS_CERT }), t });
  await backend.waitForFrame((f) => f.type === 'register', 20_000);
  assert.equal(proxy.requests[0].method, 'CONNECT');
  assert.equal(proxy.requests[0].target, `127.0.0.1:${backend.port}`);
});

test('proxy choice: scheme-specific variables, lower case first, NO_PROXY forms, unusable values said', () => {
  const wss = new URL('wss://api.example.com/ws');
  const ws = new URL('ws://10.0.0.5:8080/ws');
  assert.equal(chooseProxy(wss, { HTTPS_PROXY: 'http://p:3128' }).proxy?.href, 'http://p:3128/');
  assert.equal(chooseProxy(wss, { HTTP_PROXY: 'http://p:3128' }).proxy, undefined, 'wss:// uses HTTPS_PROXY only');
  assert.equal(chooseProxy(ws, { HTTP_PROXY: 'p:3128' }).proxy?.href, 'http://p:3128/');
  assert.equal(chooseProxy(wss, { https_proxy: 'http://lower:1', HTTPS_PROXY: 'http://upper:2' }).proxy?.host, 'lower:1');
  assert.match(chooseProxy(wss, { HTTPS_PROXY: 'socks5://p:1080' }).problem, /must be an http:\/\/ proxy/);
  assert.match(chooseProxy(wss, { HTTPS_PROXY: 'http://[bad' }).problem, /not a URL/);
  assert.deepEqual(chooseProxy(wss, {}), { proxy: undefined });

  assert.equal(bypassesProxy(wss, '*'), true);
  assert.equal(bypassesProxy(wss, 'example.com'), true, 'a domain covers its subdomains');
  assert.equal(bypassesProxy(wss, '.example.com'), true);
  assert.equal(bypassesProxy(wss, '*.example.com'), true);
  assert.equal(bypassesProxy(wss, 'ample.com'), false, 'not a suffix of a label');
  assert.equal(bypassesProxy(wss, 'api.example.com:443'), true, 'default port of wss://');
  assert.equal(bypassesProxy(wss, 'api.example.com:8443'), false);
  assert.equal(bypassesProxy(ws, 'localhost 10.0.0.5:8080'), true);
  assert.equal(bypassesProxy(new URL('ws://[::1]:9/ws'), '[::1]'), true);
  assert.equal(bypassesProxy(wss, ''), false);
  assert.equal(bypassesProxy(wss, undefined), false);
});
