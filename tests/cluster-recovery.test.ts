/**
 * Redis or PostgreSQL restarting under a running cluster (the cluster issue, items 5 and 6):
 * nodes keep their sockets, report not-ready meanwhile, rebuild the live state when Redis comes
 * back empty, and lose nothing durable. Also: the cluster on a 3-master Redis Cluster.
 * Each test runs its own Redis / PostgreSQL server, so restarting it disturbs no other test.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import Presently from '@presently/client';
import { ErrorCode } from '@presently/protocol';
import { APP, appConfig, type TestServer } from './helpers/server.js';
import { destroyAll, is, sdk } from './helpers/sdk.js';
import { rest } from './helpers/rest.js';
import { RawPeer } from './helpers/raw.js';
import { startRedis, startRedisCluster } from './helpers/redis.js';
import { startPostgres } from './helpers/pg-instance.js';
import { clusterSkip, readyz, startCluster, untilReady, type TestCluster } from './helpers/cluster.js';

const { USER_STATUS_ONLINE: ONLINE, USER_STATUS_OFFLINE: OFFLINE } = Presently.TYPES;

const skip = await clusterSkip('the cluster recovery tests');
const cleanups: Array<() => Promise<void>> = [];
after(async () => {
  await destroyAll();
  for (const f of cleanups.reverse()) await f().catch(() => undefined);
});

test('Redis restarts empty: nodes keep their sockets, are not ready meanwhile, and rebuild the live state', { skip }, async () => {
  const redis = await startRedis();
  cleanups.push(() => redis.stop());
  const c: TestCluster = await startCluster({ nodes: 2, apps: [appConfig()], redisUrl: redis.url });
  cleanups.push(() => c.stop());
  const [a, b] = c.nodes as [TestServer, TestServer];
  assert.equal((await rest(a, 'im_open_login_svc/multiaccount_import', { AccountList: ['rr-1', 'rr-2'].map((UserID) => ({ UserID })) })).ActionStatus, 'OK');
  const watcher = await sdk(b, 'rr-watch');
  assert.deepEqual((await watcher.client.subscribeUserStatus({ userIDList: ['rr-1', 'rr-2'] })).data.failureUserList, []);
  const one = await sdk(a, 'rr-1');
  const two = await RawPeer.connect(a.ws);
  assert.equal((await two.login(APP, 'rr-2', a.sig('rr-2'))).code, 0);
  await watcher.waitFor(is('rr-1', ONLINE));
  await watcher.waitFor(is('rr-2', ONLINE));
  assert.equal(await readyz(a), 200);

  await redis.kill();
  await untilReady(a, 503);
  await untilReady(b, 503);
  // rr-2 goes away while Redis is down: its disconnect cannot reach the log now.
  two.close();
  await two.closed;
  await redis.restart();
  await untilReady(a, 200);
  await untilReady(b, 200);
  // The rebuilt state: rr-2's disconnect was mended by node A's resync, rr-1 is still ONLINE.
  await watcher.waitFor(is('rr-2', OFFLINE));
  const q = await watcher.client.getUserStatus({ userIDList: ['rr-1', 'rr-2'] });
  assert.deepEqual(
    q.data.successUserList.map((s) => s.statusType),
    [ONLINE, OFFLINE],
  );
  // The sockets stayed open: the same connections carry new changes both ways.
  assert.equal(watcher.netStates.includes(Presently.TYPES.NET_STATE_DISCONNECTED), false, 'the watcher kept its socket');
  await one.client.setSelfStatus({ customStatus: 'after the restart' });
  await watcher.waitFor(is('rr-1', ONLINE, 'after the restart'));
});

test('PostgreSQL restarts: a subscription made meanwhile is not acknowledged before it is durable (answered then, or 70500 past 5 s), and survives', { skip }, async () => {
  const pg = await startPostgres();
  cleanups.push(() => pg.stop());
  const c: TestCluster = await startCluster({ nodes: 2, apps: [appConfig()], pgUrl: pg.url });
  cleanups.push(() => c.stop());
  const [a, b] = c.nodes as [TestServer, TestServer];
  assert.equal((await rest(a, 'im_open_login_svc/multiaccount_import', { AccountList: [{ UserID: 'pg-target' }] })).ActionStatus, 'OK');
  const me = await sdk(b, 'pg-me');
  await pg.stopOnly('fast');
  // The write cannot commit: no reply yet, and the node says it is not ready.
  let answered = false;
  const sub = me.client.subscribeUserStatus({ userIDList: ['pg-target'] }).then(
    (r) => {
      answered = true;
      return r.data.failureUserList.length === 0 ? 'acknowledged' : JSON.stringify(r.data);
    },
    (err: { code?: number }) => {
      answered = true;
      return err.code;
    },
  );
  await untilReady(b, 503);
  assert.equal(answered, false, 'not acknowledged before it is durable');
  await pg.start();
  // Acknowledged once durable, or (when the restart took longer than the store's reply bound)
  // refused with 70500 while the write is kept and retried: durable either way below.
  assert.ok((['acknowledged', ErrorCode.INTERNAL_ERROR] as Array<string | number | undefined>).includes(await sub), `the subscription got ${String(await sub)}`);
  await untilReady(b, 200);
  // Durable: every node restarted from the database still has the subscription.
  await c.nodes[0]!.stop({ kill: true });
  await c.nodes[1]!.stop({ kill: true });
  const fresh = await c.add({ nodeId: 'n9' });
  const target = await sdk(fresh, 'pg-target');
  const again = await sdk(fresh, 'pg-me');
  await target.client.setSelfStatus({ customStatus: 'still subscribed' });
  await again.waitFor(is('pg-target', ONLINE, 'still subscribed'));
});

test('Redis Cluster (3 masters): a change crosses nodes, and a dead node is found', { skip }, async () => {
  const rc = await startRedisCluster();
  cleanups.push(() => rc.stop());
  const c: TestCluster = await startCluster({ nodes: 2, apps: [appConfig(), appConfig({ SDKAppID: APP + 1 })], redisUrl: rc.url });
  cleanups.push(() => c.stop());
  const [a, b] = c.nodes as [TestServer, TestServer];
  for (const app of [APP, APP + 1]) {
    const watcher = await sdk(b, 'rc-watch', { SDKAppID: app, sig: b.sig('rc-watch', { SDKAppID: app }) });
    const peer = await RawPeer.connect(a.ws);
    assert.equal((await peer.login(app, 'rc-user', a.sig('rc-user', { SDKAppID: app }))).code, 0);
    assert.deepEqual((await watcher.client.subscribeUserStatus({ userIDList: ['rc-user'] })).data.failureUserList, []);
    assert.equal((await peer.request('setSelfStatus', { customStatus: `app ${app}` })).code, 0);
    await watcher.waitFor(is('rc-user', ONLINE, `app ${app}`));
  }
  const w = await sdk(b, 'rc-watch2');
  assert.deepEqual((await w.client.subscribeUserStatus({ userIDList: ['rc-user'] })).data.failureUserList, []);
  await a.stop({ kill: true });
  await w.waitFor(is('rc-user', OFFLINE));
});
