#!/usr/bin/env node
// Runs every test file with Node's own test runner, from TypeScript sources (tsx), resolving
// workspace packages to their sources (the "source" export condition).
// Usage: node scripts/test.mjs [path filter ...]
import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { spawn } from 'node:child_process';

const root = new URL('..', import.meta.url).pathname;
const roots = ['packages', 'tests'];
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
  try { walk(join(root, r)); } catch { /* folder absent */ }
}
const filters = process.argv.slice(2);
const chosen = files.sort().filter((f) => filters.length === 0 || filters.some((x) => f.includes(x)));
if (chosen.length === 0) {
  console.error('no test files matched');
  process.exit(1);
}
const args = ['--conditions=source', '--import', 'tsx', '--test', '--test-concurrency=2', '--test-timeout=240000', ...chosen];
const child = spawn(process.execPath, args, { cwd: root, stdio: 'inherit' });
child.on('exit', (code, signal) => process.exit(signal ? 1 : (code ?? 1)));
