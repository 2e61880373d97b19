/**
 * The config file as an operator meets it: `npm start` with a misspelt key, a number out of its
 * range, a weak secret key or a bad environment variable stops at once with one line naming the
 * field (and the nearest valid name), exit code 2, no stack trace, and never listens.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { APP, KEY } from './helpers/server.js';
import { cleanEnv, sh } from './helpers/cli.js';

const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** `npm start` (as the README shows it) with `config` as PRESENTLY_CONFIG. */
async function start(config: unknown, env: Record<string, string> = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'presently-config-'));
  dirs.push(dir);
  const path = join(dir, 'config.json');
  writeFileSync(path, JSON.stringify(config));
  return sh('npm start', cleanEnv({ PORT: '0', PRESENTLY_DATA_DIR: dir, PRESENTLY_CONFIG: path, ...env }), 60_000);
}

/** The process's own lines (npm adds its "npm error" lines around a failed script). */
function presentlyLines(stderr: string): string[] {
  return stderr.split('\n').filter((l) => l.startsWith('presently:'));
}

function assertOneLine(r: { code: number | null; stdout: string; stderr: string }, line: string): void {
  assert.equal(r.code, 2, r.stderr);
  assert.deepEqual(presentlyLines(r.stderr), [line], r.stderr);
  assert.doesNotMatch(r.stdout + r.stderr, /^\s+at /m, 'no stack trace');
  assert.doesNotMatch(r.stdout + r.stderr, /ConfigError|TypeBox|Presently is running/);
}

test('npm start: a misspelt key in the config file stops the start with one line naming it and the nearest valid name', async () => {
  const r = await start({ apps: [{ SDKAppID: APP, secretKey: KEY, admns: ['ops'] }] });
  assertOneLine(r, 'presently: apps[0].admns: unknown key; did you mean admins?');
});

test('npm start: a number out of range, a weak secret key, a bad environment variable: one line each', async () => {
  const [range, weak, env] = await Promise.all([
    start({ apps: [{ SDKAppID: APP, secretKey: KEY, limits: { heartbeatTimeoutSec: 1e306 } }] }),
    start({ apps: [{ SDKAppID: APP, secretKey: ' '.repeat(8) }] }),
    start({ apps: [{ SDKAppID: APP, secretKey: KEY }] }, { PRESENTLY_LEASE_MS: '99999999999' }),
  ]);
  assertOneLine(range, 'presently: apps[0].limits.heartbeatTimeoutSec: must be a number from 0.5 to 86400');
  assertOneLine(
    weak,
    'presently: apps[0].secretKey: must be 16 to 1024 characters with at least 8 different characters other than whitespace and no control characters (make one with: openssl rand -hex 16)',
  );
  assertOneLine(env, 'presently: PRESENTLY_LEASE_MS: must be an integer from 500 to 600000, got "99999999999"');
});
