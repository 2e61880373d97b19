/**
 * One contract, two backends: the same scenarios run on one process (SQLite, the engine called
 * directly) and on two cluster nodes in this process (PostgreSQL + the command log in Redis), and
 * must give the same outcomes. Sessions of a scenario are spread over the nodes, so on the cluster
 * every rule is checked across nodes. The gateways are the real ones; only the sockets are
 * replaced by recording sinks.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { ErrorCode, UserStatus, type KickTypeValue, type Platform } from '@presently/protocol';
import { Gateway } from '../gateway/gateway.js';
import { normalizeApp } from '../config/settings.js';
import { DEFAULT_SERVER_OPTIONS } from '../config/server-options.js';
import type { AppDriver } from '../gateway/driver.js';
import type { Sink, SinkSession } from '../gateway/sink.js';
import type { StatusChange } from '../engine/types.js';
import type { DurableStore } from '../store/types.js';
import { openPostgres, openSqlite } from '../store/sql.js';
import { ClusterNode } from './node.js';
import { V2Node } from './v2/node.js';
import { decode, type V2App } from './v2/app.js';
import { PG_URL, dropSchema, freshSchema, postgresSkip } from '../testing/postgres.js';
import { REDIS_URL, redisSkip } from '../testing/redis.js';

const APP = 1400000077;
const log = pino({ level: 'silent' });
const settings = normalizeApp({
  SDKAppID: APP,
  secretKey: 'contract-secret-0123',
  admins: ['admin'],
  userStatus: { queryAndNotify: true, friendAutoNotify: true },
  limits: { maxSubscriptions: 2, rateLimitCalls: 3, rateLimitWindowSec: 60 },
});

/** A socket stand-in: records what the engine sends to it. */
class RecordingSink implements Sink {
  readonly node = '';
  readonly remoteAddress = '127.0.0.1';
  session: SinkSession | null = null;
  open = true;
  readonly got: Array<{ userID: string; statusType: number; customStatus: string }> = [];
  readonly kicks: KickTypeValue[] = [];
  deliver(change: StatusChange): void {
    this.got.push({ ...change.info });
  }
  kick(type: KickTypeValue): void {
    this.kicks.push(type);
    this.open = false;
  }
  close(): void {
    this.open = false;
  }
}

interface World {
  /** One driver per node (one process: the same driver twice). */
  nodes: AppDriver[];
  /** The general status of a user as each node would answer it. */
  statusOf(userID: string): Promise<Array<number | undefined>>;
  /** A user's subscriptions in order, as each node holds them. */
  subscriptionsOf(userID: string): Promise<string[][]>;
  /** Resolves once everything done so far has reached every node. */
  settled(probes: SinkSession[]): Promise<void>;
  /** Every node's own copy of the whole app (the replicated designs), to compare. */
  copies?(): string[];
  close(): Promise<void>;
}

let seq = 0;
async function login(d: AppDriver, userID: string, platform: Platform = 'Web'): Promise<{ s: SinkSession; sink: RecordingSink }> {
  const sink = new RecordingSink();
  const s = await d.login({ userID, platform, instanceId: `i${++seq}`, sessionId: `c${process.pid}-${++seq}`, ticketTime: Math.floor(Date.now() / 1000), sink }, Date.now());
  sink.session = s;
  return { s, sink };
}

/**
 * Waits until every node has applied everything appended so far: a request from each node comes
 * back only after the log entries before it (on one process, at once).
 */
async function barrier(w: World, probes: SinkSession[]): Promise<void> {
  await w.settled(probes);
}

/** Stops a cluster's nodes (webhooks drained, store closed) and drops its schema. */
async function closeNodes(parts: Array<{ gw: Gateway; store: DurableStore; node: { stop(): Promise<void> } }>, schema: string): Promise<void> {
  for (const p of parts) {
    await p.gw.drain();
    await p.node.stop();
    await p.store.close();
  }
  await dropSchema(schema);
}

/** Reads of the designs where each node holds the whole app: each node's own engine. */
function engineViews(nodes: AppDriver[]): Pick<World, 'statusOf' | 'subscriptionsOf' | 'settled' | 'copies'> {
  return {
    statusOf: async (id) => nodes.map((d) => d.engine.statusOf(id)?.statusType),
    subscriptionsOf: async (id) => nodes.map((d) => d.engine.subscriptionsOf(id)),
    settled: async (probes) => {
      for (let i = 0; i < nodes.length; i++) await nodes[i]!.getUserStatus(probes[i]!, [probes[i]!.userID], Date.now());
    },
    copies: () => nodes.map((d) => JSON.stringify(d.engine.listUsers({ limit: 1000 }))),
  };
}

const backends: Array<{ name: string; make: () => Promise<World>; skip: () => Promise<string | false>; replicated: boolean }> = [
  {
    name: 'one process, SQLite',
    replicated: true,
    skip: async () => false,
    make: async () => {
      const dir = mkdtempSync(join(tmpdir(), 'presently-contract-'));
      const store = await openSqlite(join(dir, 'p.db'));
      const gw = new Gateway({ ...DEFAULT_SERVER_OPTIONS }, store, log);
      const d = await gw.addApp(settings);
      return {
        nodes: [d, d],
        ...engineViews([d, d]),
        close: async () => {
          await gw.drain();
          await store.close();
          rmSync(dir, { recursive: true, force: true });
        },
      };
    },
  },
  {
    name: 'two cluster nodes, PostgreSQL + Redis',
    replicated: true,
    skip: async () => (await postgresSkip('the cluster driver contract')) || (await redisSkip('the cluster driver contract')),
    make: async () => {
      const schema = freshSchema('contract');
      const prefix = `contract_${process.pid}_${Math.floor(Math.random() * 1e9)}`;
      const parts: Array<{ gw: Gateway; store: DurableStore; node: ClusterNode }> = [];
      const nodes: AppDriver[] = [];
      for (let i = 0; i < 2; i++) {
        const store = await openPostgres(PG_URL, { schema });
        const node = new ClusterNode({ redisUrl: REDIS_URL, prefix, nodeId: `c${i}`, leaseMs: 5000, drainGraceMs: 1000, logMaxLen: 100_000, log, onEvicted: () => undefined });
        await node.connect();
        const gw = new Gateway({ ...DEFAULT_SERVER_OPTIONS }, store, log, node);
        nodes.push(await gw.addApp(settings));
        node.start();
        parts.push({ gw, store, node });
      }
      return {
        nodes,
        ...engineViews(nodes),
        close: () => closeNodes(parts, schema),
      };
    },
  },
  {
    name: 'cluster v2: two nodes, per-user records in Redis + PostgreSQL',
    replicated: false,
    skip: async () => (await postgresSkip('the cluster v2 driver contract')) || (await redisSkip('the cluster v2 driver contract')),
    make: async () => {
      const schema = freshSchema('contractv2');
      const prefix = `contract2_${process.pid}_${Math.floor(Math.random() * 1e9)}`;
      const parts: Array<{ gw: Gateway; store: DurableStore; node: V2Node }> = [];
      const nodes: V2App[] = [];
      for (let i = 0; i < 2; i++) {
        const store = await openPostgres(PG_URL, { schema });
        const node = new V2Node({ redisUrl: REDIS_URL, prefix, nodeId: `v${i}`, log });
        await node.connect();
        const gw = new Gateway({ ...DEFAULT_SERVER_OPTIONS }, store, log, null, node);
        nodes.push((await gw.addApp(settings)) as V2App);
        parts.push({ gw, store, node });
      }
      const records = parts[0]!.node.records;
      const read = async (id: string) => decode(id, await records.read(APP, id));
      return {
        nodes,
        // One owner per user: every node answers from the same record.
        statusOf: async (id) => {
          const st = await read(id);
          return nodes.map(() => st?.statusType);
        },
        subscriptionsOf: async (id) => {
          const st = await read(id);
          return nodes.map(() => st?.subs.map(([t]) => t) ?? []);
        },
        // Every request done, then a marker on every channel a node listens to has reached it:
        // each channel's messages arrive in order, so everything before the marker is there.
        settled: async () => {
          await Promise.all(nodes.map((n) => n.idle()));
          const waits: Promise<void>[] = [];
          for (const p of parts) {
            for (const ch of p.node.interest.list()) {
              const at = p.node.keys.parseChannel(ch)!;
              const n = at.userID === '' ? await records.publishApp(at.app, '{}') : await records.publish(at.app, at.userID, '{}');
              waits.push(p.node.interest.reached(ch, n));
            }
          }
          await Promise.all(waits);
          await Promise.all(nodes.map((n) => n.idle()));
        },
        close: () => closeNodes(parts, schema),
      };
    },
  },
];

const { ONLINE, OFFLINE, UNLOGINED } = UserStatus;

for (const b of backends) {
  describe(`driver contract: ${b.name}`, async () => {
    const skip = await b.skip();
    let w: World;
    const probes: SinkSession[] = [];
    const worlds: World[] = [];
    after(async () => {
      for (const x of worlds) await x.close();
    });
    const world = async (): Promise<World> => {
      if (!w) {
        w = await b.make();
        worlds.push(w);
        for (let i = 0; i < w.nodes.length; i++) probes.push((await login(w.nodes[i]!, `probe${i}`)).s);
      }
      return w;
    };

    test('S20 S22 a change reaches a subscriber on the other node once, in order', { skip }, async () => {
      const x = await world();
      const [n0, n1] = x.nodes as [AppDriver, AppDriver];
      const u = await login(n0, 'u1');
      const watcher = await login(n1, 'w1');
      assert.deepEqual(await n1.subscribe(watcher.s, ['u1'], Date.now()), { failureUserList: [] });
      for (const v of ['a', 'b', 'c']) await n0.setCustomStatus(u.s, v, Date.now());
      await barrier(x, probes);
      assert.deepEqual(
        watcher.sink.got.map((g) => g.customStatus),
        ['a', 'b', 'c'],
      );
    });

    test('S2 S3 S4 S6 status aggregates the sessions of both nodes', { skip }, async () => {
      const x = await world();
      const [n0, n1] = x.nodes as [AppDriver, AppDriver];
      const web = await login(n0, 'u2', 'Web');
      const phone = await login(n1, 'u2', 'iPhone');
      const status = () => x.statusOf('u2');
      n0.disconnect(web.s, 'close', Date.now());
      await barrier(x, probes);
      assert.deepEqual(await status(), [ONLINE, ONLINE]);
      n1.disconnect(phone.s, 'close', Date.now());
      await barrier(x, probes);
      assert.deepEqual(await status(), [OFFLINE, OFFLINE]);
      const again = await login(n1, 'u2', 'Web');
      await barrier(x, probes);
      assert.deepEqual(await status(), [ONLINE, ONLINE]);
      await n1.logout(again.s, Date.now());
      await barrier(x, probes);
      assert.deepEqual(await status(), [OFFLINE, OFFLINE], 'the phone is still logged in');
      const phone2 = await login(n0, 'u2', 'iPhone');
      await n0.logout(phone2.s, Date.now());
      await barrier(x, probes);
      assert.deepEqual(await status(), [UNLOGINED, UNLOGINED]);
    });

    test('S16 subscriptions made on both nodes share one FIFO', { skip }, async () => {
      const x = await world();
      const [n0, n1] = x.nodes as [AppDriver, AppDriver];
      for (const id of ['t1', 't2', 't3']) await login(n0, id);
      const a = await login(n0, 'subber', 'Web');
      const b2 = await login(n1, 'subber', 'iPhone');
      await n0.subscribe(a.s, ['t1'], Date.now());
      await n1.subscribe(b2.s, ['t2'], Date.now());
      await n0.subscribe(a.s, ['t3'], Date.now());
      await barrier(x, probes);
      for (const subs of await x.subscriptionsOf('subber')) assert.deepEqual(subs, ['t2', 't3']);
    });

    test('S14 one rate window for a user, whichever node asks', { skip }, async () => {
      const x = await world();
      const [n0, n1] = x.nodes as [AppDriver, AppDriver];
      const a = await login(n0, 'rater', 'Web');
      const b2 = await login(n1, 'rater', 'iPhone');
      await n0.getUserStatus(a.s, ['t1'], Date.now());
      await n1.getUserStatus(b2.s, ['t1'], Date.now());
      await n0.getUserStatus(a.s, ['t1'], Date.now());
      await assert.rejects(
        Promise.resolve().then(() => n1.getUserStatus(b2.s, ['t1'], Date.now())),
        (e: { code: number }) => e.code === ErrorCode.TOO_MANY_CALLS,
      );
    });

    test('S21 S28 friends added through REST on one node; a REST kick ends sessions on the other', { skip }, async () => {
      const x = await world();
      const [n0, n1] = x.nodes as [AppDriver, AppDriver];
      const f = await login(n0, 'fa');
      const g = await login(n1, 'fb');
      const reply = await n1.rest('sns/friend_add', { From_Account: 'fa', AddFriendItem: [{ To_Account: 'fb' }], AddType: 'Add_Type_Both' }, Date.now());
      assert.equal(reply.ActionStatus, 'OK');
      await n0.setCustomStatus(f.s, 'hello', Date.now());
      await barrier(x, probes);
      assert.deepEqual(g.sink.got.at(-1), { userID: 'fa', statusType: ONLINE, customStatus: 'hello' });
      assert.equal((await n1.rest('im_open_login_svc/kick', { UserID: 'fa' }, Date.now())).ActionStatus, 'OK');
      await barrier(x, probes);
      assert.equal(f.sink.kicks.length, 1, 'the session on the other node was kicked');
      assert.deepEqual(g.sink.got.at(-1), { userID: 'fa', statusType: UNLOGINED, customStatus: '' });
    });

    test('an account deleted through REST on one node leaves the subscriptions and friend lists of users on the other', { skip }, async () => {
      const x = await world();
      const [n0, n1] = x.nodes as [AppDriver, AppDriver];
      await login(n0, 'd-gone');
      const fan = await login(n1, 'd-fan');
      assert.deepEqual(await n1.subscribe(fan.s, ['d-gone', 't1'], Date.now()), { failureUserList: [] });
      assert.equal(
        (await n1.rest('sns/friend_add', { From_Account: 'd-fan', AddFriendItem: [{ To_Account: 'd-gone' }], AddType: 'Add_Type_Both' }, Date.now())).ActionStatus,
        'OK',
      );
      await barrier(x, probes);
      assert.equal((await n0.rest('im_open_login_svc/account_delete', { DeleteItem: [{ UserID: 'd-gone' }] }, Date.now())).ActionStatus, 'OK');
      await barrier(x, probes);
      for (const subs of await x.subscriptionsOf('d-fan')) assert.deepEqual(subs, ['t1']);
      for (const d of x.nodes) {
        const friends = await d.rest('sns/friend_get', { From_Account: 'd-fan' }, Date.now());
        assert.deepEqual(friends.UserDataItem, [], JSON.stringify(friends));
      }
    });

    test(
      'S19 (cluster v2, where expiry is applied when the user is next written) a user back after the expiry has no subscriptions',
      { skip: skip || (b.replicated && 'the replicated designs sweep on a timer: tests/subscriptions.test.ts, tests/cluster.test.ts') },
      async () => {
        const x = await world();
        const [n0, n1] = x.nodes as [AppDriver, AppDriver];
        await login(n0, 'x-target');
        const sub = await login(n1, 'x-subber');
        assert.deepEqual(await n1.subscribe(sub.s, ['x-target'], Date.now()), { failureUserList: [] });
        n1.disconnect(sub.s, 'close', Date.now());
        await barrier(x, probes);
        assert.deepEqual(await x.subscriptionsOf('x-subber'), [['x-target'], ['x-target']], 'kept while within the expiry');
        const hours = settings.limits.subscriptionExpiryHours;
        const later = Date.now() + hours * 3_600_000 + 1000;
        const sink = new RecordingSink();
        sink.session = await n0.login(
          { userID: 'x-subber', platform: 'Web', instanceId: 'later', sessionId: `c${process.pid}-${++seq}`, ticketTime: Math.floor(later / 1000), sink },
          later,
        );
        assert.deepEqual(await x.subscriptionsOf('x-subber'), [[], []]);
      },
    );

    test('every node ends with the same state', { skip: skip || !b.replicated }, async () => {
      const x = await world();
      await barrier(x, probes);
      assert.equal(new Set(x.copies!()).size, 1);
    });
  });
}
