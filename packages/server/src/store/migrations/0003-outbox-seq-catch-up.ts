/**
 * 0003 (PostgreSQL): the outbox sequence continues above every row already stored. An outbox
 * written before the sequence existed (0001 makes it afresh at 1) would otherwise hand out seqs
 * at or below rows it holds. Earlier versions did this ad hoc at each start. Under the outbox's
 * seq lock, so no process of an earlier version inserts rows meanwhile. SQLite numbers outbox
 * rows in the process: nothing to do.
 */
import { sql } from 'kysely';
import { PG_LOCK } from '../pg-locks.js';
import type { PresentlyMigration } from './index.js';

export const outboxSeqCatchUp: PresentlyMigration = {
  name: '0003_outbox_seq_catch_up',
  async up(db, dialect): Promise<void> {
    if (dialect !== 'postgres') return;
    await sql`SELECT pg_advisory_xact_lock(${sql.lit(PG_LOCK.outboxSeq)}, hashtext(current_schema()))`.execute(db);
    await sql`SELECT setval('webhook_outbox_seq', m)
      FROM (SELECT max(seq) AS m FROM webhook_outbox) t
      WHERE m IS NOT NULL
        AND m > (SELECT CASE WHEN is_called THEN last_value ELSE last_value - 1 END FROM webhook_outbox_seq)`.execute(db);
  },
};
