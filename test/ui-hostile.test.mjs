// The web UI renders whatever agents send as text, never as markup, and marks cut and hidden
// values. A test client speaks the agent protocol to the real dev backend with hostile strings in
// every field; a real browser (Debian chromium) renders them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRequire } from 'node:module';
import { ROOT } from './helpers/process.mjs';

const require = createRequire(import.meta.url);
const CHROMIUM = '/usr/bin/chromium';
const ARTIFACTS = join(ROOT, 'test-artifacts');
const XSS = (tag) => `<img src=x onerror="window.__xss='${tag}'"><script>window.__xss='${tag}'</script>`;

const V = (name, type, value, extra = {}) => ({ name, type, value: String(value), is_null: false, is_truncated: false, ...extra });

function connectAgent(url, key, agentId) {
  const WebSocket = require('ws');
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { headers: { Authorization: `Bearer ${key}` } });
    const send = (type, payload) => ws.send(JSON.stringify({ type, payload, timestamp: Date.now() }));
    ws.on('error', reject);
    ws.on('open', () => send('register', {
      api_key: key, agent_id: agentId, hostname: XSS('hostname'), environment: XSS('env'), agent_version: '0.0.0-test',
      runtime: 'nodejs', runtimeVersion: process.version, platform: process.platform, arch: process.arch,
      capabilities: { breakpoints: false, breakpoint_status: true },
    }));
    ws.on('message', (d) => {
      if (JSON.parse(String(d)).type === 'registered') resolve({ send, close: () => ws.close() });
    });
  });
}

test('web UI: hostile strings stay text; truncation and redaction are visibly marked', { timeout: 60_000 }, async (t) => {
  if (!existsSync(CHROMIUM)) return t.skip(`${CHROMIUM} not found: apt-get install -y chromium`);
  let helper;
  try {
    helper = await import('./helpers/backend.mjs');
  } catch {
    return t.skip('test/helpers/backend.mjs (the dev backend) is not in this tree yet');
  }
  const { chromium } = require('playwright-core');
  const backend = await helper.startBackend({ t });
  const agentId = `agent-${Date.now().toString(16)}-0badc0de`;
  const agent = await connectAgent(backend.agentUrl, backend.key, agentId);
  t.after(() => agent.close());

  const locals = {
    [XSS('name')]: V(XSS('name'), XSS('type'), XSS('value')),
    password: V('password', 'string', '[REDACTED]'),
    note: V('note', 'string', `${'n'.repeat(40)}…`, { is_truncated: true }),
    rows: V('rows', 'Array', 'Array(1000000)', { array_elements: [V('0', 'number', '1'), V('1', 'number', '2')], array_length: 1_000_000, is_truncated: true }),
  };
  agent.send('exception', {
    id: '7f1c2d3e-0000-4000-8000-000000000001', exception_type: `Hostile${XSS('type')}`, message: XSS('message'), fingerprint: '0123456789abcdef',
    stack_trace: [{ method_name: XSS('method'), file_name: 'x.js', file_path: `/nowhere/${XSS('path')}.js`, line_number: 3, column_number: 1, is_native: false, source_available: false, in_app: true, local_variables: locals }],
    local_variables: locals,
    context: { request: { method: 'GET', url: `/${XSS('url')}`, headers: { [XSS('header')]: XSS('header-value'), cookie: '[REDACTED]' } }, user: { id: XSS('user') }, [XSS('ctx')]: XSS('ctx-value') },
    cause_chain: [{ exception_type: 'Error', message: 'connect ECONNREFUSED ::1:5432', aggregated: true }, { exception_type: XSS('cause-type'), message: XSS('cause') }],
    captured_at: new Date().toISOString(), agent_id: agentId, environment: 'test', runtime: 'nodejs', runtimeVersion: process.version,
    platform: process.platform, arch: process.arch, mechanism: XSS('mechanism'),
  });
  await backend.waitFor('exception', (e) => e.fingerprint === '0123456789abcdef');

  const profile = mkdtempSync(join(tmpdir(), 'aivory-ui-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM, headless: true, colorScheme: 'dark', viewport: { width: 1280, height: 900 },
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
  t.after(async () => {
    await context.close().catch(() => {});
    rmSync(profile, { recursive: true, force: true });
  });
  const page = context.pages()[0] ?? (await context.newPage());
  page.setDefaultTimeout(15_000);
  const pageErrors = [];
  page.on('pageerror', (err) => pageErrors.push(err.message));

  await page.goto(`${backend.httpUrl}/#/exceptions`);
  const row = page.locator('table.groups tbody tr', { hasText: 'Hostile' });
  await row.waitFor();
  assert.match(await row.textContent(), /<img src=x onerror=/);
  // keyboard only: '/' focuses the filter, ArrowDown the first row, Enter opens it
  await page.locator('body').press('/');
  assert.equal(await page.evaluate(() => document.activeElement.id), 'exc-filter');
  await page.keyboard.press('ArrowDown');
  assert.match(await page.evaluate(() => document.activeElement.className), /row-link/);
  await page.keyboard.press('Enter');
  await page.locator('h1', { hasText: 'Hostile' }).waitFor();
  await page.getByRole('button', { name: 'Expand all locals' }).click();
  await page.locator('section.panel', { hasText: 'Request' }).locator('summary', { hasText: 'Headers' }).click();

  // everything hostile is on the page as text...
  const text = await page.locator('main').innerText();
  for (const tag of ['type', 'message', 'method', 'path', 'name', 'value', 'url', 'header', 'header-value', 'user', 'ctx', 'ctx-value', 'cause-type', 'cause', 'mechanism']) {
    assert.ok(text.includes(`window.__xss='${tag}'`), `"${tag}" is not shown as text`);
  }
  // an AggregateError's errors are not shown as a chain of causes
  const causes = page.locator('section.panel', { hasText: 'Errors and causes' }).locator('ol.causes > li');
  const [sibling, cause, ...more] = await causes.allInnerTexts();
  assert.equal(sibling, 'one of its errors: Error: connect ECONNREFUSED ::1:5432');
  assert.ok(cause.startsWith(`caused by ${XSS('cause-type')}: `), cause);
  assert.deepEqual(more, []);
  // ...and none of it became markup or ran
  assert.equal(await page.locator('main img, main script, main iframe, main [onerror]').count(), 0);
  await page.goto(`${backend.httpUrl}/#/agents`);
  await page.locator('table.agents', { hasText: "window.__xss='hostname'" }).waitFor();
  assert.equal(await page.evaluate(() => window.__xss), undefined);

  // marks for what the agent cut or hid
  await page.goBack();
  await page.locator('h1', { hasText: 'Hostile' }).waitFor();
  const frame = page.locator('details.frame.in-app[open]').first();
  const item = (name) => frame.locator(':scope > .frame-body ul.vars.root > li', { has: page.locator(':scope > .name, :scope > details > summary > .name', { hasText: new RegExp(`^${name}$`) }) });
  await item('password').locator('.badge.redacted').waitFor();
  await item('note').locator('.badge.truncated', { hasText: 'truncated' }).waitFor();
  await item('rows').locator('.badge.truncated', { hasText: '2 of 1000000' }).waitFor();
  await frame.getByText('Source not readable by the server').waitFor();
  mkdirSync(ARTIFACTS, { recursive: true });
  await page.screenshot({ path: join(ARTIFACTS, 'ui-hostile-dark.png'), fullPage: true });
  assert.deepEqual(pageErrors, []);
});
