/**
 * Webhooks in a cluster: several processes share one PostgreSQL outbox. Each writes its own
 * events; one at a time (the holder of the delivery lease) delivers them all, so each event is
 * sent once per cluster, not once per process; when the leader goes, another takes over what it
 * left. Two dispatchers on two stores (two pools, as two processes have) on one fresh schema.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pino } from 'pino';
import { normalizeApp, type AppSettings } from '../config/settings.js';
import type { PresenceEvent } from '../engine/types.js';
import { openPostgres, type SqlStore } from '../store/sql.js';
import { PG_URL, dropSchema, freshSchema, pgQuery, postgresSkip } from '../testing/postgres.js';
import { TcpProxy } from '../testing/tcp-proxy.js';
import { WebhookDispatcher } from './dispatcher.js';
import { SqlOutbox } from './outbox.js';

const APP = 1400000001;
type Sink = { ip: string };
const sink: Sink = { ip: '::ffff:10.0.0.7' };

const cleanups: Array<() => Promise<void>> = [];
after(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => undefined);
});

interface Hit {
  id: string;
  user: string;
  status: string;
  answer: number;
}

/** A receiver that answers `answer()` (200 unless changed) and records every request. */
async function receiver(): Promise<{ url: string; hits: Hit[]; answer: { code: number }; close: () => Promise<void> }> {
  const hits: Hit[] = [];
  const answer = { code: 200 };
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = JSON.parse(Buffer.concat(chunks).toString()) as { Info: { To_Account: string; CustomStatus: string } };
      const code = answer.code;
      hits.push({ id: String(req.headers['x-presently-event-id']), user: body.Info.To_Account, status: body.Info.CustomStatus, answer: code });
      res.writeHead(code).end('{"ActionStatus":"OK"}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/cb`,
    hits,
    answer,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** Polls a condition the cluster reaches on its own, with a deadline. */
async function eventually(what: string, check: () => boolean | Promise<boolean>, ms = 15_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`${what}: not reached within ${ms} ms`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

const status = (userID: string, customStatus: string): PresenceEvent<Sink> => ({ type: 'customStatus', userID, platform: 'Web', sink, customStatus });

interface Node {
  store: SqlStore;
  d: WebhookDispatcher<Sink>;
  close(): Promise<void>;
}

/** One "process": its own store (pool) and dispatcher on the shared schema. */
async function node(url: string, schema: string, settings: AppSettings): Promise<Node> {
  const store = await openPostgres(url, { schema, retryMinMs: 20, retryMaxMs: 100, closeTimeoutMs: 1000 });
  const d = new WebhookDispatcher<Sink>({
    backend: new SqlOutbox(store),
    settingsOf: () => settings,
    remoteAddressOf: (s) => s.ip,
    log: pino({ level: 'silent' }),
    // Retries within 100 ms: quick, yet far from the 100 attempts (WEBHOOK_BOUNDS) that would turn
    // an event the receiver refuses for a while into a dead letter.
    options: { backoffBaseMs: 10, backoffCapMs: 100, leaderRetryMs: 100, pollMs: 50, writeRetryMs: 50 },
    // The receiver listens on loopback, which the egress policy refuses unless allowed.
    allowNetworks: ['127.0.0.1/32'],
  });
  let closed = false;
  const n: Node = {
    store,
    d,
    async close() {
      if (closed) return;
      closed = true;
      await d.close();
      await store.close();
    },
  };
  cleanups.push(() => n.close());
  return n;
}

/** Per user, the statuses answered 200, in the order they arrived. */
function delivered(hits: Hit[]): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const h of hits) {
    if (h.answer !== 200) continue;
    out.set(h.user, [...(out.get(h.user) ?? []), h.status]);
  }
  return out;
}

function assertOncePerId(hits: Hit[]): void {
  const ok = hits.filter((h) => h.answer === 200).map((h) => h.id);
  assert.equal(new Set(ok).size, ok.length, 'no event was delivered (answered 200) twice');
}

describe('webhooks in a cluster (one PostgreSQL outbox, two processes)', async () => {
  const skip = await postgresSkip('webhook delivery in a cluster');

  test('shared outbox: seqs come from the database, unique across processes, one batch in a row, above rows written before', { skip }, async () => {
    const schema = freshSchema('presently_whc');
    cleanups.push(() => dropSchema(schema));
    // An outbox of an older version: rows, no sequence. Both processes start (and migrate) at
    // once; the next seq continues above those rows.
    await pgQuery(`CREATE SCHEMA ${schema}`);
    await pgQuery(`SET search_path = ${schema};
      CREATE TABLE webhook_outbox (id text primary key, seq bigint not null, app bigint not null, user_id text not null, query text not null,
        body text not null, status text default 'pending' not null, attempts integer default 0 not null, next_at bigint default 0 not null,
        last_error text default '' not null, created_at bigint not null, updated_at bigint not null);
      INSERT INTO webhook_outbox (id, seq, app, user_id, query, body, status, attempts, next_at, last_error, created_at, updated_at)
        VALUES ('old', 41, ${APP}, 'u', 'q', '{}', 'pending', 0, 0, '', 1, 1)`);
    const stores = await Promise.all([openPostgres(PG_URL, { schema }), openPostgres(PG_URL, { schema })]);
    cleanups.push(async () => {
      for (const st of stores) await st.close();
    });
    const [o1, o2] = stores.map((st) => new SqlOutbox(st)) as [SqlOutbox, SqlOutbox];
    assert.equal(o1.shared, true);
    await Promise.all([o1.migrate(), o2.migrate()]);
    const old = { id: 'old', seq: 41, app: APP, userID: 'u', query: 'q', body: '{}', attempts: 0, nextAt: 0, createdAt: 1 };

    const batches = Array.from({ length: 40 }, (_, b) => Array.from({ length: 5 }, (_, i) => ({ ...old, id: `b${b}-${i}`, seq: 0, userID: `u${b % 3}` })));
    // Both "processes" write at once.
    await Promise.all(batches.map((rows, b) => (b % 2 ? o1 : o2).write(rows.map((row) => ({ t: 'insert' as const, row })))));
    for (const rows of batches) {
      const seqs = rows.map((r) => r.seq);
      assert.deepEqual(
        seqs,
        seqs.map((_, i) => seqs[0]! + i),
        'a batch takes consecutive seqs, in its order',
      );
    }
    const all = await o2.loadPending(0, 1000);
    assert.equal(all.length, 201);
    assert.equal(new Set(all.map((r) => r.seq)).size, 201, 'unique');
    assert.equal(all[0]!.id, 'old');
    assert.ok(all[1]!.seq > 41, 'the sequence continues above the rows written before it');
    const bySeq = new Map(batches.flat().map((r) => [r.id, r.seq]));
    for (const r of all.slice(1)) assert.equal(r.seq, bySeq.get(r.id), 'the seq set on the row is the one stored');
  });

  test('each event once per cluster, per-user order kept; the leader gone, the other delivers what it left', { skip }, async () => {
    const schema = freshSchema('presently_whc');
    cleanups.push(() => dropSchema(schema));
    const r = await receiver();
    cleanups.push(r.close);
    const settings = normalizeApp({ SDKAppID: APP, secretKey: 'test-secret-key-0123456789', webhook: { url: r.url, timeoutMs: 2000, maxAttempts: 100 } });
    const a = await node(PG_URL, schema, settings);
    const b = await node(PG_URL, schema, settings);

    a.d.start();
    await eventually('a leads', () => a.d.stats().leader);
    b.d.start();
    // b tries the lease every 100 ms: it must keep failing while a holds it.
    await new Promise((resolve) => setTimeout(resolve, 350));
    assert.equal(b.d.stats().leader, false, 'one leader at a time');

    // Events of each user alternate between the two processes, a round committed before the next
    // (as a user's events are, when they land on different processes).
    const users = ['c-a', 'c-b', 'c-c', 'c-d', 'c-e'];
    const rounds = 20;
    for (let i = 0; i < rounds; i++) {
      users.forEach((u, k) => ((i + k) % 2 === 0 ? a : b).d.onEvent(settings, status(u, `${i}`)));
      await Promise.all([a.d.flush(), b.d.flush()]);
    }
    await eventually('every event delivered', () => r.hits.length >= users.length * rounds);
    await eventually('every delivery recorded', () => a.d.stats().delivered === users.length * rounds);
    assert.equal(r.hits.length, users.length * rounds, 'nothing sent twice');
    assertOncePerId(r.hits);
    const byUser = delivered(r.hits);
    for (const u of users)
      assert.deepEqual(
        byUser.get(u),
        Array.from({ length: rounds }, (_, i) => `${i}`),
        u,
      );
    assert.equal(b.d.stats().delivered, 0, 'only the leader delivers');
    assert.equal(b.d.stats().inFlight, 0);

    // The receiver fails for a while: a's own new events (and b's) stay pending, a keeps retrying.
    r.answer.code = 503;
    const before = r.hits.length;
    for (let i = 0; i < 5; i++) {
      for (const u of users) a.d.onEvent(settings, status(u, `late-${i}`));
      b.d.onEvent(settings, status('c-b-only', `late-${i}`));
      await Promise.all([a.d.flush(), b.d.flush()]);
    }
    await eventually('a tried and failed', () => r.hits.length > before);
    assert.equal(await new SqlOutbox(b.store).count('pending'), users.length * 5 + 5);

    // a goes (its connection, and so its lease, with it); b takes over and delivers what a left.
    await a.close();
    r.answer.code = 200;
    await eventually('b leads', () => b.d.stats().leader);
    await eventually('b delivered everything left', () => b.d.stats().delivered === users.length * 5 + 5);
    assertOncePerId(r.hits);
    const late = delivered(r.hits.slice(before));
    for (const u of [...users, 'c-b-only'])
      assert.deepEqual(
        late.get(u),
        Array.from({ length: 5 }, (_, i) => `late-${i}`),
        u,
      );
    // The counter moves when the reply comes; the row goes once that outcome is committed.
    await eventually('every delivery recorded', async () => (await new SqlOutbox(b.store).count('pending')) === 0);
    await b.close();
  });

  test('a leader whose connection is cut stops delivering at once; the other takes over, and gets its rows once it is back', { skip }, async () => {
    const schema = freshSchema('presently_whc');
    cleanups.push(() => dropSchema(schema));
    const r = await receiver();
    cleanups.push(r.close);
    const settings = normalizeApp({ SDKAppID: APP, secretKey: 'test-secret-key-0123456789', webhook: { url: r.url, timeoutMs: 2000, maxAttempts: 100 } });
    const { proxy, url } = await TcpProxy.forUrl(PG_URL);
    cleanups.push(() => proxy.close());
    const a = await node(url, schema, settings); // a reaches PostgreSQL through the proxy
    const b = await node(PG_URL, schema, settings);
    a.d.start();
    await eventually('a leads', () => a.d.stats().leader);
    b.d.start();

    // One user's events on two processes, one after the other: delivered in commit order.
    a.d.onEvent(settings, status('x', '0'));
    await a.d.flush();
    b.d.onEvent(settings, status('x', '1'));
    await b.d.flush();
    await eventually('delivered by a', () => a.d.stats().delivered === 2);
    // …and recorded (a delivery whose record did not land is sent again by the next leader:
    // at-least-once, by design).
    const outboxB = new SqlOutbox(b.store);
    await eventually('deliveries recorded', async () => (await outboxB.count('pending')) === 0);

    proxy.down();
    await eventually('a no longer leads', () => !a.d.stats().leader, 2000);
    await eventually('b leads', () => b.d.stats().leader, 5000);
    // a cannot write while cut off: its events wait in its memory, b's go out.
    a.d.onEvent(settings, status('y', 'from-a'));
    b.d.onEvent(settings, status('x', '2'));
    await eventually('b delivered its own', () => b.d.stats().delivered === 1);
    // a's event is in a's memory (queued, or in the write being retried): not in the outbox.
    assert.equal(
      r.hits.some((h) => h.user === 'y'),
      false,
    );

    proxy.up();
    await eventually("a's event written once a is back, and delivered by b", () => b.d.stats().delivered === 2);
    assert.equal(a.d.stats().leader, false, 'b keeps the lease');
    assertOncePerId(r.hits);
    assert.deepEqual(
      r.hits.map((h) => `${h.user}:${h.status}`),
      ['x:0', 'x:1', 'x:2', 'y:from-a'],
    );
    await a.close();
    await b.close();
  });
});
