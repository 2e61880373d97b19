import type { KickTypeValue, Platform, StatusType, UserStatusInfo } from '@presently/protocol';

/** A durable fact the engine asks its store to write (adapters decide how and when). */
export type Mutation =
  | ({
      t: 'account';
      app: number;
      /** The cluster's log position of the entry that made this write (stores keep the latest). */
      v?: number;
    } & AccountSnapshot)
  | { t: 'accountDelete'; app: number; userID: string; deletedAt: number }
  | { t: 'friendAdd'; app: number; from: string; to: string; remark: string; groups: string[]; addSource: string; addTime: number }
  | { t: 'friendRemove'; app: number; from: string; to: string }
  | { t: 'subAdd'; app: number; userID: string; target: string; seq: number }
  | { t: 'subRemove'; app: number; userID: string; target: string };

/** One status change, serialised once however many sessions receive it (S20). */
export interface StatusChange {
  readonly info: UserStatusInfo;
  /** JSON of `info`, made on first use and shared by every receiver. */
  json(): string;
}

export type DisconnectReason = 'close' | 'timeout';

/**
 * What the engine does to the outside world. The engine calls these synchronously; adapters
 * (gateway, store) decide how to carry them out. Unit tests record them.
 */
export interface EnginePorts<S> {
  /** Send one change to one live session (S21, S22: called in change order). */
  deliver(sink: S, change: StatusChange): void;
  /** Tell a session it was kicked and end it (S27). */
  kick(sink: S, type: KickTypeValue): void;
  /** Write a durable fact. */
  persist(m: Mutation): void;
  /** A client instance logged in again: its older session was ended quietly (no kick). */
  replaced?(sink: S): void;
  /** A fact about sessions an app's backend may want to hear of (webhooks, metrics); optional. */
  event?(e: PresenceEvent<S>): void;
  /**
   * Every announced change of the app, once, whoever receives it (whatever the switches say):
   * the admin stream (`watchAll`) of the console's live view. Optional.
   */
  announced?(change: StatusChange): void;
}

/**
 * What happened to a user's sessions, in the order it happened (S29: the app's server can be told
 * of every login, logout and disconnect). `sink` is the session's own, when there is one.
 */
export type PresenceEvent<S> =
  | { type: 'login'; userID: string; platform: Platform; sink: S; kicked: Platform[] }
  | { type: 'logout'; userID: string; platform: Platform; sink: S }
  | { type: 'disconnect'; userID: string; platform: Platform; sink: S; reason: DisconnectReason }
  | { type: 'customStatus'; userID: string; platform: Platform; sink: S; customStatus: string }
  | { type: 'adminKick'; userID: string; platforms: Platform[] };

export interface Session<S> {
  readonly id: string;
  readonly userID: string;
  readonly platform: Platform;
  readonly instanceId: string;
  /** The login-state key this session holds (see devices policy). */
  readonly deviceKey: string;
  readonly loginAt: number;
  readonly sink: S;
  /** False once ended; a stale handle is ignored. */
  live: boolean;
}

export interface FriendMeta {
  remark: string;
  groups: string[];
  addSource: string;
  addTime: number;
}

/** Durable state of one account, as loaded from a store. */
export interface AccountSnapshot {
  userID: string;
  loginKeys: string[];
  kickedAt: number;
  offlineSince: number;
  nick?: string;
  faceUrl?: string;
}

export interface AppSnapshot {
  accounts: AccountSnapshot[];
  friends: Array<{ from: string; to: string } & FriendMeta>;
  /** In subscription order (oldest first per user). */
  subscriptions: Array<{ userID: string; target: string; seq: number }>;
  /** Deleted accounts and the second they were deleted: older tickets stay refused (S28). */
  tombstones?: Array<{ userID: string; deletedAt: number }>;
}

export type { StatusType };
