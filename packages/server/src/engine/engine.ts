/**
 * The presence engine: every rule of user-status.md for one app, with no I/O.
 * It takes events (login, logout, disconnect, kick, set custom status, subscribe, friendship
 * changes, time passing) and tells its ports who must hear what and which facts to persist.
 * All methods are synchronous; `now` (ms since the epoch) is always passed in.
 */
import {
  ErrorCode,
  KickType,
  PresentlyError,
  UserStatus,
  isValidUserID,
  utf8Length,
  type AppFeatures,
  type FailureItem,
  type KickTypeValue,
  type Platform,
  type StatusType,
  type UserStatusInfo,
  messageFor,
} from '@presently/protocol';
import type { AppSettings } from '../config/settings.js';
import type { AppSnapshot, DisconnectReason, EnginePorts, FriendMeta, Session, StatusChange } from './types.js';

export type RateOp = 'query' | 'subscribe' | 'unsubscribe' | 'self' | 'sync';
const RATE_NAMES: Record<RateOp, string> = {
  query: 'getUserStatus',
  subscribe: 'subscribeUserStatus',
  unsubscribe: 'unsubscribeUserStatus',
  self: 'setSelfStatus',
  sync: 'syncStatus',
};

interface UserRec<S> {
  readonly userID: string;
  /** Live sessions, oldest first. */
  sessions: Session<S>[];
  /** Durable login state: device keys logged in and not logged out (live or not) (S3, S4). */
  loginKeys: Set<string>;
  /** Second of the last REST kick: tickets made at or before it are refused (S28). */
  kickedAt: number;
  /** When the user last stopped being ONLINE (ms); 0 while online or never (S19). */
  offlineSince: number;
  nick: string;
  faceUrl: string;
  customStatus: string;
  statusType: StatusType;
  /** Targets this user subscribed to; Map order is subscription order, oldest first (S16). */
  subs: Map<string, number>;
  /** Users subscribed to this user. */
  subscribers: Set<string>;
  /** This user's friend list. */
  friends: Map<string, FriendMeta>;
  /** Users who have this user in their friend list (they hear its changes, S21c). */
  friendOf: Set<string>;
  rate: Record<RateOp, number[]> | null;
  /** S10 opt-in window: when the last change was announced (ms), and whether one waits. */
  lastAnnounce: number;
  pendingAnnounce: boolean;
  /** Fan-out stamp: dedupes receivers of one change without allocating (S22). */
  mark: number;
}

/** One change as every receiver gets it; its JSON made once (S20). Cluster v2 makes them from channel messages. */
export class Change implements StatusChange {
  private cached: string | undefined;
  constructor(readonly info: UserStatusInfo) {}
  json(): string {
    return (this.cached ??= JSON.stringify(this.info));
  }
}

export interface LoginParams<S> {
  userID: string;
  platform: Platform;
  instanceId: string;
  sessionId: string;
  /** `TLS.time` of the ticket that proved this login (S28). */
  ticketTime: number;
  sink: S;
}

/** A live session as cluster v2 keeps it in the user's record: no socket, the node that holds it. */
export interface SessionState {
  id: string;
  /** The node key holding the socket. */
  node: string;
  platform: Platform;
  instanceId: string;
  deviceKey: string;
  loginAt: number;
}

/**
 * One user's state as cluster v2 keeps it in the user's Redis record (cluster/v2): everything
 * the rules need about the user alone. Friends are not here (PostgreSQL; a node loads them).
 */
export interface UserState {
  userID: string;
  sessions: SessionState[];
  loginKeys: string[];
  kickedAt: number;
  offlineSince: number;
  nick: string;
  faceUrl: string;
  customStatus: string;
  statusType: StatusType;
  /** Subscriptions in order, oldest first, with their sequence numbers (S16). */
  subs: Array<[string, number]>;
  rate: Record<RateOp, number[]> | null;
  lastAnnounce: number;
}

/** A device of an account: a live session, or a login state kept while offline (S3). */
export interface DeviceDetail {
  platform: Platform;
  /** True for a live session; false for a device logged in but not connected (OFFLINE). */
  online: boolean;
  /** ms: when the session logged in; for an offline device, when the user went offline (0 if unknown). */
  since: number;
}

/** An account as the console lists it (`presently/list_users`). */
export interface UserDetail {
  userID: string;
  statusType: StatusType;
  customStatus: string;
  nick: string;
  devices: DeviceDetail[];
  /** How many users this one subscribes to, and has as friends. */
  subscriptions: number;
  friends: number;
}

export interface QueryOnlineItem {
  To_Account: string;
  Status: 'Online' | 'PushOnline' | 'Offline';
  Detail?: Array<{ Platform: string; Status: 'Online' | 'PushOnline' }>;
}

/** REST names platforms as the hosted service does: a Windows session is a `PC` (compat.md §3). */
export function restPlatform(p: string): string {
  return p === 'Windows' ? 'PC' : p;
}

/** The platform of a login-state key ('Web' or 'Web#instance'). */
function keyPlatform(key: string): string {
  const i = key.indexOf('#');
  return i < 0 ? key : key.slice(0, i);
}

function kickTypeFor(victim: Platform): KickTypeValue {
  // S26: a web instance pushed out by another is `multipleAccount`; a native device `multipleDevice`.
  return victim === 'Web' ? KickType.MULT_ACCOUNT : KickType.MULT_DEVICE;
}

/** The group list of every friendship without groups (never changed in place). */
const NO_GROUPS: string[] = Object.freeze([]) as unknown as string[];

function fail(code: number, message?: string): never {
  throw new PresentlyError(code, message ?? messageFor(code));
}

export class AppEngine<S> {
  private readonly users = new Map<string, UserRec<S>>();
  /** Users not online who hold subscriptions: the only ones S19 expiry must look at. */
  private readonly expiryCandidates = new Set<UserRec<S>>();
  /** Users whose custom-status announcement waits for its window to end (S10 opt-in). */
  private readonly pendingAnnouncements = new Set<UserRec<S>>();
  /** Deleted accounts -> second of deletion: tickets made before it cannot bring them back. */
  private readonly tombstones = new Map<string, number>();
  private stamp = 0;
  private subSeq = 0;
  private liveSessions = 0;
  /** userIDs in code-unit order for `listUsers`; null after an account was added or deleted. */
  private sortedIds: string[] | null = null;
  /** Interned `AddSource` values of friendships (few distinct ones, repeated on every friendship). */
  private readonly sources = new Map<string, string>();

  constructor(
    private settingsRef: AppSettings,
    private readonly ports: EnginePorts<S>,
  ) {}

  get settings(): AppSettings {
    return this.settingsRef;
  }
  get app(): number {
    return this.settingsRef.SDKAppID;
  }
  /** New settings take effect for the next request (the integrations issue's settings API). */
  updateSettings(next: AppSettings): void {
    this.settingsRef = next;
  }

  // ---- loading ---------------------------------------------------------------------------------

  /** Loads durable state. Every user starts without live sessions: logged in means OFFLINE. */
  load(snap: AppSnapshot, now: number): void {
    for (const t of snap.tombstones ?? []) this.tombstones.set(t.userID, t.deletedAt);
    for (const a of snap.accounts) {
      const u = this.newUser(a.userID);
      u.loginKeys = new Set(a.loginKeys);
      u.kickedAt = a.kickedAt;
      u.offlineSince = a.offlineSince || now;
      u.nick = a.nick ?? '';
      u.faceUrl = a.faceUrl ?? '';
      u.statusType = u.loginKeys.size > 0 ? UserStatus.OFFLINE : UserStatus.UNLOGINED;
      this.users.set(a.userID, u);
    }
    // Keys are the accounts' own userID strings: a loaded row's strings are copies, and with
    // tens of relations per account the copies would cost more than the relations themselves.
    for (const f of snap.friends) {
      const a = this.users.get(f.from);
      const b = this.users.get(f.to);
      if (!a || !b) continue;
      a.friends.set(b.userID, this.compactMeta(f));
      b.friendOf.add(a.userID);
    }
    for (const s of snap.subscriptions) {
      const a = this.users.get(s.userID);
      const b = this.users.get(s.target);
      if (!a || !b) continue;
      a.subs.set(b.userID, s.seq);
      b.subscribers.add(a.userID);
      if (s.seq > this.subSeq) this.subSeq = s.seq;
      this.expiryCandidates.add(a);
    }
  }

  /** Friend data with its repeated parts shared: one empty group list, one copy of each source. */
  private compactMeta(m: FriendMeta): FriendMeta {
    let addSource = this.sources.get(m.addSource);
    if (addSource === undefined) {
      addSource = m.addSource;
      if (this.sources.size < 10_000) this.sources.set(addSource, addSource);
    }
    return { remark: m.remark, groups: m.groups.length === 0 ? NO_GROUPS : m.groups, addSource, addTime: m.addTime };
  }

  private newUser(userID: string): UserRec<S> {
    this.sortedIds = null; // a new account: the listing index is rebuilt on its next use
    return {
      userID,
      sessions: [],
      loginKeys: new Set(),
      // A re-created account keeps refusing tickets made before its deletion (S28).
      kickedAt: this.tombstones.get(userID) ?? 0,
      offlineSince: 0,
      nick: '',
      faceUrl: '',
      customStatus: '',
      statusType: UserStatus.UNLOGINED,
      subs: new Map(),
      subscribers: new Set(),
      friends: new Map(),
      friendOf: new Set(),
      rate: null,
      lastAnnounce: 0,
      pendingAnnounce: false,
      mark: 0,
    };
  }

  // ---- cluster v2: this engine as a node's view of some users ---------------------------------------

  /**
   * The user's state as cluster v2 stores it (undefined when the account is not here). Sessions
   * whose sink is local (`node` '') are given `localNode` as their node.
   */
  exportUser(userID: string, nodeOf: (sink: S) => string): UserState | undefined {
    const u = this.users.get(userID);
    if (!u) return undefined;
    return {
      userID,
      sessions: u.sessions.map((s) => ({ id: s.id, node: nodeOf(s.sink), platform: s.platform, instanceId: s.instanceId, deviceKey: s.deviceKey, loginAt: s.loginAt })),
      loginKeys: [...u.loginKeys],
      kickedAt: u.kickedAt,
      offlineSince: u.offlineSince,
      nick: u.nick,
      faceUrl: u.faceUrl,
      customStatus: u.customStatus,
      statusType: u.statusType,
      subs: [...u.subs],
      rate: u.rate && { query: [...u.rate.query], subscribe: [...u.rate.subscribe], unsubscribe: [...u.rate.unsubscribe], self: [...u.rate.self], sync: [...u.rate.sync] },
      lastAnnounce: u.lastAnnounce,
    };
  }

  /**
   * Replaces what this engine knows of one user with `state` (cluster v2: the user's record as
   * just read). Session objects of ids already known are kept (connections hold them); others
   * get the sink `sinkFor` gives. Friends stay as they are (the node keeps them).
   */
  importUser(state: UserState, sinkFor: (s: SessionState) => S): void {
    let u = this.users.get(state.userID);
    if (!u) {
      u = this.newUser(state.userID);
      this.users.set(state.userID, u);
    }
    const known = new Map(u.sessions.map((s) => [s.id, s]));
    this.liveSessions -= u.sessions.length;
    const kept = new Set<string>();
    u.sessions = state.sessions.map((st) => {
      kept.add(st.id);
      const old = known.get(st.id);
      if (old) return old;
      return { id: st.id, userID: state.userID, platform: st.platform, instanceId: st.instanceId, deviceKey: st.deviceKey, loginAt: st.loginAt, sink: sinkFor(st), live: true };
    });
    // A session the record no longer has was ended elsewhere.
    for (const [id, s] of known) if (!kept.has(id)) s.live = false;
    this.liveSessions += u.sessions.length;
    u.loginKeys = new Set(state.loginKeys);
    u.kickedAt = state.kickedAt;
    u.offlineSince = state.offlineSince;
    u.nick = state.nick;
    u.faceUrl = state.faceUrl;
    u.customStatus = state.customStatus;
    u.statusType = state.statusType;
    u.subs = new Map(state.subs);
    for (const [t, seq] of state.subs) {
      if (seq > this.subSeq) this.subSeq = seq;
      this.users.get(t)?.subscribers.add(state.userID);
    }
    u.rate = state.rate;
    u.lastAnnounce = state.lastAnnounce;
  }

  /**
   * Forgets a user this view no longer needs (nothing persisted, nothing announced). `deletedAt`:
   * the account was deleted then, and tickets made before it stay refused (S28).
   */
  dropUser(userID: string, deletedAt?: number): void {
    if (deletedAt !== undefined) this.tombstones.set(userID, deletedAt);
    const u = this.users.get(userID);
    if (!u) return;
    this.liveSessions -= u.sessions.length;
    this.users.delete(userID);
    this.expiryCandidates.delete(u);
    this.pendingAnnouncements.delete(u);
    this.sortedIds = null;
  }

  /**
   * Cluster v2, after Redis lost the user's record: a session this node still holds is put back
   * as it was (no device policy, no kick, no event), and the change it makes is announced.
   */
  restoreSession(session: Session<S>, now: number): void {
    const u = this.users.get(session.userID);
    if (!u || u.sessions.some((s) => s.id === session.id)) return;
    const before = this.snapshotOf(u);
    session.live = true;
    u.sessions.push(session);
    this.liveSessions++;
    u.loginKeys.add(session.deviceKey);
    u.offlineSince = 0;
    this.persistAccount(u);
    this.commit(u, before, now, false);
  }

  /**
   * S19 for one user (cluster v2 applies it when it next writes the user's record, instead of
   * sweeping every user): drops the subscriptions of a user not online for the expiry time.
   */
  expireSubscriptions(userID: string, now: number): void {
    const u = this.users.get(userID);
    if (!u || u.statusType === UserStatus.ONLINE || u.subs.size === 0 || u.offlineSince === 0) return;
    if (now - u.offlineSince < this.settingsRef.limits.subscriptionExpiryHours * 3_600_000) return;
    for (const t of [...u.subs.keys()]) this.dropSub(u, t);
  }

  /** Announces the user's status as it is (cluster v2: watchers may have missed its last change). */
  reannounce(userID: string, now: number): void {
    const u = this.users.get(userID);
    if (u) this.announce(u, now);
  }

  /** When the account was deleted (s), if this engine saw it deleted. */
  deletedAt(userID: string): number | undefined {
    return this.tombstones.get(userID);
  }

  /** Replaces the friend list of a user this view holds (cluster v2: as loaded from the store). */
  setFriends(userID: string, friends: ReadonlyArray<{ to: string } & FriendMeta>): void {
    const u = this.users.get(userID);
    if (!u) return;
    for (const to of u.friends.keys()) this.users.get(to)?.friendOf.delete(userID);
    u.friends = new Map(friends.map((f) => [f.to, this.compactMeta(f)]));
    for (const to of u.friends.keys()) this.users.get(to)?.friendOf.add(userID);
  }

  // ---- reading ---------------------------------------------------------------------------------

  hasAccount(userID: string): boolean {
    return this.users.has(userID);
  }
  accountCount(): number {
    return this.users.size;
  }
  sessionCount(): number {
    return this.liveSessions;
  }

  /** S28: true when a ticket made at `ticketTime` (s) was invalidated by a kick or a deletion. */
  ticketInvalidated(userID: string, ticketTime: number): boolean {
    const u = this.users.get(userID);
    return ticketTime <= (u ? u.kickedAt : (this.tombstones.get(userID) ?? -1));
  }

  /** S11: `{ userID, statusType, customStatus }` of one account, or undefined. */
  statusOf(userID: string): UserStatusInfo | undefined {
    const u = this.users.get(userID);
    return u ? { userID, statusType: u.statusType, customStatus: u.customStatus } : undefined;
  }

  /** Counts per general status (for the console and metrics). */
  statusCounts(): { online: number; offline: number; unlogined: number } {
    let online = 0;
    let offline = 0;
    let unlogined = 0;
    for (const u of this.users.values()) {
      if (u.statusType === UserStatus.ONLINE) online++;
      else if (u.statusType === UserStatus.OFFLINE) offline++;
      else unlogined++;
    }
    return { online, offline, unlogined };
  }

  subscriptionsOf(userID: string): string[] {
    return [...(this.users.get(userID)?.subs.keys() ?? [])];
  }

  /** S13/S18/S21: others' statuses need the premium edition and the query switch. */
  private othersAllowed(): boolean {
    return this.settingsRef.edition === 'premium' && this.settingsRef.userStatus.queryAndNotify;
  }

  /** What the app's edition and switches allow now (told to each session at login). */
  features(): AppFeatures {
    return { userStatus: this.othersAllowed(), friendAutoNotify: this.settingsRef.userStatus.friendAutoNotify };
  }

  // ---- sessions (S2-S6, S25-S28) -----------------------------------------------------------------

  /**
   * Opens a session for a verified ticket. Creates the account on its first login. Applies the
   * app's device policy (S26): the sessions it pushes out are kicked (S27).
   */
  login(p: LoginParams<S>, now: number): Session<S> {
    if (this.ticketInvalidated(p.userID, p.ticketTime)) fail(ErrorCode.USERSIG_INVALIDATED);
    let u = this.users.get(p.userID);
    if (!u) {
      u = this.newUser(p.userID);
      this.users.set(p.userID, u);
    }
    const policy = this.settingsRef.devices;
    const deviceKey = policy.policy === 'multi' ? `${p.platform}#${p.instanceId}` : p.platform;
    const session: Session<S> = {
      id: p.sessionId,
      userID: p.userID,
      platform: p.platform,
      instanceId: p.instanceId,
      deviceKey,
      loginAt: now,
      sink: p.sink,
      live: true,
    };

    // The same client instance reconnecting replaces its own stale session quietly.
    for (const old of [...u.sessions]) {
      if (p.instanceId !== '' && old.instanceId === p.instanceId) {
        this.endSession(u, old, 'replaced');
        this.ports.replaced?.(old.sink);
      }
    }
    const kicked = this.displace(u, p.platform, deviceKey);

    const before = this.snapshotOf(u);
    u.sessions.push(session);
    this.liveSessions++;
    u.loginKeys.add(deviceKey);
    u.offlineSince = 0;
    this.persistAccount(u);
    this.ports.event?.({ type: 'login', userID: u.userID, platform: p.platform, sink: p.sink, kicked });
    // The new session learns its own status from the login reply; every other one hears it.
    this.commit(u, before, now, false, session);
    return session;
  }

  /**
   * S26: applies the device policy before a login with `deviceKey`. Ends the login state of the
   * devices it pushes out, live or lost: live ones are kicked (S27), lost ones simply stop being
   * logged in (else a lost phone would keep a `single` user OFFLINE for ever). Returns the
   * platforms of the live sessions kicked.
   */
  private displace(u: UserRec<S>, platform: Platform, deviceKey: string): Platform[] {
    const d = this.settingsRef.devices;
    const samePlatform = [...u.loginKeys].filter((k) => k !== deviceKey && keyPlatform(k) === platform);
    let keys: string[];
    if (d.policy === 'single') keys = [...u.loginKeys].filter((k) => k !== deviceKey);
    else if (d.policy === 'perPlatform') keys = samePlatform;
    else {
      // Set order is login order: the oldest instances of this platform go first.
      const cap = platform === 'Web' ? d.maxWeb : d.maxPerPlatform;
      keys = samePlatform.slice(0, Math.max(0, samePlatform.length - cap + 1));
    }
    const out = new Set(keys);
    // Live sessions go with their keys; with one session per platform (or at all), so does any
    // live session of that platform whatever key an earlier policy gave it.
    const victims = u.sessions.filter((s) => out.has(s.deviceKey) || d.policy === 'single' || (d.policy === 'perPlatform' && s.platform === platform));
    const kicked: Platform[] = [];
    for (const victim of victims) {
      this.endSession(u, victim, 'kicked');
      this.ports.kick(victim.sink, kickTypeFor(victim.platform));
      kicked.push(victim.platform);
    }
    for (const k of keys) u.loginKeys.delete(k);
    return kicked;
  }

  /** Logout: the session ends and its login state goes (S4). */
  logout(session: Session<S>, now: number): void {
    const u = this.users.get(session.userID);
    if (!u || !session.live) return;
    const before = this.snapshotOf(u);
    this.endSession(u, session, 'logout');
    this.persistAccount(u);
    this.commit(u, before, now, false);
  }

  /** The connection closed or went silent: the session ends but stays logged in (S3, S5). */
  disconnect(session: Session<S>, reason: DisconnectReason, now: number): void {
    const u = this.users.get(session.userID);
    if (!u || !session.live) return;
    const before = this.snapshotOf(u);
    this.endSession(u, session, reason);
    this.commit(u, before, now, false);
  }

  /**
   * S28: the app's server invalidates every login of the user: each session is kicked with
   * REST_API_Kick and tickets made at or before this second stop working (70052).
   */
  kickUser(userID: string, now: number): boolean {
    const u = this.users.get(userID);
    if (!u) return false;
    const before = this.snapshotOf(u);
    const platforms = u.sessions.map((s) => s.platform);
    for (const s of [...u.sessions]) {
      this.endSession(u, s, 'kicked');
      this.ports.kick(s.sink, KickType.REST_API);
    }
    this.ports.event?.({ type: 'adminKick', userID, platforms });
    u.loginKeys.clear();
    u.kickedAt = Math.floor(now / 1000);
    this.persistAccount(u);
    this.commit(u, before, now, false);
    return true;
  }

  private endSession(u: UserRec<S>, s: Session<S>, reason: DisconnectReason | 'logout' | 'kicked' | 'replaced'): void {
    const i = u.sessions.indexOf(s);
    if (i < 0 || !s.live) return;
    u.sessions.splice(i, 1);
    s.live = false;
    this.liveSessions--;
    // A logout or a kick ends the login state of that device (S4, S27); a lost connection keeps it (S3).
    if ((reason === 'logout' || reason === 'kicked') && !u.sessions.some((o) => o.deviceKey === s.deviceKey)) {
      u.loginKeys.delete(s.deviceKey);
    }
    if (reason === 'logout') this.ports.event?.({ type: 'logout', userID: u.userID, platform: s.platform, sink: s.sink });
    else if (reason === 'close' || reason === 'timeout') {
      this.ports.event?.({ type: 'disconnect', userID: u.userID, platform: s.platform, sink: s.sink, reason });
    }
  }

  // ---- custom status (S7-S10) ------------------------------------------------------------------

  /** S7, S8, S10: set or clear one's own custom status. Every accepted set is announced. */
  setCustomStatus(session: Session<S>, value: string | null | undefined, now: number): UserStatusInfo {
    const u = this.liveUser(session);
    const next = value ?? '';
    if (utf8Length(next) > this.settingsRef.limits.customStatusMaxBytes) {
      fail(ErrorCode.CUSTOM_STATUS_TOO_LONG, `custom status is longer than ${this.settingsRef.limits.customStatusMaxBytes} bytes`);
    }
    this.checkRate(u, 'self', now);
    const before = this.snapshotOf(u);
    u.customStatus = next;
    this.ports.event?.({ type: 'customStatus', userID: u.userID, platform: session.platform, sink: session.sink, customStatus: next });
    this.commit(u, before, now, true);
    return { userID: u.userID, statusType: u.statusType, customStatus: u.customStatus };
  }

  // ---- queries and subscriptions (S11-S19) -------------------------------------------------------

  private liveUser(session: Session<S>): UserRec<S> {
    const u = this.users.get(session.userID);
    if (!u || !session.live) fail(ErrorCode.NOT_LOGGED_IN);
    return u;
  }

  /**
   * Sliding window per user and per operation; a refused call does not count. Query, subscribe
   * and unsubscribe share the S14 budget size (each its own window); own status changes and
   * syncs have per-minute bounds against floods (0 = none).
   */
  private checkRate(u: UserRec<S>, op: RateOp, now: number): void {
    const l = this.settingsRef.limits;
    const [calls, windowSec] = op === 'self' ? [l.setSelfStatusPerMinute, 60] : op === 'sync' ? [l.syncStatusPerMinute, 60] : [l.rateLimitCalls, l.rateLimitWindowSec];
    if (calls === 0) return;
    u.rate ??= { query: [], subscribe: [], unsubscribe: [], self: [], sync: [] };
    const log = u.rate[op];
    const since = now - windowSec * 1000;
    let drop = 0;
    while (drop < log.length && (log[drop] as number) <= since) drop++;
    if (drop > 0) log.splice(0, drop);
    if (log.length >= calls) {
      fail(ErrorCode.TOO_MANY_CALLS, `at most ${calls} ${RATE_NAMES[op]} calls per ${windowSec} s`);
    }
    log.push(now);
  }

  private failure(userID: string, code: number): FailureItem {
    return { userID, code, message: messageFor(code) };
  }

  /** S11-S14. Results in the order asked; unknown ids in failureUserList (70107). */
  getUserStatus(session: Session<S>, ids: string[], now: number): { successUserList: UserStatusInfo[]; failureUserList: FailureItem[] } {
    const u = this.liveUser(session);
    if (ids.length === 0) fail(ErrorCode.INVALID_PARAMETERS, 'userIDList must not be empty');
    const onlySelf = ids.every((id) => id === u.userID);
    if (!onlySelf) {
      // S12: only a query of others is gated, limited and counted.
      if (!this.othersAllowed()) fail(ErrorCode.FEATURE_NOT_ENABLED);
      const max = this.settingsRef.limits.maxQueryIDs;
      if (ids.length > max) fail(ErrorCode.TOO_MANY_IDS, `at most ${max} userIDs per query`);
      this.checkRate(u, 'query', now);
    }
    const successUserList: UserStatusInfo[] = [];
    const failureUserList: FailureItem[] = [];
    for (const id of ids) {
      const t = this.users.get(id);
      if (t) successUserList.push({ userID: id, statusType: t.statusType, customStatus: t.customStatus });
      else failureUserList.push(this.failure(id, ErrorCode.ACCOUNT_NOT_FOUND));
    }
    return { successUserList, failureUserList };
  }

  private checkListCall(u: UserRec<S>, ids: string[] | undefined, op: RateOp, now: number): void {
    if (!this.othersAllowed()) fail(ErrorCode.FEATURE_NOT_ENABLED);
    const max = this.settingsRef.limits.maxSubscribeIDsPerCall;
    if (ids && ids.length > max) fail(ErrorCode.TOO_MANY_IDS, `at most ${max} userIDs per call`);
    this.checkRate(u, op, now);
  }

  /** S15-S18. */
  subscribe(session: Session<S>, ids: string[], now: number): { failureUserList: FailureItem[] } {
    const u = this.liveUser(session);
    if (ids.length === 0) fail(ErrorCode.INVALID_PARAMETERS, 'userIDList must not be empty');
    this.checkListCall(u, ids, 'subscribe', now);
    const failureUserList: FailureItem[] = [];
    for (const id of new Set(ids)) {
      if (id === u.userID) {
        failureUserList.push(this.failure(id, ErrorCode.SUBSCRIBE_SELF));
        continue;
      }
      const t = this.users.get(id);
      if (!t) {
        failureUserList.push(this.failure(id, ErrorCode.ACCOUNT_NOT_FOUND));
        continue;
      }
      // Subscribing again renews the subscription: it becomes the newest (S16).
      if (u.subs.delete(t.userID)) this.ports.persist({ t: 'subRemove', app: this.app, userID: u.userID, target: t.userID });
      const seq = ++this.subSeq;
      u.subs.set(t.userID, seq);
      t.subscribers.add(u.userID);
      this.ports.persist({ t: 'subAdd', app: this.app, userID: u.userID, target: t.userID, seq });
    }
    // S16: past the cap, the oldest go first, silently.
    const max = this.settingsRef.limits.maxSubscriptions;
    while (u.subs.size > max) {
      const oldest = u.subs.keys().next().value as string;
      this.dropSub(u, oldest);
    }
    return { failureUserList };
  }

  private dropSub(u: UserRec<S>, target: string): void {
    if (!u.subs.delete(target)) return;
    this.users.get(target)?.subscribers.delete(u.userID);
    this.ports.persist({ t: 'subRemove', app: this.app, userID: u.userID, target });
  }

  /** S19: an empty or absent list removes every subscription. */
  unsubscribe(session: Session<S>, ids: string[] | undefined, now: number): { failureUserList: FailureItem[] } {
    const u = this.liveUser(session);
    this.checkListCall(u, ids, 'unsubscribe', now);
    const failureUserList: FailureItem[] = [];
    if (!ids || ids.length === 0) {
      for (const t of [...u.subs.keys()]) this.dropSub(u, t);
      return { failureUserList };
    }
    for (const id of new Set(ids)) {
      if (!this.users.has(id)) failureUserList.push(this.failure(id, ErrorCode.ACCOUNT_NOT_FOUND));
      else this.dropSub(u, id);
    }
    return { failureUserList };
  }

  /**
   * S23: what a reconnecting client re-reads: itself, its subscriptions and (with friend
   * auto-notify) its friends, each once. Others only when the gate allows (S24). Bounded per user
   * per minute (`syncStatusPerMinute`, 72003): each answer costs as much as a large query.
   */
  sync(session: Session<S>, now: number): UserStatusInfo[] {
    const u = this.liveUser(session);
    this.checkRate(u, 'sync', now);
    const out: UserStatusInfo[] = [{ userID: u.userID, statusType: u.statusType, customStatus: u.customStatus }];
    if (!this.othersAllowed()) return out;
    const seen = new Set<string>([u.userID]);
    const add = (id: string): void => {
      if (seen.has(id)) return;
      seen.add(id);
      const t = this.users.get(id);
      if (t) out.push({ userID: id, statusType: t.statusType, customStatus: t.customStatus });
    };
    for (const id of u.subs.keys()) add(id);
    if (this.settingsRef.userStatus.friendAutoNotify) for (const id of u.friends.keys()) add(id);
    return out;
  }

  /**
   * S19: drops the subscriptions of users who have not been online for the expiry time.
   * Call it at least every few seconds (the rule allows 10 s of lateness).
   */
  sweep(now: number): number {
    if (this.pendingAnnouncements.size > 0) this.flushAnnouncements(now);
    // O(users not online that hold subscriptions) per call: ~100k checks take about 1 ms.
    const ttl = this.settingsRef.limits.subscriptionExpiryHours * 3_600_000;
    let dropped = 0;
    for (const u of this.expiryCandidates) {
      if (u.statusType === UserStatus.ONLINE || u.subs.size === 0) {
        this.expiryCandidates.delete(u);
        continue;
      }
      if (now - u.offlineSince >= ttl) {
        for (const t of [...u.subs.keys()]) this.dropSub(u, t);
        dropped++;
        this.expiryCandidates.delete(u);
      }
    }
    return dropped;
  }

  // ---- change detection and fan-out (S9, S20-S22) ------------------------------------------------

  private snapshotOf(u: UserRec<S>): { statusType: StatusType; customStatus: string } {
    return { statusType: u.statusType, customStatus: u.customStatus };
  }

  /**
   * Recomputes U's status from its sessions and login state (S2-S4, S6), clears the custom
   * status when U stops being online (S9), and announces one change if anything changed (S20).
   */
  private commit(u: UserRec<S>, before: { statusType: StatusType; customStatus: string }, now: number, force: boolean, exclude?: Session<S>): void {
    const statusType: StatusType = u.sessions.length > 0 ? UserStatus.ONLINE : u.loginKeys.size > 0 ? UserStatus.OFFLINE : UserStatus.UNLOGINED;
    if (statusType !== UserStatus.ONLINE) u.customStatus = '';
    u.statusType = statusType;
    if (before.statusType === UserStatus.ONLINE && statusType !== UserStatus.ONLINE) {
      u.offlineSince = now;
      this.persistAccount(u);
      if (u.subs.size > 0) this.expiryCandidates.add(u);
    }
    const generalChanged = before.statusType !== statusType;
    if (!force && !generalChanged && before.customStatus === u.customStatus) return;
    const windowMs = this.settingsRef.limits.announceWindowSec * 1000;
    if (windowMs > 0 && !generalChanged && now - u.lastAnnounce < windowMs) {
      // S10 opt-in: a custom-status change inside the window waits; the last value wins.
      u.pendingAnnounce = true;
      this.pendingAnnouncements.add(u);
      return;
    }
    this.announce(u, now, exclude);
  }

  private announce(u: UserRec<S>, now: number, exclude?: Session<S>): void {
    u.lastAnnounce = now;
    if (u.pendingAnnounce) {
      u.pendingAnnounce = false;
      this.pendingAnnouncements.delete(u);
    }
    this.fanOut(u, new Change({ userID: u.userID, statusType: u.statusType, customStatus: u.customStatus }), exclude);
  }

  /** Announces custom-status changes whose window has ended (S10 opt-in); called by sweep. */
  private flushAnnouncements(now: number): void {
    const windowMs = this.settingsRef.limits.announceWindowSec * 1000;
    for (const u of this.pendingAnnouncements) {
      if (now - u.lastAnnounce >= windowMs) this.announce(u, now);
    }
  }

  /** S21: U's own sessions; its subscribers; users who have U as a friend (switch on). */
  private fanOut(u: UserRec<S>, change: Change, exclude?: Session<S>): void {
    this.ports.announced?.(change);
    const stamp = ++this.stamp;
    u.mark = stamp;
    for (const s of u.sessions) if (s !== exclude) this.ports.deliver(s.sink, change);
    if (!this.othersAllowed()) return;
    for (const id of u.subscribers) this.visit(id, stamp, change);
    if (this.settingsRef.userStatus.friendAutoNotify) for (const id of u.friendOf) this.visit(id, stamp, change);
  }

  private visit(id: string, stamp: number, change: Change): void {
    const r = this.users.get(id);
    if (!r || r.mark === stamp) return;
    r.mark = stamp;
    for (const s of r.sessions) this.ports.deliver(s.sink, change);
  }

  private persistAccount(u: UserRec<S>): void {
    this.ports.persist({
      t: 'account',
      app: this.app,
      userID: u.userID,
      loginKeys: [...u.loginKeys],
      kickedAt: u.kickedAt,
      offlineSince: u.offlineSince,
      nick: u.nick,
      faceUrl: u.faceUrl,
    });
  }

  // ---- accounts and friends (REST) -------------------------------------------------------------

  /** Creates an account if absent; returns true when it was created. */
  importAccount(userID: string, nick?: string, faceUrl?: string): boolean {
    if (!isValidUserID(userID)) fail(ErrorCode.INVALID_PARAMETERS, 'invalid UserID');
    let u = this.users.get(userID);
    const created = !u;
    if (!u) {
      u = this.newUser(userID);
      this.users.set(userID, u);
    }
    if (nick !== undefined) u.nick = nick;
    if (faceUrl !== undefined) u.faceUrl = faceUrl;
    this.persistAccount(u);
    return created;
  }

  /** Deletes an account: its sessions are kicked (watchers hear UNLOGINED), then it is gone. */
  deleteAccount(userID: string, now: number): boolean {
    const u = this.users.get(userID);
    if (!u) return false;
    this.kickUser(userID, now);
    for (const t of [...u.subs.keys()]) this.dropSub(u, t);
    for (const s of [...u.subscribers]) {
      const w = this.users.get(s);
      if (w) this.dropSub(w, userID);
    }
    for (const f of [...u.friends.keys()]) this.removeFriend(userID, f);
    for (const f of [...u.friendOf]) this.removeFriend(f, userID);
    this.expiryCandidates.delete(u);
    this.pendingAnnouncements.delete(u);
    this.users.delete(userID);
    this.sortedIds = null;
    this.tombstones.set(userID, u.kickedAt);
    this.ports.persist({ t: 'accountDelete', app: this.app, userID, deletedAt: u.kickedAt });
    return true;
  }

  isFriend(from: string, to: string): boolean {
    return this.users.get(from)?.friends.has(to) ?? false;
  }

  friendCount(userID: string): number {
    return this.users.get(userID)?.friends.size ?? 0;
  }

  /** Adds `to` to `from`'s friend list; takes effect for notifications at once (S21c). */
  addFriend(from: string, to: string, meta: FriendMeta): number {
    const a = this.users.get(from);
    const b = this.users.get(to);
    if (!a || !b) return ErrorCode.FRIEND_ACCOUNT_NOT_FOUND;
    if (from === to) return ErrorCode.FRIEND_INVALID;
    if (a.friends.has(to)) return ErrorCode.FRIEND_INVALID;
    if (a.friends.size >= this.settingsRef.limits.maxFriends) return ErrorCode.FRIEND_LIMIT;
    a.friends.set(b.userID, this.compactMeta(meta));
    b.friendOf.add(a.userID);
    this.ports.persist({ t: 'friendAdd', app: this.app, from, to, ...meta });
    return 0;
  }

  removeFriend(from: string, to: string): boolean {
    const a = this.users.get(from);
    if (!a || !a.friends.delete(to)) return false;
    this.users.get(to)?.friendOf.delete(from);
    this.ports.persist({ t: 'friendRemove', app: this.app, from, to });
    return true;
  }

  friendList(userID: string): Array<{ to: string } & FriendMeta> {
    const u = this.users.get(userID);
    if (!u) return [];
    return [...u.friends].map(([to, meta]) => ({ to, ...meta }));
  }

  /** S29: online status with per-device detail for the REST API (compat.md §3 mapping). */
  queryOnline(userID: string, detail: boolean): QueryOnlineItem | undefined {
    const u = this.users.get(userID);
    if (!u) return undefined;
    const Status = u.statusType === UserStatus.ONLINE ? 'Online' : u.statusType === UserStatus.OFFLINE ? 'PushOnline' : 'Offline';
    const item: QueryOnlineItem = { To_Account: userID, Status };
    if (detail) {
      const live = new Set(u.sessions.map((s) => s.deviceKey));
      item.Detail = [
        ...u.sessions.map((s) => ({ Platform: restPlatform(s.platform), Status: 'Online' as const })),
        ...[...u.loginKeys].filter((k) => !live.has(k)).map((k) => ({ Platform: restPlatform(keyPlatform(k)), Status: 'PushOnline' as const })),
      ];
    }
    return item;
  }

  // ---- listing (the console) ---------------------------------------------------------------------

  /**
   * A page of accounts in userID order (code units), for the console's user list. `prefix`
   * narrows to ids that start with it, `after` continues after that id, `status` keeps one
   * general status. Costs O(log n + scanned) once the index is built; the index is rebuilt
   * (O(n log n)) only on the first call after an account was added or deleted. At most `maxScan`
   * accounts are looked at per call: with a `status` filter a page may come back short, and
   * `next` (the last id looked at, '' at the end) is where the next call continues.
   */
  listUsers(q: { prefix?: string; after?: string; limit: number; status?: StatusType; maxScan?: number }): { users: UserDetail[]; next: string } {
    const ids = (this.sortedIds ??= [...this.users.keys()].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)));
    const prefix = q.prefix ?? '';
    const after = q.after ?? '';
    // The first index whose id is >= prefix and > after.
    let lo = 0;
    let hi = ids.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const id = ids[mid] as string;
      if (id < prefix || (after !== '' && id <= after)) lo = mid + 1;
      else hi = mid;
    }
    const maxScan = Math.max(1, q.maxScan ?? 5000);
    const users: UserDetail[] = [];
    let last = '';
    let i = lo;
    for (; i < ids.length && users.length < q.limit && i - lo < maxScan; i++) {
      const id = ids[i] as string;
      if (!id.startsWith(prefix)) break;
      last = id;
      const d = this.userDetail(id);
      if (d && (q.status === undefined || d.statusType === q.status)) users.push(d);
    }
    const more = i < ids.length && (ids[i] as string).startsWith(prefix);
    return { users, next: more ? last : '' };
  }

  /** One account as the console shows it: status, custom status and devices; undefined when absent. */
  userDetail(userID: string): UserDetail | undefined {
    const u = this.users.get(userID);
    if (!u) return undefined;
    const live = new Set(u.sessions.map((s) => s.deviceKey));
    const devices: DeviceDetail[] = u.sessions.map((s) => ({ platform: s.platform, online: true, since: s.loginAt }));
    for (const k of u.loginKeys) if (!live.has(k)) devices.push({ platform: keyPlatform(k) as Platform, online: false, since: u.offlineSince });
    return {
      userID,
      statusType: u.statusType,
      customStatus: u.customStatus,
      nick: u.nick,
      devices,
      subscriptions: u.subs.size,
      friends: u.friends.size,
    };
  }

  /** Live sessions of a user (platforms), for per-device detail. */
  sessionsOf(userID: string): ReadonlyArray<Session<S>> {
    return this.users.get(userID)?.sessions ?? [];
  }
}
