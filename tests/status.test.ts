/** General and custom status (S1-S10), end to end: SDK instances against a real server process. */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import Presently from '@presently/client';
import { ErrorCode } from '@presently/protocol';
import { APP, appConfig, startServer, type TestServer } from './helpers/server.js';
import { destroyAll, is, sdk } from './helpers/sdk.js';
import { RawPeer } from './helpers/raw.js';
import { CutProxy } from './helpers/proxy.js';
import { rest } from './helpers/rest.js';

const { USER_STATUS_ONLINE: ONLINE, USER_STATUS_OFFLINE: OFFLINE, USER_STATUS_UNLOGINED: UNLOGINED } = Presently.TYPES;

let srv: TestServer;
before(async () => {
  srv = await startServer({ apps: [appConfig({ limits: { heartbeatTimeoutSec: 1 } })] });
});
after(async () => {
  await destroyAll();
  await srv.stop();
});

const statusOf = async (asker: Awaited<ReturnType<typeof sdk>>, id: string) => (await asker.client.getUserStatus({ userIDList: [id] })).data.successUserList[0];

test('S1 S4 an imported account that never logged in is UNLOGINED (3)', async () => {
  assert.equal((await rest(srv, 'im_open_login_svc/account_import', { UserID: 's1-never' })).ActionStatus, 'OK');
  const w = await sdk(srv, 's1-asker');
  assert.deepEqual(await statusOf(w, 's1-never'), { userID: 's1-never', statusType: UNLOGINED, customStatus: '' });
});

test('S2 S3 login makes ONLINE; a reset connection makes OFFLINE at once', async () => {
  const watcher = await sdk(srv, 's2-watcher');
  const proxy = await CutProxy.start(Number(new URL(srv.http).port));
  const raw = await RawPeer.connect(proxy.url);
  assert.equal((await raw.login(APP, 's2-user', srv.sig('s2-user'))).code, 0);
  await watcher.client.subscribeUserStatus({ userIDList: ['s2-user'] });
  assert.equal((await statusOf(watcher, 's2-user'))?.statusType, ONLINE);
  proxy.cut(); // network loss: no close frame, the TCP connection is reset
  await watcher.waitFor(is('s2-user', OFFLINE, ''));
  await proxy.close();
});

test('S4 logout makes UNLOGINED, announced to watchers', async () => {
  const watcher = await sdk(srv, 's4-watcher');
  const user = await sdk(srv, 's4-user');
  await watcher.client.subscribeUserStatus({ userIDList: ['s4-user'] });
  await user.client.logout();
  await watcher.waitFor(is('s4-user', UNLOGINED, ''));
  assert.equal((await statusOf(watcher, 's4-user'))?.statusType, UNLOGINED);
});

test('S5 a silent connection is declared dead after the heartbeat timeout (1 s here), then OFFLINE', async () => {
  const watcher = await sdk(srv, 's5-watcher');
  const silent = await RawPeer.connect(srv.ws); // logs in, then never sends a heartbeat
  assert.equal((await silent.login(APP, 's5-silent', srv.sig('s5-silent'))).code, 0);
  await watcher.client.subscribeUserStatus({ userIDList: ['s5-silent'] });
  const t0 = Date.now();
  await watcher.waitFor(is('s5-silent', OFFLINE));
  const elapsed = Date.now() - t0;
  // S5: within the timeout plus max(1 s, 10%).
  assert.ok(elapsed <= 2000 + 500, `declared dead after ${elapsed} ms`);
  assert.equal((await silent.closed).code, 1006);
});

test('S5 an SDK that heartbeats stays ONLINE well past the timeout', async () => {
  const watcher = await sdk(srv, 's5b-watcher');
  const alive = await sdk(srv, 's5b-alive');
  await watcher.client.subscribeUserStatus({ userIDList: ['s5b-alive'] });
  // Three timeouts' worth of time, measured by the server's own sweep (any OFFLINE would show).
  await new Promise((r) => setTimeout(r, 3000));
  assert.equal((await statusOf(watcher, 's5b-alive'))?.statusType, ONLINE);
  assert.deepEqual(
    watcher.updates.filter((u) => u.userID === 's5b-alive'),
    [],
  );
  assert.ok(alive.client.isReady());
});

test('S6 status aggregates all sessions: phone online + laptop logged out = ONLINE', async () => {
  const watcher = await sdk(srv, 's6-watcher');
  await sdk(srv, 's6-user', { platform: 'Android' });
  const laptop = await sdk(srv, 's6-user', { platform: 'Windows' });
  await watcher.client.subscribeUserStatus({ userIDList: ['s6-user'] });
  await laptop.client.logout();
  assert.equal((await statusOf(watcher, 's6-user'))?.statusType, ONLINE);
  assert.deepEqual(watcher.updates, [], 'no change was announced');
});

test('S7 S8 custom status: set, over 100 bytes refused with 72005 and nothing changed, cleared by empty/null', async () => {
  const watcher = await sdk(srv, 's7-watcher');
  const user = await sdk(srv, 's7-user');
  await watcher.client.subscribeUserStatus({ userIDList: ['s7-user'] });
  const set = await user.client.setSelfStatus({ customStatus: 'listening to music' });
  assert.deepEqual(set, { code: 0, data: { userID: 's7-user', statusType: ONLINE, customStatus: 'listening to music' } });
  await watcher.waitFor(is('s7-user', ONLINE, 'listening to music'));
  await assert.rejects(user.client.setSelfStatus({ customStatus: '音'.repeat(34) }), (e: { code: number }) => e.code === ErrorCode.CUSTOM_STATUS_TOO_LONG);
  assert.equal((await statusOf(watcher, 's7-user'))?.customStatus, 'listening to music');
  await user.client.setSelfStatus({ customStatus: '音'.repeat(33) }); // 99 bytes
  for (const cleared of ['', null, undefined]) {
    await user.client.setSelfStatus({ customStatus: 'x' });
    await user.client.setSelfStatus({ customStatus: cleared });
    await watcher.waitFor(is('s7-user', ONLINE, ''));
    assert.equal((await statusOf(watcher, 's7-user'))?.customStatus, '');
  }
});

test('S9 going OFFLINE clears the custom status, announced as one change', async () => {
  const watcher = await sdk(srv, 's9-watcher');
  const raw = await RawPeer.connect(srv.ws);
  assert.equal((await raw.login(APP, 's9-user', srv.sig('s9-user'))).code, 0);
  await watcher.client.subscribeUserStatus({ userIDList: ['s9-user'] });
  assert.equal((await raw.request('setSelfStatus', { customStatus: 'in a meeting' })).code, 0);
  await watcher.waitFor(is('s9-user', ONLINE, 'in a meeting'));
  raw.ws.terminate();
  await watcher.waitFor(is('s9-user', OFFLINE, ''));
  const mine = watcher.updates.filter((u) => u.userID === 's9-user');
  assert.deepEqual(mine.at(-1), { userID: 's9-user', statusType: OFFLINE, customStatus: '' });
  assert.equal(mine.length, 2, 'the clearing is part of the OFFLINE change, not a separate one');
});

test('S10 S12 own status needs no premium edition, no switch and has no rate limit', async () => {
  const basic = await startServer({
    apps: [appConfig({ edition: 'basic', userStatus: { queryAndNotify: false }, limits: { rateLimitCalls: 1 } })],
  });
  try {
    const me = await sdk(basic, 's10-me');
    for (let i = 0; i < 30; i++) {
      await me.client.setSelfStatus({ customStatus: `n${i}` });
      const r = await me.client.getUserStatus({ userIDList: ['s10-me'] });
      assert.equal(r.data.successUserList[0]?.customStatus, `n${i}`);
    }
    await assert.rejects(me.client.getUserStatus({ userIDList: ['someone'] }), (e: { code: number }) => e.code === ErrorCode.FEATURE_NOT_ENABLED);
  } finally {
    await destroyAll();
    await basic.stop();
  }
});
