/**
 * Executes batches of engine mutations on the embedded SQLite file with better-sqlite3, in one
 * synchronous transaction per batch. The statements are batch.ts's, the same the PostgreSQL store
 * runs: compiled here by a Kysely that only compiles (no connection), executed as prepared
 * statements. Runs in the writer thread (sqlite-writer-worker.ts), or on the main thread for an
 * in-memory database.
 */
import { DummyDriver, Kysely, SqliteAdapter, SqliteIntrospector, SqliteQueryCompiler, type CompiledQuery } from 'kysely';
import type { Database as SqliteDb, Statement } from 'better-sqlite3';
import type { Mutation } from '../engine/types.js';
import { batchQueries } from './batch.js';
import type { Schema } from './schema.js';

/** Compiles SQLite statements; never connects. */
const compiler = new Kysely<Schema>({
  dialect: {
    createAdapter: () => new SqliteAdapter(),
    createDriver: () => new DummyDriver(),
    createIntrospector: (db) => new SqliteIntrospector(db),
    createQueryCompiler: () => new SqliteQueryCompiler(),
  },
});

/** Distinct statement texts kept prepared (a multi-row statement's text depends on its row count). */
const PREPARED_MAX = 256;

/** A batch writer for `db`: batch.ts's statements, prepared once per text, in one transaction. */
export function sqliteWriter(db: SqliteDb): (batch: Mutation[]) => void {
  const prepared = new Map<string, Statement>();
  const statement = (text: string): Statement => {
    let st = prepared.get(text);
    if (st) {
      // Most recently used last: the oldest goes first when the cache is full.
      prepared.delete(text);
    } else {
      st = db.prepare(text);
      if (prepared.size >= PREPARED_MAX) prepared.delete(prepared.keys().next().value!);
    }
    prepared.set(text, st);
    return st;
  };
  const run = db.transaction((queries: CompiledQuery[]) => {
    for (const q of queries) statement(q.sql).run(...(q.parameters as unknown[]));
  });
  return (batch) => {
    if (batch.length > 0) run(batchQueries(compiler, batch));
  };
}

/** Opens the file as the store does: WAL, and a commit is on disk before it returns (FULL). */
export function configure(db: SqliteDb): void {
  // WAL with synchronous=FULL: a committed batch survives a crash of the process or the machine.
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = FULL');
  db.pragma('busy_timeout = 5000');
}
