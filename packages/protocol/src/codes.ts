/**
 * The one catalogue of refusal codes (S31). The code is the contract; the message is for people.
 * Numbers are the hosted service's where it has one (compat.md §5); 72002-72005 are ours.
 */
export const ErrorCode = {
  OK: 0,
  // SDK side (compat.md §5)
  SDK_NO_SDKAPPID: 2000,
  SDK_NO_USERID: 2002,
  SDK_NO_USERSIG: 2003,
  NOT_LOGGED_IN: 2024,
  REPEATED_LOGIN: 2025,
  NETWORK_ERROR: 2800,
  NETWORK_TIMEOUT: 2801,
  /** `callExperimentalAPI` with a name this SDK does not have. */
  INVALID_OPERATION: 2905,
  OVER_FREQUENCY: 2996,
  SDK_NOT_READY: 2999,
  LOGGING_IN: 3000,
  LOGIN_FAILED: 3001,
  KICKED_MULT_DEVICE: 3002,
  KICKED_MULT_ACCOUNT: 3003,
  KICKED_USERSIG_EXPIRED: 3004,
  LOGGED_OUT: 3005,
  KICKED_REST_API: 3006,
  // Friends (REST)
  FRIEND_INVALID: 30001,
  FRIEND_ACCOUNT_NOT_FOUND: 30003,
  FRIEND_ADMIN_REQUIRED: 30004,
  FRIEND_LIMIT: 30010,
  FRIEND_NOT_FRIEND: 31704,
  // REST common
  REST_BAD_URL: 60002,
  REST_BAD_JSON: 60003,
  REST_BAD_IDENTIFIER: 60004,
  REST_BAD_USERSIG: 60005,
  REST_BAD_SDKAPPID: 60006,
  REST_RATE_LIMIT: 60007,
  REST_ADMIN_REQUIRED: 60010,
  REST_NO_SDKAPPID: 60012,
  // Login / ticket
  USERSIG_EXPIRED: 70001,
  USERSIG_EMPTY: 70002,
  USERSIG_CHECK_FAILED: 70003,
  USERSIG_DECODE_FAILED: 70005,
  USERSIG_KEY_MISMATCH: 70009,
  USERSIG_IDENTIFIER_MISMATCH: 70013,
  USERSIG_SDKAPPID_MISMATCH: 70014,
  SDKAPPID_NOT_FOUND: 70020,
  TOO_MANY_LOGIN_FAILURES: 70050,
  USERSIG_INVALIDATED: 70052,
  ACCOUNT_NOT_FOUND: 70107,
  INVALID_PARAMETERS: 70402,
  ADMIN_REQUIRED: 70403,
  INTERNAL_ERROR: 70500,
  // User status (user-status.md)
  FEATURE_NOT_ENABLED: 72001,
  TOO_MANY_IDS: 72002,
  TOO_MANY_CALLS: 72003,
  SUBSCRIBE_SELF: 72004,
  CUSTOM_STATUS_TOO_LONG: 72005,
  /** Ours: a connection has more requests awaiting their replies than the server allows. */
  TOO_MANY_IN_FLIGHT: 72006,
} as const;
export type ErrorCodeValue = (typeof ErrorCode)[keyof typeof ErrorCode];

const MESSAGES: Record<number, string> = {
  2000: 'SDKAppID is missing',
  2002: 'userID is missing',
  2003: 'userSig is missing',
  2024: 'not logged in',
  2025: 'a login is already in progress',
  2800: 'network error',
  2801: 'network timeout',
  2905: 'operation not supported',
  2996: 'over frequency limit',
  2999: 'SDK not ready',
  3000: 'logging in',
  3001: 'login failed',
  3002: 'kicked out: logged in on another device',
  3003: 'kicked out: logged in on another web instance',
  3004: 'kicked out: UserSig expired',
  3005: 'logged out',
  3006: 'kicked out by the app server (REST)',
  30001: 'invalid friend request',
  30003: 'account not found',
  30004: 'admin required',
  30010: 'friend list is full',
  31704: 'not a friend',
  60002: 'bad URL',
  60003: 'bad JSON body',
  60004: 'bad identifier',
  60005: 'bad UserSig',
  60006: 'bad SDKAppID',
  60007: 'rate limit exceeded',
  60010: 'admin required',
  60012: 'sdkappid missing',
  70001: 'UserSig expired',
  70002: 'UserSig is empty',
  70003: 'UserSig check failed',
  70005: 'UserSig could not be decoded',
  70009: 'UserSig does not match the secret key',
  70013: 'UserSig identifier does not match the userID',
  70014: 'UserSig SDKAppID does not match',
  70020: 'SDKAppID not found',
  70050: 'too many failed login attempts, try later',
  70052: 'UserSig was invalidated (the user was kicked), make a new one',
  70107: 'account does not exist',
  70402: 'invalid parameters',
  70403: 'admin required',
  70500: 'internal error',
  72001: 'user status is not enabled for this app (edition or switch)',
  72002: 'too many userIDs in one call',
  72003: 'too many calls in the window',
  72004: 'cannot subscribe to oneself',
  72005: 'custom status is longer than the limit',
  72006: 'too many requests in flight on this connection',
};

/** The default message for a code. */
export function messageFor(code: number): string {
  return MESSAGES[code] ?? `error ${code}`;
}

/**
 * The error every Presently API rejects with: an `Error` carrying a numeric `code`
 * (compat.md §1: "Rejections are Errors with a numeric code, a message and optional data").
 */
export class PresentlyError extends Error {
  readonly code: number;
  readonly data: unknown;
  constructor(code: number, message?: string, data?: unknown) {
    super(message ?? messageFor(code));
    this.name = 'PresentlyError';
    this.code = code;
    this.data = data;
  }
}

/** WebSocket close codes the server uses (4000-4999 is the application range, RFC 6455 §7.4.2). */
export const CloseCode = {
  NORMAL: 1000,
  GOING_AWAY: 1001,
  /** The session was kicked (another device, REST kick): do not reconnect. */
  KICKED: 4001,
  /** The session logged out. */
  LOGGED_OUT: 4002,
  /** No login frame within the login deadline. */
  LOGIN_TIMEOUT: 4003,
  /** No frame within the heartbeat timeout (S5). */
  HEARTBEAT_TIMEOUT: 4004,
  /** The send queue passed its bound: the client reads too slowly. */
  SLOW_CONSUMER: 4008,
  /** Too many connections from this source address. */
  TOO_MANY_CONNECTIONS: 4009,
  /** The server is shutting down; reconnect (to another node) after a short jittered delay. */
  SERVER_RESTART: 4010,
  /** Past the failed-ticket limit this socket's last ticket failed (70050): reconnect later, with a valid ticket. */
  TOO_MANY_LOGIN_FAILURES: 4011,
} as const;
