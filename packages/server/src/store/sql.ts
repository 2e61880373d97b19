/**
 * The SQL store, one query layer (Kysely) for every dialect: SQLite for the embedded default,
 * PostgreSQL for a cluster (design.md). Writes are group-committed: every mutation queued
 * during one turn of the event loop goes into one transaction.
 */
import { Kysely, sql, type Dialect, type Transaction } from 'kysely';
import type { AppSnapshot, Mutation } from '../engine/types.js';
import type { DurableStore } from './types.js';

interface AccountsTable {
  app: number;
  user_id: string;
  login_keys: string;
  kicked_at: number;
  offline_since: number;
  nick: string;
  face_url: string;
}
interface FriendsTable {
  app: number;
  from_id: string;
  to_id: string;
  remark: string;
  groups: string;
  add_source: string;
  add_time: number;
}
interface SubscriptionsTable {
  app: number;
  user_id: string;
  target: string;
  seq: number;
}
interface TombstonesTable {
  app: number;
  user_id: string;
  deleted_at: number;
}
interface MetaTable {
  key: string;
  value: string;
}
export interface Schema {
  accounts: AccountsTable;
  friends: FriendsTable;
  subscriptions: SubscriptionsTable;
  account_tombstones: TombstonesTable;
  presently_meta: MetaTable;
}

export class SqlStore implements DurableStore {
  readonly db: Kysely<Schema>;
  private queue: Mutation[] = [];
  private pending: Promise<void> | null = null;
  private writing: Promise<void> = Promise.resolve();
  private failed: Error | null = null;

  /**
   * `fastWriter`: a synchronous writer for the embedded SQLite file (prepared statements in one
   * transaction, a few µs a row instead of a Kysely round per row). Schema, reads and the
   * PostgreSQL path stay on Kysely; the contract suite runs both writers.
   */
  private fastWriter: ((batch: Mutation[]) => void) | undefined;

  constructor(dialect: Dialect) {
    this.db = new Kysely<Schema>({ dialect });
  }

  /** Writes batches with `writer` instead of Kysely from now on (the embedded SQLite file). */
  useFastWriter(writer: (batch: Mutation[]) => void): void {
    this.fastWriter = writer;
  }

  async migrate(): Promise<void> {
    const s = this.db.schema;
    await s
      .createTable('accounts')
      .ifNotExists()
      .addColumn('app', 'bigint', (c) => c.notNull())
      .addColumn('user_id', 'text', (c) => c.notNull())
      .addColumn('login_keys', 'text', (c) => c.notNull().defaultTo('[]'))
      .addColumn('kicked_at', 'bigint', (c) => c.notNull().defaultTo(0))
      .addColumn('offline_since', 'bigint', (c) => c.notNull().defaultTo(0))
      .addColumn('nick', 'text', (c) => c.notNull().defaultTo(''))
      .addColumn('face_url', 'text', (c) => c.notNull().defaultTo(''))
      .addPrimaryKeyConstraint('accounts_pk', ['app', 'user_id'])
      .execute();
    await s
      .createTable('friends')
      .ifNotExists()
      .addColumn('app', 'bigint', (c) => c.notNull())
      .addColumn('from_id', 'text', (c) => c.notNull())
      .addColumn('to_id', 'text', (c) => c.notNull())
      .addColumn('remark', 'text', (c) => c.notNull().defaultTo(''))
      .addColumn('groups', 'text', (c) => c.notNull().defaultTo('[]'))
      .addColumn('add_source', 'text', (c) => c.notNull().defaultTo(''))
      .addColumn('add_time', 'bigint', (c) => c.notNull().defaultTo(0))
      .addPrimaryKeyConstraint('friends_pk', ['app', 'from_id', 'to_id'])
      .execute();
    await s
      .createTable('subscriptions')
      .ifNotExists()
      .addColumn('app', 'bigint', (c) => c.notNull())
      .addColumn('user_id', 'text', (c) => c.notNull())
      .addColumn('target', 'text', (c) => c.notNull())
      .addColumn('seq', 'bigint', (c) => c.notNull())
      .addPrimaryKeyConstraint('subscriptions_pk', ['app', 'user_id', 'target'])
      .execute();
    await s
      .createTable('account_tombstones')
      .ifNotExists()
      .addColumn('app', 'bigint', (c) => c.notNull())
      .addColumn('user_id', 'text', (c) => c.notNull())
      .addColumn('deleted_at', 'bigint', (c) => c.notNull())
      .addPrimaryKeyConstraint('account_tombstones_pk', ['app', 'user_id'])
      .execute();
    await s
      .createTable('presently_meta')
      .ifNotExists()
      .addColumn('key', 'text', (c) => c.primaryKey())
      .addColumn('value', 'text', (c) => c.notNull())
      .execute();
  }

  async loadApp(app: number): Promise<AppSnapshot> {
    const accounts = await this.db.selectFrom('accounts').selectAll().where('app', '=', app).execute();
    const friends = await this.db.selectFrom('friends').selectAll().where('app', '=', app).execute();
    const subs = await this.db
      .selectFrom('subscriptions')
      .selectAll()
      .where('app', '=', app)
      .orderBy('user_id')
      .orderBy('seq')
      .execute();
    const tombs = await this.db.selectFrom('account_tombstones').selectAll().where('app', '=', app).execute();
    return {
      tombstones: tombs.map((t) => ({ userID: t.user_id, deletedAt: Number(t.deleted_at) })),
      accounts: accounts.map((a) => ({
        userID: a.user_id,
        loginKeys: JSON.parse(a.login_keys) as string[],
        kickedAt: Number(a.kicked_at),
        offlineSince: Number(a.offline_since),
        nick: a.nick,
        faceUrl: a.face_url,
      })),
      friends: friends.map((f) => ({
        from: f.from_id,
        to: f.to_id,
        remark: f.remark,
        groups: JSON.parse(f.groups) as string[],
        addSource: f.add_source,
        addTime: Number(f.add_time),
      })),
      subscriptions: subs.map((s) => ({ userID: s.user_id, target: s.target, seq: Number(s.seq) })),
    };
  }

  persist(m: Mutation): void {
    this.queue.push(m);
    if (this.pending) return;
    this.pending = new Promise<void>((resolve, reject) => {
      setImmediate(() => {
        this.pending = null;
        const batch = this.queue;
        this.queue = [];
        // Batches are written one after another, in the order they were queued.
        this.writing = this.writing.then(() => this.write(batch)).then(resolve, (err: unknown) => {
          this.failed = err instanceof Error ? err : new Error(String(err));
          reject(this.failed);
        });
      });
    });
    // Callers learn of a failure through flush(); nobody awaiting must not crash the process.
    this.pending.catch(() => undefined);
  }

  /** Resolves when every mutation queued so far is committed. */
  flush(): Promise<void> {
    if (this.failed) return Promise.reject(this.failed);
    return this.pending ?? this.writing;
  }

  private async write(batch: Mutation[]): Promise<void> {
    if (batch.length === 0) return;
    if (this.fastWriter) {
      this.fastWriter(batch);
      return;
    }
    await this.db.transaction().execute(async (trx) => {
      for (const m of batch) await apply(trx, m);
    });
  }

  async getMeta(key: string): Promise<string | undefined> {
    const row = await this.db.selectFrom('presently_meta').select('value').where('key', '=', key).executeTakeFirst();
    return row?.value;
  }

  async setMeta(key: string, value: string): Promise<void> {
    await this.db
      .insertInto('presently_meta')
      .values({ key, value })
      .onConflict((oc) => oc.column('key').doUpdateSet({ value }))
      .execute();
  }

  async close(): Promise<void> {
    await this.flush().catch(() => undefined);
    await this.db.destroy();
  }
}

async function apply(trx: Transaction<Schema>, m: Mutation): Promise<void> {
  switch (m.t) {
    case 'account': {
      const row = {
        login_keys: JSON.stringify(m.loginKeys),
        kicked_at: m.kickedAt,
        offline_since: m.offlineSince,
        nick: m.nick ?? '',
        face_url: m.faceUrl ?? '',
      };
      await trx
        .insertInto('accounts')
        .values({ app: m.app, user_id: m.userID, ...row })
        .onConflict((oc) => oc.columns(['app', 'user_id']).doUpdateSet(row))
        .execute();
      return;
    }
    case 'accountDelete':
      await trx.deleteFrom('accounts').where('app', '=', m.app).where('user_id', '=', m.userID).execute();
      await trx
        .insertInto('account_tombstones')
        .values({ app: m.app, user_id: m.userID, deleted_at: m.deletedAt })
        .onConflict((oc) => oc.columns(['app', 'user_id']).doUpdateSet({ deleted_at: m.deletedAt }))
        .execute();
      return;
    case 'friendAdd': {
      const row = { remark: m.remark, groups: JSON.stringify(m.groups), add_source: m.addSource, add_time: m.addTime };
      await trx
        .insertInto('friends')
        .values({ app: m.app, from_id: m.from, to_id: m.to, ...row })
        .onConflict((oc) => oc.columns(['app', 'from_id', 'to_id']).doUpdateSet(row))
        .execute();
      return;
    }
    case 'friendRemove':
      await trx.deleteFrom('friends').where('app', '=', m.app).where('from_id', '=', m.from).where('to_id', '=', m.to).execute();
      return;
    case 'subAdd':
      await trx
        .insertInto('subscriptions')
        .values({ app: m.app, user_id: m.userID, target: m.target, seq: m.seq })
        .onConflict((oc) => oc.columns(['app', 'user_id', 'target']).doUpdateSet({ seq: m.seq }))
        .execute();
      return;
    case 'subRemove':
      await trx.deleteFrom('subscriptions').where('app', '=', m.app).where('user_id', '=', m.userID).where('target', '=', m.target).execute();
      return;
  }
}

/** Opens the embedded SQLite store under the data directory. */
export async function openSqlite(file: string, opts: { fastWriter?: boolean } = {}): Promise<SqlStore> {
  const { default: Database } = await import('better-sqlite3');
  const { SqliteDialect } = await import('kysely');
  const db = new Database(file);
  // WAL with synchronous=FULL: a committed batch survives a crash of the process or the machine.
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = FULL');
  db.pragma('busy_timeout = 5000');
  const store = new SqlStore(new SqliteDialect({ database: db }));
  await store.migrate();
  // Statements are prepared once the migration has made the tables.
  if (opts.fastWriter !== false) store.useFastWriter(sqliteWriter(db));
  return store;
}

type SqliteDb = import('better-sqlite3').Database;

/** The same statements as `apply`, prepared once, run in one synchronous transaction per batch. */
function sqliteWriter(db: SqliteDb): (batch: Mutation[]) => void {
  const upsertAccount = db.prepare(
    `INSERT INTO accounts (app, user_id, login_keys, kicked_at, offline_since, nick, face_url) VALUES (?, ?, ?, ?, ?, ?, ?)
     ON CONFLICT (app, user_id) DO UPDATE SET login_keys = excluded.login_keys, kicked_at = excluded.kicked_at,
       offline_since = excluded.offline_since, nick = excluded.nick, face_url = excluded.face_url`,
  );
  const deleteAccount = db.prepare('DELETE FROM accounts WHERE app = ? AND user_id = ?');
  const tombstone = db.prepare(
    `INSERT INTO account_tombstones (app, user_id, deleted_at) VALUES (?, ?, ?)
     ON CONFLICT (app, user_id) DO UPDATE SET deleted_at = excluded.deleted_at`,
  );
  const addFriend = db.prepare(
    `INSERT INTO friends (app, from_id, to_id, remark, groups, add_source, add_time) VALUES (?, ?, ?, ?, ?, ?, ?)
     ON CONFLICT (app, from_id, to_id) DO UPDATE SET remark = excluded.remark, groups = excluded.groups,
       add_source = excluded.add_source, add_time = excluded.add_time`,
  );
  const removeFriend = db.prepare('DELETE FROM friends WHERE app = ? AND from_id = ? AND to_id = ?');
  const addSub = db.prepare(
    `INSERT INTO subscriptions (app, user_id, target, seq) VALUES (?, ?, ?, ?)
     ON CONFLICT (app, user_id, target) DO UPDATE SET seq = excluded.seq`,
  );
  const removeSub = db.prepare('DELETE FROM subscriptions WHERE app = ? AND user_id = ? AND target = ?');
  const run = db.transaction((batch: Mutation[]) => {
    for (const m of batch) {
      switch (m.t) {
        case 'account':
          upsertAccount.run(m.app, m.userID, JSON.stringify(m.loginKeys), m.kickedAt, m.offlineSince, m.nick ?? '', m.faceUrl ?? '');
          break;
        case 'accountDelete':
          deleteAccount.run(m.app, m.userID);
          tombstone.run(m.app, m.userID, m.deletedAt);
          break;
        case 'friendAdd':
          addFriend.run(m.app, m.from, m.to, m.remark, JSON.stringify(m.groups), m.addSource, m.addTime);
          break;
        case 'friendRemove':
          removeFriend.run(m.app, m.from, m.to);
          break;
        case 'subAdd':
          addSub.run(m.app, m.userID, m.target, m.seq);
          break;
        case 'subRemove':
          removeSub.run(m.app, m.userID, m.target);
          break;
      }
    }
  });
  return (batch) => run(batch);
}

export { sql };

/**
 * Opens the PostgreSQL store (a cluster's durable data, `DATABASE_URL`). `schema` puts every
 * table in its own schema (created when absent): tests use one per run.
 */
export async function openPostgres(url: string, opts: { schema?: string; poolSize?: number } = {}): Promise<SqlStore> {
  const { default: pg } = await import('pg');
  const { PostgresDialect } = await import('kysely');
  const schema = opts.schema;
  if (schema !== undefined && !/^[a-z_][a-z0-9_]{0,62}$/.test(schema)) throw new Error(`invalid schema name ${schema}`);
  if (schema) {
    const admin = new pg.Client({ connectionString: url });
    await admin.connect();
    try {
      await admin.query(`CREATE SCHEMA IF NOT EXISTS ${schema}`);
    } finally {
      await admin.end();
    }
  }
  const pool = new pg.Pool({
    connectionString: url,
    max: opts.poolSize ?? 4,
    ...(schema ? { options: `-c search_path=${schema}` } : {}),
  });
  // An idle client's error (the server restarting) must not crash the process; queries retry.
  pool.on('error', () => undefined);
  const store = new SqlStore(new PostgresDialect({ pool }));
  await store.migrate();
  return store;
}
