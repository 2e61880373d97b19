/** Notifications (S20-S24), end to end: who hears a change, once, in order; resync after a cut. */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import Presently from '@presently/client';
import { APP, appConfig, startServer, type TestServer } from './helpers/server.js';
import { destroyAll, is, sdk } from './helpers/sdk.js';
import { rest } from './helpers/rest.js';
import { CutProxy } from './helpers/proxy.js';
import { RawPeer } from './helpers/raw.js';

const { USER_STATUS_ONLINE: ONLINE, USER_STATUS_OFFLINE: OFFLINE } = Presently.TYPES;

let srv: TestServer;
let quiet: TestServer; // friend auto-notify off
before(async () => {
  [srv, quiet] = await Promise.all([
    // The order tests make many own-status changes in a row: the per-minute flood bound is off.
    startServer({ apps: [appConfig({ userStatus: { friendAutoNotify: true }, limits: { setSelfStatusPerMinute: 0 } })] }),
    startServer({ apps: [appConfig({ userStatus: { friendAutoNotify: false }, limits: { setSelfStatusPerMinute: 0 } })] }),
  ]);
});
after(async () => {
  await destroyAll();
  await Promise.all([srv.stop(), quiet.stop()]);
});

async function befriend(s: TestServer, from: string, to: string, both = false): Promise<void> {
  for (const id of [from, to]) await rest(s, 'im_open_login_svc/account_import', { UserID: id });
  const r = await rest(s, 'sns/friend_add', { From_Account: from, AddFriendItem: [{ To_Account: to }], AddType: both ? 'Add_Type_Both' : 'Add_Type_Single' });
  assert.equal(r.ActionStatus, 'OK', JSON.stringify(r));
}

test('S20 S21a a change made on the phone reaches the laptop (and the phone itself), as a list', async () => {
  const phone = await sdk(srv, 'n-sync', { platform: 'iPhone' });
  const laptop = await sdk(srv, 'n-sync', { platform: 'Mac' });
  await phone.client.setSelfStatus({ customStatus: 'on my way' });
  const change = { userID: 'n-sync', statusType: ONLINE, customStatus: 'on my way' };
  assert.deepEqual(await laptop.waitFor(is('n-sync', ONLINE, 'on my way')), change);
  assert.deepEqual(await phone.waitFor(is('n-sync', ONLINE, 'on my way')), change);
});

test('S21b S21c subscribers and friends (switch on) hear a change; strangers and one-way "friends of" do not', async () => {
  await befriend(srv, 'n-friend', 'n-star'); // n-friend has n-star in its list
  await befriend(srv, 'n-star', 'n-fan'); // n-star has n-fan: n-fan must NOT hear n-star
  const star = await sdk(srv, 'n-star');
  const friend = await sdk(srv, 'n-friend');
  const sub = await sdk(srv, 'n-sub');
  const fan = await sdk(srv, 'n-fan');
  const stranger = await sdk(srv, 'n-stranger');
  await sub.client.subscribeUserStatus({ userIDList: ['n-star'] });
  await star.client.setSelfStatus({ customStatus: 'live now' });
  await friend.waitFor(is('n-star', ONLINE, 'live now'));
  await sub.waitFor(is('n-star', ONLINE, 'live now'));
  // A marker change from the stranger's own side proves its socket is flowing, then check silence.
  await stranger.client.setSelfStatus({ customStatus: 'marker' });
  await stranger.waitFor(is('n-stranger', ONLINE, 'marker'));
  assert.deepEqual(
    stranger.updates.filter((u) => u.userID === 'n-star'),
    [],
  );
  await fan.client.setSelfStatus({ customStatus: 'marker' });
  await fan.waitFor(is('n-fan', ONLINE, 'marker'));
  assert.deepEqual(
    fan.updates.filter((u) => u.userID === 'n-star'),
    [],
  );
});

test('S21c with friend auto-notify off, a friend without a subscription hears nothing', async () => {
  await befriend(quiet, 'q-friend', 'q-star');
  const star = await sdk(quiet, 'q-star');
  const friend = await sdk(quiet, 'q-friend');
  const sub = await sdk(quiet, 'q-sub');
  await sub.client.subscribeUserStatus({ userIDList: ['q-star'] });
  await star.client.setSelfStatus({ customStatus: 'x' });
  await sub.waitFor(is('q-star', ONLINE, 'x'));
  await friend.client.setSelfStatus({ customStatus: 'marker' });
  await friend.waitFor(is('q-friend', ONLINE, 'marker'));
  assert.deepEqual(
    friend.updates.filter((u) => u.userID === 'q-star'),
    [],
  );
});

test('S22 a receiver that is friend and subscriber, on two devices, gets each change once per session, in order', async () => {
  await befriend(srv, 'n-both', 'n-src');
  const src = await sdk(srv, 'n-src');
  const d1 = await sdk(srv, 'n-both', { platform: 'Android' });
  const d2 = await sdk(srv, 'n-both', { platform: 'Windows' });
  await d1.client.subscribeUserStatus({ userIDList: ['n-src'] });
  const N = 200;
  for (let i = 0; i < N; i++) void src.client.setSelfStatus({ customStatus: `v${i}` });
  await src.client.setSelfStatus({ customStatus: 'end' });
  for (const d of [d1, d2]) {
    await d.waitFor(is('n-src', ONLINE, 'end'));
    const seen = d.updates.filter((u) => u.userID === 'n-src').map((u) => u.customStatus);
    assert.deepEqual(seen, [...Array.from({ length: N }, (_, i) => `v${i}`), 'end']);
  }
});

test('S23 after a network cut the SDK reconnects, re-reads and reports only what differs', async () => {
  await befriend(srv, 'n-away', 'n-f1');
  const proxy = await CutProxy.start(Number(new URL(srv.http).port));
  try {
    const f1 = await sdk(srv, 'n-f1');
    const s1 = await RawPeer.connect(srv.ws);
    assert.equal((await s1.login(APP, 'n-s1', srv.sig('n-s1'))).code, 0);
    await sdk(srv, 'n-same');
    const away = await sdk(srv, 'n-away', { url: proxy.url });
    await away.client.subscribeUserStatus({ userIDList: ['n-s1', 'n-same'] });
    await away.client.getUserStatus({ userIDList: ['n-s1', 'n-same', 'n-f1'] }); // what it last reported
    const disconnected = away.waitNet(Presently.TYPES.NET_STATE_DISCONNECTED);
    proxy.block();
    proxy.cut();
    await disconnected;
    // While it is away: f1 changes its custom status, s1 loses its connection; n-same changes nothing.
    const watcher = await sdk(srv, 'n-watch');
    await watcher.client.subscribeUserStatus({ userIDList: ['n-f1', 'n-s1'] });
    await f1.client.setSelfStatus({ customStatus: 'changed while you were away' });
    s1.ws.terminate();
    await watcher.waitFor(is('n-s1', OFFLINE));
    assert.equal(away.updates.length, 0, 'nothing reached it while the network was down');
    const connected = away.waitNet(Presently.TYPES.NET_STATE_CONNECTED);
    proxy.unblock();
    await connected;
    await away.waitFor(is('n-f1', ONLINE, 'changed while you were away'));
    await away.waitFor(is('n-s1', OFFLINE));
    assert.deepEqual(
      away.updates.filter((u) => u.userID === 'n-same'),
      [],
      'unchanged users are not re-announced',
    );
    assert.ok(away.client.isReady());
  } finally {
    await proxy.close();
  }
});

test('S24 a change event shows no more than getUserStatus would', async () => {
  const src = await sdk(srv, 'n24-src');
  const rcv = await sdk(srv, 'n24-rcv');
  await rcv.client.subscribeUserStatus({ userIDList: ['n24-src'] });
  await src.client.setSelfStatus({ customStatus: 'visible' });
  const event = await rcv.waitFor(is('n24-src', ONLINE, 'visible'));
  const query = (await rcv.client.getUserStatus({ userIDList: ['n24-src'] })).data.successUserList[0];
  assert.deepEqual(Object.keys(event).sort(), ['customStatus', 'statusType', 'userID']);
  assert.deepEqual(event, query);
});
