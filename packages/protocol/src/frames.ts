/**
 * Wire frames. Every frame is one JSON object in one WebSocket text message.
 * Requests carry `id` (a non-negative integer chosen by the client) and `op`; each reply repeats
 * both. Pushes carry `op` and no `id`. docs/protocol.md describes every frame for people.
 */
import { ErrorCode, messageFor } from './codes.js';
import { isPlatform, isWellFormed, type KickTypeValue, type Platform, type UserStatusInfo } from './status.js';

export const PROTOCOL_VERSION = 1;

// ---- client -> server -------------------------------------------------------------------------

export interface LoginRequest {
  id: number;
  op: 'login';
  SDKAppID: number;
  userID: string;
  userSig: string;
  /** Default 'Web'. */
  platform?: Platform;
  /**
   * A random id the client keeps for its lifetime. A reconnecting client sends the same one, so
   * the server replaces its own stale session instead of kicking it as "another device".
   */
  instanceId?: string;
}
export interface LogoutRequest {
  id: number;
  op: 'logout';
}
export interface HeartbeatRequest {
  id?: number;
  op: 'heartbeat';
}
export interface SetSelfStatusRequest {
  id: number;
  op: 'setSelfStatus';
  customStatus?: string | null;
}
export interface GetUserStatusRequest {
  id: number;
  op: 'getUserStatus';
  userIDList: string[];
}
export interface SubscribeRequest {
  id: number;
  op: 'subscribeUserStatus';
  userIDList: string[];
}
export interface UnsubscribeRequest {
  id: number;
  op: 'unsubscribeUserStatus';
  userIDList?: string[];
}
/** S23: statuses of oneself, one's subscriptions and (when friend auto-notify is on) friends. */
export interface SyncRequest {
  id: number;
  op: 'syncStatus';
}
/**
 * Admin stream (the console's live view): instead of `login`, an app admin proves who it is with
 * a UserSig and from then on hears every status change of the app as `userStatusUpdated`. No
 * session is opened: the admin does not become ONLINE. Non-admins get 70403.
 */
export interface WatchAllRequest {
  id: number;
  op: 'watchAll';
  SDKAppID: number;
  userID: string;
  userSig: string;
}

export type ClientFrame =
  LoginRequest | LogoutRequest | HeartbeatRequest | SetSelfStatusRequest | GetUserStatusRequest | SubscribeRequest | UnsubscribeRequest | SyncRequest | WatchAllRequest;
export type ClientOp = ClientFrame['op'];
export const CLIENT_OPS: readonly ClientOp[] = [
  'login',
  'logout',
  'heartbeat',
  'setSelfStatus',
  'getUserStatus',
  'subscribeUserStatus',
  'unsubscribeUserStatus',
  'syncStatus',
  'watchAll',
];

// ---- server -> client -------------------------------------------------------------------------

export interface FailureItem {
  userID: string;
  code: number;
  message: string;
}

/** What the app's settings allow this session, as of its login (the SDK's `callExperimentalAPI`). */
export interface AppFeatures {
  /** Others' statuses (query, subscribe, notifications): premium edition and the query switch (S13, S18). */
  userStatus: boolean;
  /** The switch "automatic notification of friends' statuses" (S21c). */
  friendAutoNotify: boolean;
}
/** The app's per-call id limits (S14, S15), so an SDK can split or trim a list before sending it. */
export interface CallLimits {
  maxQueryIDs: number;
  maxSubscribeIDsPerCall: number;
}

export interface LoginResult {
  userID: string;
  /** The session id the server gave this login. */
  sessionId: string;
  /** Send a heartbeat at least this often (ms). */
  heartbeatIntervalMs: number;
  /** The server declares the session dead after this much silence (ms) (S5). */
  heartbeatTimeoutMs: number;
  /** Server clock, ms since the epoch. */
  serverTime: number;
  protocol: number;
  /** The user's custom status when the login was acknowledged ('' when none, S9). */
  customStatus: string;
  features: AppFeatures;
  limits: CallLimits;
}
export interface GetUserStatusResult {
  successUserList: UserStatusInfo[];
  failureUserList: FailureItem[];
}
export interface SubscribeResult {
  failureUserList: FailureItem[];
}
export interface SyncResult {
  userList: UserStatusInfo[];
}
/** Counts of the app's accounts per general status. */
export interface StatusCounts {
  online: number;
  offline: number;
  unlogined: number;
}
export interface WatchAllResult {
  userID: string;
  /** Send a heartbeat at least this often (ms); the stream is closed after the timeout. */
  heartbeatIntervalMs: number;
  heartbeatTimeoutMs: number;
  serverTime: number;
  protocol: number;
  /** The counts when the stream started; every later change arrives as `userStatusUpdated`. */
  counts: StatusCounts;
}

export interface ReplyDataMap {
  login: LoginResult;
  logout: Record<string, never>;
  heartbeat: Record<string, never>;
  setSelfStatus: UserStatusInfo;
  getUserStatus: GetUserStatusResult;
  subscribeUserStatus: SubscribeResult;
  unsubscribeUserStatus: SubscribeResult;
  syncStatus: SyncResult;
  watchAll: WatchAllResult;
}

export type OkReply<Op extends ClientOp = ClientOp> = { id: number; op: Op; code: 0; data: ReplyDataMap[Op] };
export interface ErrorReply {
  id?: number;
  op: ClientOp | 'error';
  code: number;
  message: string;
  data?: unknown;
}

/** Push: status changes, oldest first (S20, S22). */
export interface StatusPush {
  op: 'userStatusUpdated';
  data: UserStatusInfo[];
}
/** Push: this session was kicked; the server closes the socket with CloseCode.KICKED next (S27). */
export interface KickedPush {
  op: 'kickedOut';
  data: { type: KickTypeValue };
}

/** The answer to a heartbeat; it carries the request's `id` only when the heartbeat had one. */
export interface HeartbeatReply {
  id?: number;
  op: 'heartbeat';
  code: 0;
  data: Record<string, never>;
}

export type ServerFrame = OkReply | HeartbeatReply | ErrorReply | StatusPush | KickedPush;

// ---- validation -------------------------------------------------------------------------------

export type ParseResult = { ok: true; frame: ClientFrame } | { ok: false; id?: number; op?: ClientOp; code: number; message: string };

/** Longest custom status or userSig we even look at; real limits are per app. */
const MAX_LIST = 10_000;

function fail(message: string, id?: number, op?: ClientOp): ParseResult {
  const r: ParseResult = { ok: false, code: ErrorCode.INVALID_PARAMETERS, message: `${messageFor(ErrorCode.INVALID_PARAMETERS)}: ${message}` };
  if (id !== undefined) r.id = id;
  if (op !== undefined) r.op = op;
  return r;
}

function isId(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}

function stringList(v: unknown): v is string[] {
  return Array.isArray(v) && v.length <= MAX_LIST && v.every((x) => typeof x === 'string');
}

/**
 * Parses and validates one client frame (S32). Never throws. Shapes are checked here; limits
 * that depend on the app (list sizes, custom status bytes) are checked by the engine.
 */
export function parseClientFrame(text: string): ParseResult {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    return fail('malformed JSON');
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return fail('a frame must be a JSON object');
  const o = raw as Record<string, unknown>;
  let id: number | undefined;
  if (o.id !== undefined) {
    if (!isId(o.id)) return fail('id must be a non-negative integer');
    id = o.id;
  }
  const op = o.op;
  if (typeof op !== 'string' || !(CLIENT_OPS as readonly string[]).includes(op)) {
    return fail(`unknown op ${JSON.stringify(op)?.slice(0, 64) ?? 'undefined'}`, id);
  }
  const cop = op as ClientOp;
  if (cop === 'heartbeat') return { ok: true, frame: id === undefined ? { op: cop } : { id, op: cop } };
  if (id === undefined) return fail(`${cop} needs an id`, undefined, cop);
  switch (cop) {
    case 'watchAll':
    case 'login': {
      if (typeof o.SDKAppID !== 'number' || !Number.isSafeInteger(o.SDKAppID)) return fail('SDKAppID must be an integer', id, cop);
      if (typeof o.userID !== 'string') return fail('userID must be a string', id, cop);
      if (typeof o.userSig !== 'string') return fail('userSig must be a string', id, cop);
      if (cop === 'watchAll') return { ok: true, frame: { id, op: cop, SDKAppID: o.SDKAppID, userID: o.userID, userSig: o.userSig } };
      if (o.platform !== undefined && !isPlatform(o.platform)) return fail('unknown platform', id, cop);
      if (o.instanceId !== undefined && (typeof o.instanceId !== 'string' || o.instanceId.length > 64)) {
        return fail('instanceId must be a string of at most 64 characters', id, cop);
      }
      const frame: LoginRequest = { id, op: cop, SDKAppID: o.SDKAppID, userID: o.userID, userSig: o.userSig };
      if (o.platform !== undefined) frame.platform = o.platform;
      if (o.instanceId !== undefined) frame.instanceId = o.instanceId;
      return { ok: true, frame };
    }
    case 'logout':
    case 'syncStatus':
      return { ok: true, frame: { id, op: cop } };
    case 'setSelfStatus': {
      const cs = o.customStatus;
      if (cs !== undefined && cs !== null && typeof cs !== 'string') return fail('customStatus must be a string or null', id, cop);
      if (typeof cs === 'string' && !isWellFormed(cs)) return fail('customStatus must be well-formed Unicode (no lone surrogate)', id, cop);
      return { ok: true, frame: { id, op: cop, customStatus: cs } };
    }
    case 'getUserStatus':
    case 'subscribeUserStatus':
      if (!stringList(o.userIDList)) return fail('userIDList must be an array of strings', id, cop);
      return { ok: true, frame: { id, op: cop, userIDList: o.userIDList } };
    case 'unsubscribeUserStatus': {
      if (o.userIDList === undefined || o.userIDList === null) return { ok: true, frame: { id, op: cop } };
      if (!stringList(o.userIDList)) return fail('userIDList must be an array of strings', id, cop);
      return { ok: true, frame: { id, op: cop, userIDList: o.userIDList } };
    }
  }
}
