/**
 * @presently/client: the Presently SDK for browsers and Node.
 *
 * ```ts
 * import Presently from '@presently/client';   // or: import TencentCloudChat from '@presently/client';
 * const client = Presently.create({ SDKAppID: 1400000001, url: 'ws://127.0.0.1:8080' });
 * client.on(Presently.EVENT.USER_STATUS_UPDATED, ({ data }) => console.log(data));
 * await client.login({ userID: 'alice', userSig });
 * ```
 */
import { EVENT as EVENT_ENUM, TYPES as TYPES_ENUM } from './constants.js';
import { PresentlyClient } from './client.js';
import { configure, type PresentlyOptions } from './options.js';

/** A new, independent instance on every call (the hosted SDK shares one per SDKAppID). */
export function create(options: PresentlyOptions): PresentlyClient {
  return new PresentlyClient(options);
}
const createClient = create;
const configureDefaults = configure;

/**
 * The default export, shaped like the hosted SDK's `TencentCloudChat` namespace so that code
 * written for it compiles by changing the import: `Presently.create`, `Presently.configure`,
 * `Presently.TYPES` and `Presently.EVENT` as values, and `Presently.TYPES`, `Presently.EVENT`
 * (with their members) and `Presently.ChatSDK` as types. A namespace, because only a namespace
 * carries both.
 */
// eslint-disable-next-line @typescript-eslint/no-namespace -- see above: the default export is values and types at once.
namespace Presently {
  export const create = createClient;
  export const configure = configureDefaults;
  export import TYPES = TYPES_ENUM;
  export import EVENT = EVENT_ENUM;
  export type ChatSDK = PresentlyClient;
}
Object.freeze(Presently);
export default Presently;

export { PresentlyClient, PresentlyClient as ChatSDK, TYPES_ENUM as TYPES, EVENT_ENUM as EVENT, configure };
export { backoff, type BackoffOptions } from './backoff.js';
export { DEFAULT_OPTIONS, type PresentlyOptions, type ConfigureOptions, type Logger, type LogLevel } from './options.js';
export type { AnyHandler } from './emitter.js';
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
  AbilityData,
  Profile,
} from './client.js';
export { PresentlyError, ErrorCode, CloseCode } from '@presently/protocol';
export type { UserStatusInfo, StatusType, KickTypeValue, Platform, FailureItem, LoginResult, AppFeatures, CallLimits } from '@presently/protocol';
