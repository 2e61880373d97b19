/**
 * The SQL store survives its database going away (a PostgreSQL restart, a network loss): a batch
 * that fails is written again, in order, until it lands; `flush` waits meanwhile, `healthy()` is
 * false, and nothing acknowledged or queued is lost. The shared PostgreSQL cannot be restarted
 * from a test, so a TCP proxy between the store and it is cut instead.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Mutation } from '../engine/types.js';
import { openPostgres, openSqlite } from './sql.js';
import { PG_URL, dropSchema, freshSchema, postgresSkip } from '../testing/postgres.js';
import { TcpProxy } from '../testing/tcp-proxy.js';

const APP = 1400000001;
const cleanups: Array<() => Promise<void>> = [];
after(async () => {
  for (const c of cleanups.reverse()) await c();
});

const account = (userID: string, key: string): Mutation => ({ t: 'account', app: APP, userID, loginKeys: [key], kickedAt: 0, offlineSince: 0 });

/** Polls a condition the store reaches on its own, with a deadline. */
async function eventually(what: string, check: () => boolean, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`${what}: not reached within ${ms} ms`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** Tracks whether a promise has settled, without awaiting it. */
function watch(p: Promise<void>): { settled: () => boolean; error: () => unknown } {
  let settled = false;
  let error: unknown;
  p.then(
    () => (settled = true),
    (err: unknown) => {
      settled = true;
      error = err;
    },
  );
  return { settled: () => settled, error: () => error };
}

describe('store retry: PostgreSQL through a proxy', async () => {
  const skip = await postgresSkip('the store retry tests on PostgreSQL');

  test('a write that fails while the database is down goes again, in order, once it is back; flush waits, healthy() tells', { skip }, async () => {
    const schema = freshSchema('presently_retry');
    cleanups.push(() => dropSchema(schema));
    const { proxy, url } = await TcpProxy.forUrl(PG_URL);
    cleanups.push(() => proxy.close());
    const store = await openPostgres(url, { schema, retryMinMs: 20, retryMaxMs: 200 });
    cleanups.push(() => store.close());

    for (const u of ['a1', 'a2', 'a3']) store.persist(account(u, 'before'));
    store.persist({ t: 'subAdd', app: APP, userID: 'a1', target: 'a2', seq: 1 });
    await store.flush();
    assert.equal(store.healthy(), true);
    assert.equal(store.lastError(), null);

    proxy.down();
    for (const u of ['b1', 'b2', 'b3']) store.persist(account(u, 'during'));
    store.persist(account('a1', 'during')); // an update of a row written before
    store.persist({ t: 'friendAdd', app: APP, from: 'a1', to: 'b1', remark: '', groups: [], addSource: '', addTime: 1 });
    const first = watch(store.flush());
    await eventually('healthy() false while the database is down', () => !store.healthy());
    assert.ok(store.lastError() instanceof Error);

    // A later batch, queued while the first is being retried: it must land after it.
    await new Promise((resolve) => setImmediate(resolve));
    store.persist(account('a1', 'last'));
    store.persist({ t: 'subRemove', app: APP, userID: 'a1', target: 'a2' });
    store.persist(account('c1', 'during'));
    const second = watch(store.flush());
    // Several retries fail meanwhile (the proxy refuses every connection): nothing resolves.
    const refusedSince = proxy.accepted;
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.equal(proxy.accepted, refusedSince, 'no connection went through while down');
    assert.equal(first.settled(), false, 'flush waits while the write fails');
    assert.equal(second.settled(), false);
    assert.equal(store.healthy(), false);

    proxy.up();
    await eventually('both flushes resolve once the database is back', () => first.settled() && second.settled());
    assert.equal(first.error(), undefined);
    assert.equal(second.error(), undefined);
    assert.equal(store.healthy(), true);
    assert.equal(store.lastError(), null);

    const snap = await store.loadApp(APP);
    const keys = Object.fromEntries(snap.accounts.map((a) => [a.userID, a.loginKeys[0]]));
    assert.deepEqual(keys, { a1: 'last', a2: 'before', a3: 'before', b1: 'during', b2: 'during', b3: 'during', c1: 'during' }, 'every mutation, the later batch last');
    assert.deepEqual(
      snap.friends.map((f) => [f.from, f.to]),
      [['a1', 'b1']],
    );
    assert.deepEqual(snap.subscriptions, [], 'the removal queued during the outage came after the add');

    // Still a working store: a new write after the outage.
    store.persist(account('d1', 'after'));
    await store.flush();
    assert.equal((await store.loadApp(APP)).accounts.length, 8);
  });

  test('reads during an outage reject (callers retry); a second outage is survived too', { skip }, async () => {
    const schema = freshSchema('presently_retry');
    cleanups.push(() => dropSchema(schema));
    const { proxy, url } = await TcpProxy.forUrl(PG_URL);
    cleanups.push(() => proxy.close());
    const store = await openPostgres(url, { schema, retryMinMs: 20, retryMaxMs: 100 });
    cleanups.push(() => store.close());
    for (let round = 0; round < 2; round++) {
      proxy.down();
      await assert.rejects(store.loadApp(APP));
      await assert.rejects(store.getMeta('k'));
      store.persist(account(`r${round}`, 'x'));
      const f = watch(store.flush());
      await eventually('unhealthy', () => !store.healthy());
      proxy.up();
      await eventually('flushed', () => f.settled());
      assert.equal(f.error(), undefined);
      assert.equal(store.healthy(), true);
    }
    assert.deepEqual((await store.loadApp(APP)).accounts.map((a) => a.userID).sort(), ['r0', 'r1']);
  });

  test('close() ends when the database stays down: it gives up after its bound; the unwritten flush rejects', { skip }, async () => {
    const schema = freshSchema('presently_retry');
    cleanups.push(() => dropSchema(schema));
    const { proxy, url } = await TcpProxy.forUrl(PG_URL);
    cleanups.push(() => proxy.close());
    const store = await openPostgres(url, { schema, retryMinMs: 20, retryMaxMs: 100, closeTimeoutMs: 300 });
    store.persist(account('kept', 'x'));
    await store.flush();
    proxy.down();
    store.persist(account('lost', 'x'));
    const f = watch(store.flush());
    await eventually('unhealthy', () => !store.healthy());
    const t0 = Date.now();
    await store.close();
    assert.ok(Date.now() - t0 < 3000, `close took ${Date.now() - t0} ms`);
    await eventually('the abandoned flush settles', () => f.settled());
    assert.match(String(f.error()), /closed before the write could be committed/);

    proxy.up();
    const again = await openPostgres(url, { schema });
    cleanups.push(() => again.close());
    assert.deepEqual(
      (await again.loadApp(APP)).accounts.map((a) => a.userID),
      ['kept'],
    );
  });
});

describe('store retry: SQLite', () => {
  for (const writer of ['thread', 'main', 'kysely'] as const) {
    test(`healthy() is true and lastError() null in normal operation (${writer} writer)`, async () => {
      const dir = mkdtempSync(join(tmpdir(), 'presently-retry-'));
      cleanups.push(async () => rmSync(dir, { recursive: true, force: true }));
      const store = await openSqlite(writer === 'main' ? ':memory:' : join(dir, 'p.db'), { writer });
      assert.equal(store.healthy(), true);
      for (let i = 0; i < 50; i++) store.persist(account(`u${i}`, 'k'));
      await store.flush();
      assert.equal(store.healthy(), true);
      assert.equal(store.lastError(), null);
      assert.equal((await store.loadApp(APP)).accounts.length, 50);
      await store.close();
    });
  }
});
