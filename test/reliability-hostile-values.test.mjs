// Hostile values in the app, through the real inspector: getters, toString/toJSON/valueOf/
// Symbol.toPrimitive/inspect hooks that throw or count, revoked proxies, frozen and sealed objects,
// objects from another realm (vm), SharedArrayBuffer, WeakMap/WeakSet/WeakRef, detached buffers.
// Captured as locals of an exception and of a breakpoint hit: no user code runs, nothing crashes,
// the output is bounded. (Proxies, huge and deep values: exceptions-hostile.test.mjs.)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startBackend, agentEnv } from './helpers/backend.mjs';
import { APP, markerLine } from './helpers/edge.mjs';
import { REGISTER_CJS, startNode } from './helpers/process.mjs';
import { waitLoopsAdvance } from './helpers/reliability.mjs';
import { frameNamed } from './helpers/exceptions.mjs';

/** Every Variable of a locals record, depth first. */
function* walk(locals) {
  for (const v of Object.values(locals ?? {})) {
    yield v;
    yield* walk(v.children);
    yield* walk(Object.fromEntries((v.array_elements ?? []).map((e, i) => [i, e])));
  }
}

function assertHostileCapture(values) {
  assert.ok(values, 'the hostile values were captured');
  const c = values.children;
  assert.equal(c.revoked.type, 'Proxy');
  assert.equal(c.revokedFn.type, 'Proxy');
  assert.equal(c.realmProxy.type, 'Proxy');
  assert.equal(c.frozen.children.kind.value, 'frozen');
  assert.equal(c.frozen.children.list.array_length, 3);
  assert.equal(c.sealed.children.n.value, '2');
  assert.equal(c.fixed.children.kind.value, 'fixed');
  assert.equal(c.frozenError.type, 'RangeError');
  // Objects of another realm are read like ours (brand checks, not instanceof).
  assert.equal(c.realmObj.children.fromRealm.value, 'yes');
  assert.equal(c.realmObj.children.list.array_length, 3);
  assert.equal(c.realmObj.children.when.value, '1970-01-01T00:00:00.000Z');
  assert.equal(c.realmErr.type, 'TypeError');
  assert.equal(c.realmGetter.children.g.type, 'getter');
  assert.equal(c.hooks.children.sideEffect.type, 'getter');
  assert.equal(c.hooks.children.throws.type, 'getter');
  assert.equal(c.sizeLies.array_length, 1, 'a Map whose size getter lies is read by its entries');
  assert.equal(c.sharedView.array_length, 4);
  for (const name of ['shared', 'weakMap', 'weakSet', 'weakRef', 'detached', 'thenable', 'tricky', 'namedByGetter', 'errorWithGetters', 'nullProto']) {
    assert.ok(c[name], `${name} listed`);
  }
  const all = [...walk({ values })];
  assert.ok(all.length < 2000, `${all.length} variables`);
  for (const v of all) {
    assert.equal(typeof v.type, 'string');
    assert.equal(typeof v.value, 'string');
    assert.ok(v.value.length <= 1000);
    assert.doesNotMatch(v.value, /\bran\b|getter name|message getter/, `${v.name}: ${v.value} came from user code`);
  }
  assert.ok(JSON.stringify(values).length < 200_000);
}

test('hostile values as exception locals: captured, bounded, no user code run', { timeout: 60_000 }, async (t) => {
  const backend = await startBackend({ t });
  const app = startNode(['--require', REGISTER_CJS, APP], { env: agentEnv(backend, { THROW_HOSTILE: '1', STATS_MS: '100' }), t });
  const ev = await backend.waitFor('exception', (e) => e.message === 'hostile locals thrown');
  assert.equal(ev.locals_status, 'captured');
  const f = frameNamed(ev, 'throwHostile');
  assert.equal(f.line_number, markerLine(APP, 'throw'));
  assertHostileCapture(f.local_variables.values);
  // The app counts every run of its hooks; its next stats line after the capture says how many.
  const m = await app.waitForOutput(/thrown\n(?:.*\n)*?stats .*"side":(\d+)/);
  assert.equal(Number(m[1]), 0, 'no getter, hook or trap of the app ran');
  assert.equal(app.stderr(), '');
});

test('hostile values as breakpoint locals, hit 20 times: captured, bounded, no user code run', { timeout: 60_000 }, async (t) => {
  const backend = await startBackend({ t });
  const app = startNode(['--require', REGISTER_CJS, APP], { env: agentEnv(backend, { WORK: '1', STATS_MS: '100' }), t });
  await backend.waitFor('agent', (a) => a.connected);
  const bp = await backend.post('/api/breakpoints', { file_path: 'reliability/app.cjs', line_number: markerLine(APP, 'work'), max_hits: 20 });
  await backend.waitFor('breakpoint_status', (s) => s.breakpoint_id === bp.id && s.status === 'exhausted', 20_000);
  const hits = backend.events('breakpoint_hit').filter((h) => h.breakpoint_id === bp.id);
  assert.equal(hits.length, 20);
  for (const h of hits) assertHostileCapture(h.local_variables.values);
  await waitLoopsAdvance(app);
  assert.doesNotMatch(app.stdout(), /"side":[1-9]/, 'no getter, hook or trap of the app ran');
  assert.equal(app.child.exitCode, null);
  assert.equal(app.stderr(), '');
});
