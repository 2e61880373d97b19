/**
 * 0002: `accounts.version` for databases made before accounts had it (0001 keeps such a table as
 * it is). Earlier versions added it ad hoc at each start; on any other database this does nothing.
 */
import { sql } from 'kysely';
import type { PresentlyMigration } from './index.js';

export const accountsVersion: PresentlyMigration = {
  name: '0002_accounts_version',
  async up(db, dialect): Promise<void> {
    if (dialect === 'postgres') {
      // In the current schema (the store's).
      await sql`ALTER TABLE accounts ADD COLUMN IF NOT EXISTS version bigint NOT NULL DEFAULT 0`.execute(db);
      return;
    }
    const { rows } = await sql<{ name: string }>`SELECT name FROM pragma_table_info('accounts')`.execute(db);
    if (!rows.some((c) => c.name === 'version')) {
      await db.schema
        .alterTable('accounts')
        .addColumn('version', 'bigint', (c) => c.notNull().defaultTo(0))
        .execute();
    }
  },
};
