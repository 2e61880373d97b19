/**
 * The webhook outbox: every event an app's receiver must hear, kept until it is acknowledged
 * (then deleted) or has used up its attempts (then kept as a dead letter with its last error).
 *
 * With a SQL store the outbox is the table `webhook_outbox` in the same database, made by the
 * store's migrations (store/migrations/), so SQLite and PostgreSQL hold it alike. With any other
 * store it lives in memory: delivery works the same, but undelivered events do not survive a
 * restart (the dispatcher logs a warning once).
 *
 * On PostgreSQL the outbox is shared by every process of a cluster (`shared`): each writes its
 * events, one delivers them all (leadership.ts). A row's `seq` then comes from the database
 * sequence `webhook_outbox_seq`, taken and committed under a transaction-scoped advisory lock,
 * so seqs are unique across processes *and* become visible in increasing order: a reader that
 * has seen every row up to seq N never later finds a new row at or below N, which lets the
 * delivering process read new rows with `loadPending(cursor)` alone. (A sequence without the
 * lock gives unique seqs, but a transaction holding seq 10 may commit after one holding 11; a
 * reader past 11 would never deliver 10.) Only inserting transactions take the lock, for the
 * length of one small transaction.
 */
import { sql, type Kysely } from 'kysely';
import { PG_LOCK, SqlStore } from '../store/sql.js';
import type { DurableStore } from '../store/types.js';
import type { LeaseSession } from './leadership.js';
import { inTransaction } from '../store/errors.js';

export type OutboxStatus = 'pending' | 'dead';

/** One event waiting for delivery. */
export interface OutboxRow {
  /** Unique id of the event (a UUID), sent as X-Presently-Event-Id on every attempt. */
  id: string;
  /**
   * Order of the events: per user, rows are delivered in `seq` order. Assigned by the process
   * (one process) or by the database at commit (`shared`: `write` sets it).
   */
  seq: number;
  app: number;
  userID: string;
  /** The callback's query string (without the receiver's own URL). */
  query: string;
  /** The JSON body, as sent. */
  body: string;
  /** Attempts made so far. */
  attempts: number;
  /** Earliest time of the next attempt, ms. */
  nextAt: number;
  createdAt: number;
}

export interface DeadLetter {
  id: string;
  app: number;
  userID: string;
  query: string;
  body: string;
  attempts: number;
  lastError: string;
  createdAt: number;
  /** When the last attempt failed, ms. */
  deadAt: number;
}

/** A change to the outbox; a batch of them is written in one transaction. */
export type OutboxOp =
  | { t: 'insert'; row: OutboxRow }
  | { t: 'delete'; id: string }
  | { t: 'retry'; id: string; attempts: number; nextAt: number; error: string; at: number }
  | { t: 'dead'; id: string; attempts: number; error: string; at: number };

export interface OutboxBackend {
  /** True when rows survive a restart of the process. */
  readonly durable: boolean;
  /**
   * True when several processes write to it (PostgreSQL): `write` assigns the seq of each
   * inserted row itself (in commit order, see above) and sets it on `op.row`, and only the
   * process holding the delivery lease (`openSession`) delivers.
   */
  readonly shared?: boolean;
  /** A shared backend: opens a dedicated connection for the delivery lease (leadership.ts). */
  openSession?(): Promise<LeaseSession>;
  /** Makes sure the table exists (SQL: the store's migrations). */
  migrate(): Promise<void>;
  /** Highest `seq` stored (pending or dead), 0 when empty: new rows continue after it. */
  maxSeq(): Promise<number>;
  /** Applies the ops in one transaction, in order. Shared: sets `row.seq` of the inserted rows. */
  write(ops: OutboxOp[]): Promise<void>;
  /** Pending rows with `seq` > afterSeq, oldest first. */
  loadPending(afterSeq: number, limit: number): Promise<OutboxRow[]>;
  /** Dead letters, most recent first. */
  deadLetters(q: { app?: number; limit: number }): Promise<DeadLetter[]>;
  count(status: OutboxStatus): Promise<number>;
}

interface OutboxTable {
  id: string;
  seq: number;
  app: number;
  user_id: string;
  query: string;
  body: string;
  status: OutboxStatus;
  attempts: number;
  next_at: number;
  last_error: string;
  created_at: number;
  updated_at: number;
}
type OutboxDb = { webhook_outbox: OutboxTable };

/** Rows per INSERT or DELETE … IN: well below SQLite's bound-parameter limit. */
const CHUNK = 200;

function chunks<T>(all: T[], n: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < all.length; i += n) out.push(all.slice(i, i + n));
  return out;
}

/** The transaction-scoped lock under which seqs are taken and committed (per schema). */
const SEQ_LOCK = sql`SELECT pg_advisory_xact_lock(${sql.lit(PG_LOCK.outboxSeq)}, hashtext(current_schema()))`;

export class SqlOutbox implements OutboxBackend {
  readonly durable = true;
  readonly shared: boolean;
  private readonly db: Kysely<OutboxDb>;

  constructor(private readonly store: SqlStore) {
    // The table is ours alone: extend the store's schema type instead of editing it.
    this.db = (store.db as unknown as Kysely<object>).withTables<OutboxDb>();
    this.shared = store.dialect === 'postgres';
  }

  openSession(): Promise<LeaseSession> {
    return this.store.openSession();
  }

  /** The table, its index and (PostgreSQL) its sequence are the store's migrations' (a no-op once they ran). */
  async migrate(): Promise<void> {
    await this.store.migrate();
  }

  async maxSeq(): Promise<number> {
    const row = await this.db
      .selectFrom('webhook_outbox')
      .select((eb) => eb.fn.max('seq').as('m'))
      .executeTakeFirst();
    // PostgreSQL returns bigint columns as strings; an empty table gives null.
    return Number(row?.m ?? 0);
  }

  async write(ops: OutboxOp[]): Promise<void> {
    if (ops.length === 0) return;
    await inTransaction(this.db, async (trx) => {
      const fresh = ops.flatMap((op) => (op.t === 'insert' ? [op.row] : []));
      if (this.shared && fresh.length > 0) {
        // Taken anew at each attempt (a failed attempt's seqs may be below rows committed since).
        await SEQ_LOCK.execute(trx);
        const { rows } = await sql<{ s: string }>`SELECT nextval('webhook_outbox_seq')::text AS s FROM generate_series(1, ${fresh.length}::int)`.execute(trx);
        const seqs = rows.map((r) => Number(r.s)).sort((a, b) => a - b);
        fresh.forEach((r, i) => (r.seq = seqs[i]!));
      }
      await this.apply(trx, ops);
    });
  }

  private async apply(trx: Kysely<OutboxDb>, ops: OutboxOp[]): Promise<void> {
    const inserts: OutboxTable[] = [];
    const deletes: string[] = [];
    for (const op of ops) {
      if (op.t === 'insert') {
        const r = op.row;
        inserts.push({
          id: r.id,
          seq: r.seq,
          app: r.app,
          user_id: r.userID,
          query: r.query,
          body: r.body,
          status: 'pending',
          attempts: r.attempts,
          next_at: r.nextAt,
          last_error: '',
          created_at: r.createdAt,
          updated_at: r.createdAt,
        });
      } else if (op.t === 'delete') deletes.push(op.id);
    }
    // A batch written again after an ambiguous failure must not fail on its own rows.
    for (const c of chunks(inserts, CHUNK))
      await trx
        .insertInto('webhook_outbox')
        .values(c)
        .onConflict((oc) => oc.column('id').doNothing())
        .execute();
    for (const op of ops) {
      if (op.t === 'retry') {
        await trx.updateTable('webhook_outbox').set({ attempts: op.attempts, next_at: op.nextAt, last_error: op.error, updated_at: op.at }).where('id', '=', op.id).execute();
      } else if (op.t === 'dead') {
        await trx.updateTable('webhook_outbox').set({ status: 'dead', attempts: op.attempts, last_error: op.error, updated_at: op.at }).where('id', '=', op.id).execute();
      }
    }
    for (const c of chunks(deletes, CHUNK)) await trx.deleteFrom('webhook_outbox').where('id', 'in', c).execute();
  }

  async loadPending(afterSeq: number, limit: number): Promise<OutboxRow[]> {
    const rows = await this.db
      .selectFrom('webhook_outbox')
      .select(['id', 'seq', 'app', 'user_id', 'query', 'body', 'attempts', 'next_at', 'created_at'])
      .where('status', '=', 'pending')
      .where('seq', '>', afterSeq)
      .orderBy('seq')
      .limit(limit)
      .execute();
    return rows.map((r) => ({
      id: r.id,
      seq: Number(r.seq),
      app: Number(r.app),
      userID: r.user_id,
      query: r.query,
      body: r.body,
      attempts: Number(r.attempts),
      nextAt: Number(r.next_at),
      createdAt: Number(r.created_at),
    }));
  }

  async deadLetters(q: { app?: number; limit: number }): Promise<DeadLetter[]> {
    let query = this.db.selectFrom('webhook_outbox').selectAll().where('status', '=', 'dead');
    if (q.app !== undefined) query = query.where('app', '=', q.app);
    const rows = await query.orderBy('updated_at', 'desc').orderBy('seq', 'desc').limit(q.limit).execute();
    return rows.map((r) => ({
      id: r.id,
      app: Number(r.app),
      userID: r.user_id,
      query: r.query,
      body: r.body,
      attempts: Number(r.attempts),
      lastError: r.last_error,
      createdAt: Number(r.created_at),
      deadAt: Number(r.updated_at),
    }));
  }

  async count(status: OutboxStatus): Promise<number> {
    const row = await this.db
      .selectFrom('webhook_outbox')
      .select((eb) => eb.fn.countAll().as('n'))
      .where('status', '=', status)
      .executeTakeFirst();
    return Number(row?.n ?? 0);
  }
}

interface MemoryRow extends OutboxRow {
  status: OutboxStatus;
  lastError: string;
  updatedAt: number;
}

/** For a store that is not SQL (tests, embedding): the outbox lives as long as the process. */
export class MemoryOutbox implements OutboxBackend {
  readonly durable = false;
  /** Map order is insertion order, which is `seq` order. */
  private readonly rows = new Map<string, MemoryRow>();

  async migrate(): Promise<void> {}

  async maxSeq(): Promise<number> {
    let m = 0;
    for (const r of this.rows.values()) if (r.seq > m) m = r.seq;
    return m;
  }

  async write(ops: OutboxOp[]): Promise<void> {
    for (const op of ops) {
      if (op.t === 'insert') {
        if (!this.rows.has(op.row.id)) this.rows.set(op.row.id, { ...op.row, status: 'pending', lastError: '', updatedAt: op.row.createdAt });
        continue;
      }
      if (op.t === 'delete') {
        this.rows.delete(op.id);
        continue;
      }
      const r = this.rows.get(op.id);
      if (!r) continue;
      r.attempts = op.attempts;
      r.lastError = op.error;
      r.updatedAt = op.at;
      if (op.t === 'retry') r.nextAt = op.nextAt;
      else r.status = 'dead';
    }
  }

  async loadPending(afterSeq: number, limit: number): Promise<OutboxRow[]> {
    const out: OutboxRow[] = [];
    for (const r of this.rows.values()) {
      if (out.length >= limit) break;
      if (r.status !== 'pending' || r.seq <= afterSeq) continue;
      out.push({ id: r.id, seq: r.seq, app: r.app, userID: r.userID, query: r.query, body: r.body, attempts: r.attempts, nextAt: r.nextAt, createdAt: r.createdAt });
    }
    return out;
  }

  async deadLetters(q: { app?: number; limit: number }): Promise<DeadLetter[]> {
    return [...this.rows.values()]
      .filter((r) => r.status === 'dead' && (q.app === undefined || r.app === q.app))
      .sort((a, b) => b.updatedAt - a.updatedAt || b.seq - a.seq)
      .slice(0, q.limit)
      .map((r) => ({
        id: r.id,
        app: r.app,
        userID: r.userID,
        query: r.query,
        body: r.body,
        attempts: r.attempts,
        lastError: r.lastError,
        createdAt: r.createdAt,
        deadAt: r.updatedAt,
      }));
  }

  async count(status: OutboxStatus): Promise<number> {
    let n = 0;
    for (const r of this.rows.values()) if (r.status === status) n++;
    return n;
  }
}

/** The outbox that goes with a durable store: the same database when it is SQL. */
export function outboxFor(store: DurableStore): OutboxBackend {
  return store instanceof SqlStore ? new SqlOutbox(store) : new MemoryOutbox();
}
