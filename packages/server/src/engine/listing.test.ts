/** The console's reads of the engine: listUsers paging/search/filter, userDetail, the `announced` port. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { UserStatus, type UserStatusInfo } from '@presently/protocol';
import { AppEngine } from './engine.js';
import { normalizeApp } from '../config/settings.js';

interface Sink {
  got: UserStatusInfo[];
}

function setup(over: Record<string, unknown> = {}) {
  const settings = normalizeApp({ SDKAppID: 1400000001, secretKey: 'test-secret-key-0123456789', userStatus: { queryAndNotify: true }, ...over });
  const announced: UserStatusInfo[] = [];
  const engine = new AppEngine<Sink>(settings, {
    deliver: (sink, change) => sink.got.push(change.info),
    kick: () => undefined,
    persist: () => undefined,
    announced: (change) => announced.push(change.info),
  });
  let n = 0;
  const now = 1_000_000;
  const login = (userID: string, platform: 'Web' | 'iPhone' = 'Web') =>
    engine.login({ userID, platform, instanceId: `i${++n}`, sessionId: `s${n}`, ticketTime: 1000, sink: { got: [] } }, now);
  return { engine, announced, login, now };
}

const ids = (page: { users: Array<{ userID: string }> }) => page.users.map((u) => u.userID);

test('listUsers: userID order, pages continued with `after`, `next` empty at the end', () => {
  const t = setup();
  for (const id of ['carol', 'alice', 'bob', 'dave', 'al', 'alex']) t.engine.importAccount(id);
  const p1 = t.engine.listUsers({ limit: 4 });
  assert.deepEqual(ids(p1), ['al', 'alex', 'alice', 'bob']);
  assert.equal(p1.next, 'bob');
  const p2 = t.engine.listUsers({ limit: 4, after: p1.next });
  assert.deepEqual(ids(p2), ['carol', 'dave']);
  assert.equal(p2.next, '');
  // An account made or deleted after the index was built is seen by the next call.
  t.engine.importAccount('aaron');
  t.engine.deleteAccount('bob', t.now);
  assert.deepEqual(ids(t.engine.listUsers({ limit: 10 })), ['aaron', 'al', 'alex', 'alice', 'carol', 'dave']);
});

test('listUsers: prefix search, status filter, and the scan bound', () => {
  const t = setup();
  for (const id of ['alice', 'alex', 'al', 'bob', 'albert']) t.engine.importAccount(id);
  t.login('alex');
  assert.deepEqual(ids(t.engine.listUsers({ limit: 10, prefix: 'al' })), ['al', 'albert', 'alex', 'alice']);
  assert.deepEqual(ids(t.engine.listUsers({ limit: 2, prefix: 'ale' })), ['alex']);
  assert.deepEqual(ids(t.engine.listUsers({ limit: 10, prefix: 'zz' })), []);
  const page = t.engine.listUsers({ limit: 2, prefix: 'al' });
  assert.deepEqual(ids(page), ['al', 'albert']);
  assert.deepEqual(ids(t.engine.listUsers({ limit: 2, prefix: 'al', after: page.next })), ['alex', 'alice']);
  assert.deepEqual(ids(t.engine.listUsers({ limit: 10, status: UserStatus.ONLINE })), ['alex']);
  // With a filter, at most maxScan accounts are looked at: a short page and where to go on.
  const bounded = t.engine.listUsers({ limit: 10, status: UserStatus.ONLINE, maxScan: 2 });
  assert.deepEqual(ids(bounded), []);
  assert.equal(bounded.next, 'albert');
  assert.deepEqual(ids(t.engine.listUsers({ limit: 10, status: UserStatus.ONLINE, after: bounded.next, maxScan: 2 })), ['alex']);
});

test('userDetail: status, custom status and devices, live and kept', () => {
  const t = setup({ devices: { policy: 'multi' } });
  const web = t.login('ann');
  t.login('ann', 'iPhone');
  t.engine.setCustomStatus(web, 'coding', t.now);
  const d = t.engine.userDetail('ann')!;
  assert.equal(d.statusType, UserStatus.ONLINE);
  assert.equal(d.customStatus, 'coding');
  assert.deepEqual(
    d.devices.map((x) => [x.platform, x.online]).sort(),
    [
      ['Web', true],
      ['iPhone', true],
    ].sort(),
  );
  t.engine.disconnect(web, 'close', t.now + 1);
  assert.deepEqual(
    t.engine
      .userDetail('ann')!
      .devices.map((x) => [x.platform, x.online])
      .sort(),
    [
      ['Web', false],
      ['iPhone', true],
    ].sort(),
  );
  assert.equal(t.engine.userDetail('nobody'), undefined);
});

test('announced: every change once, whoever hears it and whatever the switches say', () => {
  const t = setup({ userStatus: { queryAndNotify: false } });
  const a = t.login('ann');
  t.login('bob');
  t.engine.setCustomStatus(a, 'hi', t.now);
  t.engine.logout(a, t.now);
  assert.deepEqual(t.announced, [
    { userID: 'ann', statusType: UserStatus.ONLINE, customStatus: '' },
    { userID: 'bob', statusType: UserStatus.ONLINE, customStatus: '' },
    { userID: 'ann', statusType: UserStatus.ONLINE, customStatus: 'hi' },
    { userID: 'ann', statusType: UserStatus.UNLOGINED, customStatus: '' },
  ]);
});
