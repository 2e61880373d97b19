/**
 * The REST admin API end to end (compat.md §3, §5): every command over real HTTP against a real
 * server process, the envelope and admin auth refusals, and the effects seen from the WebSocket
 * side: kick (S28), online status with per-device detail (S29), friendships feeding notifications
 * at once (S21c), deleted accounts (70107) and the same codes over both transports (S31).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { ErrorCode, UserStatus, type UserStatusInfo } from '@presently/protocol';
import { makeUserSig } from '../packages/server/src/auth/usersig.js';
import { APP, KEY, appConfig, startServer, type TestServer } from './helpers/server.js';
import { RawPeer, type Frame } from './helpers/raw.js';
import { rest } from './helpers/rest.js';

const require = createRequire(import.meta.url);
const TLSSigAPIv2 = require('tls-sig-api-v2') as { Api: new (app: number, key: string) => { genUserSig(userID: string, expire: number): string } };

/** A second app on the same server: each friend list holds at most one friend. */
const APP2 = APP + 1;

let srv: TestServer;
const peers: RawPeer[] = [];

before(async () => {
  srv = await startServer({ apps: [appConfig(), appConfig({ SDKAppID: APP2, limits: { maxFriends: 1 } })] });
});
after(async () => {
  for (const p of peers) p.close();
  await srv.stop();
});

// ---- helpers -----------------------------------------------------------------------------------

const OK = { ActionStatus: 'OK', ErrorCode: 0, ErrorInfo: '' };
const OK_SNS = { ...OK, ErrorDisplay: '' };
const fail = (code: number, info: string) => ({ ActionStatus: 'FAIL', ErrorCode: code, ErrorInfo: info });
const failSns = (code: number, info: string) => ({ ...fail(code, info), ErrorDisplay: '' });

const call = (command: string, body: unknown, opts: Parameters<typeof rest>[3] = {}) => rest(srv, command, body, opts);
const app2 = (command: string, body: unknown) => rest(srv, command, body, { sdkappid: String(APP2), usersig: srv.sig('administrator', { SDKAppID: APP2 }) });

async function connect(): Promise<RawPeer> {
  const p = await RawPeer.connect(srv.ws);
  peers.push(p);
  return p;
}

async function login(userID: string, platform = 'Web', sig = srv.sig(userID)): Promise<RawPeer> {
  const p = await connect();
  const r = await p.login(APP, userID, sig, platform);
  assert.equal(r.code, 0, JSON.stringify(r));
  return p;
}

async function importAccounts(...ids: string[]): Promise<void> {
  for (const UserID of ids) assert.deepEqual(await call('im_open_login_svc/account_import', { UserID }), OK);
}

/** The next `userStatusUpdated` item about `userID` (with that custom status, when given) this peer receives. */
async function pushAbout(peer: RawPeer, userID: string, customStatus?: string): Promise<UserStatusInfo> {
  const match = (s: UserStatusInfo): boolean => s.userID === userID && (customStatus === undefined || s.customStatus === customStatus);
  const f = await peer.next((x) => x.op === 'userStatusUpdated' && (x.data as UserStatusInfo[]).some(match));
  return (f.data as UserStatusInfo[]).find(match)!;
}

function pushesAbout(peer: RawPeer, userID: string): Frame[] {
  return peer.frames.filter((f) => f.op === 'userStatusUpdated' && (f.data as UserStatusInfo[]).some((s) => s.userID === userID));
}

async function subscribe(watcher: RawPeer, ...ids: string[]): Promise<void> {
  const r = await watcher.request('subscribeUserStatus', { userIDList: ids });
  assert.deepEqual(r.data, { failureUserList: [] });
}

async function setStatus(peer: RawPeer, customStatus: string): Promise<void> {
  assert.equal((await peer.request('setSelfStatus', { customStatus })).code, 0);
}

/** Closes the socket without logging out and waits until `watcher` hears the user is OFFLINE (S3). */
async function dropConnection(peer: RawPeer, userID: string, watcher: RawPeer): Promise<void> {
  peer.close();
  assert.deepEqual(await pushAbout(watcher, userID), { userID, statusType: UserStatus.OFFLINE, customStatus: '' });
}

const nowSec = (): number => Math.floor(Date.now() / 1000);

async function online(ids: string[], IsNeedDetail?: 0 | 1): Promise<Record<string, unknown>> {
  return call('openim/query_online_status', IsNeedDetail === undefined ? { To_Account: ids } : { To_Account: ids, IsNeedDetail });
}

async function checkAccounts(...ids: string[]): Promise<string[]> {
  const r = await call('im_open_login_svc/account_check', { CheckItem: ids.map((UserID) => ({ UserID })) });
  return (r.ResultItem as Array<{ AccountStatus: string }>).map((i) => i.AccountStatus);
}

async function friendsOf(from: string): Promise<string[]> {
  const r = await call('sns/friend_get', { From_Account: from });
  assert.equal(r.ActionStatus, 'OK', JSON.stringify(r));
  return (r.UserDataItem as Array<{ To_Account: string }>).map((f) => f.To_Account);
}

// ---- envelope and admin auth -------------------------------------------------------------------

test('S31 missing sdkappid is 60012, a non-numeric one 60006, a missing identifier 60004 (HTTP 200)', async () => {
  assert.deepEqual(await call('openim/query_online_status', { To_Account: ['x'] }, { sdkappid: '' }), fail(60012, 'sdkappid missing'));
  assert.deepEqual(await call('sns/friend_get', { From_Account: 'x' }, { sdkappid: '' }), failSns(60012, 'sdkappid missing'));
  assert.deepEqual(await call('openim/query_online_status', { To_Account: ['x'] }, { sdkappid: 'abc' }), fail(60006, 'sdkappid must be a number'));
  assert.deepEqual(await call('openim/query_online_status', { To_Account: ['x'] }, { identifier: '' }), fail(60004, 'identifier is missing'));
});

test('S32 REST does not tell an unknown SDKAppID from a known one: a ticket fails the same way for both', async () => {
  // A caller who guesses: a ticket for app 42 made with some key, and the same for this app.
  const guess = (SDKAppID: number) => makeUserSig({ SDKAppID, secretKey: 'a-guessed-key-0123', userID: 'administrator' });
  const unknown = await call('openim/query_online_status', { To_Account: ['x'] }, { sdkappid: '42', usersig: guess(42) });
  const known = await call('openim/query_online_status', { To_Account: ['x'] }, { usersig: guess(APP) });
  assert.deepEqual(unknown, known);
  assert.equal(known.ErrorCode, ErrorCode.USERSIG_KEY_MISMATCH);
  // Garbage and a ticket made for the other app id read the same way too.
  assert.deepEqual(
    await call('openim/query_online_status', { To_Account: ['x'] }, { sdkappid: '42', usersig: 'garbage' }),
    await call('openim/query_online_status', { To_Account: ['x'] }, { usersig: 'garbage' }),
  );
  assert.deepEqual(
    await call('openim/query_online_status', { To_Account: ['x'] }, { sdkappid: '42', usersig: guess(43) }),
    await call('openim/query_online_status', { To_Account: ['x'] }, { usersig: guess(43) }),
  );
});

test('S31 a non-admin identifier with its own valid UserSig is refused with 60010 and nothing changes', async () => {
  const victim = await login('na-victim');
  const asUser = { identifier: 'na-victim', usersig: srv.sig('na-victim') };
  const refused = fail(60010, 'only an app admin may call the REST API');
  assert.deepEqual(await call('im_open_login_svc/account_import', { UserID: 'na-new' }, asUser), refused);
  assert.deepEqual(await call('im_open_login_svc/kick', { UserID: 'na-victim' }, asUser), refused);
  assert.deepEqual(
    await call('sns/friend_add', { From_Account: 'na-victim', AddFriendItem: [{ To_Account: 'administrator' }] }, asUser),
    failSns(60010, 'only an app admin may call the REST API'),
  );
  // Nothing happened: no account, the session still logged in and not kicked, no friend.
  assert.deepEqual(await checkAccounts('na-new'), ['NotImported']);
  assert.deepEqual((await online(['na-victim'])).QueryResult, [{ To_Account: 'na-victim', Status: 'Online' }]);
  assert.deepEqual(await friendsOf('na-victim'), []);
  assert.equal((await victim.request('heartbeat', {})).code, 0);
  assert.equal(victim.frames.filter((f) => f.op === 'kickedOut').length, 0);
});

test('S25 S31 forged, foreign, expired, empty and garbled admin UserSigs are refused with the UserSig codes', async () => {
  const cases: Array<[string, string, number, string]> = [
    ['forged (wrong key)', makeUserSig({ SDKAppID: APP, secretKey: 'not-the-key', userID: 'administrator' }), 70009, 'UserSig does not match the secret key'],
    ['made for another user', srv.sig('fs-someone'), 70013, 'UserSig was made for another userID'],
    ['made for another app', srv.sig('administrator', { SDKAppID: APP2 }), 70014, 'UserSig was made for another SDKAppID'],
    ['expired', srv.sig('administrator', { nowSec: 1000, expireSec: 60 }), 70001, 'UserSig expired'],
    ['garbled', 'not-a-usersig', 70005, 'UserSig could not be decoded'],
  ];
  for (const [label, usersig, code, info] of cases) {
    assert.deepEqual(await call('im_open_login_svc/account_import', { UserID: 'fs-new' }, { usersig }), fail(code, info), label);
  }
  // An absent usersig is an empty one.
  const q = new URLSearchParams({ sdkappid: String(APP), identifier: 'administrator' });
  const res = await fetch(`${srv.http}/v4/im_open_login_svc/account_import?${q}`, { method: 'POST', body: '{"UserID":"fs-new"}' });
  assert.equal(res.status, 200);
  assert.deepEqual(await res.json(), fail(70002, 'UserSig is empty'));
  assert.deepEqual(await checkAccounts('fs-new'), ['NotImported']);
});

test('S25 an admin UserSig made by the official tls-sig-api-v2 package is accepted', async () => {
  const usersig = new TLSSigAPIv2.Api(APP, KEY).genUserSig('administrator', 600);
  assert.deepEqual(await call('im_open_login_svc/account_check', { CheckItem: [{ UserID: 'tls-x' }] }, { usersig }), {
    ...OK,
    ResultItem: [{ UserID: 'tls-x', ResultCode: 0, ResultInfo: '', AccountStatus: 'NotImported' }],
  });
});

test('S32 a malformed JSON body is 60003 and changes nothing; an empty body reads as {}', async () => {
  assert.deepEqual(await call('im_open_login_svc/account_import', '{"UserID": "mj-new"'), fail(60003, 'bad JSON body'));
  assert.deepEqual(await call('sns/friend_add', 'not json'), failSns(60003, 'bad JSON body'));
  assert.deepEqual(await checkAccounts('mj-new'), ['NotImported']);
  assert.deepEqual(await call('im_open_login_svc/account_import', ''), fail(70402, 'UserID is required'));
  assert.deepEqual(await call('im_open_login_svc/account_import', '[1,2]'), fail(70402, 'the request body must be a JSON object'));
  assert.deepEqual(await call('sns/friend_get', 'null'), failSns(30001, 'the request body must be a JSON object'));
});

test('S32 a body over 1 MiB is refused with 60003', async () => {
  const big = JSON.stringify({ UserID: 'big', Nick: 'n'.repeat(1024 * 1024) });
  assert.deepEqual(await call('im_open_login_svc/account_import', big), fail(60003, 'body too large'));
  assert.deepEqual(await checkAccounts('big'), ['NotImported']);
});

test('S31 an unknown command is HTTP 200 with ActionStatus FAIL and 60002', async () => {
  assert.deepEqual(await call('openim/no_such_command', {}), fail(60002, 'unknown command "openim/no_such_command"'));
  assert.deepEqual(await call('sns/friend_nope', {}), failSns(60002, 'unknown command "sns/friend_nope"'));
  assert.deepEqual(await call('v4', {}), fail(60002, 'unknown command "v4"'));
});

test('a GET (or any method but POST) on a REST path is HTTP 405 with Allow: POST', async () => {
  const q = new URLSearchParams({ sdkappid: String(APP), identifier: 'administrator', usersig: srv.sig('administrator') });
  for (const method of ['GET', 'PUT', 'DELETE']) {
    const res = await fetch(`${srv.http}/v4/openim/query_online_status?${q}`, { method });
    assert.equal(res.status, 405, method);
    assert.equal(res.headers.get('allow'), 'POST', method);
    await res.arrayBuffer();
  }
  const other = await fetch(`${srv.http}/v5/openim/query_online_status?${q}`, { method: 'POST', body: '{}' });
  assert.equal(other.status, 404);
  await other.arrayBuffer();
});

// ---- openim/query_online_status (S29) ----------------------------------------------------------

test('S29 query_online_status: Online / PushOnline (socket closed without logout) / Offline (never logged in, logged out), unknown in ErrorList', async () => {
  await importAccounts('qs-never');
  await login('qs-on');
  const watcher = await login('qs-watch');
  const push = await login('qs-push');
  const out = await login('qs-out');
  await subscribe(watcher, 'qs-push');
  await dropConnection(push, 'qs-push', watcher);
  assert.equal((await out.request('logout')).code, 0);

  assert.deepEqual(await online(['qs-on', 'qs-push', 'qs-out', 'qs-never', 'qs-nobody', 'qs-on']), {
    ...OK,
    QueryResult: [
      { To_Account: 'qs-on', Status: 'Online' },
      { To_Account: 'qs-push', Status: 'PushOnline' },
      { To_Account: 'qs-out', Status: 'Offline' },
      { To_Account: 'qs-never', Status: 'Offline' },
      { To_Account: 'qs-on', Status: 'Online' },
    ],
    ErrorList: [{ To_Account: 'qs-nobody', ErrorCode: 70107 }],
  });
  // The same three states as the SDK sees them (S1): ONLINE, OFFLINE, UNLOGINED.
  const q = await watcher.request('getUserStatus', { userIDList: ['qs-on', 'qs-push', 'qs-out', 'qs-nobody'] });
  assert.deepEqual(q.data, {
    successUserList: [
      { userID: 'qs-on', statusType: UserStatus.ONLINE, customStatus: '' },
      { userID: 'qs-push', statusType: UserStatus.OFFLINE, customStatus: '' },
      { userID: 'qs-out', statusType: UserStatus.UNLOGINED, customStatus: '' },
    ],
    failureUserList: [{ userID: 'qs-nobody', code: 70107, message: 'account does not exist' }],
  });
});

test('S29 query_online_status IsNeedDetail: one Detail entry per device, a Windows session reported as PC', async () => {
  const watcher = await login('qd-watch');
  const android = await login('qd-multi', 'Android');
  await subscribe(watcher, 'qd-multi');
  await dropConnection(android, 'qd-multi', watcher); // Android: logged in, socket gone
  await login('qd-multi', 'Windows');
  await login('qd-multi', 'iPhone');
  await login('qd-mac', 'Mac');
  await importAccounts('qd-none');

  assert.deepEqual(await online(['qd-multi', 'qd-mac', 'qd-none', 'qd-nobody'], 1), {
    ...OK,
    QueryResult: [
      {
        To_Account: 'qd-multi',
        Status: 'Online',
        Detail: [
          { Platform: 'PC', Status: 'Online' },
          { Platform: 'iPhone', Status: 'Online' },
          { Platform: 'Android', Status: 'PushOnline' },
        ],
      },
      { To_Account: 'qd-mac', Status: 'Online', Detail: [{ Platform: 'Mac', Status: 'Online' }] },
      { To_Account: 'qd-none', Status: 'Offline', Detail: [] },
    ],
    ErrorList: [{ To_Account: 'qd-nobody', ErrorCode: 70107 }],
  });
  // IsNeedDetail 0 is the same as absent: no Detail.
  assert.deepEqual((await online(['qd-mac'], 0)).QueryResult, [{ To_Account: 'qd-mac', Status: 'Online' }]);
});

test('S14 S31 query_online_status refusals: empty list, more than 500 ids (72002), bad types (70402)', async () => {
  assert.deepEqual(await call('openim/query_online_status', { To_Account: [] }), fail(70402, 'To_Account must not be empty'));
  assert.deepEqual(await call('openim/query_online_status', {}), fail(70402, 'To_Account is required'));
  assert.deepEqual(await call('openim/query_online_status', { To_Account: 'qs-on' }), fail(70402, 'To_Account must be an array'));
  assert.deepEqual(await call('openim/query_online_status', { To_Account: ['qs-on', 7] }), fail(70402, 'To_Account[1] must be a string'));
  assert.deepEqual(await call('openim/query_online_status', { To_Account: ['qs-on'], IsNeedDetail: 2 }), fail(70402, 'IsNeedDetail must be one of 0, 1'));
  const ids = Array.from({ length: 501 }, (_, i) => `qs-${i}`);
  assert.deepEqual(await call('openim/query_online_status', { To_Account: ids }), fail(72002, 'To_Account holds 501 entries, at most 500 are allowed'));
  // 500 is allowed; an invalid userID is reported like an unknown account.
  const r = await call('openim/query_online_status', { To_Account: [...ids.slice(0, 499), 'x'.repeat(33)] });
  assert.equal(r.ActionStatus, 'OK');
  assert.equal((r.ErrorList as unknown[]).length, 500);
  assert.deepEqual((r.ErrorList as unknown[])[499], { To_Account: 'x'.repeat(33), ErrorCode: 70107 });
});

// ---- im_open_login_svc/kick (S28) ---------------------------------------------------------------

test('S28 kick: every session gets kickedOut REST_API_Kick and close 4001, a watcher sees UNLOGINED, older tickets get 70052, newer ones work', async () => {
  const watcher = await login('kk-watch');
  const web = await login('kk-user', 'Web');
  const android = await login('kk-user', 'Android');
  await subscribe(watcher, 'kk-user');
  await setStatus(web, 'busy');
  assert.deepEqual(await pushAbout(watcher, 'kk-user'), { userID: 'kk-user', statusType: UserStatus.ONLINE, customStatus: 'busy' });

  const before = nowSec();
  assert.deepEqual(await call('im_open_login_svc/kick', { UserID: 'kk-user' }), OK);
  const afterKick = nowSec();

  for (const p of [web, android]) {
    const kicked = await p.next((f) => f.op === 'kickedOut');
    assert.deepEqual(kicked, { op: 'kickedOut', data: { type: 'REST_API_Kick' } });
    assert.deepEqual(await p.closed, { code: 4001, reason: 'REST_API_Kick' });
  }
  // S4, S9, S27: kicked sessions count as logged out; the custom status is cleared.
  assert.deepEqual(await pushAbout(watcher, 'kk-user'), { userID: 'kk-user', statusType: UserStatus.UNLOGINED, customStatus: '' });
  assert.deepEqual(await online(['kk-user'], 1), { ...OK, QueryResult: [{ To_Account: 'kk-user', Status: 'Offline', Detail: [] }], ErrorList: [] });

  // Tickets made at or before the kick's second are refused with 70052, over the socket.
  const stale = await connect();
  for (const t of [before - 3600, before]) {
    const r = await stale.login(APP, 'kk-user', srv.sig('kk-user', { nowSec: t }));
    assert.deepEqual({ code: r.code, message: r.message }, { code: 70052, message: 'UserSig was invalidated (the user was kicked), make a new one' }, `TLS.time ${t}`);
  }
  // A ticket made after the kick works.
  await login('kk-user', 'Web', srv.sig('kk-user', { nowSec: afterKick + 1 }));
  assert.deepEqual(await pushAbout(watcher, 'kk-user'), { userID: 'kk-user', statusType: UserStatus.ONLINE, customStatus: '' });
  // The kick did not touch anybody else.
  assert.equal(watcher.frames.filter((f) => f.op === 'kickedOut').length, 0);
});

test('S28 kick of a user with no live session succeeds; the older Identifier field is accepted; refusals', async () => {
  await importAccounts('kk-idle');
  assert.deepEqual(await call('im_open_login_svc/kick', { Identifier: 'kk-idle' }), OK);
  assert.deepEqual(await call('im_open_login_svc/kick', { UserID: 'kk-nobody' }), fail(70107, 'account "kk-nobody" does not exist'));
  assert.deepEqual(await call('im_open_login_svc/kick', {}), fail(70402, 'UserID is required'));
  assert.deepEqual(await call('im_open_login_svc/kick', { UserID: 12 }), fail(70402, 'UserID must be a string'));
  assert.deepEqual(await checkAccounts('kk-nobody'), ['NotImported']);
});

// ---- accounts --------------------------------------------------------------------------------

test('account_import creates an account (Offline, UNLOGINED); importing again succeeds; refusals', async () => {
  assert.deepEqual(await call('im_open_login_svc/account_import', { UserID: 'ai-one', Nick: 'One', FaceUrl: 'https://example.com/one.png' }), OK);
  assert.deepEqual(await call('im_open_login_svc/account_import', { UserID: 'ai-one', Nick: 'Uno' }), OK);
  assert.deepEqual(await call('im_open_login_svc/account_import', { Identifier: 'ai-two' }), OK);
  assert.deepEqual(await checkAccounts('ai-one', 'ai-two'), ['Imported', 'Imported']);
  assert.deepEqual((await online(['ai-one'])).QueryResult, [{ To_Account: 'ai-one', Status: 'Offline' }]);

  assert.deepEqual(await call('im_open_login_svc/account_import', {}), fail(70402, 'UserID is required'));
  assert.deepEqual(await call('im_open_login_svc/account_import', { UserID: 'x'.repeat(33) }), fail(70402, 'UserID must be 1-32 bytes of UTF-8 without control characters'));
  assert.deepEqual(await call('im_open_login_svc/account_import', { UserID: 'ai-bad', Nick: 5 }), fail(70402, 'Nick must be a string'));
  assert.deepEqual(await checkAccounts('ai-bad'), ['NotImported']);
});

test('multiaccount_import: AccountList and the older Accounts form; invalid ids in FailAccounts; refusals', async () => {
  const bad = 'y'.repeat(33);
  assert.deepEqual(await call('im_open_login_svc/multiaccount_import', { AccountList: [{ UserID: 'ma-1', Nick: 'M1' }, { UserID: bad }, { UserID: 'ma-2' }] }), {
    ...OK,
    FailAccounts: [bad],
  });
  assert.deepEqual(await call('im_open_login_svc/multiaccount_import', { Accounts: ['ma-3', 'ma-4'] }), { ...OK, FailAccounts: [] });
  assert.deepEqual(await checkAccounts('ma-1', 'ma-2', 'ma-3', 'ma-4'), ['Imported', 'Imported', 'Imported', 'Imported']);

  const many = Array.from({ length: 101 }, (_, i) => ({ UserID: `ma-x${i}` }));
  assert.deepEqual(await call('im_open_login_svc/multiaccount_import', { AccountList: many }), fail(70402, 'AccountList holds 101 entries, at most 100 are allowed'));
  assert.deepEqual(await call('im_open_login_svc/multiaccount_import', {}), fail(70402, 'AccountList is required'));
  assert.deepEqual(await call('im_open_login_svc/multiaccount_import', { AccountList: [{ UserID: 'ma-5' }, 'ma-6'] }), fail(70402, 'AccountList[1] must be an object'));
  // A refused call imported nothing, not even the good entries before the bad one (S32).
  assert.deepEqual(await checkAccounts('ma-x0', 'ma-5'), ['NotImported', 'NotImported']);
});

test('account_check: Imported / NotImported per item (a malformed UserID is NotImported); refusals', async () => {
  await importAccounts('ac-yes');
  assert.deepEqual(await call('im_open_login_svc/account_check', { CheckItem: [{ UserID: 'ac-yes' }, { UserID: 'ac-no' }, { UserID: '' }] }), {
    ...OK,
    ResultItem: [
      { UserID: 'ac-yes', ResultCode: 0, ResultInfo: '', AccountStatus: 'Imported' },
      { UserID: 'ac-no', ResultCode: 0, ResultInfo: '', AccountStatus: 'NotImported' },
      { UserID: '', ResultCode: 0, ResultInfo: '', AccountStatus: 'NotImported' },
    ],
  });
  assert.deepEqual(await call('im_open_login_svc/account_check', {}), fail(70402, 'CheckItem is required'));
  assert.deepEqual(await call('im_open_login_svc/account_check', { CheckItem: [{}] }), fail(70402, 'CheckItem[0].UserID is required'));
  const many = Array.from({ length: 101 }, (_, i) => ({ UserID: `ac-${i}` }));
  assert.deepEqual(await call('im_open_login_svc/account_check', { CheckItem: many }), fail(70402, 'CheckItem holds 101 entries, at most 100 are allowed'));
});

test('S31 account_delete: sessions kicked, watcher hears UNLOGINED, then getUserStatus and query_online_status report 70107; unknown ids per item', async () => {
  const watcher = await login('ad-watch');
  const doomed = await login('ad-doomed', 'Android');
  await importAccounts('ad-friend');
  await subscribe(watcher, 'ad-doomed');
  assert.deepEqual(await call('sns/friend_add', { From_Account: 'ad-friend', AddFriendItem: [{ To_Account: 'ad-doomed' }], AddType: 'Add_Type_Both' }), {
    ...OK_SNS,
    ResultItem: [{ To_Account: 'ad-doomed', ResultCode: 0, ResultInfo: '' }],
    Fail_Account: [],
  });

  assert.deepEqual(await call('im_open_login_svc/account_delete', { DeleteItem: [{ UserID: 'ad-doomed' }, { UserID: 'ad-nobody' }] }), {
    ...OK,
    ResultItem: [
      { ResultCode: 0, ResultInfo: '', UserID: 'ad-doomed' },
      { ResultCode: 70107, ResultInfo: 'account does not exist', UserID: 'ad-nobody' },
    ],
  });
  assert.deepEqual(await doomed.next((f) => f.op === 'kickedOut'), { op: 'kickedOut', data: { type: 'REST_API_Kick' } });
  assert.equal((await doomed.closed).code, 4001);
  assert.deepEqual(await pushAbout(watcher, 'ad-doomed'), { userID: 'ad-doomed', statusType: UserStatus.UNLOGINED, customStatus: '' });

  // The same code over both transports (S31).
  const q = await watcher.request('getUserStatus', { userIDList: ['ad-doomed'] });
  assert.deepEqual(q.data, { successUserList: [], failureUserList: [{ userID: 'ad-doomed', code: 70107, message: 'account does not exist' }] });
  assert.deepEqual(await online(['ad-doomed']), { ...OK, QueryResult: [], ErrorList: [{ To_Account: 'ad-doomed', ErrorCode: 70107 }] });
  assert.deepEqual(await checkAccounts('ad-doomed'), ['NotImported']);
  assert.deepEqual(await friendsOf('ad-friend'), [], 'friendships of a deleted account go with it');
  const sub = await watcher.request('subscribeUserStatus', { userIDList: ['ad-doomed'] });
  assert.deepEqual(sub.data, { failureUserList: [{ userID: 'ad-doomed', code: 70107, message: 'account does not exist' }] });

  assert.deepEqual(await call('im_open_login_svc/account_delete', { DeleteItem: [] }), fail(70402, 'DeleteItem must not be empty'));
  assert.deepEqual(await call('im_open_login_svc/account_delete', { DeleteItem: [{ UserID: 'ad-watch' }, { Id: 'x' }] }), fail(70402, 'DeleteItem[1].UserID is required'));
  assert.deepEqual(await checkAccounts('ad-watch'), ['Imported'], 'a refused call deletes nothing');
});

// ---- friends (S21c) ----------------------------------------------------------------------------

test('S21 friend_add takes effect for notifications at once, friend_delete stops them', async () => {
  const r = await login('fr-r');
  const u = await login('fr-u');

  assert.deepEqual(
    await call('sns/friend_add', {
      From_Account: 'fr-r',
      AddFriendItem: [{ To_Account: 'fr-u', Remark: 'pal', GroupName: 'work', AddSource: 'AddSource_Type_Web', AddWording: 'hi' }],
      AddType: 'Add_Type_Single',
      ForceAddFlags: 1,
    }),
    { ...OK_SNS, ResultItem: [{ To_Account: 'fr-u', ResultCode: 0, ResultInfo: '' }], Fail_Account: [] },
  );
  // Right after the REST reply, with no subscription: R hears U's change (S21c). The add itself
  // pushes nothing: the first push about U that R gets is this change.
  await setStatus(u, 'coding');
  assert.deepEqual(await pushAbout(r, 'fr-u'), { userID: 'fr-u', statusType: UserStatus.ONLINE, customStatus: 'coding' });
  // Single: U does not have R, so R's change reaches R itself (S21a) but not U.
  await setStatus(r, 'r-1');
  assert.deepEqual(await pushAbout(r, 'fr-r', 'r-1'), { userID: 'fr-r', statusType: UserStatus.ONLINE, customStatus: 'r-1' });
  // Barrier: U's own change comes after R's on U's socket; R's must not have come at all.
  await setStatus(u, 'u-barrier');
  await pushAbout(u, 'fr-u', 'u-barrier');
  assert.deepEqual(pushesAbout(u, 'fr-r'), []);
  await pushAbout(r, 'fr-u', 'u-barrier');

  assert.deepEqual(await call('sns/friend_delete', { From_Account: 'fr-r', To_Account: ['fr-u'], DeleteType: 'Delete_Type_Single' }), {
    ...OK_SNS,
    ResultItem: [{ To_Account: 'fr-u', ResultCode: 0, ResultInfo: '' }],
  });
  await setStatus(u, 'after-delete');
  // Barrier: R's own change comes after U's on R's socket; U's must not have come at all.
  await setStatus(r, 'r-2');
  await pushAbout(r, 'fr-r', 'r-2');
  assert.deepEqual(pushesAbout(r, 'fr-u'), []);
});

test('S21 friend_add Add_Type_Both makes both directions notify; friend_delete Delete_Type_Both undoes both', async () => {
  const a = await login('fb-a');
  const b = await login('fb-b');
  assert.deepEqual(
    await call('sns/friend_add', { From_Account: 'fb-a', AddFriendItem: [{ To_Account: 'fb-b' }] }), // AddType defaults to Both
    { ...OK_SNS, ResultItem: [{ To_Account: 'fb-b', ResultCode: 0, ResultInfo: '' }], Fail_Account: [] },
  );
  await setStatus(a, 'a-1');
  assert.deepEqual(await pushAbout(b, 'fb-a'), { userID: 'fb-a', statusType: UserStatus.ONLINE, customStatus: 'a-1' });
  await setStatus(b, 'b-1');
  assert.deepEqual(await pushAbout(a, 'fb-b'), { userID: 'fb-b', statusType: UserStatus.ONLINE, customStatus: 'b-1' });

  assert.deepEqual(await call('sns/friend_delete', { From_Account: 'fb-a', To_Account: ['fb-b'], DeleteType: 'Delete_Type_Both' }), {
    ...OK_SNS,
    ResultItem: [{ To_Account: 'fb-b', ResultCode: 0, ResultInfo: '' }],
  });
  assert.deepEqual(await friendsOf('fb-a'), []);
  assert.deepEqual(await friendsOf('fb-b'), []);
  await setStatus(a, 'a-2');
  await setStatus(b, 'b-2');
  await setStatus(a, 'a-3');
  // Each socket got its own later change after the other's would have come: none came.
  await pushAbout(b, 'fb-b', 'b-2');
  assert.deepEqual(pushesAbout(b, 'fb-a'), []);
  await pushAbout(a, 'fb-a', 'a-3');
  assert.deepEqual(pushesAbout(a, 'fb-b'), []);
});

test('S31 friend_add refusals: per item (already a friend, oneself, unknown, malformed) and for the whole call', async () => {
  await importAccounts('fe-a', 'fe-b');
  assert.deepEqual(await call('sns/friend_add', { From_Account: 'fe-a', AddFriendItem: [{ To_Account: 'fe-b' }], AddType: 'Add_Type_Single' }), {
    ...OK_SNS,
    ResultItem: [{ To_Account: 'fe-b', ResultCode: 0, ResultInfo: '' }],
    Fail_Account: [],
  });
  const bad = 'z'.repeat(33);
  assert.deepEqual(
    await call('sns/friend_add', {
      From_Account: 'fe-a',
      AddFriendItem: [{ To_Account: 'fe-b' }, { To_Account: 'fe-a' }, { To_Account: 'fe-nobody' }, { To_Account: bad }],
    }),
    {
      ...OK_SNS,
      ResultItem: [
        { To_Account: 'fe-b', ResultCode: 30001, ResultInfo: 'already a friend' },
        { To_Account: 'fe-a', ResultCode: 30001, ResultInfo: 'cannot add oneself as a friend' },
        { To_Account: 'fe-nobody', ResultCode: 30003, ResultInfo: 'account not found' },
        { To_Account: bad, ResultCode: 30001, ResultInfo: 'To_Account is not a valid UserID' },
      ],
      Fail_Account: ['fe-b', 'fe-a', 'fe-nobody', bad],
    },
  );
  // "already a friend" changed nothing: the Single add stays one way.
  const check = await call('sns/friend_check', { From_Account: 'fe-a', To_Account: ['fe-b'] });
  assert.deepEqual(check.InfoItem, [{ To_Account: 'fe-b', Relation: 'CheckResult_Type_AWithB', ResultCode: 0, ResultInfo: '' }]);

  const item = [{ To_Account: 'fe-b' }];
  assert.deepEqual(await call('sns/friend_add', { From_Account: 'fe-nobody', AddFriendItem: item }), failSns(30003, 'From_Account "fe-nobody" does not exist'));
  assert.deepEqual(await call('sns/friend_add', { AddFriendItem: item }), failSns(30001, 'From_Account is required'));
  assert.deepEqual(await call('sns/friend_add', { From_Account: 'fe-b', AddFriendItem: [] }), failSns(30001, 'AddFriendItem must not be empty'));
  assert.deepEqual(
    await call('sns/friend_add', { From_Account: 'fe-b', AddFriendItem: [{ To_Account: 'fe-a', AddSource: 'web' }] }),
    failSns(30001, 'AddFriendItem[0].AddSource must start with AddSource_Type_'),
  );
  assert.deepEqual(
    await call('sns/friend_add', { From_Account: 'fe-b', AddFriendItem: item, AddType: 'Both' }),
    failSns(30001, 'AddType must be one of "Add_Type_Both", "Add_Type_Single"'),
  );
  const many = Array.from({ length: 101 }, (_, i) => ({ To_Account: `fe-${i}` }));
  assert.deepEqual(await call('sns/friend_add', { From_Account: 'fe-b', AddFriendItem: many }), failSns(30001, 'AddFriendItem holds 101 entries, at most 100 are allowed'));
  assert.deepEqual(await friendsOf('fe-b'), [], 'refused calls add nothing');
});

test('friend list limit (30010): own list full; Add_Type_Both rolled back when the other list is full; apps do not share accounts', async () => {
  for (const UserID of ['l-a', 'l-b', 'l-c']) assert.deepEqual(await app2('im_open_login_svc/account_import', { UserID }), OK);
  assert.equal((await app2('sns/friend_add', { From_Account: 'l-b', AddFriendItem: [{ To_Account: 'l-c' }], AddType: 'Add_Type_Single' })).ActionStatus, 'OK');
  // b's list is full: a -> b Both fails as a whole, a keeps no half friendship.
  assert.deepEqual(await app2('sns/friend_add', { From_Account: 'l-a', AddFriendItem: [{ To_Account: 'l-b' }], AddType: 'Add_Type_Both' }), {
    ...OK_SNS,
    ResultItem: [{ To_Account: 'l-b', ResultCode: 30010, ResultInfo: "To_Account's friend list is full" }],
    Fail_Account: ['l-b'],
  });
  assert.deepEqual((await app2('sns/friend_check', { From_Account: 'l-a', To_Account: ['l-b'] })).InfoItem, [
    { To_Account: 'l-b', Relation: 'CheckResult_Type_NoRelation', ResultCode: 0, ResultInfo: '' },
  ]);
  // b's own list is full.
  assert.deepEqual(await app2('sns/friend_add', { From_Account: 'l-b', AddFriendItem: [{ To_Account: 'l-a' }], AddType: 'Add_Type_Single' }), {
    ...OK_SNS,
    ResultItem: [{ To_Account: 'l-a', ResultCode: 30010, ResultInfo: 'friend list is full' }],
    Fail_Account: ['l-a'],
  });
  // Accounts of one app are not accounts of the other.
  assert.deepEqual(await checkAccounts('l-a'), ['NotImported']);
  assert.deepEqual((await app2('im_open_login_svc/account_check', { CheckItem: [{ UserID: 'fe-a' }] })).ResultItem, [
    { UserID: 'fe-a', ResultCode: 0, ResultInfo: '', AccountStatus: 'NotImported' },
  ]);
});

test('friend_import keeps Remark, groups, AddSource and AddTime; friend_get returns them', async () => {
  await importAccounts('fi-a', 'fi-b', 'fi-c');
  assert.deepEqual(
    await call('sns/friend_import', {
      From_Account: 'fi-a',
      AddFriendItem: [
        { To_Account: 'fi-b', Remark: 'Bee', GroupName: ['work', '', 'work', 'gym'], AddSource: 'AddSource_Type_Android', AddTime: 1700000000 },
        { To_Account: 'fi-c', AddTime: 1700000100 },
        { To_Account: 'fi-b' },
        { To_Account: 'fi-nobody' },
      ],
    }),
    {
      ...OK_SNS,
      ResultItem: [
        { To_Account: 'fi-b', ResultCode: 0, ResultInfo: '' },
        { To_Account: 'fi-c', ResultCode: 0, ResultInfo: '' },
        { To_Account: 'fi-b', ResultCode: 30001, ResultInfo: 'already a friend' },
        { To_Account: 'fi-nobody', ResultCode: 30003, ResultInfo: 'account not found' },
      ],
      Fail_Account: ['fi-b', 'fi-nobody'],
    },
  );
  // Import is one way only.
  assert.deepEqual(await friendsOf('fi-b'), []);

  assert.deepEqual(await call('sns/friend_get', { From_Account: 'fi-a', StartIndex: 0, StandardSequence: 0, CustomSequence: 0 }), {
    ...OK_SNS,
    UserDataItem: [
      {
        To_Account: 'fi-b',
        ValueItem: [
          { Tag: 'Tag_SNS_IM_Remark', Value: 'Bee' },
          { Tag: 'Tag_SNS_IM_Group', Value: ['work', 'gym'] },
          { Tag: 'Tag_SNS_IM_AddSource', Value: 'AddSource_Type_Android' },
          { Tag: 'Tag_SNS_IM_AddTime', Value: 1700000000 },
        ],
      },
      {
        To_Account: 'fi-c',
        ValueItem: [
          { Tag: 'Tag_SNS_IM_Remark', Value: '' },
          { Tag: 'Tag_SNS_IM_Group', Value: [] },
          { Tag: 'Tag_SNS_IM_AddSource', Value: '' },
          { Tag: 'Tag_SNS_IM_AddTime', Value: 1700000100 },
        ],
      },
    ],
    StandardSequence: 0,
    CustomSequence: 0,
    FriendNum: 2,
    CompleteFlag: 1,
    NextStartIndex: 0,
  });

  assert.deepEqual(
    await call('sns/friend_import', { From_Account: 'fi-c', AddFriendItem: [{ To_Account: 'fi-a', GroupName: 'work' }] }),
    failSns(30001, 'AddFriendItem[0].GroupName must be an array of strings'),
  );
  assert.deepEqual(
    await call('sns/friend_import', { From_Account: 'fi-c', AddFriendItem: [{ To_Account: 'fi-a', AddTime: -5 }] }),
    failSns(30001, 'AddFriendItem[0].AddTime must be a non-negative integer'),
  );
  assert.deepEqual(await friendsOf('fi-c'), []);
});

test('friend_add records AddTime as the server second; friend_get pages by 100 in add order', async () => {
  const ids = Array.from({ length: 101 }, (_, i) => `fg-${String(i).padStart(3, '0')}`);
  assert.deepEqual(await call('im_open_login_svc/multiaccount_import', { Accounts: ids.slice(0, 100) }), { ...OK, FailAccounts: [] });
  await importAccounts(ids[100]!, 'fg-owner');
  const t0 = nowSec();
  const first = await call('sns/friend_add', { From_Account: 'fg-owner', AddFriendItem: ids.slice(0, 100).map((To_Account) => ({ To_Account })), AddType: 'Add_Type_Single' });
  const t1 = nowSec();
  assert.deepEqual(first.Fail_Account, []);
  assert.equal((await call('sns/friend_add', { From_Account: 'fg-owner', AddFriendItem: [{ To_Account: ids[100] }], AddType: 'Add_Type_Single' })).ActionStatus, 'OK');

  const page1 = await call('sns/friend_get', { From_Account: 'fg-owner', StartIndex: 0 });
  assert.deepEqual(
    { FriendNum: page1.FriendNum, CompleteFlag: page1.CompleteFlag, NextStartIndex: page1.NextStartIndex, n: (page1.UserDataItem as unknown[]).length },
    { FriendNum: 101, CompleteFlag: 0, NextStartIndex: 100, n: 100 },
  );
  const items = page1.UserDataItem as Array<{ To_Account: string; ValueItem: Array<{ Tag: string; Value: unknown }> }>;
  assert.deepEqual(
    items.map((i) => i.To_Account),
    ids.slice(0, 100),
  );
  const addTime = items[0]!.ValueItem.find((v) => v.Tag === 'Tag_SNS_IM_AddTime')!.Value as number;
  assert.ok(addTime >= t0 && addTime <= t1, `AddTime ${addTime} in [${t0}, ${t1}]`);

  const page2 = await call('sns/friend_get', { From_Account: 'fg-owner', StartIndex: 100 });
  assert.deepEqual(
    (page2.UserDataItem as Array<{ To_Account: string }>).map((i) => i.To_Account),
    [ids[100]],
  );
  assert.deepEqual({ FriendNum: page2.FriendNum, CompleteFlag: page2.CompleteFlag, NextStartIndex: page2.NextStartIndex }, { FriendNum: 101, CompleteFlag: 1, NextStartIndex: 0 });

  assert.deepEqual(await call('sns/friend_get', { From_Account: 'fg-nobody' }), failSns(30003, 'From_Account "fg-nobody" does not exist'));
  assert.deepEqual(await call('sns/friend_get', { From_Account: 'fg-owner', StartIndex: -1 }), failSns(30001, 'StartIndex must be a non-negative integer'));
  assert.deepEqual(await call('sns/friend_get', { From_Account: 'x'.repeat(33) }), failSns(30001, 'From_Account must be 1-32 bytes of UTF-8 without control characters'));
});

test('friend_delete: 31704 for a non-friend, 30001 for a malformed id, per item; refusals', async () => {
  await importAccounts('fd-a', 'fd-b', 'fd-c');
  await call('sns/friend_add', { From_Account: 'fd-a', AddFriendItem: [{ To_Account: 'fd-b' }], AddType: 'Add_Type_Single' });
  const bad = 'q'.repeat(33);
  assert.deepEqual(await call('sns/friend_delete', { From_Account: 'fd-a', To_Account: ['fd-b', 'fd-c', 'fd-nobody', bad] }), {
    ...OK_SNS,
    ResultItem: [
      { To_Account: 'fd-b', ResultCode: 0, ResultInfo: '' },
      { To_Account: 'fd-c', ResultCode: 31704, ResultInfo: 'not a friend' },
      { To_Account: 'fd-nobody', ResultCode: 31704, ResultInfo: 'not a friend' },
      { To_Account: bad, ResultCode: 30001, ResultInfo: 'To_Account is not a valid UserID' },
    ],
  });
  // Both: an item is 0 when at least one direction existed.
  await call('sns/friend_add', { From_Account: 'fd-c', AddFriendItem: [{ To_Account: 'fd-a' }], AddType: 'Add_Type_Single' });
  assert.deepEqual(await call('sns/friend_delete', { From_Account: 'fd-a', To_Account: ['fd-c'], DeleteType: 'Delete_Type_Both' }), {
    ...OK_SNS,
    ResultItem: [{ To_Account: 'fd-c', ResultCode: 0, ResultInfo: '' }],
  });
  assert.deepEqual(await friendsOf('fd-c'), []);

  assert.deepEqual(await call('sns/friend_delete', { From_Account: 'fd-a', To_Account: [] }), failSns(30001, 'To_Account must not be empty'));
  const many = Array.from({ length: 1001 }, (_, i) => `fd-${i}`);
  assert.deepEqual(await call('sns/friend_delete', { From_Account: 'fd-a', To_Account: many }), failSns(30001, 'To_Account holds 1001 entries, at most 1000 are allowed'));
  assert.deepEqual(
    await call('sns/friend_delete', { From_Account: 'fd-a', To_Account: ['fd-b'], DeleteType: 'Both' }),
    failSns(30001, 'DeleteType must be one of "Delete_Type_Single", "Delete_Type_Both"'),
  );
  assert.deepEqual(await call('sns/friend_delete', { From_Account: 'fd-nobody', To_Account: ['fd-a'] }), failSns(30003, 'From_Account "fd-nobody" does not exist'));
});

test('friend_delete_all: Single empties the list only; Both also removes the reverse entries; refusals', async () => {
  await importAccounts('fx-a', 'fx-b', 'fx-c', 'fx-d');
  await call('sns/friend_add', { From_Account: 'fx-a', AddFriendItem: [{ To_Account: 'fx-b' }, { To_Account: 'fx-c' }], AddType: 'Add_Type_Both' });
  assert.deepEqual(await call('sns/friend_delete_all', { From_Account: 'fx-a' }), OK_SNS);
  assert.deepEqual(await friendsOf('fx-a'), []);
  assert.deepEqual(await friendsOf('fx-b'), ['fx-a'], 'Single leaves the reverse entries');

  await call('sns/friend_add', { From_Account: 'fx-d', AddFriendItem: [{ To_Account: 'fx-b' }, { To_Account: 'fx-c' }], AddType: 'Add_Type_Both' });
  assert.deepEqual(await call('sns/friend_delete_all', { From_Account: 'fx-d', DeleteType: 'Delete_Type_Both' }), OK_SNS);
  assert.deepEqual(await friendsOf('fx-d'), []);
  assert.deepEqual(await friendsOf('fx-b'), ['fx-a']);
  assert.deepEqual(await friendsOf('fx-c'), ['fx-a']);
  // An empty list is fine.
  assert.deepEqual(await call('sns/friend_delete_all', { From_Account: 'fx-d' }), OK_SNS);

  assert.deepEqual(await call('sns/friend_delete_all', {}), failSns(30001, 'From_Account is required'));
  assert.deepEqual(await call('sns/friend_delete_all', { From_Account: 'fx-nobody' }), failSns(30003, 'From_Account "fx-nobody" does not exist'));
  assert.deepEqual(
    await call('sns/friend_delete_all', { From_Account: 'fx-b', DeleteType: 1 }),
    failSns(30001, 'DeleteType must be one of "Delete_Type_Single", "Delete_Type_Both"'),
  );
  assert.deepEqual(await friendsOf('fx-b'), ['fx-a'], 'a refused call deletes nothing');
});

test('friend_check: NoRelation, AWithB, BWithA, BothWay; Single looks one way; malformed ids in Fail_Account', async () => {
  await importAccounts('fc-a', 'fc-one', 'fc-back', 'fc-both', 'fc-none');
  await call('sns/friend_add', { From_Account: 'fc-a', AddFriendItem: [{ To_Account: 'fc-one' }], AddType: 'Add_Type_Single' });
  await call('sns/friend_add', { From_Account: 'fc-back', AddFriendItem: [{ To_Account: 'fc-a' }], AddType: 'Add_Type_Single' });
  await call('sns/friend_add', { From_Account: 'fc-a', AddFriendItem: [{ To_Account: 'fc-both' }], AddType: 'Add_Type_Both' });
  const bad = 'w'.repeat(33);
  const all = ['fc-one', 'fc-back', 'fc-both', 'fc-none', 'fc-nobody', bad];
  assert.deepEqual(await call('sns/friend_check', { From_Account: 'fc-a', To_Account: all, CheckType: 'CheckResult_Type_Both' }), {
    ...OK_SNS,
    InfoItem: [
      { To_Account: 'fc-one', Relation: 'CheckResult_Type_AWithB', ResultCode: 0, ResultInfo: '' },
      { To_Account: 'fc-back', Relation: 'CheckResult_Type_BWithA', ResultCode: 0, ResultInfo: '' },
      { To_Account: 'fc-both', Relation: 'CheckResult_Type_BothWay', ResultCode: 0, ResultInfo: '' },
      { To_Account: 'fc-none', Relation: 'CheckResult_Type_NoRelation', ResultCode: 0, ResultInfo: '' },
      { To_Account: 'fc-nobody', Relation: 'CheckResult_Type_NoRelation', ResultCode: 0, ResultInfo: '' },
      { To_Account: bad, Relation: 'CheckResult_Type_NoRelation', ResultCode: 30001, ResultInfo: 'To_Account is not a valid UserID' },
    ],
    Fail_Account: [bad],
  });
  const single = await call('sns/friend_check', { From_Account: 'fc-a', To_Account: all.slice(0, 4), CheckType: 'CheckResult_Type_Single' });
  assert.deepEqual(
    (single.InfoItem as Array<{ To_Account: string; Relation: string }>).map((i) => [i.To_Account, i.Relation]),
    [
      ['fc-one', 'CheckResult_Type_AWithB'],
      ['fc-back', 'CheckResult_Type_NoRelation'],
      ['fc-both', 'CheckResult_Type_AWithB'],
      ['fc-none', 'CheckResult_Type_NoRelation'],
    ],
  );
  assert.deepEqual(
    await call('sns/friend_check', { From_Account: 'fc-a', To_Account: ['fc-one'], CheckType: 'Both' }),
    failSns(30001, 'CheckType must be one of "CheckResult_Type_Single", "CheckResult_Type_Both"'),
  );
  assert.deepEqual(await call('sns/friend_check', { From_Account: 'fc-a' }), failSns(30001, 'To_Account is required'));
  assert.deepEqual(await call('sns/friend_check', { From_Account: 'fc-nobody', To_Account: ['fc-a'] }), failSns(30003, 'From_Account "fc-nobody" does not exist'));
});

test('S31 REST ErrorCode values are the shared catalogue', () => {
  // The literals asserted above are the protocol's constants, not private numbers.
  assert.deepEqual(
    [ErrorCode.REST_BAD_URL, ErrorCode.REST_BAD_JSON, ErrorCode.REST_BAD_IDENTIFIER, ErrorCode.REST_BAD_SDKAPPID, ErrorCode.REST_ADMIN_REQUIRED, ErrorCode.REST_NO_SDKAPPID],
    [60002, 60003, 60004, 60006, 60010, 60012],
  );
  assert.deepEqual(
    [
      ErrorCode.USERSIG_INVALIDATED,
      ErrorCode.ACCOUNT_NOT_FOUND,
      ErrorCode.FRIEND_INVALID,
      ErrorCode.FRIEND_ACCOUNT_NOT_FOUND,
      ErrorCode.FRIEND_LIMIT,
      ErrorCode.FRIEND_NOT_FRIEND,
      ErrorCode.TOO_MANY_IDS,
    ],
    [70052, 70107, 30001, 30003, 30010, 31704, 72002],
  );
});

test('S32 stored texts have bounds: a Nick, FaceUrl, Remark or GroupName past its size is refused and nothing is stored', async () => {
  const long = (bytes: number) => 'é'.repeat(Math.ceil(bytes / 2)); // two bytes each
  for (const [body, field] of [
    [{ UserID: 'tl-nick', Nick: long(502) }, 'Nick'],
    [{ UserID: 'tl-nick', Nick: 'x'.repeat(900_000) }, 'Nick'],
    [{ UserID: 'tl-nick', FaceUrl: `https://x/${'a'.repeat(500)}` }, 'FaceUrl'],
  ] as const) {
    const r = await call('im_open_login_svc/account_import', body);
    assert.equal(r.ActionStatus, 'FAIL', field);
    assert.match(String(r.ErrorInfo), new RegExp(`${field} is longer than 500 bytes`));
  }
  assert.deepEqual(await checkAccounts('tl-nick'), ['NotImported']);
  assert.equal((await call('im_open_login_svc/account_import', { UserID: 'tl-nick', Nick: long(500) })).ActionStatus, 'OK');
  await call('im_open_login_svc/account_import', { UserID: 'tl-friend' });
  const add = (item: Record<string, unknown>) =>
    call('sns/friend_add', { From_Account: 'tl-nick', AddFriendItem: [{ To_Account: 'tl-friend', ...item }], AddType: 'Add_Type_Single' });
  assert.match(String((await add({ Remark: 'r'.repeat(97) })).ErrorInfo), /Remark is longer than 96 bytes/);
  assert.match(String((await add({ GroupName: 'g'.repeat(31) })).ErrorInfo), /GroupName is longer than 30 bytes/);
  assert.deepEqual(await friendsOf('tl-nick'), []);
});
