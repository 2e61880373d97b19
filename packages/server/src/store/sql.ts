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
import { Kysely, sql, type Dialect, type SqlBool } from 'kysely';
import type { Client as PgClient } from 'pg';
import type { Worker as WorkerThread } from 'node:worker_threads';
import type { AppSnapshot, Mutation } from '../engine/types.js';
import type { DurableStore } from './types.js';
import type { Schema } from './schema.js';
import { batchQueries } from './batch.js';
import { currentSchemaOnly, migrateToLatest, transactionalDdl, type AnySchema } from './migrations/index.js';
import { configure, sqliteWriter } from './sqlite-writer.js';
import { StoreOpenError, describe, inTransaction } from './errors.js';

export type { Schema } from './schema.js';
export { PG_LOCK } from './pg-locks.js';

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
  /** Names the database in errors of loadApp (a start-up reads every app): the SQLite file. */
  label?: string;
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
  /** When the batch being written was handed to the database (ms); 0 while nothing is in flight. */
  private writeStarted = 0;
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
   * Where the embedded SQLite file's batches are executed instead of through Kysely: the writer
   * thread (or, for an in-memory database, better-sqlite3 on this thread). The statements are the
   * same either way (batch.ts); only who runs them differs. Schema, reads and the PostgreSQL path
   * stay on Kysely; the contract suite runs every writer.
   */
  private sqliteWriter: ((batch: Mutation[]) => void | Promise<void>) | undefined;
  private closeWriter: (() => Promise<void>) | undefined;
  /** Run once the store has closed, last first (the SQLite file's lock, etc.). */
  private readonly afterClose: Array<() => void> = [];
  /** Names the database in start-up errors (the SQLite file's path). */
  private readonly label: string | undefined;

  constructor(dialect: Dialect, opts: SqlStoreOptions = {}) {
    this.db = new Kysely<Schema>({ dialect });
    this.dialect = opts.dialect ?? 'sqlite';
    this.sessionOpener = opts.openSession;
    this.retryMinMs = opts.retryMinMs ?? 100;
    this.retryMaxMs = Math.max(opts.retryMaxMs ?? 2000, this.retryMinMs);
    this.closeTimeoutMs = opts.closeTimeoutMs ?? 5000;
    this.label = opts.label;
  }

  /** PostgreSQL only: a dedicated connection (not from the pool) on the store's schema; end it when done. */
  openSession(): Promise<PgClient> {
    if (!this.sessionOpener) return Promise.reject(new Error(`a ${this.dialect} store has no dedicated sessions`));
    return this.sessionOpener();
  }

  /** False while a batch write is failing and being retried, or since a read failed until the database answers again. */
  healthy(): boolean {
    return this.failure === null && this.readFailure === null;
  }

  /** Why the write being retried (or the last read) failed; null when healthy. */
  lastError(): Error | null {
    return this.failure ?? this.readFailure;
  }

  /** A read that failed (cluster v2 reads users on demand); cleared by the next that succeeds, or by a probe. */
  private readFailure: Error | null = null;
  private probing: NodeJS.Timeout | null = null;

  private readFailed(err: unknown): void {
    this.readFailure = err instanceof Error ? err : new Error(String(err));
    // Nothing else may read soon: a probe tells when the database answers again.
    this.probing ??= setInterval(() => {
      this.db
        .selectFrom('presently_meta')
        .select('key')
        .limit(1)
        .execute()
        .then(
          () => this.readSucceeded(),
          () => undefined,
        );
    }, 1000);
    this.probing.unref();
  }

  private readSucceeded(): void {
    this.readFailure = null;
    if (this.probing) clearInterval(this.probing);
    this.probing = null;
  }

  /** How long the batch being written has waited for its commit, ms (0: none in flight). */
  unconfirmedFor(now: number): number {
    return this.writeStarted === 0 ? 0 : now - this.writeStarted;
  }

  /** Executes batches with `writer` instead of Kysely from now on (the embedded SQLite file). */
  useSqliteWriter(writer: (batch: Mutation[]) => void | Promise<void>, close?: () => Promise<void>): void {
    this.sqliteWriter = writer;
    this.closeWriter = close;
  }

  /** Runs `fn` once the store has closed (after the database), before any registered earlier. */
  onClosed(fn: () => void): void {
    this.afterClose.unshift(fn);
  }

  /**
   * Applies the pending migrations (migrations/index.ts: every table of the server, the webhook
   * outbox's and the app settings' too). Processes starting together on one PostgreSQL database
   * migrate one at a time, under the migrator's lock.
   */
  async migrate(): Promise<void> {
    await migrateToLatest(this.db);
  }

  async loadApp(app: number): Promise<AppSnapshot> {
    if (this.label === undefined) return this.readApp(app);
    try {
      return await this.readApp(app);
    } catch (err) {
      // A server reads every app as it starts: a damaged file must say which file, in one line.
      throw new StoreOpenError(this.label, `cannot read app ${app}: ${describe(err)}`, err);
    }
  }

  private readApp(app: number): Promise<AppSnapshot> {
    return this.read(app, null);
  }

  /**
   * The durable facts of some users only (cluster v2: a node loads a user when it needs it):
   * their accounts, the friendships they made, their subscriptions in order, their tombstones.
   */
  async loadUsers(app: number, userIDs: readonly string[]): Promise<AppSnapshot> {
    if (userIDs.length === 0) return { accounts: [], friends: [], subscriptions: [], tombstones: [] };
    try {
      const snap = await this.read(app, userIDs);
      if (this.readFailure) this.readSucceeded();
      return snap;
    } catch (err) {
      this.readFailed(err);
      throw err;
    }
  }

  /** Who subscribes to, or has as a friend, any of `userIDs` (cluster v2: an account's deletion reaches them). */
  async loadWatchers(app: number, userIDs: readonly string[]): Promise<string[]> {
    if (userIDs.length === 0) return [];
    const ids = [...userIDs];
    const subs = await this.db.selectFrom('subscriptions').select('user_id').where('app', '=', app).where('target', 'in', ids).execute();
    const friends = await this.db.selectFrom('friends').select('from_id').where('app', '=', app).where('to_id', 'in', ids).execute();
    return [...new Set([...subs.map((r) => r.user_id), ...friends.map((r) => r.from_id)])];
  }

  /**
   * A page of an app's userIDs in byte order (cluster v2's console listing): those starting with
   * `prefix`, after `after`, at most `limit`.
   */
  async listAccountIds(app: number, q: { prefix?: string; after?: string; limit: number }): Promise<string[]> {
    const prefix = q.prefix ?? '';
    const byteOrder = this.dialect === 'postgres' ? sql`user_id COLLATE "C"` : sql`user_id`;
    let query = this.db.selectFrom('accounts').select('user_id').where('app', '=', app);
    if (prefix !== '') query = query.where(sql<SqlBool>`substr(user_id, 1, ${prefix.length}) = ${prefix}`);
    if (q.after) query = query.where(sql<SqlBool>`${byteOrder} > ${q.after}`);
    const rows = await query.orderBy(byteOrder).limit(q.limit).execute();
    return rows.map((r) => r.user_id);
  }

  /** The app's rows, or (`only`) those of some users. */
  private async read(app: number, only: readonly string[] | null): Promise<AppSnapshot> {
    const ids = only ? [...only] : [];
    const accounts = await this.db
      .selectFrom('accounts')
      .selectAll()
      .where('app', '=', app)
      .$if(only !== null, (q) => q.where('user_id', 'in', ids))
      .execute();
    const friends = await this.db
      .selectFrom('friends')
      .selectAll()
      .where('app', '=', app)
      .$if(only !== null, (q) => q.where('from_id', 'in', ids))
      .execute();
    const subs = await this.db
      .selectFrom('subscriptions')
      .selectAll()
      .where('app', '=', app)
      .$if(only !== null, (q) => q.where('user_id', 'in', ids))
      .orderBy('user_id')
      .orderBy('seq')
      .execute();
    const tombs = await this.db
      .selectFrom('account_tombstones')
      .selectAll()
      .where('app', '=', app)
      .$if(only !== null, (q) => q.where('user_id', 'in', ids))
      .execute();
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
    this.writeStarted = Date.now();
    for (;;) {
      this.throwIfAbandoned();
      try {
        await this.write(batch);
        this.failure = null;
        this.writeStarted = 0;
        return;
      } catch (err) {
        this.failure = err instanceof Error ? err : new Error(String(err));
      }
      // `close` may have given up on the write meanwhile.
      this.throwIfAbandoned();
      await this.sleep(pause);
      pause = Math.min(pause * 2, this.retryMaxMs);
    }
  }

  private throwIfAbandoned(): void {
    if (this.abandoned) throw this.abandoned;
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
    if (this.sqliteWriter) {
      await this.sqliteWriter(batch);
      return;
    }
    const queries = batchQueries(this.db, batch);
    // One statement is atomic by itself: no BEGIN and COMMIT round trips around it.
    if (queries.length === 1) await this.db.executeQuery(queries[0]!);
    else {
      await inTransaction(this.db, async (trx) => {
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
      if (this.probing) clearInterval(this.probing);
      this.wake?.();
      await within(this.closeWriter?.(), this.closeTimeoutMs);
      // Ending the pool waits for its connections: bounded too, in case one hangs.
      await within(this.db.destroy(), this.closeTimeoutMs);
      for (const fn of this.afterClose) fn();
    })();
    return this.closing;
  }
}

/** Waits for `p` (its failure ignored) at most `ms`. */
async function within(p: Promise<unknown> | undefined, ms: number): Promise<void> {
  if (!p) return;
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([p.catch(() => undefined), new Promise<void>((resolve) => (timer = setTimeout(resolve, ms)))]);
  clearTimeout(timer);
}

export interface SqliteOpenOptions {
  /**
   * Where engine mutations are committed — 'thread' (default for a file): a writer thread, so the
   * commit's fsync never holds the event loop; 'main': better-sqlite3 on the main thread (an
   * in-memory database); 'kysely': through Kysely, as PostgreSQL does. All three run the same
   * statements (batch.ts); the contract suite runs all three.
   */
  writer?: 'thread' | 'main' | 'kysely';
  /**
   * Start on an existing database file that is empty (0 bytes, or no tables): as a new database.
   * Off by default, such a file is refused: it is more likely a damaged or wrongly restored file
   * than a wish to lose every account (the server's switch: PRESENTLY_ALLOW_EMPTY_DB=1).
   */
  allowEmpty?: boolean;
  /** Told when `allowEmpty` let an empty file through. */
  warn?: (message: string) => void;
}

/** The switch that lets a server start on an empty database file (README, "Configuration"). */
export const ALLOW_EMPTY_DB_ENV = 'PRESENTLY_ALLOW_EMPTY_DB';

/**
 * Opens the embedded SQLite store. A file is locked for this process first (lock.ts: a second
 * server on the same data directory refuses to start) and released when the store closes. A file
 * that does not exist yet is made complete under a temporary name and then renamed, so an
 * existing file is never one a crash left half-made; an existing file that is empty is refused
 * (see `allowEmpty`). Every failure to open is a StoreOpenError naming the file and the cause.
 */
export async function openSqlite(file: string, opts: SqliteOpenOptions = {}): Promise<SqlStore> {
  if (file === ':memory:') return openSqliteDatabase(file, file, opts);
  const nodePath = await import('node:path');
  const { FileLock } = await import('./lock.js');
  const path = nodePath.resolve(file);
  const lock = FileLock.acquire(path);
  try {
    const store = await openSqliteDatabase(path, path, opts);
    store.onClosed(() => lock.release());
    return store;
  } catch (err) {
    lock.release();
    if (err instanceof StoreOpenError) throw err;
    throw new StoreOpenError(path, describe(err), err);
  }
}

async function openSqliteDatabase(file: string, label: string, opts: SqliteOpenOptions): Promise<SqlStore> {
  const { default: Database } = await import('better-sqlite3');
  const { SqliteDialect } = await import('kysely');
  const memory = file === ':memory:';
  const { existed, empty } = memory ? { existed: false, empty: false } : await inspectFile(file);
  const refuseEmpty = (what: string): void => {
    const reason = `the database file ${what}: starting on it would lose every account. Restore the file from a backup, or set ${ALLOW_EMPTY_DB_ENV}=1 to start with an empty database`;
    if (!opts.allowEmpty) throw new StoreOpenError(file, reason);
    opts.warn?.(`${file}: the database file ${what}: starting with an empty database (${ALLOW_EMPTY_DB_ENV}=1)`);
  };
  // Refused before SQLite opens it: SQLite deletes the write-ahead log beside a 0-byte file.
  if (empty) refuseEmpty('is empty (0 bytes)');
  if (!memory && !existed) await createDatabase(file);
  const db = new Database(file, { fileMustExist: !memory });
  try {
    configure(db);
    if (existed && !empty) {
      const row = db.prepare(`SELECT count(*) AS n FROM sqlite_master WHERE type = 'table'`).get() as { n: number };
      if (row.n === 0) refuseEmpty('holds no tables');
    }
  } catch (err) {
    db.close();
    throw err;
  }
  const store = new SqlStore(transactionalDdl(new SqliteDialect({ database: db })), memory ? {} : { label });
  try {
    await store.migrate();
    const writer = opts.writer ?? (memory ? 'main' : 'thread');
    // Statements are prepared once the migration has made the tables.
    if (writer === 'main') store.useSqliteWriter(sqliteWriter(db));
    else if (writer === 'thread') {
      const thread = await SqliteWriterThread.start(file);
      store.useSqliteWriter(
        (batch) => thread.write(batch),
        () => thread.close(),
      );
    }
  } catch (err) {
    await store.close();
    throw err;
  }
  return store;
}

/** Whether the file exists, and whether it has no bytes at all. */
async function inspectFile(file: string): Promise<{ existed: boolean; empty: boolean }> {
  const { statSync } = await import('node:fs');
  try {
    const st = statSync(file);
    if (!st.isFile()) throw new StoreOpenError(file, 'not a regular file');
    return { existed: true, empty: st.size === 0 };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { existed: false, empty: false };
    throw err;
  }
}

/**
 * Makes a new database file with every migration applied: under `<file>.new` first, renamed into
 * place once complete (and the directory synced), so `<file>` either does not exist or is whole.
 */
async function createDatabase(file: string): Promise<void> {
  const fs = await import('node:fs');
  const nodePath = await import('node:path');
  const { default: Database } = await import('better-sqlite3');
  const { SqliteDialect } = await import('kysely');
  // A log left by a database that was deleted would be replayed into the new one.
  const wal = `${file}-wal`;
  if (fs.existsSync(wal) && fs.statSync(wal).size > 0) {
    throw new StoreOpenError(
      file,
      `the database file is missing but its write-ahead log ${wal} is there: restore the database file, or move the log away to start with an empty database`,
    );
  }
  const tmp = `${file}.new`;
  for (const f of [tmp, `${tmp}-journal`, `${tmp}-wal`, `${tmp}-shm`]) fs.rmSync(f, { force: true });
  const db = new Database(tmp);
  db.pragma('synchronous = FULL');
  const k = new Kysely<AnySchema>({ dialect: transactionalDdl(new SqliteDialect({ database: db })) });
  try {
    await migrateToLatest(k);
  } finally {
    await k.destroy();
  }
  fs.renameSync(tmp, file);
  const dir = fs.openSync(nodePath.dirname(file), 'r');
  try {
    fs.fsyncSync(dir);
  } finally {
    fs.closeSync(dir);
  }
}

/** The writer thread's end of the store: batches go out in order; each resolves once committed. */
class SqliteWriterThread {
  private nextId = 1;
  private readonly pending = new Map<number, { resolve(): void; reject(err: Error): void }>();
  private failed: Error | null = null;

  private constructor(private readonly worker: WorkerThread) {
    worker.on('message', (m: { id?: number; error?: string }) => {
      if (m.id === undefined) return;
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
    const nodePath = await import('node:path');
    const { fileURLToPath } = await import('node:url');
    // Built, the worker is plain JS. From sources (npm start, tests), a worker thread does not
    // inherit the tsx loader, so a two-line bootstrap registers it before loading the .ts file.
    const ext = nodePath.extname(fileURLToPath(import.meta.url));
    const entry = new URL(`./sqlite-writer-worker${ext}`, import.meta.url);
    let worker: WorkerThread;
    if (ext === '.ts') {
      const api = import.meta.resolve('tsx/esm/api');
      const boot = `import(${JSON.stringify(api)}).then((m) => { m.register(); return import(${JSON.stringify(entry.href)}); });`;
      worker = new Worker(boot, { eval: true, workerData: { file } });
    } else {
      worker = new Worker(entry, { workerData: { file } });
    }
    // The thread opens the file itself: it answers once it can write, or says why it cannot.
    await new Promise<void>((resolve, reject) => {
      const onMessage = (m: { ready?: boolean; error?: string }) => {
        if (m.ready === undefined) return;
        worker.off('message', onMessage);
        worker.off('error', reject);
        worker.off('exit', onExit);
        if (m.ready) resolve();
        else reject(new Error(`the SQLite writer thread cannot open the file: ${m.error}`));
      };
      const onExit = (code: number) => reject(new Error(`the SQLite writer thread exited (${code}) before it was ready`));
      worker.on('message', onMessage);
      worker.once('error', reject);
      worker.once('exit', onExit);
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
  const store = new SqlStore(currentSchemaOnly(new PostgresDialect({ pool })), {
    dialect: 'postgres',
    openSession,
    retryMinMs: opts.retryMinMs,
    retryMaxMs: opts.retryMaxMs,
    closeTimeoutMs: opts.closeTimeoutMs,
  });
  try {
    await store.migrate();
  } catch (err) {
    await store.close();
    // Named as the operator wrote it, less any password.
    const where = new URL(url);
    if (where.password) where.password = '***';
    throw new StoreOpenError(`${where.href}${schema ? ` (schema ${schema})` : ''}`, describe(err), err);
  }
  return store;
}
