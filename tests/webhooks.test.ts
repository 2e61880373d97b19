/**
 * Webhooks end to end (S29, compat.md §4, the webhooks issue): a real HTTP receiver started here
 * and real server processes. Every event type with its exact body and query; per-user order under
 * load; a receiver down for a while; a server killed mid-retry; dead letters; signatures; a
 * receiver that never answers does not slow status changes. The egress policy: a receiver on
 * loopback is refused (no connection, `egress refused` in get_webhook_log) unless the server's
 * allow-list has it; out-of-range timeouts and attempts are refused by the settings API.
 */
import { after, afterEach, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import Presently from '@presently/client';
import { APP, appConfig, startServer, type AppOverrides, type TestServer } from './helpers/server.js';
import { RawPeer } from './helpers/raw.js';
import { rest } from './helpers/rest.js';
import { destroyAll, is, sdk } from './helpers/sdk.js';

// Retries every few tens of ms (docs/webhooks.md: the backoff is a process option). The server
// processes inherit this environment.
process.env.PRESENTLY_WEBHOOK_BACKOFF_BASE_MS = '20';
process.env.PRESENTLY_WEBHOOK_BACKOFF_CAP_MS = '200';

const APP2 = 1400000002;
const { USER_STATUS_ONLINE: ONLINE } = Presently.TYPES;

// ---- a receiver ----------------------------------------------------------------------------------

interface Body {
  CallbackCommand: string;
  EventTime: number;
  Info: { Action: string; To_Account: string; Reason: string; CustomStatus?: string };
  KickedDevice?: Array<{ Platform: string }>;
}

interface Hit {
  path: string;
  query: Record<string, string>;
  headers: IncomingHttpHeaders;
  raw: string;
  body: Body;
  eventId: string;
  attempt: number;
  /** What the receiver answered; 0 while hanging (or never). */
  answered: number;
}

type Reply = number | 'hang';

class Receiver {
  readonly hits: Hit[] = [];
  /** Decides the answer to each request (200 unless told otherwise). */
  reply: (h: Hit) => Reply | Promise<Reply> = () => 200;
  private listeners: Array<() => void> = [];
  private readonly hanging = new Set<ServerResponse>();
  /** Requests in flight per user, and the most seen at once. */
  private readonly open = new Map<string, number>();
  maxOpenPerUser = 0;
  port = 0;

  private constructor(private server: Server) {}

  static async start(): Promise<Receiver> {
    const r = new Receiver(createServer());
    await r.listen(0);
    return r;
  }

  private async listen(port: number): Promise<void> {
    this.server = createServer((req, res) => void this.onRequest(req, res));
    await new Promise<void>((resolve) => this.server.listen(port, '127.0.0.1', () => resolve()));
    this.port = (this.server.address() as AddressInfo).port;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}/hook?token=t1`;
  }

  private async onRequest(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const raw = Buffer.concat(chunks).toString('utf8');
    const url = new URL(req.url ?? '/', 'http://x');
    const hit: Hit = {
      path: url.pathname,
      query: Object.fromEntries(url.searchParams),
      headers: req.headers,
      raw,
      body: JSON.parse(raw) as Body,
      eventId: String(req.headers['x-presently-event-id']),
      attempt: Number(req.headers['x-presently-attempt']),
      answered: 0,
    };
    const user = hit.body.Info.To_Account;
    const n = (this.open.get(user) ?? 0) + 1;
    this.open.set(user, n);
    this.maxOpenPerUser = Math.max(this.maxOpenPerUser, n);
    res.on('close', () => this.open.set(user, (this.open.get(user) ?? 1) - 1));
    this.hits.push(hit);
    const answer = await this.reply(hit);
    if (answer === 'hang') {
      this.hanging.add(res);
      res.on('close', () => this.hanging.delete(res));
    } else {
      hit.answered = answer;
      res.writeHead(answer, { 'content-type': 'application/json' });
      res.end(answer === 200 ? '{"ActionStatus":"OK","ErrorInfo":"","ErrorCode":0}' : '{"ActionStatus":"FAIL","ErrorInfo":"down","ErrorCode":1}');
    }
    for (const l of [...this.listeners]) l();
  }

  /** Requests answered 2xx for one user, in arrival order. */
  acked(user: string): Hit[] {
    return this.hits.filter((h) => h.body.Info.To_Account === user && h.answered >= 200 && h.answered < 300);
  }

  of(user: string): Hit[] {
    return this.hits.filter((h) => h.body.Info.To_Account === user);
  }

  /** Resolves when `check` holds after some request (or at once). */
  until<T>(what: string, check: () => T | undefined | false): Promise<T> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.listeners = this.listeners.filter((l) => l !== run);
        reject(new Error(`receiver: timed out waiting for ${what}; got ${JSON.stringify(this.hits.map((h) => [h.body.Info, h.attempt, h.answered]))}`));
      }, 20_000);
      const run = (): void => {
        const v = check();
        if (v === undefined || v === false) return;
        clearTimeout(timer);
        this.listeners = this.listeners.filter((l) => l !== run);
        resolve(v);
      };
      this.listeners.push(run);
      run();
    });
  }

  /** Drops the requests left hanging (the server sees the connection reset). */
  release(): void {
    for (const r of this.hanging) r.destroy();
  }

  /** The receiver goes away: connections are refused until `up()`. */
  async down(): Promise<void> {
    this.release();
    await new Promise<void>((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }

  async up(): Promise<void> {
    await this.listen(this.port);
  }

  async close(): Promise<void> {
    if (this.server.listening) await this.down();
  }
}

// ---- fixtures --------------------------------------------------------------------------------------

const servers: TestServer[] = [];
const receivers: Receiver[] = [];
afterEach(async () => {
  await destroyAll();
});
after(async () => {
  for (const s of servers) await s.stop();
  for (const r of receivers) await r.close();
});

async function receiver(): Promise<Receiver> {
  const r = await Receiver.start();
  receivers.push(r);
  return r;
}

function webhookApp(r: Receiver, webhook: Record<string, unknown> = {}, over: AppOverrides = {}): Record<string, unknown> {
  return appConfig({ ...over, webhook: { url: r.url, timeoutMs: 5000, maxAttempts: 100, ...webhook } } as AppOverrides);
}

/** The receivers listen on loopback: the egress policy refuses it unless the server allows it. */
const ALLOW_LOOPBACK = { webhookAllowNetworks: ['127.0.0.1/32'] };

async function server(apps: Record<string, unknown>[], serverOptions: Record<string, unknown> = ALLOW_LOOPBACK): Promise<TestServer> {
  const s = await startServer({ apps, server: serverOptions });
  servers.push(s);
  return s;
}

async function login(srv: TestServer, userID: string, platform = 'Web', app = APP): Promise<RawPeer> {
  const p = await RawPeer.connect(srv.ws);
  const r = await p.login(app, userID, srv.sig(userID, { SDKAppID: app }), platform);
  assert.equal(r.code, 0, JSON.stringify(r));
  return p;
}

async function setStatus(p: RawPeer, customStatus: string): Promise<void> {
  const r = await p.request('setSelfStatus', { customStatus });
  assert.equal(r.code, 0, JSON.stringify(r));
}

/** The outbox rows of a server, read from its SQLite file (the dead letters have no REST view yet). */
function outboxRows(srv: TestServer): Array<{ id: string; user_id: string; status: string; attempts: number; last_error: string; body: string }> {
  const db = new Database(join(srv.dataDir, 'presently.db'), { readonly: true, fileMustExist: true });
  try {
    return db.prepare('SELECT id, user_id, status, attempts, last_error, body FROM webhook_outbox ORDER BY seq').all() as never;
  } finally {
    db.close();
  }
}

/** Polls the outbox file until `check` holds (the state it waits for is not visible over HTTP). */
async function outboxUntil<T>(srv: TestServer, what: string, check: (rows: ReturnType<typeof outboxRows>) => T | undefined | false): Promise<T> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    const v = check(outboxRows(srv));
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`outbox: timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

const info = (Action: string, To_Account: string, Reason: string, extra: Record<string, string> = {}) => ({ Action, To_Account, Reason, ...extra });
const statuses = (hits: Hit[]) => hits.map((h) => h.body.Info.CustomStatus ?? `${h.body.Info.Action}/${h.body.Info.Reason}`);

/** The recipe of docs/webhooks.md, as a receiver would write it. */
function verify(secret: string, headers: IncomingHttpHeaders, rawBody: string): boolean {
  const timestamp = headers['x-presently-timestamp'];
  const signature = headers['x-presently-signature'];
  if (typeof timestamp !== 'string' || typeof signature !== 'string') return false;
  if (Math.abs(Date.now() / 1000 - Number(timestamp)) > 300) return false; // replay window
  const expected = 'sha256=' + createHmac('sha256', secret).update(`${timestamp}.${rawBody}`).digest('hex');
  return signature.length === expected.length && timingSafeEqual(Buffer.from(signature), Buffer.from(expected));
}

// ---- tests -----------------------------------------------------------------------------------------

test('S29 every event arrives with the exact body and query parameters', async () => {
  const r = await receiver();
  const srv = await server([webhookApp(r), webhookApp(r, {}, { SDKAppID: APP2, limits: { heartbeatTimeoutSec: 1 } })]);
  const t0 = Date.now();

  // alice: login, custom status, a second Web login that kicks the first, logout.
  const a1 = await login(srv, 'ev-alice');
  await setStatus(a1, 'lunch');
  const a2 = await login(srv, 'ev-alice');
  await a1.closed;
  assert.equal((await a2.request('logout')).code, 0);
  // bob on Windows (PC in callbacks): a second Windows login kicks the first; then the link closes.
  const b1 = await login(srv, 'ev-bob', 'Windows');
  const b2 = await login(srv, 'ev-bob', 'Windows');
  await b1.closed;
  b2.close();
  // carol: kicked by the app's server over REST.
  await login(srv, 'ev-carol', 'Android');
  assert.equal((await rest(srv, 'im_open_login_svc/kick', { UserID: 'ev-carol' })).ActionStatus, 'OK');
  // dave (second app, 1 s heartbeat timeout): stays silent until the server declares him gone.
  await login(srv, 'ev-dave', 'iPhone', APP2);

  const got = await r.until('every event', () => {
    const a = r.acked('ev-alice');
    const b = r.acked('ev-bob');
    const c = r.acked('ev-carol');
    const d = r.acked('ev-dave');
    return a.length >= 4 && b.length >= 3 && c.length >= 2 && d.length >= 2 && { a, b, c, d };
  });

  const q = (OptPlatform: string, ClientIP = '127.0.0.1', app = APP) => ({
    token: 't1',
    SdkAppid: String(app),
    CallbackCommand: 'State.StateChange',
    contenttype: 'json',
    ClientIP,
    OptPlatform,
  });
  const expected: Array<[Hit[], Array<[Record<string, string>, Omit<Body, 'EventTime'>]>]> = [
    [
      got.a,
      [
        [q('Web'), { CallbackCommand: 'State.StateChange', Info: info('Login', 'ev-alice', 'Register') }],
        [q('Web'), { CallbackCommand: 'State.StateChange', Info: info('CustomStatusChange', 'ev-alice', 'SetCustomStatus', { CustomStatus: 'lunch' }) }],
        [q('Web'), { CallbackCommand: 'State.StateChange', Info: info('Login', 'ev-alice', 'Register'), KickedDevice: [{ Platform: 'Web' }] }],
        [q('Web'), { CallbackCommand: 'State.StateChange', Info: info('Logout', 'ev-alice', 'Unregister') }],
      ],
    ],
    [
      got.b,
      [
        [q('PC'), { CallbackCommand: 'State.StateChange', Info: info('Login', 'ev-bob', 'Register') }],
        [q('PC'), { CallbackCommand: 'State.StateChange', Info: info('Login', 'ev-bob', 'Register'), KickedDevice: [{ Platform: 'PC' }] }],
        [q('PC'), { CallbackCommand: 'State.StateChange', Info: info('Disconnect', 'ev-bob', 'LinkClose') }],
      ],
    ],
    [
      got.c,
      [
        [q('Android'), { CallbackCommand: 'State.StateChange', Info: info('Login', 'ev-carol', 'Register') }],
        [q('RESTAPI', ''), { CallbackCommand: 'State.StateChange', Info: info('Logout', 'ev-carol', 'Kicked') }],
      ],
    ],
    [
      got.d,
      [
        [q('iPhone', '127.0.0.1', APP2), { CallbackCommand: 'State.StateChange', Info: info('Login', 'ev-dave', 'Register') }],
        [q('iPhone', '127.0.0.1', APP2), { CallbackCommand: 'State.StateChange', Info: info('Disconnect', 'ev-dave', 'TimeOut') }],
      ],
    ],
  ];
  const ids = new Set<string>();
  for (const [hits, want] of expected) {
    assert.equal(hits.length, want.length, JSON.stringify(hits.map((h) => h.body)));
    hits.forEach((h, i) => {
      const [query, body] = want[i]!;
      assert.equal(h.path, '/hook');
      assert.deepEqual(h.query, query);
      const { EventTime, ...rest } = h.body;
      assert.deepEqual(rest, body);
      assert.ok(Number.isInteger(EventTime) && EventTime >= t0 && EventTime <= Date.now(), `EventTime ${EventTime}`);
      assert.equal(h.headers['content-type'], 'application/json');
      assert.match(h.eventId, /^[0-9a-f-]{36}$/);
      assert.equal(h.attempt, 1);
      assert.equal(h.headers['x-presently-signature'], undefined, 'no secret, no signature');
      ids.add(h.eventId);
    });
  }
  assert.equal(ids.size, 11, 'every event has its own id');
  assert.equal(r.hits.length, 11, 'nothing else was sent');
});

test('S22 per-user order holds under load: 2 users x 50 custom statuses, one request in flight per user', async () => {
  const r = await receiver();
  // Answers in 0-4 ms, in whatever order the requests finish.
  r.reply = () => new Promise((resolve) => setTimeout(() => resolve(200), Math.floor(Math.random() * 5)));
  const srv = await server([webhookApp(r)]);
  const users = ['ord-u1', 'ord-u2'];
  const peers = await Promise.all(users.map((u) => login(srv, u)));
  const want = Array.from({ length: 50 }, (_, i) => `s${i}`);
  // Every request sent at once on each socket: the server takes them in order.
  await Promise.all(peers.flatMap((p) => want.map((s) => setStatus(p, s))));
  await r.until('all 102 events', () => users.every((u) => r.acked(u).length >= 51));
  for (const u of users) assert.deepEqual(statuses(r.acked(u)), ['Login/Register', ...want]);
  assert.equal(r.hits.length, 102, 'each event once');
  assert.equal(r.maxOpenPerUser, 1);
});

test('a receiver that is down (500s, then connection refused) gets every event once it is back', async () => {
  const r = await receiver();
  const srv = await server([webhookApp(r)]);
  const p = await login(srv, 'down-erin');
  await r.until('login', () => r.acked('down-erin').length === 1);

  r.reply = () => 500;
  await setStatus(p, 'd1');
  const d1 = await r.until(
    'd1 tried twice',
    () => r.of('down-erin').filter((h) => h.body.Info.CustomStatus === 'd1').length >= 2 && r.of('down-erin').find((h) => h.body.Info.CustomStatus === 'd1'),
  );

  await r.down();
  const triedSoFar = r.of('down-erin').filter((h) => h.eventId === d1.eventId).length;
  await setStatus(p, 'd2');
  await setStatus(p, 'd3');
  // Refused connections are not seen by the receiver: the outbox counts the attempts.
  await outboxUntil(srv, 'two refused attempts', (rows) => rows.find((row) => row.id === d1.eventId && row.attempts >= triedSoFar + 2));

  r.reply = () => 200;
  await r.up();
  await r.until('d3', () => r.acked('down-erin').some((h) => h.body.Info.CustomStatus === 'd3'));
  await setStatus(p, 'after');
  await r.until('after', () => r.acked('down-erin').some((h) => h.body.Info.CustomStatus === 'after'));

  const acked = r.acked('down-erin');
  assert.deepEqual(statuses(acked), ['Login/Register', 'd1', 'd2', 'd3', 'after']);
  assert.equal(new Set(acked.map((h) => h.eventId)).size, acked.length, 'no event acknowledged twice');
  const d1Hits = r.of('down-erin').filter((h) => h.eventId === d1.eventId);
  assert.ok(
    d1Hits.every((h, i) => h.attempt > (d1Hits[i - 1]?.attempt ?? 0)),
    'attempt numbers grow',
  );
  // A delivered row is deleted right after its 2xx (committed before the user's next request).
  await outboxUntil(srv, 'delivered rows deleted', (rows) => !rows.some((row) => row.user_id === 'down-erin'));
});

test('a server killed mid-retry delivers the rest after a restart, and nothing acknowledged again', async () => {
  const r = await receiver();
  const first = await server([webhookApp(r)]);
  const p = await login(first, 'rs-frank');
  await setStatus(p, 'f1');
  await setStatus(p, 'f2');
  await r.until('f2', () => r.acked('rs-frank').length === 3);

  r.reply = () => 500;
  await setStatus(p, 'f3');
  await setStatus(p, 'f4');
  // f3 was sent only once f2's acknowledgement was on disk; it is now being retried.
  await r.until('f3 retried', () => r.of('rs-frank').filter((h) => h.body.Info.CustomStatus === 'f3').length >= 2);
  await first.stop({ kill: true, keepData: true });

  r.reply = () => 200;
  const second = await first.restart();
  servers.push(second);
  await r.until('f4 after the restart', () => r.acked('rs-frank').some((h) => h.body.Info.CustomStatus === 'f4'));
  const again = await login(second, 'rs-frank');
  await r.until('the new login', () => r.acked('rs-frank').length >= 6);
  again.close();

  const acked = r.acked('rs-frank');
  assert.deepEqual(statuses(acked), ['Login/Register', 'f1', 'f2', 'f3', 'f4', 'Login/Register']);
  const ids = acked.map((h) => h.eventId);
  assert.equal(new Set(ids).size, ids.length, 'no event acknowledged twice');
  for (const h of acked.slice(0, 3)) {
    assert.equal(r.hits.filter((x) => x.eventId === h.eventId).length, 1, `${statuses([h])[0]} was acknowledged before the kill and not sent again`);
  }
  const f3 = r.of('rs-frank').filter((h) => h.body.Info.CustomStatus === 'f3');
  // Attempt 1's failure was on disk before attempt 2 went out: numbering goes on after the restart.
  assert.ok(f3.at(-1)!.attempt >= 2, 'the attempt count survived the restart');
});

test('a graceful stop keeps undelivered events, the disconnects of the shutdown included', async () => {
  const r = await receiver();
  r.reply = () => 500;
  const first = await server([webhookApp(r)]);
  await login(first, 'gs-kim', 'Android');
  await r.until('the login retried', () => r.of('gs-kim').length >= 2);
  await first.stop({ keepData: true }); // SIGTERM: the session's socket is closed by the server

  r.reply = () => 200;
  const second = await first.restart();
  servers.push(second);
  const acked = await r.until('login and disconnect', () => r.acked('gs-kim').length >= 2 && r.acked('gs-kim'));
  assert.deepEqual(
    acked.map((h) => h.body.Info),
    [info('Login', 'gs-kim', 'Register'), info('Disconnect', 'gs-kim', 'LinkClose')],
  );
  assert.equal(acked[1]!.query.OptPlatform, 'Android');
});

test('after maxAttempts an event is a dead letter, and the next event of that user still goes', async () => {
  const r = await receiver();
  r.reply = (h) => (h.body.Info.CustomStatus === 'poison' ? 500 : 200);
  const srv = await server([webhookApp(r, { maxAttempts: 3 })]);
  const p = await login(srv, 'dl-gina');
  await setStatus(p, 'poison');
  await setStatus(p, 'after');
  await r.until('after', () => r.acked('dl-gina').some((h) => h.body.Info.CustomStatus === 'after'));

  const hits = r.of('dl-gina');
  assert.deepEqual(
    hits.map((h) => [statuses([h])[0], h.attempt, h.answered]),
    [
      ['Login/Register', 1, 200],
      ['poison', 1, 500],
      ['poison', 2, 500],
      ['poison', 3, 500],
      ['after', 1, 200],
    ],
  );
  // The dead letter was recorded before 'after' went out; 'after' itself is deleted once acknowledged.
  const rows = await outboxUntil(srv, "'after' deleted", (all) => {
    const mine = all.filter((row) => row.user_id === 'dl-gina');
    return mine.length === 1 && mine;
  });
  assert.equal(rows[0]!.id, hits[1]!.eventId);
  assert.equal(rows[0]!.status, 'dead');
  assert.equal(rows[0]!.attempts, 3);
  assert.match(rows[0]!.last_error, /^HTTP 500/);
  assert.equal(rows[0]!.body, hits[1]!.raw, 'the dead letter keeps the request body');
});

test('with a secret each request is signed: the documented check passes, a wrong secret or body fails', async () => {
  const r = await receiver();
  const secret = 'whsec-test-0123456789';
  const srv = await server([webhookApp(r, { secret })]);
  const p = await login(srv, 'sig-hank');
  await setStatus(p, 'signed ✓');
  const hits = await r.until('two events', () => r.acked('sig-hank').length >= 2 && r.acked('sig-hank'));
  for (const h of hits) {
    assert.match(String(h.headers['x-presently-signature']), /^sha256=[0-9a-f]{64}$/);
    assert.match(String(h.headers['x-presently-timestamp']), /^\d{10}$/);
    assert.equal(verify(secret, h.headers, h.raw), true);
    assert.equal(verify('not-the-secret', h.headers, h.raw), false);
    assert.equal(verify(secret, h.headers, h.raw.replace('sig-hank', 'sig-hanK')), false);
    assert.equal(verify(secret, { ...h.headers, 'x-presently-timestamp': String(Number(h.headers['x-presently-timestamp']) + 1) }, h.raw), false);
  }
  assert.equal(hits[1]!.body.Info.CustomStatus, 'signed ✓');
});

test('a receiver that never answers does not slow status changes; its events arrive once it answers', async () => {
  const r = await receiver();
  r.reply = () => 'hang';
  const srv = await server([webhookApp(r, { timeoutMs: 1500 })]);
  const watcher = await sdk(srv, 'slow-ivy');
  const jack = await sdk(srv, 'slow-jack');
  await r.until("jack's login hanging", () => r.of('slow-jack').length >= 1);
  await watcher.client.subscribeUserStatus({ userIDList: ['slow-jack'] });

  const started = Date.now();
  for (let i = 0; i < 10; i++) {
    await jack.client.setSelfStatus({ customStatus: `j${i}` });
    await watcher.waitFor(is('slow-jack', ONLINE, `j${i}`));
  }
  const elapsed = Date.now() - started;
  // Had a change waited for the receiver, ten of them would take 10 x 1.5 s at the least.
  assert.ok(elapsed < 4000, `10 changes took ${elapsed} ms`);
  assert.equal(r.acked('slow-jack').length, 0, 'the receiver has answered nothing yet');
  // The hanging request times out and is tried again.
  await r.until('a retry after the timeout', () => r.of('slow-jack').some((h) => h.attempt === 2));

  r.reply = () => 200;
  r.release();
  await r.until('j9', () => r.acked('slow-jack').some((h) => h.body.Info.CustomStatus === 'j9'));
  assert.deepEqual(statuses(r.acked('slow-jack')), ['Login/Register', ...Array.from({ length: 10 }, (_, i) => `j${i}`)]);
  assert.ok(
    r
      .of('slow-jack')
      .slice(0, 2)
      .every((h) => h.body.Info.Action === 'Login'),
    'nothing overtook the stuck login',
  );
});

test('egress: without the allow-list a loopback receiver gets nothing; get_webhook_log says "egress refused", with no address or reply', async () => {
  const r = await receiver();
  const srv = await server([webhookApp(r, { maxAttempts: 2 })], {});
  const p = await login(srv, 'eg-lena');
  await setStatus(p, 'blocked');
  let log: Record<string, unknown>;
  for (const deadline = Date.now() + 20_000; ; await new Promise((resolve) => setTimeout(resolve, 25))) {
    log = await rest(srv, 'presently/get_webhook_log', {});
    if ((log.DeadLetters as unknown[]).length >= 2) break;
    if (Date.now() > deadline) throw new Error(`no dead letters: ${JSON.stringify(log)}`);
  }
  assert.equal(r.hits.length, 0, 'the receiver got no request');
  const attempts = log.Attempts as Array<{ userID: string; status: number; outcome: string; error: string }>;
  assert.ok(attempts.length >= 4);
  assert.ok(
    attempts.every((a) => a.userID === 'eg-lena' && a.status === 0 && a.error === 'egress refused'),
    JSON.stringify(attempts),
  );
  const dead = log.DeadLetters as Array<{ lastError: string; attempts: number }>;
  assert.deepEqual(
    dead.map((d) => [d.lastError, d.attempts]),
    [
      ['egress refused', 2],
      ['egress refused', 2],
    ],
  );
  // The URL the admin set is shown as set; nothing else names the address or the port.
  const shown = JSON.stringify({ Attempts: log.Attempts, DeadLetters: log.DeadLetters });
  assert.ok(!shown.includes('127.0.0.1') && !shown.includes(`:${r.port}`), shown);
  assert.match(srv.output(), /webhook target refused by the egress policy/, "the operator's log says why");
});

test('egress: an allowed receiver that fails shows only its status in get_webhook_log, never its reply', async () => {
  const r = await receiver();
  r.reply = () => 503;
  const srv = await server([webhookApp(r, { maxAttempts: 1 })]);
  await login(srv, 'eg-mo');
  await r.until('the login tried', () => r.of('eg-mo').length >= 1);
  let log: Record<string, unknown>;
  for (const deadline = Date.now() + 20_000; ; await new Promise((resolve) => setTimeout(resolve, 25))) {
    log = await rest(srv, 'presently/get_webhook_log', {});
    if ((log.DeadLetters as unknown[]).length >= 1) break;
    if (Date.now() > deadline) throw new Error(`no dead letter: ${JSON.stringify(log)}`);
  }
  assert.deepEqual(
    (log.Attempts as Array<{ status: number; error: string }>).map((a) => [a.status, a.error]),
    [[503, 'HTTP 503']],
  );
  assert.equal((log.DeadLetters as Array<{ lastError: string }>)[0]!.lastError, 'HTTP 503');
  // The receiver answered {"ActionStatus":"FAIL","ErrorInfo":"down",...}: none of it is shown.
  const shown = JSON.stringify(log);
  assert.ok(!shown.includes('FAIL') && !shown.includes('down'), shown);
});

test('bounds: the settings API refuses an out-of-range timeoutMs or maxAttempts with 70402 naming the field, and changes nothing', async () => {
  const r = await receiver();
  const srv = await server([webhookApp(r, { timeoutMs: 2000, maxAttempts: 8 })]);
  for (const [webhook, message] of [
    [{ timeoutMs: 99_999_999_999 }, 'Settings.webhook.timeoutMs: must be an integer from 100 to 30000'],
    [{ timeoutMs: 50 }, 'Settings.webhook.timeoutMs: must be an integer from 100 to 30000'],
    [{ maxAttempts: 0 }, 'Settings.webhook.maxAttempts: must be an integer from 1 to 100'],
    [{ maxAttempts: 1000 }, 'Settings.webhook.maxAttempts: must be an integer from 1 to 100'],
  ] as const) {
    const res = await rest(srv, 'presently/set_app_settings', { Settings: { webhook } });
    assert.deepEqual([res.ActionStatus, res.ErrorCode, res.ErrorInfo], ['FAIL', 70402, message]);
  }
  const now = await rest(srv, 'presently/get_app_settings', {});
  const hook = (now.Settings as { webhook: { timeoutMs: number; maxAttempts: number } }).webhook;
  assert.deepEqual([hook.timeoutMs, hook.maxAttempts], [2000, 8]);
});
