/**
 * The schema of every table the server keeps in SQL (the store's, the webhook outbox's, the
 * run-time app settings'), as ONE ordered list of migrations, run by Kysely's `Migrator` for
 * SQLite and PostgreSQL alike. Nothing else creates or alters a table.
 *
 * - The applied migrations are recorded in `presently_migration` (in the store's schema on
 *   PostgreSQL); `presently_migration_lock` is the migrator's lock row.
 * - PostgreSQL: every run holds Kysely's session-level advisory lock and applies its pending
 *   migrations in one transaction, so processes starting together (a cluster) migrate one after
 *   another, and the later ones find nothing left to do. SQLite: one transaction too (see
 *   `transactionalDdl`), and the data-dir lock (lock.ts) keeps any other process out.
 * - Migration 0001 is the schema as it was before migrations were versioned, written with
 *   CREATE … IF NOT EXISTS: on an empty database it makes every table; on a database made by an
 *   earlier version it adopts what is there and adds only what is missing. The later ones are the
 *   upgrades earlier versions did ad hoc at each start, each idempotent for the same reason.
 *
 * A new migration: a new file `NNNN-what.ts` exporting a `PresentlyMigration`, appended to
 * MIGRATIONS below with the next number (names sort in order). Never edit or reorder one that
 * has shipped: a database records the names it applied, and a server that finds a name it does
 * not know (a newer version ran there) refuses to start.
 */
import {
  type Kysely,
  Migrator,
  PostgresAdapter,
  SqliteAdapter,
  sql,
  type DatabaseIntrospector,
  type Dialect,
  type DialectAdapter,
  type Driver,
  type Migration,
  type MigrationProvider,
  type QueryCompiler,
  type TableMetadata,
} from 'kysely';
import { initial } from './0001-initial.js';
import { accountsVersion } from './0002-accounts-version.js';
import { outboxSeqCatchUp } from './0003-outbox-seq-catch-up.js';

export type SqlDialectName = 'sqlite' | 'postgres';

/**
 * The schema type of a Kysely whose tables are not typed here: what a migration gets (it must not
 * depend on today's schema types), and what code that takes the store's Kysely, whatever its
 * schema, accepts. Kysely spells that `Kysely<AnySchema>` itself (`Migration.up`, `Migrator`):
 * `Kysely<unknown>` would not accept a `Kysely<Schema>`.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- the one `any`: Kysely's own type for "any schema", see above.
export type AnySchema = any;

export interface PresentlyMigration {
  /** Sorts after every earlier migration's name: `NNNN_what`. */
  name: string;
  up(db: Kysely<AnySchema>, dialect: SqlDialectName): Promise<void>;
}

/** Every migration, oldest first. Append only. */
export const MIGRATIONS: readonly PresentlyMigration[] = [initial, accountsVersion, outboxSeqCatchUp];

/** The table recording applied migrations, and the migrator's lock table. */
export const MIGRATION_TABLE = 'presently_migration';
export const MIGRATION_LOCK_TABLE = 'presently_migration_lock';

/** Kysely's provider for the list above, bound to one dialect. */
export class PresentlyMigrationProvider implements MigrationProvider {
  constructor(private readonly dialect: SqlDialectName) {}

  async getMigrations(): Promise<Record<string, Migration>> {
    const out: Record<string, Migration> = {};
    let previous = '';
    for (const m of MIGRATIONS) {
      // Kysely applies them in the order of their names: the list's order must be that order.
      if (m.name <= previous) throw new Error(`migration ${m.name} is out of order (after ${previous})`);
      previous = m.name;
      out[m.name] = { up: (db) => m.up(db, this.dialect) };
    }
    return out;
  }
}

export function dialectOf(db: Kysely<AnySchema>): SqlDialectName {
  return db.getExecutor().adapter instanceof PostgresAdapter ? 'postgres' : 'sqlite';
}

/** Why a database cannot be migrated, in one line (a start-up error names it). */
export class MigrationError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'MigrationError';
  }
}

/** A migrator for the store's database (PostgreSQL: for the schema the connection works in). */
export async function migratorFor(db: Kysely<AnySchema>): Promise<Migrator> {
  const dialect = dialectOf(db);
  let schema: string | undefined;
  if (dialect === 'postgres') {
    // Kysely looks for its tables in every schema of the database unless told which one: the
    // store's tables live in the connection's current schema, and so do the migration tables.
    const { rows } = await sql<{ s: string | null }>`SELECT current_schema() AS s`.execute(db);
    schema = rows[0]?.s ?? undefined;
    if (!schema) throw new MigrationError('no schema to create the tables in: the search_path names no existing schema');
  }
  return new Migrator({
    db,
    provider: new PresentlyMigrationProvider(dialect),
    migrationTableName: MIGRATION_TABLE,
    migrationLockTableName: MIGRATION_LOCK_TABLE,
    ...(schema ? { migrationTableSchema: schema } : {}),
  });
}

/**
 * Applies every pending migration; resolves with the names applied (none when up to date).
 * Refuses a database that a newer version migrated further than this one knows.
 */
export async function migrateToLatest(db: Kysely<AnySchema>): Promise<string[]> {
  const migrator = await migratorFor(db);
  const { error, results } = await migrator.migrateToLatest();
  if (error) {
    const msg = messageOf(error);
    const unknown = /previously executed migration (\S+) is missing/.exec(msg);
    if (unknown) {
      throw new MigrationError(`the database was migrated by a newer version of Presently (migration ${unknown[1]} is unknown to this one): run that version or a later one`, {
        cause: error,
      });
    }
    const failed = results?.find((r) => r.status === 'Error')?.migrationName;
    throw new MigrationError(`${failed ? `migration ${failed} failed` : 'migrating failed'}: ${msg}`, { cause: error });
  }
  return (results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName);
}

/** The message of anything thrown (the migrator hands back what a migration threw, typed unknown). */
function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** SQLite runs DDL in transactions; Kysely's adapter says otherwise only to stay on the safe side. */
class TransactionalSqliteAdapter extends SqliteAdapter {
  override get supportsTransactionalDdl(): boolean {
    return true;
  }
}

/**
 * A SQLite dialect whose migrations run in one transaction, as PostgreSQL's do: a start that dies
 * half-way through a migration leaves the database as it was before it.
 */
export function transactionalDdl(inner: Dialect): Dialect {
  return {
    createDriver: (): Driver => inner.createDriver(),
    createQueryCompiler: (): QueryCompiler => inner.createQueryCompiler(),
    createAdapter: (): DialectAdapter => new TransactionalSqliteAdapter(),
    createIntrospector: (db: Kysely<AnySchema>): DatabaseIntrospector => inner.createIntrospector(db),
  };
}

/**
 * Kysely's PostgreSQL introspector, which the migrator asks whether its tables exist, reads every
 * schema of the database; a schema dropped meanwhile by someone else (another store's tests, an
 * operator) fails that read. The store looks only at its own schema: this dialect's introspector
 * sees the current schema alone.
 */
export function currentSchemaOnly(inner: Dialect): Dialect {
  return {
    createDriver: (): Driver => inner.createDriver(),
    createQueryCompiler: (): QueryCompiler => inner.createQueryCompiler(),
    createAdapter: (): DialectAdapter => inner.createAdapter(),
    createIntrospector: (db: Kysely<AnySchema>): DatabaseIntrospector => new CurrentSchemaIntrospector(db),
  };
}

class CurrentSchemaIntrospector implements DatabaseIntrospector {
  constructor(private readonly db: Kysely<AnySchema>) {}

  async getSchemas(): Promise<Array<{ name: string }>> {
    const { rows } = await sql<{ name: string | null }>`SELECT current_schema() AS name`.execute(this.db);
    return rows.flatMap((r) => (r.name ? [{ name: r.name }] : []));
  }

  async getTables(): Promise<TableMetadata[]> {
    const { rows } = await sql<{ schema: string; table: string; kind: string; column: string | null; type: string | null; not_null: boolean | null; has_default: boolean | null }>`
      SELECT ns.nspname AS schema, c.relname AS table, c.relkind AS kind, a.attname AS column,
             format_type(a.atttypid, NULL) AS type, a.attnotnull AS not_null, a.atthasdef AS has_default
      FROM pg_catalog.pg_class c
      JOIN pg_catalog.pg_namespace ns ON ns.oid = c.relnamespace
      LEFT JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
      WHERE ns.nspname = current_schema() AND c.relkind IN ('r', 'v', 'p')
      ORDER BY c.relname, a.attnum`.execute(this.db);
    const tables = new Map<string, TableMetadata>();
    for (const r of rows) {
      let t = tables.get(r.table);
      if (!t) tables.set(r.table, (t = { name: r.table, schema: r.schema, isView: r.kind === 'v', columns: [] }));
      if (r.column !== null) {
        t.columns.push({ name: r.column, dataType: r.type ?? '', isNullable: !r.not_null, hasDefaultValue: !!r.has_default, isAutoIncrementing: false });
      }
    }
    return [...tables.values()];
  }

  async getMetadata(): Promise<{ tables: TableMetadata[] }> {
    return { tables: await this.getTables() };
  }
}
