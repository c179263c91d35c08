'use strict';
// Runs after tsc: replaces the entry files that Node loads at start-up with bundles of
// everything they require, so that starting the agent reads and compiles a few files instead of
// about eighty (each file costs the app's start-up about half a millisecond). The other compiled
// files stay in dist/ as they are. Third-party code in the bundles is listed with its licence in
// dist/THIRD-PARTY-LICENSES.txt.
const { readFileSync, writeFileSync, readdirSync } = require('node:fs');
const { join, relative } = require('node:path');
const esbuild = require('esbuild');

const ROOT = join(__dirname, '..', '..');
const DIST = join(ROOT, 'dist');

const ENTRIES = [
  // The API and the preload's first step; './main/start' (and in threads './main/thread' and
  // the thread's hooks) stay separate files so that the preload and `require('aivory-monitor')`
  // share one copy of the running agent.
  { file: 'index.js', keep: ['./main/start', './main/thread', './main/threads/thread-hooks'] },
  // Everything an enabled agent runs on the app's thread.
  { file: 'main/start.js', keep: [] },
  // The preload's own file, and what it runs in each of the app's worker threads: one file each,
  // as every file read costs a new thread about half a millisecond.
  // (Their debug lines' config and logger load only when AIVORY_DEBUG is set.)
  { file: 'register.js', keep: ['./index', './main/threads/thread-hooks', './shared/config', './shared/log'] },
  { file: 'main/threads/thread-hooks.js', keep: ['../../index', '../thread', '../../shared/config', '../../shared/log'] },
  // What a worker thread runs once it reports.
  { file: 'main/thread.js', keep: [] },
  // The worker thread.
  { file: 'worker/index.js', keep: [] },
];

/** ws's optional native helpers: absent unless the app installs them, required in a try/catch. */
const OPTIONAL = ['bufferutil', 'utf-8-validate'];

function keepPlugin(keep) {
  return {
    name: 'keep-separate',
    setup(build) {
      build.onResolve({ filter: /.*/ }, (args) => {
        if (args.kind === 'entry-point') return undefined;
        if (keep.includes(args.path) && args.importer === build.initialOptions.entryPoints[0]) return { path: args.path, external: true };
        if (OPTIONAL.includes(args.path)) return { path: args.path, external: true };
        if (args.path === 'debug') return { path: join(__dirname, 'debug.js') };
        return undefined;
      });
    },
  };
}

async function bundle() {
  const outputs = [];
  const packages = new Set();
  for (const { file, keep } of ENTRIES) {
    const entry = join(DIST, file);
    const result = await esbuild.build({
      entryPoints: [entry],
      bundle: true,
      platform: 'node',
      format: 'cjs',
      target: 'node20',
      write: false,
      outfile: entry,
      metafile: true,
      legalComments: 'none',
      logLevel: 'warning',
      plugins: [keepPlugin(keep)],
    });
    outputs.push({ path: entry, text: result.outputFiles[0].text });
    for (const input of Object.keys(result.metafile.inputs)) {
      const m = /node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(input);
      if (m) packages.add(m[1]);
    }
  }
  // Written only once every bundle is built, so each one is made from tsc's output.
  for (const { path, text } of outputs) writeFileSync(path, text);
  writeFileSync(join(DIST, 'THIRD-PARTY-LICENSES.txt'), licences([...packages].sort()));
  console.log(`bundled ${outputs.map((o) => relative(ROOT, o.path)).join(', ')} (${packages.size} packages included)`);
}

function licences(packages) {
  const parts = [];
  for (const name of packages) {
    const dir = join(ROOT, 'node_modules', name);
    const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
    const file = readdirSync(dir).find((f) => /^licen[cs]e/i.test(f));
    const text = file ? readFileSync(join(dir, file), 'utf8').trim() : `License: ${pkg.license}`;
    parts.push(`${name}@${pkg.version} (${pkg.license})\n\n${text}\n`);
  }
  return `Third-party code bundled into this package's dist/ files:\n\n${parts.join('\n' + '-'.repeat(72) + '\n\n')}`;
}

bundle().catch((err) => {
  console.error(`bundle: ${err.message}`);
  process.exitCode = 1;
});
