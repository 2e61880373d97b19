/**
 * Per-app isolation (hardening issue, security review): for every API, a user or admin of one app
 * tries to read or touch a user of another app, and learns nothing.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { ErrorCode } from '@presently/protocol';
import { makeUserSig } from '../packages/server/src/auth/usersig.js';
import { APP, KEY, appConfig, startServer, type TestServer } from './helpers/server.js';
import { RawPeer } from './helpers/raw.js';
import { rest } from './helpers/rest.js';

const B = APP + 7;
const KEY_B = 'the-other-apps-secret-key';
let srv: TestServer;
let alice: RawPeer; // app A
let bob: RawPeer; // app B, the target

before(async () => {
  srv = await startServer({ apps: [appConfig(), appConfig({ SDKAppID: B, secretKey: KEY_B })] });
  alice = await RawPeer.connect(srv.ws);
  assert.equal((await alice.login(APP, 'alice', srv.sig('alice'))).code, 0);
  bob = await RawPeer.connect(srv.ws);
  assert.equal((await bob.request('login', { SDKAppID: B, userID: 'bob', userSig: makeUserSig({ SDKAppID: B, secretKey: KEY_B, userID: 'bob' }) })).code, 0);
  assert.equal((await bob.request('setSelfStatus', { customStatus: 'secret of app B' })).code, 0);
});
after(async () => {
  alice.close();
  bob.close();
  await srv.stop();
});

const leaks = (x: unknown) => JSON.stringify(x).includes('secret of app B');

test("tenancy: getUserStatus of another app's user answers 70107, nothing else", async () => {
  const r = await alice.request('getUserStatus', { userIDList: ['bob'] });
  assert.deepEqual((r.data as { successUserList: unknown[] }).successUserList, []);
  assert.equal((r.data as { failureUserList: Array<{ code: number }> }).failureUserList[0]?.code, ErrorCode.ACCOUNT_NOT_FOUND);
  assert.ok(!leaks(r));
});

test("tenancy: subscribe/unsubscribe/sync cannot reach another app's user; its changes never arrive", async () => {
  const s = await alice.request('subscribeUserStatus', { userIDList: ['bob'] });
  assert.equal((s.data as { failureUserList: Array<{ code: number }> }).failureUserList[0]?.code, ErrorCode.ACCOUNT_NOT_FOUND);
  const u = await alice.request('unsubscribeUserStatus', { userIDList: ['bob'] });
  assert.equal((u.data as { failureUserList: Array<{ code: number }> }).failureUserList[0]?.code, ErrorCode.ACCOUNT_NOT_FOUND);
  const sync = await alice.request('syncStatus');
  assert.ok(!leaks(sync));
  assert.equal((await bob.request('setSelfStatus', { customStatus: 'secret of app B, again' })).code, 0);
  // A marker of alice's own proves her socket is flowing; nothing of bob's came before it.
  assert.equal((await alice.request('setSelfStatus', { customStatus: 'marker' })).code, 0);
  await alice.next((f) => f.op === 'userStatusUpdated' && JSON.stringify(f.data).includes('marker'));
  assert.ok(!alice.frames.some(leaks));
});

test('tenancy: a ticket of app B does not log in to app A, and the reverse', async () => {
  const p = await RawPeer.connect(srv.ws);
  const bSig = makeUserSig({ SDKAppID: B, secretKey: KEY_B, userID: 'bob' });
  assert.equal((await p.request('login', { SDKAppID: APP, userID: 'bob', userSig: bSig })).code, ErrorCode.USERSIG_SDKAPPID_MISMATCH);
  const aSigForB = makeUserSig({ SDKAppID: B, secretKey: KEY, userID: 'bob' }); // right app number, wrong key
  assert.equal((await p.request('login', { SDKAppID: B, userID: 'bob', userSig: aSigForB })).code, ErrorCode.USERSIG_KEY_MISMATCH);
  p.close();
});

test("tenancy: every REST command of app A naming app B's user finds nothing and changes nothing", async () => {
  const calls: Array<[string, unknown, (r: Record<string, unknown>) => void]> = [
    ['openim/query_online_status', { To_Account: ['bob'] }, (r) => assert.equal((r.ErrorList as Array<{ ErrorCode: number }>)[0]?.ErrorCode, ErrorCode.ACCOUNT_NOT_FOUND)],
    [
      'im_open_login_svc/account_check',
      { CheckItem: [{ UserID: 'bob' }] },
      (r) => assert.equal((r.ResultItem as Array<{ AccountStatus: string }>)[0]?.AccountStatus, 'NotImported'),
    ],
    ['im_open_login_svc/kick', { UserID: 'bob' }, (r) => assert.equal(r.ErrorCode, ErrorCode.ACCOUNT_NOT_FOUND)],
    [
      'im_open_login_svc/account_delete',
      { DeleteItem: [{ UserID: 'bob' }] },
      (r) => assert.equal((r.ResultItem as Array<{ ResultCode: number }>)[0]?.ResultCode, ErrorCode.ACCOUNT_NOT_FOUND),
    ],
    ['sns/friend_get', { From_Account: 'bob', StartIndex: 0 }, (r) => assert.equal(r.ActionStatus, 'FAIL')],
    ['sns/friend_add', { From_Account: 'alice', AddFriendItem: [{ To_Account: 'bob' }] }, (r) => assert.deepEqual(r.Fail_Account, ['bob'])],
    [
      'sns/friend_check',
      { From_Account: 'alice', To_Account: ['bob'], CheckType: 'CheckResult_Type_Both' },
      (r) =>
        assert.deepEqual(
          (r.InfoItem as Array<{ Relation: string }>).map((i) => i.Relation),
          ['CheckResult_Type_NoRelation'],
        ),
    ],
    [
      'sns/friend_delete',
      { From_Account: 'alice', To_Account: ['bob'] },
      (r) =>
        assert.deepEqual(
          (r.ResultItem as Array<{ ResultCode: number }>).map((i) => i.ResultCode),
          [ErrorCode.FRIEND_NOT_FRIEND],
        ),
    ],
  ];
  for (const [command, body, check] of calls) {
    const r = await rest(srv, command, body);
    check(r);
    assert.ok(!leaks(r), command);
  }
  // App A's admin ticket is worthless for app B.
  const asB = await rest(srv, 'openim/query_online_status', { To_Account: ['bob'] }, { sdkappid: String(B) });
  assert.equal(asB.ActionStatus, 'FAIL');
  assert.ok(!leaks(asB));
  // Bob is untouched: still online, status intact.
  const q = await bob.request('getUserStatus', { userIDList: ['bob'] });
  assert.equal((q.data as { successUserList: Array<{ statusType: number }> }).successUserList[0]?.statusType, 1);
});
