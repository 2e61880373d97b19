/**
 * The app settings API end to end (presently/get_app_settings, set_app_settings,
 * reset_app_settings; docs/rest.md "App settings API"): a real server process, real SDK clients.
 * Every switch and limit changed at run time changes behaviour for the next request at once
 * (S13, S14, S15, S16, S7, S21c, S26, S5, S30), survives a restart, wins over the config file,
 * and only admins may touch it (60010). Each test has an app of its own on the shared server, so
 * a change made by one test never reaches another.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import Presently from '@presently/client';
import { ErrorCode } from '@presently/protocol';
import { APP, KEY, appConfig, startServer, type TestServer } from './helpers/server.js';
import { destroyAll, is, sdk, type Watched } from './helpers/sdk.js';
import { RawPeer } from './helpers/raw.js';
import { DEFAULT_LIMITS } from '../packages/server/src/config/settings.js';
import { signBody } from '../packages/server/src/webhooks/signature.js';
import { rest } from './helpers/rest.js';

const { USER_STATUS_ONLINE: ONLINE, USER_STATUS_OFFLINE: OFFLINE } = Presently.TYPES;
const codeIs = (code: number) => (e: { code: number }) => e.code === code;

/** One app per test. */
const GATE = APP + 11;
const FRIENDS = APP + 12;
const LIMITS = APP + 13;
const POLICY = APP + 14;
const HEARTBEAT = APP + 15;
const ADMINS = APP + 16;
const INVALID = APP + 17;
const ANNOUNCE = APP + 18;
const WEBHOOK = APP + 19;
const ALL = [GATE, FRIENDS, LIMITS, POLICY, HEARTBEAT, ADMINS, INVALID, ANNOUNCE, WEBHOOK];

let srv: TestServer;
const peers: RawPeer[] = [];
before(async () => {
  srv = await startServer({
    apps: ALL.map((SDKAppID) => appConfig({ SDKAppID, userStatus: { friendAutoNotify: false } })),
    // The S29 test's webhook receiver listens on loopback, refused by the egress policy unless allowed.
    server: { webhookAllowNetworks: ['127.0.0.1/32'] },
  });
});
after(async () => {
  for (const p of peers) p.close();
  await destroyAll();
  await srv.stop();
});

// ---- helpers -----------------------------------------------------------------------------------

type Reply = Record<string, unknown>;
interface SettingsView {
  SDKAppID: number;
  edition: string;
  admins: string[];
  userStatus: { queryAndNotify: boolean; friendAutoNotify: boolean };
  limits: Record<string, number>;
  devices: { policy: string; maxPerPlatform: number; maxWeb: number };
  webhook: null | { url: string; timeoutMs: number; maxAttempts: number; HasSecret: boolean };
}

function call(s: TestServer, app: number, command: string, body: unknown, identifier = 'administrator'): Promise<Reply> {
  return rest(s, command, body, { sdkappid: String(app), identifier, usersig: s.sig(identifier, { SDKAppID: app }) });
}

async function getSettings(s: TestServer, app: number): Promise<SettingsView> {
  const r = await call(s, app, 'presently/get_app_settings', {});
  assert.equal(r.ActionStatus, 'OK', JSON.stringify(r));
  return r.Settings as SettingsView;
}

async function change(s: TestServer, app: number, Settings: Record<string, unknown>): Promise<SettingsView> {
  const r = await call(s, app, 'presently/set_app_settings', { Settings });
  assert.equal(r.ActionStatus, 'OK', JSON.stringify(r));
  return r.Settings as SettingsView;
}

function user(app: number, userID: string, platform: 'Web' | 'Android' | 'iPad' | 'Mac' | 'Windows' = 'Web'): Promise<Watched> {
  return sdk(srv, userID, { SDKAppID: app, platform, sig: srv.sig(userID, { SDKAppID: app }) });
}

let ticks = 0;
/**
 * Resolves once every change made before this call has reached `w`: a change of w's own, made
 * on its other device `probe`, is delivered after them (S21a needs no switch; S22 keeps order).
 */
async function settled(w: Watched, probe: Watched): Promise<void> {
  const tag = `tick-${++ticks}`;
  await probe.client.setSelfStatus({ customStatus: tag });
  await w.waitFor(is(w.userID, ONLINE, tag));
}

const heardAbout = (w: Watched, userID: string) => w.updates.filter((u) => u.userID === userID).map((u) => u.customStatus);

// ---- reading -----------------------------------------------------------------------------------

test('S30 get_app_settings answers every setting with its default and never the secretKey', async () => {
  const r = await call(srv, INVALID, 'presently/get_app_settings', {});
  assert.equal(r.ActionStatus, 'OK');
  assert.deepEqual(r.Settings, {
    SDKAppID: INVALID,
    edition: 'premium',
    admins: ['administrator'],
    userStatus: { queryAndNotify: true, friendAutoNotify: false },
    limits: { ...DEFAULT_LIMITS },
    devices: { policy: 'perPlatform', maxPerPlatform: 3, maxWeb: 10 },
    webhook: null,
  });
  assert.deepEqual(r.StoredChanges, {});
  assert.ok(!JSON.stringify(r).includes(KEY));
  // The rule's defaults (S30), whatever else the limits grow.
  assert.deepEqual(
    Object.fromEntries(
      [
        'maxQueryIDs',
        'maxSubscribeIDsPerCall',
        'maxSubscriptions',
        'rateLimitCalls',
        'rateLimitWindowSec',
        'heartbeatTimeoutSec',
        'subscriptionExpiryHours',
        'customStatusMaxBytes',
      ].map((k) => [k, (r.Settings as SettingsView).limits[k]]),
    ),
    {
      maxQueryIDs: 500,
      maxSubscribeIDsPerCall: 100,
      maxSubscriptions: 200,
      rateLimitCalls: 20,
      rateLimitWindowSec: 5,
      heartbeatTimeoutSec: 400,
      subscriptionExpiryHours: 24,
      customStatusMaxBytes: 100,
    },
  );
});

// ---- switches ----------------------------------------------------------------------------------

test('S13 S18 S21 queryAndNotify off at run time: the next query of others fails with 72001, subscribers hear nothing; on again works at once', async () => {
  const me = await user(GATE, 'g-me');
  const probe = await user(GATE, 'g-me', 'Android');
  const other = await user(GATE, 'g-other');
  await me.client.subscribeUserStatus({ userIDList: ['g-other'] });

  await change(srv, GATE, { userStatus: { queryAndNotify: false } });
  await assert.rejects(me.client.getUserStatus({ userIDList: ['g-other'] }), codeIs(ErrorCode.FEATURE_NOT_ENABLED));
  await assert.rejects(me.client.subscribeUserStatus({ userIDList: ['g-other'] }), codeIs(ErrorCode.FEATURE_NOT_ENABLED));
  assert.equal((await me.client.getUserStatus({ userIDList: ['g-me'] })).code, 0, 'S12 oneself stays free');
  await other.client.setSelfStatus({ customStatus: 'unheard' });
  await settled(me, probe);
  assert.deepEqual(heardAbout(me, 'g-other'), [], 'S21b needs the switch');

  await change(srv, GATE, { userStatus: { queryAndNotify: true } });
  const r = await me.client.getUserStatus({ userIDList: ['g-other'] });
  assert.deepEqual(r.data.successUserList, [{ userID: 'g-other', statusType: ONLINE, customStatus: 'unheard' }]);
  await other.client.setSelfStatus({ customStatus: 'heard' });
  await me.waitFor(is('g-other', ONLINE, 'heard'));
});

test('S13 edition basic at run time: 72001 for the next query of others; premium again works at once', async () => {
  const me = await user(GATE, 'e-me');
  await user(GATE, 'e-other');
  await change(srv, GATE, { edition: 'basic' });
  await assert.rejects(me.client.getUserStatus({ userIDList: ['e-other'] }), codeIs(ErrorCode.FEATURE_NOT_ENABLED));
  await assert.rejects(me.client.subscribeUserStatus({ userIDList: ['e-other'] }), codeIs(ErrorCode.FEATURE_NOT_ENABLED));
  await change(srv, GATE, { edition: 'premium' });
  assert.equal((await me.client.getUserStatus({ userIDList: ['e-other'] })).data.successUserList.length, 1);
});

test('S21c friendAutoNotify on at run time: the next change reaches a friend without a subscription; off again: it does not', async () => {
  const watcher = await user(FRIENDS, 'f-watch');
  const probe = await user(FRIENDS, 'f-watch', 'Android');
  const target = await user(FRIENDS, 'f-target');
  const added = await call(srv, FRIENDS, 'sns/friend_add', {
    From_Account: 'f-watch',
    AddFriendItem: [{ To_Account: 'f-target' }],
    AddType: 'Add_Type_Single',
  });
  assert.equal(added.ActionStatus, 'OK', JSON.stringify(added));

  await target.client.setSelfStatus({ customStatus: 'switch off' });
  await settled(watcher, probe);
  assert.deepEqual(heardAbout(watcher, 'f-target'), []);

  await change(srv, FRIENDS, { userStatus: { friendAutoNotify: true } });
  await target.client.setSelfStatus({ customStatus: 'switch on' });
  await watcher.waitFor(is('f-target', ONLINE, 'switch on'));

  await change(srv, FRIENDS, { userStatus: { friendAutoNotify: false } });
  await target.client.setSelfStatus({ customStatus: 'off again' });
  await settled(watcher, probe);
  assert.deepEqual(heardAbout(watcher, 'f-target'), ['switch on']);
});

// ---- limits ------------------------------------------------------------------------------------

test('S14 S30 maxQueryIDs and rateLimitCalls changed at run time apply to the next call', async () => {
  const me = await user(LIMITS, 'l-me');
  const ids = ['l-a', 'l-b', 'l-c'];
  const imported = await call(srv, LIMITS, 'im_open_login_svc/multiaccount_import', { AccountList: ids.map((UserID) => ({ UserID })) });
  assert.equal(imported.ActionStatus, 'OK');

  await change(srv, LIMITS, { limits: { maxQueryIDs: 2 } });
  await assert.rejects(me.client.getUserStatus({ userIDList: ids }), codeIs(ErrorCode.TOO_MANY_IDS));
  await change(srv, LIMITS, { limits: { maxQueryIDs: 3 } });
  assert.equal((await me.client.getUserStatus({ userIDList: ids })).data.successUserList.length, 3);

  // One query is in the window now; a long window keeps it there for the rest of the test.
  await change(srv, LIMITS, { limits: { rateLimitCalls: 2, rateLimitWindowSec: 60 } });
  await me.client.getUserStatus({ userIDList: ['l-a'] });
  await assert.rejects(me.client.getUserStatus({ userIDList: ['l-a'] }), codeIs(ErrorCode.TOO_MANY_CALLS));
  await change(srv, LIMITS, { limits: { rateLimitCalls: 10 } });
  assert.equal((await me.client.getUserStatus({ userIDList: ['l-a'] })).code, 0);
});

test('S7 S30 customStatusMaxBytes changed at run time applies to the next set', async () => {
  const me = await user(LIMITS, 'cs-me');
  await change(srv, LIMITS, { limits: { customStatusMaxBytes: 4 } });
  await assert.rejects(me.client.setSelfStatus({ customStatus: '12345' }), codeIs(ErrorCode.CUSTOM_STATUS_TOO_LONG));
  assert.equal((await me.client.setSelfStatus({ customStatus: '1234' })).data.customStatus, '1234');
  await change(srv, LIMITS, { limits: { customStatusMaxBytes: 8 } });
  assert.equal((await me.client.setSelfStatus({ customStatus: '12345' })).data.customStatus, '12345');
});

test('S15 S16 S30 maxSubscribeIDsPerCall and maxSubscriptions changed at run time: 72002, then the oldest is evicted', async () => {
  const me = await user(LIMITS, 's-me');
  const probe = await user(LIMITS, 's-me', 'Android');
  const ids = ['s-a', 's-b', 's-c'];
  await call(srv, LIMITS, 'im_open_login_svc/multiaccount_import', { AccountList: ids.map((UserID) => ({ UserID })) });

  await change(srv, LIMITS, { limits: { maxSubscribeIDsPerCall: 1 } });
  await assert.rejects(me.client.subscribeUserStatus({ userIDList: ['s-a', 's-b'] }), codeIs(ErrorCode.TOO_MANY_IDS));

  await change(srv, LIMITS, { limits: { maxSubscribeIDsPerCall: 3, maxSubscriptions: 2 } });
  assert.deepEqual((await me.client.subscribeUserStatus({ userIDList: ids })).data.failureUserList, []);
  // s-a, the oldest, was evicted silently: its login is not heard; s-c's, later, is.
  await user(LIMITS, 's-a');
  await user(LIMITS, 's-c');
  await me.waitFor(is('s-c', ONLINE));
  await settled(me, probe);
  assert.deepEqual(heardAbout(me, 's-a'), []);
});

test('S30 maxFriends changed at run time applies to the next friend_add (30010)', async () => {
  await call(srv, LIMITS, 'im_open_login_svc/multiaccount_import', { AccountList: ['mf-me', 'mf-a', 'mf-b'].map((UserID) => ({ UserID })) });
  await change(srv, LIMITS, { limits: { maxFriends: 1 } });
  const r = await call(srv, LIMITS, 'sns/friend_add', {
    From_Account: 'mf-me',
    AddFriendItem: [{ To_Account: 'mf-a' }, { To_Account: 'mf-b' }],
    AddType: 'Add_Type_Single',
  });
  assert.deepEqual(
    (r.ResultItem as Array<{ To_Account: string; ResultCode: number }>).map((i) => [i.To_Account, i.ResultCode]),
    [
      ['mf-a', 0],
      ['mf-b', ErrorCode.FRIEND_LIMIT],
    ],
  );
});

test('S10 S30 announceWindowSec changed at run time: custom-status changes wait for the window (last value wins); 0 releases them', async () => {
  const watcher = await user(ANNOUNCE, 'aw-watch');
  const target = await user(ANNOUNCE, 'aw-target');
  await call(srv, ANNOUNCE, 'im_open_login_svc/account_import', { UserID: 'aw-bar' });
  await watcher.client.subscribeUserStatus({ userIDList: ['aw-target', 'aw-bar'] });
  await change(srv, ANNOUNCE, { limits: { announceWindowSec: 60 } });
  await target.client.setSelfStatus({ customStatus: 'one' });
  await target.client.setSelfStatus({ customStatus: 'two' });
  // A general status change is never held back: once the watcher hears aw-bar log in, it would
  // have heard aw-target's changes had they gone out (S22).
  await user(ANNOUNCE, 'aw-bar');
  await watcher.waitFor(is('aw-bar', ONLINE));
  assert.deepEqual(heardAbout(watcher, 'aw-target'), []);
  await change(srv, ANNOUNCE, { limits: { announceWindowSec: 0 } });
  await watcher.waitFor(is('aw-target', ONLINE, 'two'));
  await target.client.setSelfStatus({ customStatus: 'three' });
  await watcher.waitFor(is('aw-target', ONLINE, 'three'));
  assert.deepEqual(heardAbout(watcher, 'aw-target'), ['two', 'three']);
});

test('S5 a heartbeat timeout changed at run time applies to sessions logged in after the change: told at login, swept after it (S3)', async () => {
  await change(srv, HEARTBEAT, { limits: { heartbeatTimeoutSec: 1 } });
  // Logged in after the change, the SDK heartbeats on the new interval and stays online.
  const watcher = await user(HEARTBEAT, 'hb-watch');
  assert.equal((await call(srv, HEARTBEAT, 'im_open_login_svc/account_import', { UserID: 'hb-silent' })).ActionStatus, 'OK');
  await watcher.client.subscribeUserStatus({ userIDList: ['hb-silent'] });

  const peer = await RawPeer.connect(srv.ws);
  peers.push(peer);
  const login = await peer.login(HEARTBEAT, 'hb-silent', srv.sig('hb-silent', { SDKAppID: HEARTBEAT }), 'Android');
  assert.equal(login.code, 0, JSON.stringify(login));
  const data = login.data as { heartbeatTimeoutMs: number; heartbeatIntervalMs: number };
  assert.deepEqual([data.heartbeatTimeoutMs, data.heartbeatIntervalMs], [1000, 333]);
  const since = Date.now();
  await watcher.waitFor(is('hb-silent', ONLINE));
  // The peer never sends a heartbeat: it is declared dead within 1 s + max(1 s, 10%) (S5).
  await peer.closed;
  await watcher.waitFor(is('hb-silent', OFFLINE));
  const elapsed = Date.now() - since;
  assert.ok(elapsed >= 900 && elapsed < 2000 + 300, `declared dead after ${elapsed} ms`);
  assert.ok(watcher.client.isReady(), 'the watcher, heartbeating on the new interval, lives on');
});

test('S5 a session logged in before a heartbeat timeout change keeps the timeout it was told at login', async () => {
  const app = HEARTBEAT;
  await change(srv, app, { limits: { heartbeatTimeoutSec: 400 } });
  const old = await RawPeer.connect(srv.ws);
  peers.push(old);
  assert.equal((await old.login(app, 'hb-old', srv.sig('hb-old', { SDKAppID: app }), 'Mac')).code, 0);
  await change(srv, app, { limits: { heartbeatTimeoutSec: 0.5 } });
  await user(app, 'hb-new'); // a login after the change
  // Told 400 s (heartbeat every 60 s) at login: 2 s of silence must not end it.
  const outcome = await Promise.race([old.closed.then(() => 'closed'), new Promise((r) => setTimeout(r, 2000, 'alive'))]);
  assert.equal(outcome, 'alive');
});

// ---- device policy -----------------------------------------------------------------------------

test('S26 S27 the device policy changed at run time decides the next login: single kicks all, multi keeps up to the cap, perPlatform again', async () => {
  const web = await user(POLICY, 'p-user', 'Web');
  const phone = await user(POLICY, 'p-user', 'Android');
  assert.deepEqual([web.kicks, phone.kicks], [[], []], 'perPlatform: other platforms coexist');

  await change(srv, POLICY, { devices: { policy: 'single' } });
  assert.ok(web.client.isReady() && phone.client.isReady(), 'a policy applies at login: sessions already in stay');
  const mac1 = await user(POLICY, 'p-user', 'Mac');
  assert.deepEqual([await web.waitKick(), await phone.waitKick()], [Presently.TYPES.KICKED_OUT_MULT_ACCOUNT, Presently.TYPES.KICKED_OUT_MULT_DEVICE]);

  await change(srv, POLICY, { devices: { policy: 'multi', maxPerPlatform: 2 } });
  const mac2 = await user(POLICY, 'p-user', 'Mac');
  assert.deepEqual(mac1.kicks, []);
  const mac3 = await user(POLICY, 'p-user', 'Mac');
  assert.equal(await mac1.waitKick(), Presently.TYPES.KICKED_OUT_MULT_DEVICE);
  assert.deepEqual(mac2.kicks, []);

  await change(srv, POLICY, { devices: { policy: 'perPlatform' } });
  const mac4 = await user(POLICY, 'p-user', 'Mac');
  assert.deepEqual([await mac2.waitKick(), await mac3.waitKick()], [Presently.TYPES.KICKED_OUT_MULT_DEVICE, Presently.TYPES.KICKED_OUT_MULT_DEVICE]);
  assert.ok(mac4.client.isReady());
  const q = await call(srv, POLICY, 'openim/query_online_status', { To_Account: ['p-user'], IsNeedDetail: 1 });
  assert.deepEqual((q.QueryResult as Array<{ Detail: unknown }>)[0]?.Detail, [{ Platform: 'Mac', Status: 'Online' }]);
});

// ---- who may change what -----------------------------------------------------------------------

test('S31 non-admins are refused with 60010 and nothing changes; admins changed at run time take effect at once', async () => {
  const before = await getSettings(srv, ADMINS);
  for (const command of ['presently/get_app_settings', 'presently/set_app_settings', 'presently/reset_app_settings']) {
    const r = await call(srv, ADMINS, command, { Settings: { edition: 'basic' } }, 'bob');
    assert.equal(r.ErrorCode, ErrorCode.REST_ADMIN_REQUIRED, command);
    assert.equal(r.ActionStatus, 'FAIL');
    assert.equal(r.Settings, undefined);
  }
  assert.deepEqual(await getSettings(srv, ADMINS), before);

  await change(srv, ADMINS, { admins: ['administrator', 'ops'] });
  assert.equal((await call(srv, ADMINS, 'presently/get_app_settings', {}, 'ops')).ActionStatus, 'OK');
  const lockout = await call(srv, ADMINS, 'presently/set_app_settings', { Settings: { admins: ['ops'] } });
  assert.equal(lockout.ErrorCode, ErrorCode.INVALID_PARAMETERS, 'an admin cannot remove itself');
  assert.equal((await call(srv, ADMINS, 'presently/set_app_settings', { Settings: { admins: ['ops'] } }, 'ops')).ActionStatus, 'OK');
  assert.equal((await call(srv, ADMINS, 'presently/get_app_settings', {}, 'administrator')).ErrorCode, ErrorCode.REST_ADMIN_REQUIRED);
  assert.equal((await call(srv, ADMINS, 'im_open_login_svc/account_check', { CheckItem: [{ UserID: 'x' }] }, 'administrator')).ErrorCode, ErrorCode.REST_ADMIN_REQUIRED);
});

test('S32 invalid settings are refused with 70402 naming the field, and nothing changes', async () => {
  const before = await getSettings(srv, INVALID);
  const cases: Array<[unknown, RegExp]> = [
    [{ Settings: { limits: { maxQueryIDs: 0 } } }, /Settings\.limits\.maxQueryIDs/],
    [{ Settings: { limits: { rateLimitCalls: 5 }, userStatus: { queryAndNotify: 'off' } } }, /Settings\.userStatus\.queryAndNotify/],
    [{ Settings: { devices: { policy: 'everything' } } }, /Settings\.devices\.policy/],
    [{ Settings: { edition: 'enterprise' } }, /Settings\.edition/],
    [{ Settings: { webhook: { url: 'not a url' } } }, /Settings\.webhook\.url/],
    [{ Settings: { secretKey: 'a-new-secret-key' } }, /Settings\.secretKey/],
    [{ Settings: { SDKAppID: 42 } }, /Settings\.SDKAppID/],
    [{ Settings: { limits: { maxQueryIDS: 3 } } }, /^Settings\.limits\.maxQueryIDS: unknown key; did you mean maxQueryIDs\?$/],
    [{}, /^Settings: is required$/],
  ];
  for (const [body, info] of cases) {
    const r = await call(srv, INVALID, 'presently/set_app_settings', body);
    assert.equal(r.ErrorCode, ErrorCode.INVALID_PARAMETERS, JSON.stringify(body));
    assert.match(String(r.ErrorInfo), info);
  }
  assert.equal((await call(srv, INVALID, 'presently/set_app_settings', '{"Settings":')).ErrorCode, ErrorCode.REST_BAD_JSON);
  assert.equal((await call(srv, INVALID, 'presently/no_such_command', {})).ErrorCode, ErrorCode.REST_BAD_URL);
  assert.deepEqual(await getSettings(srv, INVALID), before);
  // The app still behaves as before: 500 ids per query.
  const me = await user(INVALID, 'i-me');
  const many = Array.from({ length: 500 }, (_, i) => `i-${i}`);
  assert.equal((await me.client.getUserStatus({ userIDList: many })).data.failureUserList.length, 500);
});

test('S29 a webhook set at run time gets the next event, signed with its secret; a new secret signs the next one; the secret is never shown', async () => {
  const got: Array<{ url: string; body: string; headers: IncomingHttpHeaders }> = [];
  let wake: () => void = () => undefined;
  const receiver = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      got.push({ url: req.url ?? '', body, headers: req.headers });
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"ActionStatus":"OK","ErrorInfo":"","ErrorCode":0}');
      wake();
    });
  });
  await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
  type Callback = { Info?: { Action?: string; To_Account?: string } };
  const next = (pred: (b: Callback) => boolean) =>
    new Promise<(typeof got)[number]>((resolve) => {
      const check = () => {
        const hit = got.find((g) => pred(JSON.parse(g.body) as Callback));
        if (hit) resolve(hit);
        else wake = check;
      };
      check();
    });
  const signedWith = (secret: string, g: (typeof got)[number]) => g.headers['x-presently-signature'] === signBody(secret, String(g.headers['x-presently-timestamp']), g.body);
  try {
    const url = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`;
    const view = await change(srv, WEBHOOK, { webhook: { url, secret: 'first-webhook-secret' } });
    assert.deepEqual(view.webhook, { url, timeoutMs: 2000, maxAttempts: 8, HasSecret: true });
    const r = await call(srv, WEBHOOK, 'presently/get_app_settings', {});
    assert.ok(!JSON.stringify(r).includes('first-webhook-secret'));

    await user(WEBHOOK, 'wh-one');
    const first = await next((b) => b.Info?.Action === 'Login' && b.Info.To_Account === 'wh-one');
    assert.match(first.url, /CallbackCommand=State\.StateChange/);
    assert.ok(signedWith('first-webhook-secret', first));

    // Only the secret changes: the URL and the rest are kept (merged key by key).
    await change(srv, WEBHOOK, { webhook: { secret: 'second-webhook-secret' } });
    await user(WEBHOOK, 'wh-two');
    const second = await next((b) => b.Info?.Action === 'Login' && b.Info.To_Account === 'wh-two');
    assert.ok(signedWith('second-webhook-secret', second));
    assert.equal((await change(srv, WEBHOOK, { webhook: null })).webhook, null);
  } finally {
    await new Promise((r) => receiver.close(r));
  }
});

// ---- durability --------------------------------------------------------------------------------

test('S30 settings changed at run time survive a restart (kill -9 after the reply) and win over the config file; untouched values follow the file; reset goes back to it', async () => {
  const file = (limits: Record<string, number>) => writeFileSync(s.configPath, JSON.stringify({ apps: [appConfig({ userStatus: { friendAutoNotify: false }, limits })] }));
  let s = await startServer({ apps: [appConfig({ userStatus: { friendAutoNotify: false } })] });
  try {
    await change(s, APP, {
      userStatus: { queryAndNotify: false },
      limits: { customStatusMaxBytes: 4, maxQueryIDs: 7 },
      devices: { policy: 'single' },
      webhook: { url: 'http://127.0.0.1:9/hook', secret: 'stored-secret' },
    });
    // Acknowledged means durable: not even kill -9 right after the reply loses it.
    await s.stop({ kill: true, keepData: true });
    file({ maxQueryIDs: 9, maxFriends: 77 }); // one value changed at run time, one not
    s = await s.restart();

    const after1 = await getSettings(s, APP);
    assert.deepEqual(after1.userStatus, { queryAndNotify: false, friendAutoNotify: false });
    assert.equal(after1.limits.maxQueryIDs, 7, 'the run-time change wins over the file');
    assert.equal(after1.limits.maxFriends, 77, 'a value never changed at run time follows the file');
    assert.equal(after1.limits.customStatusMaxBytes, 4);
    assert.equal(after1.devices.policy, 'single');
    assert.deepEqual(after1.webhook, { url: 'http://127.0.0.1:9/hook', timeoutMs: 2000, maxAttempts: 8, HasSecret: true });
    // ...and the server behaves by them.
    const web = await sdk(s, 'd-me', { platform: 'Web' });
    await sdk(s, 'd-other', { platform: 'Web' });
    await assert.rejects(web.client.getUserStatus({ userIDList: ['d-other'] }), codeIs(ErrorCode.FEATURE_NOT_ENABLED));
    await assert.rejects(web.client.setSelfStatus({ customStatus: '12345' }), codeIs(ErrorCode.CUSTOM_STATUS_TOO_LONG));
    await sdk(s, 'd-me', { platform: 'Android' });
    assert.equal(await web.waitKick(), Presently.TYPES.KICKED_OUT_MULT_ACCOUNT, 'single policy after the restart');

    const reset = await call(s, APP, 'presently/reset_app_settings', {});
    assert.equal(reset.ActionStatus, 'OK');
    assert.deepEqual(reset.StoredChanges, {});
    await destroyAll();
    await s.stop({ keepData: true });
    s = await s.restart();
    const after2 = await getSettings(s, APP);
    assert.deepEqual(after2.userStatus, { queryAndNotify: true, friendAutoNotify: false });
    assert.equal(after2.limits.maxQueryIDs, 9);
    assert.equal(after2.devices.policy, 'perPlatform');
    assert.equal(after2.webhook, null);
  } finally {
    await destroyAll();
    await s.stop();
  }
});
