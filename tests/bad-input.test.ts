/**
 * S32: bad input over a real socket gets an error code, changes nothing, and leaves other
 * clients unaffected. S31: the same code whatever the transport.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { ErrorCode, UserStatus } from '@presently/protocol';
import { APP, startServer, type TestServer } from './helpers/server.js';
import { RawPeer } from './helpers/raw.js';
import { rest } from './helpers/rest.js';

let srv: TestServer;
before(async () => {
  srv = await startServer({ server: { maxFrameBytes: 2048 } });
});
after(async () => {
  await srv.stop();
});

async function loggedIn(userID: string): Promise<RawPeer> {
  const p = await RawPeer.connect(srv.ws);
  const r = await p.login(APP, userID, srv.sig(userID));
  assert.equal(r.code, 0, JSON.stringify(r));
  return p;
}

test('S32 ops before login are refused with 2024 and change nothing', async () => {
  const p = await RawPeer.connect(srv.ws);
  for (const op of ['setSelfStatus', 'getUserStatus', 'subscribeUserStatus', 'logout', 'heartbeat']) {
    const r = await p.request(op, { userIDList: ['x'], customStatus: 'x' });
    assert.equal(r.code, ErrorCode.NOT_LOGGED_IN, op);
  }
  p.close();
});

test('S32 malformed JSON, unknown op, wrong types, binary and oversized frames get 70402; state unchanged', async () => {
  const victim = await loggedIn('bad-victim');
  const watcher = await loggedIn('bad-watcher');
  assert.equal((await watcher.request('subscribeUserStatus', { userIDList: ['bad-victim'] })).code, 0);
  assert.equal((await victim.request('setSelfStatus', { customStatus: 'before' })).code, 0);
  await watcher.next((f) => f.op === 'userStatusUpdated');

  const errors: Array<[string, Promise<{ code?: number }>]> = [];
  const expectError = (label: string) => errors.push([label, victim.next((f) => f.op === 'error' || f.id === 999)]);
  victim.sendRaw('{not json');
  expectError('malformed JSON');
  victim.sendRaw(JSON.stringify({ id: 999, op: 'dance' }));
  expectError('unknown op');
  for (const [label, frame] of [
    ['customStatus number', { id: 999, op: 'setSelfStatus', customStatus: 42 }],
    ['userIDList string', { id: 999, op: 'getUserStatus', userIDList: 'bad-watcher' }],
    ['userIDList of numbers', { id: 999, op: 'subscribeUserStatus', userIDList: [1, 2] }],
    ['id negative', { id: -1, op: 'setSelfStatus', customStatus: 'x' }],
    ['array frame', [1, 2, 3]],
  ] as const) {
    victim.sendRaw(JSON.stringify(frame));
    const r = await victim.next((f) => f.op === 'error' || f.id === 999 || f.op === 'setSelfStatus' || f.op === 'getUserStatus' || f.op === 'subscribeUserStatus');
    assert.equal(r.code, ErrorCode.INVALID_PARAMETERS, label);
  }
  victim.sendRaw(Buffer.from([1, 2, 3]), true);
  expectError('binary');
  victim.sendRaw(JSON.stringify({ id: 999, op: 'setSelfStatus', customStatus: 'y'.repeat(3000) }));
  expectError('oversized');
  for (const [label, p] of errors) assert.equal((await p).code, ErrorCode.INVALID_PARAMETERS, label);

  // Nothing changed: the custom status is still 'before' and the watcher heard nothing new.
  const q = await watcher.request('getUserStatus', { userIDList: ['bad-victim'] });
  assert.deepEqual((q.data as { successUserList: unknown[] }).successUserList, [{ userID: 'bad-victim', statusType: UserStatus.ONLINE, customStatus: 'before' }]);
  assert.equal(watcher.frames.filter((f) => f.op === 'userStatusUpdated').length, 0);
  // The abused connection still works.
  assert.equal((await victim.request('setSelfStatus', { customStatus: 'after' })).code, 0);
  victim.close();
  watcher.close();
});

test('S32 a flood of requests from one client: each answered, others unaffected', async () => {
  const flooder = await loggedIn('flooder');
  const other = await loggedIn('calm');
  await loggedIn('target');
  const N = 2000;
  const replies: Promise<{ code?: number }>[] = [];
  for (let i = 0; i < N; i++) replies.push(flooder.request('getUserStatus', { userIDList: ['target'] }));
  // While the flood is being answered, another user's request still succeeds.
  const calm = await other.request('getUserStatus', { userIDList: ['target'] });
  assert.equal(calm.code, 0);
  const codes = (await Promise.all(replies)).map((r) => r.code);
  assert.equal(codes.length, N);
  assert.equal(codes.filter((c) => c === 0).length, 20, 'the default window admits 20 calls');
  assert.equal(codes.filter((c) => c === ErrorCode.TOO_MANY_CALLS).length, N - 20);
  flooder.close();
  other.close();
});

test('S25 S31 login refusals carry the compat codes over the socket', async () => {
  const p = await RawPeer.connect(srv.ws);
  const cases: Array<[string, string, number]> = [
    ['wrong-user ticket', srv.sig('someone-else'), ErrorCode.USERSIG_IDENTIFIER_MISMATCH],
    ['expired ticket', srv.sig('lg', { nowSec: 1000, expireSec: 10 }), ErrorCode.USERSIG_EXPIRED],
    ['wrong-app ticket', srv.sig('lg', { SDKAppID: APP + 5 }), ErrorCode.USERSIG_SDKAPPID_MISMATCH],
    ['empty ticket', '', ErrorCode.USERSIG_EMPTY],
  ];
  for (const [label, sig, code] of cases) {
    const r = await p.request('login', { SDKAppID: APP, userID: 'lg', userSig: sig });
    assert.equal(r.code, code, label);
  }
  assert.equal((await p.request('login', { SDKAppID: 42, userID: 'lg', userSig: srv.sig('lg') })).code, ErrorCode.SDKAPPID_NOT_FOUND);
  assert.equal((await p.request('login', { SDKAppID: APP, userID: '', userSig: srv.sig('') })).code, ErrorCode.INVALID_PARAMETERS);
  // None of those created the account.
  const q = await loggedIn('checker');
  const r = await q.request('getUserStatus', { userIDList: ['lg'] });
  assert.deepEqual(
    (r.data as { failureUserList: Array<{ code: number }> }).failureUserList.map((f) => f.code),
    [ErrorCode.ACCOUNT_NOT_FOUND],
  );
  p.close();
  q.close();
});

test('S25 S32 identities are well-formed Unicode: a lone surrogate is refused in a login, a REST account or Nick, and a custom status', async () => {
  const p = await RawPeer.connect(srv.ws);
  // The server's own ticket maker signs what it is given; the server still refuses the identity.
  for (const userID of ['x\ud800', 'x\udbff', '\udc00y']) {
    const r = await p.request('login', { SDKAppID: APP, userID, userSig: srv.sig(userID) });
    assert.equal(r.code, ErrorCode.INVALID_PARAMETERS, JSON.stringify(userID));
  }
  const imported = await rest(srv, 'im_open_login_svc/account_import', { UserID: 'x\ud800' });
  assert.equal(imported.ActionStatus, 'FAIL');
  const nick = await rest(srv, 'im_open_login_svc/account_import', { UserID: 'lone-nick', Nick: 'a\udfffb' });
  assert.equal(nick.ActionStatus, 'FAIL');
  assert.match(String(nick.ErrorInfo), /Nick must be well-formed Unicode/);
  // Nothing was created: neither account exists.
  const q = await loggedIn('wf-checker');
  const r = await q.request('getUserStatus', { userIDList: ['lone-nick', 'x\ufffd'] });
  assert.deepEqual(
    (r.data as { failureUserList: Array<{ code: number }> }).failureUserList.map((f) => f.code),
    [ErrorCode.ACCOUNT_NOT_FOUND, ErrorCode.ACCOUNT_NOT_FOUND],
  );
  // A custom status with a lone surrogate is refused and changes nothing.
  assert.equal((await q.request('setSelfStatus', { customStatus: 'ok' })).code, 0);
  assert.equal((await q.request('setSelfStatus', { customStatus: 'bad\ud800' })).code, ErrorCode.INVALID_PARAMETERS);
  const self = await q.request('getUserStatus', { userIDList: ['wf-checker'] });
  assert.equal((self.data as { successUserList: Array<{ customStatus: string }> }).successUserList[0]?.customStatus, 'ok');
  p.close();
  q.close();
});

test('S25 S28 a ticket issued an hour ahead of the server clock is refused (70003), so it cannot outlive a kick', async () => {
  const p = await RawPeer.connect(srv.ws);
  const ahead = srv.sig('future', { nowSec: Math.floor(Date.now() / 1000) + 3600 });
  assert.equal((await p.request('login', { SDKAppID: APP, userID: 'future', userSig: ahead })).code, ErrorCode.USERSIG_CHECK_FAILED);
  // Within the allowed skew (a minute ahead) it logs in; after an admin kick it is refused (S28).
  const soon = srv.sig('future', { nowSec: Math.floor(Date.now() / 1000) + 60 });
  assert.equal((await p.request('login', { SDKAppID: APP, userID: 'future', userSig: soon })).code, 0);
  p.close();
  await p.closed;
  assert.equal((await rest(srv, 'im_open_login_svc/kick', { UserID: 'future' })).ActionStatus, 'OK');
  const again = await RawPeer.connect(srv.ws);
  assert.equal((await again.request('login', { SDKAppID: APP, userID: 'future', userSig: ahead })).code, ErrorCode.USERSIG_CHECK_FAILED);
  again.close();
});

test('S32 a text frame that is not valid UTF-8 closes the socket with 1007 (RFC 6455); the server keeps serving', async () => {
  const p = await RawPeer.connect(srv.ws);
  p.sendRaw(Buffer.from([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x7d]), false);
  assert.equal((await p.closed).code, 1007);
  const q = await loggedIn('after-utf8');
  assert.equal((await q.request('getUserStatus', { userIDList: ['after-utf8'] })).code, 0);
  q.close();
});
