'use strict';
const { join, resolve } = require('node:path');
const { pathToFileURL } = require('node:url');

const ROOT = join(__dirname, '..', '..');
const BENCH = join(ROOT, 'bench');
const APPS = join(BENCH, 'apps');
const RESULTS = join(BENCH, 'results');
const REGISTER_ESM = join(ROOT, 'register.mjs');
const REGISTER_CJS = join(ROOT, 'register.js');
const CLI = join(ROOT, 'bin', 'aivory-monitor.js');
const DEV_API_KEY = 'ilscipio-dev-2024';

/** The parent's environment without anything that would change how node or the agent behave. */
function baseEnv(extra = {}) {
  const env = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (k.startsWith('AIVORY_') || k === 'NODE_OPTIONS' || k.startsWith('NODE_TEST') || k.startsWith('npm_')) continue;
    env[k] = v;
  }
  return { ...env, NODE_ENV: 'production', ...extra };
}

let customPreload = null;

/** Benchmarks another preload module (a path) instead of this package's register entries. */
function usePreload(file) {
  customPreload = file ? resolve(file) : null;
}

function customPreloadInUse() {
  return customPreload;
}

/** node arguments that preload the agent, as a user would with `--import aivory-monitor/register`. */
function preloadArgs(kind = 'import') {
  if (customPreload) return ['--import', pathToFileURL(customPreload).href];
  return kind === 'require' ? ['--require', REGISTER_CJS] : ['--import', pathToFileURL(REGISTER_ESM).href];
}

/** Environment of an app run with the agent. */
function agentEnv(backendUrl, extra = {}) {
  return baseEnv({ AIVORY_API_KEY: DEV_API_KEY, AIVORY_BACKEND_URL: backendUrl, ...extra });
}

module.exports = { ROOT, BENCH, APPS, RESULTS, REGISTER_ESM, REGISTER_CJS, CLI, DEV_API_KEY, baseEnv, preloadArgs, agentEnv, usePreload, customPreloadInUse };
