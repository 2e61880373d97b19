/**
 * A node of the cluster dies (kill -9) or leaves (SIGTERM): no ghost stays ONLINE, and users
 * whose clients move to another node do not flash OFFLINE (the cluster issue, items 3 and 4).
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import Presently from '@presently/client';
import { APP, appConfig, type TestServer } from './helpers/server.js';
import { destroyAll, is, sdk } from './helpers/sdk.js';
import { rest } from './helpers/rest.js';
import { RawPeer } from './helpers/raw.js';
import { startBalancer } from './helpers/balancer.js';
import { clusterSkip, startCluster, type TestCluster } from './helpers/cluster.js';

const { USER_STATUS_ONLINE: ONLINE, USER_STATUS_OFFLINE: OFFLINE } = Presently.TYPES;

const skip = await clusterSkip('the cluster failover tests');
const clusters: TestCluster[] = [];
after(async () => {
  await destroyAll();
  for (const c of clusters) await c.stop();
});

async function online(srv: TestServer, ids: string[]): Promise<Record<string, string>> {
  const r = await rest(srv, 'openim/query_online_status', { To_Account: ids });
  assert.equal(r.ActionStatus, 'OK');
  return Object.fromEntries((r.QueryResult as Array<{ To_Account: string; Status: string }>).map((q) => [q.To_Account, q.Status]));
}

test('kill -9 of a node: watchers on both survivors see every user of the dead node OFFLINE within 10 s; no ghost after it restarts', { skip }, async (t) => {
  // The default lease (5 s): the 10 s promise holds with the shipped configuration.
  const c = await startCluster({ nodes: 3, apps: [appConfig()], env: { PRESENTLY_LEASE_MS: '5000' } });
  clusters.push(c);
  const [n0, n1, n2] = c.nodes as [TestServer, TestServer, TestServer];
  const users = Array.from({ length: 12 }, (_, i) => `dead-${i}`);
  assert.equal((await rest(n0, 'im_open_login_svc/multiaccount_import', { AccountList: users.map((UserID) => ({ UserID })) })).ActionStatus, 'OK');
  const watchers = [await sdk(n0, 'kw-0'), await sdk(n1, 'kw-1')];
  for (const w of watchers) assert.deepEqual((await w.client.subscribeUserStatus({ userIDList: users })).data.failureUserList, []);
  const peers: RawPeer[] = [];
  for (const u of users) {
    const p = await RawPeer.connect(n2.ws);
    assert.equal((await p.login(APP, u, n2.sig(u))).code, 0);
    peers.push(p);
  }
  for (const w of watchers) for (const u of users) await w.waitFor(is(u, ONLINE));
  assert.deepEqual(
    Object.values(await online(n1, users)),
    users.map(() => 'Online'),
  );

  const killedAt = Date.now();
  await n2.stop({ kill: true, keepData: true });
  for (const w of watchers) for (const u of users) await w.waitFor(is(u, OFFLINE));
  const took = Date.now() - killedAt;
  assert.ok(took < 10_000, `every user of the dead node was OFFLINE after ${took} ms`);
  t.diagnostic(`every user of the killed node was OFFLINE on both survivors ${took} ms after kill -9 (lease 5 s)`);
  for (const srv of [n0, n1])
    assert.deepEqual(
      Object.values(await online(srv, users)),
      users.map(() => 'PushOnline'),
      'query_online_status agrees',
    );

  // The node comes back with the same id: its old sessions stay gone.
  const back = await c.add({ nodeId: 'n2' });
  assert.deepEqual(
    Object.values(await online(back, users)),
    users.map(() => 'PushOnline'),
  );
  assert.deepEqual(
    Object.values(await online(n0, users)),
    users.map(() => 'PushOnline'),
  );
  const again = await RawPeer.connect(back.ws);
  assert.equal((await again.login(APP, users[0]!, back.sig(users[0]!))).code, 0);
  for (const w of watchers) await w.waitFor(is(users[0]!, ONLINE));
  again.close();
});

test("a node restarted with its id at once ends its previous incarnation's sessions, long before the lease", { skip }, async () => {
  // A 30 s lease: only the restarted node itself can end its old sessions within 15 s.
  const c = await startCluster({ nodes: 2, apps: [appConfig()], env: { PRESENTLY_LEASE_MS: '30000' } });
  clusters.push(c);
  const [stay, crash] = c.nodes as [TestServer, TestServer];
  assert.equal((await rest(stay, 'im_open_login_svc/account_import', { UserID: 'reborn' })).ActionStatus, 'OK');
  const watcher = await sdk(stay, 'rw');
  assert.deepEqual((await watcher.client.subscribeUserStatus({ userIDList: ['reborn'] })).data.failureUserList, []);
  const p = await RawPeer.connect(crash.ws);
  assert.equal((await p.login(APP, 'reborn', crash.sig('reborn'))).code, 0);
  await watcher.waitFor(is('reborn', ONLINE));
  const killedAt = Date.now();
  await crash.stop({ kill: true });
  const back = await c.add({ nodeId: 'n1' });
  await watcher.waitFor(is('reborn', OFFLINE));
  assert.ok(Date.now() - killedAt < 15_000, 'ended by the restarted node, not by the 30 s lease');
  assert.deepEqual(Object.values(await online(back, ['reborn'])), ['PushOnline']);
});

test('SIGTERM of a node: its clients reconnect through the balancer to another node and watchers see no OFFLINE', { skip }, async () => {
  const c = await startCluster({ nodes: 2, apps: [appConfig()], env: { PRESENTLY_DRAIN_GRACE_MS: '4000' } });
  clusters.push(c);
  const [stay, leave] = c.nodes as [TestServer, TestServer];
  const hostOf = (s: TestServer) => new URL(s.http).host;
  const lb = await startBalancer([hostOf(leave)]);
  const users = Array.from({ length: 8 }, (_, i) => `move-${i}`);
  assert.equal((await rest(stay, 'im_open_login_svc/multiaccount_import', { AccountList: [...users, 'canary'].map((UserID) => ({ UserID })) })).ActionStatus, 'OK');
  const watcher = await sdk(stay, 'mw');
  assert.deepEqual((await watcher.client.subscribeUserStatus({ userIDList: [...users, 'canary'] })).data.failureUserList, []);
  // Every user's SDK goes through the balancer, which has only the leaving node for now.
  const clients = [];
  for (const u of users) clients.push(await sdk(leave, u, { url: lb.url }));
  // The canary never reconnects: it shows when the leaving node's sessions are finally ended.
  const canary = await RawPeer.connect(leave.ws);
  assert.equal((await canary.login(APP, 'canary', leave.sig('canary'))).code, 0);
  for (const u of [...users, 'canary']) await watcher.waitFor(is(u, ONLINE));

  lb.setBackends([hostOf(stay)]);
  const reconnected = clients.map((cl) => cl.waitNet(Presently.TYPES.NET_STATE_CONNECTED));
  const stoppedAt = Date.now();
  await leave.stop();
  await Promise.all(reconnected);
  await watcher.waitFor(is('canary', OFFLINE));
  assert.ok(Date.now() - stoppedAt >= 3000, "the leaving node's sessions were kept for the grace period");
  // The canary's OFFLINE came from the same entry that would have ended every other session of
  // the leaving node: had any user flashed OFFLINE, the watcher would have heard it by now.
  const flashes = watcher.updates.filter((u) => users.includes(u.userID) && u.statusType !== ONLINE);
  assert.deepEqual(flashes, [], 'no user that moved flashed OFFLINE');
  const q = await watcher.client.getUserStatus({ userIDList: users });
  assert.deepEqual(
    q.data.successUserList.map((s) => s.statusType),
    users.map(() => ONLINE),
  );
  assert.deepEqual(
    Object.values(await online(stay, users)),
    users.map(() => 'Online'),
  );
  await lb.close();
});

test(
  'a node that fell behind further than the log keeps exits (code 70) rather than serve a wrong state',
  { skip: skip || (process.env.PRESENTLY_CLUSTER === 'v2' ? 'the replicated design only: cluster v2 has no command log' : false) },
  async () => {
    // 600 own-status changes in a row on purpose: the per-minute flood bound is off here.
    const c = await startCluster({ nodes: 2, apps: [appConfig({ limits: { setSelfStatusPerMinute: 0 } })], env: { PRESENTLY_LOG_MAXLEN: '50', PRESENTLY_LEASE_MS: '30000' } });
    clusters.push(c);
    const [a, b] = c.nodes as [TestServer, TestServer];
    const exited = new Promise<number | null>((resolve) => b.proc.once('exit', (code) => resolve(code)));
    b.proc.kill('SIGSTOP');
    const p = await RawPeer.connect(a.ws);
    assert.equal((await p.login(APP, 'busy', a.sig('busy'))).code, 0);
    // Far more entries than the log keeps: the frozen node's position is trimmed away.
    for (let i = 0; i < 600; i++) assert.equal((await p.request('setSelfStatus', { customStatus: `n${i}` })).code, 0);
    b.proc.kill('SIGCONT');
    assert.equal(await exited, 70);
    assert.match(b.output(), /missed entries of the command log/);
    p.close();
  },
);
