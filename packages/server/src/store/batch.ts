/**
 * The one place that turns a batch of engine mutations into SQL: every writer runs these
 * statements and no others — the PostgreSQL store and the portable SQLite path through Kysely,
 * the SQLite writer thread (and the in-memory database's main-thread writer) through
 * better-sqlite3 directly (sqlite-writer.ts). The caller executes.
 *
 * Each statement has a shape (which table, upsert or delete) and a row count. Its text is built by
 * Kysely once per shape and count, for the dialect of the Kysely given, and kept; the parameters
 * are the rows' values, in the order Kysely binds them (checked when the text is built). Building
 * the text is most of the cost of a write besides the commit itself, so it is not paid per batch.
 */
import { CompiledQuery, type Kysely } from 'kysely';
import type { Mutation } from '../engine/types.js';
import type { Schema } from './schema.js';

/** Rows per multi-row statement: well under SQLite's 32,766 and PostgreSQL's 65,535 bind parameters. */
const ROWS_PER_STATEMENT = 500;

/** Statement texts kept per Kysely (shape × row count); the least recently used goes first. */
const TEXTS_KEPT = 512;

type AccountWrite = Extract<Mutation, { t: 'account' }>;
type FriendWrite = Extract<Mutation, { t: 'friendAdd' | 'friendRemove' }>;
type SubWrite = Extract<Mutation, { t: 'subAdd' | 'subRemove' }>;
type Row = unknown[];

/**
 * The statements of the store, each built from rows of values (one array per row, in the
 * columns' order). Conflicts take the new row's values (`excluded`), so a row's values are all
 * the parameters a statement has.
 */
const SHAPES = {
  /** (app, user_id, login_keys, kicked_at, offline_since, nick, face_url, version) */
  upsertAccounts: (db: Kysely<Schema>, rows: Row[]) =>
    db
      .insertInto('accounts')
      .values(
        rows.map(([app, user_id, login_keys, kicked_at, offline_since, nick, face_url, version]) => ({
          app: app as number,
          user_id: user_id as string,
          login_keys: login_keys as string,
          kicked_at: kicked_at as number,
          offline_since: offline_since as number,
          nick: nick as string,
          face_url: face_url as string,
          version: version as number,
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
      ),
  /** (app, user_id) */
  deleteAccounts: (db: Kysely<Schema>, rows: Row[]) =>
    db.deleteFrom('accounts').where((eb) =>
      eb(
        eb.refTuple('app', 'user_id'),
        'in',
        rows.map(([app, user]) => eb.tuple(app as number, user as string)),
      ),
    ),
  /** (app, user_id, deleted_at) */
  upsertTombstones: (db: Kysely<Schema>, rows: Row[]) =>
    db
      .insertInto('account_tombstones')
      .values(rows.map(([app, user_id, deleted_at]) => ({ app: app as number, user_id: user_id as string, deleted_at: deleted_at as number })))
      .onConflict((oc) => oc.columns(['app', 'user_id']).doUpdateSet((eb) => ({ deleted_at: eb.ref('excluded.deleted_at') }))),
  /** (app, from_id, to_id, remark, groups, add_source, add_time) */
  upsertFriends: (db: Kysely<Schema>, rows: Row[]) =>
    db
      .insertInto('friends')
      .values(
        rows.map(([app, from_id, to_id, remark, groups, add_source, add_time]) => ({
          app: app as number,
          from_id: from_id as string,
          to_id: to_id as string,
          remark: remark as string,
          groups: groups as string,
          add_source: add_source as string,
          add_time: add_time as number,
        })),
      )
      .onConflict((oc) =>
        oc.columns(['app', 'from_id', 'to_id']).doUpdateSet((eb) => ({
          remark: eb.ref('excluded.remark'),
          groups: eb.ref('excluded.groups'),
          add_source: eb.ref('excluded.add_source'),
          add_time: eb.ref('excluded.add_time'),
        })),
      ),
  /** (app, from_id, to_id) */
  deleteFriends: (db: Kysely<Schema>, rows: Row[]) =>
    db.deleteFrom('friends').where((eb) =>
      eb(
        eb.refTuple('app', 'from_id', 'to_id'),
        'in',
        rows.map(([app, from, to]) => eb.tuple(app as number, from as string, to as string)),
      ),
    ),
  /** (app, user_id, target, seq) */
  upsertSubscriptions: (db: Kysely<Schema>, rows: Row[]) =>
    db
      .insertInto('subscriptions')
      .values(rows.map(([app, user_id, target, seq]) => ({ app: app as number, user_id: user_id as string, target: target as string, seq: seq as number })))
      .onConflict((oc) => oc.columns(['app', 'user_id', 'target']).doUpdateSet((eb) => ({ seq: eb.ref('excluded.seq') }))),
  /** (app, user_id, target) */
  deleteSubscriptions: (db: Kysely<Schema>, rows: Row[]) =>
    db.deleteFrom('subscriptions').where((eb) =>
      eb(
        eb.refTuple('app', 'user_id', 'target'),
        'in',
        rows.map(([app, user, target]) => eb.tuple(app as number, user as string, target as string)),
      ),
    ),
} satisfies Record<string, (db: Kysely<Schema>, rows: Row[]) => { compile(): CompiledQuery }>;

type Shape = keyof typeof SHAPES;

/** Statement texts by shape and row count, for one Kysely (one dialect). */
class Texts {
  private readonly kept = new Map<string, string>();

  constructor(private readonly db: Kysely<Schema>) {}

  /** The statement of `shape` for these rows: the kept text, the rows' values as parameters. */
  statement(shape: Shape, rows: Row[]): CompiledQuery {
    const key = `${shape}/${rows.length}`;
    let text = this.kept.get(key);
    if (text === undefined) {
      text = this.build(shape, rows.length, rows[0]!.length);
      if (this.kept.size >= TEXTS_KEPT) this.kept.delete(this.kept.keys().next().value!);
    } else {
      this.kept.delete(key); // most recently used last
    }
    this.kept.set(key, text);
    return CompiledQuery.raw(text, rows.flat());
  }

  /**
   * Kysely's text for `n` rows of `width` values. Built from distinct stand-in values, so that the
   * order of its parameters can be checked to be the rows' values, row by row, in column order.
   */
  private build(shape: Shape, n: number, width: number): string {
    const standIns = Array.from({ length: n }, (_, r) => Array.from({ length: width }, (_, c) => `\u0001${r}.${c}`));
    const compiled = SHAPES[shape](this.db, standIns).compile();
    const expected = standIns.flat();
    if (compiled.parameters.length !== expected.length || compiled.parameters.some((p, i) => p !== expected[i])) {
      throw new Error(`batch.ts: the parameters of ${shape} are not bound in row and column order`);
    }
    return compiled.sql;
  }
}

const textsOf = new WeakMap<Kysely<Schema>, Texts>();

/**
 * The statements that write one batch, as few as it can: per table, multi-row upserts and multi-row
 * deletes, instead of a statement per mutation (with PostgreSQL, a round trip each). A row's final
 * state depends only on that row's own mutations in order, so they are folded per key first: the
 * last add or remove of a friend or a subscription wins (one statement may not touch a row twice);
 * of an account's writes, the one from the latest log entry (ties: the last). An account deleted
 * in the batch keeps the exact order of its writes, a statement each: deletion is unconditional,
 * unlike the versioned upsert. Rows go sorted by key, so two nodes writing the same rows lock
 * them in the same order. Every statement is idempotent: a batch written again after a lost
 * commit reply leaves the same rows.
 */
export function batchQueries(db: Kysely<Schema>, batch: Mutation[]): CompiledQuery[] {
  let texts = textsOf.get(db);
  if (!texts) textsOf.set(db, (texts = new Texts(db)));
  const out: CompiledQuery[] = [];
  const put = (shape: Shape, rows: Row[]): void => {
    for (let i = 0; i < rows.length; i += ROWS_PER_STATEMENT) out.push(texts.statement(shape, rows.slice(i, i + ROWS_PER_STATEMENT)));
  };
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
    for (const m of batch) {
      if ((m.t !== 'account' && m.t !== 'accountDelete') || !deleted.has(rowKey(m.app, m.userID))) continue;
      if (m.t === 'account') put('upsertAccounts', [accountRow(m)]);
      else {
        put('deleteAccounts', [[m.app, m.userID]]);
        put('upsertTombstones', [[m.app, m.userID, m.deletedAt]]);
      }
    }
    for (const k of deleted) accounts.delete(k);
  }
  put('upsertAccounts', sortedValues(accounts).map(accountRow));
  const friendWrites = sortedValues(friends);
  put(
    'upsertFriends',
    friendWrites.flatMap((m) => (m.t === 'friendAdd' ? [[m.app, m.from, m.to, m.remark, JSON.stringify(m.groups), m.addSource, m.addTime]] : [])),
  );
  put(
    'deleteFriends',
    friendWrites.flatMap((m) => (m.t === 'friendRemove' ? [[m.app, m.from, m.to]] : [])),
  );
  const subWrites = sortedValues(subs);
  put(
    'upsertSubscriptions',
    subWrites.flatMap((m) => (m.t === 'subAdd' ? [[m.app, m.userID, m.target, m.seq]] : [])),
  );
  put(
    'deleteSubscriptions',
    subWrites.flatMap((m) => (m.t === 'subRemove' ? [[m.app, m.userID, m.target]] : [])),
  );
  return out;
}

function accountRow(m: AccountWrite): Row {
  return [m.app, m.userID, JSON.stringify(m.loginKeys), m.kickedAt, m.offlineSince, m.nick ?? '', m.faceUrl ?? '', m.v ?? 0];
}

/** A row's primary key as one string (the parts cannot hold a NUL). */
const rowKey = (...parts: Array<string | number>): string => parts.join('\0');

/** The map's values in the order of their keys. */
function sortedValues<T>(m: Map<string, T>): T[] {
  return [...m.keys()].sort().map((k) => m.get(k)!);
}
