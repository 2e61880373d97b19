import type { AppSnapshot, Mutation } from '../engine/types.js';

/**
 * Durable data: accounts with their login state, friendships, subscriptions with their order
 * (design.md, "Stores"). Writes are queued by `persist` and committed in batches; `flush`
 * resolves once everything queued before the call is durable, so a request is acknowledged
 * only after its facts are on disk ("nothing acknowledged is ever lost").
 */
export interface DurableStore {
  /** Creates or upgrades the schema. */
  migrate(): Promise<void>;
  loadApp(app: number): Promise<AppSnapshot>;
  /** The durable facts of some users only (cluster v2 loads a user when a node needs it). */
  loadUsers?(app: number, userIDs: readonly string[]): Promise<AppSnapshot>;
  /** Who subscribes to, or has as a friend, any of some users (cluster v2: an account deletion). */
  loadWatchers?(app: number, userIDs: readonly string[]): Promise<string[]>;
  /** A page of an app's userIDs in byte order (cluster v2's console listing). */
  listAccountIds?(app: number, q: { prefix?: string; after?: string; limit: number }): Promise<string[]>;
  persist(m: Mutation): void;
  flush(): Promise<void>;
  /**
   * False while a write is failing (the database is unreachable) and being retried; true
   * otherwise. While false, `flush` waits: nothing queued is dropped, and the write goes again,
   * in order, until it lands.
   */
  healthy(): boolean;
  /** Why the write being retried failed last; null when healthy. */
  lastError?(): Error | null;
  /**
   * How long the write being committed has waited so far, ms (0 when none is in flight): a
   * database that stopped answering fails no write, it just never confirms one.
   */
  unconfirmedFor?(now: number): number;
  /** Values the server keeps for itself (e.g. the development app). */
  getMeta(key: string): Promise<string | undefined>;
  setMeta(key: string, value: string): Promise<void>;
  close(): Promise<void>;
}
