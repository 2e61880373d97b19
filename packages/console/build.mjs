#!/usr/bin/env node
/**
 * Builds the console and the demo page into dist/ (what the server serves at /console/ and
 * /demo/): esbuild bundles src/console/main.ts and src/demo/main.ts with @presently/client and
 * @presently/protocol from their TypeScript sources, and the HTML and CSS of static/ are copied.
 * Runs from the root `prepare` script (so `npm install` / `npm ci` build it) and from
 * `npm run build`. Each new file replaces its old one in one rename.
 */
import { build } from 'esbuild';
import { copyFileSync, existsSync, mkdirSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const out = join(here, 'dist');
const tmp = join(here, `.dist-${process.pid}`);
const started = Date.now();

/** Files under `dir`, as paths relative to it. */
function listFiles(dir, prefix = '') {
  if (!existsSync(dir)) return [];
  return readdirSync(join(dir, prefix), { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? listFiles(dir, join(prefix, e.name)) : [join(prefix, e.name)]));
}

rmSync(tmp, { recursive: true, force: true });
try {
  await build({
    absWorkingDir: here,
    entryPoints: { 'console/console': 'src/console/main.ts', 'demo/demo': 'src/demo/main.ts' },
    outdir: tmp,
    bundle: true,
    format: 'esm',
    platform: 'browser',
    // Browsers of the last few years; the SDK needs nothing newer than ES2020 plus WebSocket.
    target: ['es2020', 'chrome90', 'firefox90', 'safari15'],
    // Workspace packages from their sources: no `tsc -b` needed before this build.
    conditions: ['source'],
    minify: true,
    sourcemap: 'linked',
    legalComments: 'none',
    logLevel: 'warning',
  });
  for (const [from, to] of [
    ['static/console.html', 'console/index.html'],
    ['static/demo.html', 'demo/index.html'],
    ['static/style.css', 'console/style.css'],
    ['static/style.css', 'demo/style.css'],
  ]) {
    mkdirSync(dirname(join(tmp, to)), { recursive: true });
    copyFileSync(join(here, from), join(tmp, to));
  }
  // Move each new file over the old one (a rename is atomic): a server serving dist/ while it
  // is rebuilt (a test, `npm run build` next to `npm start`) never sees it missing or half written.
  const fresh = new Set();
  for (const rel of listFiles(tmp)) {
    fresh.add(rel);
    mkdirSync(dirname(join(out, rel)), { recursive: true });
    renameSync(join(tmp, rel), join(out, rel));
  }
  for (const rel of listFiles(out)) if (!fresh.has(rel)) rmSync(join(out, rel), { force: true });
} finally {
  rmSync(tmp, { recursive: true, force: true });
}
console.log(`@presently/console: built dist/ (console, demo) in ${Date.now() - started} ms`);
