/**
 * PostgreSQL advisory lock classes of the server (the first key of the two-key form; the second
 * is `hashtext(current_schema())`, so stores in different schemas of one database never meet).
 */
export const PG_LOCK = {
  /**
   * Held (transaction-scoped) while a server of a version before versioned migrations made its
   * tables; the first migration takes it too, so such a server and a newer one starting together
   * during a rolling upgrade never create tables at the same time. (Migrations themselves are
   * serialised by the migrator's own lock: migrations/index.ts.)
   */
  migrate: 0x50525301,
  /** Held (transaction-scoped) while outbox rows get their seq and commit (webhooks/outbox.ts). */
  outboxSeq: 0x50525302,
  /** Held (session-scoped) by the process that delivers webhooks (webhooks/leadership.ts). */
  webhookLeader: 0x50525303,
} as const;
