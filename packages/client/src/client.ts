/**
 * The SDK instance. All connection and login state lives in `_state` and changes only through
 * `_setState()`, which emits the matching events (style.md habit 2). Each connection attempt gets
 * a new epoch; callbacks of an older connection compare their epoch and are dropped (habit 3).
 */
import { CloseCode, ErrorCode, KickType, PresentlyError, type KickTypeValue, type LoginResult, type StatusType, type UserStatusInfo, type FailureItem } from '@presently/protocol';
import { backoff } from './backoff.js';
import { EVENT, TYPES, type EventMap, type EventName, type NetState, type PresentlyEvent } from './constants.js';
import { Emitter, type AnyHandler } from './emitter.js';
import { checkLogLevel, resolveOptions, type LogLevel, type PresentlyOptions, type ResolvedOptions } from './options.js';
import { Link, openSocket, type IncomingFrame, type RequestOp } from './transport.js';

// ---- public shapes ------------------------------------------------------------------------------

/** Every call resolves with this envelope (compat.md §1). */
export interface PresentlyResponse<T> {
  code: 0;
  data: T;
}
export interface LoginParams {
  userID: string;
  /** The ticket made by the app's server (S25). Kept and reused for re-logins after a reconnect. */
  userSig: string;
}
/**
 * `login`'s data: the hosted SDK's fields (`actionStatus`, `errorCode`, `errorInfo`, `repeatLogin`)
 * and the session Presently opened.
 */
export interface LoginData extends LoginResult {
  actionStatus: 'OK';
  errorCode: 0;
  /** '' for a new login; for a repeated one, a line saying the user was already logged in. */
  errorInfo: string;
  /** true when this instance was already logged in as that user; nothing was sent. */
  repeatLogin: boolean;
}
export interface SetSelfStatusParams {
  /** At most 100 bytes UTF-8 by default (S7); '' / null / undefined clears it (S8). */
  customStatus?: string | null;
}
export interface UserIDListParams {
  userIDList: string[];
}
export interface UnsubscribeParams {
  /** Omitted or [] unsubscribes from everyone (S19). */
  userIDList?: string[];
}
export interface GetUserStatusData {
  successUserList: UserStatusInfo[];
  failureUserList: FailureItem[];
}
export interface SubscribeData {
  failureUserList: FailureItem[];
}
/**
 * `getMyProfile`'s data: the hosted SDK's profile fields that Presently can fill. Presently keeps
 * no profiles (nicknames, avatars live in the app's own user store), so `nick` and `avatar` are ''.
 */
export interface Profile {
  userID: string;
  nick: string;
  avatar: string;
}
/** `callExperimentalAPI('isCommercialAbilityEnabled', …)`'s data. */
export interface AbilityData {
  enabled: boolean;
}
export type EmptyData = Record<string, never>;

// ---- state --------------------------------------------------------------------------------------

/**
 * - idle: never logged in. loggingIn: `login()` in progress.
 * - ready: logged in over a live connection. disconnected: logged in, connection lost, a reconnect
 *   is scheduled. reconnecting: logged in, a reconnect attempt is running.
 * - loginFailed / loggedOut / kicked: not logged in any more, for that reason. destroyed: final.
 */
type State = 'idle' | 'loggingIn' | 'ready' | 'disconnected' | 'reconnecting' | 'loginFailed' | 'loggedOut' | 'kicked' | 'destroyed';

/** Between SDK_READY and SDK_NOT_READY. */
const LOGGED_IN: ReadonlySet<State> = new Set<State>(['ready', 'disconnected', 'reconnecting']);

function netStateOf(state: State): NetState {
  if (state === 'ready') return TYPES.NET_STATE_CONNECTED;
  if (state === 'loggingIn' || state === 'reconnecting') return TYPES.NET_STATE_CONNECTING;
  return TYPES.NET_STATE_DISCONNECTED;
}

const KICK_CODES: Record<KickTypeValue, number> = {
  [KickType.MULT_DEVICE]: ErrorCode.KICKED_MULT_DEVICE,
  [KickType.MULT_ACCOUNT]: ErrorCode.KICKED_MULT_ACCOUNT,
  [KickType.USERSIG_EXPIRED]: ErrorCode.KICKED_USERSIG_EXPIRED,
  [KickType.REST_API]: ErrorCode.KICKED_REST_API,
};

function isKickType(value: unknown): value is KickTypeValue {
  return typeof value === 'string' && Object.prototype.hasOwnProperty.call(KICK_CODES, value);
}

/**
 * Re-login refusals worth retrying with backoff: the network, and the server being busy or
 * rate-limiting. Any other refusal will not change by retrying with the same UserSig.
 */
const RETRYABLE_LOGIN_CODES: ReadonlySet<number> = new Set<number>([
  ErrorCode.NETWORK_ERROR,
  ErrorCode.NETWORK_TIMEOUT,
  ErrorCode.OVER_FREQUENCY,
  ErrorCode.REST_RATE_LIMIT,
  ErrorCode.TOO_MANY_LOGIN_FAILURES,
  ErrorCode.INTERNAL_ERROR,
  ErrorCode.TOO_MANY_CALLS,
]);

function toPresentlyError(err: unknown): PresentlyError {
  if (err instanceof PresentlyError) return err;
  return new PresentlyError(ErrorCode.NETWORK_ERROR, err instanceof Error ? err.message : String(err));
}

function positive(value: unknown, fallback: number): number {
  return typeof value === 'number' && Number.isFinite(value) && value > 0 ? value : fallback;
}

/** Server statuses as the app sees them: customStatus always a string ('' when absent). */
function normalizeStatus(raw: unknown): UserStatusInfo | null {
  if (typeof raw !== 'object' || raw === null) return null;
  const o = raw as Record<string, unknown>;
  if (typeof o.userID !== 'string') return null;
  return {
    userID: o.userID,
    statusType: (typeof o.statusType === 'number' ? o.statusType : TYPES.USER_STATUS_UNKNOWN) as StatusType,
    customStatus: typeof o.customStatus === 'string' ? o.customStatus : '',
  };
}

function normalizeList(raw: unknown): UserStatusInfo[] {
  if (!Array.isArray(raw)) return [];
  const out: UserStatusInfo[] = [];
  for (const item of raw) {
    const s = normalizeStatus(item);
    if (s) out.push(s);
  }
  return out;
}

function failureList(raw: unknown): FailureItem[] {
  if (!Array.isArray(raw)) return [];
  return raw.filter((f): f is FailureItem => typeof f === 'object' && f !== null && typeof (f as FailureItem).userID === 'string');
}

function checkUserIDList(list: unknown, optional: boolean): string[] | undefined {
  if (list === undefined && optional) return undefined;
  if (!Array.isArray(list) || !list.every((x) => typeof x === 'string')) {
    throw new PresentlyError(ErrorCode.INVALID_PARAMETERS, 'userIDList must be an array of strings');
  }
  return list;
}

/**
 * Feature bits of the hosted SDK's `isCommercialAbilityEnabled` that Presently has: bit 7 is the
 * user-status feature (query, subscribe and notifications about others).
 */
const ABILITY_USER_STATUS = 2 ** 7;

/** The failure item of an id left out of a call because the list was longer than the app allows. */
function trimmed(userID: string, max: number): FailureItem {
  return { userID, code: ErrorCode.TOO_MANY_IDS, message: `not sent: more than ${max} userIDs in one call` };
}

/** Drops repeated ids, keeping the first of each. */
function unique(list: string[]): string[] {
  return list.length < 2 ? list : [...new Set(list)];
}

function randomId(): string {
  const bytes = new Uint8Array(16);
  const c = (globalThis as { crypto?: { getRandomValues?: (a: Uint8Array) => Uint8Array } }).crypto;
  if (c && typeof c.getRandomValues === 'function') c.getRandomValues(bytes);
  else for (let i = 0; i < bytes.length; i++) bytes[i] = Math.floor(Math.random() * 256);
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

const okEmpty = (): PresentlyResponse<EmptyData> => ({ code: 0, data: {} });

// ---- the client ---------------------------------------------------------------------------------

export class PresentlyClient {
  private readonly _opts: ResolvedOptions;
  private readonly _events = new Emitter<EventMap>();
  /** Sent with every login of this instance, so a re-login replaces our own stale session (S26). */
  private readonly _instanceId = randomId();
  private _state: State = 'idle';
  /** Bumped whenever the current link is dropped or replaced; callbacks of older links compare it. */
  private _epoch = 0;
  private _link: Link | null = null;
  private _userID = '';
  private _userSig = '';
  private _session: LoginResult | null = null;
  private _kickType: KickTypeValue = KickType.MULT_ACCOUNT;
  /** Failed reconnect attempts since the last successful (re-)login. */
  private _attempt = 0;
  private _reconnectTimer: ReturnType<typeof setTimeout> | null = null;
  private _loginTask: Promise<PresentlyResponse<LoginData>> | null = null;
  private _logoutTask: Promise<void> | null = null;
  /** Pushes that arrived before the login reply was handled; emitted right after SDK_READY. */
  private _early: UserStatusInfo[][] = [];
  /** S23: the status of each user as the app last heard it (pushes, getUserStatus, sync). */
  private _lastReported = new Map<string, UserStatusInfo>();
  /**
   * Set when `login()` resolved and SDK_READY is still to come: the hosted SDK fires SDK_READY
   * after the login promise resolved, and TUIKit's engine waits for it then. Pushes wait too.
   */
  private _readyPending = false;
  /** Counts `login()` calls, so a deferred SDK_READY of an older login is dropped. */
  private _loginSeq = 0;
  /** Own custom status as the server last said (login, setSelfStatus, own pushes, sync). */
  private _selfCustomStatus = '';
  /** Server clock minus local clock (ms), measured at login; 0 before. */
  private _clockOffsetMs = 0;
  private _logLevel: LogLevel;

  constructor(options: PresentlyOptions) {
    this._opts = resolveOptions(options);
    this._logLevel = this._opts.logLevel;
  }

  // ---- events -----------------------------------------------------------------------------------

  /**
   * Adds a handler; it receives `{ name, data }` with `this` bound to `context`. Any event name
   * is taken, as by the hosted SDK; names of features Presently does not have never fire.
   */
  on<K extends EventName, C = undefined>(eventName: K, handler: (this: C, event: PresentlyEvent<K>) => void, context?: C): void;
  on(eventName: string, handler: AnyHandler, context?: unknown): void;
  on(eventName: string, handler: AnyHandler, context?: unknown): void {
    this._events.on(eventName, handler, context);
  }

  /** Removes a handler (only the one added with `context`, when given). */
  off<K extends EventName, C = undefined>(eventName: K, handler: (this: C, event: PresentlyEvent<K>) => void, context?: C): void;
  off(eventName: string, handler: AnyHandler, context?: unknown): void;
  off(eventName: string, handler: AnyHandler, context?: unknown): void {
    this._events.off(eventName, handler, context);
  }

  // ---- the hosted SDK's housekeeping calls --------------------------------------------------------

  /**
   * Sets the lowest level logged: 0 everything, 1 release, 2 warnings, 3 errors, 4 nothing.
   * Lines go to the `logger` option, else to `console`.
   */
  setLogLevel(level: number): void {
    this._logLevel = checkLogLevel(level);
  }

  /** The server's clock in whole seconds, as measured at login (the local clock before any login). */
  getServerTime(): number {
    return Math.floor((Date.now() + this._clockOffsetMs) / 1000);
  }

  /**
   * Takes the hosted SDK's plugins (upload, push, profanity filter) and ignores them: Presently has
   * no messages or files. Logged, so a missing feature does not go unnoticed.
   */
  registerPlugin(plugins: Record<string, unknown>): void {
    const names = typeof plugins === 'object' && plugins !== null ? Object.keys(plugins) : [];
    this._log('registerPlugin: Presently does not use plugins', { plugins: names }, 1);
  }

  /**
   * The hosted SDK's door to extra calls. `isCommercialAbilityEnabled` (with a number of feature
   * bits) resolves `{ enabled }` from the app's edition and switches as of this login: bit 7 (128)
   * is the user-status feature; every other bit is a feature Presently does not have. Rejects
   * with the not-ready code before login, 70402 for a bad argument, and 2905 for any other name.
   */
  callExperimentalAPI(key: 'isCommercialAbilityEnabled', options: number | string): Promise<PresentlyResponse<AbilityData>>;
  callExperimentalAPI(key: string, options?: unknown): Promise<PresentlyResponse<unknown>>;
  async callExperimentalAPI(key: string, options?: unknown): Promise<PresentlyResponse<unknown>> {
    if (key !== 'isCommercialAbilityEnabled') {
      throw new PresentlyError(ErrorCode.INVALID_OPERATION, `callExperimentalAPI(${JSON.stringify(key)}) is not supported by Presently`);
    }
    const bits = typeof options === 'string' && /^\d+$/.test(options) ? Number(options) : options;
    if (typeof bits !== 'number' || !Number.isSafeInteger(bits) || bits < 0) {
      throw new PresentlyError(ErrorCode.INVALID_PARAMETERS, 'isCommercialAbilityEnabled takes a non-negative integer of feature bits');
    }
    if (!LOGGED_IN.has(this._state) || !this._session) throw this._notReadyError();
    // Every asked bit must be one Presently has: bit 7 alone, when the app allows others' statuses.
    const enabled = bits === 0 || (bits === ABILITY_USER_STATUS && this._session.features?.userStatus === true);
    return { code: 0, data: { enabled } };
  }

  // ---- login / logout ---------------------------------------------------------------------------

  /**
   * Logs in. Resolves once logged in; SDK_READY follows (after the promise's own handlers ran, the
   * hosted SDK's order). Already logged in as `userID`: resolves with `repeatLogin: true` and keeps
   * `userSig` for later re-logins. Logged in as someone else: logs out first. Rejects with 2000/2002/2003 (missing SDKAppID, userID,
   * userSig), 2025 (a login is in progress), 2800/2801 (cannot connect / no reply), or the
   * server's refusal code (70001 expired, 70009 bad key, 70052 invalidated, ...).
   */
  login(params: LoginParams): Promise<PresentlyResponse<LoginData>> {
    if (this._state === 'destroyed') return Promise.reject(this._notReadyError());
    const appId = this._opts.SDKAppID;
    if (typeof appId !== 'number' || !Number.isSafeInteger(appId) || appId <= 0) {
      return Promise.reject(new PresentlyError(ErrorCode.SDK_NO_SDKAPPID));
    }
    const userID: unknown = params?.userID;
    const userSig: unknown = params?.userSig;
    if (typeof userID !== 'string' || userID === '') return Promise.reject(new PresentlyError(ErrorCode.SDK_NO_USERID));
    if (typeof userSig !== 'string' || userSig === '') return Promise.reject(new PresentlyError(ErrorCode.SDK_NO_USERSIG));
    if (this._loginTask) return Promise.reject(new PresentlyError(ErrorCode.REPEATED_LOGIN));
    if (LOGGED_IN.has(this._state) && this._session && this._userID === userID) {
      // A fresh sig (e.g. the app renewed it) is what the next re-login after a reconnect uses.
      this._userSig = userSig;
      const errorInfo = `${userID} is already logged in on this instance; this login was a repeat`;
      this._log(errorInfo, undefined, 2);
      return Promise.resolve({ code: 0, data: loginData(this._session, errorInfo, true) });
    }
    const task = this._login(userID, userSig).finally(() => {
      if (this._loginTask === task) this._loginTask = null;
    });
    this._loginTask = task;
    return task;
  }

  private async _login(userID: string, userSig: string): Promise<PresentlyResponse<LoginData>> {
    if (this._logoutTask) await this._logoutTask;
    if (LOGGED_IN.has(this._state)) await this.logout().catch(() => undefined);
    if (this._state === 'destroyed') throw this._notReadyError();
    this._userID = userID;
    this._userSig = userSig;
    this._session = null;
    this._selfCustomStatus = '';
    this._lastReported.clear();
    this._early = [];
    this._attempt = 0;
    this._readyPending = false;
    const seq = ++this._loginSeq;
    this._detachLink();
    const epoch = this._epoch;
    this._setState('loggingIn');
    let session: LoginResult;
    try {
      if (epoch !== this._epoch) throw this._notReadyError(); // a handler destroyed us
      session = await this._connect(epoch);
      if (epoch !== this._epoch) throw this._notReadyError();
    } catch (err) {
      const error = toPresentlyError(err);
      if (epoch === this._epoch) {
        this._detachLink()?.close('login failed', error);
        this._setState('loginFailed');
      }
      throw error;
    }
    // SDK_READY (and the pushes that came meanwhile) after the caller's handlers of this promise.
    this._readyPending = true;
    this._setState('ready', { deferReady: true });
    setTimeout(() => this._announceReady(seq), 0);
    return { code: 0, data: loginData(session, '', false) };
  }

  /** The deferred SDK_READY of login number `seq`, unless that login is over or superseded. */
  private _announceReady(seq: number): void {
    if (seq !== this._loginSeq || !this._readyPending) return;
    this._readyPending = false;
    if (!LOGGED_IN.has(this._state)) return;
    const state = this._state;
    this._events.emit(EVENT.SDK_READY, {});
    if (this._state === state && state === 'ready') this._flushEarly();
  }

  /**
   * Opens a link and logs in on it with the stored userID/userSig and this instance's id.
   * The link becomes `_link` before the login frame goes out, so pushes that race the login
   * reply are kept (`_early`).
   */
  private async _connect(epoch: number): Promise<LoginResult> {
    const ws = await openSocket(this._opts.WebSocket, this._opts.url, this._opts.connectTimeoutMs);
    if (epoch !== this._epoch) {
      ws.close(CloseCode.NORMAL, 'abandoned');
      throw this._notReadyError();
    }
    const link = new Link(ws, {
      onFrame: (frame) => this._onFrame(epoch, frame),
      onClose: (code, reason) => this._onLinkClosed(epoch, code, reason),
    });
    this._link = link;
    const sentAt = Date.now();
    const result = await link.request(
      'login',
      {
        SDKAppID: this._opts.SDKAppID,
        userID: this._userID,
        userSig: this._userSig,
        platform: this._opts.platform,
        instanceId: this._instanceId,
      },
      this._opts.requestTimeoutMs,
    );
    if (epoch !== this._epoch) throw this._notReadyError();
    if (typeof result?.serverTime === 'number') this._clockOffsetMs = result.serverTime - (sentAt + Date.now()) / 2;
    this._selfCustomStatus = typeof result?.customStatus === 'string' ? result.customStatus : '';
    const intervalMs = positive(result?.heartbeatIntervalMs, 30_000);
    const timeoutMs = positive(result?.heartbeatTimeoutMs, 3 * intervalMs);
    const session: LoginResult = { ...result, heartbeatIntervalMs: intervalMs, heartbeatTimeoutMs: timeoutMs };
    this._session = session;
    link.startHeartbeat(intervalMs, Math.min(timeoutMs, 2 * intervalMs + this._opts.heartbeatGraceMs));
    return session;
  }

  /**
   * Logs out: the server marks this session logged out (S4), SDK_NOT_READY is emitted, and later
   * calls reject with 3005. Rejects with 2024 when not logged in. While the connection is down it
   * only forgets the login locally (the server then sees a lost session, S3).
   */
  async logout(): Promise<PresentlyResponse<EmptyData>> {
    // A login in progress finishes first, so the server never keeps a session we meant to end.
    if (this._state === 'loggingIn' && this._loginTask) await this._loginTask.catch(() => undefined);
    if (!LOGGED_IN.has(this._state)) throw new PresentlyError(ErrorCode.NOT_LOGGED_IN);
    const wasConnected = this._state === 'ready';
    const link = this._detachLink();
    const gone = new PresentlyError(ErrorCode.LOGGED_OUT);
    let task: Promise<void> | null = null;
    if (link && wasConnected) {
      task = this._sayGoodbye(link, gone);
      this._logoutTask = task; // set before the state change: a handler's login() waits for it
    } else {
      link?.close('logged out', gone);
    }
    this._setState('loggedOut');
    if (task) {
      try {
        await task;
      } finally {
        if (this._logoutTask === task) this._logoutTask = null;
      }
    }
    return okEmpty();
  }

  /** Sends `logout` on a detached link, waits for the reply (bounded), then closes the link. */
  private async _sayGoodbye(link: Link, err: PresentlyError): Promise<void> {
    try {
      await link.request('logout', {}, this._opts.requestTimeoutMs);
    } catch (e) {
      this._log('logout was not acknowledged', { code: toPresentlyError(e).code }, 1);
    } finally {
      link.close('logged out', err);
    }
  }

  /** The logged-in userID, '' when not logged in. */
  getLoginUser(): string {
    return LOGGED_IN.has(this._state) ? this._userID : '';
  }

  /**
   * true between SDK_READY and SDK_NOT_READY. It stays true while a lost connection is being
   * re-established (calls then reject with 2800); NET_STATE_CHANGE tells those moments apart.
   * (The calls already work once `login()` resolved, a moment before SDK_READY.)
   */
  isReady(): boolean {
    return LOGGED_IN.has(this._state) && !this._readyPending;
  }

  /**
   * Ends this instance: pending calls reject with 2999, the session logs out on the server when
   * connected, timers stop, and no event is emitted any more. Later calls reject.
   */
  async destroy(): Promise<void> {
    if (this._state === 'destroyed') return;
    const wasConnected = this._state === 'ready';
    const link = this._detachLink();
    const err = new PresentlyError(ErrorCode.SDK_NOT_READY, 'this instance was destroyed');
    this._events.clear();
    this._setState('destroyed');
    if (!link) return;
    link.rejectPending(err);
    if (wasConnected) await this._sayGoodbye(link, err);
    else link.close('destroyed', err);
  }

  /**
   * The logged-in user's profile, for code (such as TUIKit's engine) that reads it after login:
   * `{ userID, nick: '', avatar: '' }`. Rejects with the not-ready code when not logged in.
   */
  async getMyProfile(): Promise<PresentlyResponse<Profile>> {
    this._readyLink();
    return { code: 0, data: { userID: this._userID, nick: '', avatar: '' } };
  }

  // ---- status calls -------------------------------------------------------------------------------

  /** Sets (or clears, with '' / null / undefined) the own custom status (S7, S8). */
  async setSelfStatus(params: SetSelfStatusParams): Promise<PresentlyResponse<UserStatusInfo>> {
    const link = this._readyLink();
    const customStatus: unknown = params?.customStatus;
    if (customStatus !== undefined && customStatus !== null && typeof customStatus !== 'string') {
      throw new PresentlyError(ErrorCode.INVALID_PARAMETERS, 'customStatus must be a string');
    }
    const raw = await this._request(link, 'setSelfStatus', { customStatus: customStatus ?? '' });
    const data = normalizeStatus(raw) ?? { userID: this._userID, statusType: TYPES.USER_STATUS_ONLINE, customStatus: customStatus ?? '' };
    this._remember([data]);
    return { code: 0, data };
  }

  /**
   * Statuses of the given users, the hosted SDK's way: repeated ids are asked once, the user's own
   * status comes first and is answered from this instance (no request when it is the only id, S12),
   * the others follow in the order asked (S11). Past the app's per-call limit (500 by default,
   * S14) the list is trimmed with a warning and each id left out is in failureUserList with 72002.
   * Ids that are not accounts are in failureUserList with 70107.
   */
  async getUserStatus(params: UserIDListParams): Promise<PresentlyResponse<GetUserStatusData>> {
    const link = this._readyLink();
    const asked = unique(checkUserIDList(params?.userIDList, false) ?? []);
    const others = asked.filter((id) => id !== this._userID);
    const self: UserStatusInfo[] = others.length < asked.length ? [{ userID: this._userID, statusType: TYPES.USER_STATUS_ONLINE, customStatus: this._selfCustomStatus }] : [];
    if (self.length > 0 && others.length === 0) return { code: 0, data: { successUserList: self, failureUserList: [] } };
    const { sent, left } = this._trim('getUserStatus', others, this._limit('maxQueryIDs', 500));
    const raw = await this._request(link, 'getUserStatus', { userIDList: sent });
    const successUserList = normalizeList(raw?.successUserList);
    this._remember(successUserList);
    return { code: 0, data: { successUserList: [...self, ...successUserList], failureUserList: [...failureList(raw?.failureUserList), ...left] } };
  }

  /**
   * From now on USER_STATUS_UPDATED reports changes of these users (S15). Repeated ids count once;
   * past the app's per-call limit (100 by default) the list is trimmed as in `getUserStatus`.
   */
  async subscribeUserStatus(params: UserIDListParams): Promise<PresentlyResponse<SubscribeData>> {
    const link = this._readyLink();
    const asked = unique(checkUserIDList(params?.userIDList, false) ?? []);
    const { sent, left } = this._trim('subscribeUserStatus', asked, this._limit('maxSubscribeIDsPerCall', 100));
    const raw = await this._request(link, 'subscribeUserStatus', { userIDList: sent });
    return { code: 0, data: { failureUserList: [...failureList(raw?.failureUserList), ...left] } };
  }

  /** Stops those subscriptions; no list or [] stops all (S19). Trimmed like `subscribeUserStatus`. */
  async unsubscribeUserStatus(params: UnsubscribeParams = {}): Promise<PresentlyResponse<SubscribeData>> {
    const link = this._readyLink();
    const asked = checkUserIDList(params?.userIDList, true);
    if (asked === undefined || asked.length === 0) {
      const raw = await this._request(link, 'unsubscribeUserStatus', asked === undefined ? {} : { userIDList: asked });
      return { code: 0, data: { failureUserList: failureList(raw?.failureUserList) } };
    }
    const { sent, left } = this._trim('unsubscribeUserStatus', unique(asked), this._limit('maxSubscribeIDsPerCall', 100));
    const raw = await this._request(link, 'unsubscribeUserStatus', { userIDList: sent });
    return { code: 0, data: { failureUserList: [...failureList(raw?.failureUserList), ...left] } };
  }

  /** The app's per-call limit as the server announced it at login, else the hosted SDK's. */
  private _limit(name: 'maxQueryIDs' | 'maxSubscribeIDsPerCall', fallback: number): number {
    const value = this._session?.limits?.[name];
    return typeof value === 'number' && Number.isSafeInteger(value) && value > 0 ? value : fallback;
  }

  /** Splits a list at `max`: the ids to send, and a 72002 failure item for each one left out. */
  private _trim(call: string, ids: string[], max: number): { sent: string[]; left: FailureItem[] } {
    if (ids.length <= max) return { sent: ids, left: [] };
    this._log(`${call}: ${ids.length} userIDs, more than the ${max} allowed in one call; the rest are not sent`, { max }, 2);
    return { sent: ids.slice(0, max), left: ids.slice(max).map((id) => trimmed(id, max)) };
  }

  private _readyLink(): Link {
    if (this._state !== 'ready' || !this._link) throw this._notReadyError();
    return this._link;
  }

  private _request<Op extends RequestOp>(link: Link, op: Op, fields: Record<string, unknown>) {
    return link.request(op, fields, this._opts.requestTimeoutMs);
  }

  /** The error a call gets in the current state (compat.md §1 not-ready codes). */
  private _notReadyError(): PresentlyError {
    switch (this._state) {
      case 'idle':
        return new PresentlyError(ErrorCode.NOT_LOGGED_IN);
      case 'loggingIn':
        return new PresentlyError(ErrorCode.LOGGING_IN);
      case 'loginFailed':
        return new PresentlyError(ErrorCode.LOGIN_FAILED);
      case 'loggedOut':
        return new PresentlyError(ErrorCode.LOGGED_OUT);
      case 'kicked':
        return new PresentlyError(KICK_CODES[this._kickType]);
      case 'disconnected':
      case 'reconnecting':
        return new PresentlyError(ErrorCode.NETWORK_ERROR, 'the connection is down; reconnecting');
      case 'destroyed':
      case 'ready':
        return new PresentlyError(ErrorCode.SDK_NOT_READY, this._state === 'destroyed' ? 'this instance was destroyed' : undefined);
    }
  }

  // ---- the one state change ------------------------------------------------------------------------

  /**
   * Every change of `_state` goes through here and emits, in this order: NET_STATE_CHANGE when
   * the network state differs, the cause (KICKED_OUT / ERROR), then SDK_READY or SDK_NOT_READY
   * when crossing the logged-in boundary (SDK_READY is left to the caller with `deferReady`). Callers finish their own bookkeeping first: a handler
   * may call back into the SDK, and a nested change cuts the remaining events of this one short.
   */
  private _setState(next: State, cause: { kickType?: KickTypeValue; error?: PresentlyError; deferReady?: boolean } = {}): void {
    const prev = this._state;
    if (prev === next) return;
    this._state = next;
    this._log(`state ${prev} -> ${next}`, { epoch: this._epoch });
    if (next === 'destroyed') return;
    const prevNet = netStateOf(prev);
    const nextNet = netStateOf(next);
    const steps: Array<() => void> = [];
    if (prevNet !== nextNet) steps.push(() => this._events.emit(EVENT.NET_STATE_CHANGE, { state: nextNet }));
    if (next === 'kicked' && cause.kickType) {
      const type = cause.kickType;
      steps.push(() => this._events.emit(EVENT.KICKED_OUT, { type }));
    }
    if (cause.error) {
      const { code, message } = cause.error;
      steps.push(() => this._events.emit(EVENT.ERROR, { code, message }));
    }
    const wasIn = LOGGED_IN.has(prev);
    const isIn = LOGGED_IN.has(next);
    if (!wasIn && isIn && !cause.deferReady) steps.push(() => this._events.emit(EVENT.SDK_READY, {}));
    if (wasIn && !isIn) {
      const code = this._notReadyError().code;
      steps.push(() => this._events.emit(EVENT.SDK_NOT_READY, { code }));
    }
    for (const step of steps) {
      if (this._state !== next) return;
      step();
    }
  }

  /** Forgets the current link (epoch bump), stops its heartbeat and any scheduled reconnect. */
  private _detachLink(): Link | null {
    this._epoch++;
    if (this._reconnectTimer) clearTimeout(this._reconnectTimer);
    this._reconnectTimer = null;
    this._early = [];
    const link = this._link;
    this._link = null;
    link?.stopHeartbeat();
    return link;
  }

  // ---- frames and connection loss -------------------------------------------------------------

  private _onFrame(epoch: number, frame: IncomingFrame): void {
    if (epoch !== this._epoch) return; // a stale link
    switch (frame.op) {
      case 'userStatusUpdated': {
        const list = normalizeList(frame.data);
        if (list.length === 0) return;
        if (this._state === 'ready' && !this._readyPending) this._report(list);
        else if (this._state === 'ready' || this._state === 'loggingIn' || this._state === 'reconnecting') this._early.push(list);
        return;
      }
      case 'kickedOut': {
        const type = (frame.data as { type?: unknown } | undefined)?.type;
        this._kicked(isKickType(type) ? type : this._defaultKickType());
        return;
      }
      case 'error': {
        const err = frameError(frame);
        this._events.emit(EVENT.ERROR, frame.data === undefined ? { code: err.code, message: err.message } : { code: err.code, message: err.message, data: frame.data });
        return;
      }
      default:
        return; // heartbeat answers and anything newer than this SDK
    }
  }

  private _onLinkClosed(epoch: number, code: number, reason: string): void {
    if (epoch !== this._epoch) return; // a stale link
    // During login / reconnecting the attempt's own request rejects and handles the failure.
    if (this._state !== 'ready') return;
    this._detachLink();
    this._log('connection lost', { code, reason }, 1);
    switch (code) {
      case CloseCode.KICKED:
        // The kickedOut push normally came first and made this link stale; without it, the
        // server's close reason carries the kick type.
        this._kicked(isKickType(reason) ? reason : this._defaultKickType());
        return;
      case CloseCode.LOGGED_OUT:
        this._setState('loggedOut');
        return;
      case CloseCode.SERVER_RESTART:
        // A planned restart is not a failure: come back soon, spread over a short window, and
        // leave the attempt counter alone.
        this._scheduleReconnect(Math.random() * this._opts.restartDelayMaxMs, { restart: true, attempt: this._attempt });
        return;
      default:
        this._reconnectWithBackoff();
    }
  }

  /** S26 default policy: a Web session is kicked by another web instance, a native one by a device. */
  private _defaultKickType(): KickTypeValue {
    return this._opts.platform === 'Web' ? KickType.MULT_ACCOUNT : KickType.MULT_DEVICE;
  }

  private _kicked(type: KickTypeValue): void {
    this._kickType = type;
    this._detachLink()?.close('kicked', new PresentlyError(KICK_CODES[type]));
    this._setState('kicked', { kickType: type });
  }

  private _reconnectWithBackoff(): void {
    const attempt = this._attempt++;
    const delayMs = backoff(attempt, { baseMs: this._opts.backoffBaseMs, capMs: this._opts.backoffCapMs });
    this._scheduleReconnect(delayMs, { attempt });
  }

  private _scheduleReconnect(delayMs: number, fields: { attempt: number; restart?: boolean }): void {
    this._log('reconnect scheduled', { ...fields, delayMs: Math.round(delayMs) });
    this._reconnectTimer = setTimeout(() => {
      this._reconnectTimer = null;
      void this._reconnect();
    }, delayMs);
    this._setState('disconnected');
  }

  /** One reconnect attempt: re-login with the same userSig and instanceId, then re-sync (S23). */
  private async _reconnect(): Promise<void> {
    const epoch = ++this._epoch;
    this._setState('reconnecting');
    if (epoch !== this._epoch) return; // a handler logged out or destroyed
    try {
      await this._connect(epoch);
      if (epoch !== this._epoch) return;
    } catch (err) {
      if (epoch !== this._epoch) return;
      const error = toPresentlyError(err);
      this._detachLink()?.close('re-login failed', error);
      this._onReloginFailed(error);
      return;
    }
    this._attempt = 0;
    this._setState('ready');
    if (epoch !== this._epoch || this._state !== 'ready') return;
    this._flushEarly();
    await this._resync(epoch);
  }

  /**
   * A refused re-login. 70001 / 70052 mean the login is over for good: reported as a kick so the
   * app fetches a new UserSig (S25, S28). Busy / rate-limited / network: retry with backoff.
   * Anything else: the login failed; ERROR carries the server's code.
   */
  private _onReloginFailed(error: PresentlyError): void {
    this._log('re-login failed', { code: error.code, message: error.message }, 1);
    if (error.code === ErrorCode.USERSIG_EXPIRED) return this._kicked(KickType.USERSIG_EXPIRED);
    if (error.code === ErrorCode.USERSIG_INVALIDATED) return this._kicked(KickType.REST_API);
    if (RETRYABLE_LOGIN_CODES.has(error.code)) return this._reconnectWithBackoff();
    this._setState('loginFailed', { error });
  }

  /**
   * S23: changes made while we were away were not delivered; ask for the statuses of self,
   * subscriptions and friends, and report every user whose status differs from what the app
   * last heard (or that it never heard of) in one USER_STATUS_UPDATED.
   */
  private async _resync(epoch: number): Promise<void> {
    const link = this._link;
    if (!link) return;
    try {
      // The diff is taken as the reply is read: a push behind it on the wire is newer than the
      // snapshot and must be reported after it, not overwritten by it.
      await link.request('syncStatus', {}, this._opts.requestTimeoutMs, (data) => {
        if (epoch === this._epoch && this._state === 'ready') this._applySync(data?.userList);
      });
    } catch (err) {
      if (epoch !== this._epoch) return;
      const e = toPresentlyError(err);
      this._log('status sync failed', { code: e.code }, 2);
      this._events.emit(EVENT.ERROR, { code: e.code, message: `status sync after reconnect failed: ${e.message}` });
    }
  }

  private _applySync(raw: unknown): void {
    const list = normalizeList(raw);
    const changed = list.filter((s) => {
      const last = this._lastReported.get(s.userID);
      return !last || last.statusType !== s.statusType || last.customStatus !== s.customStatus;
    });
    // The sync lists everyone whose changes reach us; users outside it need no memory (bounded map).
    this._lastReported = new Map(list.map((s) => [s.userID, s]));
    const self = this._lastReported.get(this._userID);
    if (self) this._selfCustomStatus = self.customStatus;
    if (changed.length > 0) this._events.emit(EVENT.USER_STATUS_UPDATED, changed);
  }

  private _flushEarly(): void {
    const early = this._early;
    this._early = [];
    for (const list of early) this._report(list);
  }

  private _report(list: UserStatusInfo[]): void {
    this._remember(list);
    this._events.emit(EVENT.USER_STATUS_UPDATED, list);
  }

  private _remember(list: UserStatusInfo[]): void {
    for (const s of list) {
      this._lastReported.set(s.userID, s);
      if (s.userID === this._userID) this._selfCustomStatus = s.customStatus;
    }
  }

  private _log(message: string, fields?: Record<string, unknown>, level: LogLevel = 0): void {
    if (level < this._logLevel) return;
    const logger = this._opts.logger;
    try {
      if (logger) logger(message, fields, level);
      else consoleLine(`Presently: ${message}`, fields, level);
    } catch {
      /* a broken logger must not break the SDK */
    }
  }
}

/** The default log output: `console`, warnings and errors as such. */
function consoleLine(line: string, fields: Record<string, unknown> | undefined, level: LogLevel): void {
  const args: unknown[] = fields === undefined ? [line] : [line, fields];
  if (level >= 3) console.error(...args);
  else if (level === 2) console.warn(...args);
  else console.log(...args);
}

/** `login`'s data for a session (see LoginData). */
function loginData(session: LoginResult, errorInfo: string, repeatLogin: boolean): LoginData {
  return { actionStatus: 'OK', errorCode: 0, errorInfo, ...session, repeatLogin };
}

function frameError(frame: IncomingFrame): PresentlyError {
  const code = typeof frame.code === 'number' ? frame.code : ErrorCode.INTERNAL_ERROR;
  return new PresentlyError(code, typeof frame.message === 'string' ? frame.message : undefined, frame.data);
}
