/** Login, multi-device and kicks (S25-S28), S31 codes across transports: SDK against a real server. */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import Presently from '@presently/client';
import { ErrorCode } from '@presently/protocol';
import { APP, KEY, appConfig, startServer, type TestServer } from './helpers/server.js';
import { destroyAll, is, sdk, watch } from './helpers/sdk.js';
import { rest } from './helpers/rest.js';

const require = createRequire(import.meta.url);
const TLSSigAPIv2 = require('tls-sig-api-v2') as { Api: new (id: number, key: string) => { genUserSig(u: string, e: number): string } };
const { USER_STATUS_ONLINE: ONLINE, USER_STATUS_UNLOGINED: UNLOGINED } = Presently.TYPES;
const codeIs = (code: number) => (e: { code: number }) => e.code === code;

let srv: TestServer;
before(async () => {
  srv = await startServer({ apps: [appConfig()] });
});
after(async () => {
  await destroyAll();
  await srv.stop();
});

test('S25 a ticket made by the official tls-sig-api-v2 package logs in; the account is created by it', async () => {
  const userSig = new TLSSigAPIv2.Api(APP, KEY).genUserSig('official', 600);
  const w = await sdk(srv, 'official', { sig: userSig });
  assert.equal(w.client.getLoginUser(), 'official');
  assert.ok(w.client.isReady());
  const check = await rest(srv, 'im_open_login_svc/account_check', { CheckItem: [{ UserID: 'official' }] });
  assert.equal((check.ResultItem as Array<{ AccountStatus: string }>)[0]?.AccountStatus, 'Imported');
});

test('S25 forged, expired, wrong-app and wrong-user tickets are refused through the SDK with the compat codes', async () => {
  const forged = new TLSSigAPIv2.Api(APP, 'not-the-real-key').genUserSig('t-user', 600);
  const cases: Array<[string, string, number]> = [
    ['forged', forged, ErrorCode.USERSIG_KEY_MISMATCH],
    ['expired', srv.sig('t-user', { nowSec: Math.floor(Date.now() / 1000) - 100, expireSec: 10 }), ErrorCode.USERSIG_EXPIRED],
    ['wrong app', new TLSSigAPIv2.Api(APP + 1, KEY).genUserSig('t-user', 600), ErrorCode.USERSIG_SDKAPPID_MISMATCH],
    ['wrong user', srv.sig('t-other'), ErrorCode.USERSIG_IDENTIFIER_MISMATCH],
  ];
  for (const [label, userSig, code] of cases) {
    const client = Presently.create({ SDKAppID: APP, url: srv.ws });
    await assert.rejects(client.login({ userID: 't-user', userSig }), codeIs(code), label);
    assert.equal(client.isReady(), false);
    await client.destroy();
  }
  const check = await rest(srv, 'im_open_login_svc/account_check', { CheckItem: [{ UserID: 't-user' }] });
  assert.equal((check.ResultItem as Array<{ AccountStatus: string }>)[0]?.AccountStatus, 'NotImported', 'no refused login made an account');
});

test('S26 default policy: a newer login on the same platform kicks the older (multipleAccount on Web, multipleDevice native); other platforms coexist', async () => {
  const web1 = await sdk(srv, 'm-user', { platform: 'Web' });
  const phone1 = await sdk(srv, 'm-user', { platform: 'Android' });
  const pad = await sdk(srv, 'm-user', { platform: 'iPad' });
  const web2 = await sdk(srv, 'm-user', { platform: 'Web' });
  assert.equal(await web1.waitKick(), Presently.TYPES.KICKED_OUT_MULT_ACCOUNT);
  const phone2 = await sdk(srv, 'm-user', { platform: 'Android' });
  assert.equal(await phone1.waitKick(), Presently.TYPES.KICKED_OUT_MULT_DEVICE);
  assert.deepEqual(pad.kicks, []);
  // S27: the kicked instances are no longer ready; their calls reject with the kicked codes.
  assert.equal(web1.client.isReady(), false);
  await assert.rejects(web1.client.setSelfStatus({ customStatus: 'x' }), codeIs(ErrorCode.KICKED_MULT_ACCOUNT));
  await assert.rejects(phone1.client.getUserStatus({ userIDList: ['m-user'] }), codeIs(ErrorCode.KICKED_MULT_DEVICE));
  for (const w of [pad, web2, phone2]) assert.ok(w.client.isReady());
  const q = await rest(srv, 'openim/query_online_status', { To_Account: ['m-user'], IsNeedDetail: 1 });
  const detail = (q.QueryResult as Array<{ Detail: Array<{ Platform: string }> }>)[0]?.Detail.map((d) => d.Platform).sort();
  assert.deepEqual(detail, ['Android', 'Web', 'iPad']);
});

test('S27 a kicked session counts as logged out (S4): the user whose only session was kicked by an admin is UNLOGINED', async () => {
  const watcher = await sdk(srv, 'k-watcher');
  const user = await sdk(srv, 'k-user', { platform: 'Android' });
  await watcher.client.subscribeUserStatus({ userIDList: ['k-user'] });
  assert.equal((await rest(srv, 'im_open_login_svc/kick', { UserID: 'k-user' })).ActionStatus, 'OK');
  assert.equal(await user.waitKick(), Presently.TYPES.KICKED_OUT_REST_API);
  await watcher.waitFor(is('k-user', UNLOGINED, ''));
  await assert.rejects(user.client.setSelfStatus({ customStatus: 'x' }), codeIs(ErrorCode.KICKED_REST_API));
});

test('S28 REST kick kicks every session; tickets made at or before the kick second are refused with 70052, later ones work', async () => {
  const a = await sdk(srv, 'r-user', { platform: 'Web' });
  const b = await sdk(srv, 'r-user', { platform: 'Mac' });
  const kickSecond = Math.floor(Date.now() / 1000);
  const oldSig = srv.sig('r-user', { nowSec: kickSecond - 1 });
  const r = await rest(srv, 'im_open_login_svc/kick', { UserID: 'r-user' });
  assert.equal(r.ActionStatus, 'OK');
  const kickedAt = Math.floor(Date.now() / 1000);
  assert.deepEqual([await a.waitKick(), await b.waitKick()], [Presently.TYPES.KICKED_OUT_REST_API, Presently.TYPES.KICKED_OUT_REST_API]);
  for (const sig of [oldSig, srv.sig('r-user', { nowSec: kickSecond })]) {
    const c = Presently.create({ SDKAppID: APP, url: srv.ws });
    await assert.rejects(c.login({ userID: 'r-user', userSig: sig }), codeIs(ErrorCode.USERSIG_INVALIDATED));
    await c.destroy();
  }
  const fresh = await sdk(srv, 'r-user', { sig: srv.sig('r-user', { nowSec: kickedAt + 1 }) });
  assert.ok(fresh.client.isReady());
});

test('S31 the same refusal code over the SDK and over REST (70107 for an unknown account)', async () => {
  const me = await sdk(srv, 'c-me');
  const viaSdk = await me.client.getUserStatus({ userIDList: ['c-nobody'] });
  const viaRest = await rest(srv, 'openim/query_online_status', { To_Account: ['c-nobody'] });
  assert.equal(viaSdk.data.failureUserList[0]?.code, ErrorCode.ACCOUNT_NOT_FOUND);
  assert.equal((viaRest.ErrorList as Array<{ ErrorCode: number }>)[0]?.ErrorCode, ErrorCode.ACCOUNT_NOT_FOUND);
});

test('S26 logging in again on the same SDK instance is a repeat login, not a new session that kicks it', async () => {
  const me = await sdk(srv, 'same-inst');
  const other = watch(Presently.create({ SDKAppID: APP, url: srv.ws }), 'same-watcher');
  await other.client.login({ userID: 'same-watcher', userSig: srv.sig('same-watcher') });
  await other.client.subscribeUserStatus({ userIDList: ['same-inst'] });
  // A second login call on the same instance is a repeat, not a new session.
  const again = await me.client.login({ userID: 'same-inst', userSig: srv.sig('same-inst') });
  assert.equal(again.data.repeatLogin, true);
  await me.client.setSelfStatus({ customStatus: 'still here' });
  await other.waitFor(is('same-inst', ONLINE, 'still here'));
  assert.deepEqual(me.kicks, []);
  await other.client.destroy();
});
