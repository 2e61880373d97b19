/**
 * The versioned migrations (migrations/index.ts) on SQLite and PostgreSQL: an empty database is
 * migrated to the latest version; a database made by the schema of the versions before migrations
 * (its DDL copied below as fixtures, as those versions issued it) is adopted and upgraded without
 * losing a row, and ends with exactly the schema a new database gets; two migrators started
 * together on one PostgreSQL database are serialised by the migrator's lock. PostgreSQL cases
 * skip loudly without it, except under CI=true where they must run.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import pg from 'pg';
import { Kysely, PostgresDialect, SqliteDialect, sql } from 'kysely';
import { MIGRATIONS, MIGRATION_TABLE, currentSchemaOnly, migrateToLatest, transactionalDdl } from './migrations/index.js';
import { openPostgres, openSqlite } from './sql.js';
import { SqlAppSettingsStore } from './app-settings.js';
import { SqlOutbox } from '../webhooks/outbox.js';
import { PG_URL, dropSchema, freshSchema, pgQuery, postgresSkip } from '../testing/postgres.js';

const APP = 1400000001;
const ALL = MIGRATIONS.map((m) => m.name);

// ---- fixtures: the schema before versioned migrations, as those versions created it ----------------

/** Every table as the last version before migrations made it (SQLite's text of each statement). */
const OLD_TABLES = [
  `CREATE TABLE "accounts" ("app" bigint not null, "user_id" text not null, "login_keys" text default '[]' not null, "kicked_at" bigint default 0 not null, "offline_since" bigint default 0 not null, "nick" text default '' not null, "face_url" text default '' not null, "version" bigint default 0 not null, constraint "accounts_pk" primary key ("app", "user_id"))`,
  `CREATE TABLE "friends" ("app" bigint not null, "from_id" text not null, "to_id" text not null, "remark" text default '' not null, "groups" text default '[]' not null, "add_source" text default '' not null, "add_time" bigint default 0 not null, constraint "friends_pk" primary key ("app", "from_id", "to_id"))`,
  `CREATE TABLE "subscriptions" ("app" bigint not null, "user_id" text not null, "target" text not null, "seq" bigint not null, constraint "subscriptions_pk" primary key ("app", "user_id", "target"))`,
  `CREATE TABLE "account_tombstones" ("app" bigint not null, "user_id" text not null, "deleted_at" bigint not null, constraint "account_tombstones_pk" primary key ("app", "user_id"))`,
  `CREATE TABLE "presently_meta" ("key" text primary key, "value" text not null)`,
  `CREATE TABLE "webhook_outbox" ("id" text primary key, "seq" bigint not null, "app" bigint not null, "user_id" text not null, "query" text not null, "body" text not null, "status" text default 'pending' not null, "attempts" integer default 0 not null, "next_at" bigint default 0 not null, "last_error" text default '' not null, "created_at" bigint not null, "updated_at" bigint not null)`,
  `CREATE INDEX "webhook_outbox_status_seq" on "webhook_outbox" ("status", "seq")`,
  `CREATE TABLE "app_settings" ("app" bigint primary key, "json" text not null, "updated_at" bigint not null)`,
];
/** PostgreSQL had the outbox's sequence besides. */
const OLD_PG_EXTRA = ['CREATE SEQUENCE webhook_outbox_seq'];
/** An older store still: accounts before `version`, and neither the outbox nor the app settings. */
const OLDER_TABLES = [
  `CREATE TABLE "accounts" ("app" bigint not null, "user_id" text not null, "login_keys" text default '[]' not null, "kicked_at" bigint default 0 not null, "offline_since" bigint default 0 not null, "nick" text default '' not null, "face_url" text default '' not null, constraint "accounts_pk" primary key ("app", "user_id"))`,
  ...OLD_TABLES.slice(1, 5),
];

/** Rows of every table, as an old server left them. */
const OLD_ROWS = [
  `INSERT INTO accounts (app, user_id, login_keys, kicked_at, offline_since, nick, face_url) VALUES (${APP}, 'ann', '["Web"]', 5, 0, 'Ann', 'f'), (${APP}, 'bob', '[]', 0, 1700000000000, '', '')`,
  `INSERT INTO friends VALUES (${APP}, 'ann', 'bob', 'r', '["g"]', 'AddSource_Type_X', 7)`,
  `INSERT INTO subscriptions VALUES (${APP}, 'ann', 'u2', 2), (${APP}, 'ann', 'u1', 1)`,
  `INSERT INTO account_tombstones VALUES (${APP}, 'gone', 99)`,
  `INSERT INTO presently_meta VALUES ('dev-app', '{"k":1}')`,
];
const OLD_OUTBOX_ROWS = [
  `INSERT INTO webhook_outbox (id, seq, app, user_id, query, body, status, attempts, next_at, last_error, created_at, updated_at) VALUES ('e41', 41, ${APP}, 'ann', 'q', '{}', 'pending', 0, 0, '', 1, 1), ('e40', 40, ${APP}, 'ann', 'q', '{}', 'dead', 8, 0, 'HTTP 500', 1, 2)`,
  `INSERT INTO app_settings VALUES (${APP}, '{"edition":"basic"}', 3)`,
];

const cleanups: Array<() => Promise<void>> = [];
after(async () => {
  for (const c of cleanups.reverse()) await c();
});

function tempFile(): string {
  const dir = mkdtempSync(join(tmpdir(), 'presently-migrations-'));
  cleanups.push(async () => rmSync(dir, { recursive: true, force: true }));
  return join(dir, 'presently.db');
}

/** A database's tables, indexes and their definitions, leaving out the migrator's own. */
function sqliteSchema(file: string): unknown[] {
  const db = new Database(file, { readonly: true });
  try {
    return db.prepare(`SELECT type, name, tbl_name, sql FROM sqlite_master WHERE tbl_name NOT LIKE '${MIGRATION_TABLE}%' ORDER BY type, name`).all();
  } finally {
    db.close();
  }
}

/** The one table these tests read through Kysely: the migrator's record of what it applied. */
interface MigrationTables {
  [MIGRATION_TABLE]: { name: string; timestamp: string };
}

function sqliteKysely(file: string): Kysely<MigrationTables> {
  return new Kysely<MigrationTables>({ dialect: transactionalDdl(new SqliteDialect({ database: new Database(file) })) });
}

/** What an old server's account snapshot holds, for comparison after the upgrade. */
async function assertOldRowsKept(store: Awaited<ReturnType<typeof openSqlite>>): Promise<void> {
  const snap = await store.loadApp(APP);
  assert.deepEqual(
    snap.accounts.sort((a, b) => a.userID.localeCompare(b.userID)),
    [
      { userID: 'ann', loginKeys: ['Web'], kickedAt: 5, offlineSince: 0, nick: 'Ann', faceUrl: 'f' },
      { userID: 'bob', loginKeys: [], kickedAt: 0, offlineSince: 1700000000000, nick: '', faceUrl: '' },
    ],
  );
  assert.deepEqual(snap.friends, [{ from: 'ann', to: 'bob', remark: 'r', groups: ['g'], addSource: 'AddSource_Type_X', addTime: 7 }]);
  assert.deepEqual(
    snap.subscriptions.map((s) => [s.target, s.seq]),
    [
      ['u1', 1],
      ['u2', 2],
    ],
  );
  assert.deepEqual(snap.tombstones, [{ userID: 'gone', deletedAt: 99 }]);
  assert.equal(await store.getMeta('dev-app'), '{"k":1}');
  // The upgraded store still writes: a versioned account write lands over an old row.
  store.persist({ t: 'account', app: APP, userID: 'bob', loginKeys: ['Android'], kickedAt: 0, offlineSince: 0, v: 3 });
  await store.flush();
  assert.deepEqual((await store.loadApp(APP)).accounts.find((a) => a.userID === 'bob')?.loginKeys, ['Android']);
}

describe('migrations: SQLite', () => {
  test('an empty database file is migrated to the latest version; a second run has nothing to do', async () => {
    const file = tempFile();
    new Database(file).close(); // an empty SQLite file
    const db = sqliteKysely(file);
    assert.deepEqual(await migrateToLatest(db), ALL);
    assert.deepEqual(await migrateToLatest(db), []);
    const applied = await db.selectFrom(MIGRATION_TABLE).select('name').orderBy('name').execute();
    assert.deepEqual(
      applied.map((r) => r.name),
      ALL,
    );
    await db.destroy();

    // Migration 0001 alone is the old schema, statement for statement.
    const old = tempFile();
    const o = new Database(old);
    for (const ddl of OLD_TABLES) o.exec(ddl);
    o.close();
    assert.deepEqual(sqliteSchema(file), sqliteSchema(old));
  });

  test('a new data directory gets the latest schema through openSqlite, made whole before it has its name', async () => {
    const file = tempFile();
    const store = await openSqlite(file);
    const applied = await store.db.withTables<{ [MIGRATION_TABLE]: { name: string } }>().selectFrom(MIGRATION_TABLE).select('name').orderBy('name').execute();
    assert.deepEqual(
      applied.map((r) => r.name),
      ALL,
    );
    await store.close();
    const old = tempFile();
    const o = new Database(old);
    for (const ddl of OLD_TABLES) o.exec(ddl);
    o.close();
    assert.deepEqual(sqliteSchema(file), sqliteSchema(old));
  });

  test('a database made by the schema before migrations is adopted and upgraded in place; no row is lost', async () => {
    const file = tempFile();
    const o = new Database(file);
    o.pragma('journal_mode = WAL');
    for (const stmt of [...OLD_TABLES, ...OLD_ROWS, ...OLD_OUTBOX_ROWS]) o.exec(stmt);
    o.close();
    const fresh = tempFile();
    await (await openSqlite(fresh)).close();

    const store = await openSqlite(file);
    const applied = await store.db.withTables<{ [MIGRATION_TABLE]: { name: string } }>().selectFrom(MIGRATION_TABLE).select('name').orderBy('name').execute();
    assert.deepEqual(
      applied.map((r) => r.name),
      ALL,
      'every migration is recorded as applied',
    );
    await assertOldRowsKept(store);
    const outbox = new SqlOutbox(store);
    assert.equal(await outbox.maxSeq(), 41);
    assert.deepEqual(
      (await outbox.loadPending(0, 10)).map((r) => r.id),
      ['e41'],
    );
    assert.equal((await outbox.deadLetters({ limit: 10 }))[0]?.lastError, 'HTTP 500');
    assert.deepEqual(await new SqlAppSettingsStore(store.db).load(APP), { overrides: { edition: 'basic' }, updatedAt: 3 });
    await store.close();
    assert.deepEqual(sqliteSchema(file), sqliteSchema(fresh), 'the upgraded database has the schema of a new one');
  });

  test('an older database (accounts before their version column, no outbox, no settings table) gets what it lacks', async () => {
    const file = tempFile();
    const o = new Database(file);
    for (const stmt of [...OLDER_TABLES, ...OLD_ROWS]) o.exec(stmt);
    o.close();
    const store = await openSqlite(file);
    await assertOldRowsKept(store);
    const cols = await sql<{
      name: string;
      dflt_value: string;
      notnull: number;
    }>`SELECT name, dflt_value, "notnull" FROM pragma_table_info('accounts') WHERE name = 'version'`.execute(store.db);
    assert.deepEqual(cols.rows, [{ name: 'version', dflt_value: '0', notnull: 1 }]);
    assert.equal(await new SqlOutbox(store).count('pending'), 0, 'the outbox table exists');
    await store.close();
  });

  test('a database migrated by a newer version is refused, naming the unknown migration', async () => {
    const file = tempFile();
    await (await openSqlite(file)).close();
    const db = new Database(file);
    db.prepare(`INSERT INTO ${MIGRATION_TABLE} (name, timestamp) VALUES ('9999_from_the_future', ?)`).run(new Date().toISOString());
    db.close();
    await assert.rejects(openSqlite(file), (err: Error) => {
      assert.equal(err.name, 'StoreOpenError');
      assert.match(err.message, /presently\.db: the database was migrated by a newer version of Presently \(migration 9999_from_the_future is unknown/);
      assert.doesNotMatch(err.message, /\n/);
      return true;
    });
  });
});

// ---- PostgreSQL -------------------------------------------------------------------------------

/** Kysely's PostgreSQL advisory lock id for migrations (kysely/dist/esm/dialect/postgres/postgres-adapter.js). */
const KYSELY_MIGRATION_LOCK = '3853314791062309107';

function pgKysely(schema: string): Kysely<MigrationTables> {
  const pool = new pg.Pool({ connectionString: PG_URL, options: `-c search_path=${schema}`, max: 2 });
  return new Kysely<MigrationTables>({ dialect: currentSchemaOnly(new PostgresDialect({ pool })) });
}

async function pgClient(schema?: string): Promise<pg.Client> {
  const c = new pg.Client({ connectionString: PG_URL, ...(schema ? { options: `-c search_path=${schema}` } : {}) });
  await c.connect();
  return c;
}

/** The tables, columns, constraints, indexes and sequences of a schema (the migrator's left out). */
async function pgSchema(schema: string): Promise<unknown> {
  const c = await pgClient();
  try {
    const q = async <R extends Record<string, unknown> = Record<string, unknown>>(text: string) => (await c.query<R>(text, [schema])).rows;
    return {
      columns: await q(`SELECT table_name, column_name, ordinal_position, data_type, is_nullable, column_default
        FROM information_schema.columns WHERE table_schema = $1 AND table_name NOT LIKE '${MIGRATION_TABLE}%' ORDER BY table_name, ordinal_position`),
      constraints: await q(`SELECT cl.relname AS table, co.conname, co.contype, pg_get_constraintdef(co.oid) AS def
        FROM pg_constraint co JOIN pg_class cl ON cl.oid = co.conrelid JOIN pg_namespace ns ON ns.oid = cl.relnamespace
        WHERE ns.nspname = $1 AND cl.relname NOT LIKE '${MIGRATION_TABLE}%' ORDER BY 1, 2`),
      indexes: (
        await q<{ indexdef: string }>(`SELECT tablename, indexname, indexdef FROM pg_indexes WHERE schemaname = $1 AND tablename NOT LIKE '${MIGRATION_TABLE}%' ORDER BY 1, 2`)
      ).map((r) => ({ ...r, indexdef: r.indexdef.replace(`${schema}.`, 'SCHEMA.') })),
      sequences: await q(`SELECT sequence_name, data_type, start_value, increment FROM information_schema.sequences WHERE sequence_schema = $1 ORDER BY 1`),
    };
  } finally {
    await c.end();
  }
}

/** A schema made by the DDL of the versions before migrations (and, optionally, their rows). */
async function oldPgSchema(statements: string[]): Promise<string> {
  const schema = freshSchema('presently_mig');
  cleanups.push(() => dropSchema(schema));
  await pgQuery(`CREATE SCHEMA ${schema}`);
  const c = await pgClient(schema);
  try {
    for (const s of statements) await c.query(s);
  } finally {
    await c.end();
  }
  return schema;
}

describe('migrations: PostgreSQL', async () => {
  const skip = await postgresSkip('the PostgreSQL migration tests');

  test('an empty schema is migrated to the latest version; 0001 alone is the old schema exactly', { skip }, async () => {
    const schema = freshSchema('presently_mig');
    cleanups.push(() => dropSchema(schema));
    await pgQuery(`CREATE SCHEMA ${schema}`);
    const db = pgKysely(schema);
    try {
      assert.deepEqual(await migrateToLatest(db), ALL);
      assert.deepEqual(await migrateToLatest(db), []);
      const applied = await db.selectFrom(MIGRATION_TABLE).select('name').orderBy('name').execute();
      assert.deepEqual(
        applied.map((r) => r.name),
        ALL,
      );
    } finally {
      await db.destroy();
    }
    const old = await oldPgSchema([...OLD_TABLES, ...OLD_PG_EXTRA]);
    assert.deepEqual(await pgSchema(schema), await pgSchema(old));
  });

  test('a schema made before migrations is adopted and upgraded in place; no row is lost; the outbox seq continues above its rows', { skip }, async () => {
    // The outbox of an older version still: rows, no sequence.
    const schema = await oldPgSchema([...OLD_TABLES, ...OLD_ROWS, ...OLD_OUTBOX_ROWS]);
    const store = await openPostgres(PG_URL, { schema });
    cleanups.push(() => store.close());
    const applied = await store.db.withTables<{ [MIGRATION_TABLE]: { name: string } }>().selectFrom(MIGRATION_TABLE).select('name').orderBy('name').execute();
    assert.deepEqual(
      applied.map((r) => r.name),
      ALL,
    );
    const snap = await store.loadApp(APP);
    assert.deepEqual(snap.accounts.map((a) => [a.userID, a.loginKeys, a.kickedAt, a.offlineSince]).sort(), [
      ['ann', ['Web'], 5, 0],
      ['bob', [], 0, 1700000000000],
    ]);
    assert.deepEqual(
      snap.friends.map((f) => [f.from, f.to, f.groups]),
      [['ann', 'bob', ['g']]],
    );
    assert.deepEqual(
      snap.subscriptions.map((s) => s.target),
      ['u1', 'u2'],
    );
    assert.deepEqual(snap.tombstones, [{ userID: 'gone', deletedAt: 99 }]);
    assert.equal(await store.getMeta('dev-app'), '{"k":1}');
    assert.deepEqual(await new SqlAppSettingsStore(store.db).load(APP), { overrides: { edition: 'basic' }, updatedAt: 3 });
    const outbox = new SqlOutbox(store);
    const row = { id: 'new', seq: 0, app: APP, userID: 'ann', query: 'q', body: '{}', attempts: 0, nextAt: 0, createdAt: 5 };
    await outbox.write([{ t: 'insert', row }]);
    assert.ok(row.seq > 41, `the new row's seq ${row.seq} is above the rows stored before the sequence`);
    assert.deepEqual(
      (await outbox.loadPending(0, 10)).map((r) => r.id),
      ['e41', 'new'],
    );

    // The upgraded schema is the schema a new database gets.
    const fresh = freshSchema('presently_mig');
    cleanups.push(() => dropSchema(fresh));
    await (await openPostgres(PG_URL, { schema: fresh })).close();
    assert.deepEqual(await pgSchema(schema), await pgSchema(fresh));
  });

  test('an older schema (accounts before their version column) gets the column; its rows get version 0', { skip }, async () => {
    const schema = await oldPgSchema([...OLDER_TABLES, ...OLD_ROWS]);
    const store = await openPostgres(PG_URL, { schema });
    cleanups.push(() => store.close());
    const rows = await sql<{ user_id: string; version: string }>`SELECT user_id, version::text FROM accounts ORDER BY user_id`.execute(store.db);
    assert.deepEqual(rows.rows, [
      { user_id: 'ann', version: '0' },
      { user_id: 'bob', version: '0' },
    ]);
    assert.equal(await new SqlOutbox(store).count('pending'), 0, 'the outbox table exists');
  });

  test('migrators wait for the migration lock: two started together on one database apply each migration once', { skip }, async () => {
    const schema = freshSchema('presently_mig');
    cleanups.push(() => dropSchema(schema));
    await pgQuery(`CREATE SCHEMA ${schema}`);
    const a = pgKysely(schema);
    const b = pgKysely(schema);
    const holder = await pgClient();
    try {
      // Someone holds the migrator's lock: neither may migrate until it is let go.
      await holder.query(`SELECT pg_advisory_lock(${KYSELY_MIGRATION_LOCK})`);
      const runs = [migrateToLatest(a), migrateToLatest(b)];
      let settled = 0;
      for (const r of runs)
        void r.then(
          () => settled++,
          () => settled++,
        );
      // Both are waiting for the lock (PostgreSQL shows their ungranted requests).
      for (;;) {
        const { rows } = await holder.query<{ n: number }>(
          `SELECT count(*)::int AS n FROM pg_locks WHERE locktype = 'advisory' AND NOT granted AND ((classid::bigint << 32) | objid::bigint) = ${KYSELY_MIGRATION_LOCK}`,
        );
        if (rows[0]?.n === 2) break;
        await new Promise((resolve) => setImmediate(resolve));
      }
      assert.equal(settled, 0, 'no migrator got past the lock');
      await holder.query(`SELECT pg_advisory_unlock(${KYSELY_MIGRATION_LOCK})`);
      const results = await Promise.all(runs);
      // One after the other: the first applies every migration, the second finds nothing to do.
      assert.deepEqual(results.map((r) => r.length).sort(), [0, ALL.length]);
      assert.deepEqual(results.flat(), ALL);
      const applied = await a.selectFrom(MIGRATION_TABLE).select('name').orderBy('name').execute();
      assert.deepEqual(
        applied.map((r) => r.name),
        ALL,
        'each migration recorded once',
      );
    } finally {
      await holder.end();
      await a.destroy();
      await b.destroy();
    }
    // And whole stores started together (a cluster's nodes) on that database.
    const stores = await Promise.all([openPostgres(PG_URL, { schema }), openPostgres(PG_URL, { schema })]);
    for (const s of stores) await s.close();
  });
});
