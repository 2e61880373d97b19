/**
 * A full disk under the embedded store (hardening): requests that need a durable write get a
 * prompt 70500 instead of no reply; reads answer at once; the failure is logged once with its
 * cause and once when it clears; the held writes land afterwards. The data directory is a small
 * tmpfs the test mounts (root only: skipped loudly otherwise, required under CI=true).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { closeSync, mkdirSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ErrorCode } from '@presently/protocol';
import { APP, startServer, type TestServer } from './helpers/server.js';
import { RawPeer } from './helpers/raw.js';
import { rest } from './helpers/rest.js';

const mountPoint = mkdtempSync(join(tmpdir(), 'presently-diskfull-'));
function mountTmpfs(): string | null {
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=4m', 'tmpfs', mountPoint], { stdio: 'pipe' });
    return null;
  } catch (err) {
    return (err as Error).message.split('\n')[0] ?? 'mount failed';
  }
}
const mountError = mountTmpfs();
if (mountError && process.env.CI === 'true') throw new Error(`the disk-full test needs to mount a tmpfs (as root): ${mountError}`);
if (mountError) console.warn(`*** SKIPPING the disk-full test: cannot mount a tmpfs (${mountError}) ***`);
const skip = mountError ?? false;

let srv: TestServer;
const filler = join(mountPoint, 'filler');
before(async () => {
  if (skip) return;
  mkdirSync(join(mountPoint, 'data'));
  srv = await startServer({ dataDir: join(mountPoint, 'data') });
});
after(async () => {
  if (!skip) {
    await srv?.stop();
    execFileSync('umount', [mountPoint]);
  }
  rmSync(mountPoint, { recursive: true, force: true });
});

/** Fills the file system to the last byte. */
function fillDisk(): void {
  const fd = openSync(filler, 'w');
  const chunk = Buffer.alloc(64 * 1024, 1);
  try {
    for (;;) writeSync(fd, chunk);
  } catch {
    for (let size = 4096; size >= 1; size = Math.floor(size / 2)) {
      try {
        for (;;) writeSync(fd, chunk.subarray(0, size));
      } catch {
        /* smaller pieces next */
      }
    }
  } finally {
    closeSync(fd);
  }
}

/** Resolves when the server's log has a line containing `text` (at most `count` times so far). */
async function logLine(text: string): Promise<number> {
  for (;;) {
    const n = srv.output().split('\n').filter((l) => l.includes(text)).length;
    if (n > 0) return n;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

test('a full disk: durable requests get 70500 promptly, reads answer, one log line each way, held writes land after', { skip, timeout: 60_000 }, async () => {
  const watcher = await RawPeer.connect(srv.ws);
  assert.equal((await watcher.login(APP, 'df-watcher', srv.sig('df-watcher'))).code, 0);
  assert.equal((await rest(srv, 'im_open_login_svc/account_import', { UserID: 'df-known' })).ActionStatus, 'OK');

  fillDisk();
  // A write that needs the disk: the REST import is refused with 70500 (after the bound), not left hanging.
  const imported = await rest(srv, 'im_open_login_svc/account_import', { UserID: 'df-held' });
  assert.equal(imported.ActionStatus, 'FAIL');
  assert.equal(imported.ErrorCode, ErrorCode.INTERNAL_ERROR);
  assert.match(String(imported.ErrorInfo), /did not confirm the write/);
  // So are a new login and a subscription over the socket; the unconfirmed login's socket is closed.
  const newcomer = await RawPeer.connect(srv.ws);
  const login = await newcomer.login(APP, 'df-new', srv.sig('df-new'));
  assert.equal(login.code, ErrorCode.INTERNAL_ERROR);
  await newcomer.closed;
  assert.equal((await watcher.request('subscribeUserStatus', { userIDList: ['df-known'] })).code, ErrorCode.INTERNAL_ERROR);
  // Reads do not wait behind the failing writes.
  const check = await rest(srv, 'im_open_login_svc/account_check', { CheckItem: [{ UserID: 'df-known' }] });
  assert.equal(check.ActionStatus, 'OK');
  assert.equal((await watcher.request('getUserStatus', { userIDList: ['df-known'] })).code, 0);
  // The failure is logged once, with its cause.
  assert.equal(await logLine('store writes fail'), 1);
  assert.match(srv.output(), /store writes fail[^\n]*(full|SQLITE_FULL|ENOSPC)|(full|SQLITE_FULL|ENOSPC)[^\n]*store writes fail/i);

  rmSync(filler);
  assert.equal(await logLine('store writes succeed again'), 1);
  // The held writes landed (they were retried, not dropped), and the service works again.
  const after = await rest(srv, 'im_open_login_svc/account_check', { CheckItem: [{ UserID: 'df-held' }] });
  assert.equal((after.ResultItem as Array<{ AccountStatus: string }>)[0]?.AccountStatus, 'Imported');
  const again = await RawPeer.connect(srv.ws);
  assert.equal((await again.login(APP, 'df-new', srv.sig('df-new'))).code, 0);
  assert.equal(srv.output().split('\n').filter((l) => l.includes('store writes fail')).length, 1, 'logged once for the whole outage');
  again.close();
  watcher.close();
});
