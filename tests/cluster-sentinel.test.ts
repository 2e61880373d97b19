/**
 * Cluster v2 on Redis Sentinel (REDIS_URL=sentinel://...): the master is killed, Sentinel promotes
 * its replica, and the nodes carry on by themselves (ioredis asks Sentinel for the new master).
 * No ghost is left (a user whose socket closed during the failover is OFFLINE to its watcher),
 * nothing durable is lost, and the sockets that stayed keep working. Real redis-server processes
 * in the three roles, started by this test.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import Presently from '@presently/client';
import { APP, appConfig, type TestServer } from './helpers/server.js';
import { destroyAll, is, sdk } from './helpers/sdk.js';
import { rest } from './helpers/rest.js';
import { RawPeer } from './helpers/raw.js';
import { startRedis, startSentinel } from './helpers/redis.js';
import { clusterSkip, readyz, startCluster } from './helpers/cluster.js';

const { USER_STATUS_ONLINE: ONLINE, USER_STATUS_OFFLINE: OFFLINE } = Presently.TYPES;
const skip = await clusterSkip('the Redis Sentinel failover test');
const cleanups: Array<() => Promise<void>> = [];
after(async () => {
  await destroyAll();
  for (const f of cleanups.reverse()) await f().catch(() => undefined);
});

/** Polls `check` (nothing pushes what it watches) until it holds, or fails naming `what`. */
async function until(what: string, check: () => Promise<boolean>, withinMs = 30_000): Promise<void> {
  const end = Date.now() + withinMs;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`${what}: not within ${withinMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

test('cluster v2, Redis Sentinel: the master killed, its replica promoted; service back by itself, no ghost, nothing durable lost', { skip, timeout: 120_000 }, async () => {
  const master = await startRedis();
  cleanups.push(() => master.stop());
  const replica = await startRedis({ args: ['--replicaof', '127.0.0.1', String(master.port)] });
  cleanups.push(() => replica.stop());
  const sentinel = await startSentinel(master.port, { downAfterMs: 1000 });
  cleanups.push(() => sentinel.stop());
  const c = await startCluster({ nodes: 2, apps: [appConfig()], redisUrl: sentinel.url, env: { PRESENTLY_CLUSTER: 'v2' } });
  cleanups.push(() => c.stop());
  const [a, b] = c.nodes as [TestServer, TestServer];

  const accounts = ['st-1', 'st-2', 'st-watch'];
  assert.equal((await rest(a, 'im_open_login_svc/multiaccount_import', { AccountList: accounts.map((UserID) => ({ UserID })) })).ActionStatus, 'OK');
  const watcher = await sdk(b, 'st-watch');
  assert.deepEqual((await watcher.client.subscribeUserStatus({ userIDList: ['st-1', 'st-2'] })).data.failureUserList, []);
  const one = await sdk(a, 'st-1');
  const two = await RawPeer.connect(a.ws);
  assert.equal((await two.login(APP, 'st-2', a.sig('st-2'))).code, 0);
  await watcher.waitFor(is('st-1', ONLINE));
  await watcher.waitFor(is('st-2', ONLINE));
  // The replica has everything so far before the master goes.
  await until('the replica caught up', async () => (await rest(b, 'openim/query_online_status', { To_Account: ['st-2'] })).ActionStatus === 'OK');

  await master.kill();
  // st-2 goes while there is no master: its end cannot be written now.
  two.close();
  await two.closed;
  await until('Sentinel promoted the replica', async () => (await sentinel.masterPort()) === replica.port);
  await until('node A ready again', async () => (await readyz(a)) === 200);
  await until('node B ready again', async () => (await readyz(b)) === 200);

  // No ghost: st-2 is OFFLINE to its watcher; st-1, whose socket stayed, is ONLINE.
  await watcher.waitFor(is('st-2', OFFLINE));
  const q = await watcher.client.getUserStatus({ userIDList: ['st-1', 'st-2'] });
  assert.deepEqual(
    q.data.successUserList.map((s) => s.statusType),
    [ONLINE, OFFLINE],
  );
  // The sockets that stayed carry new changes, across nodes.
  await one.client.setSelfStatus({ customStatus: 'after the failover' });
  await watcher.waitFor(is('st-1', ONLINE, 'after the failover'));
  // Nothing durable was lost (PostgreSQL holds it; every node answers from it).
  for (const srv of [a, b]) {
    const check = await rest(srv, 'im_open_login_svc/account_check', { CheckItem: accounts.map((UserID) => ({ UserID })) });
    assert.deepEqual(
      (check.ResultItem as Array<{ AccountStatus: string }>).map((i) => i.AccountStatus),
      accounts.map(() => 'Imported'),
    );
  }
});
