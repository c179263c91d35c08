// Fuzz: the locals serializer on random value graphs, and the message parsers (the agent's backend
// frames, set_breakpoint compilation, the dev server's agent frames) on random and mutated frames.
// Seeded and reproducible: a failure prints its seed; AIVORY_FUZZ_SEED=<seed> replays exactly it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { prng } from './helpers/prng.mjs';

const require = createRequire(import.meta.url);
const { serializeFrames } = require('../dist/main/serialize/serializer.js');
const { createRedactor } = require('../dist/main/serialize/redact.js');
const { parseBackendFrame } = require('../dist/worker/transport/frames.js');
const { compileBreakpoint, resolveLimits } = require('../dist/worker/breakpoints/compile.js');
const { parseAgentFrame } = require('../dist/server/validate.js');

const REPLAY = process.env.AIVORY_FUZZ_SEED;
const BASE = REPLAY === undefined ? (Date.now() ^ (process.pid << 8)) >>> 0 : Number(REPLAY) >>> 0;


/** Runs `cases` cases (one when replaying), each with its own seed; a failure names the seed to replay. */
function fuzz(name, cases, body) {
  const seeds = REPLAY === undefined ? Array.from({ length: cases }, (_, i) => (BASE + i * 0x9e3779b1) >>> 0) : [BASE];
  for (const seed of seeds) {
    try {
      body(prng(seed), seed);
    } catch (err) {
      err.message = `${name}: seed ${seed} failed (replay: AIVORY_FUZZ_SEED=${seed} node --test test/reliability-fuzz.test.mjs)\n${err.message}`;
      throw err;
    }
  }
}

const pick = (rand, list) => list[Math.floor(rand() * list.length)];
const int = (rand, n) => Math.floor(rand() * n);
const CHARS = ['a', 'Z', '0', ' ', '"', '\\', '\u0000', '\n', '\u2028', 'é', '😀', '\ud800', '{', '}', '[', ']', ':', ',', '<', '$'];
const randomString = (rand, max = 30) => Array.from({ length: int(rand, max) }, () => pick(rand, CHARS)).join('');

// ---- serializer ----

function randomValue(rand, depth, pool, hit) {
  const kinds = depth > 5 ? 9 : 24;
  switch (int(rand, kinds)) {
    case 0: return int(rand, 2e6) - 1e6;
    case 1: return pick(rand, [NaN, -0, Infinity, -Infinity, Number.MAX_VALUE, 5e-324]);
    case 2: return randomString(rand, 60);
    case 3: return rand() < 0.5;
    case 4: return rand() < 0.5 ? null : undefined;
    case 5: return BigInt(int(rand, 1e9)) * (rand() < 0.5 ? -1n : 1n);
    case 6: return Symbol(randomString(rand, 5));
    case 7: return pool.length ? pick(rand, pool) : 'x';
    case 8: return 'y'.repeat(int(rand, 5000));
    case 9: case 10: {
      const o = rand() < 0.2 ? Object.create(null) : {};
      pool.push(o);
      for (let i = int(rand, 8); i > 0; i--) {
        const key = rand() < 0.3 ? pick(rand, ['password', 'token', '__proto__', 'constructor', randomString(rand, 8)]) : `k${i}`;
        Object.defineProperty(o, key, { value: randomValue(rand, depth + 1, pool, hit), enumerable: true, writable: true, configurable: true });
      }
      if (rand() < 0.3) Object.defineProperty(o, 'g', { enumerable: true, get() { hit(); return 1; } });
      if (rand() < 0.2) Object.freeze(o);
      return o;
    }
    case 11: case 12: {
      const a = [];
      pool.push(a);
      for (let i = int(rand, 12); i > 0; i--) a.push(randomValue(rand, depth + 1, pool, hit));
      if (rand() < 0.2) a.length += int(rand, 1e6);
      return a;
    }
    case 13: {
      const m = new Map();
      pool.push(m);
      for (let i = int(rand, 6); i > 0; i--) m.set(randomValue(rand, depth + 1, pool, hit), randomValue(rand, depth + 1, pool, hit));
      return m;
    }
    case 14: return new Set(Array.from({ length: int(rand, 6) }, () => randomValue(rand, depth + 1, pool, hit)));
    case 15: {
      const handler = { get() { hit(); }, ownKeys() { hit(); return []; }, getOwnPropertyDescriptor() { hit(); }, getPrototypeOf() { hit(); return null; } };
      if (rand() < 0.5) return new Proxy({}, handler);
      const r = Proxy.revocable({}, handler);
      r.revoke();
      return r.proxy;
    }
    case 16: {
      const e = new (pick(rand, [Error, TypeError, RangeError]))(randomString(rand));
      e.detail = randomValue(rand, depth + 1, pool, hit);
      if (rand() < 0.3) Object.defineProperty(e, 'message', { get() { hit(); return 'm'; } });
      return e;
    }
    case 17: return pick(rand, [() => new Date(rand() * 1e13), () => new Date(NaN), () => /x+(y)?/giu, () => new Uint8Array(int(rand, 100)), () => new BigInt64Array(3), () => new ArrayBuffer(int(rand, 64))])();
    case 18: {
      const hooks = {};
      for (const k of ['toString', 'toJSON', 'valueOf', Symbol.toPrimitive, Symbol.for('nodejs.util.inspect.custom')]) hooks[k] = () => { hit(); throw new Error('hook ran'); };
      Object.defineProperty(hooks, Symbol.toStringTag, { get() { hit(); return 'T'; } });
      return hooks;
    }
    case 19: {
      const sab = new SharedArrayBuffer(8 * (1 + int(rand, 4)));
      return rand() < 0.5 ? sab : new Int32Array(sab);
    }
    case 20: return pick(rand, [new WeakMap(), new WeakSet(), new WeakRef({}), Promise.resolve(1), function named() {}, async () => {}, function* gen() {}]);
    case 21: {
      class Thing { constructor() { this.v = randomValue(rand, depth + 1, pool, hit); } get lazy() { hit(); return 1; } }
      Object.defineProperty(Thing, 'name', { get() { hit(); return 'lies'; } });
      return new Thing();
    }
    case 22: return Object.seal({ sealed: randomValue(rand, depth + 1, pool, hit) });
    default: {
      let deep = { end: true };
      for (let i = int(rand, 200); i > 0; i--) deep = { next: deep };
      return deep;
    }
  }
}

function* variables(locals) {
  for (const v of Object.values(locals ?? {})) {
    yield v;
    yield* variables(v.children);
    yield* variables(Object.fromEntries((v.array_elements ?? []).map((e, i) => [i, e])));
  }
}

test('fuzz: the serializer on 1500 random value graphs', (t) => {
  t.diagnostic(`seed base ${BASE}`);
  const KEY = 'fake-fuzz-key-1234567';
  const redactor = createRedactor([], KEY);
  fuzz('serializer', 1500, (rand) => {
    let ran = 0;
    const hit = () => { ran++; };
    const pool = [];
    const scope = {};
    for (let i = 1 + int(rand, 8); i > 0; i--) scope[`v${i}`] = randomValue(rand, 0, pool, hit);
    if (rand() < 0.1) scope.leaked = `prefix ${KEY} suffix`;
    for (let i = int(rand, 4); i > 0 && pool.length; i--) {
      const o = pick(rand, pool);
      if (Array.isArray(o)) o.push(pick(rand, pool));
      else if (o instanceof Map) o.set('cycle', pick(rand, pool));
      else if (Object.isExtensible(o)) Object.defineProperty(o, `cycle${i}`, { value: pick(rand, pool), enumerable: true, configurable: true });
    }
    const limits = { maxDepth: int(rand, 8), maxStringLength: 1 + int(rand, 200), maxCollectionSize: 1 + int(rand, 20), maxNodes: 1 + int(rand, 500) };
    const plan = { limits, frames: [{ url: 'file:///app.js', line: 1, column: 1, functionName: 'f', functionLine: 0, scopes: 's' }] };
    const snap = serializeFrames(plan, [scope], 0, redactor);
    assert.equal(ran, 0, 'no user code ran');
    const locals = snap.frames[0].locals;
    const json = JSON.stringify(locals);
    assert.equal(JSON.stringify(JSON.parse(json)), json, 'plain JSON');
    assert.ok(!json.includes(KEY), 'the agent key never appears');
    let n = 0;
    for (const v of variables(locals)) {
      n++;
      assert.equal(typeof v.type, 'string');
      assert.equal(typeof v.value, 'string');
      if (v.value !== '[REDACTED]') assert.ok(v.value.length <= Math.max(limits.maxStringLength + 1, 200), `${v.value.length} characters`);
      assert.ok((v.array_elements?.length ?? 0) <= limits.maxCollectionSize);
      if (/password|token/i.test(v.name) && v.type === 'string') assert.equal(v.value, '[REDACTED]');
    }
    assert.ok(n <= limits.maxNodes + limits.maxDepth + 20, `${n} variables for a budget of ${limits.maxNodes}`);
  });
});

// ---- message parsers ----

const TYPES = ['registered', 'error', 'set_breakpoint', 'remove_breakpoint', 'configure', 'register', 'heartbeat', 'exception', 'breakpoint_hit', 'breakpoint_status', '__proto__', 'constructor', 'toString', ''];

function randomJson(rand, depth = 0) {
  switch (int(rand, depth > 3 ? 5 : 8)) {
    case 0: return pick(rand, [0, -1, 1.5, 2 ** 53, -(2 ** 31), 1e308, 0.1]);
    case 1: return randomString(rand);
    case 2: return pick(rand, [true, false, null]);
    case 3: return pick(rand, ['', 'x'.repeat(5000), '../../etc/passwd', 'app.cjs', 'process.exit(1)', 'a\u0000b']);
    case 4: return int(rand, 100);
    case 5: return Array.from({ length: int(rand, 5) }, () => randomJson(rand, depth + 1));
    default: {
      const o = {};
      for (let i = int(rand, 6); i > 0; i--) o[pick(rand, ['id', 'file_path', 'line_number', 'condition', 'max_hits', 'ttl_seconds', 'expires_at', 'code', 'message', 'agent_id', 'api_key', 'status', 'breakpoint_id', 'dropped_messages', 'exception_type', '__proto__', randomString(rand, 6)])] = randomJson(rand, depth + 1);
      return o;
    }
  }
}

/** A plausible frame, then maybe a few byte-level mutations of its text. */
function randomFrameText(rand) {
  const frame = { type: pick(rand, TYPES), payload: randomJson(rand), timestamp: rand() < 0.8 ? Date.now() : randomJson(rand) };
  if (frame.payload && typeof frame.payload === 'object' && rand() < 0.5) Object.assign(frame.payload, { id: `bp-${int(rand, 9)}`, file_path: 'src/a.js', line_number: 1 + int(rand, 50) });
  let text = rand() < 0.1 ? JSON.stringify(randomJson(rand)) : JSON.stringify(frame);
  for (let m = rand() < 0.5 ? 0 : int(rand, 4); m > 0; m--) {
    const at = int(rand, text.length + 1);
    text = pick(rand, [
      () => text.slice(0, at) + pick(rand, CHARS) + text.slice(at),
      () => text.slice(0, at) + text.slice(at + 1 + int(rand, 5)),
      () => text.slice(0, at),
      () => text.slice(0, at) + '"__proto__":{"polluted":1},' + text.slice(at),
    ])();
  }
  return text;
}

test("fuzz: 5000 random and mutated frames through the agent's and the dev server's parsers", (t) => {
  t.diagnostic(`seed base ${BASE}`);
  const limits = resolveLimits();
  const KNOWN = new Set(['registered', 'error', 'set_breakpoint', 'remove_breakpoint', 'configure']);
  const SB_KEYS = new Set(['id', 'file_path', 'line_number', 'condition', 'max_hits', 'ttl_seconds', 'expires_at']);
  fuzz('parsers', 5000, (rand) => {
    const text = randomFrameText(rand);
    const parsed = parseBackendFrame(Buffer.from(text), rand() < 0.05);
    assert.equal(typeof parsed.ok, 'boolean');
    if (!parsed.ok) {
      assert.equal(typeof parsed.reason, 'string');
      assert.ok(parsed.reason.length < 200, 'a short reason');
    } else {
      const { type, payload, timestamp } = parsed.frame;
      assert.ok(KNOWN.has(type), type);
      assert.equal(typeof payload, 'object');
      assert.ok(payload !== null && !Array.isArray(payload));
      assert.equal(typeof timestamp, 'number');
      if (type === 'set_breakpoint') {
        for (const k of Object.keys(payload)) assert.ok(SB_KEYS.has(k), `unexpected key ${k}`);
        assert.ok(Object.getPrototypeOf(payload) === Object.prototype, 'a fresh plain object');
        const c = compileBreakpoint(payload, limits);
        if (c.ok) {
          assert.ok(Object.isFrozen(c.breakpoint));
          assert.ok(c.breakpoint.line >= 1 && c.breakpoint.line <= 2 ** 31 - 1);
          assert.ok(c.breakpoint.maxHits >= 1 && c.breakpoint.maxHits <= limits.maxHitsCap);
          assert.ok(c.breakpoint.expiresAt <= Date.now() + limits.maxTtlMs + 1000);
          assert.doesNotMatch(c.breakpoint.requestedPath, /[\u0000-\u001f]|(^|[/\\])\.\.([/\\]|$)/);
        } else {
          assert.equal(typeof c.message, 'string');
        }
      }
      if (type === 'remove_breakpoint') assert.deepEqual(Object.keys(payload), ['id']);
      if (type === 'error') assert.equal(typeof payload.code, 'string');
    }
    // The dev server's side of the wire, on the same text.
    const server = parseAgentFrame(text);
    if (server !== undefined) {
      assert.ok(['register', 'heartbeat', 'exception', 'breakpoint_hit', 'breakpoint_status'].includes(server.type));
      assert.equal(typeof server.payload, 'object');
    }
    assert.equal({}.polluted, undefined, 'no prototype pollution');
  });
});
