/**
 * A full disk under the embedded store (hardening): requests that need a durable write get a
 * prompt 70500 instead of no reply; once the store is known to fail, they are refused before
 * they change anything (nobody sees a login or an account that was not acknowledged); reads
 * answer at once; the failure is logged once with its cause and once when it clears (the store's
 * and the webhook outbox's alike, with the disk's error, not a rollback's); the held writes land
 * afterwards. The data directory is a small tmpfs the test mounts (root only: skipped loudly
 * otherwise, required under CI=true).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { closeSync, mkdirSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ErrorCode } from '@presently/protocol';
import { APP, appConfig, startServer, type AppOverrides, type TestServer } from './helpers/server.js';
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
/** A webhook endpoint that accepts everything: the app's events go through the outbox on the full disk. */
let hook: Server;
const filler = join(mountPoint, 'filler');
before(async () => {
  if (skip) return;
  mkdirSync(join(mountPoint, 'data'));
  hook = createServer((req, res) => req.resume().on('end', () => res.end('{"ActionStatus":"OK","ErrorCode":0}')));
  await new Promise<void>((resolve) => hook.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(hook.address() as AddressInfo).port}/hook`;
  srv = await startServer({
    dataDir: join(mountPoint, 'data'),
    apps: [appConfig({ webhook: { url } } as AppOverrides)],
    server: { webhookAllowNetworks: ['127.0.0.1/32'] },
  });
});
after(async () => {
  if (!skip) {
    await srv?.stop();
    hook.close();
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
    const n = srv
      .output()
      .split('\n')
      .filter((l) => l.includes(text)).length;
    if (n > 0) return n;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** The lines of the server's log that contain `text`. */
function lines(text: string): string[] {
  return srv
    .output()
    .split('\n')
    .filter((l) => l.includes(text));
}

const STATUS_PUSH = 'userStatusUpdated';
/** Whether `peer` was pushed a status of `userID`. */
function pushedAbout(peer: RawPeer, userID: string): boolean {
  return peer.frames.some((f) => f.op === STATUS_PUSH && JSON.stringify(f).includes(`"${userID}"`));
}

test('a full disk: durable requests get 70500 promptly, reads answer, one log line each way, held writes land after', { skip, timeout: 60_000 }, async () => {
  const watcher = await RawPeer.connect(srv.ws);
  assert.equal((await watcher.login(APP, 'df-watcher', srv.sig('df-watcher'))).code, 0);
  for (const UserID of ['df-known', 'df-new']) assert.equal((await rest(srv, 'im_open_login_svc/account_import', { UserID })).ActionStatus, 'OK');
  // The watcher hears of df-new's logins (S15): a login that was not acknowledged must not reach it.
  assert.equal((await watcher.request('subscribeUserStatus', { userIDList: ['df-new'] })).code, 0);
  const leaver = await RawPeer.connect(srv.ws);
  assert.equal((await leaver.login(APP, 'df-leaver', srv.sig('df-leaver'))).code, 0);

  fillDisk();
  // A write that needs the disk: the REST import is refused with 70500 (after the bound), not left hanging.
  const imported = await rest(srv, 'im_open_login_svc/account_import', { UserID: 'df-held' });
  assert.equal(imported.ActionStatus, 'FAIL');
  assert.equal(imported.ErrorCode, ErrorCode.INTERNAL_ERROR);
  assert.match(String(imported.ErrorInfo), /did not confirm the write/);
  // The store now knows it fails: writes are refused at once, before they change anything.
  const refusedImport = await rest(srv, 'im_open_login_svc/account_import', { UserID: 'df-refused' });
  assert.equal(refusedImport.ErrorCode, ErrorCode.INTERNAL_ERROR);
  assert.match(String(refusedImport.ErrorInfo), /cannot commit writes now[^]*nothing was changed/);
  const newcomer = await RawPeer.connect(srv.ws);
  const login = await newcomer.login(APP, 'df-new', srv.sig('df-new'));
  assert.equal(login.code, ErrorCode.INTERNAL_ERROR);
  assert.match(String(login.message), /nothing was changed/);
  assert.equal((await watcher.request('subscribeUserStatus', { userIDList: ['df-known'] })).code, ErrorCode.INTERNAL_ERROR);
  // Nothing of the refused login is visible: the watcher's status of df-new (a reply that comes
  // after any push the login would have made) is still offline, and no push about it came.
  const seen = await watcher.request('getUserStatus', { userIDList: ['df-new'] });
  assert.equal(seen.code, 0);
  assert.doesNotMatch(JSON.stringify(seen.data), /"statusType":1/);
  assert.equal(pushedAbout(watcher, 'df-new'), false);
  const counts = await rest(srv, 'im_open_login_svc/account_check', { CheckItem: [{ UserID: 'df-refused' }] });
  assert.equal((counts.ResultItem as Array<{ AccountStatus: string }>)[0]?.AccountStatus, 'NotImported');
  // A session that ends is never refused (a refused end would be a ghost); its webhook event
  // waits in memory while the outbox cannot be written.
  leaver.close();
  await leaver.closed;
  await logLine('webhook outbox writes fail');
  assert.doesNotMatch(lines('webhook outbox writes fail').join('\n'), /cannot rollback/);
  assert.match(lines('webhook outbox writes fail').join('\n'), /full|SQLITE_FULL|ENOSPC/i);
  // Reads do not wait behind the failing writes.
  const check = await rest(srv, 'im_open_login_svc/account_check', { CheckItem: [{ UserID: 'df-known' }] });
  assert.equal(check.ActionStatus, 'OK');
  assert.equal((await watcher.request('getUserStatus', { userIDList: ['df-known'] })).code, 0);
  // The failure is logged once, with its cause.
  assert.equal(await logLine('store writes fail'), 1);
  assert.match(srv.output(), /store writes fail[^\n]*(full|SQLITE_FULL|ENOSPC)|(full|SQLITE_FULL|ENOSPC)[^\n]*store writes fail/i);

  rmSync(filler);
  assert.equal(await logLine('store writes succeed again'), 1);
  assert.equal(await logLine('webhook outbox writes succeed again'), 1);
  assert.equal(lines('webhook outbox writes fail').length, 1, 'the outbox logs its outage once');
  // The held writes landed (they were retried, not dropped), and the service works again.
  const after = await rest(srv, 'im_open_login_svc/account_check', { CheckItem: [{ UserID: 'df-held' }] });
  assert.equal((after.ResultItem as Array<{ AccountStatus: string }>)[0]?.AccountStatus, 'Imported');
  const again = await RawPeer.connect(srv.ws);
  assert.equal((await again.login(APP, 'df-new', srv.sig('df-new'))).code, 0);
  assert.equal(lines('store writes fail').length, 1, 'logged once for the whole outage');
  assert.doesNotMatch(srv.output(), /cannot rollback/);
  again.close();
  watcher.close();
});
