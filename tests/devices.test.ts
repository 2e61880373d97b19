/**
 * Multi-device login policies (S26, compat.md §6) end to end through real SDK sessions: for each
 * of `perPlatform` (the default), `single` and `multi`, who is kicked, with which KICKED_OUT
 * type (`multipleDevice` for a native session, `multipleAccount` for a web instance), how the
 * kicked clients' calls fail (3002 / 3003), and the resulting status seen by a watcher and by
 * REST query_online_status: a kicked session counts as logged out (S27, S4), a lost one keeps
 * its login (S3), and a user stays ONLINE while any session lives (S6).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import Presently from '@presently/client';
import { ErrorCode, type Platform } from '@presently/protocol';
import { APP, appConfig, startServer, type TestServer } from './helpers/server.js';
import { destroyAll, is, sdk, type Watched } from './helpers/sdk.js';
import { RawPeer } from './helpers/raw.js';
import { rest } from './helpers/rest.js';

const { USER_STATUS_ONLINE: ONLINE, USER_STATUS_OFFLINE: OFFLINE, USER_STATUS_UNLOGINED: UNLOGINED } = Presently.TYPES;
const { KICKED_OUT_MULT_ACCOUNT: MULT_ACCOUNT, KICKED_OUT_MULT_DEVICE: MULT_DEVICE } = Presently.TYPES;
const codeIs = (code: number) => (e: { code: number }) => e.code === code;

const PER = APP + 21;
const SINGLE = APP + 22;
const MULTI = APP + 23;
const MULTI_DEFAULT = APP + 24;

let srv: TestServer;
const peers: RawPeer[] = [];
before(async () => {
  srv = await startServer({
    apps: [
      appConfig({ SDKAppID: PER }),
      appConfig({ SDKAppID: SINGLE, devices: { policy: 'single' } }),
      appConfig({ SDKAppID: MULTI, devices: { policy: 'multi', maxPerPlatform: 2, maxWeb: 2 } }),
      appConfig({ SDKAppID: MULTI_DEFAULT, devices: { policy: 'multi' } }),
    ],
  });
});
after(async () => {
  for (const p of peers) p.close();
  await destroyAll();
  await srv.stop();
});

// ---- helpers -----------------------------------------------------------------------------------

function call(app: number, command: string, body: unknown): Promise<Record<string, unknown>> {
  return rest(srv, command, body, { sdkappid: String(app), usersig: srv.sig('administrator', { SDKAppID: app }) });
}

function session(app: number, userID: string, platform: Platform): Promise<Watched> {
  return sdk(srv, userID, { SDKAppID: app, platform, sig: srv.sig(userID, { SDKAppID: app }) });
}

/** A raw session, for a connection that goes away without logging out. */
async function rawSession(app: number, userID: string, platform: Platform): Promise<RawPeer> {
  const p = await RawPeer.connect(srv.ws);
  peers.push(p);
  const r = await p.login(app, userID, srv.sig(userID, { SDKAppID: app }), platform);
  assert.equal(r.code, 0, JSON.stringify(r));
  return p;
}

/** A user of the app subscribed to `target` (made an account first). */
async function watcherOf(app: number, target: string): Promise<Watched> {
  assert.equal((await call(app, 'im_open_login_svc/account_import', { UserID: target })).ActionStatus, 'OK');
  const w = await session(app, `${target}-watcher`, 'Web');
  await w.client.subscribeUserStatus({ userIDList: [target] });
  return w;
}

/** REST view of one user (S29): `Status` and the sorted `Platform:Status` detail. */
async function restStatus(app: number, userID: string): Promise<{ Status: string; devices: string[] }> {
  const r = await call(app, 'openim/query_online_status', { To_Account: [userID], IsNeedDetail: 1 });
  assert.equal(r.ActionStatus, 'OK', JSON.stringify(r));
  const item = (r.QueryResult as Array<{ Status: string; Detail?: Array<{ Platform: string; Status: string }> }>)[0]!;
  return { Status: item.Status, devices: (item.Detail ?? []).map((d) => `${d.Platform}:${d.Status}`).sort() };
}

let ticks = 0;
/** Sets a custom status on `by` and waits until the watcher hears it: every earlier change of that user has reached it (S22). */
async function settle(watcher: Watched, by: Watched): Promise<void> {
  const tag = `tick-${++ticks}`;
  await by.client.setSelfStatus({ customStatus: tag });
  await watcher.waitFor(is(by.userID, ONLINE, tag));
}

const statusesOf = (w: Watched, userID: string) => w.updates.filter((u) => u.userID === userID).map((u) => u.statusType);

// ---- perPlatform (the default) -------------------------------------------------------------------

test('S26 S27 S6 perPlatform: a newer login on the same platform kicks the older (Web multipleAccount, native multipleDevice), other platforms stay', async () => {
  const watcher = await watcherOf(PER, 'pp');
  const web1 = await session(PER, 'pp', 'Web');
  const phone1 = await session(PER, 'pp', 'Android');
  const pad = await session(PER, 'pp', 'iPad');
  const pc = await session(PER, 'pp', 'Windows');
  const web2 = await session(PER, 'pp', 'Web');
  assert.equal(await web1.waitKick(), MULT_ACCOUNT);
  const phone2 = await session(PER, 'pp', 'Android');
  assert.equal(await phone1.waitKick(), MULT_DEVICE);
  for (const w of [pad, pc, web2, phone2]) {
    assert.deepEqual(w.kicks, []);
    assert.ok(w.client.isReady());
  }
  // S27: the kicked clients are logged out; their calls fail with the kick's code.
  assert.equal(web1.client.isReady(), false);
  await assert.rejects(web1.client.setSelfStatus({ customStatus: 'x' }), codeIs(ErrorCode.KICKED_MULT_ACCOUNT));
  await assert.rejects(phone1.client.getUserStatus({ userIDList: ['pp'] }), codeIs(ErrorCode.KICKED_MULT_DEVICE));
  await assert.rejects(phone1.client.subscribeUserStatus({ userIDList: ['pp-watcher'] }), codeIs(ErrorCode.KICKED_MULT_DEVICE));
  // One live session per platform, nothing left of the kicked ones (S27), Windows reported as PC.
  assert.deepEqual(await restStatus(PER, 'pp'), { Status: 'Online', devices: ['Android:Online', 'PC:Online', 'Web:Online', 'iPad:Online'] });
  // S6: the user never stopped being ONLINE for the watcher.
  await settle(watcher, web2);
  assert.deepEqual(statusesOf(watcher, 'pp'), [ONLINE, ONLINE]);

  // S4: once every live session logs out the user is UNLOGINED: the kicked ones left no login.
  for (const w of [pad, pc, web2, phone2]) await w.client.logout();
  await watcher.waitFor(is('pp', UNLOGINED, ''));
  assert.deepEqual(statusesOf(watcher, 'pp'), [ONLINE, ONLINE, UNLOGINED]);
  assert.deepEqual(await restStatus(PER, 'pp'), { Status: 'Offline', devices: [] });
});

test('S3 S27 perPlatform: a session that is lost keeps its login (OFFLINE, PushOnline); the next login on that platform takes it over', async () => {
  const watcher = await watcherOf(PER, 'lost');
  const raw = await rawSession(PER, 'lost', 'Android');
  await watcher.waitFor(is('lost', ONLINE));
  raw.close();
  await watcher.waitFor(is('lost', OFFLINE));
  assert.deepEqual(await restStatus(PER, 'lost'), { Status: 'PushOnline', devices: ['Android:PushOnline'] });
  const phone = await session(PER, 'lost', 'Android');
  await watcher.waitFor(is('lost', ONLINE));
  assert.deepEqual(await restStatus(PER, 'lost'), { Status: 'Online', devices: ['Android:Online'] });
  await phone.client.logout();
  await watcher.waitFor(is('lost', UNLOGINED));
});

// ---- single ------------------------------------------------------------------------------------

test('S26 S27 S4 single: every new login, on any platform, kicks all other sessions; the last logout leaves the user UNLOGINED', async () => {
  const watcher = await watcherOf(SINGLE, 'sg');
  const web = await session(SINGLE, 'sg', 'Web');
  const phone = await session(SINGLE, 'sg', 'Android');
  assert.equal(await web.waitKick(), MULT_ACCOUNT, 'a web victim is multipleAccount');
  const mac = await session(SINGLE, 'sg', 'Mac');
  assert.equal(await phone.waitKick(), MULT_DEVICE, 'a native victim is multipleDevice');
  const web2 = await session(SINGLE, 'sg', 'Web');
  assert.equal(await mac.waitKick(), MULT_DEVICE);
  assert.deepEqual(web2.kicks, []);
  await assert.rejects(web.client.getUserStatus({ userIDList: ['sg'] }), codeIs(ErrorCode.KICKED_MULT_ACCOUNT));
  await assert.rejects(phone.client.setSelfStatus({ customStatus: 'x' }), codeIs(ErrorCode.KICKED_MULT_DEVICE));
  await assert.rejects(mac.client.setSelfStatus({ customStatus: 'x' }), codeIs(ErrorCode.KICKED_MULT_DEVICE));
  for (const w of [web, phone, mac]) assert.equal(w.client.getLoginUser(), '');
  assert.deepEqual(await restStatus(SINGLE, 'sg'), { Status: 'Online', devices: ['Web:Online'] });
  await settle(watcher, web2);
  assert.deepEqual(statusesOf(watcher, 'sg'), [ONLINE, ONLINE], 'S6 no flap while sessions replace each other');

  await web2.client.logout();
  await watcher.waitFor(is('sg', UNLOGINED, ''));
  assert.deepEqual(await restStatus(SINGLE, 'sg'), { Status: 'Offline', devices: [] });
});

test('S26 S3 single: a new login also ends the login of a session that was lost before it (one session at a time)', async () => {
  const watcher = await watcherOf(SINGLE, 'sg-lost');
  const raw = await rawSession(SINGLE, 'sg-lost', 'Android');
  raw.close();
  await watcher.waitFor(is('sg-lost', OFFLINE));
  const web = await session(SINGLE, 'sg-lost', 'Web');
  assert.deepEqual(await restStatus(SINGLE, 'sg-lost'), { Status: 'Online', devices: ['Web:Online'] });
  await web.client.logout();
  await watcher.waitFor((s) => s.userID === 'sg-lost' && s.statusType !== ONLINE);
  assert.deepEqual(await restStatus(SINGLE, 'sg-lost'), { Status: 'Offline', devices: [] });
});

// ---- multi -------------------------------------------------------------------------------------

test('S26 S27 S3 multi: up to maxPerPlatform per native platform and maxWeb web instances, the oldest kicked; kicked ones leave no login, a lost one does', async () => {
  const watcher = await watcherOf(MULTI, 'mu');
  const a1 = await session(MULTI, 'mu', 'Android');
  const a2 = await session(MULTI, 'mu', 'Android');
  assert.deepEqual(a1.kicks, [], 'two Android sessions fit');
  const a3 = await session(MULTI, 'mu', 'Android');
  assert.equal(await a1.waitKick(), MULT_DEVICE, 'the oldest Android goes');
  const w1 = await session(MULTI, 'mu', 'Web');
  const w2 = await session(MULTI, 'mu', 'Web');
  const pad = await session(MULTI, 'mu', 'iPad');
  const w3 = await session(MULTI, 'mu', 'Web');
  assert.equal(await w1.waitKick(), MULT_ACCOUNT, 'the oldest web instance goes');
  // A fourth Android (a raw client, lost later) pushes out the oldest one left, a2.
  const a4 = await rawSession(MULTI, 'mu', 'Android');
  assert.equal(await a2.waitKick(), MULT_DEVICE);
  for (const w of [a3, w2, w3, pad]) assert.deepEqual(w.kicks, []);
  await assert.rejects(a1.client.getUserStatus({ userIDList: ['mu'] }), codeIs(ErrorCode.KICKED_MULT_DEVICE));
  await assert.rejects(w1.client.setSelfStatus({ customStatus: 'x' }), codeIs(ErrorCode.KICKED_MULT_ACCOUNT));
  assert.deepEqual(await restStatus(MULTI, 'mu'), {
    Status: 'Online',
    devices: ['Android:Online', 'Android:Online', 'Web:Online', 'Web:Online', 'iPad:Online'],
  });
  await settle(watcher, w3);
  assert.deepEqual(statusesOf(watcher, 'mu'), [ONLINE, ONLINE]);

  // Every SDK session logs out; the raw one is lost: OFFLINE with that one device pushed-online
  // (S3) and nothing of the four kicked sessions (S27).
  for (const w of [a3, w2, w3, pad]) await w.client.logout();
  a4.close();
  await watcher.waitFor(is('mu', OFFLINE, ''));
  assert.deepEqual(await restStatus(MULTI, 'mu'), { Status: 'PushOnline', devices: ['Android:PushOnline'] });
});

test('S26 S30 multi defaults: 3 per native platform and 10 web instances', async () => {
  const r = await call(MULTI_DEFAULT, 'presently/get_app_settings', {});
  assert.deepEqual((r.Settings as { devices: unknown }).devices, { policy: 'multi', maxPerPlatform: 3, maxWeb: 10 });
  const phones: Watched[] = [];
  for (let i = 0; i < 4; i++) phones.push(await session(MULTI_DEFAULT, 'md', 'iPhone'));
  assert.equal(await phones[0]!.waitKick(), MULT_DEVICE);
  const webs: Watched[] = [];
  for (let i = 0; i < 11; i++) webs.push(await session(MULTI_DEFAULT, 'md', 'Web'));
  assert.equal(await webs[0]!.waitKick(), MULT_ACCOUNT);
  for (const w of [...phones.slice(1), ...webs.slice(1)]) assert.deepEqual(w.kicks, []);
  const { Status, devices } = await restStatus(MULTI_DEFAULT, 'md');
  assert.equal(Status, 'Online');
  assert.deepEqual([devices.filter((d) => d === 'iPhone:Online').length, devices.filter((d) => d === 'Web:Online').length, devices.length], [3, 10, 13]);
});

test('S26 S3 multi: web instances that were lost count toward maxWeb; the earliest login goes first', async () => {
  const watcher = await watcherOf(MULTI, 'mu-lost');
  const lost = await rawSession(MULTI, 'mu-lost', 'Web');
  lost.close();
  await watcher.waitFor(is('mu-lost', OFFLINE));
  const w2 = await session(MULTI, 'mu-lost', 'Web');
  const w3 = await session(MULTI, 'mu-lost', 'Web'); // three web logins, two allowed
  assert.deepEqual(await restStatus(MULTI, 'mu-lost'), { Status: 'Online', devices: ['Web:Online', 'Web:Online'] });
  await w2.client.logout();
  await w3.client.logout();
  await watcher.waitFor((s) => s.userID === 'mu-lost' && s.statusType !== ONLINE);
  assert.deepEqual(await restStatus(MULTI, 'mu-lost'), { Status: 'Offline', devices: [] });
});
