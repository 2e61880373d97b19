/**
 * One contract for every durable store (design.md "Stores"): SQLite (embedded default) and
 * PostgreSQL (cluster). PostgreSQL runs at 127.0.0.1:5432 here; without it these cases skip
 * loudly, except under CI=true where they must run.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openPostgres, openSqlite, type SqlStore } from './sql.js';
import type { Mutation } from '../engine/types.js';
import { PG_URL, dropSchema, freshSchema, postgresSkip } from '../testing/postgres.js';

interface Backend {
  name: string;
  open(): Promise<{ store: SqlStore; reopen(): Promise<SqlStore>; drop: () => Promise<void> }>;
}

const backends: Backend[] = [
  {
    name: 'sqlite',
    async open() {
      const dir = mkdtempSync(join(tmpdir(), 'presently-store-'));
      const file = join(dir, 'p.db');
      return { store: await openSqlite(file), reopen: () => openSqlite(file), drop: async () => rmSync(dir, { recursive: true, force: true }) };
    },
  },
  {
    name: 'sqlite (Kysely writer)',
    async open() {
      const dir = mkdtempSync(join(tmpdir(), 'presently-store-'));
      const file = join(dir, 'p.db');
      const open = () => openSqlite(file, { writer: 'kysely' });
      return { store: await open(), reopen: open, drop: async () => rmSync(dir, { recursive: true, force: true }) };
    },
  },
  {
    name: 'postgres',
    async open() {
      const schema = freshSchema('presently_test');
      return {
        store: await openPostgres(PG_URL, { schema }),
        reopen: () => openPostgres(PG_URL, { schema }),
        drop: () => dropSchema(schema),
      };
    },
  },
];

const pgSkip = await postgresSkip('the PostgreSQL store contract');

for (const b of backends) {
  const skip = b.name === 'postgres' ? pgSkip : false;
  describe(`store contract: ${b.name}`, { skip }, () => {
    const cleanups: Array<() => Promise<void>> = [];
    after(async () => {
      for (const c of cleanups) await c();
    });

    test('S3 S4 S16 durable facts round-trip: accounts with login state, friends, subscriptions in order, tombstones', async () => {
      const h = await b.open();
      cleanups.push(h.drop);
      const s = h.store;
      const app = 1400000001;
      const ms: Mutation[] = [
        { t: 'account', app, userID: 'ann', loginKeys: ['Web', 'Android'], kickedAt: 5, offlineSince: 0, nick: 'Ann', faceUrl: '' },
        { t: 'account', app, userID: 'bob', loginKeys: [], kickedAt: 0, offlineSince: 1700000000000 },
        { t: 'account', app, userID: 'ann', loginKeys: ['Android'], kickedAt: 6, offlineSince: 0, nick: 'Ann', faceUrl: 'f' },
        { t: 'account', app: app + 1, userID: 'ann', loginKeys: ['Web'], kickedAt: 0, offlineSince: 0 },
        { t: 'friendAdd', app, from: 'ann', to: 'bob', remark: 'r', groups: ['g1', 'g2'], addSource: 'AddSource_Type_X', addTime: 7 },
        { t: 'friendAdd', app, from: 'bob', to: 'ann', remark: '', groups: [], addSource: '', addTime: 8 },
        { t: 'friendRemove', app, from: 'bob', to: 'ann' },
        { t: 'subAdd', app, userID: 'ann', target: 'u3', seq: 3 },
        { t: 'subAdd', app, userID: 'ann', target: 'u1', seq: 1 },
        { t: 'subAdd', app, userID: 'ann', target: 'u2', seq: 2 },
        { t: 'subRemove', app, userID: 'ann', target: 'u2' },
        { t: 'subAdd', app, userID: 'ann', target: 'u2', seq: 4 },
        { t: 'account', app, userID: 'gone', loginKeys: [], kickedAt: 0, offlineSince: 0 },
        { t: 'accountDelete', app, userID: 'gone', deletedAt: 99 },
      ];
      for (const m of ms) s.persist(m);
      await s.flush();
      await s.close();
      const again = await h.reopen();
      const snap = await again.loadApp(app);
      const byId = new Map(snap.accounts.map((a) => [a.userID, a]));
      assert.deepEqual([...byId.keys()].sort(), ['ann', 'bob']);
      assert.deepEqual(byId.get('ann'), { userID: 'ann', loginKeys: ['Android'], kickedAt: 6, offlineSince: 0, nick: 'Ann', faceUrl: 'f' });
      assert.equal(byId.get('bob')?.offlineSince, 1700000000000);
      assert.deepEqual(snap.friends, [{ from: 'ann', to: 'bob', remark: 'r', groups: ['g1', 'g2'], addSource: 'AddSource_Type_X', addTime: 7 }]);
      assert.deepEqual(
        snap.subscriptions.map((x) => x.target),
        ['u1', 'u3', 'u2'],
        'subscription order is kept',
      );
      assert.deepEqual(snap.tombstones, [{ userID: 'gone', deletedAt: 99 }]);
      const other = await again.loadApp(app + 1);
      assert.deepEqual(
        other.accounts.map((a) => a.loginKeys),
        [['Web']],
        'apps never mix',
      );
      await again.close();
    });

    test('migrations are idempotent, meta values are kept, flush with nothing queued resolves', async () => {
      const h = await b.open();
      cleanups.push(h.drop);
      await h.store.migrate();
      await h.store.setMeta('k', 'v1');
      await h.store.setMeta('k', 'v2');
      assert.equal(await h.store.getMeta('k'), 'v2');
      assert.equal(await h.store.getMeta('absent'), undefined);
      await h.store.flush();
      await h.store.close();
    });

    test('writes queued across many turns are all committed, in order (group commit)', async () => {
      const h = await b.open();
      cleanups.push(h.drop);
      const app = 7;
      const flushes: Promise<void>[] = [];
      for (let i = 0; i < 300; i++) {
        h.store.persist({ t: 'account', app, userID: 'ann', loginKeys: [`k${i}`], kickedAt: i, offlineSince: 0 });
        if (i % 7 === 0) {
          flushes.push(h.store.flush());
          await new Promise((r) => setImmediate(r));
        }
      }
      await Promise.all(flushes);
      await h.store.flush();
      const snap = await h.store.loadApp(app);
      assert.deepEqual(snap.accounts[0]?.loginKeys, ['k299'], 'the last write wins');
      await h.store.close();
    });

    test('one batch with many writes of the same rows ends as if they were applied one by one, in order', async () => {
      const h = await b.open();
      cleanups.push(h.drop);
      const s = h.store;
      const app = 9;
      // Rows already stored before the batch.
      s.persist({ t: 'friendAdd', app, from: 'e', to: 'f', remark: '', groups: [], addSource: '', addTime: 1 });
      s.persist({ t: 'account', app, userID: 'ver2', loginKeys: ['Web'], kickedAt: 0, offlineSince: 0, v: 30 });
      await s.flush();
      const ms: Mutation[] = [];
      // More rows of one kind than one multi-row statement takes.
      for (let i = 0; i < 1200; i++) ms.push({ t: 'subAdd', app, userID: 'big', target: `t${String(i).padStart(4, '0')}`, seq: i });
      for (let i = 0; i < 600; i++) ms.push({ t: 'account', app, userID: `a${i}`, loginKeys: [`k${i}`], kickedAt: 0, offlineSince: 0 });
      ms.push(
        { t: 'subRemove', app, userID: 'big', target: 't0005' },
        { t: 'subRemove', app, userID: 'big', target: 'x' },
        { t: 'subAdd', app, userID: 'big', target: 'x', seq: 5000 },
        { t: 'subAdd', app, userID: 'big', target: 'y', seq: 5001 },
        { t: 'subRemove', app, userID: 'big', target: 'y' },
        { t: 'friendAdd', app, from: 'a', to: 'b', remark: 'r1', groups: ['g'], addSource: 's1', addTime: 2 },
        { t: 'friendAdd', app, from: 'a', to: 'b', remark: 'r2', groups: [], addSource: 's2', addTime: 3 },
        { t: 'friendRemove', app, from: 'c', to: 'd' },
        { t: 'friendAdd', app, from: 'c', to: 'd', remark: '', groups: [], addSource: '', addTime: 4 },
        { t: 'friendRemove', app, from: 'e', to: 'f' },
        // Versions: the latest entry wins within the batch and against the stored row.
        { t: 'account', app, userID: 'ver', loginKeys: ['iPhone'], kickedAt: 0, offlineSince: 0, v: 20 },
        { t: 'account', app, userID: 'ver', loginKeys: ['Web'], kickedAt: 0, offlineSince: 0, v: 10 },
        { t: 'account', app, userID: 'ver2', loginKeys: ['Android'], kickedAt: 0, offlineSince: 0, v: 25 },
        // Deleted and made again in the same batch; deleted for good.
        { t: 'account', app, userID: 'reborn', loginKeys: ['Web'], kickedAt: 0, offlineSince: 0, v: 5 },
        { t: 'accountDelete', app, userID: 'reborn', deletedAt: 50 },
        { t: 'account', app, userID: 'reborn', loginKeys: ['Mac'], kickedAt: 0, offlineSince: 0, v: 6 },
        { t: 'account', app, userID: 'gone', loginKeys: ['Web'], kickedAt: 0, offlineSince: 0 },
        { t: 'accountDelete', app, userID: 'gone', deletedAt: 51 },
        // The same ids in another app are other rows.
        { t: 'account', app: app + 1, userID: 'ver', loginKeys: ['Linux'], kickedAt: 0, offlineSince: 0, v: 1 },
        { t: 'subAdd', app: app + 1, userID: 'big', target: 'y', seq: 1 },
      );
      for (const m of ms) s.persist(m);
      await s.flush();
      const snap = await s.loadApp(app);
      const keys = new Map(snap.accounts.map((a) => [a.userID, a.loginKeys]));
      assert.equal(snap.accounts.length, 600 + 3);
      assert.deepEqual(keys.get('a599'), ['k599']);
      assert.deepEqual(keys.get('ver'), ['iPhone'], 'the latest entry of the batch');
      assert.deepEqual(keys.get('ver2'), ['Web'], 'the stored row is from a later entry');
      assert.deepEqual(keys.get('reborn'), ['Mac'], 'made again after its deletion');
      assert.equal(keys.has('gone'), false);
      assert.deepEqual(
        [...(snap.tombstones ?? [])].sort((x, y) => x.userID.localeCompare(y.userID)),
        [
          { userID: 'gone', deletedAt: 51 },
          { userID: 'reborn', deletedAt: 50 },
        ],
      );
      const expected = Array.from({ length: 1200 }, (_, i) => `t${String(i).padStart(4, '0')}`).filter((t) => t !== 't0005');
      assert.deepEqual(
        snap.subscriptions.map((x) => x.target),
        [...expected, 'x'],
      );
      assert.deepEqual(snap.friends.map((f) => [f.from, f.to, f.remark, f.addSource]).sort(), [
        ['a', 'b', 'r2', 's2'],
        ['c', 'd', '', ''],
      ]);
      const other = await s.loadApp(app + 1);
      assert.deepEqual(
        other.accounts.map((a) => [a.userID, a.loginKeys]),
        [['ver', ['Linux']]],
      );
      assert.deepEqual(
        other.subscriptions.map((x) => [x.userID, x.target]),
        [['big', 'y']],
      );
      await s.close();
    });

    test('S3 an account write from an earlier cluster log entry never overwrites a later one', async () => {
      const h = await b.open();
      cleanups.push(h.drop);
      const app = 8;
      // Two nodes' commits landing out of log order: entry 20's row, then entry 10's.
      h.store.persist({ t: 'account', app, userID: 'ann', loginKeys: ['Web', 'iPhone'], kickedAt: 0, offlineSince: 0, v: 20 });
      await h.store.flush();
      h.store.persist({ t: 'account', app, userID: 'ann', loginKeys: ['Web'], kickedAt: 0, offlineSince: 0, v: 10 });
      h.store.persist({ t: 'account', app, userID: 'bob', loginKeys: ['Web'], kickedAt: 0, offlineSince: 0, v: 10 });
      await h.store.flush();
      let snap = await h.store.loadApp(app);
      assert.deepEqual(snap.accounts.find((a) => a.userID === 'ann')?.loginKeys, ['Web', 'iPhone'], 'the later entry stays');
      assert.deepEqual(snap.accounts.find((a) => a.userID === 'bob')?.loginKeys, ['Web']);
      h.store.persist({ t: 'account', app, userID: 'ann', loginKeys: ['iPhone'], kickedAt: 0, offlineSince: 0, v: 21 });
      await h.store.flush();
      snap = await h.store.loadApp(app);
      assert.deepEqual(snap.accounts.find((a) => a.userID === 'ann')?.loginKeys, ['iPhone'], 'a later entry wins');
      await h.store.close();
    });
  });
}
