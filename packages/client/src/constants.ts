/**
 * Public constants and event payload types, with the hosted web SDK's names and values
 * (compat.md §1), so application code written for it keeps working. `TYPES` and `EVENT` are
 * enums, as in the hosted SDK's typings, so they serve both as values and as types
 * (`let state: TYPES = TYPES.NET_STATE_CONNECTED`).
 */
import type { KickTypeValue, UserStatusInfo } from '@presently/protocol';

/**
 * `Presently.TYPES`: status numbers, network states and kick reasons (compat.md §1). The values are
 * the protocol's `UserStatus` and `KickType` (a unit test holds them equal).
 */
export enum TYPES {
  USER_STATUS_UNKNOWN = 0,
  USER_STATUS_ONLINE = 1,
  USER_STATUS_OFFLINE = 2,
  USER_STATUS_UNLOGINED = 3,
  NET_STATE_CONNECTED = 'connected',
  NET_STATE_CONNECTING = 'connecting',
  NET_STATE_DISCONNECTED = 'disconnected',
  KICKED_OUT_MULT_ACCOUNT = 'multipleAccount',
  KICKED_OUT_MULT_DEVICE = 'multipleDevice',
  KICKED_OUT_USERSIG_EXPIRED = 'userSigExpired',
  KICKED_OUT_REST_API = 'REST_API_Kick',
}

/**
 * `Presently.EVENT`: event names for `on` / `off`. The first six are Presently's; the others are
 * the hosted SDK's events of features Presently does not have (messages, conversations, groups,
 * profiles, relationships). They exist so that code subscribing to them compiles and runs; they
 * never fire.
 */
export enum EVENT {
  SDK_READY = 'sdkStateReady',
  SDK_NOT_READY = 'sdkStateNotReady',
  USER_STATUS_UPDATED = 'onUserStatusUpdated',
  KICKED_OUT = 'kickedOut',
  NET_STATE_CHANGE = 'netStateChange',
  ERROR = 'error',
  // Never fired by Presently (features it does not have).
  MESSAGE_RECEIVED = 'onMessageReceived',
  ROOM_CUSTOM_DATA_RECEIVED = 'onRoomCustomDataReceived',
  MESSAGE_MODIFIED = 'onMessageModified',
  MESSAGE_REVOKED = 'onMessageRevoked',
  MESSAGE_READ_BY_PEER = 'onMessageReadByPeer',
  MESSAGE_READ_RECEIPT_RECEIVED = 'onMessageReadReceiptReceived',
  CONVERSATION_LIST_UPDATED = 'onConversationListUpdated',
  TOTAL_UNREAD_MESSAGE_COUNT_UPDATED = 'onTotalUnreadMessageCountUpdated',
  CONVERSATION_GROUP_LIST_UPDATED = 'onConversationGroupListUpdated',
  CONVERSATION_IN_GROUP_UPDATED = 'onConversationInGroupUpdated',
  GROUP_LIST_UPDATED = 'onGroupListUpdated',
  GROUP_ATTRIBUTES_UPDATED = 'groupAttributesUpdated',
  GROUP_COUNTER_UPDATED = 'onGroupCounterUpdated',
  TOPIC_CREATED = 'onTopicCreated',
  TOPIC_DELETED = 'onTopicDeleted',
  TOPIC_UPDATED = 'onTopicUpdated',
  PROFILE_UPDATED = 'onProfileUpdated',
  BLACKLIST_UPDATED = 'blacklistUpdated',
  FRIEND_LIST_UPDATED = 'onFriendListUpdated',
  FRIEND_GROUP_LIST_UPDATED = 'onFriendGroupListUpdated',
  FRIEND_APPLICATION_LIST_UPDATED = 'onFriendApplicationListUpdated',
  MY_FOLLOWERS_LIST_UPDATED = 'onMyFollowersListUpdated',
  MY_FOLLOWING_LIST_UPDATED = 'onMyFollowingListUpdated',
  MUTUAL_FOLLOWERS_LIST_UPDATED = 'onMutualFollowersListUpdated',
  ALL_RECEIVE_MESSAGE_OPT_UPDATED = 'onAllReceiveMessageOptUpdated',
  PINNED_GROUP_MESSAGE_UPDATED = 'onPinnedGroupMessageUpdated',
}

/** The events Presently fires. */
export type EventName = EVENT.SDK_READY | EVENT.SDK_NOT_READY | EVENT.USER_STATUS_UPDATED | EVENT.KICKED_OUT | EVENT.NET_STATE_CHANGE | EVENT.ERROR;

/** `connected`: logged in over a live connection; `connecting`: (re)connecting; `disconnected`: no connection. */
export type NetState = TYPES.NET_STATE_CONNECTED | TYPES.NET_STATE_CONNECTING | TYPES.NET_STATE_DISCONNECTED;

/** Payload (`event.data`) of each event. Objects, so fields can be added without breaking handlers. */
export interface EventMap {
  /** Logged in; fired after the `login()` promise has resolved (the hosted SDK's order). */
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
