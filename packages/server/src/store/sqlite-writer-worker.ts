/**
 * The SQLite writer thread: commits the store's batches (synchronous=FULL, so each commit waits
 * for the disk) away from the event loop that serves the sockets. It first says it is ready (or
 * why it cannot open the file); then one message per batch, answered once committed, in order.
 */
import { parentPort, workerData } from 'node:worker_threads';
import Database from 'better-sqlite3';
import type { Mutation } from '../engine/types.js';
import { configure, sqliteWriter } from './sqlite-writer.js';

let write: (batch: Mutation[]) => void;
try {
  const db = new Database((workerData as { file: string }).file);
  configure(db);
  write = sqliteWriter(db);
  parentPort?.postMessage({ ready: true });
} catch (err) {
  parentPort?.postMessage({ ready: false, error: err instanceof Error ? err.message : String(err) });
  process.exit(1);
}
parentPort?.on('message', (m: { id: number; batch: Mutation[] }) => {
  try {
    write(m.batch);
    parentPort?.postMessage({ id: m.id });
  } catch (err) {
    parentPort?.postMessage({ id: m.id, error: err instanceof Error ? err.message : String(err) });
  }
});
