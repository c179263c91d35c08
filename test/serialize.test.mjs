// The in-process locals serializer on real values: rendering, limits, redaction, hostile objects.
// (End-to-end captures through the inspector are in exceptions*.test.mjs.)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import util from 'node:util';
import { prng } from './helpers/prng.mjs';

const require = createRequire(import.meta.url);
const { createSerializer, serializeFrames } = require('../dist/main/serialize/serializer.js');
const { createRedactor } = require('../dist/main/serialize/redact.js');

const LIMITS = { maxDepth: 10, maxStringLength: 1000, maxCollectionSize: 100, maxNodes: 2000 };
const redactor = createRedactor([], 'ak_live_0123456789abcdef');

/** Serializes `vars` as one frame's single scope. */
function capture(vars, limits = LIMITS, scopes = 's', r = redactor) {
  const plan = { limits, frames: [{ url: 'file:///app.js', line: 1, column: 2, functionName: 'f', functionLine: 0, scopes }] };
  const scopeObjects = scopes.length === 1 ? [vars] : vars;
  const snap = serializeFrames(plan, scopeObjects, 0, r);
  assert.equal(snap.frames.length, 1);
  return snap.frames[0].locals;
}

test('primitives render as their string value with their type', () => {
  const sym = Symbol('tag');
  const l = capture({ s: 'hi', n: -0, nan: NaN, big: 12n, yes: true, u: undefined, nul: null, sym });
  assert.deepEqual(
    Object.fromEntries(Object.entries(l).map(([k, v]) => [k, [v.type, v.value, v.is_null]])),
    {
      s: ['string', 'hi', false],
      n: ['number', '-0', false],
      nan: ['number', 'NaN', false],
      big: ['bigint', '12n', false],
      yes: ['boolean', 'true', false],
      u: ['undefined', 'undefined', true],
      nul: ['null', 'null', true],
      sym: ['symbol', 'Symbol(tag)', false],
    },
  );
  for (const v of Object.values(l)) assert.equal(v.is_truncated, false);
});

test('objects, arrays, collections and built-ins', () => {
  class User {
    constructor() {
      this.id = 7;
      this.tags = ['a', , 'c'];
    }
  }
  const err = new TypeError('bad input', { cause: new Error('root') });
  err.code = 'E_BAD';
  const l = capture({
    user: new User(),
    when: new Date(Date.UTC(2024, 0, 2, 3, 4, 5)),
    bad: new Date(NaN),
    re: /a+b/gi,
    err,
    fn: function named() {},
    arrow: () => {},
    asyncFn: async function load() {},
    gen: function* items() {},
    map: new Map([['k', 1], [{ o: 1 }, 'objkey']]),
    set: new Set([1, 'two']),
    promise: Promise.resolve(1),
    buf: Buffer.from('hello'),
    floats: new Float64Array([1.5, 2]),
    ab: new ArrayBuffer(8),
    boxed: new String('boxed'),
    weak: new WeakMap(),
    nullProto: Object.assign(Object.create(null), { x: 1 }),
  });
  assert.equal(l.user.type, 'User');
  assert.equal(l.user.children.id.value, '7');
  assert.equal(l.user.children.tags.array_length, 3);
  assert.deepEqual(l.user.children.tags.array_elements.map((e) => e.value), ['a', '<empty>', 'c']);
  assert.equal(l.when.type, 'Date');
  assert.equal(l.when.value, '2024-01-02T03:04:05.000Z');
  assert.equal(l.bad.value, 'Invalid Date');
  assert.deepEqual([l.re.type, l.re.value], ['RegExp', '/a+b/gi']);
  assert.equal(l.err.type, 'TypeError');
  assert.equal(l.err.value, 'TypeError: bad input');
  assert.equal(l.err.children.message.value, 'bad input');
  assert.equal(l.err.children.code.value, 'E_BAD');
  assert.equal(l.err.children.cause.type, 'Error');
  assert.equal(l.err.children.stack, undefined, 'stack is never read');
  assert.deepEqual([l.fn.type, l.fn.value], ['function', '[Function: named]']);
  assert.equal(l.arrow.value, '[Function: arrow]');
  assert.equal(l.asyncFn.value, '[AsyncFunction: load]');
  assert.equal(l.gen.value, '[GeneratorFunction: items]');
  assert.equal(l.map.type, 'Map');
  assert.equal(l.map.array_length, 2);
  assert.equal(l.map.children.k.value, '1');
  assert.equal(l.map.children['[Object]'].value, 'objkey');
  assert.deepEqual(l.set.array_elements.map((e) => e.value), ['1', 'two']);
  assert.equal(l.promise.type, 'Promise');
  assert.equal(l.buf.type, 'Buffer');
  assert.equal(l.buf.value, '<Buffer 68 65 6c 6c 6f>');
  assert.equal(l.buf.array_length, 5);
  assert.equal(l.floats.value, 'Float64Array(2) [1.5, 2]');
  assert.equal(l.ab.value, 'ArrayBuffer(8 bytes)');
  assert.deepEqual([l.boxed.type, l.boxed.value], ['String', 'boxed']);
  assert.equal(l.weak.type, 'WeakMap');
  assert.equal(l.nullProto.type, 'Object');
  assert.equal(l.nullProto.children.x.value, '1');
});

test('a DOMException renders as the error it is (its name and message sit behind getters); a fake one as a plain object', () => {
  const aborted = new DOMException('This operation was aborted', 'AbortError');
  const fake = Object.create(DOMException.prototype);
  const l = capture({ aborted, timeout: new DOMException('The operation timed out.', 'TimeoutError'), fake });
  assert.equal(l.aborted.type, 'AbortError');
  assert.equal(l.aborted.value, 'AbortError: This operation was aborted');
  assert.equal(l.aborted.children.message.value, 'This operation was aborted');
  assert.equal(l.timeout.type, 'TimeoutError');
  assert.equal(l.fake.type, 'DOMException');
  assert.equal(l.fake.value, 'DOMException');
});

test('depth, string length, collection size and the node budget bound the capture', () => {
  const deep = {};
  let cur = deep;
  for (let i = 0; i < 50; i++) cur = cur.next = { i };
  const l = capture(
    { deep, long: 'x'.repeat(5000), many: Array.from({ length: 500 }, (_, i) => i), wide: Object.fromEntries(Array.from({ length: 300 }, (_, i) => [`k${i}`, i])) },
    { maxDepth: 3, maxStringLength: 20, maxCollectionSize: 10, maxNodes: 2000 },
  );
  assert.equal(l.long.value.length, 20);
  assert.equal(l.long.is_truncated, true);
  assert.equal(l.many.array_elements.length, 10);
  assert.equal(l.many.array_length, 500);
  assert.equal(l.many.is_truncated, true);
  assert.equal(Object.keys(l.wide.children).length, 10);
  assert.equal(l.wide.is_truncated, true);
  // deep -> next -> next -> next (depth 3) has no children
  const d3 = l.deep.children.next.children.next.children.next;
  assert.equal(d3.children, undefined);
  assert.equal(d3.is_truncated, true);

  const budget = capture({ a: Array.from({ length: 100 }, () => ({ x: 1, y: 2 })) }, { ...LIMITS, maxNodes: 50 });
  assert.ok(countNodes(budget) <= 52, `nodes ${countNodes(budget)}`);
  assert.equal(budget.a.is_truncated, true);
});

test('one huge variable cannot hide the ones after it, nor the frames below', () => {
  // A framework's request object walks to thousands of nodes; the id after it must still show.
  const huge = { rows: Array.from({ length: 100 }, (_, i) => ({ i, tags: Array.from({ length: 50 }, (_, j) => j) })) };
  const plan = { limits: LIMITS, frames: ['handler', 'caller'].map((functionName) => ({ url: 'file:///app.js', line: 1, column: 2, functionName, functionLine: 0, scopes: 's' })) };
  const snap = serializeFrames(plan, [{ request: huge, orderId: 'order-7' }, { request: huge, attempt: 3 }], 0, redactor);
  const [handler, caller] = snap.frames.map((f) => f.locals);
  assert.equal(handler.orderId?.value, 'order-7');
  assert.equal(caller.attempt?.value, '3');
  assert.equal(handler.request.children.rows.is_truncated, true);
  assert.ok(countNodes(handler) + countNodes(caller) <= LIMITS.maxNodes + 10, 'still within the whole budget');
});

test('secret-looking names and the agent key are redacted, other names are not', () => {
  const l = capture({
    password: 'p',
    dbPassword: 'p',
    api_key: 'k',
    apiKey: 'k',
    'X-Api-Key': 'k',
    Authorization: 'Bearer x',
    sessionId: 's',
    creditCardNumber: '4111',
    cvv: '123',
    user_ssn: '1',
    accessToken: 't',
    className: 'ok',
    author: 'ok',
    position: 'ok',
    headers: { cookie: 'c=1', accept: 'text/html' },
    map: new Map([['secret', 'x'], ['plain', 'y']]),
    note: 'key is ak_live_0123456789abcdef here',
    cut: 'y'.repeat(995) + 'ak_live_0123456789abcdef',
  });
  for (const k of ['password', 'dbPassword', 'api_key', 'apiKey', 'X-Api-Key', 'Authorization', 'sessionId', 'creditCardNumber', 'cvv', 'user_ssn', 'accessToken', 'note', 'cut']) {
    assert.equal(l[k].value, '[REDACTED]', k);
  }
  assert.equal(l.password.type, 'string', 'type is kept');
  for (const k of ['className', 'author', 'position']) assert.equal(l[k].value, 'ok', k);
  assert.equal(l.headers.children.cookie.value, '[REDACTED]');
  assert.equal(l.headers.children.accept.value, 'text/html');
  assert.equal(l.map.children.secret.value, '[REDACTED]');
  assert.equal(l.map.children.plain.value, 'y');

  const extra = capture({ tenantCode: 'acme', other: 1 }, LIMITS, 's', createRedactor(['tenant_code'], ''));
  assert.equal(extra.tenantCode.value, '[REDACTED]');
  assert.equal(extra.other.value, '1');
});

test("secret query parameters of URLs and request targets among locals are redacted, as in the event's request", () => {
  const l = capture({
    target: '/import?batch=nightly&token=s3cret',
    link: 'https://api.example.com/v1/orders?page=2&code=abc123#top',
    signed: 'https://cdn.example.com/a.png?sig=zz&w=200',
    custom: '/x?tenant_code=acme&q=1',
    plain: '/search?q=token',
    sentence: 'why? token=s3cret',
    request: { url: '/login?password=hunter2&next=%2Fhome' },
  }, LIMITS, 's', createRedactor(['tenant_code'], ''));
  assert.equal(l.target.value, '/import?batch=nightly&token=[REDACTED]');
  assert.equal(l.link.value, 'https://api.example.com/v1/orders?page=2&code=[REDACTED]#top');
  assert.equal(l.signed.value, 'https://cdn.example.com/a.png?sig=[REDACTED]&w=200');
  assert.equal(l.custom.value, '/x?tenant_code=[REDACTED]&q=1');
  assert.equal(l.plain.value, '/search?q=token', 'a secret word as a value is not a secret parameter');
  assert.equal(l.sentence.value, 'why? token=s3cret', 'not a URL');
  assert.equal(l.request.children.url.value, '/login?password=[REDACTED]&next=%2Fhome');
});

test('scopes: inner scopes shadow outer ones; the CommonJS wrapper names are dropped', () => {
  const plan = { limits: LIMITS, frames: [{ url: 'u', line: 0, column: 0, functionName: 'f', functionLine: 0, scopes: 'sw' }] };
  const snap = serializeFrames(plan, [{ x: 'inner' }, { x: 'outer', y: 2, require, module: {}, exports: {}, __filename: 'f', __dirname: 'd' }], 0, redactor);
  assert.deepEqual(Object.fromEntries(Object.entries(snap.frames[0].locals).map(([k, v]) => [k, v.value])), { x: 'inner', y: '2' });
});

test('a malformed plan or missing scopes never throw', () => {
  for (const plan of [undefined, null, 1, 'x', {}, { frames: 'no' }, { frames: [null, { scopes: 7 }] }, { limits: { maxDepth: 'x' }, frames: [{ scopes: 'ss' }] }]) {
    const snap = serializeFrames(plan, [], 0, redactor);
    assert.ok(Array.isArray(snap.frames));
  }
});

test('the installed serializer keeps the first capture per thrown object and reads it back', () => {
  const ser = createSerializer({ redactNames: [], apiKey: '' });
  const err = new Error('x');
  const plan = (v) => ({ limits: LIMITS, frames: [{ url: 'u', line: 0, column: 0, functionName: 'f', functionLine: 0, scopes: 's' }], v });
  assert.equal(ser(err, plan(), [null, null, { a: 1 }], 2), 'captured');
  assert.equal(ser(err, plan(), [null, null, { a: 2 }], 2), 'present');
  assert.equal(ser.read(err).frames[0].locals.a.value, '1');
  const frozen = Object.freeze(new Error('frozen'));
  assert.equal(ser(frozen, plan(), [null, null, { b: 1 }], 2), 'captured');
  assert.equal(ser.read(frozen).frames[0].locals.b.value, '1');
  assert.deepEqual(Reflect.ownKeys(err).filter((k) => typeof k === 'symbol'), [], 'nothing is added to the error');
  const proxyError = new Proxy(new Error('p'), {});
  assert.equal(ser(proxyError, plan(), [null, null, { c: 1 }], 2), 'captured');
  assert.equal(ser.read(proxyError).frames[0].locals.c.value, '1');
  assert.equal(ser('primitive', plan(), [], 2), 'failed');
  const returned = ser(undefined, plan(), [null, { d: 4 }], 1);
  assert.equal(returned.frames[0].locals.d.value, '4');
});

/** Objects that count every way user code could run. */
function hostileValues(counter) {
  const hit = () => {
    counter.n++;
  };
  const handler = {};
  for (const trap of ['get', 'set', 'has', 'ownKeys', 'getOwnPropertyDescriptor', 'getPrototypeOf', 'defineProperty', 'deleteProperty', 'apply', 'construct', 'isExtensible', 'preventExtensions', 'setPrototypeOf']) {
    handler[trap] = (...args) => {
      hit();
      return Reflect[trap](...args);
    };
  }
  const proxy = new Proxy({ inner: 1 }, handler);
  const proxyFn = new Proxy(function f() {}, handler);
  const protoProxy = Object.create(new Proxy({}, handler));
  const getters = {
    get boom() {
      hit();
      throw new Error('getter ran');
    },
    get count() {
      hit();
      return 1;
    },
    toJSON() {
      hit();
    },
    toString() {
      hit();
      return 'x';
    },
    [Symbol.toPrimitive]() {
      hit();
      return 1;
    },
    [util.inspect.custom]() {
      hit();
      return 'custom';
    },
  };
  class Sneaky {
    static get name() {
      hit();
      return 'Sneaky';
    }
  }
  const ctorGetter = Object.create({
    get constructor() {
      hit();
      return Object;
    },
  });
  const err = new Error('e');
  Object.defineProperty(err, 'message', {
    get() {
      hit();
      return 'm';
    },
  });
  const arr = [1, 2];
  Object.defineProperty(arr, 0, {
    get() {
      hit();
      return 1;
    },
  });
  const map = new Map([[proxy, proxy]]);
  const set = new Set([proxy]);
  const circular = { name: 'loop' };
  circular.self = circular;
  circular.list = [circular];
  return { proxy, proxyFn, protoProxy, getters, sneaky: new Sneaky(), ctorGetter, err, arr, map, set, circular };
}

test('hostile values: proxies, getters, toJSON/toString/inspect hooks are never run', () => {
  const counter = { n: 0 };
  const l = capture(hostileValues(counter));
  assert.equal(counter.n, 0, 'no user code ran');
  assert.deepEqual([l.proxy.type, l.proxy.value, l.proxy.children], ['Proxy', 'Proxy', undefined]);
  assert.equal(l.proxyFn.type, 'Proxy');
  assert.equal(l.protoProxy.type, 'Object');
  assert.deepEqual([l.getters.children.boom.type, l.getters.children.boom.value], ['getter', '[Getter]']);
  assert.equal(l.sneaky.type, 'Object', 'a constructor whose name is a getter is not asked');
  assert.equal(l.ctorGetter.type, 'Object');
  assert.equal(l.err.children.message, undefined);
  assert.equal(l.arr.array_elements[0].type, 'getter');
  assert.equal(l.map.children['[Proxy]'].type, 'Proxy');
  assert.equal(l.set.array_elements[0].type, 'Proxy');
  assert.equal(l.circular.children.self.value, '[Circular]');
  assert.equal(l.circular.children.list.array_elements[0].value, '[Circular]');
});

test('built-ins patched by the app after the agent loaded are not called', () => {
  const counter = { n: 0 };
  const saved = { entries: Map.prototype.entries, values: Set.prototype.values, getTime: Date.prototype.getTime, keys: Object.keys };
  try {
    Map.prototype.entries = function () {
      counter.n++;
      return saved.entries.call(this);
    };
    Set.prototype.values = function () {
      counter.n++;
      return saved.values.call(this);
    };
    Date.prototype.getTime = function () {
      counter.n++;
      return 0;
    };
    const l = capture({ m: new Map([['a', 1]]), s: new Set([1]), d: new Date(0) });
    assert.equal(counter.n, 0);
    assert.equal(l.m.children.a.value, '1');
    assert.equal(l.d.value, '1970-01-01T00:00:00.000Z');
  } finally {
    Map.prototype.entries = saved.entries;
    Set.prototype.values = saved.values;
    Date.prototype.getTime = saved.getTime;
  }
});

test('huge values stay bounded: 1e6-element arrays, 10 MB strings, 1e5-entry maps, deep nesting', () => {
  let deep = { end: true };
  for (let i = 0; i < 10_000; i++) deep = { child: deep };
  const big = {
    arr: new Array(1_000_000).fill(7),
    str: 'z'.repeat(10 * 1024 * 1024),
    map: new Map(Array.from({ length: 100_000 }, (_, i) => [i, i])),
    typed: new Uint8Array(1_000_000),
    deep,
  };
  // Speed is the benchmark's business; here: only the first elements and characters are read and sent.
  const l = capture(big);
  const size = JSON.stringify(l).length;
  assert.ok(size < 200_000, `size ${size}`);
  assert.equal(l.arr.array_length, 1_000_000);
  assert.equal(l.arr.array_elements.length, 100);
  assert.equal(l.str.value.length, 1000);
  assert.equal(l.map.array_length, 100_000);
  assert.equal(l.typed.array_length, 1_000_000);
});

function countNodes(locals) {
  let n = 0;
  const walk = (v) => {
    n++;
    for (const c of Object.values(v.children ?? {})) walk(c);
    for (const c of v.array_elements ?? []) walk(c);
  };
  for (const v of Object.values(locals)) walk(v);
  return n;
}

function maxDepthOf(locals) {
  let max = 0;
  const walk = (v, d) => {
    max = Math.max(max, d);
    for (const c of Object.values(v.children ?? {})) walk(c, d + 1);
    for (const c of v.array_elements ?? []) walk(c, d + 1);
  };
  for (const v of Object.values(locals)) walk(v, 0);
  return max;
}


function randomValue(rand, depth, pool, counter) {
  const pick = Math.floor(rand() * (depth > 6 ? 8 : 18));
  const hit = () => {
    counter.n++;
  };
  switch (pick) {
    case 0: return Math.floor(rand() * 1e6) - 5e5;
    case 1: return rand() < 0.5 ? NaN : -0;
    case 2: return Array.from({ length: Math.floor(rand() * 40) }, () => String.fromCharCode(Math.floor(rand() * 0xffff))).join('');
    case 3: return rand() < 0.5;
    case 4: return rand() < 0.5 ? null : undefined;
    case 5: return BigInt(Math.floor(rand() * 1e9));
    case 6: return Symbol(String(rand()));
    case 7: return pool.length ? pool[Math.floor(rand() * pool.length)] : 'x';
    case 8: case 9: {
      const o = rand() < 0.2 ? Object.create(null) : {};
      pool.push(o);
      const n = Math.floor(rand() * 8);
      for (let i = 0; i < n; i++) o[`k${i}_${Math.floor(rand() * 100)}`] = randomValue(rand, depth + 1, pool, counter);
      if (rand() < 0.2) Object.defineProperty(o, 'g', { enumerable: true, get() { hit(); return 1; } });
      return o;
    }
    case 10: case 11: {
      const a = [];
      pool.push(a);
      const n = Math.floor(rand() * 12);
      for (let i = 0; i < n; i++) a.push(randomValue(rand, depth + 1, pool, counter));
      if (rand() < 0.2) a.length += 5;
      return a;
    }
    case 12: {
      const m = new Map();
      pool.push(m);
      for (let i = 0; i < Math.floor(rand() * 6); i++) m.set(randomValue(rand, depth + 1, pool, counter), randomValue(rand, depth + 1, pool, counter));
      return m;
    }
    case 13: {
      const s = new Set();
      for (let i = 0; i < Math.floor(rand() * 6); i++) s.add(randomValue(rand, depth + 1, pool, counter));
      return s;
    }
    case 14: return new Proxy({}, { get() { hit(); }, ownKeys() { hit(); return []; }, getOwnPropertyDescriptor() { hit(); } });
    case 15: {
      const e = new (rand() < 0.5 ? TypeError : Error)(String(rand()));
      e.detail = randomValue(rand, depth + 1, pool, counter);
      return e;
    }
    case 16: return rand() < 0.5 ? new Date(rand() * 1e12) : new Uint16Array(Math.floor(rand() * 40));
    default: {
      class Thing {
        constructor() { this.v = randomValue(rand, depth + 1, pool, counter); }
        get lazy() { hit(); return 1; }
      }
      return new Thing();
    }
  }
}

test('fuzz: random structures never throw, never run user code, and respect every bound', () => {
  const seeds = Number(process.env.AIVORY_FUZZ_SEEDS ?? 300);
  for (let seed = 1; seed <= seeds; seed++) {
    const rand = prng(seed);
    const counter = { n: 0 };
    const pool = [];
    const vars = {};
    const nvars = 1 + Math.floor(rand() * 10);
    for (let i = 0; i < nvars; i++) vars[`v${i}`] = randomValue(rand, 0, pool, counter);
    // cycles
    for (let i = 0; i < pool.length && i < 5; i++) {
      const o = pool[Math.floor(rand() * pool.length)];
      if (Array.isArray(o)) o.push(pool[0]);
      else if (o instanceof Map) o.set('cycle', pool[0]);
      else o.cycle = pool[0];
    }
    const limits = {
      maxDepth: Math.floor(rand() * 6),
      maxStringLength: 1 + Math.floor(rand() * 50),
      maxCollectionSize: 1 + Math.floor(rand() * 10),
      maxNodes: 1 + Math.floor(rand() * 300),
    };
    let locals;
    assert.doesNotThrow(() => {
      locals = capture(vars, limits);
    }, `seed ${seed}`);
    assert.equal(counter.n, 0, `seed ${seed}: user code ran`);
    const json = JSON.stringify(locals);
    assert.deepEqual(JSON.parse(json), locals, `seed ${seed}: JSON round trip`);
    assert.ok(countNodes(locals) <= limits.maxNodes + limits.maxDepth + 2, `seed ${seed}: ${countNodes(locals)} nodes > ${limits.maxNodes}`);
    assert.ok(maxDepthOf(locals) <= limits.maxDepth, `seed ${seed}: depth`);
    const walk = (v) => {
      assert.equal(typeof v.name, 'string');
      assert.equal(typeof v.type, 'string');
      assert.equal(typeof v.value, 'string');
      if (v.type === 'string' && v.value !== '[REDACTED]') assert.ok(v.value.length <= limits.maxStringLength, `seed ${seed}: string`);
      assert.ok((v.array_elements?.length ?? 0) <= limits.maxCollectionSize, `seed ${seed}: elements`);
      assert.ok(Object.keys(v.children ?? {}).length <= limits.maxCollectionSize + 2, `seed ${seed}: children`);
      for (const c of Object.values(v.children ?? {})) walk(c);
      for (const c of v.array_elements ?? []) walk(c);
    };
    for (const v of Object.values(locals)) walk(v);
  }
});
