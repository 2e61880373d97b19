/**
 * 0001: the schema as every server before versioned migrations made it, table for table, column
 * for column (the same schema-builder calls, so the same DDL). CREATE … IF NOT EXISTS throughout:
 * a database made by such a server is adopted as it is (its tables are kept, only missing ones are
 * made), an empty one gets everything. migrations.test.ts checks both against that old DDL.
 */
import { sql } from 'kysely';
import { PG_LOCK } from '../pg-locks.js';
import type { PresentlyMigration } from './index.js';

export const initial: PresentlyMigration = {
  name: '0001_initial',
  async up(db, dialect): Promise<void> {
    if (dialect === 'postgres') {
      // A server of an earlier version starting at the same moment takes this lock, not the
      // migrator's, around its own CREATE … IF NOT EXISTS: take it too.
      await sql`SELECT pg_advisory_xact_lock(${sql.lit(PG_LOCK.migrate)}, hashtext(current_schema()))`.execute(db);
    }
    const s = db.schema;
    // --- the durable facts (store/sql.ts) ---
    await s
      .createTable('accounts')
      .ifNotExists()
      .addColumn('app', 'bigint', (c) => c.notNull())
      .addColumn('user_id', 'text', (c) => c.notNull())
      .addColumn('login_keys', 'text', (c) => c.notNull().defaultTo('[]'))
      .addColumn('kicked_at', 'bigint', (c) => c.notNull().defaultTo(0))
      .addColumn('offline_since', 'bigint', (c) => c.notNull().defaultTo(0))
      .addColumn('nick', 'text', (c) => c.notNull().defaultTo(''))
      .addColumn('face_url', 'text', (c) => c.notNull().defaultTo(''))
      .addColumn('version', 'bigint', (c) => c.notNull().defaultTo(0))
      .addPrimaryKeyConstraint('accounts_pk', ['app', 'user_id'])
      .execute();
    await s
      .createTable('friends')
      .ifNotExists()
      .addColumn('app', 'bigint', (c) => c.notNull())
      .addColumn('from_id', 'text', (c) => c.notNull())
      .addColumn('to_id', 'text', (c) => c.notNull())
      .addColumn('remark', 'text', (c) => c.notNull().defaultTo(''))
      .addColumn('groups', 'text', (c) => c.notNull().defaultTo('[]'))
      .addColumn('add_source', 'text', (c) => c.notNull().defaultTo(''))
      .addColumn('add_time', 'bigint', (c) => c.notNull().defaultTo(0))
      .addPrimaryKeyConstraint('friends_pk', ['app', 'from_id', 'to_id'])
      .execute();
    await s
      .createTable('subscriptions')
      .ifNotExists()
      .addColumn('app', 'bigint', (c) => c.notNull())
      .addColumn('user_id', 'text', (c) => c.notNull())
      .addColumn('target', 'text', (c) => c.notNull())
      .addColumn('seq', 'bigint', (c) => c.notNull())
      .addPrimaryKeyConstraint('subscriptions_pk', ['app', 'user_id', 'target'])
      .execute();
    await s
      .createTable('account_tombstones')
      .ifNotExists()
      .addColumn('app', 'bigint', (c) => c.notNull())
      .addColumn('user_id', 'text', (c) => c.notNull())
      .addColumn('deleted_at', 'bigint', (c) => c.notNull())
      .addPrimaryKeyConstraint('account_tombstones_pk', ['app', 'user_id'])
      .execute();
    await s
      .createTable('presently_meta')
      .ifNotExists()
      .addColumn('key', 'text', (c) => c.primaryKey())
      .addColumn('value', 'text', (c) => c.notNull())
      .execute();
    // --- the webhook outbox (webhooks/outbox.ts) ---
    await s
      .createTable('webhook_outbox')
      .ifNotExists()
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('seq', 'bigint', (c) => c.notNull())
      .addColumn('app', 'bigint', (c) => c.notNull())
      .addColumn('user_id', 'text', (c) => c.notNull())
      .addColumn('query', 'text', (c) => c.notNull())
      .addColumn('body', 'text', (c) => c.notNull())
      .addColumn('status', 'text', (c) => c.notNull().defaultTo('pending'))
      .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0))
      .addColumn('next_at', 'bigint', (c) => c.notNull().defaultTo(0))
      .addColumn('last_error', 'text', (c) => c.notNull().defaultTo(''))
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .addColumn('updated_at', 'bigint', (c) => c.notNull())
      .execute();
    await s.createIndex('webhook_outbox_status_seq').ifNotExists().on('webhook_outbox').columns(['status', 'seq']).execute();
    // A cluster's outbox numbers its rows from a sequence (outbox.ts explains why).
    if (dialect === 'postgres') await sql`CREATE SEQUENCE IF NOT EXISTS webhook_outbox_seq`.execute(db);
    // --- app settings changed at run time (store/app-settings.ts) ---
    await s
      .createTable('app_settings')
      .ifNotExists()
      .addColumn('app', 'bigint', (c) => c.primaryKey())
      .addColumn('json', 'text', (c) => c.notNull())
      .addColumn('updated_at', 'bigint', (c) => c.notNull())
      .execute();
  },
};
