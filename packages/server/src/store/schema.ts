/**
 * The tables of the store as the query layer sees them. Their DDL lives in one place only, the
 * ordered migrations (migrations/index.ts); these types follow the latest migration.
 */
import type { Generated } from 'kysely';

export interface AccountsTable {
  app: number;
  user_id: string;
  login_keys: string;
  kicked_at: number;
  offline_since: number;
  nick: string;
  face_url: string;
  /** Log position of the write (a cluster's entries); 0 on one process. An older one never wins. */
  version: Generated<number>;
}
export interface FriendsTable {
  app: number;
  from_id: string;
  to_id: string;
  remark: string;
  groups: string;
  add_source: string;
  add_time: number;
}
export interface SubscriptionsTable {
  app: number;
  user_id: string;
  target: string;
  seq: number;
}
export interface TombstonesTable {
  app: number;
  user_id: string;
  deleted_at: number;
}
export interface MetaTable {
  key: string;
  value: string;
}
export interface Schema {
  accounts: AccountsTable;
  friends: FriendsTable;
  subscriptions: SubscriptionsTable;
  account_tombstones: TombstonesTable;
  presently_meta: MetaTable;
}
