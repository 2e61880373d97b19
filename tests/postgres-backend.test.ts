/**
 * DATABASE_URL switches durable data to PostgreSQL (cluster issue, item 1): the same schema and
 * query layer as SQLite, migrations at start. A fresh database per run; kill -9 and restart keep
 * every acknowledged fact (S3, S4, S16). Skips loudly without PostgreSQL, except under CI=true.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { UserStatus } from '@presently/protocol';
import { PG_URL, pgQuery, postgresSkip } from '../packages/server/src/testing/postgres.js';
import { APP, startServer, type TestServer } from './helpers/server.js';
import { RawPeer } from './helpers/raw.js';
import { rest } from './helpers/rest.js';

const skip = await postgresSkip('the PostgreSQL backend end-to-end test');
const dbName = `presently_e2e_${process.pid}_${Math.floor(Math.random() * 1e6)}`;
const servers: TestServer[] = [];

before(async () => {
  if (!skip) await pgQuery(`CREATE DATABASE ${dbName}`);
});
after(async () => {
  for (const s of servers) await s.stop();
  if (!skip) await pgQuery(`DROP DATABASE IF EXISTS ${dbName}`);
});

test('S3 S4 S16 with DATABASE_URL the durable facts live in PostgreSQL and survive kill -9', { skip }, async () => {
  const url = new URL(PG_URL);
  url.pathname = `/${dbName}`;
  const first = await startServer({ env: { DATABASE_URL: url.href } });
  const alice = await RawPeer.connect(first.ws);
  assert.equal((await alice.login(APP, 'alice', first.sig('alice'))).code, 0);
  const bob = await RawPeer.connect(first.ws);
  assert.equal((await bob.login(APP, 'bob', first.sig('bob'))).code, 0);
  assert.equal((await bob.request('logout')).code, 0);
  assert.equal((await rest(first, 'im_open_login_svc/account_import', { UserID: 'carol' })).ActionStatus, 'OK');
  assert.equal((await rest(first, 'sns/friend_add', { From_Account: 'alice', AddFriendItem: [{ To_Account: 'carol' }], AddType: 'Add_Type_Single' })).ActionStatus, 'OK');
  assert.equal((await alice.request('subscribeUserStatus', { userIDList: ['bob'] })).code, 0);

  // The rows are in PostgreSQL, not in a SQLite file.
  const c = new pg.Client({ connectionString: url.href });
  await c.connect();
  const rows = await c.query('SELECT user_id FROM accounts WHERE app = $1 ORDER BY user_id', [APP]);
  await c.end();
  assert.deepEqual(
    rows.rows.map((r: { user_id: string }) => r.user_id),
    ['alice', 'bob', 'carol'],
  );

  await first.stop({ kill: true, keepData: true });
  const second = await first.restart();
  servers.push(second);
  const eve = await RawPeer.connect(second.ws);
  assert.equal((await eve.login(APP, 'eve', second.sig('eve'))).code, 0);
  const q = await eve.request('getUserStatus', { userIDList: ['alice', 'bob', 'carol'] });
  assert.deepEqual(
    (q.data as { successUserList: Array<{ statusType: number }> }).successUserList.map((s) => s.statusType),
    [UserStatus.OFFLINE, UserStatus.UNLOGINED, UserStatus.UNLOGINED],
  );
  const alice2 = await RawPeer.connect(second.ws);
  assert.equal((await alice2.login(APP, 'alice', second.sig('alice'))).code, 0);
  const sync = await alice2.request('syncStatus');
  assert.deepEqual((sync.data as { userList: Array<{ userID: string }> }).userList.map((u) => u.userID).sort(), ['alice', 'bob', 'carol']);
  for (const p of [alice, eve, alice2]) p.close();
});
