/**
 * Outbound proxies for the backend connection, from the environment as curl and most tools read
 * it: HTTPS_PROXY for wss://, HTTP_PROXY for ws:// (lower-case names first), NO_PROXY to skip.
 * The WebSocket goes through an HTTP CONNECT tunnel; for wss:// TLS runs inside the tunnel, end
 * to end with the backend, so the proxy sees neither the key nor the events and the backend's
 * certificate is verified as without a proxy.
 */
import { Agent as HttpAgent, type AgentOptions } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import net from 'node:net';
import tls from 'node:tls';
import type { Duplex } from 'node:stream';

export type ProxyChoice = { proxy: URL } | { proxy: undefined; problem?: string };

/** A URL's port, or its scheme's default. */
function portOf(url: URL): string {
  return url.port || (url.protocol === 'wss:' || url.protocol === 'https:' ? '443' : '80');
}

/** A URL's host name without the brackets of an IPv6 address, as sockets take it. */
function bareHost(url: URL): string {
  return url.hostname.replace(/^\[|\]$/g, '');
}

function envValue(env: NodeJS.ProcessEnv, name: string): string | undefined {
  const v = env[name.toLowerCase()] ?? env[name];
  return typeof v === 'string' && v.trim() !== '' ? v.trim() : undefined;
}

/** Whether NO_PROXY (comma or space separated; `*`, hosts, `.domain`, `host:port`) names this target. */
export function bypassesProxy(target: URL, noProxy: string | undefined): boolean {
  if (noProxy === undefined) return false;
  const host = bareHost(target).toLowerCase();
  const port = portOf(target);
  for (const raw of noProxy.split(/[\s,]+/)) {
    const entry = raw.toLowerCase();
    if (entry === '') continue;
    if (entry === '*') return true;
    // host, [v6], .domain or *.domain, each with an optional :port (a bare v6 address has none)
    const m = /^(\[[^\]]+\]|[^:]+)(?::(\d+))?$/.exec(entry);
    if (m?.[2] !== undefined && m[2] !== port) continue;
    const domain = (m ? m[1] : entry).replace(/^\[|\]$/g, '').replace(/^\*?\./, '');
    if (host === domain || host.endsWith('.' + domain)) return true;
  }
  return false;
}

/** The proxy to use for `target`, or why none is used when one is configured but unusable. */
export function chooseProxy(target: URL, env: NodeJS.ProcessEnv): ProxyChoice {
  const name = target.protocol === 'wss:' ? 'HTTPS_PROXY' : 'HTTP_PROXY';
  const value = envValue(env, name);
  if (value === undefined || bypassesProxy(target, envValue(env, 'NO_PROXY'))) return { proxy: undefined };
  let proxy: URL;
  try {
    proxy = new URL(value.includes('://') ? value : `http://${value}`);
  } catch {
    return { proxy: undefined, problem: `${name} is not a URL; connecting directly` };
  }
  if (proxy.protocol !== 'http:') return { proxy: undefined, problem: `${name} must be an http:// proxy (got ${proxy.protocol}); connecting directly` };
  return { proxy };
}

/** host:port of a URL, with IPv6 hosts in brackets, for CONNECT. */
function authority(target: URL): string {
  return `${target.hostname}:${portOf(target)}`;
}

/** Opens a CONNECT tunnel to `target` through `proxy`; calls back with the raw tunnel socket. */
function openTunnel(proxy: URL, target: URL, timeoutMs: number, done: (err: Error | null, socket?: net.Socket) => void): void {
  const socket = net.connect({ host: bareHost(proxy), port: Number(portOf(proxy)) });
  let finished = false;
  const finish = (err: Error | null): void => {
    if (finished) return;
    finished = true;
    socket.setTimeout(0);
    socket.removeListener('data', onData);
    if (err) {
      socket.destroy();
      done(err);
    } else {
      done(null, socket);
    }
  };
  let head = Buffer.alloc(0);
  const onData = (chunk: Buffer): void => {
    head = Buffer.concat([head, chunk]);
    const end = head.indexOf('\r\n\r\n');
    if (end === -1) {
      if (head.length > 16 * 1024) finish(new Error('the proxy answered CONNECT with an oversized header'));
      return;
    }
    const status = head.subarray(0, head.indexOf('\r\n')).toString('latin1');
    const code = /^HTTP\/1\.[01] (\d{3})/.exec(status)?.[1];
    if (code !== '200') {
      finish(new Error(`the proxy refused the tunnel: ${status.slice(0, 100) || 'no status line'}`));
      return;
    }
    const rest = head.subarray(end + 4);
    if (rest.length > 0) socket.unshift(rest);
    finish(null);
  };
  socket.setTimeout(timeoutMs, () => finish(new Error(`the proxy did not open a tunnel within ${timeoutMs} ms`)));
  socket.once('error', (err) => finish(new Error(`proxy ${proxy.host}: ${err.message}`)));
  socket.on('data', onData);
  const lines = [`CONNECT ${authority(target)} HTTP/1.1`, `Host: ${authority(target)}`];
  if (proxy.username !== '' || proxy.password !== '') {
    const credentials = `${decodeURIComponent(proxy.username)}:${decodeURIComponent(proxy.password)}`;
    lines.push(`Proxy-Authorization: Basic ${Buffer.from(credentials).toString('base64')}`);
  }
  socket.write(lines.join('\r\n') + '\r\n\r\n');
}

type ConnectOptions = tls.ConnectionOptions & net.NetConnectOpts;
type CreateCallback = (err: Error | null, socket?: Duplex) => void;

/**
 * An http(s) Agent whose connections are CONNECT tunnels through `proxy`: ws takes it as its
 * `agent`. One tunnel per connection, nothing kept alive.
 */
export function tunnelAgent(proxy: URL, target: URL, timeoutMs: number): HttpAgent {
  const secure = target.protocol === 'wss:';
  const options: AgentOptions = { keepAlive: false };
  const Base = secure ? HttpsAgent : HttpAgent;
  const agent = new Base(options);
  // Node calls createConnection(options, callback) and waits for the callback when it returns nothing.
  (agent as unknown as { createConnection: (o: ConnectOptions, cb: CreateCallback) => undefined }).createConnection = (o, cb) => {
    openTunnel(proxy, target, timeoutMs, (err, socket) => {
      if (err || !socket) return cb(err ?? new Error('no tunnel'));
      if (!secure) return cb(null, socket);
      // TLS with the backend inside the tunnel: the request's own TLS options (servername, ca,
      // rejectUnauthorized) apply unchanged.
      const secured = tls.connect({ ...o, host: bareHost(target), socket });
      cb(null, secured);
    });
    return undefined;
  };
  return agent;
}
