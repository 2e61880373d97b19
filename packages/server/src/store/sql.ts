/**
 * The SQL store, one query layer (Kysely) for every dialect: SQLite for the embedded default,
 * PostgreSQL for a cluster (design.md). Writes are group-committed: every mutation queued
 * during one turn of the event loop goes into one transaction (one statement when the batch
 * folds into one; see batchQueries).
 *
 * A batch whose write fails (PostgreSQL restarting, the network down) is written again, the
 * same batch before any later one, after a capped backoff, until it lands: `flush` waits
 * meanwhile and `healthy()` is false. Every mutation is idempotent (upserts and deletes), so a
 * batch written again after a commit whose reply was lost leaves the same rows.
 */
import { Kysely, sql, type CompiledQuery, type Dialect, type Generated } from 'kysely';
import type { Client as PgClient } from 'pg';
import type { AppSnapshot, Mutation } from '../engine/types.js';
import type { DurableStore } from './types.js';
import { configure, sqliteWriter } from './sqlite-writer.js';

interface AccountsTable {
  app: number;
  user_id: string;
  login_keys: string;
  kicked_at: number;
  offline_since: number;
  nick: string;
  face_url: string;
  /** Log position of the write (a cluster's entries); 0 on one process. An older one never wins. */
  version: Generated<number>;
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

/**
 * PostgreSQL advisory lock classes of the server (the first key of the two-key form; the second
 * is `hashtext(current_schema())`, so stores in different schemas of one database never meet).
 */
export const PG_LOCK = {
  /** Held (transaction-scoped) while a process migrates: cluster members starting together. */
  migrate: 0x50525301,
  /** Held (transaction-scoped) while outbox rows get their seq and commit (webhooks/outbox.ts). */
  outboxSeq: 0x50525302,
  /** Held (session-scoped) by the process that delivers webhooks (webhooks/leadership.ts). */
  webhookLeader: 0x50525303,
} as const;

export interface SqlStoreOptions {
  /** 'postgres' when the database may be shared by several processes (a cluster). @default 'sqlite' */
  dialect?: 'sqlite' | 'postgres';
  /**
   * PostgreSQL only: opens a connection of its own, outside the pool, on the store's database
   * and schema (for a session-level lock). The caller ends it.
   */
  openSession?: () => Promise<PgClient>;
  /** Delay before a failed write goes again, ms; it doubles with each failure up to `retryMaxMs`. @default 100 */
  retryMinMs?: number;
  /** @default 2000 */
  retryMaxMs?: number;
  /** How long `close` waits for queued writes (the database may be down) before giving up, ms. @default 5000 */
  closeTimeoutMs?: number;
}

export class SqlStore implements DurableStore {
  readonly db: Kysely<Schema>;
  readonly dialect: 'sqlite' | 'postgres';
  private queue: Mutation[] = [];
  private pending: Promise<void> | null = null;
  /** The chain of batch writes, in order; it never rejects. */
  private writing: Promise<void> = Promise.resolve();
  /** The outcome of the latest batch (rejects only when `close` gave up on it). */
  private last: Promise<void> = Promise.resolve();
  /** The error of the write being retried; null when the latest attempt succeeded. */
  private failure: Error | null = null;
  /** Set by `close` once it stops waiting: writes still failing are given up. */
  private abandoned: Error | null = null;
  /** Ends the backoff pause of a failing write at once (close). */
  private wake: (() => void) | null = null;
  private closing: Promise<void> | null = null;
  private readonly retryMinMs: number;
  private readonly retryMaxMs: number;
  private readonly closeTimeoutMs: number;
  private readonly sessionOpener: (() => Promise<PgClient>) | undefined;

  /**
   * `fastWriter`: a synchronous writer for the embedded SQLite file (prepared statements in one
   * transaction, a few µs a row instead of a Kysely round per row). Schema, reads and the
   * PostgreSQL path stay on Kysely; the contract suite runs both writers.
   */
  private fastWriter: ((batch: Mutation[]) => void | Promise<void>) | undefined;
  private closeWriter: (() => Promise<void>) | undefined;

  constructor(dialect: Dialect, opts: SqlStoreOptions = {}) {
    this.db = new Kysely<Schema>({ dialect });
    this.dialect = opts.dialect ?? 'sqlite';
    this.sessionOpener = opts.openSession;
    this.retryMinMs = opts.retryMinMs ?? 100;
    this.retryMaxMs = Math.max(opts.retryMaxMs ?? 2000, this.retryMinMs);
    this.closeTimeoutMs = opts.closeTimeoutMs ?? 5000;
  }

  /** PostgreSQL only: a dedicated connection (not from the pool) on the store's schema; end it when done. */
  openSession(): Promise<PgClient> {
    if (!this.sessionOpener) return Promise.reject(new Error(`a ${this.dialect} store has no dedicated sessions`));
    return this.sessionOpener();
  }

  /** False while a batch write is failing and being retried. */
  healthy(): boolean {
    return this.failure === null;
  }

  /** Why the write being retried failed last; null when healthy. */
  lastError(): Error | null {
    return this.failure;
  }

  /** Writes batches with `writer` instead of Kysely from now on (the embedded SQLite file). */
  useFastWriter(writer: (batch: Mutation[]) => void | Promise<void>, close?: () => Promise<void>): void {
    this.fastWriter = writer;
    this.closeWriter = close;
  }

  async migrate(): Promise<void> {
    if (this.dialect !== 'postgres') return createTables(this.db, false);
    // Cluster members starting together: one migrates at a time (CREATE … IF NOT EXISTS alone
    // races on PostgreSQL's catalogs).
    await this.db.transaction().execute(async (trx) => {
      await sql`SELECT pg_advisory_xact_lock(${PG_LOCK.migrate}, hashtext(current_schema()))`.execute(trx);
      await createTables(trx, true);
    });
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
        // Batches are written one after another, in the order they were queued; a failed one
        // goes again before the next.
        const done = this.writing.then(() => this.writeUntilDone(batch));
        this.writing = done.catch(() => undefined);
        this.last = done;
        done.then(resolve, reject);
      });
    });
    // Callers learn of a failure through flush(); nobody awaiting must not crash the process.
    this.pending.catch(() => undefined);
  }

  /**
   * Resolves when every mutation queued so far is committed; while the database is down it
   * waits. Rejects only for writes that `close` gave up on.
   */
  flush(): Promise<void> {
    return this.pending ?? this.last;
  }

  /** Writes the batch, again and again after a growing pause while it fails, until it lands. */
  private async writeUntilDone(batch: Mutation[]): Promise<void> {
    let pause = this.retryMinMs;
    for (;;) {
      if (this.abandoned) throw this.abandoned;
      try {
        await this.write(batch);
        this.failure = null;
        return;
      } catch (err) {
        this.failure = err instanceof Error ? err : new Error(String(err));
      }
      if (this.abandoned) throw this.abandoned;
      await this.sleep(pause);
      pause = Math.min(pause * 2, this.retryMaxMs);
    }
  }

  /** A pause that `close` can cut short; it does not keep the process alive. */
  private sleep(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        if (this.wake === done) this.wake = null;
        resolve();
      };
      const timer = setTimeout(done, ms);
      timer.unref();
      this.wake = done;
    });
  }

  private async write(batch: Mutation[]): Promise<void> {
    if (batch.length === 0) return;
    if (this.fastWriter) {
      await this.fastWriter(batch);
      return;
    }
    const queries = batchQueries(this.db, batch);
    // One statement is atomic by itself: no BEGIN and COMMIT round trips around it.
    if (queries.length === 1) await this.db.executeQuery(queries[0]!);
    else {
      await this.db.transaction().execute(async (trx) => {
        for (const q of queries) await trx.executeQuery(q);
      });
    }
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

  /**
   * Writes what is queued, then closes. When the database stays down it gives up after
   * `closeTimeoutMs` (those writes were never acknowledged: their flush rejects) and closes anyway.
   */
  close(): Promise<void> {
    this.closing ??= (async () => {
      await within(this.flush(), this.closeTimeoutMs);
      this.abandoned ??= new Error('the store closed before the write could be committed', { cause: this.failure ?? undefined });
      this.wake?.();
      await within(this.closeWriter?.(), this.closeTimeoutMs);
      // Ending the pool waits for its connections: bounded too, in case one hangs.
      await within(this.db.destroy(), this.closeTimeoutMs);
    })();
    return this.closing;
  }
}

/** The store's tables, created when absent. */
async function createTables(db: Kysely<Schema>, postgres: boolean): Promise<void> {
  const s = db.schema;
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
    .addColumn('version', 'bigint', (c) => c.notNull().defaultTo(0))
    .addPrimaryKeyConstraint('accounts_pk', ['app', 'user_id'])
    .execute();
  // Stores made before accounts had a version get the column (PostgreSQL: in the current schema).
  if (postgres) {
    await sql`ALTER TABLE accounts ADD COLUMN IF NOT EXISTS version bigint NOT NULL DEFAULT 0`.execute(db);
  } else {
    const accounts = (await db.introspection.getTables()).find((t) => t.name === 'accounts');
    if (accounts && !accounts.columns.some((c) => c.name === 'version')) {
      await s.alterTable('accounts').addColumn('version', 'bigint', (c) => c.notNull().defaultTo(0)).execute();
    }
  }
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

/** Waits for `p` (its failure ignored) at most `ms`. */
async function within(p: Promise<unknown> | undefined, ms: number): Promise<void> {
  if (!p) return;
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([p.catch(() => undefined), new Promise<void>((resolve) => (timer = setTimeout(resolve, ms)))]);
  clearTimeout(timer);
}

/** Rows per multi-row statement: well under SQLite's 32,766 and PostgreSQL's 65,535 bind parameters. */
const ROWS_PER_STATEMENT = 500;

type AccountWrite = Extract<Mutation, { t: 'account' }>;
type FriendWrite = Extract<Mutation, { t: 'friendAdd' | 'friendRemove' }>;
type SubWrite = Extract<Mutation, { t: 'subAdd' | 'subRemove' }>;

/**
 * The statements that write one batch, as few as it can: per table, multi-row upserts and multi-row
 * deletes, instead of a statement per mutation (with PostgreSQL, a round trip each). A row's final
 * state depends only on that row's own mutations in order, so they are folded per key first: the
 * last add or remove of a friend or a subscription wins (one statement may not touch a row twice);
 * of an account's writes, the one from the latest log entry (ties: the last). An account deleted
 * in the batch keeps the exact order of its writes, a statement each: deletion is unconditional,
 * unlike the versioned upsert. Rows go sorted by key, so two nodes writing the same rows lock
 * them in the same order.
 */
function batchQueries(db: Kysely<Schema>, batch: Mutation[]): CompiledQuery[] {
  const out: CompiledQuery[] = [];
  const accounts = new Map<string, AccountWrite>();
  const deleted = new Set<string>();
  const friends = new Map<string, FriendWrite>();
  const subs = new Map<string, SubWrite>();
  for (const m of batch) {
    switch (m.t) {
      case 'account': {
        const k = rowKey(m.app, m.userID);
        const prev = accounts.get(k);
        if (!prev || (prev.v ?? 0) <= (m.v ?? 0)) accounts.set(k, m);
        break;
      }
      case 'accountDelete':
        deleted.add(rowKey(m.app, m.userID));
        break;
      case 'friendAdd':
      case 'friendRemove':
        friends.set(rowKey(m.app, m.from, m.to), m);
        break;
      case 'subAdd':
      case 'subRemove':
        subs.set(rowKey(m.app, m.userID, m.target), m);
        break;
    }
  }
  if (deleted.size > 0) {
    for (const m of batch) if ((m.t === 'account' || m.t === 'accountDelete') && deleted.has(rowKey(m.app, m.userID))) out.push(...accountQueries(db, m));
    for (const k of deleted) accounts.delete(k);
  }
  for (const rows of chunks(sortedValues(accounts))) {
    out.push(
      db
        .insertInto('accounts')
        .values(
          rows.map((m) => ({
            app: m.app,
            user_id: m.userID,
            login_keys: JSON.stringify(m.loginKeys),
            kicked_at: m.kickedAt,
            offline_since: m.offlineSince,
            nick: m.nick ?? '',
            face_url: m.faceUrl ?? '',
            version: m.v ?? 0,
          })),
        )
        .onConflict((oc) =>
          oc
            .columns(['app', 'user_id'])
            .doUpdateSet((eb) => ({
              login_keys: eb.ref('excluded.login_keys'),
              kicked_at: eb.ref('excluded.kicked_at'),
              offline_since: eb.ref('excluded.offline_since'),
              nick: eb.ref('excluded.nick'),
              face_url: eb.ref('excluded.face_url'),
              version: eb.ref('excluded.version'),
            }))
            // In a cluster each node writes the rows of its own log entries: commits of two nodes
            // can land out of log order, so a row only takes a write from the same or a later entry.
            .where((eb) => eb('accounts.version', '<=', eb.ref('excluded.version'))),
        )
        .compile(),
    );
  }
  const friendWrites = sortedValues(friends);
  for (const rows of chunks(friendWrites.filter((m) => m.t === 'friendAdd'))) {
    out.push(
      db
        .insertInto('friends')
        .values(rows.map((m) => ({ app: m.app, from_id: m.from, to_id: m.to, remark: m.remark, groups: JSON.stringify(m.groups), add_source: m.addSource, add_time: m.addTime })))
        .onConflict((oc) =>
          oc.columns(['app', 'from_id', 'to_id']).doUpdateSet((eb) => ({
            remark: eb.ref('excluded.remark'),
            groups: eb.ref('excluded.groups'),
            add_source: eb.ref('excluded.add_source'),
            add_time: eb.ref('excluded.add_time'),
          })),
        )
        .compile(),
    );
  }
  for (const rows of chunks(friendWrites.filter((m) => m.t === 'friendRemove'))) {
    out.push(
      db
        .deleteFrom('friends')
        .where((eb) => eb(eb.refTuple('app', 'from_id', 'to_id'), 'in', rows.map((m) => eb.tuple(m.app, m.from, m.to))))
        .compile(),
    );
  }
  const subWrites = sortedValues(subs);
  for (const rows of chunks(subWrites.filter((m) => m.t === 'subAdd'))) {
    out.push(
      db
        .insertInto('subscriptions')
        .values(rows.map((m) => ({ app: m.app, user_id: m.userID, target: m.target, seq: m.seq })))
        .onConflict((oc) => oc.columns(['app', 'user_id', 'target']).doUpdateSet((eb) => ({ seq: eb.ref('excluded.seq') })))
        .compile(),
    );
  }
  for (const rows of chunks(subWrites.filter((m) => m.t === 'subRemove'))) {
    out.push(
      db
        .deleteFrom('subscriptions')
        .where((eb) => eb(eb.refTuple('app', 'user_id', 'target'), 'in', rows.map((m) => eb.tuple(m.app, m.userID, m.target))))
        .compile(),
    );
  }
  return out;
}

/** A row's primary key as one string (the parts cannot hold a NUL). */
const rowKey = (...parts: Array<string | number>): string => parts.join('\0');

/** The map's values in the order of their keys. */
function sortedValues<T>(m: Map<string, T>): T[] {
  return [...m.keys()].sort().map((k) => m.get(k)!);
}

function* chunks<T>(rows: T[]): Generator<T[]> {
  for (let i = 0; i < rows.length; i += ROWS_PER_STATEMENT) yield rows.slice(i, i + ROWS_PER_STATEMENT);
}

/**
 * One write of an account deleted in the same batch, as its own statements (see batchQueries).
 * Each is idempotent: a batch written again after a lost commit reply is harmless.
 */
function accountQueries(db: Kysely<Schema>, m: Extract<Mutation, { t: 'account' | 'accountDelete' }>): CompiledQuery[] {
  if (m.t === 'accountDelete') {
    return [
      db.deleteFrom('accounts').where('app', '=', m.app).where('user_id', '=', m.userID).compile(),
      db
        .insertInto('account_tombstones')
        .values({ app: m.app, user_id: m.userID, deleted_at: m.deletedAt })
        .onConflict((oc) => oc.columns(['app', 'user_id']).doUpdateSet({ deleted_at: m.deletedAt }))
        .compile(),
    ];
  }
  const row = {
    login_keys: JSON.stringify(m.loginKeys),
    kicked_at: m.kickedAt,
    offline_since: m.offlineSince,
    nick: m.nick ?? '',
    face_url: m.faceUrl ?? '',
  };
  return [
    db
      .insertInto('accounts')
      .values({ app: m.app, user_id: m.userID, ...row, version: m.v ?? 0 })
      .onConflict((oc) =>
        oc
          .columns(['app', 'user_id'])
          .doUpdateSet({ ...row, version: m.v ?? 0 })
          .where((eb) => eb('accounts.version', '<=', eb.ref('excluded.version'))),
      )
      .compile(),
  ];
}

/** Opens the embedded SQLite store under the data directory. */
/**
 * Opens the embedded SQLite store. `writer`: where engine mutations are committed —
 * 'thread' (default for a file): a writer thread, so the commit's fsync never holds the event
 * loop; 'main': prepared statements on the main thread (an in-memory database); 'kysely': the
 * portable path, as PostgreSQL uses (the contract suite runs all three).
 */
export async function openSqlite(file: string, opts: { writer?: 'thread' | 'main' | 'kysely' } = {}): Promise<SqlStore> {
  const { default: Database } = await import('better-sqlite3');
  const { SqliteDialect } = await import('kysely');
  const db = new Database(file);
  configure(db);
  const store = new SqlStore(new SqliteDialect({ database: db }));
  await store.migrate();
  const writer = opts.writer ?? (file === ':memory:' ? 'main' : 'thread');
  // Statements are prepared once the migration has made the tables.
  if (writer === 'main') store.useFastWriter(sqliteWriter(db));
  else if (writer === 'thread') {
    const thread = await SqliteWriterThread.start(file);
    store.useFastWriter((batch) => thread.write(batch), () => thread.close());
  }
  return store;
}

/** The writer thread's end of the store: batches go out in order; each resolves once committed. */
class SqliteWriterThread {
  private nextId = 1;
  private readonly pending = new Map<number, { resolve(): void; reject(err: Error): void }>();
  private failed: Error | null = null;

  private constructor(private readonly worker: import('node:worker_threads').Worker) {
    worker.on('message', (m: { id: number; error?: string }) => {
      const p = this.pending.get(m.id);
      if (!p) return;
      this.pending.delete(m.id);
      if (m.error === undefined) p.resolve();
      else p.reject(new Error(`SQLite write failed: ${m.error}`));
    });
    const fail = (err: Error) => {
      this.failed = err;
      for (const p of this.pending.values()) p.reject(err);
      this.pending.clear();
    };
    worker.on('error', fail);
    worker.on('exit', (code) => fail(new Error(`SQLite writer thread exited (${code})`)));
  }

  static async start(file: string): Promise<SqliteWriterThread> {
    const { Worker } = await import('node:worker_threads');
    const { extname } = await import('node:path');
    const { fileURLToPath } = await import('node:url');
    // Built, the worker is plain JS. From sources (npm start, tests), a worker thread does not
    // inherit the tsx loader, so a two-line bootstrap registers it before loading the .ts file.
    const ext = extname(fileURLToPath(import.meta.url));
    const entry = new URL(`./sqlite-writer-worker${ext}`, import.meta.url);
    let worker: import('node:worker_threads').Worker;
    if (ext === '.ts') {
      const api = import.meta.resolve('tsx/esm/api');
      const boot = `import(${JSON.stringify(api)}).then((m) => { m.register(); return import(${JSON.stringify(entry.href)}); });`;
      worker = new Worker(boot, { eval: true, workerData: { file } });
    } else {
      worker = new Worker(entry, { workerData: { file } });
    }
    await new Promise<void>((resolve, reject) => {
      worker.once('online', () => resolve());
      worker.once('error', reject);
    });
    return new SqliteWriterThread(worker);
  }

  write(batch: Mutation[]): Promise<void> {
    if (this.failed) return Promise.reject(this.failed);
    const id = this.nextId++;
    return new Promise<void>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.worker.postMessage({ id, batch });
    });
  }

  async close(): Promise<void> {
    await this.worker.terminate();
  }
}


/**
 * Opens the PostgreSQL store (a cluster's durable data, `DATABASE_URL`). `schema` puts every
 * table in its own schema (created when absent): tests use one per run.
 */
export async function openPostgres(
  url: string,
  opts: { schema?: string; poolSize?: number } & Pick<SqlStoreOptions, 'retryMinMs' | 'retryMaxMs' | 'closeTimeoutMs'> = {},
): Promise<SqlStore> {
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
  const config = {
    connectionString: url,
    // A server that does not answer (host gone) fails the attempt instead of hanging it; dead
    // connections are noticed by TCP keepalive.
    connectionTimeoutMillis: 10_000,
    keepAlive: true,
    ...(schema ? { options: `-c search_path=${schema}` } : {}),
  };
  const pool = new pg.Pool({ ...config, max: opts.poolSize ?? 4 });
  // An idle client's error (the server restarting) must not crash the process; queries retry.
  pool.on('error', () => undefined);
  // Nor must a checked-out client's (the pool listens only while a client is idle, and Kysely
  // holds one between the statements of a transaction): the statement itself fails with it.
  pool.on('connect', (client) => client.on('error', () => undefined));
  const openSession = async (): Promise<PgClient> => {
    const client = new pg.Client(config);
    // Its owner listens too; without a listener an error would crash the process.
    client.on('error', () => undefined);
    await client.connect();
    return client;
  };
  const store = new SqlStore(new PostgresDialect({ pool }), {
    dialect: 'postgres',
    openSession,
    retryMinMs: opts.retryMinMs,
    retryMaxMs: opts.retryMaxMs,
    closeTimeoutMs: opts.closeTimeoutMs,
  });
  await store.migrate();
  return store;
}
