// Hostile locals through the real inspector: bounded event, no user code run, app unaffected.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { startBackend, agentEnv } from './helpers/backend.mjs';
import { REGISTER_CJS, startNode } from './helpers/process.mjs';
import { EXC_FIXTURES, frameNamed, markers } from './helpers/exceptions.mjs';

test('proxies, throwing getters, 1e6 arrays, 10 MB strings, deep and circular structures: bounded, no side effects', async (t) => {
  const backend = await startBackend({ t });
  const file = join(EXC_FIXTURES, 'hostile.cjs');
  const app = startNode(['--require', REGISTER_CJS, file], { env: agentEnv(backend), t });
  const ev = await backend.waitFor('exception', (e) => e.message === 'hostile locals');
  const { code } = await app.exited;
  assert.equal(code, 0, app.stderr());
  assert.deepEqual(JSON.parse(app.stdout().trim()), { sideEffects: 0, sum: 499500 });
  assert.equal(app.stderr(), '');

  const size = JSON.stringify(ev).length;
  assert.ok(size < 1_000_000, `event is ${size} bytes`);
  const f = frameNamed(ev, 'hostileLocals');
  assert.equal(f.line_number, markers(file).throw);
  const l = f.local_variables;
  assert.equal(l.proxy.type, 'Proxy');
  assert.equal(l.proxy.children, undefined);
  assert.equal(l.proxyFunction.type, 'Proxy');
  assert.equal(l.frozenProxyError.type, 'Proxy');
  assert.equal(l.inheritsProxy.type, 'Object');
  assert.equal(l.throwingGetters.children.explode.type, 'getter');
  assert.equal(l.hugeArray.array_length, 1_000_000);
  assert.equal(l.hugeArray.array_elements.length, 100);
  assert.equal(l.hugeArray.is_truncated, true);
  assert.equal(l.hugeString.value.length, 1000);
  assert.equal(l.hugeString.is_truncated, true);
  assert.equal(l.hugeMap.array_length, 100_000);
  assert.equal(l.circular.children.self.value, '[Circular]');
  let depth = 0;
  for (let v = l.deep; v?.children?.next; v = v.children.next) depth++;
  assert.ok(depth <= 10, `deep walked ${depth} levels`);
});

test('let/const in their temporal dead zone do not lose the capture (Node 24+ throws on reading them)', async (t) => {
  const backend = await startBackend({ t });
  const file = join(EXC_FIXTURES, 'tdz.cjs');
  const app = startNode(['--require', REGISTER_CJS, file], { env: agentEnv(backend), t });
  const ev = await backend.waitFor('exception', (e) => e.message === 'before declarations');
  assert.equal(ev.locals_status, 'captured');
  const f = frameNamed(ev, 'early');
  assert.equal(f.line_number, markers(file).throw);
  assert.equal(f.local_variables.input.value, 'x');
  assert.equal(f.local_variables.before.value, 'in:x');
  for (const name of ['later', 'alsoLater']) {
    const v = f.local_variables[name];
    assert.ok(v, `${name} is listed`);
    // Node 20 reads TDZ bindings as undefined; 24+ throws, reported as uninitialized.
    const major = Number(process.versions.node.split('.')[0]);
    if (major >= 24) assert.equal(v.type, 'uninitialized', name);
    else if (major <= 20) assert.equal(v.type, 'undefined', name);
    else assert.ok(v.type === 'uninitialized' || v.type === 'undefined', `${name}: ${v.type}`);
  }
  assert.equal((await app.exited).code, 0);
});
