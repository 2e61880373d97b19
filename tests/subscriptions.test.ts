/** Querying and subscribing (S11-S19, S30), end to end with small per-app limits. */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import Presently from '@presently/client';
import { ErrorCode } from '@presently/protocol';
import { APP, appConfig, startServer, type TestServer } from './helpers/server.js';
import { destroyAll, is, sdk } from './helpers/sdk.js';
import { rest } from './helpers/rest.js';
import { RawPeer } from './helpers/raw.js';

const { USER_STATUS_ONLINE: ONLINE, USER_STATUS_UNLOGINED: UNLOGINED } = Presently.TYPES;
const codeIs = (code: number) => (e: { code: number }) => e.code === code;

let srv: TestServer;
before(async () => {
  srv = await startServer({
    apps: [
      appConfig({
        limits: { maxQueryIDs: 5, maxSubscribeIDsPerCall: 3, maxSubscriptions: 4, rateLimitCalls: 3, rateLimitWindowSec: 1, subscriptionExpiryHours: 0.0005 },
      }),
    ],
  });
  const ids = Array.from({ length: 10 }, (_, i) => ({ UserID: `acc${i}` }));
  assert.equal((await rest(srv, 'im_open_login_svc/multiaccount_import', { AccountList: ids })).ActionStatus, 'OK');
});
after(async () => {
  await destroyAll();
  await srv.stop();
});

test('S11 S14 getUserStatus answers in the order asked, oneself included; unknown ids in failureUserList with 70107', async () => {
  await sdk(srv, 'acc1');
  const raw = await RawPeer.connect(srv.ws);
  try {
    assert.equal((await raw.login(APP, 'q-raw', srv.sig('q-raw'))).code, 0);
    const r = await raw.request('getUserStatus', { userIDList: ['acc2', 'nobody', 'acc1', 'q-raw'] });
    assert.deepEqual(r.data, {
      successUserList: [
        { userID: 'acc2', statusType: UNLOGINED, customStatus: '' },
        { userID: 'acc1', statusType: ONLINE, customStatus: '' },
        { userID: 'q-raw', statusType: ONLINE, customStatus: '' },
      ],
      failureUserList: [{ userID: 'nobody', code: ErrorCode.ACCOUNT_NOT_FOUND, message: 'account does not exist' }],
    });
  } finally {
    raw.close();
  }
});

test('S11 S12 the SDK answers the hosted way: own status first from the instance, then the others in the order asked, repeats once', async () => {
  const me = await sdk(srv, 'q-me');
  await me.client.setSelfStatus({ customStatus: 'here' });
  const r = await me.client.getUserStatus({ userIDList: ['acc2', 'nobody', 'acc1', 'q-me', 'acc2'] });
  assert.deepEqual(r, {
    code: 0,
    data: {
      successUserList: [
        { userID: 'q-me', statusType: ONLINE, customStatus: 'here' },
        { userID: 'acc2', statusType: UNLOGINED, customStatus: '' },
        { userID: 'acc1', statusType: ONLINE, customStatus: '' },
      ],
      failureUserList: [{ userID: 'nobody', code: ErrorCode.ACCOUNT_NOT_FOUND, message: 'account does not exist' }],
    },
  });
});

test('S13 S18 S30 others need premium + the query switch: 72001 for query, subscribe and unsubscribe', async () => {
  for (const over of [{ edition: 'basic' as const }, { userStatus: { queryAndNotify: false } }]) {
    const s = await startServer({ apps: [appConfig(over)] });
    try {
      const me = await sdk(s, 'gate-me');
      await sdk(s, 'gate-other');
      await assert.rejects(me.client.getUserStatus({ userIDList: ['gate-other'] }), codeIs(ErrorCode.FEATURE_NOT_ENABLED));
      await assert.rejects(me.client.subscribeUserStatus({ userIDList: ['gate-other'] }), codeIs(ErrorCode.FEATURE_NOT_ENABLED));
      await assert.rejects(me.client.unsubscribeUserStatus({ userIDList: ['gate-other'] }), codeIs(ErrorCode.FEATURE_NOT_ENABLED));
      assert.equal((await me.client.getUserStatus({ userIDList: ['gate-me'] })).code, 0, 'S12 oneself stays free');
    } finally {
      await destroyAll();
      await s.stop();
    }
  }
});

test('S14 S30 too many ids (72002) and too many calls in the window (72003); each operation has its own budget', async () => {
  // The server refuses a list past the limit whole (72002, nothing answered).
  const raw = await RawPeer.connect(srv.ws);
  try {
    assert.equal((await raw.login(APP, 'rate-raw', srv.sig('rate-raw'))).code, 0);
    const six = ['acc0', 'acc1', 'acc2', 'acc3', 'acc4', 'acc5'];
    assert.equal((await raw.request('getUserStatus', { userIDList: six })).code, ErrorCode.TOO_MANY_IDS);
    assert.equal((await raw.request('subscribeUserStatus', { userIDList: six.slice(0, 4) })).code, ErrorCode.TOO_MANY_IDS);
    assert.equal((await raw.request('unsubscribeUserStatus', { userIDList: six.slice(0, 4) })).code, ErrorCode.TOO_MANY_IDS);
  } finally {
    raw.close();
  }
  // The SDK trims to the app's limit (announced at login) the hosted SDK's way, and names each id
  // it left out with 72002: nothing partial is hidden.
  const me = await sdk(srv, 'rate-me');
  const r = await me.client.getUserStatus({ userIDList: ['acc0', 'acc1', 'acc2', 'acc3', 'acc4', 'acc5'] });
  assert.deepEqual(
    r.data.successUserList.map((u) => u.userID),
    ['acc0', 'acc1', 'acc2', 'acc3', 'acc4'],
  );
  assert.deepEqual(r.data.failureUserList, [{ userID: 'acc5', code: ErrorCode.TOO_MANY_IDS, message: 'not sent: more than 5 userIDs in one call' }]);
  for (let i = 0; i < 2; i++) await me.client.getUserStatus({ userIDList: ['acc0'] });
  await assert.rejects(me.client.getUserStatus({ userIDList: ['acc0'] }), codeIs(ErrorCode.TOO_MANY_CALLS));
  // Subscribe and unsubscribe have budgets of their own.
  await me.client.subscribeUserStatus({ userIDList: ['acc0'] });
  await me.client.unsubscribeUserStatus({ userIDList: ['acc0'] });
  // The window slides: once a second has passed since the first calls, queries work again.
  const t0 = Date.now();
  let ok = false;
  while (!ok) {
    ok = await me.client.getUserStatus({ userIDList: ['acc0'] }).then(
      () => true,
      () => false,
    );
    if (!ok) await new Promise((r) => setTimeout(r, 100));
  }
  assert.ok(Date.now() - t0 < 1500);
});

test('S15 subscribing tells of every change (general and custom); at most 100 (here 3) ids per call', async () => {
  const me = await sdk(srv, 'sub-me');
  const trimmed = await me.client.subscribeUserStatus({ userIDList: ['acc0', 'acc1', 'acc2', 'acc3'] });
  assert.deepEqual(trimmed.data.failureUserList, [{ userID: 'acc3', code: ErrorCode.TOO_MANY_IDS, message: 'not sent: more than 3 userIDs in one call' }]);
  const r = await me.client.subscribeUserStatus({ userIDList: ['acc3', 'ghost'] });
  assert.deepEqual(r.data.failureUserList, [{ userID: 'ghost', code: ErrorCode.ACCOUNT_NOT_FOUND, message: 'account does not exist' }]);
  const target = await sdk(srv, 'acc3');
  await me.waitFor(is('acc3', ONLINE, ''));
  await target.client.setSelfStatus({ customStatus: 'hello' });
  await me.waitFor(is('acc3', ONLINE, 'hello'));
  await target.client.logout();
  await me.waitFor(is('acc3', UNLOGINED, ''));
});

test('S16 past the cap (4 here) the oldest subscriptions are evicted first, silently', async () => {
  const me = await sdk(srv, 'fifo-me');
  await me.client.subscribeUserStatus({ userIDList: ['acc4', 'acc5'] });
  await me.client.subscribeUserStatus({ userIDList: ['acc6', 'acc7'] });
  const r = await me.client.subscribeUserStatus({ userIDList: ['acc8'] });
  assert.deepEqual(r.data.failureUserList, [], 'eviction is silent');
  // acc4 was evicted: its changes no longer arrive; acc5 (now the oldest kept) still does.
  const acc4 = await sdk(srv, 'acc4');
  const acc5 = await sdk(srv, 'acc5');
  await me.waitFor(is('acc5', ONLINE));
  await acc4.client.setSelfStatus({ customStatus: 'evicted?' });
  await acc5.client.setSelfStatus({ customStatus: 'kept' });
  await me.waitFor(is('acc5', ONLINE, 'kept'));
  assert.deepEqual(
    me.updates.filter((u) => u.userID === 'acc4'),
    [],
  );
});

test('S17 subscribing to oneself is refused (72004) and changes nothing; own changes still arrive', async () => {
  const me = await sdk(srv, 'self-me');
  const r = await me.client.subscribeUserStatus({ userIDList: ['self-me'] });
  assert.deepEqual(
    r.data.failureUserList.map((f) => f.code),
    [ErrorCode.SUBSCRIBE_SELF],
  );
  await me.client.setSelfStatus({ customStatus: 'mine' });
  await me.waitFor(is('self-me', ONLINE, 'mine'));
  assert.equal(me.updates.filter((u) => u.userID === 'self-me').length, 1, 'once, not twice');
});

test('S19 unsubscribe a list, then all with an empty list', async () => {
  const me = await sdk(srv, 'unsub-me');
  await me.client.subscribeUserStatus({ userIDList: ['acc0', 'acc1', 'acc2'] });
  await me.client.unsubscribeUserStatus({ userIDList: ['acc0'] });
  await me.client.unsubscribeUserStatus({ userIDList: [] });
  const acc0 = await sdk(srv, 'acc0');
  const acc2 = await sdk(srv, 'acc2');
  await acc0.client.setSelfStatus({ customStatus: 'a' });
  await acc2.client.setSelfStatus({ customStatus: 'b' });
  // A fresh subscription to acc2 proves deliveries work and orders after the two sets above.
  await me.client.subscribeUserStatus({ userIDList: ['acc2'] });
  await acc2.client.setSelfStatus({ customStatus: 'c' });
  await me.waitFor(is('acc2', ONLINE, 'c'));
  assert.deepEqual(
    me.updates.map((u) => u.customStatus),
    ['c'],
  );
});

test('S19 subscriptions of a user offline past the expiry (1.8 s here) are dropped', async () => {
  const me = await sdk(srv, 'exp-me');
  await me.client.subscribeUserStatus({ userIDList: ['acc9'] });
  await me.client.destroy(); // gone (destroy logs out): no longer online, the expiry clock starts
  await new Promise((r) => setTimeout(r, 1800 + 600)); // the expiry plus the sweep's period
  const back = await sdk(srv, 'exp-me');
  const acc9 = await sdk(srv, 'acc9');
  await acc9.client.setSelfStatus({ customStatus: 'anyone?' });
  const control = await sdk(srv, 'exp-control');
  await control.client.subscribeUserStatus({ userIDList: ['acc9'] });
  await acc9.client.setSelfStatus({ customStatus: 'now' });
  await control.waitFor(is('acc9', ONLINE, 'now'));
  assert.deepEqual(
    back.updates.filter((u) => u.userID === 'acc9'),
    [],
  );
});
