/**
 * What the console and the demo page stand on, over real HTTP and WebSockets (no browser):
 * the console REST commands (presently/get_status_counts, list_users, get_webhook_log), the
 * admin stream (`watchAll`), the static routes, and the demo helpers that exist only in
 * development mode. docs/rest.md "Console API", docs/protocol.md "watchAll", docs/console.md.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import Presently from '@presently/client';
import { CloseCode, ErrorCode, UserStatus, type UserStatusInfo } from '@presently/protocol';
import { APP, appConfig, startServer, type TestServer } from './helpers/server.js';
import { buildConsole, startDevServer, type DevServer } from './helpers/browser.js';
import { destroyAll, is, sdk } from './helpers/sdk.js';
import { RawPeer, type Frame } from './helpers/raw.js';
import { rest } from './helpers/rest.js';

const OTHER = APP + 1;
let srv: TestServer;
let dev: DevServer;
const peers: RawPeer[] = [];

before(async () => {
  buildConsole();
  [srv, dev] = await Promise.all([startServer({ apps: [appConfig(), appConfig({ SDKAppID: OTHER, admins: ['administrator', 'ops'] })] }), startDevServer()]);
});

after(async () => {
  for (const p of peers) p.close();
  await destroyAll();
  await Promise.all([srv?.stop(), dev?.stop()]);
});

async function peer(s: TestServer = srv): Promise<RawPeer> {
  const p = await RawPeer.connect(s.ws);
  peers.push(p);
  return p;
}

const send = (p: RawPeer, frame: Record<string, unknown>) => p.sendRaw(JSON.stringify(frame));
let nextId = 100;
async function watchAll(p: RawPeer, userID: string, opts: { SDKAppID?: number; sig?: string; s?: TestServer } = {}): Promise<Frame> {
  const id = nextId++;
  send(p, { id, op: 'watchAll', SDKAppID: opts.SDKAppID ?? APP, userID, userSig: opts.sig ?? (opts.s ?? srv).sig(userID, { SDKAppID: opts.SDKAppID ?? APP }) });
  return p.next((f) => f.id === id);
}

/** The next pushed change of `userID` on a raw peer. */
const pushOf = (p: RawPeer, userID: string, statusType: number, customStatus?: string) =>
  p.next((f) => f.op === 'userStatusUpdated' && (f.data as UserStatusInfo[]).some(is(userID, statusType, customStatus)));

test('watchAll: an admin hears every change of its app, switches or not; no session, no account', async () => {
  const p = await peer();
  const r = await watchAll(p, 'administrator');
  assert.equal(r.code, 0);
  const data = r.data as { userID: string; heartbeatIntervalMs: number; heartbeatTimeoutMs: number; counts: Record<string, number> };
  assert.equal(data.userID, 'administrator');
  assert.ok(data.heartbeatIntervalMs > 0 && data.heartbeatTimeoutMs >= data.heartbeatIntervalMs);
  assert.deepEqual(Object.keys(data.counts).sort(), ['offline', 'online', 'unlogined']);

  // Nobody subscribed to or befriended w-ann: the stream still hears her.
  const ann = await sdk(srv, 'w-ann');
  await pushOf(p, 'w-ann', UserStatus.ONLINE);
  await ann.client.setSelfStatus({ customStatus: 'hello' });
  await pushOf(p, 'w-ann', UserStatus.ONLINE, 'hello');
  // With the query switch off nobody else hears her; the admin stream still does.
  await rest(srv, 'presently/set_app_settings', { Settings: { userStatus: { queryAndNotify: false } } });
  try {
    await ann.client.setSelfStatus({ customStatus: 'switch off' });
    await pushOf(p, 'w-ann', UserStatus.ONLINE, 'switch off');
  } finally {
    await rest(srv, 'presently/set_app_settings', { Settings: { userStatus: { queryAndNotify: true } } });
  }
  // Heartbeats are answered; every other request is refused; the admin never became an account.
  send(p, { id: 7, op: 'heartbeat' });
  assert.equal((await p.next((f) => f.id === 7)).code, 0);
  send(p, { id: 8, op: 'getUserStatus', userIDList: ['w-ann'] });
  assert.equal((await p.next((f) => f.id === 8)).code, ErrorCode.INVALID_PARAMETERS);
  send(p, { id: 9, op: 'login', SDKAppID: APP, userID: 'administrator', userSig: srv.sig('administrator') });
  assert.equal((await p.next((f) => f.id === 9)).code, ErrorCode.INVALID_PARAMETERS);
  const q = await rest(srv, 'im_open_login_svc/account_check', { CheckItem: [{ UserID: 'administrator' }] });
  assert.equal((q.ResultItem as Array<{ AccountStatus: string }>)[0]?.AccountStatus, 'NotImported');
  // Another app's changes are not heard.
  await sdk(srv, 'w-other', { SDKAppID: OTHER, sig: srv.sig('w-other', { SDKAppID: OTHER }) });
  await ann.client.setSelfStatus({ customStatus: 'last' });
  await pushOf(p, 'w-ann', UserStatus.ONLINE, 'last');
  assert.ok(!p.frames.some((f) => JSON.stringify(f.data ?? '').includes('w-other')));
});

test('watchAll: refused for non-admins (70403), bad tickets, unknown apps and logged-in connections', async () => {
  assert.equal((await watchAll(await peer(), 'w-ann')).code, ErrorCode.ADMIN_REQUIRED);
  assert.equal((await watchAll(await peer(), 'ops')).code, ErrorCode.ADMIN_REQUIRED); // an admin of another app only
  assert.equal((await watchAll(await peer(), 'administrator', { sig: srv.sig('someone-else') })).code, ErrorCode.USERSIG_IDENTIFIER_MISMATCH);
  assert.equal((await watchAll(await peer(), 'administrator', { SDKAppID: 42 })).code, ErrorCode.SDKAPPID_NOT_FOUND);
  const p = await peer();
  send(p, { id: 1, op: 'login', SDKAppID: APP, userID: 'w-logged', userSig: srv.sig('w-logged') });
  assert.equal((await p.next((f) => f.id === 1)).code, 0);
  assert.equal((await watchAll(p, 'administrator')).code, ErrorCode.INVALID_PARAMETERS);
  send(p, { id: 2, op: 'watchAll', SDKAppID: APP, userID: 'administrator' });
  assert.equal((await p.next((f) => f.id === 2)).code, ErrorCode.INVALID_PARAMETERS);
});

test('watchAll: a stream whose user stops being an admin is closed at the next change (4001)', async () => {
  const p = await peer();
  assert.equal((await watchAll(p, 'ops', { SDKAppID: OTHER })).code, 0);
  const sigOf = (id: string) => srv.sig(id, { SDKAppID: OTHER });
  await rest(srv, 'presently/set_app_settings', { Settings: { admins: ['administrator'] } }, { sdkappid: String(OTHER), usersig: sigOf('administrator') });
  await sdk(srv, 'w-next', { SDKAppID: OTHER, sig: sigOf('w-next') });
  const closed = await p.closed;
  assert.equal(closed.code, CloseCode.KICKED);
  assert.equal(closed.reason, 'admin rights revoked');
});

test('presently/get_status_counts and list_users: counts, search, paging, status filter, devices', async () => {
  for (const id of ['l-a1', 'l-a2', 'l-a3', 'l-b1']) await rest(srv, 'im_open_login_svc/account_import', { UserID: id });
  const a1 = await sdk(srv, 'l-a1');
  const b1 = await sdk(srv, 'l-b1', { platform: 'iPhone' });
  await a1.client.setSelfStatus({ customStatus: 'listed' });
  await b1.client.logout();

  const counts = await rest(srv, 'presently/get_status_counts', {});
  assert.equal(counts.ActionStatus, 'OK');
  const c = counts.Counts as { online: number; offline: number; unlogined: number };
  assert.equal(c.online + c.offline + c.unlogined, counts.Accounts);
  assert.ok(c.online >= 1 && c.unlogined >= 3);

  type U = { userID: string; statusType: number; customStatus: string; devices: Array<{ platform: string; online: boolean }> };
  const page1 = await rest(srv, 'presently/list_users', { Prefix: 'l-a', Limit: 2 });
  assert.deepEqual(
    (page1.Users as U[]).map((u) => u.userID),
    ['l-a1', 'l-a2'],
  );
  assert.equal(page1.Next, 'l-a2');
  const a1Row = (page1.Users as U[])[0]!;
  assert.equal(a1Row.statusType, UserStatus.ONLINE);
  assert.equal(a1Row.customStatus, 'listed');
  assert.deepEqual(
    a1Row.devices.map((d) => [d.platform, d.online]),
    [['Web', true]],
  );
  const page2 = await rest(srv, 'presently/list_users', { Prefix: 'l-a', Limit: 2, After: page1.Next });
  assert.deepEqual(
    (page2.Users as U[]).map((u) => u.userID),
    ['l-a3'],
  );
  assert.equal(page2.Next, '');
  const online = await rest(srv, 'presently/list_users', { Prefix: 'l-', Status: 'online' });
  assert.deepEqual(
    (online.Users as U[]).map((u) => u.userID),
    ['l-a1'],
  );
  const unlogined = await rest(srv, 'presently/list_users', { Prefix: 'l-', Status: 'unlogined' });
  assert.deepEqual(
    (unlogined.Users as U[]).map((u) => u.userID),
    ['l-a2', 'l-a3', 'l-b1'],
  );

  for (const [body, field] of [
    [{ Limit: 0 }, 'Limit'],
    [{ Limit: 201 }, 'Limit'],
    [{ Status: 'away' }, 'Status'],
    [{ Prefix: 5 }, 'Prefix'],
  ] as const) {
    const r = await rest(srv, 'presently/list_users', body);
    assert.equal(r.ErrorCode, ErrorCode.INVALID_PARAMETERS, JSON.stringify(body));
    assert.match(String(r.ErrorInfo), new RegExp(`^${field}:`));
  }
  // Admins only, as every REST command.
  const denied = await rest(srv, 'presently/list_users', {}, { identifier: 'l-a1' });
  assert.equal(denied.ErrorCode, ErrorCode.REST_ADMIN_REQUIRED);
});

test('presently/get_webhook_log: the app webhook (never its secret), dispatcher counters, attempts, dead letters', async () => {
  const none = await rest(srv, 'presently/get_webhook_log', {}, { sdkappid: String(OTHER), usersig: srv.sig('administrator', { SDKAppID: OTHER }) });
  assert.equal(none.ActionStatus, 'OK');
  assert.equal(none.Webhook, null);
  assert.deepEqual(
    Object.keys(none)
      .filter((k) => !['ActionStatus', 'ErrorCode', 'ErrorInfo'].includes(k))
      .sort(),
    ['Attempts', 'DeadLetters', 'Dispatcher', 'Webhook'],
  );
  assert.equal((none.Dispatcher as { state: string }).state, 'running');
  // A receiver nobody listens on: each event fails once and is a dead letter at once.
  const set = await rest(srv, 'presently/set_app_settings', {
    Settings: { webhook: { url: 'http://127.0.0.1:9/nobody', secret: 'webhook-secret-1', maxAttempts: 1, timeoutMs: 500 } },
  });
  assert.equal(set.ActionStatus, 'OK');
  try {
    await sdk(srv, 'wh-dead');
    // Polled (the log is a read model): a refused connection fails the attempt within milliseconds.
    let log: Record<string, unknown> = {};
    for (const deadline = Date.now() + 10_000; Date.now() < deadline; await new Promise((resolve) => setTimeout(resolve, 20))) {
      log = await rest(srv, 'presently/get_webhook_log', { Limit: 5 });
      if ((log.DeadLetters as unknown[]).length > 0) break;
    }
    assert.deepEqual(log.Webhook, { url: 'http://127.0.0.1:9/nobody', hasSecret: true, timeoutMs: 500, maxAttempts: 1 });
    assert.ok(!JSON.stringify(log).includes('webhook-secret-1'));
    const attempt = (log.Attempts as Array<{ userID: string; outcome: string; status: number }>).find((a) => a.userID === 'wh-dead');
    assert.equal(attempt?.outcome, 'dead');
    const dead = (log.DeadLetters as Array<{ userID: string; attempts: number; body: string }>)[0]!;
    assert.equal(dead.userID, 'wh-dead');
    assert.equal(dead.attempts, 1);
    assert.match(dead.body, /"Action":"Login"/);
    assert.equal((await rest(srv, 'presently/get_webhook_log', { Limit: 500 })).ErrorCode, ErrorCode.INVALID_PARAMETERS);
  } finally {
    await rest(srv, 'presently/set_app_settings', { Settings: { webhook: null } });
  }
});

test('static routes: /console and /demo serve the built pages; the demo helpers are off with a config file', async () => {
  const redirect = await fetch(`${srv.http}/console`, { redirect: 'manual' });
  assert.equal(redirect.status, 301);
  assert.equal(redirect.headers.get('location'), '/console/');
  for (const [path, type, text] of [
    ['/console/', 'text/html; charset=utf-8', 'Presently console'],
    ['/console/console.js', 'text/javascript; charset=utf-8', ''],
    ['/console/style.css', 'text/css; charset=utf-8', ''],
    ['/demo/', 'text/html; charset=utf-8', 'Presently demo'],
    ['/demo/demo.js', 'text/javascript; charset=utf-8', ''],
  ] as const) {
    const r = await fetch(srv.http + path);
    assert.equal(r.status, 200, path);
    assert.equal(r.headers.get('content-type'), type, path);
    assert.ok((await r.text()).includes(text), path);
  }
  assert.equal((await fetch(`${srv.http}/console/..%2f..%2fpackage.json`)).status, 404);
  assert.equal((await fetch(`${srv.http}/console/missing.js`)).status, 404);
  assert.deepEqual(await (await fetch(`${srv.http}/demo/config`)).json(), { devMode: false, prefix: 'demo-' });
  assert.equal((await fetch(`${srv.http}/demo/usersig?userID=demo-ann`)).status, 404);
  const friends = await fetch(`${srv.http}/demo/friends`, { method: 'POST', body: '{}' });
  assert.equal(friends.status, 404);
});

test('development mode: demo UserSigs for demo ids only (never an admin), friends between demo users', async () => {
  const cfg = (await (await fetch(`${dev.http}/demo/config`)).json()) as { devMode: boolean; SDKAppID: number };
  assert.deepEqual(cfg, { devMode: true, SDKAppID: dev.SDKAppID, prefix: 'demo-' });
  const sigFor = async (id: string) => fetch(`${dev.http}/demo/usersig?userID=${encodeURIComponent(id)}`);
  const res = await sigFor('demo-ann');
  assert.equal(res.status, 200);
  assert.equal(res.headers.get('cache-control'), 'no-store');
  const body = (await res.json()) as { SDKAppID: number; userID: string; userSig: string; expireSec: number };
  assert.equal(body.expireSec, 3600);
  assert.ok(!JSON.stringify(body).includes(dev.secretKey));
  for (const bad of ['administrator', 'ann', 'demo-', 'demo-a b', 'demo-../x', `demo-${'x'.repeat(28)}`]) assert.equal((await sigFor(bad)).status, 403, bad);
  // The UserSig logs in like any other.
  const ann = await sdk(dev, 'demo-ann', { sig: body.userSig, SDKAppID: body.SDKAppID });
  const bob = await sdk(dev, 'demo-bob', { sig: ((await (await sigFor('demo-bob')).json()) as { userSig: string }).userSig });
  // An admin named like a demo user gets no demo UserSig.
  const adm = { usersig: dev.sig('administrator'), sdkappid: String(dev.SDKAppID) };
  assert.equal((await rest(dev, 'presently/set_app_settings', { Settings: { admins: ['administrator', 'demo-boss'] } }, adm)).ActionStatus, 'OK');
  assert.equal((await sigFor('demo-boss')).status, 403);
  await rest(dev, 'presently/set_app_settings', { Settings: { admins: ['administrator'] } }, adm);

  // Friends: with the caller's own UserSig, both ways, and then bob hears ann without subscribing.
  const add = (b: unknown) => fetch(`${dev.http}/demo/friends`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(b) });
  assert.equal((await add({ userID: 'demo-ann', userSig: dev.sig('demo-bob'), friendID: 'demo-bob' })).status, 403);
  assert.equal((await add({ userID: 'demo-ann', userSig: body.userSig, friendID: 'administrator' })).status, 403);
  assert.equal((await add({ userID: 'demo-ann', userSig: body.userSig, friendID: 'demo-nobody' })).status, 404);
  assert.equal((await add('nonsense')).status, 400);
  const ok = await add({ userID: 'demo-ann', userSig: body.userSig, friendID: 'demo-bob' });
  assert.equal(ok.status, 200);
  assert.deepEqual(await ok.json(), { ok: true, added: ['demo-ann -> demo-bob', 'demo-bob -> demo-ann'] });
  const check = await rest(dev, 'sns/friend_check', { From_Account: 'demo-ann', To_Account: ['demo-bob'], CheckType: 'CheckResult_Type_Both' }, adm);
  assert.equal((check.InfoItem as Array<{ Relation: string }>)[0]?.Relation, 'CheckResult_Type_BothWay');
  assert.deepEqual(await (await add({ userID: 'demo-ann', userSig: body.userSig, friendID: 'demo-bob' })).json(), { ok: true, added: [] });
  await ann.client.setSelfStatus({ customStatus: 'friends now' });
  await bob.waitFor(is('demo-ann', Presently.TYPES.USER_STATUS_ONLINE, 'friends now'));
});

test('S25 development mode: bad tickets sent to /demo/friends count toward the brute-force guard (70050 past the limit)', async () => {
  const add = (userSig: string) =>
    fetch(`${dev.http}/demo/friends`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ userID: 'demo-guess', userSig, friendID: 'demo-other' }),
    });
  // The default limit: 20 failed tickets per address and identity per minute.
  for (let i = 0; i < 20; i++) assert.equal((await add('garbage')).status, 403);
  const past = await add('garbage');
  assert.equal(past.status, 429);
  assert.equal(((await past.json()) as { code: number }).code, ErrorCode.TOO_MANY_LOGIN_FAILURES);
  // The same guard as the socket's: a bad login ticket for that identity is past the limit too.
  const p = await RawPeer.connect(dev.ws);
  assert.equal((await p.request('login', { SDKAppID: dev.SDKAppID, userID: 'demo-guess', userSig: 'garbage' })).code, ErrorCode.TOO_MANY_LOGIN_FAILURES);
  p.close();
});
