/** Fast unit tests of the engine's rules (no I/O). End-to-end proofs live in tests/. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ErrorCode, KickType, UserStatus, type Platform, type UserStatusInfo } from '@presently/protocol';
import { AppEngine } from './engine.js';
import type { Mutation } from './types.js';
import { normalizeApp } from '../config/settings.js';

interface Sink {
  name: string;
  got: UserStatusInfo[];
  kicked: string[];
}

function setup(over: Record<string, unknown> = {}) {
  const settings = normalizeApp({
    SDKAppID: 1400000001,
    secretKey: 'test-secret-key-0123456789',
    edition: 'premium',
    userStatus: { queryAndNotify: true, friendAutoNotify: true },
    ...over,
  });
  const persisted: Mutation[] = [];
  const engine = new AppEngine<Sink>(settings, {
    deliver: (sink, change) => sink.got.push(change.info),
    kick: (sink, type) => sink.kicked.push(type),
    persist: (m) => persisted.push(m),
  });
  let n = 0;
  let now = 1_000_000;
  const login = (userID: string, platform: Platform = 'Web', instanceId = `i${++n}`) => {
    const sink: Sink = { name: `${userID}/${platform}`, got: [], kicked: [] };
    const session = engine.login({ userID, platform, instanceId, sessionId: `s${++n}`, ticketTime: Math.floor(now / 1000), sink }, now);
    return { session, sink };
  };
  return {
    engine,
    persisted,
    login,
    tick: (ms: number) => (now += ms),
    now: () => now,
    status: (id: string) => engine.statusOf(id)?.statusType,
  };
}

const codeOf = (fn: () => unknown): number | undefined => {
  try {
    fn();
  } catch (err) {
    return (err as { code?: number }).code;
  }
  return undefined;
};

test('S1 S4 an account that never logged in is UNLOGINED; an unknown id has no status', () => {
  const t = setup();
  t.engine.importAccount('ann');
  assert.equal(t.status('ann'), UserStatus.UNLOGINED);
  assert.equal(t.engine.statusOf('nobody'), undefined);
});

test('S2 S3 a login makes ONLINE; a lost connection makes OFFLINE', () => {
  const t = setup();
  const a = t.login('ann');
  assert.equal(t.status('ann'), UserStatus.ONLINE);
  t.engine.disconnect(a.session, 'close', t.now());
  assert.equal(t.status('ann'), UserStatus.OFFLINE);
});

test('S4 logout of the only session makes UNLOGINED; S3 a dangling device keeps OFFLINE', () => {
  const t = setup();
  const web = t.login('ann', 'Web');
  t.engine.logout(web.session, t.now());
  assert.equal(t.status('ann'), UserStatus.UNLOGINED);
  const phone = t.login('ann', 'Android');
  t.engine.disconnect(phone.session, 'close', t.now());
  const web2 = t.login('ann', 'Web');
  t.engine.logout(web2.session, t.now());
  assert.equal(t.status('ann'), UserStatus.OFFLINE, 'the phone ended without logout');
});

test('S5 a heartbeat timeout counts as a lost connection (OFFLINE)', () => {
  const t = setup();
  const a = t.login('ann');
  t.engine.disconnect(a.session, 'timeout', t.now());
  assert.equal(t.status('ann'), UserStatus.OFFLINE);
});

test('S6 status aggregates every session: phone online + laptop logged out = ONLINE', () => {
  const t = setup();
  t.login('ann', 'Android');
  const laptop = t.login('ann', 'Windows');
  t.engine.logout(laptop.session, t.now());
  assert.equal(t.status('ann'), UserStatus.ONLINE);
});

test('S7 S8 custom status is set, limited to 100 bytes UTF-8, and cleared by empty or null', () => {
  const t = setup();
  const a = t.login('ann');
  t.engine.setCustomStatus(a.session, 'listening to music', t.now());
  assert.equal(t.engine.statusOf('ann')?.customStatus, 'listening to music');
  assert.equal(
    codeOf(() => t.engine.setCustomStatus(a.session, 'é'.repeat(51), t.now())),
    ErrorCode.CUSTOM_STATUS_TOO_LONG,
  );
  assert.equal(t.engine.statusOf('ann')?.customStatus, 'listening to music', 'a refused set changes nothing');
  t.engine.setCustomStatus(a.session, 'é'.repeat(50), t.now());
  t.engine.setCustomStatus(a.session, null, t.now());
  assert.equal(t.engine.statusOf('ann')?.customStatus, '');
  t.engine.setCustomStatus(a.session, 'x', t.now());
  t.engine.setCustomStatus(a.session, undefined, t.now());
  assert.equal(t.engine.statusOf('ann')?.customStatus, '');
});

test('S9 going OFFLINE clears the custom status and announces it in one change', () => {
  const t = setup();
  const a = t.login('ann');
  const b = t.login('bob');
  t.engine.subscribe(b.session, ['ann'], t.now());
  t.engine.setCustomStatus(a.session, 'busy', t.now());
  t.engine.disconnect(a.session, 'close', t.now());
  assert.deepEqual(b.sink.got, [
    { userID: 'ann', statusType: UserStatus.ONLINE, customStatus: 'busy' },
    { userID: 'ann', statusType: UserStatus.OFFLINE, customStatus: '' },
  ]);
});

test('S10 S12 setting and querying oneself need no edition, no switch and no rate limit', () => {
  const t = setup({ edition: 'basic', userStatus: { queryAndNotify: false }, limits: { rateLimitCalls: 1 } });
  const a = t.login('ann');
  for (let i = 0; i < 5; i++) {
    t.engine.setCustomStatus(a.session, `s${i}`, t.now());
    assert.equal(t.engine.getUserStatus(a.session, ['ann'], t.now()).successUserList[0]?.customStatus, `s${i}`);
  }
});

test('S10 own status changes are bounded per user per minute against floods (72003, nothing changed, nothing announced)', () => {
  const t = setup({ limits: { setSelfStatusPerMinute: 5 } });
  const a = t.login('ann');
  const w = t.login('wat');
  t.engine.subscribe(w.session, ['ann'], t.now());
  const heard = () => w.sink.got.filter((c) => c.userID === 'ann').length;
  const before = heard();
  const t0 = t.now();
  for (let i = 0; i < 5; i++) t.engine.setCustomStatus(a.session, `s${i}`, t0);
  assert.equal(
    codeOf(() => t.engine.setCustomStatus(a.session, 'flood', t0)),
    ErrorCode.TOO_MANY_CALLS,
  );
  assert.equal(t.engine.statusOf('ann')?.customStatus, 's4');
  assert.equal(heard() - before, 5, 'a refused change is not announced');
  // The window slides: a minute later the budget is back.
  t.engine.setCustomStatus(a.session, 'later', t0 + 60_001);
  assert.equal(t.engine.statusOf('ann')?.customStatus, 'later');
  // 0 turns the bound off.
  const off = setup({ limits: { setSelfStatusPerMinute: 0 } });
  const b = off.login('bob');
  for (let i = 0; i < 200; i++) off.engine.setCustomStatus(b.session, `s${i}`, t0);
});

test('S23 syncStatus is bounded per user per minute (72003); another user keeps its own budget', () => {
  const t = setup({ limits: { syncStatusPerMinute: 3 } });
  const a = t.login('ann');
  const b = t.login('bob');
  const t0 = t.now();
  for (let i = 0; i < 3; i++) t.engine.sync(a.session, t0);
  assert.equal(
    codeOf(() => t.engine.sync(a.session, t0)),
    ErrorCode.TOO_MANY_CALLS,
  );
  assert.equal(t.engine.sync(b.session, t0).length, 1);
  assert.equal(t.engine.sync(a.session, t0 + 60_001).length, 1);
});

test('S11 S14 results in the order asked; unknown ids reported per id with 70107', () => {
  const t = setup();
  const a = t.login('ann');
  t.login('bob');
  t.engine.importAccount('cat');
  const r = t.engine.getUserStatus(a.session, ['cat', 'ghost', 'bob', 'ann'], t.now());
  assert.deepEqual(
    r.successUserList.map((s) => [s.userID, s.statusType]),
    [
      ['cat', UserStatus.UNLOGINED],
      ['bob', UserStatus.ONLINE],
      ['ann', UserStatus.ONLINE],
    ],
  );
  assert.deepEqual(
    r.failureUserList.map((f) => [f.userID, f.code]),
    [['ghost', ErrorCode.ACCOUNT_NOT_FOUND]],
  );
});

test('S13 S18 others need premium and the switch (72001)', () => {
  for (const over of [{ edition: 'basic' }, { userStatus: { queryAndNotify: false } }]) {
    const t = setup(over);
    const a = t.login('ann');
    t.login('bob');
    assert.equal(
      codeOf(() => t.engine.getUserStatus(a.session, ['bob'], t.now())),
      ErrorCode.FEATURE_NOT_ENABLED,
    );
    assert.equal(
      codeOf(() => t.engine.subscribe(a.session, ['bob'], t.now())),
      ErrorCode.FEATURE_NOT_ENABLED,
    );
    assert.equal(
      codeOf(() => t.engine.unsubscribe(a.session, ['bob'], t.now())),
      ErrorCode.FEATURE_NOT_ENABLED,
    );
  }
});

test('S14 S30 per-call id limit and a sliding rate window per operation', () => {
  const t = setup({ limits: { maxQueryIDs: 3, rateLimitCalls: 2, rateLimitWindowSec: 5 } });
  const a = t.login('ann');
  t.login('bob');
  assert.equal(
    codeOf(() => t.engine.getUserStatus(a.session, ['bob', 'b', 'c', 'd'], t.now())),
    ErrorCode.TOO_MANY_IDS,
  );
  t.engine.getUserStatus(a.session, ['bob'], t.now());
  t.engine.getUserStatus(a.session, ['bob'], t.now());
  assert.equal(
    codeOf(() => t.engine.getUserStatus(a.session, ['bob'], t.now())),
    ErrorCode.TOO_MANY_CALLS,
  );
  // Subscribe has its own budget.
  t.engine.subscribe(a.session, ['bob'], t.now());
  t.tick(5001);
  assert.equal(t.engine.getUserStatus(a.session, ['bob'], t.now()).successUserList.length, 1);
});

test('S15 S16 subscriptions are FIFO: past the cap the oldest go first, silently', () => {
  const t = setup({ limits: { maxSubscriptions: 3 } });
  const a = t.login('ann');
  for (const id of ['u1', 'u2', 'u3', 'u4', 'u5']) t.engine.importAccount(id);
  t.engine.subscribe(a.session, ['u1', 'u2'], t.now());
  t.engine.subscribe(a.session, ['u3', 'u4'], t.now());
  assert.deepEqual(t.engine.subscriptionsOf('ann'), ['u2', 'u3', 'u4']);
  t.engine.subscribe(a.session, ['u2'], t.now()); // renewing makes it the newest
  t.engine.subscribe(a.session, ['u5'], t.now());
  assert.deepEqual(t.engine.subscriptionsOf('ann'), ['u4', 'u2', 'u5']);
});

test('S15 per-call subscribe limit; S17 no self-subscription', () => {
  const t = setup({ limits: { maxSubscribeIDsPerCall: 2 } });
  const a = t.login('ann');
  t.engine.importAccount('bob');
  assert.equal(
    codeOf(() => t.engine.subscribe(a.session, ['a', 'b', 'c'], t.now())),
    ErrorCode.TOO_MANY_IDS,
  );
  const r = t.engine.subscribe(a.session, ['ann', 'bob'], t.now());
  assert.deepEqual(
    r.failureUserList.map((f) => [f.userID, f.code]),
    [['ann', ErrorCode.SUBSCRIBE_SELF]],
  );
  assert.deepEqual(t.engine.subscriptionsOf('ann'), ['bob']);
});

test("S19 unsubscribe of a list, of all, and expiry of an offline user's subscriptions", () => {
  const t = setup({ limits: { subscriptionExpiryHours: 0.001 } }); // 3.6 s
  const a = t.login('ann');
  for (const id of ['u1', 'u2', 'u3']) t.engine.importAccount(id);
  t.engine.subscribe(a.session, ['u1', 'u2', 'u3'], t.now());
  t.engine.unsubscribe(a.session, ['u1'], t.now());
  assert.deepEqual(t.engine.subscriptionsOf('ann'), ['u2', 'u3']);
  t.engine.unsubscribe(a.session, [], t.now());
  assert.deepEqual(t.engine.subscriptionsOf('ann'), []);
  t.engine.subscribe(a.session, ['u1'], t.now());
  t.engine.disconnect(a.session, 'close', t.now());
  t.tick(3000);
  t.engine.sweep(t.now());
  assert.deepEqual(t.engine.subscriptionsOf('ann'), ['u1'], 'not yet expired');
  t.tick(700);
  t.engine.sweep(t.now());
  assert.deepEqual(t.engine.subscriptionsOf('ann'), []);
});

test('S21 receivers: own sessions, subscribers, friends with the switch; nobody else', () => {
  const t = setup();
  const ann = t.login('ann', 'Web');
  const annPhone = t.login('ann', 'Android');
  const sub = t.login('sub');
  const fr = t.login('fr');
  const stranger = t.login('stranger');
  t.engine.subscribe(sub.session, ['ann'], t.now());
  assert.equal(t.engine.addFriend('fr', 'ann', { remark: '', groups: [], addSource: '', addTime: 0 }), 0);
  t.engine.setCustomStatus(ann.session, 'hi', t.now());
  const hi = { userID: 'ann', statusType: UserStatus.ONLINE, customStatus: 'hi' };
  assert.deepEqual(ann.sink.got, [hi]);
  assert.deepEqual(annPhone.sink.got.at(-1), hi);
  assert.deepEqual(sub.sink.got, [hi]);
  assert.deepEqual(fr.sink.got, [hi]);
  assert.deepEqual(stranger.sink.got, []);
});

test('S21 a friend with the switch off and no subscription hears nothing', () => {
  const t = setup({ userStatus: { queryAndNotify: true, friendAutoNotify: false } });
  const ann = t.login('ann');
  const fr = t.login('fr');
  t.engine.addFriend('fr', 'ann', { remark: '', groups: [], addSource: '', addTime: 0 });
  t.engine.setCustomStatus(ann.session, 'hi', t.now());
  assert.deepEqual(fr.sink.got, []);
});

test('S22 a receiver both friend and subscriber gets each change once, in order', () => {
  const t = setup();
  const ann = t.login('ann');
  const bob = t.login('bob');
  t.engine.addFriend('bob', 'ann', { remark: '', groups: [], addSource: '', addTime: 0 });
  t.engine.subscribe(bob.session, ['ann'], t.now());
  for (const s of ['1', '2', '3']) t.engine.setCustomStatus(ann.session, s, t.now());
  assert.deepEqual(
    bob.sink.got.map((c) => c.customStatus),
    ['1', '2', '3'],
  );
});

test('S26 default policy: a newer login on the same platform kicks the older one', () => {
  const t = setup();
  const web1 = t.login('ann', 'Web');
  const phone1 = t.login('ann', 'Android');
  t.login('ann', 'iPad');
  t.login('ann', 'Web');
  t.login('ann', 'Android');
  assert.deepEqual(web1.sink.kicked, [KickType.MULT_ACCOUNT]);
  assert.deepEqual(phone1.sink.kicked, [KickType.MULT_DEVICE]);
  assert.equal(t.engine.sessionsOf('ann').length, 3);
});

test('S26 the same client instance logging in again replaces its stale session without a kick', () => {
  const t = setup();
  const a = t.login('ann', 'Web', 'same');
  const again = t.login('ann', 'Web', 'same');
  assert.deepEqual(a.sink.kicked, []);
  assert.equal(a.session.live, false);
  assert.equal(again.session.live, true);
});

test('S27 S28 REST kick: every session kicked, UNLOGINED, older tickets refused with 70052', () => {
  const t = setup();
  const a = t.login('ann', 'Web');
  const b = t.login('ann', 'Android');
  const watcher = t.login('w');
  t.engine.subscribe(watcher.session, ['ann'], t.now());
  t.engine.kickUser('ann', t.now());
  assert.deepEqual([a.sink.kicked, b.sink.kicked], [[KickType.REST_API], [KickType.REST_API]]);
  assert.equal(t.status('ann'), UserStatus.UNLOGINED);
  assert.deepEqual(watcher.sink.got.at(-1), { userID: 'ann', statusType: UserStatus.UNLOGINED, customStatus: '' });
  const second = Math.floor(t.now() / 1000);
  assert.equal(
    codeOf(() => t.engine.login({ userID: 'ann', platform: 'Web', instanceId: 'x', sessionId: 'sx', ticketTime: second, sink: { name: '', got: [], kicked: [] } }, t.now())),
    ErrorCode.USERSIG_INVALIDATED,
  );
  t.engine.login({ userID: 'ann', platform: 'Web', instanceId: 'y', sessionId: 'sy', ticketTime: second + 1, sink: { name: '', got: [], kicked: [] } }, t.now());
  assert.equal(t.status('ann'), UserStatus.ONLINE);
});

test('S3 S4 login state is what the store is told: a reload makes logged-in users OFFLINE', () => {
  const t = setup();
  t.login('ann');
  const b = t.login('bob');
  t.engine.logout(b.session, t.now());
  t.engine.importAccount('cat');
  // Rebuild the latest durable state of each account from the mutations.
  const accounts = new Map<string, Extract<Mutation, { t: 'account' }>>();
  for (const m of t.persisted) if (m.t === 'account') accounts.set(m.userID, m);
  const fresh = new AppEngine<Sink>(t.engine.settings, { deliver() {}, kick() {}, persist() {} });
  fresh.load({ accounts: [...accounts.values()], friends: [], subscriptions: [] }, t.now());
  assert.equal(fresh.statusOf('ann')?.statusType, UserStatus.OFFLINE);
  assert.equal(fresh.statusOf('bob')?.statusType, UserStatus.UNLOGINED);
  assert.equal(fresh.statusOf('cat')?.statusType, UserStatus.UNLOGINED);
});

test('S20 S23 sync returns self, subscriptions and friends once each', () => {
  const t = setup();
  const a = t.login('ann');
  t.engine.importAccount('bob');
  t.engine.importAccount('cat');
  t.engine.subscribe(a.session, ['bob'], t.now());
  t.engine.addFriend('ann', 'bob', { remark: '', groups: [], addSource: '', addTime: 0 });
  t.engine.addFriend('ann', 'cat', { remark: '', groups: [], addSource: '', addTime: 0 });
  assert.deepEqual(
    t.engine.sync(a.session, t.now()).map((s) => s.userID),
    ['ann', 'bob', 'cat'],
  );
});

test('S24 S32 a stale session handle cannot act', () => {
  const t = setup();
  const a = t.login('ann');
  t.engine.disconnect(a.session, 'close', t.now());
  assert.equal(
    codeOf(() => t.engine.setCustomStatus(a.session, 'x', t.now())),
    ErrorCode.NOT_LOGGED_IN,
  );
});

test('S29 every login, logout, disconnect, custom status and admin kick is reported, in order, with kicked devices', () => {
  const events: string[] = [];
  const settings = normalizeApp({ SDKAppID: 1, secretKey: 'test-secret-key-0123456789' });
  const engine = new AppEngine<Sink>(settings, {
    deliver() {},
    kick() {},
    persist() {},
    event: (e) =>
      events.push(
        `${e.type}:${e.userID}:${'platform' in e ? e.platform : e.platforms.join('+')}${e.type === 'login' ? `:[${e.kicked.join(',')}]` : ''}${e.type === 'disconnect' ? `:${e.reason}` : ''}${e.type === 'customStatus' ? `:${e.customStatus}` : ''}`,
      ),
  });
  const sink = (): Sink => ({ name: '', got: [], kicked: [] });
  const login = (platform: Platform, id: string) => engine.login({ userID: 'ann', platform, instanceId: id, sessionId: id, ticketTime: 1, sink: sink() }, 1000);
  const a = login('Android', 'a');
  const b = login('Android', 'b'); // kicks a
  const w = login('Web', 'w');
  engine.setCustomStatus(b, 'hi', 1000);
  engine.logout(w, 1000);
  engine.disconnect(b, 'timeout', 1000);
  const c = login('Mac', 'c');
  engine.kickUser('ann', 2000);
  assert.equal(a.live || c.live, false);
  assert.deepEqual(events, [
    'login:ann:Android:[]',
    'login:ann:Android:[Android]',
    'login:ann:Web:[]',
    'customStatus:ann:Android:hi',
    'logout:ann:Web',
    'disconnect:ann:Android:timeout',
    'login:ann:Mac:[]',
    'adminKick:ann:Mac',
  ]);
});

test('S28 a deleted account cannot be brought back by a ticket made before its deletion', () => {
  const t = setup();
  t.login('gone');
  t.tick(1000);
  const second = Math.floor(t.now() / 1000);
  assert.equal(t.engine.deleteAccount('gone', t.now()), true);
  const sink = { name: '', got: [], kicked: [] };
  assert.equal(
    codeOf(() => t.engine.login({ userID: 'gone', platform: 'Web', instanceId: 'x', sessionId: 'x', ticketTime: second, sink }, t.now())),
    ErrorCode.USERSIG_INVALIDATED,
  );
  assert.equal(t.engine.hasAccount('gone'), false);
  // Re-imported by the app's server, it still refuses the old tickets; a new ticket works.
  t.engine.importAccount('gone');
  assert.equal(
    codeOf(() => t.engine.login({ userID: 'gone', platform: 'Web', instanceId: 'y', sessionId: 'y', ticketTime: second, sink }, t.now())),
    ErrorCode.USERSIG_INVALIDATED,
  );
  t.engine.login({ userID: 'gone', platform: 'Web', instanceId: 'z', sessionId: 'z', ticketTime: second + 1, sink }, t.now());
  assert.equal(t.status('gone'), UserStatus.ONLINE);
});

test('S10 S22 opt-in announce window: one custom-status announcement per window, the last value wins, nothing lost', () => {
  const t = setup({ limits: { announceWindowSec: 1 } });
  const ann = t.login('ann');
  const bob = t.login('bob');
  t.engine.subscribe(bob.session, ['ann'], t.now());
  t.tick(1000); // the login's ONLINE announcement opened a window; let it end
  t.engine.setCustomStatus(ann.session, 'a1', t.now()); // first in a new window: announced at once
  t.engine.setCustomStatus(ann.session, 'a2', t.now());
  t.engine.setCustomStatus(ann.session, 'a3', t.now());
  assert.deepEqual(
    bob.sink.got.map((c) => c.customStatus),
    ['a1'],
  );
  assert.equal(t.engine.statusOf('ann')?.customStatus, 'a3', 'queries see the latest value at once');
  t.tick(999);
  t.engine.sweep(t.now());
  assert.deepEqual(
    bob.sink.got.map((c) => c.customStatus),
    ['a1'],
  );
  t.tick(1);
  t.engine.sweep(t.now());
  assert.deepEqual(
    bob.sink.got.map((c) => c.customStatus),
    ['a1', 'a3'],
  );
  // A general status change is announced at once, carrying the latest value; no stale value follows.
  t.engine.setCustomStatus(ann.session, 'a4', t.now());
  t.engine.disconnect(ann.session, 'close', t.now());
  t.tick(5000);
  t.engine.sweep(t.now());
  assert.deepEqual(
    bob.sink.got.map((c) => [c.statusType, c.customStatus]),
    [
      [UserStatus.ONLINE, 'a1'],
      [UserStatus.ONLINE, 'a3'],
      [UserStatus.OFFLINE, ''],
    ],
  );
});

test('S10 S22 by default every change is announced', () => {
  const t = setup();
  const ann = t.login('ann');
  const bob = t.login('bob');
  t.engine.subscribe(bob.session, ['ann'], t.now());
  for (const v of ['1', '2', '3']) t.engine.setCustomStatus(ann.session, v, t.now());
  assert.deepEqual(
    bob.sink.got.map((c) => c.customStatus),
    ['1', '2', '3'],
  );
});

test('S26 S4 single policy: a new login also ends the login state of a device that was lost', () => {
  const t = setup({ devices: { policy: 'single' } });
  const phone = t.login('ann', 'Android');
  t.engine.disconnect(phone.session, 'close', t.now());
  assert.equal(t.status('ann'), UserStatus.OFFLINE);
  const web = t.login('ann', 'Web');
  t.engine.logout(web.session, t.now());
  assert.equal(t.status('ann'), UserStatus.UNLOGINED, 'the lost phone no longer counts as logged in');
});

test('S26 multi policy: lost instances count toward the cap; the oldest go first', () => {
  const t = setup({ devices: { policy: 'multi', maxWeb: 2 } });
  const w1 = t.login('ann', 'Web', 'w1');
  t.engine.disconnect(w1.session, 'close', t.now()); // lost, still logged in
  const w2 = t.login('ann', 'Web', 'w2');
  const w3 = t.login('ann', 'Web', 'w3'); // third web instance: w1 (oldest, lost) is dropped, no kick
  assert.deepEqual([w2.sink.kicked, w3.sink.kicked], [[], []]);
  assert.deepEqual(
    t.engine.queryOnline('ann', true)?.Detail?.map((d) => d.Status),
    ['Online', 'Online'],
  );
  const w4 = t.login('ann', 'Web', 'w4'); // now w2 (oldest live) is kicked as another web instance
  assert.deepEqual(w2.sink.kicked, [KickType.MULT_ACCOUNT]);
  t.engine.logout(w3.session, t.now());
  t.engine.logout(w4.session, t.now());
  assert.equal(t.status('ann'), UserStatus.UNLOGINED);
});
