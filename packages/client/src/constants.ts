/**
 * Public constants and event payload types, with the hosted web SDK's names and values
 * (compat.md §1), so application code written for it keeps working.
 */
import { KickType, UserStatus, type KickTypeValue, type UserStatusInfo } from '@presently/protocol';

/** `Presently.TYPES`: status numbers, network states and kick reasons (compat.md §1). */
export const TYPES = {
  USER_STATUS_UNKNOWN: UserStatus.UNKNOWN,
  USER_STATUS_ONLINE: UserStatus.ONLINE,
  USER_STATUS_OFFLINE: UserStatus.OFFLINE,
  USER_STATUS_UNLOGINED: UserStatus.UNLOGINED,
  NET_STATE_CONNECTED: 'connected',
  NET_STATE_CONNECTING: 'connecting',
  NET_STATE_DISCONNECTED: 'disconnected',
  KICKED_OUT_MULT_ACCOUNT: KickType.MULT_ACCOUNT,
  KICKED_OUT_MULT_DEVICE: KickType.MULT_DEVICE,
  KICKED_OUT_USERSIG_EXPIRED: KickType.USERSIG_EXPIRED,
  KICKED_OUT_REST_API: KickType.REST_API,
} as const;

/** `Presently.EVENT`: event names for `on` / `off` (compat.md §1). */
export const EVENT = {
  SDK_READY: 'sdkStateReady',
  SDK_NOT_READY: 'sdkStateNotReady',
  USER_STATUS_UPDATED: 'onUserStatusUpdated',
  KICKED_OUT: 'kickedOut',
  NET_STATE_CHANGE: 'netStateChange',
  ERROR: 'error',
} as const;

export type EventName = (typeof EVENT)[keyof typeof EVENT];

/** `connected`: logged in over a live connection; `connecting`: (re)connecting; `disconnected`: no connection. */
export type NetState = typeof TYPES.NET_STATE_CONNECTED | typeof TYPES.NET_STATE_CONNECTING | typeof TYPES.NET_STATE_DISCONNECTED;

/** Payload (`event.data`) of each event. Objects, so fields can be added without breaking handlers. */
export interface EventMap {
  /** Logged in; the other calls work from now on. */
  [EVENT.SDK_READY]: Record<string, never>;
  /**
   * No longer logged in (logout, kick, or a re-login the server refused). `code` is the code calls
   * now reject with (3005 logged out, 3002/3003/3004/3006 kicked, 3001 login failed).
   */
  [EVENT.SDK_NOT_READY]: { code: number };
  /** Status changes, oldest first (S20, S22), or the differences found after a reconnect (S23). */
  [EVENT.USER_STATUS_UPDATED]: UserStatusInfo[];
  /** This session was kicked (S27), or its re-login was refused as expired / invalidated. */
  [EVENT.KICKED_OUT]: { type: KickTypeValue };
  [EVENT.NET_STATE_CHANGE]: { state: NetState };
  /** Something went wrong that no promise reports (a server `error` frame, a failed re-sync). */
  [EVENT.ERROR]: { code: number; message: string; data?: unknown };
}

/** What a handler receives. */
export interface PresentlyEvent<K extends EventName = EventName> {
  name: K;
  data: EventMap[K];
}

/** An event handler; `this` is the `context` given to `on`. */
export type EventHandler<K extends EventName, C = undefined> = (this: C, event: PresentlyEvent<K>) => void;
