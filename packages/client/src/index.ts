/**
 * @presently/client: the Presently SDK for browsers and Node.
 *
 * ```ts
 * import Presently from '@presently/client';
 * const client = Presently.create({ SDKAppID: 1400000001, url: 'ws://127.0.0.1:8080' });
 * client.on(Presently.EVENT.USER_STATUS_UPDATED, ({ data }) => console.log(data));
 * await client.login({ userID: 'alice', userSig });
 * ```
 */
import { EVENT, TYPES } from './constants.js';
import { PresentlyClient } from './client.js';
import type { PresentlyOptions } from './options.js';

/** A new, independent instance on every call (the hosted SDK shares one per SDKAppID). */
export function create(options: PresentlyOptions): PresentlyClient {
  return new PresentlyClient(options);
}

/** The default export: `Presently.create`, `Presently.TYPES`, `Presently.EVENT`. */
const Presently = Object.freeze({ create, TYPES, EVENT });
export default Presently;

export { PresentlyClient, TYPES, EVENT };
export { backoff, type BackoffOptions } from './backoff.js';
export { DEFAULT_OPTIONS, type PresentlyOptions, type Logger } from './options.js';
export type { WebSocketConstructor, WebSocketLike } from './transport.js';
export type { EventMap, EventName, EventHandler, NetState, PresentlyEvent } from './constants.js';
export type {
  PresentlyResponse,
  LoginParams,
  LoginData,
  SetSelfStatusParams,
  UserIDListParams,
  UnsubscribeParams,
  GetUserStatusData,
  SubscribeData,
  EmptyData,
} from './client.js';
export { PresentlyError, ErrorCode, CloseCode } from '@presently/protocol';
export type { UserStatusInfo, StatusType, KickTypeValue, Platform, FailureItem, LoginResult } from '@presently/protocol';
