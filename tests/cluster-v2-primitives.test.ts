/**
 * Cluster v2's two primitives against real Redis, a single server and a three-master Redis
 * Cluster (docs/cluster.md, "Cluster v2"): the per-user record written by compare-and-set with
 * its change published on the user's sharded channel in the same step (records.ts), and fan-out
 * by interest (interest.ts): each change reaches each node that listens to the user once, in
 * order, and no other node.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { Cluster } from 'ioredis';
import { createRedis, connectRedis, type RedisClient } from '../packages/server/src/cluster/redis.js';
import { DELETE, UserKeys, UserRecords, type UserRecord } from '../packages/server/src/cluster/v2/records.js';
import { Interest, type InterestMessage } from '../packages/server/src/cluster/v2/interest.js';
import { redisSkip } from '../packages/server/src/testing/redis.js';
import { startRedis, startRedisCluster, type RedisClusterInstance, type RedisInstance } from './helpers/redis.js';

const APP = 1400000123;
const skip = await redisSkip('the cluster v2 primitive tests');

/** One node's view: its command client, its records and its interest, with what it heard. */
class Node {
  readonly heard: InterestMessage[] = [];
  readonly gaps: Array<{ channel: string; lastSeen: number; n: number }> = [];
  reconnections = 0;
  readonly records: UserRecords;
  readonly interest: Interest;
  private waiters: Array<() => void> = [];
  private constructor(
    readonly cmd: RedisClient,
    readonly sub: RedisClient,
    readonly keys: UserKeys,
  ) {
    this.records = new UserRecords(cmd, keys);
    this.interest = new Interest(sub, {
      message: (m) => {
        this.heard.push(m);
        this.wake();
      },
      gap: (channel, lastSeen, n) => this.gaps.push({ channel, lastSeen, n }),
      reconnected: () => {
        this.reconnections++;
        this.wake();
      },
    });
  }
  static async open(url: string, keys: UserKeys, name: string): Promise<Node> {
    const cmd = createRedis(url, `${name}-cmd`);
    const sub = createRedis(url, `${name}-sub`, { sharded: true });
    await Promise.all([connectRedis(cmd), connectRedis(sub)]);
    return new Node(cmd, sub, keys);
  }
  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }
  /** Resolves when `pred` holds, checked after each message (fails after 10 s, saying what it waited for). */
  async until(what: string, pred: () => boolean): Promise<void> {
    const deadline = Date.now() + 10_000;
    while (!pred()) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out waiting for ${what}`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }
  bodies(channel: string): string[] {
    return this.heard.filter((m) => m.channel === channel).map((m) => m.body);
  }
  async close(): Promise<void> {
    await this.interest.close();
    this.cmd.disconnect();
  }
}

/** Counts one more change in the record's `count` field and announces it. */
function bump(tag: string) {
  return (r: UserRecord) => {
    const count = Number(r.fields.count ?? '0') + 1;
    return { fields: { count: String(count) }, announce: `${tag}:${count}`, result: count };
  };
}

function suite(name: string, url: () => string) {
  describe(name, { skip }, () => {
    let a: Node;
    let b: Node;
    let c: Node;
    let keys: UserKeys;
    before(async () => {
      keys = new UserKeys(`v2t-${randomBytes(3).toString('hex')}`);
      [a, b, c] = await Promise.all([Node.open(url(), keys, 'a'), Node.open(url(), keys, 'b'), Node.open(url(), keys, 'c')]);
    });
    after(async () => {
      await Promise.all([a, b, c].map((n) => n?.close()));
    });

    test('a write lands only at the version it was decided on; a lost race reads and decides again, so no change is lost', async () => {
      const user = 'racer';
      const created = await a.records.cas(APP, user, 0, { count: '0' });
      assert.deepEqual(created, { ok: true, v: 1, n: 0 });
      // A write decided on version 0 after the record exists is refused, and says where it stands.
      assert.deepEqual(await b.records.cas(APP, user, 0, { count: '9' }), { ok: false, v: 1, n: 0 });
      // 40 increments from three nodes at once, each decided on what it read: every one counts.
      const all = await Promise.all(Array.from({ length: 40 }, (_, i) => [a, b, c][i % 3]!.records.update(APP, user, bump('race'))));
      assert.deepEqual(
        all.map((r) => r.result).sort((x, y) => (x ?? 0) - (y ?? 0)),
        Array.from({ length: 40 }, (_, i) => i + 1),
      );
      assert.ok(a.records.counters.conflicts + b.records.counters.conflicts + c.records.counters.conflicts > 0, 'some writes lost a race and were decided again');
      const now = await c.records.read(APP, user);
      assert.equal(now.fields.count, '40');
      assert.equal(now.v, 41);
      assert.equal(now.n, 40, 'each announced write numbers its change');
      // A field set to NUL goes; a decision that writes nothing leaves the record as it was.
      await a.records.update(APP, user, () => ({ fields: { count: DELETE, other: 'x' }, result: null }));
      assert.deepEqual((await b.records.read(APP, user)).fields, { other: 'x' });
      const unchanged = await a.records.update(APP, user, () => null);
      assert.equal(unchanged.record.v, 42);
      assert.equal((await b.records.read(APP, user)).v, 42);
    });

    test('S22 each change reaches each node that listens to the user once, in order; a node that does not listen hears nothing', async () => {
      const user = 'watched';
      const ch = keys.channel(APP, user);
      const other = keys.channel(APP, 'someone-else');
      await Promise.all([a.interest.add(ch), b.interest.add(ch), c.interest.add(other)]);
      const sent: string[] = [];
      for (let i = 0; i < 50; i++) {
        const r = await [a, b, c][i % 3]!.records.update(APP, user, bump('w'));
        sent.push(`w:${r.result}`);
      }
      await a.until('50 changes on a', () => a.bodies(ch).length === 50);
      await b.until('50 changes on b', () => b.bodies(ch).length === 50);
      assert.deepEqual(a.bodies(ch), sent);
      assert.deepEqual(b.bodies(ch), sent);
      // c listens to another user only: a change of that user reaches it, and it arrives after
      // (so had anything of `watched` been sent to c, it would be here by now).
      await a.records.update(APP, 'someone-else', bump('o'));
      await c.until('the other user on c', () => c.bodies(other).length === 1);
      assert.deepEqual(c.bodies(ch), []);
      assert.deepEqual(
        a.heard.filter((m) => m.channel === ch).map((m) => m.n),
        Array.from({ length: 50 }, (_, i) => i + 1),
      );
    });

    test('a node listens once however many of its sessions watch a user, and stops after the last', async () => {
      const ch = keys.channel(APP, 'popular');
      await Promise.all([a.interest.add(ch), a.interest.add(ch), a.interest.add(ch)]);
      // On a Redis Cluster only the channel's master knows its listeners: ask every master.
      const masters = a.cmd instanceof Cluster ? a.cmd.nodes('master') : [a.cmd];
      const listeners = async () => {
        let total = 0;
        for (const m of masters) total += Number(((await m.call('PUBSUB', 'SHARDNUMSUB', ch)) as [string, number])[1]);
        return total;
      };
      assert.equal(await listeners(), 1);
      await a.interest.remove(ch);
      await a.interest.remove(ch);
      assert.equal(await listeners(), 1, 'one local reason left');
      await a.interest.remove(ch);
      assert.equal(await listeners(), 0);
      assert.equal(a.interest.has(ch), false);
    });

    test('a message older than the record read is a repeat; a jump in the numbers is reported as a gap', async () => {
      const user = 'numbered';
      const ch = keys.channel(APP, user);
      await b.interest.add(ch);
      await a.records.update(APP, user, bump('g'));
      await b.until('change 1', () => b.bodies(ch).length === 1);
      // The view read the record at n = 3 (say, after a reconnection): 2 and 3 are repeats now.
      b.interest.known(ch, 3);
      await a.records.update(APP, user, bump('g'));
      await a.records.update(APP, user, bump('g'));
      await a.records.update(APP, user, bump('g'));
      await b.until('change 4', () => b.bodies(ch).length === 2);
      assert.deepEqual(b.bodies(ch), ['g:1', 'g:4']);
      assert.equal(b.interest.counters.repeats, 2);
      assert.deepEqual(b.gaps, []);
      // Changes published while the listener is not there are missed: the next one shows the gap.
      b.interest.known(ch, 4);
      const gapBefore = b.gaps.length;
      await b.interest.remove(ch);
      await a.records.update(APP, user, bump('g'));
      await b.interest.add(ch);
      b.interest.known(ch, 4); // the view's last read, before the missed change
      await a.records.update(APP, user, bump('g'));
      await b.until('change 6', () => b.bodies(ch).includes('g:6'));
      assert.deepEqual(b.gaps.slice(gapBefore), [{ channel: ch, lastSeen: 4, n: 6 }]);
    });
  });
}

let single: RedisInstance | undefined;
let cluster: RedisClusterInstance | undefined;
before(async () => {
  if (skip) return;
  [single, cluster] = await Promise.all([startRedis(), startRedisCluster()]);
});
after(async () => {
  await Promise.all([single?.stop(), cluster?.stop()]);
});

suite('one Redis server', () => single!.url);
suite('a Redis Cluster of three masters (users spread over the masters by their hash tags)', () => cluster!.url);

test('users spread over every master of a Redis Cluster: each record and its channel share one slot', { skip }, async () => {
  const keys = new UserKeys('spread');
  const client = createRedis(cluster!.url, 'spread');
  await connectRedis(client);
  try {
    const slots = new Set<number>();
    for (let i = 0; i < 64; i++) {
      const slot = Number(await client.call('CLUSTER', 'KEYSLOT', keys.record(APP, `u${i}`)));
      assert.equal(Number(await client.call('CLUSTER', 'KEYSLOT', keys.channel(APP, `u${i}`))), slot);
      slots.add(Math.floor(slot / 5462));
    }
    assert.equal(slots.size, 3, 'the three masters each own some of the users');
    // A '}' in a user id cannot move the record out of the user's own slot.
    assert.equal(Number(await client.call('CLUSTER', 'KEYSLOT', keys.record(APP, 'a}b'))), Number(await client.call('CLUSTER', 'KEYSLOT', keys.channel(APP, 'a}b'))));
  } finally {
    client.disconnect();
  }
});
