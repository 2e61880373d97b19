/** The REST admin commands (compat.md §3) against a real engine with recording ports. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ErrorCode, KickType, UserStatus, messageFor, type Platform, type UserStatusInfo } from '@presently/protocol';
import { AppEngine } from '../engine/engine.js';
import type { Mutation } from '../engine/types.js';
import { normalizeApp } from '../config/settings.js';
import { REST_COMMANDS, runCommand, type RestReply } from './commands.js';

const NOW = 1_700_000_000_123;
const NOW_SEC = 1_700_000_000;
const OK = { ActionStatus: 'OK', ErrorCode: 0, ErrorInfo: '' };
const SNS_OK = { ...OK, ErrorDisplay: '' };

interface Sink {
  userID: string;
}

function setup(over: Record<string, unknown> = {}) {
  const settings = normalizeApp({
    SDKAppID: 1400000001,
    secretKey: 'test-secret-key-0123456789',
    userStatus: { queryAndNotify: true, friendAutoNotify: true },
    ...over,
  });
  const deliveries: Array<{ to: string; info: UserStatusInfo }> = [];
  const kicks: Array<{ to: string; type: string }> = [];
  const persisted: Mutation[] = [];
  const engine = new AppEngine<Sink>(settings, {
    deliver: (sink, change) => deliveries.push({ to: sink.userID, info: change.info }),
    kick: (sink, type) => kicks.push({ to: sink.userID, type }),
    persist: (m) => persisted.push(m),
  });
  let n = 0;
  return {
    engine,
    deliveries,
    kicks,
    persisted,
    run: (command: string, body: unknown, now = NOW): RestReply => runCommand({ engine, now }, command, body),
    login: (userID: string, platform: Platform = 'Web', ticketTime = 1) =>
      engine.login({ userID, platform, instanceId: `i${++n}`, sessionId: `s${n}`, ticketTime, sink: { userID } }, NOW),
    accounts: (...ids: string[]) => {
      for (const id of ids) engine.importAccount(id);
    },
    /** What `bob` heard about `ann`. */
    heard: (receiver: string, about: string) => deliveries.filter((d) => d.to === receiver && d.info.userID === about).map((d) => d.info.statusType),
  };
}

/** A FAIL reply with exactly the envelope fields, an ErrorInfo matching `info`. */
function assertFail(reply: RestReply, code: number, info: RegExp, sns = false): void {
  assert.deepEqual({ ...reply, ErrorInfo: '' }, { ActionStatus: 'FAIL', ErrorCode: code, ErrorInfo: '', ...(sns ? { ErrorDisplay: '' } : {}) }, JSON.stringify(reply));
  assert.match(String(reply.ErrorInfo), info);
}

const ids = (n: number, prefix = 'u') => Array.from({ length: n }, (_, i) => `${prefix}${i}`);

// ---- envelope --------------------------------------------------------------------------------------

test('REST_COMMANDS lists the compat.md §3 commands', () => {
  assert.deepEqual([...REST_COMMANDS].sort(), [
    'im_open_login_svc/account_check',
    'im_open_login_svc/account_delete',
    'im_open_login_svc/account_import',
    'im_open_login_svc/kick',
    'im_open_login_svc/multiaccount_import',
    'openim/query_online_status',
    'sns/friend_add',
    'sns/friend_check',
    'sns/friend_delete',
    'sns/friend_delete_all',
    'sns/friend_get',
    'sns/friend_import',
  ]);
});

test('S31 an unknown command is a FAIL reply with 60002 (sns/* adds ErrorDisplay)', () => {
  const t = setup();
  assert.deepEqual(t.run('openim/dance', {}), { ActionStatus: 'FAIL', ErrorCode: 60002, ErrorInfo: 'unknown command "openim/dance"' });
  assert.deepEqual(t.run('sns/dance', {}), { ActionStatus: 'FAIL', ErrorCode: 60002, ErrorInfo: 'unknown command "sns/dance"', ErrorDisplay: '' });
  for (const c of ['__proto__', 'constructor', 'toString', '', 'openim/query_online_status/', 'OPENIM/query_online_status']) {
    assertFail(t.run(c, {}), ErrorCode.REST_BAD_URL, /unknown command/);
  }
});

test('S32 a body that is not an object is 70402 (friend APIs 30001) and changes nothing', () => {
  const t = setup();
  t.accounts('ann', 'bob');
  const before = t.persisted.length;
  for (const command of REST_COMMANDS) {
    const sns = command.startsWith('sns/');
    for (const body of [null, [], 'x', 42, true, undefined]) {
      assertFail(t.run(command, body), sns ? ErrorCode.FRIEND_INVALID : ErrorCode.INVALID_PARAMETERS, /body must be a JSON object/, sns);
    }
  }
  assert.equal(t.persisted.length, before);
});

test('S32 every command refuses a wrong-typed field by name and changes nothing', () => {
  const t = setup();
  t.accounts('ann', 'bob');
  t.run('sns/friend_add', { From_Account: 'ann', AddFriendItem: [{ To_Account: 'bob' }] });
  const session = t.login('ann');
  const before = { persisted: t.persisted.length, deliveries: t.deliveries.length, kicks: t.kicks.length };
  const cases: Array<[string, unknown, RegExp]> = [
    ['openim/query_online_status', { To_Account: 'ann' }, /^To_Account must be an array$/],
    ['openim/query_online_status', { To_Account: ['ann', 7] }, /^To_Account\[1\] must be a string$/],
    ['openim/query_online_status', { To_Account: [] }, /^To_Account must not be empty$/],
    ['openim/query_online_status', { To_Account: ['ann'], IsNeedDetail: 2 }, /^IsNeedDetail must be one of 0, 1$/],
    ['openim/query_online_status', { To_Account: ['ann'], IsNeedDetail: '1' }, /^IsNeedDetail/],
    ['im_open_login_svc/kick', {}, /^UserID is required$/],
    ['im_open_login_svc/kick', { UserID: ['ann'] }, /^UserID must be a string$/],
    ['im_open_login_svc/account_import', { UserID: 'zed', Nick: 5 }, /^Nick must be a string$/],
    ['im_open_login_svc/account_import', { UserID: 'zed', FaceUrl: {} }, /^FaceUrl must be a string$/],
    ['im_open_login_svc/account_import', { UserID: '' }, /^UserID must be 1-32 bytes/],
    ['im_open_login_svc/account_import', { UserID: 'x'.repeat(33) }, /^UserID must be 1-32 bytes/],
    ['im_open_login_svc/multiaccount_import', { AccountList: [{ UserID: 'zed' }, 'zoe'] }, /^AccountList\[1\] must be an object$/],
    ['im_open_login_svc/multiaccount_import', { AccountList: [{ UserID: 'zed' }, { UserID: 3 }] }, /^AccountList\[1\]\.UserID must be a string$/],
    ['im_open_login_svc/multiaccount_import', { Accounts: ['zed', null] }, /^Accounts\[1\] must be a string$/],
    ['im_open_login_svc/multiaccount_import', {}, /^AccountList is required$/],
    ['im_open_login_svc/account_delete', { DeleteItem: [{ UserID: 'ann' }, {}] }, /^DeleteItem\[1\]\.UserID is required$/],
    ['im_open_login_svc/account_delete', { DeleteItem: { UserID: 'ann' } }, /^DeleteItem must be an array$/],
    ['im_open_login_svc/account_check', { CheckItem: [] }, /^CheckItem must not be empty$/],
    ['sns/friend_add', { From_Account: 'ann', AddFriendItem: [{ To_Account: 'bob', AddSource: 'web' }] }, /^AddFriendItem\[0\]\.AddSource must start with AddSource_Type_$/],
    ['sns/friend_add', { From_Account: 'bob', AddFriendItem: [{ To_Account: 'ann', GroupName: ['g'] }] }, /^AddFriendItem\[0\]\.GroupName must be a string$/],
    ['sns/friend_add', { From_Account: 'bob', AddFriendItem: [{ To_Account: 'ann' }], AddType: 'Both' }, /^AddType must be one of/],
    ['sns/friend_add', { From_Account: 'bob', AddFriendItem: [{ To_Account: 'ann' }, { To_Account: 1 }] }, /^AddFriendItem\[1\]\.To_Account must be a string$/],
    ['sns/friend_add', { From_Account: 42, AddFriendItem: [{ To_Account: 'ann' }] }, /^From_Account must be a string$/],
    ['sns/friend_add', { AddFriendItem: [{ To_Account: 'ann' }] }, /^From_Account is required$/],
    ['sns/friend_add', { From_Account: '', AddFriendItem: [{ To_Account: 'ann' }] }, /^From_Account must be 1-32 bytes/],
    ['sns/friend_import', { From_Account: 'bob', AddFriendItem: [{ To_Account: 'ann', GroupName: 'g' }] }, /^AddFriendItem\[0\]\.GroupName must be an array of strings$/],
    ['sns/friend_import', { From_Account: 'bob', AddFriendItem: [{ To_Account: 'ann', AddTime: -1 }] }, /^AddFriendItem\[0\]\.AddTime must be a non-negative integer$/],
    ['sns/friend_import', { From_Account: 'bob', AddFriendItem: [{ To_Account: 'ann', AddSource: 'AddSource_type_x' }] }, /AddSource must start with AddSource_Type_/],
    ['sns/friend_delete', { From_Account: 'ann', To_Account: 'bob' }, /^To_Account must be an array$/],
    ['sns/friend_delete', { From_Account: 'ann', To_Account: ['bob'], DeleteType: 'Delete_Type_All' }, /^DeleteType must be one of/],
    ['sns/friend_delete_all', { From_Account: 'ann', DeleteType: 1 }, /^DeleteType must be one of/],
    ['sns/friend_get', { From_Account: 'ann', StartIndex: -1 }, /^StartIndex must be a non-negative integer$/],
    ['sns/friend_get', { From_Account: 'ann', StartIndex: 1.5 }, /^StartIndex must be a non-negative integer$/],
    ['sns/friend_check', { From_Account: 'ann', To_Account: ['bob'], CheckType: 'Both' }, /^CheckType must be one of/],
    ['sns/friend_check', { From_Account: 'ann', To_Account: [] }, /^To_Account must not be empty$/],
  ];
  for (const [command, body, info] of cases) {
    const sns = command.startsWith('sns/');
    assertFail(t.run(command, body), sns ? ErrorCode.FRIEND_INVALID : ErrorCode.INVALID_PARAMETERS, info, sns);
  }
  assert.deepEqual({ persisted: t.persisted.length, deliveries: t.deliveries.length, kicks: t.kicks.length }, before);
  assert.equal(session.live, true);
  assert.equal(t.engine.hasAccount('zed'), false);
  assert.equal(t.engine.isFriend('ann', 'bob'), true);
  assert.equal(t.engine.isFriend('bob', 'ann'), true);
});

// ---- openim/query_online_status -------------------------------------------------------------------

test('S29 query_online_status with detail: Online, PushOnline, Offline, unknown in ErrorList, order kept', () => {
  const t = setup();
  t.accounts('never');
  t.login('ann', 'Web');
  const phone = t.login('ann', 'Android');
  t.engine.disconnect(phone, 'close', NOW);
  const pc = t.login('bob', 'Windows');
  t.engine.disconnect(pc, 'timeout', NOW);
  const reply = t.run('openim/query_online_status', { To_Account: ['never', 'ghost', 'bob', 'ann', 'x'.repeat(40)], IsNeedDetail: 1 });
  assert.deepEqual(reply, {
    ...OK,
    QueryResult: [
      { To_Account: 'never', Status: 'Offline', Detail: [] },
      { To_Account: 'bob', Status: 'PushOnline', Detail: [{ Platform: 'PC', Status: 'PushOnline' }] },
      {
        To_Account: 'ann',
        Status: 'Online',
        Detail: [
          { Platform: 'Web', Status: 'Online' },
          { Platform: 'Android', Status: 'PushOnline' },
        ],
      },
    ],
    ErrorList: [
      { To_Account: 'ghost', ErrorCode: 70107 },
      { To_Account: 'x'.repeat(40), ErrorCode: 70107 },
    ],
  });
});

test('S29 query_online_status without detail (IsNeedDetail 0 or absent) has no Detail; empty ErrorList', () => {
  const t = setup();
  t.login('ann');
  t.accounts('bob');
  const expected = {
    ...OK,
    QueryResult: [
      { To_Account: 'ann', Status: 'Online' },
      { To_Account: 'bob', Status: 'Offline' },
      { To_Account: 'ann', Status: 'Online' },
    ],
    ErrorList: [],
  };
  assert.deepEqual(t.run('openim/query_online_status', { To_Account: ['ann', 'bob', 'ann'] }), expected);
  assert.deepEqual(t.run('openim/query_online_status', { To_Account: ['ann', 'bob', 'ann'], IsNeedDetail: 0 }), expected);
});

test('S29 query_online_status takes at most 500 To_Account; 501 is 72002', () => {
  const t = setup();
  const r500 = t.run('openim/query_online_status', { To_Account: ids(500) });
  assert.equal(r500.ActionStatus, 'OK');
  assert.equal((r500.ErrorList as unknown[]).length, 500);
  assertFail(t.run('openim/query_online_status', { To_Account: ids(501) }), ErrorCode.TOO_MANY_IDS, /To_Account holds 501 entries, at most 500/);
});

// ---- im_open_login_svc/kick -----------------------------------------------------------------------

test('S28 kick ends every session with REST_API_Kick and invalidates older tickets (70052)', () => {
  const t = setup();
  t.login('ann', 'Web');
  t.login('ann', 'Android');
  t.login('bob', 'Web');
  assert.deepEqual(t.run('im_open_login_svc/kick', { UserID: 'ann' }), OK);
  assert.deepEqual(t.kicks, [
    { to: 'ann', type: KickType.REST_API },
    { to: 'ann', type: KickType.REST_API },
  ]);
  assert.equal(t.engine.statusOf('ann')?.statusType, UserStatus.UNLOGINED);
  assert.equal(t.engine.statusOf('bob')?.statusType, UserStatus.ONLINE);
  assert.throws(() => t.login('ann', 'Web', NOW_SEC), { code: ErrorCode.USERSIG_INVALIDATED });
  t.login('ann', 'Web', NOW_SEC + 1);
  assert.equal(t.engine.statusOf('ann')?.statusType, UserStatus.ONLINE);
});

test('S28 kick of an account with no session succeeds; an unknown user is FAIL 70107; old Identifier form works', () => {
  const t = setup();
  t.accounts('ann');
  assert.deepEqual(t.run('im_open_login_svc/kick', { UserID: 'ann' }), OK);
  assert.deepEqual(t.run('im_open_login_svc/kick', { UserID: 'ghost' }), { ActionStatus: 'FAIL', ErrorCode: 70107, ErrorInfo: 'account "ghost" does not exist' });
  t.login('bob', 'Web');
  assert.deepEqual(t.run('im_open_login_svc/kick', { Identifier: 'bob' }), OK);
  assert.deepEqual(t.kicks, [{ to: 'bob', type: KickType.REST_API }]);
});

// ---- accounts ---------------------------------------------------------------------------------------

test('account_import creates the account (UNLOGINED, S4); importing again updates Nick/FaceUrl', () => {
  const t = setup();
  assert.deepEqual(t.run('im_open_login_svc/account_import', { UserID: 'ann', Nick: 'Ann', FaceUrl: 'http://x/a.png' }), OK);
  assert.equal(t.engine.statusOf('ann')?.statusType, UserStatus.UNLOGINED);
  assert.deepEqual(t.persisted.at(-1), { t: 'account', app: 1400000001, userID: 'ann', loginKeys: [], kickedAt: 0, offlineSince: 0, nick: 'Ann', faceUrl: 'http://x/a.png' });
  assert.deepEqual(t.run('im_open_login_svc/account_import', { UserID: 'ann', Nick: 'Annie' }), OK);
  assert.deepEqual(t.persisted.at(-1), { t: 'account', app: 1400000001, userID: 'ann', loginKeys: [], kickedAt: 0, offlineSince: 0, nick: 'Annie', faceUrl: 'http://x/a.png' });
  assert.deepEqual(t.run('im_open_login_svc/account_import', { Identifier: 'bob' }), OK);
  assert.equal(t.engine.hasAccount('bob'), true);
  assertFail(t.run('im_open_login_svc/account_import', { UserID: 'a\u0001b' }), ErrorCode.INVALID_PARAMETERS, /UserID/);
});

test('multiaccount_import: AccountList imports the valid ids, FailAccounts lists the others', () => {
  const t = setup();
  const bad = 'y'.repeat(33);
  assert.deepEqual(
    t.run('im_open_login_svc/multiaccount_import', { AccountList: [{ UserID: 'ann', Nick: 'Ann' }, { UserID: '' }, { UserID: 'bob', FaceUrl: 'f' }, { UserID: bad }] }),
    { ...OK, FailAccounts: ['', bad] },
  );
  assert.equal(t.engine.hasAccount('ann') && t.engine.hasAccount('bob'), true);
  assert.deepEqual(t.run('im_open_login_svc/multiaccount_import', { Accounts: ['cat', 'ann', 'a\nb'] }), { ...OK, FailAccounts: ['a\nb'] });
  assert.equal(t.engine.hasAccount('cat'), true);
  assert.deepEqual(t.run('im_open_login_svc/multiaccount_import', { Accounts: ['dan'] }).FailAccounts, []);
});

test('multiaccount_import takes at most 100 accounts; 101 is 70402 and imports none', () => {
  const t = setup();
  assert.deepEqual(t.run('im_open_login_svc/multiaccount_import', { AccountList: ids(100).map((UserID) => ({ UserID })) }), { ...OK, FailAccounts: [] });
  assertFail(
    t.run('im_open_login_svc/multiaccount_import', { AccountList: ids(101, 'v').map((UserID) => ({ UserID })) }),
    ErrorCode.INVALID_PARAMETERS,
    /AccountList holds 101 entries, at most 100/,
  );
  assertFail(t.run('im_open_login_svc/multiaccount_import', { Accounts: ids(101, 'w') }), ErrorCode.INVALID_PARAMETERS, /Accounts holds 101/);
  assert.equal(t.engine.hasAccount('v0') || t.engine.hasAccount('w0'), false);
});

test('account_delete: ResultItem per id (0 / 70107); a deleted user is kicked and loses its friendships', () => {
  const t = setup();
  t.accounts('bob');
  t.login('ann');
  t.run('sns/friend_add', { From_Account: 'ann', AddFriendItem: [{ To_Account: 'bob' }] });
  assert.deepEqual(t.run('im_open_login_svc/account_delete', { DeleteItem: [{ UserID: 'ann' }, { UserID: 'ghost' }, { UserID: 'ann' }] }), {
    ...OK,
    ResultItem: [
      { ResultCode: 0, ResultInfo: '', UserID: 'ann' },
      { ResultCode: 70107, ResultInfo: messageFor(70107), UserID: 'ghost' },
      { ResultCode: 70107, ResultInfo: messageFor(70107), UserID: 'ann' },
    ],
  });
  assert.deepEqual(t.kicks, [{ to: 'ann', type: KickType.REST_API }]);
  assert.equal(t.engine.hasAccount('ann'), false);
  assert.equal(t.engine.isFriend('bob', 'ann'), false);
  assertFail(t.run('im_open_login_svc/account_delete', { DeleteItem: ids(101).map((UserID) => ({ UserID })) }), ErrorCode.INVALID_PARAMETERS, /DeleteItem holds 101/);
});

test('account_check: Imported / NotImported with ResultCode 0; at most 100 items', () => {
  const t = setup();
  t.accounts('ann');
  assert.deepEqual(t.run('im_open_login_svc/account_check', { CheckItem: [{ UserID: 'ann' }, { UserID: 'ghost' }, { UserID: '' }] }), {
    ...OK,
    ResultItem: [
      { UserID: 'ann', ResultCode: 0, ResultInfo: '', AccountStatus: 'Imported' },
      { UserID: 'ghost', ResultCode: 0, ResultInfo: '', AccountStatus: 'NotImported' },
      { UserID: '', ResultCode: 0, ResultInfo: '', AccountStatus: 'NotImported' },
    ],
  });
  assert.equal(t.run('im_open_login_svc/account_check', { CheckItem: ids(100).map((UserID) => ({ UserID })) }).ActionStatus, 'OK');
  assertFail(t.run('im_open_login_svc/account_check', { CheckItem: ids(101).map((UserID) => ({ UserID })) }), ErrorCode.INVALID_PARAMETERS, /CheckItem holds 101/);
});

// ---- sns/friend_add, friend_import ---------------------------------------------------------------

test('friend_add: Add_Type_Both by default; per-item results and Fail_Account', () => {
  const t = setup();
  t.accounts('ann', 'bob', 'cat', 'dan');
  const reply = t.run('sns/friend_add', {
    From_Account: 'ann',
    AddFriendItem: [
      { To_Account: 'bob', Remark: 'Bobby', GroupName: 'work', AddSource: 'AddSource_Type_Web', AddWording: 'hi' },
      { To_Account: 'ghost' },
      { To_Account: 'ann' },
      { To_Account: 'bob' },
      { To_Account: '' },
      { To_Account: 'cat', GroupName: '' },
    ],
    ForceAddFlags: 1,
  });
  assert.deepEqual(reply, {
    ...SNS_OK,
    ResultItem: [
      { To_Account: 'bob', ResultCode: 0, ResultInfo: '' },
      { To_Account: 'ghost', ResultCode: 30003, ResultInfo: messageFor(30003) },
      { To_Account: 'ann', ResultCode: 30001, ResultInfo: 'cannot add oneself as a friend' },
      { To_Account: 'bob', ResultCode: 30001, ResultInfo: 'already a friend' },
      { To_Account: '', ResultCode: 30001, ResultInfo: 'To_Account is not a valid UserID' },
      { To_Account: 'cat', ResultCode: 0, ResultInfo: '' },
    ],
    Fail_Account: ['ghost', 'ann', 'bob', ''],
  });
  assert.deepEqual(t.engine.friendList('ann'), [
    { to: 'bob', remark: 'Bobby', groups: ['work'], addSource: 'AddSource_Type_Web', addTime: NOW_SEC },
    { to: 'cat', remark: '', groups: [], addSource: '', addTime: NOW_SEC },
  ]);
  // The reverse entry carries the source and time, not From's remark and group.
  assert.deepEqual(t.engine.friendList('bob'), [{ to: 'ann', remark: '', groups: [], addSource: 'AddSource_Type_Web', addTime: NOW_SEC }]);
  assert.equal(t.engine.isFriend('cat', 'ann'), true);
  assert.equal(t.engine.isFriend('dan', 'ann'), false);
});

test('friend_add Add_Type_Single adds one way only; Both completes a one-way friendship from the other side', () => {
  const t = setup();
  t.accounts('ann', 'bob');
  assert.deepEqual(t.run('sns/friend_add', { From_Account: 'ann', AddFriendItem: [{ To_Account: 'bob' }], AddType: 'Add_Type_Single' }), {
    ...SNS_OK,
    ResultItem: [{ To_Account: 'bob', ResultCode: 0, ResultInfo: '' }],
    Fail_Account: [],
  });
  assert.deepEqual([t.engine.isFriend('ann', 'bob'), t.engine.isFriend('bob', 'ann')], [true, false]);
  // bob -> ann is new; ann -> bob already exists, which is not a failure of the reverse side.
  const r = t.run('sns/friend_add', { From_Account: 'bob', AddFriendItem: [{ To_Account: 'ann' }] });
  assert.deepEqual(r.ResultItem, [{ To_Account: 'ann', ResultCode: 0, ResultInfo: '' }]);
  assert.deepEqual([t.engine.isFriend('ann', 'bob'), t.engine.isFriend('bob', 'ann')], [true, true]);
});

test('friend_add Both: a full list on the reverse side fails the item (30010) and leaves no half friendship', () => {
  const t = setup({ limits: { maxFriends: 1 } });
  t.accounts('ann', 'bob', 'cat');
  t.run('sns/friend_add', { From_Account: 'bob', AddFriendItem: [{ To_Account: 'cat' }], AddType: 'Add_Type_Single' });
  const before = t.persisted.length;
  assert.deepEqual(t.run('sns/friend_add', { From_Account: 'ann', AddFriendItem: [{ To_Account: 'bob' }] }), {
    ...SNS_OK,
    ResultItem: [{ To_Account: 'bob', ResultCode: 30010, ResultInfo: "To_Account's friend list is full" }],
    Fail_Account: ['bob'],
  });
  assert.deepEqual([t.engine.isFriend('ann', 'bob'), t.engine.isFriend('bob', 'ann')], [false, false]);
  // What was written is undone in the same order, so the store ends where it began.
  assert.deepEqual(
    t.persisted.slice(before).map((m) => m.t),
    ['friendAdd', 'friendRemove'],
  );
  // Own list full: 30010 from the forward side.
  t.run('sns/friend_add', { From_Account: 'ann', AddFriendItem: [{ To_Account: 'cat' }], AddType: 'Add_Type_Single' });
  const own = t.run('sns/friend_add', { From_Account: 'ann', AddFriendItem: [{ To_Account: 'bob' }], AddType: 'Add_Type_Single' });
  assert.deepEqual(own.ResultItem, [{ To_Account: 'bob', ResultCode: 30010, ResultInfo: messageFor(30010) }]);
});

test('friend_add: an unknown From_Account fails the whole call with 30003; at most 100 items', () => {
  const t = setup();
  t.accounts('ann');
  assert.deepEqual(t.run('sns/friend_add', { From_Account: 'ghost', AddFriendItem: [{ To_Account: 'ann' }] }), {
    ActionStatus: 'FAIL',
    ErrorCode: 30003,
    ErrorInfo: 'From_Account "ghost" does not exist',
    ErrorDisplay: '',
  });
  assertFail(t.run('sns/friend_add', { From_Account: 'ann', AddFriendItem: [] }), ErrorCode.FRIEND_INVALID, /AddFriendItem must not be empty/, true);
  assertFail(
    t.run('sns/friend_add', { From_Account: 'ann', AddFriendItem: ids(101).map((To_Account) => ({ To_Account })) }),
    ErrorCode.FRIEND_INVALID,
    /AddFriendItem holds 101 entries, at most 100/,
    true,
  );
  assert.equal(t.engine.friendCount('ann'), 0);
});

test('S21 friend_add takes effect at once: the adder hears the friend (S21c), the friend does not hear the adder', () => {
  const t = setup();
  t.accounts('ann', 'bob', 'cat');
  t.login('bob');
  t.login('cat');
  t.run('sns/friend_add', { From_Account: 'bob', AddFriendItem: [{ To_Account: 'ann' }], AddType: 'Add_Type_Single' });
  t.run('sns/friend_add', { From_Account: 'ann', AddFriendItem: [{ To_Account: 'cat' }], AddType: 'Add_Type_Single' });
  const ann = t.login('ann');
  assert.deepEqual(t.heard('bob', 'ann'), [UserStatus.ONLINE]);
  assert.deepEqual(t.heard('cat', 'ann'), [], 'cat does not have ann in its list');
  // S21 friend_delete takes effect at once too.
  t.run('sns/friend_delete', { From_Account: 'bob', To_Account: ['ann'] });
  t.engine.logout(ann, NOW);
  assert.deepEqual(t.heard('bob', 'ann'), [UserStatus.ONLINE]);
});

test('S21 friends hear nothing with the friend auto-notify switch off', () => {
  const t = setup({ userStatus: { queryAndNotify: true, friendAutoNotify: false } });
  t.accounts('ann', 'bob');
  t.login('bob');
  t.run('sns/friend_add', { From_Account: 'bob', AddFriendItem: [{ To_Account: 'ann' }] });
  t.login('ann');
  assert.deepEqual(t.heard('bob', 'ann'), []);
});

test('friend_import: one way, with the given Remark, GroupName list, AddSource and AddTime', () => {
  const t = setup();
  t.accounts('ann', 'bob', 'cat');
  assert.deepEqual(
    t.run('sns/friend_import', {
      From_Account: 'ann',
      AddFriendItem: [
        {
          To_Account: 'bob',
          Remark: 'B',
          RemarkTime: 1466154000,
          GroupName: ['g1', 'g2', 'g1', ''],
          AddSource: 'AddSource_Type_Android',
          AddTime: 1466154000,
          AddWording: 'w',
          CustomItem: [],
        },
        { To_Account: 'cat' },
        { To_Account: 'ghost', AddTime: 5 },
        { To_Account: 'bob' },
      ],
    }),
    {
      ...SNS_OK,
      ResultItem: [
        { To_Account: 'bob', ResultCode: 0, ResultInfo: '' },
        { To_Account: 'cat', ResultCode: 0, ResultInfo: '' },
        { To_Account: 'ghost', ResultCode: 30003, ResultInfo: messageFor(30003) },
        { To_Account: 'bob', ResultCode: 30001, ResultInfo: 'already a friend' },
      ],
      Fail_Account: ['ghost', 'bob'],
    },
  );
  assert.deepEqual(t.engine.friendList('ann'), [
    { to: 'bob', remark: 'B', groups: ['g1', 'g2'], addSource: 'AddSource_Type_Android', addTime: 1466154000 },
    { to: 'cat', remark: '', groups: [], addSource: '', addTime: NOW_SEC },
  ]);
  assert.equal(t.engine.isFriend('bob', 'ann'), false);
  assertFail(t.run('sns/friend_import', { From_Account: 'nobody', AddFriendItem: [{ To_Account: 'bob' }] }), ErrorCode.FRIEND_ACCOUNT_NOT_FOUND, /nobody/, true);
});

// ---- sns/friend_delete, friend_delete_all --------------------------------------------------------

test('friend_delete: Delete_Type_Single by default; 31704 for a non-friend', () => {
  const t = setup();
  t.accounts('ann', 'bob', 'cat');
  t.run('sns/friend_add', { From_Account: 'ann', AddFriendItem: [{ To_Account: 'bob' }] });
  assert.deepEqual(t.run('sns/friend_delete', { From_Account: 'ann', To_Account: ['bob', 'cat', 'ghost', 'bob', ''] }), {
    ...SNS_OK,
    ResultItem: [
      { To_Account: 'bob', ResultCode: 0, ResultInfo: '' },
      { To_Account: 'cat', ResultCode: 31704, ResultInfo: messageFor(31704) },
      { To_Account: 'ghost', ResultCode: 31704, ResultInfo: messageFor(31704) },
      { To_Account: 'bob', ResultCode: 31704, ResultInfo: messageFor(31704) },
      { To_Account: '', ResultCode: 30001, ResultInfo: 'To_Account is not a valid UserID' },
    ],
  });
  assert.deepEqual([t.engine.isFriend('ann', 'bob'), t.engine.isFriend('bob', 'ann')], [false, true]);
});

test('friend_delete Delete_Type_Both removes both directions; at most 1000 To_Account', () => {
  const t = setup();
  t.accounts('ann', 'bob', 'cat');
  t.run('sns/friend_add', { From_Account: 'ann', AddFriendItem: [{ To_Account: 'bob' }] });
  t.run('sns/friend_add', { From_Account: 'cat', AddFriendItem: [{ To_Account: 'ann' }], AddType: 'Add_Type_Single' });
  assert.deepEqual(t.run('sns/friend_delete', { From_Account: 'ann', To_Account: ['bob', 'cat'], DeleteType: 'Delete_Type_Both' }), {
    ...SNS_OK,
    ResultItem: [
      { To_Account: 'bob', ResultCode: 0, ResultInfo: '' },
      { To_Account: 'cat', ResultCode: 0, ResultInfo: '' },
    ],
  });
  assert.deepEqual([t.engine.friendCount('ann'), t.engine.friendCount('bob'), t.engine.friendCount('cat')], [0, 0, 0]);
  assert.equal(t.run('sns/friend_delete', { From_Account: 'ann', To_Account: ids(1000) }).ActionStatus, 'OK');
  assertFail(t.run('sns/friend_delete', { From_Account: 'ann', To_Account: ids(1001) }), ErrorCode.FRIEND_INVALID, /To_Account holds 1001 entries, at most 1000/, true);
  assertFail(t.run('sns/friend_delete', { From_Account: 'ghost', To_Account: ['ann'] }), ErrorCode.FRIEND_ACCOUNT_NOT_FOUND, /ghost/, true);
});

test('friend_delete_all: Single empties From list only; Both also removes From from each friend list', () => {
  const t = setup();
  t.accounts('ann', 'bob', 'cat', 'dan');
  t.run('sns/friend_add', { From_Account: 'ann', AddFriendItem: [{ To_Account: 'bob' }, { To_Account: 'cat' }] });
  assert.deepEqual(t.run('sns/friend_delete_all', { From_Account: 'ann' }), SNS_OK);
  assert.deepEqual([t.engine.friendCount('ann'), t.engine.isFriend('bob', 'ann'), t.engine.isFriend('cat', 'ann')], [0, true, true]);
  t.run('sns/friend_add', { From_Account: 'dan', AddFriendItem: [{ To_Account: 'bob' }, { To_Account: 'cat' }] });
  assert.deepEqual(t.run('sns/friend_delete_all', { From_Account: 'dan', DeleteType: 'Delete_Type_Both' }), SNS_OK);
  assert.deepEqual([t.engine.friendCount('dan'), t.engine.isFriend('bob', 'dan'), t.engine.isFriend('cat', 'dan')], [0, false, false]);
  assert.deepEqual(t.run('sns/friend_delete_all', { From_Account: 'dan' }), SNS_OK, 'an empty list is fine');
  assertFail(t.run('sns/friend_delete_all', { From_Account: 'ghost' }), ErrorCode.FRIEND_ACCOUNT_NOT_FOUND, /ghost/, true);
});

// ---- sns/friend_get --------------------------------------------------------------------------------

test('friend_get: the four standard tags per friend', () => {
  const t = setup();
  t.accounts('ann', 'bob', 'cat');
  t.run('sns/friend_import', {
    From_Account: 'ann',
    AddFriendItem: [{ To_Account: 'bob', Remark: 'B', GroupName: ['g1'], AddSource: 'AddSource_Type_Web', AddTime: 1466154000 }, { To_Account: 'cat' }],
  });
  assert.deepEqual(t.run('sns/friend_get', { From_Account: 'ann', StartIndex: 0, StandardSequence: 0, CustomSequence: 0 }), {
    ...SNS_OK,
    UserDataItem: [
      {
        To_Account: 'bob',
        ValueItem: [
          { Tag: 'Tag_SNS_IM_Remark', Value: 'B' },
          { Tag: 'Tag_SNS_IM_Group', Value: ['g1'] },
          { Tag: 'Tag_SNS_IM_AddSource', Value: 'AddSource_Type_Web' },
          { Tag: 'Tag_SNS_IM_AddTime', Value: 1466154000 },
        ],
      },
      {
        To_Account: 'cat',
        ValueItem: [
          { Tag: 'Tag_SNS_IM_Remark', Value: '' },
          { Tag: 'Tag_SNS_IM_Group', Value: [] },
          { Tag: 'Tag_SNS_IM_AddSource', Value: '' },
          { Tag: 'Tag_SNS_IM_AddTime', Value: NOW_SEC },
        ],
      },
    ],
    StandardSequence: 0,
    CustomSequence: 0,
    FriendNum: 2,
    CompleteFlag: 1,
    NextStartIndex: 0,
  });
  assert.deepEqual(t.run('sns/friend_get', { From_Account: 'bob' }), {
    ...SNS_OK,
    UserDataItem: [],
    StandardSequence: 0,
    CustomSequence: 0,
    FriendNum: 0,
    CompleteFlag: 1,
    NextStartIndex: 0,
  });
  assertFail(t.run('sns/friend_get', { From_Account: 'ghost', StartIndex: 0 }), ErrorCode.FRIEND_ACCOUNT_NOT_FOUND, /ghost/, true);
});

test('friend_get pages by 100: CompleteFlag 1 on the last page, NextStartIndex to continue', () => {
  const t = setup();
  const friends = ids(250, 'f');
  t.accounts('ann', ...friends);
  for (let i = 0; i < friends.length; i += 100) {
    t.run('sns/friend_add', { From_Account: 'ann', AddFriendItem: friends.slice(i, i + 100).map((To_Account) => ({ To_Account })), AddType: 'Add_Type_Single' });
  }
  const page = (StartIndex: number) => {
    const r = t.run('sns/friend_get', { From_Account: 'ann', StartIndex });
    const items = r.UserDataItem as Array<{ To_Account: string }>;
    return { first: items[0]?.To_Account, n: items.length, FriendNum: r.FriendNum, CompleteFlag: r.CompleteFlag, NextStartIndex: r.NextStartIndex };
  };
  assert.deepEqual(page(0), { first: 'f0', n: 100, FriendNum: 250, CompleteFlag: 0, NextStartIndex: 100 });
  assert.deepEqual(page(100), { first: 'f100', n: 100, FriendNum: 250, CompleteFlag: 0, NextStartIndex: 200 });
  assert.deepEqual(page(200), { first: 'f200', n: 50, FriendNum: 250, CompleteFlag: 1, NextStartIndex: 0 });
  assert.deepEqual(page(150), { first: 'f150', n: 100, FriendNum: 250, CompleteFlag: 1, NextStartIndex: 0 });
  assert.deepEqual(page(999), { first: undefined, n: 0, FriendNum: 250, CompleteFlag: 1, NextStartIndex: 0 });
});

// ---- sns/friend_check ------------------------------------------------------------------------------

test('friend_check: Single gives AWithB / NoRelation; Both gives BothWay / AWithB / BWithA / NoRelation', () => {
  const t = setup();
  t.accounts('ann', 'both', 'mine', 'theirs', 'none');
  t.run('sns/friend_add', { From_Account: 'ann', AddFriendItem: [{ To_Account: 'both' }] });
  t.run('sns/friend_add', { From_Account: 'ann', AddFriendItem: [{ To_Account: 'mine' }], AddType: 'Add_Type_Single' });
  t.run('sns/friend_add', { From_Account: 'theirs', AddFriendItem: [{ To_Account: 'ann' }], AddType: 'Add_Type_Single' });
  const asked = ['both', 'mine', 'theirs', 'none', 'ghost', 'z'.repeat(33)];
  const info = (To_Account: string, Relation: string) => ({ To_Account, Relation: `CheckResult_Type_${Relation}`, ResultCode: 0, ResultInfo: '' });
  const invalid = { To_Account: 'z'.repeat(33), Relation: 'CheckResult_Type_NoRelation', ResultCode: 30001, ResultInfo: 'To_Account is not a valid UserID' };
  assert.deepEqual(t.run('sns/friend_check', { From_Account: 'ann', To_Account: asked, CheckType: 'CheckResult_Type_Both' }), {
    ...SNS_OK,
    InfoItem: [info('both', 'BothWay'), info('mine', 'AWithB'), info('theirs', 'BWithA'), info('none', 'NoRelation'), info('ghost', 'NoRelation'), invalid],
    Fail_Account: ['z'.repeat(33)],
  });
  assert.deepEqual(t.run('sns/friend_check', { From_Account: 'ann', To_Account: asked, CheckType: 'CheckResult_Type_Single' }), {
    ...SNS_OK,
    InfoItem: [info('both', 'AWithB'), info('mine', 'AWithB'), info('theirs', 'NoRelation'), info('none', 'NoRelation'), info('ghost', 'NoRelation'), invalid],
    Fail_Account: ['z'.repeat(33)],
  });
  // CheckType defaults to Both.
  assert.deepEqual((t.run('sns/friend_check', { From_Account: 'ann', To_Account: ['theirs'] }).InfoItem as unknown[])[0], info('theirs', 'BWithA'));
});

test('friend_check takes at most 1000 To_Account; an unknown From_Account is 30003', () => {
  const t = setup();
  t.accounts('ann');
  const r = t.run('sns/friend_check', { From_Account: 'ann', To_Account: ids(1000) });
  assert.equal((r.InfoItem as unknown[]).length, 1000);
  assertFail(t.run('sns/friend_check', { From_Account: 'ann', To_Account: ids(1001) }), ErrorCode.FRIEND_INVALID, /To_Account holds 1001 entries, at most 1000/, true);
  assertFail(t.run('sns/friend_check', { From_Account: 'ghost', To_Account: ['ann'] }), ErrorCode.FRIEND_ACCOUNT_NOT_FOUND, /From_Account "ghost" does not exist/, true);
});
