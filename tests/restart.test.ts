/**
 * Durability across restarts (issue: "Durable across restarts"): accounts and their login state,
 * friendships, subscriptions and their order. A user logged in when the server stopped is OFFLINE
 * after it, not UNLOGINED (S3, S4). Also after kill -9: what was acknowledged is kept.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { UserStatus } from '@presently/protocol';
import { APP, appConfig, startServer, type TestServer } from './helpers/server.js';
import { RawPeer } from './helpers/raw.js';
import { rest } from './helpers/rest.js';

const servers: TestServer[] = [];
after(async () => {
  for (const s of servers) await s.stop();
});

async function login(srv: TestServer, userID: string, platform = 'Web'): Promise<RawPeer> {
  const p = await RawPeer.connect(srv.ws);
  const r = await p.login(APP, userID, srv.sig(userID), platform);
  assert.equal(r.code, 0, JSON.stringify(r));
  return p;
}

for (const how of ['SIGTERM', 'kill -9'] as const) {
  test(`S3 S4 S16 state before and after a restart (${how}) is the same`, async () => {
    const first = await startServer({ apps: [appConfig({ limits: { maxSubscriptions: 3 } })] });
    const alice = await login(first, 'alice', 'Android');
    const bob = await login(first, 'bob');
    assert.equal((await bob.request('logout')).code, 0);
    for (const id of ['u1', 'u2', 'u3', 'u4']) {
      assert.equal((await rest(first, 'im_open_login_svc/account_import', { UserID: id })).ActionStatus, 'OK');
    }
    const added = await rest(first, 'sns/friend_add', { From_Account: 'alice', AddFriendItem: [{ To_Account: 'bob' }], AddType: 'Add_Type_Single' });
    assert.equal(added.ActionStatus, 'OK', JSON.stringify(added));
    assert.equal((await alice.request('subscribeUserStatus', { userIDList: ['u1', 'u2'] })).code, 0);
    assert.equal((await alice.request('subscribeUserStatus', { userIDList: ['u3', 'u4'] })).code, 0);

    // Every fact above was acknowledged; now the server goes away without a goodbye to anyone.
    await first.stop({ kill: how === 'kill -9', keepData: true });
    const second = await first.restart();
    servers.push(second);

    const online = await rest(second, 'openim/query_online_status', { To_Account: ['alice', 'bob', 'u1'] });
    assert.deepEqual(
      (online.QueryResult as Array<{ To_Account: string; Status: string }>).map((r) => [r.To_Account, r.Status]),
      [
        ['alice', 'PushOnline'],
        ['bob', 'Offline'],
        ['u1', 'Offline'],
      ],
    );
    const eve = await login(second, 'eve');
    const q = await eve.request('getUserStatus', { userIDList: ['alice', 'bob', 'u4'] });
    assert.deepEqual(
      (q.data as { successUserList: Array<{ userID: string; statusType: number }> }).successUserList.map((s) => [s.userID, s.statusType]),
      [
        ['alice', UserStatus.OFFLINE],
        ['bob', UserStatus.UNLOGINED],
        ['u4', UserStatus.UNLOGINED],
      ],
    );
    const friends = await rest(second, 'sns/friend_get', { From_Account: 'alice', StartIndex: 0 });
    assert.deepEqual(
      (friends.UserDataItem as Array<{ To_Account: string }>).map((f) => f.To_Account),
      ['bob'],
    );

    // Subscriptions and their order survived: u1 was evicted (cap 3), u2 is now the oldest.
    const alice2 = await login(second, 'alice', 'Android');
    const sync = await alice2.request('syncStatus');
    assert.deepEqual((sync.data as { userList: Array<{ userID: string }> }).userList.map((s) => s.userID).sort(), ['alice', 'bob', 'u2', 'u3', 'u4']);
    assert.equal((await alice2.request('subscribeUserStatus', { userIDList: ['u1'] })).code, 0);
    const after2 = await alice2.request('syncStatus');
    assert.deepEqual(
      (after2.data as { userList: Array<{ userID: string }> }).userList
        .map((s) => s.userID)
        .filter((id) => id.startsWith('u'))
        .sort(),
      ['u1', 'u3', 'u4'],
      'the oldest (u2) made room for u1',
    );
    alice.close();
    eve.close();
    alice2.close();
  });
}

test('S28 a deleted account stays deleted across a restart: its old tickets are refused with 70052', async () => {
  const first = await startServer();
  const oldSig = first.sig('doomed', { nowSec: Math.floor(Date.now() / 1000) - 1 });
  const doomed = await RawPeer.connect(first.ws);
  assert.equal((await doomed.login(APP, 'doomed', oldSig)).code, 0);
  const del = await rest(first, 'im_open_login_svc/account_delete', { DeleteItem: [{ UserID: 'doomed' }] });
  assert.equal(del.ActionStatus, 'OK', JSON.stringify(del));
  await first.stop({ keepData: true });
  const second = await first.restart();
  servers.push(second);
  const again = await RawPeer.connect(second.ws);
  assert.equal((await again.login(APP, 'doomed', oldSig)).code, 70052);
  const check = await rest(second, 'im_open_login_svc/account_check', { CheckItem: [{ UserID: 'doomed' }] });
  assert.equal((check.ResultItem as Array<{ AccountStatus: string }>)[0]?.AccountStatus, 'NotImported');
  again.close();
});
