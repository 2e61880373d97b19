/**
 * Writes batches of engine mutations to the embedded SQLite file with prepared statements in one
 * synchronous transaction (the same statements as the Kysely path of SqlStore). Runs in the
 * writer thread (sqlite-writer-worker.ts), or on the main thread for an in-memory database.
 */
import type { Mutation } from '../engine/types.js';

type SqliteDb = import('better-sqlite3').Database;

/** The same statements as `apply`, prepared once, run in one synchronous transaction per batch. */
export function sqliteWriter(db: SqliteDb): (batch: Mutation[]) => void {
  const upsertAccount = db.prepare(
    `INSERT INTO accounts (app, user_id, login_keys, kicked_at, offline_since, nick, face_url, version) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
     ON CONFLICT (app, user_id) DO UPDATE SET login_keys = excluded.login_keys, kicked_at = excluded.kicked_at,
       offline_since = excluded.offline_since, nick = excluded.nick, face_url = excluded.face_url, version = excluded.version
     WHERE accounts.version <= excluded.version`,
  );
  const deleteAccount = db.prepare('DELETE FROM accounts WHERE app = ? AND user_id = ?');
  const tombstone = db.prepare(
    `INSERT INTO account_tombstones (app, user_id, deleted_at) VALUES (?, ?, ?)
     ON CONFLICT (app, user_id) DO UPDATE SET deleted_at = excluded.deleted_at`,
  );
  const addFriend = db.prepare(
    `INSERT INTO friends (app, from_id, to_id, remark, groups, add_source, add_time) VALUES (?, ?, ?, ?, ?, ?, ?)
     ON CONFLICT (app, from_id, to_id) DO UPDATE SET remark = excluded.remark, groups = excluded.groups,
       add_source = excluded.add_source, add_time = excluded.add_time`,
  );
  const removeFriend = db.prepare('DELETE FROM friends WHERE app = ? AND from_id = ? AND to_id = ?');
  const addSub = db.prepare(
    `INSERT INTO subscriptions (app, user_id, target, seq) VALUES (?, ?, ?, ?)
     ON CONFLICT (app, user_id, target) DO UPDATE SET seq = excluded.seq`,
  );
  const removeSub = db.prepare('DELETE FROM subscriptions WHERE app = ? AND user_id = ? AND target = ?');
  const run = db.transaction((batch: Mutation[]) => {
    for (const m of batch) {
      switch (m.t) {
        case 'account':
          upsertAccount.run(m.app, m.userID, JSON.stringify(m.loginKeys), m.kickedAt, m.offlineSince, m.nick ?? '', m.faceUrl ?? '', m.v ?? 0);
          break;
        case 'accountDelete':
          deleteAccount.run(m.app, m.userID);
          tombstone.run(m.app, m.userID, m.deletedAt);
          break;
        case 'friendAdd':
          addFriend.run(m.app, m.from, m.to, m.remark, JSON.stringify(m.groups), m.addSource, m.addTime);
          break;
        case 'friendRemove':
          removeFriend.run(m.app, m.from, m.to);
          break;
        case 'subAdd':
          addSub.run(m.app, m.userID, m.target, m.seq);
          break;
        case 'subRemove':
          removeSub.run(m.app, m.userID, m.target);
          break;
      }
    }
  });
  return (batch) => run(batch);
}

/** Opens the file as the store does: WAL, and a commit is on disk before it returns (FULL). */
export function configure(db: SqliteDb): void {
  // WAL with synchronous=FULL: a committed batch survives a crash of the process or the machine.
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = FULL');
  db.pragma('busy_timeout = 5000');
}
