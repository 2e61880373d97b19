/**
 * The data directory at start-up (hardening issue, items 11 and 15), with real server processes:
 * - one server per data directory: a second one on the same directory refuses to start, in one
 *   line naming the directory and the holder, exit code 2; the lock goes with its process, so
 *   after kill -9 the next start works;
 * - a database file the server cannot use stops the start in one line naming the file and the
 *   cause (no stack trace): a file that is not a database, a damaged one, an empty one. An empty
 *   file (0 bytes, or no tables) is refused unless PRESENTLY_ALLOW_EMPTY_DB=1.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, openSync, readFileSync, rmSync, statSync, writeFileSync, writeSync, closeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { APP, appConfig, startServer, type TestServer } from './helpers/server.js';
import { RawPeer } from './helpers/raw.js';
import { rest } from './helpers/rest.js';

const ROOT = new URL('..', import.meta.url).pathname;
const MAIN = join(ROOT, 'packages/server/src/main.ts');

const servers: TestServer[] = [];
const dirs: string[] = [];
after(async () => {
  for (const s of servers) await s.stop();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** A data directory with a config file, as the test helper makes them. */
function dataDir(): { dir: string; config: string; db: string } {
  const dir = mkdtempSync(join(tmpdir(), 'presently-datadir-'));
  dirs.push(dir);
  const config = join(dir, 'config.json');
  writeFileSync(config, JSON.stringify({ apps: [appConfig()], server: { maxLoginFailuresPerMinute: 0 } }));
  return { dir, config, db: join(dir, 'presently.db') };
}

/**
 * Starts a server that is expected to refuse to start: resolves with its exit code and stderr once
 * it has exited. One that starts listening instead is stopped, and the test fails.
 */
function startRefused(dir: string, config: string, env: Record<string, string> = {}): Promise<{ code: number | null; stderr: string }> {
  const proc = spawn(process.execPath, ['--conditions=source', '--import', 'tsx', MAIN, 'start'], {
    cwd: ROOT,
    env: { ...process.env, PORT: '0', HOST: '127.0.0.1', PRESENTLY_DATA_DIR: dir, PRESENTLY_CONFIG: config, LOG_LEVEL: 'info', PRESENTLY_PARENT_PID: String(process.pid), ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  let stdout = '';
  proc.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  proc.stdout.on('data', (d: Buffer) => {
    stdout += d.toString();
    if (/"msg":"listening"/.test(stdout)) proc.kill('SIGKILL');
  });
  return new Promise((resolve, reject) => {
    proc.once('error', reject);
    proc.once('exit', (code) => {
      if (/"msg":"listening"/.test(stdout)) reject(new Error(`the server started on ${dir} instead of refusing:\n${stdout}${stderr}`));
      else resolve({ code, stderr });
    });
  });
}

/** One line on stderr, `presently: <where>: <cause>`, and no stack trace. */
function assertOneLine(stderr: string, where: string, cause: RegExp): void {
  const lines = stderr.trimEnd().split('\n');
  assert.equal(lines.length, 1, `one line on stderr, got:\n${stderr}`);
  assert.ok(lines[0]!.startsWith(`presently: ${where}: `), `names ${where}: ${lines[0]}`);
  assert.match(lines[0]!, cause);
  assert.doesNotMatch(stderr, /^\s+at /m, 'no stack trace');
}

async function login(srv: TestServer, userID: string): Promise<RawPeer> {
  const p = await RawPeer.connect(srv.ws);
  const r = await p.login(APP, userID, srv.sig(userID));
  assert.equal(r.code, 0, JSON.stringify(r));
  return p;
}

test('a second server on the same data directory refuses to start, naming the directory and the holder; kill -9 of the holder frees it', async () => {
  const { dir, config } = dataDir();
  const first = await startServer({ dataDir: dir, configPath: config });
  servers.push(first);
  assert.equal((await rest(first, 'im_open_login_svc/account_import', { UserID: 'kept' })).ActionStatus, 'OK');

  const second = await startRefused(dir, config);
  assert.equal(second.code, 2);
  assertOneLine(second.stderr, dir, new RegExp(`in use by another Presently server \\(pid ${first.proc.pid} on host .+ since .+; lock file ${join(dir, 'presently.db.lock')}\\)`));

  // The first is untouched by the attempt: it still serves and writes.
  const alice = await login(first, 'alice');
  alice.close();

  // Gone without a goodbye: the lock went with the process; the next server starts at once.
  await first.stop({ kill: true, keepData: true });
  const third = await first.restart();
  servers.push(third);
  const q = await rest(third, 'im_open_login_svc/account_check', { CheckItem: [{ UserID: 'kept' }, { UserID: 'alice' }] });
  assert.deepEqual(
    (q.ResultItem as Array<{ UserID: string; AccountStatus: string }>).map((r) => [r.UserID, r.AccountStatus]),
    [
      ['kept', 'Imported'],
      ['alice', 'Imported'],
    ],
    'what the first server acknowledged is there',
  );
  assert.match(readFileSync(join(dir, 'presently.db.lock'), 'utf8'), new RegExp(`^pid ${third.proc.pid} on host `), 'the lock file names its holder');

  // A clean stop lets go too.
  await third.stop({ keepData: true });
  const fourth = await third.restart();
  servers.push(fourth);
});

test('a file that is not a database stops the start in one line naming the file and the cause', async () => {
  const { dir, config, db } = dataDir();
  writeFileSync(db, 'these are not the bytes of a SQLite database, not even close\n'.repeat(100));
  const r = await startRefused(dir, config);
  assert.equal(r.code, 2);
  assertOneLine(r.stderr, db, /file is not a database/);
});

test('a damaged database file (its pages overwritten) stops the start in one line naming the file and the cause', async () => {
  const { dir, config, db } = dataDir();
  const srv = await startServer({ dataDir: dir, configPath: config });
  servers.push(srv);
  for (let n = 0; n < 3; n++) {
    const ids = Array.from({ length: 100 }, (_, i) => ({ UserID: `user-${n}-${i}` }));
    assert.equal((await rest(srv, 'im_open_login_svc/multiaccount_import', { AccountList: ids })).ActionStatus, 'OK');
  }
  await srv.stop({ keepData: true }); // a clean stop: everything is in presently.db itself
  // Every page but the first (the file header and the list of tables) is garbage now.
  const size = statSync(db).size;
  assert.ok(size > 4096 * 3, `the database has several pages (${size} bytes)`);
  const fd = openSync(db, 'r+');
  writeSync(fd, Buffer.alloc(size - 4096, 0xa5), 0, size - 4096, 4096);
  closeSync(fd);
  const r = await startRefused(dir, config);
  assert.equal(r.code, 2);
  assertOneLine(r.stderr, db, /malformed|corrupt|not a database/i);
});

test('an empty database file (0 bytes) is refused unless PRESENTLY_ALLOW_EMPTY_DB=1; then the server starts with an empty database and says so', async () => {
  const { dir, config, db } = dataDir();
  writeFileSync(db, '');
  const r = await startRefused(dir, config);
  assert.equal(r.code, 2);
  assertOneLine(r.stderr, db, /the database file is empty \(0 bytes\): starting on it would lose every account\. .*PRESENTLY_ALLOW_EMPTY_DB=1/);
  assert.equal(statSync(db).size, 0, 'the refused file is left as it was');

  const srv = await startServer({ dataDir: dir, configPath: config, env: { PRESENTLY_ALLOW_EMPTY_DB: '1' } });
  servers.push(srv);
  assert.match(srv.output(), /"level":40,.*the database file is empty \(0 bytes\): starting with an empty database \(PRESENTLY_ALLOW_EMPTY_DB=1\)/);
  const alice = await login(srv, 'alice');
  alice.close();
});

test('an existing database file that holds no tables is refused too', async () => {
  const { dir, config, db } = dataDir();
  const d = new Database(db);
  d.pragma('user_version = 7'); // a valid SQLite file, with no table
  d.close();
  assert.ok(statSync(db).size > 0);
  const r = await startRefused(dir, config);
  assert.equal(r.code, 2);
  assertOneLine(r.stderr, db, /the database file holds no tables: starting on it would lose every account/);
});
