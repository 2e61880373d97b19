/**
 * Webhook units: the callback format, backoff, signatures, the outbox contract (memory, SQLite,
 * PostgreSQL) and the dispatcher against an in-process receiver. End to end: tests/webhooks.test.ts.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { ErrorCode, PresentlyError } from '@presently/protocol';
import { ConfigError, WEBHOOK_BOUNDS, normalizeApp, type AppSettings } from '../config/settings.js';
import { mergeChange } from '../rest/settings.js';
import type { PresenceEvent } from '../engine/types.js';
import { openPostgres, openSqlite } from '../store/sql.js';
import { WebhookDispatcher } from './dispatcher.js';
import { callbackUrl, clientIP, formatStateChange } from './format.js';
import { backoffDelay, resolveWebhookOptions } from './options.js';
import { MemoryOutbox, SqlOutbox, type OutboxBackend, type OutboxRow } from './outbox.js';
import { signBody, verifySignature } from './signature.js';
import { PG_URL, dropSchema, freshSchema, postgresSkip } from '../testing/postgres.js';

const APP = 1400000001;
type Sink = { ip: string };
const sink: Sink = { ip: '::ffff:10.0.0.7' };

// ---- format ----------------------------------------------------------------------------------------

test('each engine event maps to its Action/Reason, query and body (compat.md §4)', () => {
  const cases: Array<[PresenceEvent<Sink>, Record<string, unknown>, string, string]> = [
    [{ type: 'login', userID: 'u', platform: 'Web', sink, kicked: [] }, { Action: 'Login', To_Account: 'u', Reason: 'Register' }, 'Web', '10.0.0.7'],
    [{ type: 'logout', userID: 'u', platform: 'Android', sink }, { Action: 'Logout', To_Account: 'u', Reason: 'Unregister' }, 'Android', '10.0.0.7'],
    [{ type: 'disconnect', userID: 'u', platform: 'Mac', sink, reason: 'close' }, { Action: 'Disconnect', To_Account: 'u', Reason: 'LinkClose' }, 'Mac', '10.0.0.7'],
    [{ type: 'disconnect', userID: 'u', platform: 'Windows', sink, reason: 'timeout' }, { Action: 'Disconnect', To_Account: 'u', Reason: 'TimeOut' }, 'PC', '10.0.0.7'],
    [
      { type: 'customStatus', userID: 'u', platform: 'iPad', sink, customStatus: '' },
      { Action: 'CustomStatusChange', To_Account: 'u', Reason: 'SetCustomStatus', CustomStatus: '' },
      'iPad',
      '10.0.0.7',
    ],
    [{ type: 'adminKick', userID: 'u', platforms: ['Web'] }, { Action: 'Logout', To_Account: 'u', Reason: 'Kicked' }, 'RESTAPI', ''],
  ];
  for (const [e, Info, OptPlatform, ClientIP] of cases) {
    const f = formatStateChange(APP, e, 'sink' in e ? e.sink.ip : '', 1629883332497);
    assert.deepEqual(JSON.parse(f.body), { CallbackCommand: 'State.StateChange', EventTime: 1629883332497, Info }, e.type);
    assert.deepEqual(Object.fromEntries(new URLSearchParams(f.query)), {
      SdkAppid: String(APP),
      CallbackCommand: 'State.StateChange',
      contenttype: 'json',
      ClientIP,
      OptPlatform,
    });
  }
});

test('KickedDevice only on a login that kicked, with REST platform names', () => {
  const f = formatStateChange(APP, { type: 'login', userID: 'u', platform: 'Windows', sink, kicked: ['Windows', 'Web'] }, '1.2.3.4', 1);
  assert.equal(
    f.body,
    '{"CallbackCommand":"State.StateChange","EventTime":1,"Info":{"Action":"Login","To_Account":"u","Reason":"Register"},"KickedDevice":[{"Platform":"PC"},{"Platform":"Web"}]}',
  );
});

test('callbackUrl keeps the receiver URL query; clientIP unwraps IPv4-mapped addresses only', () => {
  assert.equal(callbackUrl('https://h.example/cb', 'a=1&b=2'), 'https://h.example/cb?a=1&b=2');
  assert.equal(callbackUrl('https://h.example/cb?k=v', 'a=1'), 'https://h.example/cb?k=v&a=1');
  assert.equal(clientIP('::ffff:127.0.0.1'), '127.0.0.1');
  assert.equal(clientIP('::1'), '::1');
  assert.equal(clientIP('2001:db8::1'), '2001:db8::1');
});

// ---- backoff and options ---------------------------------------------------------------------------

test('backoff: full jitter under a doubling ceiling with a cap', () => {
  const top = () => 0.999999;
  assert.equal(
    backoffDelay(1, 1000, 60_000, () => 0),
    0,
  );
  assert.deepEqual(
    [1, 2, 3, 4].map((n) => backoffDelay(n, 1000, 60_000, top)),
    [999, 1999, 3999, 7999],
  );
  assert.equal(backoffDelay(30, 1000, 60_000, top), 59_999);
  assert.equal(backoffDelay(10_000, 1000, 60_000, top), 59_999, 'no overflow for large counts');
  for (let i = 0; i < 200; i++) {
    const d = backoffDelay(3, 100, 10_000);
    assert.ok(d >= 0 && d < 400);
  }
});

test('options: defaults, then environment, then explicit; invalid values refused by name', () => {
  assert.equal(resolveWebhookOptions({}, {}).backoffBaseMs, 1000);
  assert.equal(resolveWebhookOptions({}, { PRESENTLY_WEBHOOK_BACKOFF_BASE_MS: '20' }).backoffBaseMs, 20);
  assert.equal(resolveWebhookOptions({ backoffBaseMs: 5 }, { PRESENTLY_WEBHOOK_BACKOFF_BASE_MS: '20' }).backoffBaseMs, 5);
  assert.throws(() => resolveWebhookOptions({}, { PRESENTLY_WEBHOOK_CONCURRENCY: '0' }), /PRESENTLY_WEBHOOK_CONCURRENCY: must be a positive integer/);
  assert.throws(() => resolveWebhookOptions({ backoffBaseMs: 10, backoffCapMs: 5 }, {}), /backoffCapMs/);
});

// ---- signature -------------------------------------------------------------------------------------

test('signature: HMAC-SHA256 over "timestamp.body"; checked with a tolerance', () => {
  const body = '{"CallbackCommand":"State.StateChange"}';
  const sig = signBody('s3cret', '1700000000', body);
  assert.equal(sig, `sha256=${createHmac('sha256', 's3cret').update(`1700000000.${body}`).digest('hex')}`);
  const ok = { secret: 's3cret', timestamp: '1700000000', signature: sig, body, nowSec: 1700000100 };
  assert.equal(verifySignature(ok), true);
  assert.equal(verifySignature({ ...ok, secret: 'other' }), false);
  assert.equal(verifySignature({ ...ok, body: `${body} ` }), false);
  assert.equal(verifySignature({ ...ok, timestamp: '1700000001' }), false);
  assert.equal(verifySignature({ ...ok, nowSec: 1700000301 }), false, 'older than 5 minutes');
  assert.equal(verifySignature({ ...ok, signature: undefined }), false);
});

// ---- outbox contract -------------------------------------------------------------------------------

interface Backend {
  name: string;
  open(): Promise<{ outbox: OutboxBackend; reopen(): Promise<OutboxBackend>; close: () => Promise<void> }>;
}

const cleanups: Array<() => Promise<void>> = [];
after(async () => {
  for (const c of cleanups.reverse()) await c();
});

const backends: Backend[] = [
  {
    name: 'memory',
    async open() {
      const outbox = new MemoryOutbox();
      return { outbox, reopen: async () => outbox, close: async () => undefined };
    },
  },
  {
    name: 'sqlite',
    async open() {
      const dir = mkdtempSync(join(tmpdir(), 'presently-outbox-'));
      const file = join(dir, 'p.db');
      const stores = [await openSqlite(file)];
      return {
        outbox: new SqlOutbox(stores[0]!),
        async reopen() {
          await stores.at(-1)!.close();
          stores.push(await openSqlite(file));
          return new SqlOutbox(stores.at(-1)!);
        },
        async close() {
          await stores.at(-1)!.close();
          rmSync(dir, { recursive: true, force: true });
        },
      };
    },
  },
  {
    name: 'postgres',
    async open() {
      const schema = freshSchema('presently_wh');
      const stores = [await openPostgres(PG_URL, { schema })];
      return {
        outbox: new SqlOutbox(stores[0]!),
        async reopen() {
          await stores.at(-1)!.close();
          stores.push(await openPostgres(PG_URL, { schema }));
          return new SqlOutbox(stores.at(-1)!);
        },
        async close() {
          await stores.at(-1)!.close();
          await dropSchema(schema);
        },
      };
    },
  },
];

function row(seq: number, userID = 'u', over: Partial<OutboxRow> = {}): OutboxRow {
  return { id: `id-${seq}`, seq, app: APP, userID, query: `q=${seq}`, body: `{"n":${seq}}`, attempts: 0, nextAt: 0, createdAt: 1000 + seq, ...over };
}

for (const b of backends) {
  describe(`outbox contract: ${b.name}`, async () => {
    const skip = b.name === 'postgres' ? await postgresSkip('the webhook outbox contract on PostgreSQL') : false;

    test('rows come back pending, in seq order, above the cursor; outcomes apply', { skip }, async () => {
      const h = await b.open();
      cleanups.push(h.close);
      const o = h.outbox;
      await o.migrate();
      await o.migrate(); // idempotent
      assert.equal(await o.maxSeq(), 0);
      await o.write([1, 2, 3, 4, 5].map((n) => ({ t: 'insert' as const, row: row(n, n % 2 ? 'odd' : 'even') })));
      await o.write([{ t: 'insert', row: row(1) }]); // written again after an ambiguous failure: no error, no change
      assert.deepEqual(
        (await o.loadPending(0, 10)).map((r) => r.seq),
        [1, 2, 3, 4, 5],
      );
      assert.deepEqual(await o.loadPending(2, 2), [row(3, 'odd'), row(4, 'even')]);

      await o.write([
        { t: 'delete', id: 'id-1' },
        { t: 'retry', id: 'id-2', attempts: 1, nextAt: 9999, error: 'HTTP 500', at: 2000 },
        { t: 'dead', id: 'id-3', attempts: 8, error: 'no reply within 2000 ms', at: 3000 },
      ]);
      const o2 = await h.reopen();
      assert.equal(await o2.maxSeq(), 5, 'a dead letter still counts for the next seq');
      assert.deepEqual(await o2.loadPending(0, 10), [row(2, 'even', { attempts: 1, nextAt: 9999 }), row(4, 'even'), row(5, 'odd')]);
      assert.equal(await o2.count('pending'), 3);
      assert.equal(await o2.count('dead'), 1);
      assert.deepEqual(await o2.deadLetters({ limit: 10 }), [
        { id: 'id-3', app: APP, userID: 'odd', query: 'q=3', body: '{"n":3}', attempts: 8, lastError: 'no reply within 2000 ms', createdAt: 1003, deadAt: 3000 },
      ]);
      assert.deepEqual(await o2.deadLetters({ app: APP + 1, limit: 10 }), []);
    });
  });
}

// ---- dispatcher ------------------------------------------------------------------------------------

interface Hit {
  url: string;
  body: { Info: { To_Account: string; CustomStatus?: string } };
  attempt: number;
}

/** An in-process receiver; `reply` decides each answer ('hang' never answers). */
async function receiver(
  reply: (h: Hit) => number | 'hang',
): Promise<{ url: string; hits: Hit[]; until(n: number): Promise<void>; close: () => Promise<void>; set(r: typeof reply): void }> {
  const hits: Hit[] = [];
  let waiters: Array<() => void> = [];
  let decide = reply;
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const hit: Hit = { url: req.url ?? '', body: JSON.parse(Buffer.concat(chunks).toString()) as Hit['body'], attempt: Number(req.headers['x-presently-attempt']) };
      const answer = decide(hit);
      if (answer !== 'hang') res.writeHead(answer).end('{"ActionStatus":"OK"}');
      hits.push(hit);
      for (const w of waiters) w();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/cb`;
  return {
    url,
    hits,
    set: (r) => (decide = r),
    until: (n) =>
      new Promise<void>((resolve) => {
        const check = (): void => {
          if (hits.length < n) return;
          waiters = waiters.filter((w) => w !== check);
          resolve();
        };
        waiters.push(check);
        check();
      }),
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

function settingsWith(webhook: Record<string, unknown> | undefined): AppSettings {
  return normalizeApp({ SDKAppID: APP, secretKey: 'test-secret-key-0123456789', ...(webhook ? { webhook } : {}) });
}

function dispatcher(backend: OutboxBackend, settings: { current: AppSettings | undefined }, options = {}): WebhookDispatcher<Sink> {
  return new WebhookDispatcher<Sink>({
    backend,
    settingsOf: () => settings.current,
    remoteAddressOf: (s) => s.ip,
    log: pino({ level: 'silent' }),
    options: { backoffBaseMs: 5, backoffCapMs: 20, ...options },
    // The receivers listen on loopback, which the egress policy refuses unless allowed.
    allowNetworks: ['127.0.0.1/32'],
  });
}

/** Polls a condition the dispatcher reaches on its own (the receiver cannot see it). */
async function eventually(check: () => boolean): Promise<void> {
  const deadline = Date.now() + 5000;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('condition not reached within 5 s');
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

const status = (userID: string, customStatus: string): PresenceEvent<Sink> => ({ type: 'customStatus', userID, platform: 'Web', sink, customStatus });

test('dispatcher: a reply that never comes is a timeout; the event is retried, then dead-lettered', async () => {
  const r = await receiver(() => 'hang');
  cleanups.push(r.close);
  const s = { current: settingsWith({ url: r.url, timeoutMs: 100, maxAttempts: 2 }) };
  const d = dispatcher(new MemoryOutbox(), s);
  d.start();
  d.onEvent(s.current, status('t-u', 'x'));
  await r.until(2);
  r.set(() => 200);
  d.onEvent(s.current, status('t-u', 'y'));
  await r.until(3);
  await eventually(() => d.stats().delivered === 1);
  const dead = await d.deadLetters();
  assert.equal(dead.length, 1);
  assert.equal(dead[0]!.lastError, 'timeout');
  assert.equal(dead[0]!.attempts, 2);
  assert.deepEqual(
    d.recentAttempts().map((a) => [a.attempt, a.outcome]),
    [
      [1, 'delivered'],
      [2, 'dead'],
      [1, 'retry'],
    ],
  );
  await d.close();
});

test('dispatcher: settings are read at each attempt (a new URL applies to pending events; no webhook is a dead letter)', async () => {
  const old = await receiver(() => 500);
  const next = await receiver(() => 200);
  cleanups.push(old.close, next.close);
  const s = { current: settingsWith({ url: old.url, timeoutMs: 1000, maxAttempts: 100 }) };
  const d = dispatcher(new MemoryOutbox(), s);
  d.start();
  d.onEvent(s.current, status('s-u', 'a'));
  await old.until(1);
  s.current = settingsWith({ url: next.url, timeoutMs: 1000, maxAttempts: 100 });
  await next.until(1);
  assert.equal(next.hits[0]!.body.Info.CustomStatus, 'a');
  assert.ok(next.hits[0]!.attempt >= 2);

  const withHook = s.current;
  d.onEvent(withHook, status('s-u', 'b'));
  s.current = settingsWith(undefined);
  // The event was queued while the app had a webhook; by delivery time it has none.
  await eventually(() => d.stats().deadLettered === 1);
  await d.flush(); // the dead letter's record is queued with the counter; written by now
  assert.equal((await d.deadLetters())[0]!.lastError, 'the app has no webhook configured');
  d.onEvent(s.current, status('s-u', 'c')); // no webhook: not even queued
  assert.equal(d.stats().queued, 0);
  await d.close();
});

test('dispatcher: with little memory the outbox is read in pages; order per user holds; a second run delivers what the first left', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'presently-wh-'));
  const file = join(dir, 'p.db');
  cleanups.push(async () => rmSync(dir, { recursive: true, force: true }));
  const r = await receiver(() => 503);
  cleanups.push(r.close);
  const s = { current: settingsWith({ url: r.url, timeoutMs: 1000, maxAttempts: 100 }) };

  const store1 = await openSqlite(file);
  const d1 = dispatcher(new SqlOutbox(store1), s, { maxInMemory: 4, concurrency: 2 });
  d1.start();
  const users = ['p-a', 'p-b', 'p-c'];
  for (let i = 0; i < 20; i++) for (const u of users) d1.onEvent(s.current, status(u, `${i}`));
  await r.until(3);
  assert.ok(d1.stats().inMemory <= 4);
  assert.equal(d1.stats().backlog, true);
  await d1.close();
  await store1.close();

  r.set(() => 200);
  const store2 = await openSqlite(file);
  const d2 = dispatcher(new SqlOutbox(store2), s, { maxInMemory: 4, concurrency: 2 });
  d2.start();
  const firstOk = r.hits.length;
  await r.until(firstOk + 60);
  // Every request of the second run was answered 200: each event exactly once, in order.
  for (const u of users) {
    const got = r.hits
      .slice(firstOk)
      .filter((h) => h.body.Info.To_Account === u)
      .map((h) => h.body.Info.CustomStatus);
    assert.deepEqual(
      got,
      Array.from({ length: 20 }, (_, i) => `${i}`),
      u,
    );
  }
  await eventually(() => d2.stats().delivered === 60);
  await d2.close();
  assert.equal(await new SqlOutbox(store2).count('pending'), 0, 'every delivery recorded before close');
  await store2.close();
});

// ---- isolation between apps ------------------------------------------------------------------------

const APP_A = APP;
const APP_B = APP + 1;

/** A dispatcher for apps A and B, each with its own receiver URL. */
function twoApps(urlA: string, urlB: string, hook: Record<string, unknown>, options = {}): { d: WebhookDispatcher<Sink>; a: AppSettings; b: AppSettings } {
  const a = normalizeApp({ SDKAppID: APP_A, secretKey: 'test-secret-key-0123456789', webhook: { url: urlA, ...hook } });
  const b = normalizeApp({ SDKAppID: APP_B, secretKey: 'test-secret-key-0123456789', webhook: { url: urlB, ...hook } });
  const d = new WebhookDispatcher<Sink>({
    backend: new MemoryOutbox(),
    settingsOf: (app) => (app === APP_A ? a : app === APP_B ? b : undefined),
    remoteAddressOf: (s) => s.ip,
    log: pino({ level: 'silent' }),
    options: { backoffBaseMs: 5, backoffCapMs: 20, ...options },
    allowNetworks: ['127.0.0.1/32'],
  });
  return { d, a, b };
}

test("isolation: app A's endpoint that never answers holds only A's slots; B's events go at once while all of A's are still pending", { timeout: 20_000 }, async () => {
  const ra = await receiver(() => 'hang');
  const rb = await receiver(() => 200);
  cleanups.push(ra.close, rb.close);
  // The default options (32 slots, 8 per app); A's timeout (30 s) is far beyond this test's.
  const { d, a, b } = twoApps(ra.url, rb.url, { timeoutMs: 30_000, maxAttempts: 100 });
  d.start();
  // 40 users of A, each with an event: without a cap per app they would take every slot.
  for (let i = 0; i < 40; i++) d.onEvent(a, status(`a-${i}`, 'x'));
  await ra.until(8);
  await d.flush();
  for (let i = 0; i < 20; i++) d.onEvent(b, status(`b-${i}`, 'y'));
  await rb.until(20);
  await eventually(() => d.stats().delivered === 20);
  // Every one of A's requests is still hanging: none has finished (no attempt recorded for A),
  // and A never had more than its own slots.
  assert.equal(d.recentAttempts({ app: APP_A }).length, 0, "none of A's attempts has ended");
  assert.equal(ra.hits.length, 8, 'A holds exactly its 8 slots');
  assert.equal(d.stats().inFlight, 8);
  assert.deepEqual(new Set(rb.hits.map((h) => h.body.Info.To_Account)).size, 20);
  await d.close();
});

test('isolation: apps take free slots in turn (round robin), each within its cap', { timeout: 20_000 }, async () => {
  const ra = await receiver(() => 'hang');
  const rb = await receiver(() => 'hang');
  cleanups.push(ra.close, rb.close);
  const { d, a, b } = twoApps(ra.url, rb.url, { timeoutMs: 30_000, maxAttempts: 100 }, { concurrency: 6, appConcurrency: 4 });
  d.start();
  // One batch, A's events all before B's: B still gets half of the slots, not what A leaves.
  for (let i = 0; i < 10; i++) d.onEvent(a, status(`a-${i}`, 'x'));
  for (let i = 0; i < 10; i++) d.onEvent(b, status(`b-${i}`, 'x'));
  await ra.until(3);
  await rb.until(3);
  assert.equal(d.stats().inFlight, 6);
  assert.deepEqual([ra.hits.length, rb.hits.length], [3, 3]);
  await d.close();
});

test("isolation: app A's failures never push app B's attempts out of B's history", async () => {
  const ra = await receiver(() => 500);
  const rb = await receiver(() => 200);
  cleanups.push(ra.close, rb.close);
  const { d, a, b } = twoApps(ra.url, rb.url, { timeoutMs: 1000, maxAttempts: 1 }, { recentAttempts: 5 });
  d.start();
  d.onEvent(b, status('b-1', 'ok'));
  await eventually(() => d.stats().delivered === 1);
  for (let i = 0; i < 30; i++) d.onEvent(a, status(`a-${i}`, 'x'));
  await eventually(() => d.stats().deadLettered === 30);
  const bs = d.recentAttempts({ app: APP_B });
  assert.deepEqual(
    bs.map((r) => [r.userID, r.outcome, r.status, r.error]),
    [['b-1', 'delivered', 200, '']],
  );
  const as = d.recentAttempts({ app: APP_A });
  assert.equal(as.length, 5, "A's own ring is bounded");
  assert.ok(as.every((r) => r.error === 'HTTP 500' && r.outcome === 'dead'));
  // Every app's together, newest first: the latest of A, within the limit.
  assert.deepEqual(d.recentAttempts({ limit: 3 }), as.slice(0, 3));
  await d.close();
});

// ---- bounds ----------------------------------------------------------------------------------------

test('bounds: timeoutMs and maxAttempts outside their range are refused by the config and the settings API; appConcurrency is an option', () => {
  const app = (webhook: Record<string, unknown>) =>
    normalizeApp({ SDKAppID: APP, secretKey: 'test-secret-key-0123456789', webhook: { url: 'https://hooks.example/p', ...webhook } }, 'apps[0]');
  for (const timeoutMs of [0, 99, 30_001, 99_999_999_999, 1.5, '2000']) {
    assert.throws(() => app({ timeoutMs }), new ConfigError('apps[0].webhook.timeoutMs: must be an integer from 100 to 30000'), String(timeoutMs));
  }
  for (const maxAttempts of [0, 101, 1e9, -1]) {
    assert.throws(() => app({ maxAttempts }), new ConfigError('apps[0].webhook.maxAttempts: must be an integer from 1 to 100'), String(maxAttempts));
  }
  assert.deepEqual([app({ timeoutMs: 100 }).webhook?.timeoutMs, app({ timeoutMs: 30_000 }).webhook?.timeoutMs], [WEBHOOK_BOUNDS.timeoutMs.min, WEBHOOK_BOUNDS.timeoutMs.max]);
  assert.deepEqual(
    [app({ maxAttempts: 1 }).webhook?.maxAttempts, app({ maxAttempts: 100 }).webhook?.maxAttempts],
    [WEBHOOK_BOUNDS.maxAttempts.min, WEBHOOK_BOUNDS.maxAttempts.max],
  );
  // The settings API validates with the same function: 70402 naming the field.
  const current = app({});
  for (const [webhook, field] of [
    [{ timeoutMs: 99_999_999_999 }, 'timeoutMs'],
    [{ maxAttempts: 1000 }, 'maxAttempts'],
  ] as const) {
    assert.throws(
      () => mergeChange(current, { webhook }),
      (err: unknown) => err instanceof PresentlyError && err.code === ErrorCode.INVALID_PARAMETERS && err.message.startsWith(`Settings.webhook.${field}: must be an integer from`),
    );
  }
  assert.equal(resolveWebhookOptions({}, {}).appConcurrency, 8);
  assert.equal(resolveWebhookOptions({}, { PRESENTLY_WEBHOOK_APP_CONCURRENCY: '2' }).appConcurrency, 2);
  assert.throws(() => resolveWebhookOptions({}, { PRESENTLY_WEBHOOK_APP_CONCURRENCY: '0' }), /PRESENTLY_WEBHOOK_APP_CONCURRENCY: must be a positive integer/);
});
