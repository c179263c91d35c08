// The web UI in a real browser (Debian chromium via playwright-core) against the real dev backend
// and the demo's express app under the real preload: an exception appears live, its locals open,
// a breakpoint set from the UI is hit and its locals show, a worker thread's error and breakpoint hit
// name their thread.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRequire } from 'node:module';
import { ROOT, REGISTER_ESM, startNode } from './helpers/process.mjs';

const require = createRequire(import.meta.url);
const CHROMIUM = '/usr/bin/chromium';
const APP = join(ROOT, 'scripts', 'demo', 'app.mjs');
const THUMBNAILS = join(ROOT, 'scripts', 'demo', 'thumbnails.mjs');
const ARTIFACTS = join(ROOT, 'test-artifacts');
const BREAKPOINT_LINE = readFileSync(APP, 'utf8').split('\n').findIndex((l) => l.includes('// demo-breakpoint')) + 1;


test('web UI: live exception, locals tree, breakpoint set from the UI and its hit', { timeout: 120_000 }, async (t) => {
  if (!existsSync(CHROMIUM)) return t.skip(`${CHROMIUM} not found: apt-get install -y chromium`);
  const helper = await import('./helpers/backend.mjs');
  const { chromium } = require('playwright-core');

  const backend = await helper.startBackend({ t });
  const app = startNode(['--import', REGISTER_ESM, APP], { env: helper.agentEnv(backend, { PORT: '0', AIVORY_ENVIRONMENT: 'ui-test' }), t });
  const appUrl = (await app.waitForOutput(/listening on (http:\/\/\S+)/))[1];
  const agent = await backend.waitFor('agent', (a) => a.connected === true);

  const profile = mkdtempSync(join(tmpdir(), 'aivory-ui-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
    viewport: { width: 1280, height: 900 },
  });
  t.after(async () => {
    await context.close().catch(() => {});
    rmSync(profile, { recursive: true, force: true });
  });
  const page = context.pages()[0] ?? (await context.newPage());
  const pageErrors = [];
  page.on('pageerror', (err) => pageErrors.push(err.message));
  page.setDefaultTimeout(20_000);
  mkdirSync(ARTIFACTS, { recursive: true });

  await t.test('an exception group appears live and its locals open', async () => {
    await page.goto(`${backend.httpUrl}/#/exceptions`);
    await page.locator('#live[data-state="live"]').waitFor();
    await page.getByText('No exceptions yet').waitFor();
    // thrown after the page is open: the row has to arrive through the event stream
    const res = await fetch(`${appUrl}/orders/validate?sku=coffee&quantity=abc`);
    assert.equal(res.status, 500);
    const row = page.locator('table.groups tbody tr', { hasText: 'ValueError' });
    await row.waitFor();
    assert.match(await row.textContent(), /quantity must be an integer from 1 to 100/);

    await row.getByRole('link').click();
    await page.locator('h1', { hasText: 'ValueError' }).waitFor();
    const frame = page.locator('details.frame.in-app[open]').first();
    assert.match(await frame.locator('summary .fn').textContent(), /parseQuantity/);
    // the source line of the throw, read by the server
    await frame.locator('.src-line.current', { hasText: 'throw new ValueError' }).waitFor();
    // open `limits` and find its known child value
    const limits = frame.locator('li.var', { has: page.locator(':scope > details > summary > .name', { hasText: /^limits$/ }) });
    await limits.locator(':scope > details > summary').click();
    const max = limits.locator('li.var.leaf', { has: page.locator('.name', { hasText: /^max$/ }) });
    assert.equal((await max.locator('.value').textContent()).trim(), '100');
    // the raw input as a string local
    const raw = frame.locator(':scope > .frame-body li.var.leaf', { has: page.locator('.name', { hasText: /^raw$/ }) });
    assert.equal((await raw.locator('.value').textContent()).trim(), 'abc');
    // request context came with it
    await page.locator('section.panel', { hasText: 'Request' }).getByText('/orders/validate', { exact: false }).first().waitFor();
    await page.screenshot({ path: join(ARTIFACTS, 'ui-exception.png'), fullPage: true });
  });

  await t.test('a breakpoint set from the UI is hit and shows its locals', async () => {
    const agents = await backend.get('/api/agents');
    const mine = agents.find((a) => a.agent_id === agent.agent_id);
    assert.equal(mine?.capabilities?.breakpoints, true);

    await page.goto(`${backend.httpUrl}/#/breakpoints`);
    await page.getByLabel('File').fill('scripts/demo/app.mjs');
    await page.getByLabel('Line').fill(String(BREAKPOINT_LINE));
    await page.getByLabel('Agent').selectOption(agent.agent_id);
    await page.getByRole('button', { name: 'Set breakpoint' }).click();
    await page.locator('.form-msg.ok', { hasText: 'Breakpoint set' }).waitFor();
    const item = page.locator('li.bp', { hasText: `scripts/demo/app.mjs:${BREAKPOINT_LINE}` });
    await item.waitFor();

    const [bp] = await backend.get('/api/breakpoints');
    const status = await backend.waitFor('breakpoint_status', (s) => s.breakpoint_id === bp.id && s.status !== 'received', 10_000);
    assert.notEqual(status.status, 'error', `agent reported: ${status.message}`);
    await item.locator('.statuses .badge', { hasText: status.status }).waitFor();

    const res = await fetch(`${appUrl}/checkout?apples=6`);
    assert.equal(res.status, 200);
    await backend.waitFor('breakpoint_hit', (h) => h.breakpoint_id === bp.id, 10_000);

    await item.getByRole('link', { name: /hit/ }).click();
    const hit = page.locator('details.hit[open]').first();
    await hit.waitFor();
    const cart = hit.locator(':scope > .hit-body > ul.vars > li.var', { has: page.locator(':scope > details > summary > .name', { hasText: /^cart$/ }) });
    await cart.locator(':scope > details > summary').click();
    const total = cart.locator('li.var.leaf', { has: page.locator('.name', { hasText: /^total$/ }) });
    assert.equal((await total.locator('.value').textContent()).trim(), '18.8');
    await page.screenshot({ path: join(ARTIFACTS, 'ui-breakpoint-hit.png'), fullPage: true });

    await page.getByRole('link', { name: '← All breakpoints' }).click();
    await page.getByRole('button', { name: `Remove breakpoint scripts/demo/app.mjs:${BREAKPOINT_LINE}` }).click();
    await page.locator('.form-msg.ok', { hasText: 'Removed' }).waitFor();
    assert.equal((await backend.get('/api/breakpoints')).find((b) => b.id === bp.id).removed, true);
  });

  await t.test("a worker thread's error and breakpoint hit show which thread they came from", async () => {
    const res = await fetch(`${appUrl}/images/photo-9/thumbnail?width=5000`);
    assert.equal(res.status, 500);
    await page.goto(`${backend.httpUrl}/#/exceptions`);
    const row = page.locator('table.groups tbody tr', { hasText: 'ImageTooLargeError' });
    await row.waitFor();
    await row.getByRole('link').click();
    await page.locator('h1', { hasText: 'ImageTooLargeError' }).waitFor();
    const thread = page.locator('dl.kv dt', { hasText: /^Thread$/ }).locator('xpath=following-sibling::dd[1]');
    // Node 22 and later tell a thread its name.
    const named = Number(process.versions.node.split('.')[0]) >= 22;
    assert.match((await thread.textContent()).trim(), named ? /^worker thread \d+ \(thumbnails\)$/ : /^worker thread \d+$/);
    await page.screenshot({ path: join(ARTIFACTS, 'ui-thread-exception.png'), fullPage: true });

    // A breakpoint in the thread's code: its hit names the thread too.
    const line = readFileSync(THUMBNAILS, 'utf8').split('\n').findIndex((l) => l.includes('// demo-thread-breakpoint')) + 1;
    const bp = await backend.post('/api/breakpoints', { file_path: 'scripts/demo/thumbnails.mjs', line_number: line });
    // The shop replaced the thread that crashed: installed once the agent armed the new one.
    await backend.waitFor('breakpoint_status', (s) => s.breakpoint_id === bp.id && s.status === 'installed', 15_000);
    assert.equal((await fetch(`${appUrl}/images/photo-3/thumbnail?width=1600`)).status, 200);
    await backend.waitFor('breakpoint_hit', (h) => h.breakpoint_id === bp.id, 10_000);
    await page.goto(`${backend.httpUrl}/#/breakpoints/${encodeURIComponent(bp.id)}`);
    const hitThread = page.locator('details.hit summary .hit-thread');
    await hitThread.waitFor();
    assert.match((await hitThread.textContent()).trim(), named ? /^· worker thread \d+ \(thumbnails\)$/ : /^· worker thread \d+$/);
    await page.screenshot({ path: join(ARTIFACTS, 'ui-thread-breakpoint-hit.png'), fullPage: true });
  });

  assert.deepEqual(pageErrors, []);
});
