import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const { resolveConfig } = require('../dist/shared/config.js');

const emptyDir = () => mkdtempSync(join(tmpdir(), 'aivory-cfg-'));

test('defaults apply when nothing is set', () => {
  const { config, warnings } = resolveConfig({}, {}, emptyDir());
  assert.deepEqual(warnings, []);
  assert.equal(config.enabled, false);
  assert.equal(config.backendUrl, 'wss://api.aivory.net/ws/agent');
  assert.equal(config.environment, 'production');
  assert.equal(config.samplingRate, 1);
  assert.equal(config.maxCaptureDepth, 10);
  assert.equal(config.maxStringLength, 1000);
  assert.equal(config.maxCollectionSize, 100);
  assert.equal(config.enableBreakpoints, true);
  assert.equal(config.debug, false);
  assert.ok(Object.isFrozen(config));
});

test('precedence: init options > process env > .env > defaults', () => {
  const dir = emptyDir();
  writeFileSync(join(dir, '.env'), 'AIVORY_ENVIRONMENT=from-dotenv\nAIVORY_MAX_DEPTH=4\nAIVORY_SAMPLING_RATE=0.2\nOTHER=1\n');
  const env = { AIVORY_API_KEY: 'k-env', AIVORY_MAX_DEPTH: '5', AIVORY_SAMPLING_RATE: '0.3' };
  const { config } = resolveConfig({ samplingRate: 0.4 }, env, dir);
  assert.equal(config.environment, 'from-dotenv');
  assert.equal(config.maxCaptureDepth, 5);
  assert.equal(config.samplingRate, 0.4);
  assert.equal(config.apiKey, 'k-env');
  assert.equal(config.enabled, true);
});

test('.env is read without touching process.env, other keys ignored', () => {
  const dir = emptyDir();
  writeFileSync(join(dir, '.env'), 'AIVORY_API_KEY=from-file\nAIVORY_TEST_MARKER_XYZ=1\nNOT_OURS=2\n');
  const { config } = resolveConfig({}, {}, dir);
  assert.equal(config.apiKey, 'from-file');
  assert.equal(process.env.AIVORY_TEST_MARKER_XYZ, undefined);
  assert.equal(process.env.NOT_OURS, undefined);
});

test('booleans accept true/false/1/0/yes/no in any case', () => {
  for (const [text, value] of [['TRUE', true], ['false', false], ['1', true], ['0', false], ['Yes', true], ['NO', false]]) {
    const { config, warnings } = resolveConfig({}, { AIVORY_DEBUG: text, AIVORY_ENABLE_BREAKPOINTS: text }, emptyDir());
    assert.equal(config.debug, value, text);
    assert.equal(config.enableBreakpoints, value, text);
    assert.deepEqual(warnings, []);
  }
});

test('each bad value gives one warning naming it and the value used instead', () => {
  const cases = [
    [{ AIVORY_SAMPLING_RATE: '1.7' }, 'samplingRate', 1, /AIVORY_SAMPLING_RATE="1.7".*using 1$/],
    [{ AIVORY_MAX_DEPTH: 'abc' }, 'maxCaptureDepth', 10, /AIVORY_MAX_DEPTH="abc".*using 10$/],
    [{ AIVORY_MAX_STRING_LENGTH: '-5' }, 'maxStringLength', 1000, /AIVORY_MAX_STRING_LENGTH="-5".*using 1000$/],
    [{ AIVORY_MAX_COLLECTION_SIZE: '2.5' }, 'maxCollectionSize', 100, /AIVORY_MAX_COLLECTION_SIZE="2.5".*using 100$/],
    [{ AIVORY_ENABLE_BREAKPOINTS: 'maybe' }, 'enableBreakpoints', true, /AIVORY_ENABLE_BREAKPOINTS="maybe".*using true$/],
    [{ AIVORY_BACKEND_URL: 'http://example.invalid/ws' }, 'backendUrl', 'wss://api.aivory.net/ws/agent', /AIVORY_BACKEND_URL.*not a ws:\/\/ or wss:\/\/ URL; using wss:\/\/api\.aivory\.net\/ws\/agent$/],
  ];
  for (const [env, key, expected, pattern] of cases) {
    const { config, warnings } = resolveConfig({}, env, emptyDir());
    assert.equal(config[key], expected, key);
    assert.equal(warnings.length, 1, `${key}: ${warnings.join(' | ')}`);
    assert.match(warnings[0], pattern);
  }
});

test('bad init option types warn too and never throw', () => {
  const { config, warnings } = resolveConfig({ samplingRate: 'lots', maxCaptureDepth: {}, debug: 3 }, {}, emptyDir());
  assert.equal(config.samplingRate, 1);
  assert.equal(config.maxCaptureDepth, 10);
  assert.equal(config.debug, false);
  assert.equal(warnings.length, 3);
  assert.doesNotThrow(() => resolveConfig(null, {}, emptyDir()));
  assert.doesNotThrow(() => resolveConfig('nonsense', {}, emptyDir()));
});

test('the API key never appears in a warning', () => {
  const { warnings } = resolveConfig({ apiKey: 12345 }, { AIVORY_BACKEND_URL: 'ftp://secret-host-abc' }, emptyDir());
  assert.ok(warnings.length >= 1);
  for (const w of warnings) assert.doesNotMatch(w, /12345/);
});

test('git context from AIVORY_RELEASE and CI variables', () => {
  const { config } = resolveConfig({}, { AIVORY_RELEASE: 'shop@1.4.2', GITHUB_SHA: 'abcdef1234567890', GITHUB_REF_NAME: 'main' }, emptyDir());
  assert.equal(config.gitContext.version, '1.4.2');
  assert.equal(config.gitContext.project_name, 'shop');
  assert.equal(config.gitContext.commit_hash, 'abcdef1234567890');
  assert.equal(config.gitContext.commit_short, 'abcdef1');
  assert.equal(config.gitContext.branch, 'main');
  assert.equal(config.gitContext.source, 'agent');
  const none = resolveConfig({}, {}, emptyDir()).config;
  assert.equal(none.gitContext, undefined);
  const sha = resolveConfig({ release: '0123456789abcdef0123' }, {}, emptyDir()).config;
  assert.equal(sha.gitContext.commit_hash, '0123456789abcdef0123');
});

test('AIVORY_IGNORE_ERRORS: types, codes and /regular expressions/ (which may hold commas); an unusable one is left out with a warning', () => {
  const env = { AIVORY_IGNORE_ERRORS: ' AbortError, ECONNRESET ,/^Error: quota (a|b), retry/i,, /(/, /x/g' };
  const { config, warnings } = resolveConfig({}, env, emptyDir());
  assert.deepEqual(config.ignoreErrors, ['AbortError', 'ECONNRESET', '/^Error: quota (a|b), retry/i', '/x/g']);
  assert.equal(warnings.length, 1, warnings.join('\n'));
  assert.match(warnings[0], /^AIVORY_IGNORE_ERRORS: "\/\(\/" is not a usable regular expression \(.*\); left out$/);

  const { ignoreMatcher } = require('../dist/shared/ignore-errors.js');
  const ignored = ignoreMatcher(config.ignoreErrors);
  assert.equal(ignored('AbortError', 'This operation was aborted', 'ABORT_ERR'), true, 'by type');
  assert.equal(ignored('Error', 'read ECONNRESET', 'ECONNRESET'), true, 'by code');
  assert.equal(ignored('Error', 'Quota A, retry later', undefined), true, 'by regular expression, with its flags');
  assert.equal(ignored('Error', 'quota c, retry later', undefined), false);
  assert.equal(ignored('TypeError', 'ECONNRESET', undefined), false, 'a name is not looked for in the message');
  // `g` is dropped: the same error matches every time, not every other time.
  assert.deepEqual([1, 2, 3].map(() => ignored('RangeError', 'x', undefined)), [true, true, true]);
  assert.equal(ignoreMatcher([]), undefined);

  const fromInit = resolveConfig({ ignoreErrors: ['AbortError', /timed out/] }, env, emptyDir());
  assert.deepEqual(fromInit.config.ignoreErrors, ['AbortError', '/timed out/']);
  const bad = resolveConfig({ ignoreErrors: 42 }, {}, emptyDir());
  assert.deepEqual(bad.config.ignoreErrors, []);
  assert.match(bad.warnings[0], /^init option ignoreErrors=42 is not a list of error types, codes or \/regular expressions\/; ignoring none$/);
});
