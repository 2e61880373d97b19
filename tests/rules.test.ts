/**
 * docs/rules.md states every behaviour rule S1-S32 with the code and the tests behind it, and
 * scripts/check-rules.mjs checks it against the repository. These tests run the checker on the
 * real page (it must pass) and on broken copies of it (it must fail and say why).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const ROOT = new URL('..', import.meta.url).pathname;
const CHECKER = join(ROOT, 'scripts/check-rules.mjs');
const RULES = join(ROOT, 'docs/rules.md');

interface Checked {
  code: number | null;
  output: string;
}

/** Runs the checker (on `rulesFile` when given) and returns its exit code and everything it printed. */
function check(rulesFile?: string): Checked {
  const r = spawnSync(process.execPath, rulesFile === undefined ? [CHECKER] : [CHECKER, rulesFile], { cwd: ROOT, encoding: 'utf8' });
  return { code: r.status, output: `${r.stdout}${r.stderr}` };
}

/** A copy of docs/rules.md changed by `edit`, in a temporary directory removed after the test. */
function brokenCopy(t: { after(fn: () => void): void }, edit: (text: string) => string): string {
  const dir = mkdtempSync(join(tmpdir(), 'presently-rules-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const original = readFileSync(RULES, 'utf8');
  const changed = edit(original);
  assert.notEqual(changed, original, 'the edit changed the page');
  const file = join(dir, 'rules.md');
  writeFileSync(file, changed);
  return file;
}

test('docs/rules.md names code and tests for every rule S1-S32, and every reference holds', () => {
  const r = check();
  assert.equal(r.code, 0, r.output);
  assert.match(r.output, /ok: S1\.\.S32 all present/);
});

test('the checker fails, naming the rule, when a rule is missing from the page', (t) => {
  // Drop the whole S17 section: its heading, text, Code and Tests, up to the next heading.
  const file = brokenCopy(t, (text) => text.replace(/^### S17\n[\s\S]*?(?=^#{2,3} )/m, ''));
  const r = check(file);
  assert.equal(r.code, 1, r.output);
  assert.match(r.output, /FAIL S17: rule S17 is missing/);
  assert.doesNotMatch(r.output, /FAIL S(?!17\b)\d+/, 'no other rule is reported');
});

test('the checker fails on a path that does not exist and on a test file that does not cite the rule', (t) => {
  const file = brokenCopy(t, (text) =>
    text
      .replace('- `packages/server/src/engine/engine.ts`: `AppEngine.subscribe` (the own id', '- `packages/server/src/engine/no-such-file.ts`: `AppEngine.subscribe` (the own id')
      .replace('### S24\n', '### S24\n\nTests:\n- `tests/tenancy.test.ts`\n\n'),
  );
  const r = check(file);
  assert.equal(r.code, 1, r.output);
  assert.match(r.output, /FAIL S17: .*`packages\/server\/src\/engine\/no-such-file\.ts` does not exist/);
  assert.match(r.output, /FAIL S24: .*`tests\/tenancy\.test\.ts` does not mention S24/);
});
