import type { Kysely, Transaction } from 'kysely';

/**
 * A database the server cannot start on: the message names the file (or database) and the cause,
 * in one line, for the operator; `main` prints it without a stack trace and exits with code 2.
 */
export class StoreOpenError extends Error {
  constructor(
    /** The SQLite file, the data directory or the database, as the operator named it. */
    readonly where: string,
    readonly reason: string,
    cause?: unknown,
  ) {
    super(`${where}: ${reason}`, cause === undefined ? undefined : { cause });
    this.name = 'StoreOpenError';
  }
}

/** An error's message on one line, with SQLite's or the system's code when it has one. */
export function describe(err: unknown): string {
  const e = err as { message?: unknown; code?: unknown } | null;
  const message = typeof e?.message === 'string' ? e.message : String(err);
  const code = typeof e?.code === 'string' && !message.includes(e.code) ? ` (${e.code})` : '';
  return `${message}${code}`.replace(/\s*\n\s*/g, ' ');
}

/**
 * Runs `fn` in a transaction and, when it fails, rolls back and rethrows **its** error. Kysely's
 * `transaction()` rethrows the rollback's error instead when the rollback fails too, and SQLite
 * rolls a transaction back by itself on some errors (SQLITE_FULL, SQLITE_IOERR): its ROLLBACK
 * then fails with "cannot rollback - no transaction is active", which would hide a full disk.
 */
export async function inTransaction<DB, T>(db: Kysely<DB>, fn: (trx: Transaction<DB>) => Promise<T>): Promise<T> {
  const trx = await db.startTransaction().execute();
  try {
    const result = await fn(trx);
    await trx.commit().execute();
    return result;
  } catch (err) {
    await trx
      .rollback()
      .execute()
      .catch(() => undefined);
    throw err;
  }
}
