/**
 * The cluster (REDIS_URL + DATABASE_URL): real server processes sharing the machine's PostgreSQL
 * and Redis. Users log in on one node and are watched from another: every rule that involves two
 * users holds across nodes, and a node's death or departure is seen by the others.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import Presently from '@presently/client';
import { ErrorCode } from '@presently/protocol';
import { APP, appConfig } from './helpers/server.js';
import { RawPeer } from './helpers/raw.js';
import { destroyAll, is, sdk } from './helpers/sdk.js';
import { rest } from './helpers/rest.js';
import { clusterSkip, startCluster, type TestCluster } from './helpers/cluster.js';

const { USER_STATUS_ONLINE: ONLINE, USER_STATUS_OFFLINE: OFFLINE, USER_STATUS_UNLOGINED: UNLOGINED } = Presently.TYPES;

const skip = await clusterSkip('the cluster tests');
/** tests/cluster-v2.test.ts runs this file again on cluster v2 (docs/cluster.md, "Cluster v2"). */
const V2 = process.env.PRESENTLY_CLUSTER === 'v2';
const EXPIRY_APP = APP + 1;
let c: TestCluster;

before(async () => {
  if (skip) return;
  c = await startCluster({
    nodes: 2,
    env: { PRESENTLY_CLUSTER: V2 ? 'v2' : 'replicated' },
    apps: [
      appConfig({ limits: { maxSubscriptions: 3, rateLimitCalls: 4, rateLimitWindowSec: 30 } }),
      // S19 expiry after 1.8 s offline, run by the leader's ticks.
      appConfig({ SDKAppID: EXPIRY_APP, limits: { subscriptionExpiryHours: 0.0005 } }),
    ],
  });
});
after(async () => {
  await destroyAll();
  await c?.stop();
});

test('S20 S21 S22 a change on node A reaches a subscriber on node B once, in order', { skip }, async () => {
  const [a, b] = c.nodes as [NonNullable<(typeof c.nodes)[0]>, NonNullable<(typeof c.nodes)[0]>];
  const watcher = await sdk(b, 'x-watcher');
  const alice = await sdk(a, 'x-alice');
  const sub = await watcher.client.subscribeUserStatus({ userIDList: ['x-alice'] });
  assert.deepEqual(sub.data.failureUserList, []);
  for (let i = 0; i < 20; i++) await alice.client.setSelfStatus({ customStatus: `s${i}` });
  await watcher.waitFor(is('x-alice', ONLINE, 's19'));
  const seen = watcher.updates.filter((u) => u.userID === 'x-alice').map((u) => u.customStatus);
  assert.deepEqual(
    seen,
    Array.from({ length: 20 }, (_, i) => `s${i}`),
    'every change once, in order',
  );
  // The status a query on node B answers is node A's truth.
  const q = await watcher.client.getUserStatus({ userIDList: ['x-alice'] });
  assert.deepEqual(q.data.successUserList, [{ userID: 'x-alice', statusType: ONLINE, customStatus: 's19' }]);
});

test('S2 S3 S4 S6 status aggregates sessions on both nodes; disconnect and logout are seen across', { skip }, async () => {
  const [a, b] = c.nodes as [NonNullable<(typeof c.nodes)[0]>, NonNullable<(typeof c.nodes)[0]>];
  assert.equal((await rest(b, 'im_open_login_svc/account_import', { UserID: 'y-bob' })).ActionStatus, 'OK');
  const watcher = await sdk(a, 'y-watcher');
  assert.deepEqual((await watcher.client.subscribeUserStatus({ userIDList: ['y-bob'] })).data.failureUserList, []);
  const raw = async (srv: typeof a, platform: string) => {
    const p = await RawPeer.connect(srv.ws);
    assert.equal((await p.login(APP, 'y-bob', srv.sig('y-bob'), platform)).code, 0);
    return p;
  };
  const web = await raw(a, 'Web');
  await watcher.waitFor(is('y-bob', ONLINE));
  const phone = await raw(b, 'iPhone');
  // Two sessions on two nodes: the one on A going away keeps bob ONLINE (no change announced).
  web.close();
  await web.closed;
  const q = await watcher.client.getUserStatus({ userIDList: ['y-bob'] });
  assert.equal(q.data.successUserList[0]?.statusType, ONLINE);
  // The last one's disconnect makes him OFFLINE (still logged in: S3)...
  phone.close();
  await watcher.waitFor(is('y-bob', OFFLINE));
  // ...and logging out of both devices, UNLOGINED (S4).
  const web2 = await raw(b, 'Web');
  await watcher.waitFor(is('y-bob', ONLINE));
  const phone2 = await raw(a, 'iPhone');
  assert.equal((await web2.request('logout')).code, 0);
  assert.equal((await phone2.request('logout')).code, 0);
  await watcher.waitFor(is('y-bob', UNLOGINED));
  assert.deepEqual(
    watcher.updates.filter((u) => u.userID === 'y-bob').map((u) => u.statusType),
    [ONLINE, OFFLINE, ONLINE, UNLOGINED],
    'no change announced while another node still held a session',
  );
});

test('S21 S27 S28 friends added through node B hear node A; a REST kick on B kicks the session on A', { skip }, async () => {
  const [a, b] = c.nodes as [NonNullable<(typeof c.nodes)[0]>, NonNullable<(typeof c.nodes)[0]>];
  assert.equal((await rest(b, 'im_open_login_svc/multiaccount_import', { AccountList: [{ UserID: 'z-carol' }, { UserID: 'z-dave' }] })).ActionStatus, 'OK');
  const added = await rest(b, 'sns/friend_add', { From_Account: 'z-carol', AddFriendItem: [{ To_Account: 'z-dave' }], AddType: 'Add_Type_Both' });
  assert.equal(added.ActionStatus, 'OK');
  const dave = await sdk(b, 'z-dave');
  const carol = await sdk(a, 'z-carol');
  await dave.waitFor(is('z-carol', ONLINE));
  await carol.client.setSelfStatus({ customStatus: 'on a node' });
  await dave.waitFor(is('z-carol', ONLINE, 'on a node'));
  const kicked = await rest(b, 'im_open_login_svc/kick', { UserID: 'z-carol' });
  assert.equal(kicked.ActionStatus, 'OK');
  assert.equal(await carol.waitKick(), Presently.TYPES.KICKED_OUT_REST_API);
  await dave.waitFor(is('z-carol', UNLOGINED));
  // The kick invalidated carol's older tickets on every node (S28).
  const old = c.nodes[1]!.sig('z-carol', { nowSec: Math.floor(Date.now() / 1000) - 5 });
  await assert.rejects(sdk(b, 'z-carol', { sig: old }), (e: { code: number }) => e.code === ErrorCode.USERSIG_INVALIDATED);
});

test('S26 one device per platform: a login on node B pushes out the same platform on node A', { skip }, async () => {
  const [a, b] = c.nodes as [NonNullable<(typeof c.nodes)[0]>, NonNullable<(typeof c.nodes)[0]>];
  const first = await sdk(a, 'k-erin', { platform: 'Android' });
  await sdk(b, 'k-erin', { platform: 'Android' });
  assert.equal(await first.waitKick(), Presently.TYPES.KICKED_OUT_MULT_DEVICE);
});

test('S14 S16 rate windows and the subscription FIFO are one for the whole cluster', { skip }, async () => {
  const [a, b] = c.nodes as [NonNullable<(typeof c.nodes)[0]>, NonNullable<(typeof c.nodes)[0]>];
  assert.equal((await rest(a, 'im_open_login_svc/multiaccount_import', { AccountList: ['f1', 'f2', 'f3', 'f4'].map((UserID) => ({ UserID })) })).ActionStatus, 'OK');
  const onA = await sdk(a, 'r-frank', { platform: 'Web' });
  const onB = await sdk(b, 'r-frank', { platform: 'iPhone' });
  // maxSubscriptions 3: subscriptions made on two nodes share one FIFO; the fourth evicts the first.
  await onA.client.subscribeUserStatus({ userIDList: ['f1'] });
  await onB.client.subscribeUserStatus({ userIDList: ['f2'] });
  await onA.client.subscribeUserStatus({ userIDList: ['f3'] });
  await onB.client.subscribeUserStatus({ userIDList: ['f4'] });
  const f1 = await sdk(b, 'f1');
  const f4 = await sdk(a, 'f4');
  await onA.waitFor(is('f4', ONLINE));
  await f1.client.setSelfStatus({ customStatus: 'evicted?' });
  await f4.client.setSelfStatus({ customStatus: 'kept' });
  await onA.waitFor(is('f4', ONLINE, 'kept'));
  await onB.waitFor(is('f4', ONLINE, 'kept'));
  assert.equal(
    onA.updates.some((u) => u.userID === 'f1'),
    false,
    'f1 was evicted, on both nodes',
  );
  assert.equal(
    onB.updates.some((u) => u.userID === 'f1'),
    false,
  );
  // rateLimitCalls 4 per 30 s: queries from both nodes count in one window. Subscribes used 4
  // calls of their own window; queries have theirs: two from A, two from B, the fifth refused.
  for (const w of [onA, onB, onA, onB]) assert.equal((await w.client.getUserStatus({ userIDList: ['f1'] })).code, 0);
  await assert.rejects(onA.client.getUserStatus({ userIDList: ['f1'] }), (e: { code: number }) => e.code === ErrorCode.TOO_MANY_CALLS);
});

test('S9 S19 S23 a custom status cleared by going OFFLINE; unsubscribe on one node stops pushes from the other; syncStatus on another node', { skip }, async () => {
  const [a, b] = c.nodes as [NonNullable<(typeof c.nodes)[0]>, NonNullable<(typeof c.nodes)[0]>];
  assert.equal((await rest(a, 'im_open_login_svc/multiaccount_import', { AccountList: [{ UserID: 'u-gina' }] })).ActionStatus, 'OK');
  const watcher = await RawPeer.connect(b.ws);
  assert.equal((await watcher.login(APP, 'u-hal', b.sig('u-hal'))).code, 0);
  assert.equal((await watcher.request('subscribeUserStatus', { userIDList: ['u-gina'] })).code, 0);
  const gina = await RawPeer.connect(a.ws);
  assert.equal((await gina.login(APP, 'u-gina', a.sig('u-gina'))).code, 0);
  assert.equal((await gina.request('setSelfStatus', { customStatus: 'busy' })).code, 0);
  gina.close();
  // S9: going OFFLINE clears the custom status, announced on the other node.
  const pushes = async (pred: (x: { userID: string; statusType: number; customStatus: string }) => boolean) =>
    watcher.next((f) => f.op === 'userStatusUpdated' && (f.data as Array<{ userID: string; statusType: number; customStatus: string }>).some(pred));
  await pushes((x) => x.userID === 'u-gina' && x.statusType === OFFLINE && x.customStatus === '');
  // S23: the watcher reconnects to the other node: syncStatus there has gina as she is now.
  watcher.close();
  await watcher.closed;
  const gina2 = await RawPeer.connect(a.ws);
  assert.equal((await gina2.login(APP, 'u-gina', a.sig('u-gina'))).code, 0);
  assert.equal((await gina2.request('setSelfStatus', { customStatus: 'back' })).code, 0);
  const w2 = await RawPeer.connect(a.ws);
  assert.equal((await w2.login(APP, 'u-hal', a.sig('u-hal'))).code, 0);
  const sync = await w2.request('syncStatus');
  const list = (sync.data as { userList: Array<{ userID: string; statusType: number; customStatus: string }> }).userList;
  assert.deepEqual(
    list.find((x) => x.userID === 'u-gina'),
    { userID: 'u-gina', statusType: ONLINE, customStatus: 'back' },
    'the subscription made on node B is known on node A',
  );
  // S19: unsubscribing on node A stops the pushes of a change made on node B.
  assert.equal((await w2.request('unsubscribeUserStatus', { userIDList: ['u-gina'] })).code, 0);
  const ginaOnB = await RawPeer.connect(b.ws);
  assert.equal((await ginaOnB.login(APP, 'u-gina', b.sig('u-gina'), 'iPhone')).code, 0);
  assert.equal((await ginaOnB.request('setSelfStatus', { customStatus: 'unheard' })).code, 0);
  // A request of the watcher's comes after that change in the log: a push would precede its reply.
  assert.equal((await w2.request('getUserStatus', { userIDList: ['u-hal'] })).code, 0);
  const heardGina = w2.frames.some((f) => f.op === 'userStatusUpdated' && (f.data as Array<{ userID: string }>).some((x) => x.userID === 'u-gina'));
  assert.equal(heardGina, false, 'no push after unsubscribing');
  ginaOnB.close();
  gina2.close();
  w2.close();
});

test("S19 subscriptions of a user offline past the expiry are dropped on every node (the leader's ticks)", { skip }, async () => {
  const [a, b] = c.nodes as [NonNullable<(typeof c.nodes)[0]>, NonNullable<(typeof c.nodes)[0]>];
  const sig = (srv: typeof a, u: string) => srv.sig(u, { SDKAppID: EXPIRY_APP });
  const target = await RawPeer.connect(a.ws);
  assert.equal((await target.login(EXPIRY_APP, 'e-target', sig(a, 'e-target'))).code, 0);
  const subber = await RawPeer.connect(b.ws);
  assert.equal((await subber.login(EXPIRY_APP, 'e-subber', sig(b, 'e-subber'))).code, 0);
  assert.equal((await subber.request('subscribeUserStatus', { userIDList: ['e-target'] })).code, 0);
  subber.close();
  await subber.closed;
  // Offline past 1.8 s, the subscription goes: both nodes' listings show it once a tick ran.
  const subsOn = async (srv: typeof a): Promise<number> => {
    const r = await rest(srv, 'presently/list_users', { Prefix: 'e-subber' }, { sdkappid: String(EXPIRY_APP), usersig: srv.sig('administrator', { SDKAppID: EXPIRY_APP }) });
    return (r.Users as Array<{ userID: string; subscriptions: number }>).find((u) => u.userID === 'e-subber')?.subscriptions ?? -1;
  };
  assert.equal(await subsOn(a), 1);
  const end = Date.now() + 15_000;
  // Polled: the listing is each node's own reading, and nothing is pushed to tell of an expiry.
  while ((await subsOn(a)) !== 0 || (await subsOn(b)) !== 0) {
    assert.ok(Date.now() < end, 'the subscription expired on both nodes');
    await new Promise((r) => setTimeout(r, 250));
  }
  target.close();
});

test('S13 S18 a switch turned off through node B refuses queries on node A with 72001', { skip }, async () => {
  const [a, b] = c.nodes as [NonNullable<(typeof c.nodes)[0]>, NonNullable<(typeof c.nodes)[0]>];
  const onA = await sdk(a, 'sw-ivy', { SDKAppID: EXPIRY_APP, sig: a.sig('sw-ivy', { SDKAppID: EXPIRY_APP }) });
  await sdk(a, 'sw-jay', { SDKAppID: EXPIRY_APP, sig: a.sig('sw-jay', { SDKAppID: EXPIRY_APP }) });
  assert.equal((await onA.client.getUserStatus({ userIDList: ['sw-jay'] })).code, 0);
  const admin = 'administrator';
  const set = await rest(
    b,
    'presently/set_app_settings',
    { Settings: { userStatus: { queryAndNotify: false } } },
    { sdkappid: String(EXPIRY_APP), usersig: b.sig(admin, { SDKAppID: EXPIRY_APP }) },
  );
  assert.equal(set.ActionStatus, 'OK', JSON.stringify(set));
  await assert.rejects(onA.client.getUserStatus({ userIDList: ['sw-jay'] }), (e: { code: number }) => e.code === ErrorCode.FEATURE_NOT_ENABLED);
});
