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
