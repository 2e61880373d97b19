/**
 * PostgreSQL for unit tests of the stores: 127.0.0.1:5432 here (TEST_DATABASE_URL to change it).
 * Without it the PostgreSQL cases skip loudly; under CI=true they must run, so its absence fails.
 */
export const PG_URL = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

/** Whether a PostgreSQL server answers at `url` (within 2 s). */
export async function postgresReachable(url = PG_URL): Promise<boolean> {
  const { default: pg } = await import('pg');
  const c = new pg.Client({ connectionString: url, connectionTimeoutMillis: 2000 });
  try {
    await c.connect();
    await c.end();
    return true;
  } catch {
    return false;
  }
}

/** `false` when PostgreSQL can be used; else the skip reason (printed). Throws under CI=true. */
export async function postgresSkip(what: string): Promise<string | false> {
  if (await postgresReachable()) return false;
  const msg = `PostgreSQL is not reachable at ${PG_URL}`;
  if (process.env.CI === 'true') throw new Error(`${msg}: CI must run ${what}`);
  console.warn(`\n*** ${msg}: SKIPPING ${what} ***\n`);
  return msg;
}

/** A schema name no other test run uses. */
export function freshSchema(prefix: string): string {
  return `${prefix}_${process.pid}_${Math.floor(Math.random() * 1e9)}`;
}

/** Runs one statement on its own connection (CREATE/DROP DATABASE cannot run in a pool's transaction). */
export async function pgQuery(statement: string, url = PG_URL): Promise<void> {
  const { default: pg } = await import('pg');
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    await c.query(statement);
  } finally {
    await c.end();
  }
}

export async function dropSchema(schema: string): Promise<void> {
  await pgQuery(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
}
