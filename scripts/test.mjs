#!/usr/bin/env node
// Runs test files with Node's own test runner, from TypeScript sources (tsx), resolving workspace
// packages to their sources (the "source" export condition).
// Usage: node scripts/test.mjs [--unit | --e2e] [path filter ...]
//   --unit  the packages' own tests that need no service and no child process (seconds)
//   --e2e   everything else: tests/ (real server processes) and the packages' tests that talk to
//           PostgreSQL, Redis or HTTP receivers
//   (none)  all of them (npm test)
import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { spawn } from 'node:child_process';

const root = new URL('..', import.meta.url).pathname;
const roots = ['packages', 'tests', 'checker'];
/** Package test files that need PostgreSQL, Redis, a server process or real HTTP receivers. */
const NEEDS_SERVICES = [
  'packages/server/src/cluster/driver.contract.test.ts',
  'packages/server/src/rest/settings.test.ts',
  'packages/server/src/store/migrations.test.ts',
  'packages/server/src/store/store-retry.test.ts',
  'packages/server/src/store/store.contract.test.ts',
  'packages/server/src/webhooks/egress.test.ts',
  'packages/server/src/webhooks/webhooks-cluster.test.ts',
  'packages/server/src/webhooks/webhooks.test.ts',
];
const files = [];
function walk(dir) {
  for (const name of readdirSync(dir)) {
    if (name === 'node_modules' || name === 'dist' || name.startsWith('.')) continue;
    const p = join(dir, name);
    if (statSync(p).isDirectory()) walk(p);
    else if (/\.test\.ts$/.test(name)) files.push(relative(root, p));
  }
}
for (const r of roots) {
  try {
    walk(join(root, r));
  } catch {
    /* folder absent */
  }
}
const args = process.argv.slice(2);
const mode = args.includes('--unit') ? 'unit' : args.includes('--e2e') ? 'e2e' : 'all';
const filters = args.filter((a) => !a.startsWith('--'));
const isUnit = (f) => (f.startsWith('packages/') && !NEEDS_SERVICES.includes(f)) || f.startsWith('checker/');
const chosen = files
  .sort()
  .filter((f) => mode === 'all' || (mode === 'unit') === isUnit(f))
  .filter((f) => filters.length === 0 || filters.some((x) => f.includes(x)));
if (chosen.length === 0) {
  console.error('no test files matched');
  process.exit(1);
}
// A file's tests carry their own limits where they need them; 240 s per file keeps a loaded
// machine from cancelling a passing file (cluster files run close to a minute alone).
const runner = ['--conditions=source', '--import', 'tsx', '--test', '--test-concurrency=2', '--test-timeout=240000', ...chosen];
const child = spawn(process.execPath, runner, { cwd: root, stdio: 'inherit' });
child.on('exit', (code, signal) => process.exit(signal ? 1 : (code ?? 1)));
