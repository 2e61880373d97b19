/**
 * The webhook egress policy (egress.ts, docs/security.md "Webhook egress"): which addresses are
 * refused, the operator's allow-list, the check at connect time (the agents' own lookup), and the
 * dispatcher end to end against a real loopback server that counts the connections it gets.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { createServer, type Server } from 'node:http';
import type { LookupAddress } from 'node:dns';
import type { AddressInfo } from 'node:net';
import { pino } from 'pino';
import { serverOptionsFrom } from '../config/load.js';
import { normalizeApp, type AppSettings } from '../config/settings.js';
import type { PresenceEvent } from '../engine/types.js';
import { WebhookDispatcher } from './dispatcher.js';
import { EGRESS_REFUSED, EgressPolicy, errorClass, parseCidr, publicError, type Resolver } from './egress.js';
import { MemoryOutbox } from './outbox.js';

type Sink = { ip: string };
const sink: Sink = { ip: '203.0.113.9' };
const status = (userID: string, customStatus: string): PresenceEvent<Sink> => ({ type: 'customStatus', userID, platform: 'Web', sink, customStatus });

const cleanups: Array<() => Promise<void> | void> = [];
after(async () => {
  for (const c of cleanups.reverse()) await c();
});

// ---- the policy ------------------------------------------------------------------------------------

const REFUSED = [
  // loopback, unspecified, "this network"
  '127.0.0.1',
  '127.255.255.254',
  '0.0.0.0',
  '0.1.2.3',
  '::1',
  '::',
  // private (RFC 1918) and shared (CGNAT)
  '10.0.0.1',
  '10.255.255.255',
  '172.16.0.1',
  '172.31.255.254',
  '192.168.1.1',
  '100.64.0.1',
  '100.127.255.254',
  // link-local, the cloud metadata address
  '169.254.0.1',
  '169.254.169.254',
  'fe80::1',
  'febf::1',
  // unique-local IPv6, multicast, broadcast, reserved, documentation, benchmarking
  'fc00::1',
  'fd12:3456::1',
  'ff02::1',
  '224.0.0.1',
  '239.255.255.250',
  '255.255.255.255',
  '240.0.0.1',
  '192.0.2.10',
  '198.18.0.1',
  '2001:db8::1',
  // the same inside IPv6 forms that carry an IPv4 address
  '::ffff:127.0.0.1',
  '::ffff:7f00:1',
  '::ffff:169.254.169.254',
  '::ffff:10.1.2.3',
  '::ffff:192.168.0.1',
  '::127.0.0.1',
  '64:ff9b::127.0.0.1',
  '64:ff9b::a9fe:a9fe',
  '2002:7f00:1::1',
  '2002:a00:1::',
  '64:ff9b:1::1',
];
const PERMITTED = [
  '8.8.8.8',
  '1.1.1.1',
  '93.184.216.34',
  '172.32.0.1',
  '172.15.255.255',
  '100.128.0.1',
  '100.63.255.255',
  '169.253.255.255',
  '11.0.0.1',
  '223.255.255.255',
  '2606:4700:4700::1111',
  '2a00:1450:4001::200e',
  '::ffff:8.8.8.8',
  '64:ff9b::808:808',
  '2002:808:808::1',
];

test('egress: loopback, private, CGNAT, link-local (metadata), unique-local, unspecified, multicast and their IPv6 forms are refused; public addresses are not', () => {
  const p = new EgressPolicy();
  for (const a of REFUSED) assert.equal(p.permits(a), false, `${a} must be refused`);
  for (const a of PERMITTED) assert.equal(p.permits(a), true, `${a} must be permitted`);
  assert.equal(p.permits('not-an-ip'), false);
});

test('egress: the allow-list opens exactly its networks (an IPv4 entry covers its IPv4-mapped form too)', () => {
  const p = new EgressPolicy(['127.0.0.1/32', '10.0.0.0/8', 'fd00:1::/32', '169.254.169.254']);
  for (const a of ['127.0.0.1', '::ffff:127.0.0.1', '10.0.0.1', '10.200.3.4', 'fd00:1::5', '169.254.169.254']) assert.equal(p.permits(a), true, a);
  for (const a of ['127.0.0.2', '::1', '172.16.0.1', 'fd00:2::5', '169.254.169.253']) assert.equal(p.permits(a), false, a);
  assert.deepEqual(p.allow, ['127.0.0.1/32', '10.0.0.0/8', 'fd00:1::/32', '169.254.169.254/32']);
  assert.throws(() => new EgressPolicy(['10.0.0.0/33']), /not a CIDR/);
});

test('egress: CIDR parsing', () => {
  assert.deepEqual(parseCidr('10.0.0.0/8'), { address: '10.0.0.0', prefix: 8, family: 'ipv4' });
  assert.deepEqual(parseCidr('::1'), { address: '::1', prefix: 128, family: 'ipv6' });
  assert.deepEqual(parseCidr('127.0.0.1'), { address: '127.0.0.1', prefix: 32, family: 'ipv4' });
  for (const bad of ['', '10.0.0.0/', '10.0.0.0/33', '::/129', 'localhost', '10.0.0/8', '10.0.0.0/-1', '10.0.0.0/8/8']) assert.equal(parseCidr(bad), null, bad);
});

test('egress: the lookup checks every answer when the socket connects, and hands on only what it checked (no rebinding window)', async () => {
  // A name whose answers change from one resolution to the next: public, then loopback.
  const answers: LookupAddress[][] = [
    [{ address: '93.184.216.34', family: 4 }],
    [{ address: '127.0.0.1', family: 4 }],
    [
      { address: '93.184.216.34', family: 4 },
      { address: '10.0.0.7', family: 4 },
    ],
  ];
  let calls = 0;
  const resolver: Resolver = (_host, _opts, cb) => cb(null, answers[calls++]!);
  const p = new EgressPolicy([], resolver);
  const look = (all: boolean) =>
    new Promise<{ err: NodeJS.ErrnoException | null; address: unknown }>((resolve) =>
      (p.lookup as unknown as (h: string, o: object, cb: (err: NodeJS.ErrnoException | null, address: unknown) => void) => void)('rebind.test', { all }, (err, address) =>
        resolve({ err, address }),
      ),
    );
  assert.deepEqual(await look(true), { err: null, address: [{ address: '93.184.216.34', family: 4 }] });
  const second = await look(false);
  assert.equal(second.err?.code, EGRESS_REFUSED, 'the answer of this connection is the one checked');
  // A mixed answer: only the permitted address is handed to the socket.
  assert.deepEqual(await look(true), { err: null, address: [{ address: '93.184.216.34', family: 4 }] });
  assert.equal(calls, 3, 'one resolution per connection, no separate check');
});

test('egress: what an admin sees of a failure is its class, never a reply or an address (also for errors an older version stored)', () => {
  assert.equal(errorClass({ code: EGRESS_REFUSED }), 'egress refused');
  assert.equal(errorClass({ code: 'ECONNREFUSED', message: 'connect ECONNREFUSED 10.0.0.5:6379' }), 'connection refused');
  assert.equal(errorClass({ code: 'ENOTFOUND' }), 'DNS failure');
  assert.equal(errorClass({ code: 'DEPTH_ZERO_SELF_SIGNED_CERT' }), 'TLS error');
  assert.equal(errorClass({ code: 'ERR_TLS_CERT_ALTNAME_INVALID' }), 'TLS error');
  assert.equal(errorClass({ code: 'ECONNRESET' }), 'connection reset');
  assert.equal(errorClass(new Error('anything at 10.0.0.5:22')), 'connection failed');
  assert.equal(publicError('HTTP 500: {"internal":"redis at 10.0.0.5:6379"}'), 'HTTP 500');
  assert.equal(publicError('ECONNREFUSED: connect ECONNREFUSED 127.0.0.1:5432'), 'connection refused');
  assert.equal(publicError('no reply within 2000 ms'), 'timeout');
  assert.equal(publicError('fetch failed at 192.168.0.3'), 'connection failed');
  assert.equal(publicError('egress refused'), 'egress refused');
  assert.equal(publicError(''), '');
});

test('egress: server.webhookAllowNetworks and PRESENTLY_WEBHOOK_ALLOW_NETWORKS are checked, and add up', () => {
  assert.deepEqual(serverOptionsFrom({}).webhookAllowNetworks, []);
  assert.deepEqual(serverOptionsFrom({ PRESENTLY_WEBHOOK_ALLOW_NETWORKS: ' 10.0.0.0/8, ::1 ' }, { webhookAllowNetworks: ['127.0.0.1/32'] }).webhookAllowNetworks, [
    '127.0.0.1/32',
    '10.0.0.0/8',
    '::1',
  ]);
  assert.throws(() => serverOptionsFrom({}, { webhookAllowNetworks: ['127.0.0.1/32', 'intranet'] }), /server\.webhookAllowNetworks\[1\]: must be a CIDR/);
  assert.throws(() => serverOptionsFrom({}, { webhookAllowNetworks: '10.0.0.0/8' }), /server\.webhookAllowNetworks: must be a list/);
  assert.throws(() => serverOptionsFrom({ PRESENTLY_WEBHOOK_ALLOW_NETWORKS: '10.0.0.0/40' }), /PRESENTLY_WEBHOOK_ALLOW_NETWORKS/);
});

// ---- the dispatcher against a real loopback server ---------------------------------------------------

interface Target {
  port: number;
  /** TCP connections accepted so far. */
  connections: number;
  /** Requests received: Host header and path. */
  requests: Array<{ host: string; path: string }>;
}

/** A loopback HTTP server answering `code` with a body that must never reach an admin. */
async function target(code: number): Promise<Target> {
  const t: Target = { port: 0, connections: 0, requests: [] };
  const server: Server = createServer((req, res) => {
    t.requests.push({ host: String(req.headers.host), path: req.url ?? '' });
    req.resume();
    req.on('end', () => res.writeHead(code, { 'content-type': 'text/plain' }).end('INTERNAL-SECRET redis=10.9.8.7:6379 ' + 'x'.repeat(300)));
  });
  server.on('connection', () => t.connections++);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  t.port = (server.address() as AddressInfo).port;
  cleanups.push(
    () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  );
  return t;
}

/** A dispatcher for several apps, each with its own webhook URL and one attempt. */
function dispatcherFor(
  urls: Map<number, string>,
  init: { allowNetworks?: string[]; egress?: EgressPolicy } = {},
): { d: WebhookDispatcher<Sink>; settings: Map<number, AppSettings> } {
  const settings = new Map(
    [...urls].map(([app, url]) => [app, normalizeApp({ SDKAppID: app, secretKey: 'test-secret-key-0123456789', webhook: { url, timeoutMs: 2000, maxAttempts: 1 } })]),
  );
  const d = new WebhookDispatcher<Sink>({
    backend: new MemoryOutbox(),
    settingsOf: (app) => settings.get(app),
    remoteAddressOf: (s) => s.ip,
    log: pino({ level: 'silent' }),
    options: { backoffBaseMs: 5, backoffCapMs: 20 },
    ...init,
  });
  cleanups.push(() => d.close());
  return { d, settings };
}

async function eventually(what: string, check: () => boolean): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`${what}: not reached within 10 s`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

test('egress: webhooks to 127.0.0.1, a private address, the metadata address, an IPv4-mapped loopback or a name resolving to loopback are refused without a connection; allow-listed, they go', async () => {
  const t = await target(200);
  const literal = new Map([
    [1, `http://127.0.0.1:${t.port}/cb`],
    [2, `http://[::ffff:127.0.0.1]:${t.port}/cb`],
    [3, `http://10.0.0.1:${t.port}/cb`],
    [4, 'http://169.254.169.254/latest/meta-data/iam/security-credentials/'],
    [5, `http://[::1]:${t.port}/cb`],
    [6, `http://2130706433:${t.port}/cb`], // 127.0.0.1 written as one number
  ]);
  // Every socket this process creates is seen here: a refused IP literal must not even get one.
  let sockets = 0;
  const onSocket = (): void => {
    sockets++;
  };
  subscribe('net.client.socket', onSocket);
  try {
    const { d, settings } = dispatcherFor(literal);
    d.start();
    for (const s of settings.values()) d.onEvent(s, status(`u${s.SDKAppID}`, 'x'));
    await eventually('every event dead-lettered', () => d.stats().deadLettered === literal.size);
    assert.equal(sockets, 0, 'no socket was made for a refused address');
    for (const app of literal.keys()) {
      const [a] = d.recentAttempts({ app });
      assert.deepEqual([a?.status, a?.outcome, a?.error], [0, 'dead', 'egress refused'], `app ${app}`);
    }
    await d.flush();
    const dead = await d.deadLetters();
    assert.deepEqual(
      dead.map((x) => x.lastError),
      Array(literal.size).fill('egress refused'),
    );
  } finally {
    unsubscribe('net.client.socket', onSocket);
  }

  // A DNS name: `localhost` resolves (here, through the system resolver) to loopback.
  const named = dispatcherFor(new Map([[7, `http://localhost:${t.port}/cb`]]));
  named.d.start();
  named.d.onEvent(named.settings.get(7)!, status('u7', 'x'));
  await eventually('localhost refused', () => named.d.stats().deadLettered === 1);
  assert.equal(named.d.recentAttempts({ app: 7 })[0]?.error, 'egress refused');
  assert.equal(t.connections, 0, 'the listening loopback server got no connection at all');

  // The operator allows loopback: the same targets are delivered to.
  const allowed = dispatcherFor(
    new Map([
      [1, literal.get(1)!],
      [2, literal.get(2)!],
      [7, `http://localhost:${t.port}/cb`],
    ]),
    { allowNetworks: ['127.0.0.1/32'] },
  );
  allowed.d.start();
  for (const s of allowed.settings.values()) allowed.d.onEvent(s, status(`u${s.SDKAppID}`, 'x'));
  await eventually('delivered once allowed', () => allowed.d.stats().delivered === 3);
  assert.equal(t.requests.length, 3);
  assert.ok(t.connections >= 1);
});

test('egress: the name is resolved by the policy at connect time (a resolver answering loopback is refused, then allowed)', async () => {
  const t = await target(200);
  // hook.test exists only in this resolver: a delivery to it proves the connection used it.
  const resolver: Resolver = (host, _opts, cb) =>
    host === 'hook.test' ? cb(null, [{ address: '127.0.0.1', family: 4 }]) : cb(Object.assign(new Error('ENOTFOUND'), { code: 'ENOTFOUND' }), []);
  const urls = new Map([
    [1, `http://hook.test:${t.port}/cb`],
    [2, `http://unknown.test:${t.port}/cb`],
  ]);
  const refused = dispatcherFor(urls, { egress: new EgressPolicy([], resolver) });
  refused.d.start();
  for (const s of refused.settings.values()) refused.d.onEvent(s, status('u', 'x'));
  await eventually('both failed', () => refused.d.stats().deadLettered === 2);
  assert.equal(refused.d.recentAttempts({ app: 1 })[0]?.error, 'egress refused');
  assert.equal(refused.d.recentAttempts({ app: 2 })[0]?.error, 'DNS failure');
  assert.equal(t.connections, 0);

  const allowed = dispatcherFor(new Map([[1, urls.get(1)!]]), { egress: new EgressPolicy(['127.0.0.0/8'], resolver) });
  allowed.d.start();
  allowed.d.onEvent(allowed.settings.get(1)!, status('u', 'x'));
  await eventually('delivered', () => allowed.d.stats().delivered === 1);
  assert.deepEqual(
    t.requests.map((r) => r.host),
    [`hook.test:${t.port}`],
  );
});

test('egress: an allowed target that fails shows its status or error class, never its reply nor its address', async () => {
  const t = await target(500);
  // A port nobody listens on: the refused connection must not name it.
  const closed = await target(200);
  const closedPort = closed.port;
  await cleanups.pop()!();
  const { d, settings } = dispatcherFor(
    new Map([
      [1, `http://127.0.0.1:${t.port}/cb`],
      [2, `http://127.0.0.1:${closedPort}/cb`],
    ]),
    { allowNetworks: ['127.0.0.1/32'] },
  );
  d.start();
  for (const s of settings.values()) d.onEvent(s, status('u', 'x'));
  await eventually('both dead', () => d.stats().deadLettered === 2);
  await d.flush();
  const [http] = d.recentAttempts({ app: 1 });
  const [refused] = d.recentAttempts({ app: 2 });
  assert.deepEqual([http?.status, http?.error], [500, 'HTTP 500']);
  assert.deepEqual([refused?.status, refused?.error], [0, 'connection refused']);
  const shown = JSON.stringify([d.recentAttempts(), await d.deadLetters()]);
  for (const leak of ['INTERNAL-SECRET', '10.9.8.7', '127.0.0.1', `:${t.port}`, `:${closedPort}`, 'ECONNREFUSED'])
    assert.ok(!shown.includes(leak), `${leak} must not be shown: ${shown}`);
});
