/**
 * Durable record of the app settings changed at run time (`presently/set_app_settings`).
 *
 * One row per app in its own table `app_settings (app, json, updated_at)`, made by the store's
 * migrations (migrations/0001-initial.ts), so the embedded SQLite store and a PostgreSQL one hold
 * it alike. `json` is a partial settings object: only the values an
 * admin changed through the API (rest/settings.ts decides the shape and how it is applied over
 * the config file's settings at start). A write is a single auto-committed upsert: with the
 * SQLite store (WAL, synchronous=FULL) it is on disk when `save` resolves, so the REST reply
 * that follows never acknowledges a change a crash could lose.
 */
import type { Kysely } from 'kysely';
import { SqlStore } from './sql.js';
import { migrateToLatest, type AnySchema } from './migrations/index.js';
import type { DurableStore } from './types.js';

export interface AppSettingsTable {
  app: number;
  /** JSON of the changed values (a partial settings object). */
  json: string;
  /** ms since the epoch of the last change. */
  updated_at: number;
}

/** The stored runtime changes of one app: a JSON object, validated by the caller. */
export type StoredOverrides = Record<string, unknown>;

export interface AppSettingsStore {
  /** Makes sure the table exists (SQL: the store's migrations, a no-op once they have run). */
  migrate(): Promise<void>;
  /** The stored changes of one app, or undefined when it has none. */
  load(app: number): Promise<{ overrides: StoredOverrides; updatedAt: number } | undefined>;
  /** Replaces the stored changes of one app; resolves once they are durable. */
  save(app: number, overrides: StoredOverrides, now: number): Promise<void>;
  /** Forgets the stored changes of one app. */
  remove(app: number): Promise<void>;
  /** True when the changes survive a restart of the process. */
  readonly durable: boolean;
}

function parse(app: number, json: string): StoredOverrides {
  const v: unknown = JSON.parse(json);
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new Error(`app_settings row of app ${app} is not a JSON object`);
  return v as StoredOverrides;
}

export class SqlAppSettingsStore implements AppSettingsStore {
  readonly durable = true;
  private readonly db: Kysely<{ app_settings: AppSettingsTable }>;

  // Any Kysely instance (the store's, whatever its schema type): the table is ours alone, so its
  // type is added here (withTables) instead of in the store's schema. Added to "any schema" it is
  // still "any schema": the assertion says which tables this class uses.
  constructor(db: Kysely<AnySchema>) {
    this.db = db.withTables<{ app_settings: AppSettingsTable }>() as Kysely<{ app_settings: AppSettingsTable }>;
  }

  async migrate(): Promise<void> {
    await migrateToLatest(this.db);
  }

  async load(app: number): Promise<{ overrides: StoredOverrides; updatedAt: number } | undefined> {
    const row = await this.db.selectFrom('app_settings').select(['json', 'updated_at']).where('app', '=', app).executeTakeFirst();
    // PostgreSQL returns bigint columns as strings.
    return row ? { overrides: parse(app, row.json), updatedAt: Number(row.updated_at) } : undefined;
  }

  async save(app: number, overrides: StoredOverrides, now: number): Promise<void> {
    const json = JSON.stringify(overrides);
    await this.db
      .insertInto('app_settings')
      .values({ app, json, updated_at: now })
      .onConflict((oc) => oc.column('app').doUpdateSet({ json, updated_at: now }))
      .execute();
  }

  async remove(app: number): Promise<void> {
    await this.db.deleteFrom('app_settings').where('app', '=', app).execute();
  }
}

/** For a store that is not SQL (tests, embedding): changes live as long as the process. */
export class MemoryAppSettingsStore implements AppSettingsStore {
  readonly durable = false;
  private readonly rows = new Map<number, { json: string; updatedAt: number }>();

  async migrate(): Promise<void> {}

  async load(app: number): Promise<{ overrides: StoredOverrides; updatedAt: number } | undefined> {
    const row = this.rows.get(app);
    return row ? { overrides: parse(app, row.json), updatedAt: row.updatedAt } : undefined;
  }

  async save(app: number, overrides: StoredOverrides, now: number): Promise<void> {
    this.rows.set(app, { json: JSON.stringify(overrides), updatedAt: now });
  }

  async remove(app: number): Promise<void> {
    this.rows.delete(app);
  }
}

/** The settings store that goes with a durable store: the same database when it is SQL. */
export function appSettingsStoreFor(store: DurableStore): AppSettingsStore {
  return store instanceof SqlStore ? new SqlAppSettingsStore(store.db) : new MemoryAppSettingsStore();
}
