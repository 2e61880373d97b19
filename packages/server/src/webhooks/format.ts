/**
 * The `State.StateChange` callback (compat.md §4): one engine event becomes one query string and
 * one JSON body, made once when the event is queued (EventTime is when it happened, not when it
 * was delivered).
 */
import type { Platform } from '@presently/protocol';
import { restPlatform } from '../engine/engine.js';
import type { PresenceEvent } from '../engine/types.js';

export const CALLBACK_COMMAND = 'State.StateChange';

/** `Info.Action` values. */
export const Action = Object.freeze({
  LOGIN: 'Login',
  LOGOUT: 'Logout',
  DISCONNECT: 'Disconnect',
  CUSTOM_STATUS_CHANGE: 'CustomStatusChange',
} as const);

/** `Info.Reason` values. `Kicked` is ours: the hosted service has no REST kick callback. */
export const Reason = Object.freeze({
  REGISTER: 'Register',
  UNREGISTER: 'Unregister',
  LINK_CLOSE: 'LinkClose',
  TIMEOUT: 'TimeOut',
  SET_CUSTOM_STATUS: 'SetCustomStatus',
  KICKED: 'Kicked',
} as const);

/** `OptPlatform` (and `ClientIP`) of an event the app's server caused through the REST API. */
export const REST_PLATFORM = 'RESTAPI';

export interface StateChangeBody {
  CallbackCommand: typeof CALLBACK_COMMAND;
  EventTime: number;
  Info: { Action: string; To_Account: string; Reason: string; CustomStatus?: string };
  KickedDevice?: Array<{ Platform: string }>;
}

export interface FormattedCallback {
  /** `SdkAppid=…&CallbackCommand=State.StateChange&contenttype=json&ClientIP=…&OptPlatform=…` */
  query: string;
  /** The JSON body, exactly as it is sent (and signed). */
  body: string;
}

/** An IPv4 client seen by a dual-stack socket as `::ffff:a.b.c.d` is reported as `a.b.c.d`. */
export function clientIP(remoteAddress: string): string {
  return remoteAddress.startsWith('::ffff:') && remoteAddress.includes('.') ? remoteAddress.slice(7) : remoteAddress;
}

function info(e: PresenceEvent<unknown>): StateChangeBody['Info'] {
  const To_Account = e.userID;
  switch (e.type) {
    case 'login':
      return { Action: Action.LOGIN, To_Account, Reason: Reason.REGISTER };
    case 'logout':
      return { Action: Action.LOGOUT, To_Account, Reason: Reason.UNREGISTER };
    case 'disconnect':
      return { Action: Action.DISCONNECT, To_Account, Reason: e.reason === 'timeout' ? Reason.TIMEOUT : Reason.LINK_CLOSE };
    case 'customStatus':
      return { Action: Action.CUSTOM_STATUS_CHANGE, To_Account, Reason: Reason.SET_CUSTOM_STATUS, CustomStatus: e.customStatus };
    case 'adminKick':
      // S28: the REST kick ends every login state of the user, so receivers that only look at
      // Action see a logout; Reason tells it apart from the user's own logout.
      return { Action: Action.LOGOUT, To_Account, Reason: Reason.KICKED };
  }
}

/**
 * The request for one event. `remoteAddress` is the session's socket address ('' when the event
 * has no session: the REST kick). Platforms are named as in the REST API (`Windows` is `PC`).
 */
export function formatStateChange(app: number, e: PresenceEvent<unknown>, remoteAddress: string, eventTime: number): FormattedCallback {
  const body: StateChangeBody = { CallbackCommand: CALLBACK_COMMAND, EventTime: eventTime, Info: info(e) };
  if (e.type === 'login' && e.kicked.length > 0) body.KickedDevice = e.kicked.map((p: Platform) => ({ Platform: restPlatform(p) }));
  const query = new URLSearchParams({
    SdkAppid: String(app),
    CallbackCommand: CALLBACK_COMMAND,
    contenttype: 'json',
    ClientIP: e.type === 'adminKick' ? '' : clientIP(remoteAddress),
    OptPlatform: e.type === 'adminKick' ? REST_PLATFORM : restPlatform(e.platform),
  });
  return { query: query.toString(), body: JSON.stringify(body) };
}

/** The receiver URL with the callback's query appended to whatever query it already has. */
export function callbackUrl(base: string, query: string): string {
  const u = new URL(base);
  u.search = u.search.length > 1 ? `${u.search.slice(1)}&${query}` : query;
  return u.toString();
}
