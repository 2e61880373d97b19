/**
 * Cluster v2: one app on one node (docs/cluster.md, "Cluster v2"). The app's driver for the
 * gateway and the REST API, over per-user records in Redis (records.ts) and fan-out by interest
 * (interest.ts).
 *
 * The rules are the engine's own: this node keeps an `AppEngine` as a *view* of the users it needs
 * (its own users, and for the length of a request the users a request reads). A request on user U
 * reads U's record, loads it into the view, runs the engine's method, and writes what changed
 * back by compare-and-set; when another node wrote U in between, it reads and runs again. What the
 * engine asks of its ports meanwhile is held and carried out only once the write is in: the facts
 * to persist, the webhook events, and one message on U's channel with the change, the sessions to
 * kick and those replaced. Every node that listens to U (those holding U's sessions, and those
 * whose users watch U) delivers the change to its own sockets when the message arrives, so a
 * change reaches each session once, in the order of U's record (S20-S22).
 *
 * Not yet (see docs/cluster.md): the opt-in announce window (S10), subscription expiry (S19) is
 * applied when the subscriber's record is next written, node death and Redis loss, account
 * deletion's cleanup of other users' subscriptions, the console's app-wide listings and counts.
 */
import type { Logger } from 'pino';
import { CloseCode, ErrorCode, PresentlyError, UserStatus, type KickTypeValue, type UserStatusInfo } from '@presently/protocol';
import { AppEngine, Change, type LoginParams, type SessionState, type UserState } from '../../engine/engine.js';
import type { DisconnectReason, Mutation, PresenceEvent, StatusChange } from '../../engine/types.js';
import type { AppSettings } from '../../config/settings.js';
import type { AppDriver, FailuresReply, StatusReply } from '../../gateway/driver.js';
import { RemoteSink, type Engine, type Sink, type SinkSession } from '../../gateway/sink.js';
import type { DurableStore } from '../../store/types.js';
import { runCommand, type RestReply } from '../../rest/commands.js';
import { MAX_PAGE, type ConsoleContext } from '../../rest/console.js';
import type { AppSnapshot } from '../../engine/types.js';
import { DELETE, type RecordFields, type UserRecord, type UserRecords } from './records.js';
import type { Interest } from './interest.js';
import type { RedisClient } from '../redis.js';

/** What a node gives each of its apps. */
export interface V2AppInit {
  settings: AppSettings;
  /** This node's key now: the `node` of its sessions in the records. */
  node: () => string;
  records: UserRecords;
  /** Commands (the node's sets of users, settings acknowledgements). */
  redis: RedisClient;
  /** The nodes whose lease is current (the settings wait for each to apply a change). */
  liveNodes: () => Promise<string[]>;
  /** False while Redis is known not to answer, or the node recovers from losing it: requests are refused at once. */
  reachable: () => boolean;
  interest: Interest;
  store: DurableStore & { loadUsers(app: number, userIDs: readonly string[]): Promise<AppSnapshot> };
  log: Logger;
  /** A webhook event (written by the node the change came from only). */
  onEvent(engine: Engine, e: PresenceEvent<Sink>): void;
  /** One notification delivered to a socket of this node (metrics). */
  onDelivered?(): void;
}

/** The message on a user's channel (records.ts publishes it with the write). */
interface ChannelMessage {
  /** The change, when the user's status changed (S20). */
  c?: UserStatusInfo;
  /** The session that made the change and learns it from its reply (a login). */
  x?: string;
  /** Sessions kicked: id and kick type (S27, S28). */
  k?: Array<[string, KickTypeValue]>;
  /** Sessions replaced by a newer login of the same client instance (quietly). */
  r?: string[];
  /**
   * The user's subscriptions changed: nodes holding the user read its record again. Each target
   * the request named comes with its announcement number when the request read it: a node that
   * starts listening to it later catches up on what it missed since (S21c).
   */
  s?: Record<string, number>;
  /** The user's friend list changed: nodes holding the user load it again (numbers as for `s`). */
  f?: Record<string, number>;
}

/** What a request asked of the engine's ports, held until its write is in. */
class Effects {
  /** The sessions of the users a request touches, by sink (a RemoteSink knows no session). */
  constructor(readonly sessionOf: Map<Sink, { id: string; userID: string }>) {}
  change: StatusChange | null = null;
  exclude: string | undefined;
  readonly kicks: Array<[Sink, KickTypeValue]> = [];
  readonly replaced: Sink[] = [];
  readonly persists: Mutation[] = [];
  readonly events: Array<PresenceEvent<Sink>> = [];
  subsChanged = false;
  /** Announcement numbers of the users a request read (what a new watcher catches up from). */
  seen: Map<string, number> = new Map();
}

/** A user with sessions on this node: its sessions here and whom it watches. */
interface LocalUser {
  sessions: Map<string, Sink>;
  subs: Set<string>;
  friends: Set<string>;
}

const MAX_ATTEMPTS = 32;

export class V2App implements AppDriver {
  readonly engine: Engine;
  readonly app: number;
  private effects: Effects | null = null;
  private readonly local = new Map<string, LocalUser>();
  /** Watched user -> local users watching it (subscriptions, and friends under auto-notify). */
  private readonly watchers = new Map<string, Set<string>>();
  /** The last status change heard of each watched user (what a new watcher here catches up to). */
  private readonly lastStatus = new Map<string, UserStatusInfo>();
  /** Sessions that ended here while Redis was unreachable, by user (resync writes them). */
  private readonly unwrittenEnds = new Map<string, Set<string>>();
  /** The node is leaving: disconnects of its sockets are not written (node.ts `drain`). */
  private draining = false;
  /** Requests and bookkeeping on the wire (tests wait for them: idle()). */
  private inFlight = 0;
  private idleWaiters: Array<() => void> = [];

  constructor(private readonly init: V2AppInit) {
    this.app = init.settings.SDKAppID;
    this.engine = new AppEngine<Sink>(init.settings, {
      // Deliveries come from the user's channel, on every node alike (onMessage).
      deliver: () => undefined,
      kick: (sink, type) => this.effects?.kicks.push([sink, type]),
      replaced: (sink) => this.effects?.replaced.push(sink),
      persist: (m) => {
        if (!this.effects) return;
        if (m.t === 'subAdd' || m.t === 'subRemove') this.effects.subsChanged = true;
        this.effects.persists.push(m);
      },
      event: (e) => this.effects?.events.push(e),
      announced: (change) => {
        if (this.effects) this.effects.change = change;
      },
    });
  }

  // ---- the driver ------------------------------------------------------------------------------

  login(p: LoginParams<Sink>, now: number): Promise<SinkSession> {
    return unavailable(this.doLogin(p, now));
  }

  private async doLogin(p: LoginParams<Sink>, now: number): Promise<SinkSession> {
    this.reachableOrFail();
    // Listen to the user's channel before the login is written: nothing after it is missed.
    const first = !this.local.has(p.userID);
    if (first) await this.addLocalUser(p.userID);
    let session: SinkSession | undefined;
    try {
      session = await this.run(
        p.userID,
        (fx) => {
          const s = this.engine.login(p, now);
          fx.exclude = s.id;
          // Registered before the write: a change that follows it must find the session here.
          this.local.get(p.userID)?.sessions.set(s.id, p.sink);
          return s;
        },
        now,
      );
    } finally {
      if (!session) {
        this.local.get(p.userID)?.sessions.delete(p.sessionId);
        if (first) await this.removeLocalUser(p.userID);
      }
    }
    return session;
  }

  logout(s: SinkSession, now: number): Promise<void> {
    return unavailable(this.run(s.userID, () => this.engine.logout(s, now)).then(() => this.endLocal(s.userID, s.id)));
  }

  disconnect(s: SinkSession, reason: DisconnectReason, now: number): void {
    // Leaving (SIGTERM): the session stays until its client logs in elsewhere or the node's lease runs out.
    if (this.draining) return;
    this.background(
      this.run(s.userID, () => this.engine.disconnect(s, reason, now))
        .catch((err: unknown) => {
          // Redis is unreachable: the end is written when it is back (resync()).
          let ids = this.unwrittenEnds.get(s.userID);
          if (!ids) this.unwrittenEnds.set(s.userID, (ids = new Set()));
          ids.add(s.id);
          this.init.log.warn({ err, user: s.userID }, 'cluster v2: a disconnect could not be written; it is once Redis is back');
        })
        .then(() => this.endLocal(s.userID, s.id)),
    );
  }

  /** Whether sessions ended here are still to be written (Redis was unreachable). */
  hasUnwritten(): boolean {
    return this.unwrittenEnds.size > 0;
  }

  /** Work nobody waits for: counted (idle()), and its failure logged instead of thrown. */
  private background(p: Promise<unknown>): void {
    this.track(p).catch((err: unknown) => this.init.log.warn({ err, app: this.app }, 'cluster v2: background work failed'));
  }

  /**
   * After a lost connection to Redis (node.ts `recover`): this node's sessions in the records are
   * made to match its sockets. Redis may have lost writes (restarted empty: `lostData`; or a
   * replica promoted before it had the latest ones, which nothing tells): each user of this node
   * gets its sessions here written back, each user named in this node's set but no longer held
   * here loses the sessions the record still gives this node (a disconnect whose write was lost
   * would otherwise leave a ghost), and the users whose session ended here while Redis was
   * unreachable get it ended in their record, or (their record lost) their status announced as
   * it now is. Then watchers here hear the status of everyone they watch (onReconnected).
   */
  async resync(now: number, lostData: boolean): Promise<void> {
    const me = this.init.node();
    const set = this.init.records.keys.nodeUsers(this.app, me);
    const users = [...this.local.keys()];
    if (users.length > 0) await this.init.redis.sadd(set, ...users);
    const named = (await this.init.redis.smembers(set)).filter((id) => !this.local.has(id));
    const ends = new Map(this.unwrittenEnds);
    this.unwrittenEnds.clear();
    for (const id of named) if (!ends.has(id)) ends.set(id, new Set());
    // Not through run(): requests wait for this recovery, which must get through.
    const write = (userID: string, op: () => void): Promise<void> => this.track(this.attempt(userID, op, now));
    await Promise.all([
      ...users.map((userID) =>
        write(userID, () => {
          const lu = this.local.get(userID);
          for (const sink of lu?.sessions.values() ?? []) if (sink.session) this.engine.restoreSession(sink.session, now);
          // Sessions the record gives this node that it no longer holds ended here unseen.
          for (const s of [...this.engine.sessionsOf(userID)]) if (s.sink.node === me && !lu?.sessions.has(s.id)) this.engine.disconnect(s, 'close', now);
        }),
      ),
      ...[...ends].map(([userID, ids]) =>
        write(userID, () => {
          let found = false;
          for (const s of [...this.engine.sessionsOf(userID)]) {
            if (!ids.has(s.id) && s.sink.node !== me) continue;
            found = true;
            this.engine.disconnect(s, 'close', now);
          }
          if (!found && lostData && ids.size > 0) this.engine.reannounce(userID, now);
        }).finally(() => this.dropTransient([userID])),
      ),
    ]);
    if (named.length > 0) await this.init.redis.srem(set, ...named);
  }

  setCustomStatus(s: SinkSession, value: string | null | undefined, now: number): Promise<UserStatusInfo> {
    return unavailable(this.run(s.userID, () => this.engine.setCustomStatus(s, value, now)));
  }

  getUserStatus(s: SinkSession, ids: string[], now: number): Promise<StatusReply> {
    return unavailable(this.withUsers(ids, () => this.run(s.userID, () => this.engine.getUserStatus(s, ids, now))));
  }

  /** S15-S18; this node listens to the new targets before the reply (S21c), the user's other nodes when they hear of it. */
  subscribe(s: SinkSession, ids: string[], now: number): Promise<FailuresReply> {
    return unavailable(
      this.withUsers(ids, async (seen) => {
        const r = await this.run(s.userID, (fx) => {
          fx.seen = seen;
          return this.engine.subscribe(s, ids, now);
        });
        await this.refreshSubs(s.userID, seen);
        return r;
      }),
    );
  }

  unsubscribe(s: SinkSession, ids: string[] | undefined, now: number): Promise<FailuresReply> {
    return unavailable(
      this.withUsers(ids ?? [], async () => {
        const r = await this.run(s.userID, () => this.engine.unsubscribe(s, ids, now));
        await this.refreshSubs(s.userID);
        return r;
      }),
    );
  }

  /** S23: the user itself, its subscriptions and (auto-notify) its friends, read from their records. */
  sync(s: SinkSession, now: number): Promise<UserStatusInfo[]> {
    const lu = this.local.get(s.userID);
    const ids = lu ? [...lu.subs, ...lu.friends] : [];
    return unavailable(this.withUsers(ids, () => this.run(s.userID, () => this.engine.sync(s, now))));
  }

  /**
   * A REST command: the users it names are read into the view (records, and their friend lists
   * from the store), the command runs on the view, and every user whose record it changed is
   * written by compare-and-set (a lost race runs the command again: the record-changing commands,
   * import and kick, are idempotent). Friend changes live in the store; the users' nodes hear of
   * them on their channels.
   */
  async rest(command: string, body: unknown, now: number): Promise<RestReply> {
    try {
      if (!this.init.reachable()) throw new Error('Redis does not answer');
      return await this.restOnRecords(command, body, now);
    } catch (err) {
      if (err instanceof PresentlyError) throw err;
      // Redis is unreachable. The durable facts are the store's: those reads answer from it;
      // anything else (live status, every write) is refused, and nothing was done.
      if (STORE_READS.has(command)) return unavailable(this.restFromStore(command, body, now));
      throw new PresentlyError(ErrorCode.INTERNAL_ERROR, UNAVAILABLE);
    }
  }

  /** A REST read of durable facts (accounts, friends) from the store alone. */
  private async restFromStore(command: string, body: unknown, now: number): Promise<RestReply> {
    const ids = namedUsers(body);
    const snap = await this.init.store.loadUsers(this.app, ids);
    const view = new AppEngine<Sink>(this.engine.settings, { deliver: () => undefined, kick: () => undefined, persist: () => undefined });
    view.load(snap, now);
    return runCommand({ engine: view, now }, command, body);
  }

  private async restOnRecords(command: string, body: unknown, now: number): Promise<RestReply> {
    const named = namedUsers(body);
    // Deleting an account also takes it out of the subscriptions and friend lists of others: they
    // are read into the view too (after the named users, so the view links them), and written.
    const watchers = command === ACCOUNT_DELETE && this.init.store.loadWatchers ? await this.init.store.loadWatchers(this.app, named) : [];
    const ids = [...named, ...watchers.filter((w) => !named.includes(w))];
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      // Friend lists live in the store: only the friend commands need them.
      const before = await this.hydrate(ids, command.startsWith('sns/') || command === ACCOUNT_DELETE);
      const fx = new Effects(this.sessionsOf(ids));
      this.effects = fx;
      let reply: RestReply;
      try {
        reply = runCommand({ engine: this.engine, now }, command, body);
      } finally {
        this.effects = null;
      }
      const writes = [...before].flatMap(([id, rec]) => {
        const fields = this.changedFields(id, rec);
        return fields === null ? [] : [{ id, rec, fields }];
      });
      const results = await Promise.all(writes.map((w) => this.init.records.cas(this.app, w.id, w.rec.v, w.fields, this.messageFor(w.id, fx))));
      if (results.every((r) => r.ok)) {
        this.apply(fx, new Map(writes.map((w, i) => [w.id, results[i]!.v])));
        const friendsOf = new Set(fx.persists.flatMap((m) => (m.t === 'friendAdd' || m.t === 'friendRemove' ? [m.from] : [])));
        const seen = Object.fromEntries([...before].map(([id, rec]) => [id, rec.n]));
        await Promise.all([...friendsOf].map((id) => this.notifyFriends(id, seen)));
        this.dropTransient(ids);
        return reply;
      }
      await new Promise((resolve) => setTimeout(resolve, Math.random() * Math.min(100, 2 ** attempt)));
    }
    throw new PresentlyError(ErrorCode.INTERNAL_ERROR, 'the users named changed too often to apply the command; try again');
  }

  /**
   * New settings: applied here, published on the app's channel, and the call returns once every
   * node with a current lease has applied them (at most 2 s; a node that does not answer by then
   * is logged), so that no node decides with the old ones after the change was acknowledged.
   */
  async updateSettings(next: AppSettings): Promise<void> {
    this.engine.updateSettings(next);
    const n = await this.init.records.publishApp(this.app, JSON.stringify({ settings: next }));
    const acks = this.init.records.keys.settingsAcks(this.app, n);
    const deadline = Date.now() + 2000;
    for (;;) {
      const [live, done] = await Promise.all([this.init.liveNodes(), this.init.redis.smembers(acks)]);
      const missing = live.filter((k) => k !== this.init.node() && !done.includes(k));
      if (missing.length === 0) return;
      if (Date.now() > deadline) {
        this.init.log.warn({ app: this.app, nodes: missing }, 'cluster v2: nodes did not confirm the new settings within 2 s');
        return;
      }
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }

  /**
   * The console's user list (list_users): a page of accounts from the store in byte order, each
   * with its status, devices and subscriptions from its record and its friend count from the
   * store, in an engine of its own that holds just that page. With a Status filter up to 5,000
   * accounts are looked at per call, as on one process.
   */
  async listUsersView(body: unknown): Promise<ConsoleContext['engine']> {
    const b = typeof body === 'object' && body !== null ? (body as Record<string, unknown>) : {};
    const text = (k: string): string | undefined => (typeof b[k] === 'string' && b[k] !== '' ? b[k] : undefined);
    const asked = typeof b.Limit === 'number' && Number.isInteger(b.Limit) ? Math.min(Math.max(b.Limit, 1), MAX_PAGE) : 50;
    const scan = b.Status === undefined || b.Status === null || b.Status === '' ? asked : 5000;
    const store = this.init.store;
    if (!store.listAccountIds) throw new PresentlyError(ErrorCode.INTERNAL_ERROR, 'the store cannot list accounts');
    const prefix = text('Prefix');
    const after = text('After');
    const ids = await unavailable(store.listAccountIds(this.app, { ...(prefix ? { prefix } : {}), ...(after ? { after } : {}), limit: scan }));
    const recs = await unavailable(this.readRecords(ids));
    const snap = await unavailable(store.loadUsers(this.app, ids));
    this.dropTransient(ids);
    const view = new AppEngine<Sink>(this.engine.settings, { deliver: () => undefined, kick: () => undefined, persist: () => undefined });
    ids.forEach((id, i) => {
      const state = decode(id, recs[i]!);
      if (!state) return;
      view.importUser(state, (s) => new RemoteSink(s.node, ''));
      // S19 as of now (written to the record when the user's record is next written).
      view.expireSubscriptions(id, Date.now());
      view.setFriends(
        id,
        snap.friends.filter((f) => f.from === id),
      );
    });
    const more = ids.length === scan;
    return {
      app: this.app,
      settings: this.engine.settings,
      statusCounts: () => view.statusCounts(),
      accountCount: () => view.accountCount(),
      sessionCount: () => view.sessionCount(),
      listUsers: (q) => {
        const page = view.listUsers({ ...q, maxScan: scan });
        return { users: page.users, next: page.next !== '' ? page.next : more ? ids[ids.length - 1]! : '' };
      },
    };
  }

  /** This node leaves (node.ts `drain`). */
  drain(): void {
    this.draining = true;
  }

  /** A message on the app's own channel: new settings from another node. */
  onAppMessage(n: number, body: string): void {
    let m: { settings?: AppSettings };
    try {
      m = JSON.parse(body) as { settings?: AppSettings };
    } catch {
      return;
    }
    if (!m.settings) return;
    this.engine.updateSettings(m.settings);
    const acks = this.init.records.keys.settingsAcks(this.app, n);
    this.background(this.init.redis.multi().sadd(acks, this.init.node()).expire(acks, 60).exec());
  }

  /**
   * A node's lease lapsed and this node claimed it (node.ts): every session it held ends as a
   * lost connection (S3: OFFLINE, the device stays logged in), announced to every watcher.
   */
  async endNode(dead: string, now: number): Promise<void> {
    const set = this.init.records.keys.nodeUsers(this.app, dead);
    const users = await this.init.redis.smembers(set);
    await Promise.all(
      users.map((userID) =>
        this.run(userID, () => {
          for (const s of [...this.engine.sessionsOf(userID)]) if (s.sink.node === dead) this.engine.disconnect(s, 'close', now);
        }).finally(() => this.dropTransient([userID])),
      ),
    );
    await this.init.redis.del(set);
  }

  tick(): void {}

  // ---- one request on one user -----------------------------------------------------------------

  /**
   * Runs `op` on the view with `userID` as its record says now, and writes what it changed by
   * compare-and-set, with the change announced on the user's channel; on a lost race, again.
   * Effects are carried out only once the write is in.
   */
  private run<T>(userID: string, op: (fx: Effects) => T, now = Date.now()): Promise<T> {
    if (!this.init.reachable()) return Promise.reject(new PresentlyError(ErrorCode.INTERNAL_ERROR, UNAVAILABLE));
    return this.track(this.attempt(userID, op, now));
  }

  private async attempt<T>(userID: string, op: (fx: Effects) => T, now: number): Promise<T> {
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      const rec = await this.load(userID);
      const fx = new Effects(this.sessionsOf([userID]));
      this.effects = fx;
      let result: T;
      try {
        // S19, when the user's record is next written (a login after the expiry finds none).
        this.engine.expireSubscriptions(userID, now);
        result = op(fx);
      } finally {
        this.effects = null;
      }
      const fields = this.changedFields(userID, rec);
      const message = this.messageFor(userID, fx);
      if (fields === null && message === '') {
        this.apply(fx, new Map([[userID, rec.v]]));
        return result;
      }
      const r = await this.init.records.cas(this.app, userID, rec.v, fields ?? {}, message);
      if (r.ok) {
        this.apply(fx, new Map([[userID, r.v]]));
        return result;
      }
      await new Promise((resolve) => setTimeout(resolve, Math.random() * Math.min(100, 2 ** attempt)));
    }
    throw new PresentlyError(ErrorCode.INTERNAL_ERROR, `user ${userID} changed too often to apply the request; try again`);
  }

  /** Refuses at once (nothing sent) while Redis is known not to answer. */
  private reachableOrFail(): void {
    if (!this.init.reachable()) throw new PresentlyError(ErrorCode.INTERNAL_ERROR, UNAVAILABLE);
  }

  /** Counts `p` as work in flight until it settles. */
  private track<T>(p: Promise<T>): Promise<T> {
    this.inFlight++;
    return p.finally(() => {
      if (--this.inFlight > 0) return;
      const w = this.idleWaiters;
      this.idleWaiters = [];
      for (const f of w) f();
    });
  }

  /** Resolves once no request of this app is on the wire on this node. */
  idle(): Promise<void> {
    if (this.inFlight === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Reads the user's record into the view (creating the record from the store when Redis has none). */
  private async load(userID: string): Promise<UserRecord> {
    const [rec] = await this.readRecords([userID]);
    return rec!;
  }

  /**
   * Reads the records of `ids` into the view. A user Redis does not hold is loaded from the store
   * and its record written (version 0 -> 1): what a node needs, when it needs it. Ids that name no
   * account are dropped from the view. `friends`: also load their friend lists (REST).
   */
  private async hydrate(ids: readonly string[], friends = false): Promise<Map<string, UserRecord>> {
    const recs = await this.readRecords(ids);
    const out = new Map<string, UserRecord>();
    ids.forEach((id, i) => out.set(id, recs[i]!));
    if (friends) {
      const snap = await this.init.store.loadUsers(this.app, ids);
      for (const id of ids)
        this.engine.setFriends(
          id,
          snap.friends.filter((f) => f.from === id),
        );
    }
    return out;
  }

  private async readRecords(ids: readonly string[]): Promise<UserRecord[]> {
    const recs = await this.init.records.readMany(this.app, ids);
    const missing = ids.filter((_, i) => recs[i]!.v === 0);
    if (missing.length > 0) {
      const snap = await this.init.store.loadUsers(this.app, missing);
      for (const a of snap.accounts) {
        const subs = snap.subscriptions.filter((s) => s.userID === a.userID).map((s): [string, number] => [s.target, s.seq]);
        const state: UserState = {
          userID: a.userID,
          sessions: [],
          loginKeys: a.loginKeys,
          kickedAt: a.kickedAt,
          offlineSince: a.offlineSince,
          nick: a.nick ?? '',
          faceUrl: a.faceUrl ?? '',
          customStatus: '',
          statusType: a.loginKeys.length > 0 ? UserStatus.OFFLINE : UserStatus.UNLOGINED,
          subs,
          rate: null,
          lastAnnounce: 0,
        };
        // Another node may write it first: either way the record now holds the account.
        await this.init.records.cas(this.app, a.userID, 0, encode(state));
      }
      const accounts = new Set(snap.accounts.map((a) => a.userID));
      // A deleted account's record keeps the second it was deleted (S28), nothing else.
      for (const t of snap.tombstones ?? []) if (!accounts.has(t.userID)) await this.init.records.cas(this.app, t.userID, 0, { ka: String(t.deletedAt) });
      const again = await this.init.records.readMany(this.app, missing);
      missing.forEach((id, i) => (recs[ids.indexOf(id)] = again[i]!));
    }
    ids.forEach((id, i) => this.toView(id, recs[i]!));
    return recs;
  }

  private toView(userID: string, rec: UserRecord): void {
    const state = decode(userID, rec);
    if (!state) {
      this.engine.dropUser(userID, rec.fields.ka === undefined ? undefined : Number(rec.fields.ka));
      return;
    }
    this.engine.importUser(state, (s) => this.local.get(userID)?.sessions.get(s.id) ?? new RemoteSink(s.node, ''));
  }

  /** The record's fields that the view's state of the user no longer matches; null when none. */
  private changedFields(userID: string, rec: UserRecord): RecordFields | null {
    const state = this.engine.exportUser(userID, (sink) => (sink.node === '' ? this.init.node() : sink.node));
    const next = state ? encode(state) : null;
    const out: RecordFields = {};
    let any = false;
    if (next === null) {
      if (rec.fields.ac === undefined) return null;
      // Deleted: the record keeps only the second of the deletion (S28).
      for (const k of Object.keys(rec.fields)) out[k] = DELETE;
      const deletedAt = this.engine.deletedAt(userID);
      if (deletedAt !== undefined) out.ka = String(deletedAt);
      return out;
    }
    for (const [k, v] of Object.entries(next)) {
      if (rec.fields[k] !== v) {
        out[k] = v;
        any = true;
      }
    }
    return any ? out : null;
  }

  private messageFor(userID: string, fx: Effects): string {
    const m: ChannelMessage = {};
    if (fx.change && fx.change.info.userID === userID) {
      m.c = fx.change.info;
      if (fx.exclude) m.x = fx.exclude;
    }
    const kicks = fx.kicks.flatMap(([sink, type]): Array<[string, KickTypeValue]> => {
      const s = fx.sessionOf.get(sink);
      return s && s.userID === userID ? [[s.id, type]] : [];
    });
    if (kicks.length > 0) m.k = kicks;
    const replaced = fx.replaced.flatMap((sink) => {
      const s = fx.sessionOf.get(sink);
      return s && s.userID === userID ? [s.id] : [];
    });
    if (replaced.length > 0) m.r = replaced;
    if (fx.subsChanged) m.s = Object.fromEntries(fx.seen);
    return Object.keys(m).length === 0 ? '' : JSON.stringify(m);
  }

  /** The live sessions of some users in the view, by sink. */
  private sessionsOf(ids: readonly string[]): Map<Sink, { id: string; userID: string }> {
    const out = new Map<Sink, { id: string; userID: string }>();
    for (const id of ids) for (const s of this.engine.sessionsOf(id)) out.set(s.sink, { id: s.id, userID: id });
    return out;
  }

  /** The write is in: persist its facts (account rows with the record's version), send its events. */
  private apply(fx: Effects, versions: Map<string, number>): void {
    for (const m of fx.persists) this.init.store.persist(m.t === 'account' ? { ...m, v: versions.get(m.userID) ?? 0 } : m);
    for (const e of fx.events) this.init.onEvent(this.engine, e);
  }

  // ---- what this node hears -------------------------------------------------------------------

  /** A message on the channel of `userID` (the node routes it here). */
  onMessage(userID: string, body: string): void {
    let m: ChannelMessage;
    try {
      m = JSON.parse(body) as ChannelMessage;
    } catch {
      return;
    }
    const lu = this.local.get(userID);
    if (lu) {
      for (const [sid, type] of m.k ?? []) {
        const sink = lu.sessions.get(sid);
        if (!sink) continue;
        lu.sessions.delete(sid);
        sink.kick(type);
      }
      for (const sid of m.r ?? []) {
        const sink = lu.sessions.get(sid);
        if (!sink) continue;
        lu.sessions.delete(sid);
        sink.session = null;
        sink.close(CloseCode.NORMAL, 'replaced by a newer login of the same client');
      }
      if (m.s) this.background(this.refreshSubs(userID, new Map(Object.entries(m.s))));
      if (m.f) this.background(this.refreshFriends(userID, new Map(Object.entries(m.f))));
    }
    if (m.c) {
      if (this.watchers.has(userID)) this.lastStatus.set(userID, m.c);
      this.deliver(userID, new Change(m.c), m.x);
    }
    if (lu && lu.sessions.size === 0) this.background(this.removeLocalUser(userID));
  }

  /**
   * Messages of `userID` were missed (interest.ts found a gap): its watchers here get its status
   * as the record has it now, and if it is a user of this node, its subscriptions and friends
   * are read again.
   */
  async onGap(userID: string): Promise<void> {
    const rec = await this.init.records.read(this.app, userID);
    const state = decode(userID, rec);
    // No record (Redis lost it): nothing changed that a watcher has not heard; the resync of
    // the node holding the user's sessions announces them.
    this.init.interest.known(this.init.records.keys.channel(this.app, userID), rec.n);
    if (state) this.deliver(userID, new Change({ userID, statusType: state.statusType, customStatus: state.customStatus }), undefined);
    if (this.local.has(userID)) {
      await this.refreshSubs(userID);
      await this.refreshFriends(userID);
    }
  }

  /** The subscriber connection came back: anything may have been missed on any channel. */
  async onReconnected(): Promise<void> {
    const users = new Set([...this.local.keys(), ...this.watchers.keys()]);
    await Promise.all([...users].map((id) => this.onGap(id)));
  }

  private deliver(userID: string, change: Change, exclude: string | undefined): void {
    const own = this.local.get(userID);
    if (own) for (const [sid, sink] of own.sessions) if (sid !== exclude) this.send(sink, change);
    const s = this.engine.settings;
    if (s.edition !== 'premium' || !s.userStatus.queryAndNotify) return;
    for (const w of this.watchers.get(userID) ?? []) {
      if (w === userID) continue;
      const lu = this.local.get(w);
      if (!lu) continue;
      // A friend is heard only under auto-notify; a subscription always.
      if (!lu.subs.has(userID) && !(s.userStatus.friendAutoNotify && lu.friends.has(userID))) continue;
      for (const sink of lu.sessions.values()) this.send(sink, change);
    }
  }

  private send(sink: Sink, change: Change): void {
    if (!sink.open) return;
    this.init.onDelivered?.();
    sink.deliver(change);
  }

  // ---- local users and their interest ---------------------------------------------------------

  private async addLocalUser(userID: string): Promise<void> {
    const lu: LocalUser = { sessions: new Map(), subs: new Set(), friends: new Set() };
    this.local.set(userID, lu);
    // Named in this node's set before its login is written: if the node dies, a survivor finds it.
    await this.init.redis.sadd(this.init.records.keys.nodeUsers(this.app, this.init.node()), userID);
    await this.init.interest.add(this.init.records.keys.channel(this.app, userID));
    const snap = await this.init.store.loadUsers(this.app, [userID]);
    const friends = snap.friends.filter((f) => f.from === userID);
    this.engine.setFriends(userID, friends);
    await this.setWatched(userID, lu, 'friends', new Set(friends.map((f) => f.to)));
    const rec = await this.init.records.read(this.app, userID);
    await this.setWatched(userID, lu, 'subs', new Set(decode(userID, rec)?.subs.map(([t]) => t) ?? []));
  }

  private async removeLocalUser(userID: string): Promise<void> {
    const lu = this.local.get(userID);
    if (!lu || lu.sessions.size > 0) return;
    this.local.delete(userID);
    await this.setWatched(userID, lu, 'subs', new Set());
    await this.setWatched(userID, lu, 'friends', new Set());
    await this.init.interest.remove(this.init.records.keys.channel(this.app, userID));
    this.engine.dropUser(userID);
    await this.init.redis.srem(this.init.records.keys.nodeUsers(this.app, this.init.node()), userID);
  }

  private async endLocal(userID: string, sid: string): Promise<void> {
    const lu = this.local.get(userID);
    if (!lu) return;
    lu.sessions.delete(sid);
    if (lu.sessions.size === 0) await this.removeLocalUser(userID);
  }

  private async refreshSubs(userID: string, seen?: Map<string, number>): Promise<void> {
    const lu = this.local.get(userID);
    if (!lu) return;
    const rec = await this.init.records.read(this.app, userID);
    await this.setWatched(userID, lu, 'subs', new Set(decode(userID, rec)?.subs.map(([t]) => t) ?? []), seen);
  }

  private async refreshFriends(userID: string, seen?: Map<string, number>): Promise<void> {
    const lu = this.local.get(userID);
    if (!lu) return;
    const snap = await this.init.store.loadUsers(this.app, [userID]);
    const friends = snap.friends.filter((f) => f.from === userID);
    this.engine.setFriends(userID, friends);
    await this.setWatched(userID, lu, 'friends', new Set(friends.map((f) => f.to)), seen);
  }

  /** Tells the nodes holding `userID` that its friend list changed (after the store has it). */
  private async notifyFriends(userID: string, seen: Record<string, number>): Promise<void> {
    await this.init.store.flush();
    await this.init.records.publish(this.app, userID, JSON.stringify({ f: seen } satisfies ChannelMessage));
  }

  /** Sets whom `userID` watches through `kind`, listening to the users added and no longer to those gone. */
  private async setWatched(userID: string, lu: LocalUser, kind: 'subs' | 'friends', next: Set<string>, seen?: Map<string, number>): Promise<void> {
    const cur = lu[kind];
    const added = [...next].filter((t) => !cur.has(t));
    const gone = [...cur].filter((t) => !next.has(t));
    lu[kind] = next;
    const other = kind === 'subs' ? lu.friends : lu.subs;
    await Promise.all([
      ...added.filter((t) => !other.has(t)).map((t) => this.watch(t, userID, seen?.get(t))),
      ...gone.filter((t) => !other.has(t)).map((t) => this.unwatch(t, userID)),
    ]);
  }

  /**
   * `by` (a user of this node) now watches `target`. `seenAt`: the target's announcement number
   * when the request that made `by` watch it read it; changes announced since, which this node
   * did not deliver to `by`, are caught up as one: the status as of the last of them (S21c).
   */
  private async watch(target: string, by: string, seenAt?: number): Promise<void> {
    let set = this.watchers.get(target);
    if (!set) {
      set = new Set();
      this.watchers.set(target, set);
    }
    if (set.has(by)) return;
    set.add(by);
    const channel = this.init.records.keys.channel(this.app, target);
    const fresh = !this.init.interest.has(channel);
    await this.init.interest.add(channel);
    if (seenAt === undefined) return;
    let missed: UserStatusInfo | undefined;
    if (fresh) {
      // Listening from now on: the record says where the channel stands.
      const rec = await this.init.records.read(this.app, target);
      // A message that arrived since the subscription was delivered to `by` already: only what
      // came before it, between the request and the subscription, was missed.
      const heard = this.init.interest.last(channel);
      this.init.interest.known(channel, rec.n);
      const st = decode(target, rec);
      if (st && rec.n > seenAt && heard < rec.n) missed = { userID: target, statusType: st.statusType, customStatus: st.customStatus };
    } else if (this.init.interest.last(channel) > seenAt) {
      // Already listening for another user: the last change delivered here, and those still on
      // their way follow in order.
      missed = this.lastStatus.get(target);
    }
    if (missed) for (const sink of this.local.get(by)?.sessions.values() ?? []) this.send(sink, new Change(missed));
  }

  private async unwatch(target: string, by: string): Promise<void> {
    const set = this.watchers.get(target);
    if (!set?.delete(by)) return;
    if (set.size === 0) {
      this.watchers.delete(target);
      this.lastStatus.delete(target);
    }
    await this.init.interest.remove(this.init.records.keys.channel(this.app, target));
  }

  /**
   * Reads `ids` into the view for one request, then forgets those this node does not hold. `fn`
   * gets the announcement number of each record as read.
   */
  private async withUsers<T>(ids: readonly string[], fn: (seen: Map<string, number>) => Promise<T>): Promise<T> {
    this.reachableOrFail();
    const unique = [...new Set(ids)];
    const recs = await this.readRecords(unique);
    try {
      return await fn(new Map(unique.map((id, i) => [id, recs[i]!.n])));
    } finally {
      this.dropTransient(unique);
    }
  }

  private dropTransient(ids: readonly string[]): void {
    for (const id of ids) if (!this.local.has(id)) this.engine.dropUser(id);
  }
}

const ACCOUNT_DELETE = 'im_open_login_svc/account_delete';

const UNAVAILABLE = 'the cluster is unavailable (Redis or the database does not answer); nothing was done, try again';

/** REST reads of durable facts: answered from the store while Redis is unreachable. */
const STORE_READS: ReadonlySet<string> = new Set(['im_open_login_svc/account_check', 'sns/friend_get', 'sns/friend_check']);

/**
 * A request that failed for want of Redis (refused, lost, or a command that got no answer in
 * time) gets 70500; the request's own refusals pass through.
 */
function unavailable<T>(p: Promise<T>): Promise<T> {
  return p.catch((err: unknown) => {
    if (err instanceof PresentlyError) throw err;
    throw new PresentlyError(ErrorCode.INTERNAL_ERROR, UNAVAILABLE);
  });
}

/** Every string of a REST body that could be a userID (the users a command names). */
export function namedUsers(body: unknown, out = new Set<string>(), depth = 0): string[] {
  if (depth > 4 || out.size > 2000) return [...out];
  if (typeof body === 'string') {
    if (body.length > 0 && body.length <= 32) out.add(body);
  } else if (Array.isArray(body)) {
    for (const v of body) namedUsers(v, out, depth + 1);
  } else if (typeof body === 'object' && body !== null) {
    for (const v of Object.values(body)) namedUsers(v, out, depth + 1);
  }
  return [...out];
}

// ---- the record's fields ---------------------------------------------------------------------------

/** A user's state as record fields (`ac` marks an account). */
export function encode(s: UserState): RecordFields {
  const f: RecordFields = {
    ac: '1',
    ss: JSON.stringify(s.sessions),
    lk: JSON.stringify(s.loginKeys),
    ka: String(s.kickedAt),
    os: String(s.offlineSince),
    nk: s.nick,
    fu: s.faceUrl,
    cs: s.customStatus,
    st: String(s.statusType),
    sb: JSON.stringify(s.subs),
    la: String(s.lastAnnounce),
    rt: s.rate ? JSON.stringify(s.rate) : '',
  };
  return f;
}

/** The state a record holds; undefined when it holds no account. */
export function decode(userID: string, rec: UserRecord): UserState | undefined {
  const f = rec.fields;
  if (f.ac !== '1') return undefined;
  return {
    userID,
    sessions: JSON.parse(f.ss ?? '[]') as SessionState[],
    loginKeys: JSON.parse(f.lk ?? '[]') as string[],
    kickedAt: Number(f.ka ?? 0),
    offlineSince: Number(f.os ?? 0),
    nick: f.nk ?? '',
    faceUrl: f.fu ?? '',
    customStatus: f.cs ?? '',
    statusType: Number(f.st ?? UserStatus.UNLOGINED) as UserState['statusType'],
    subs: JSON.parse(f.sb ?? '[]') as Array<[string, number]>,
    rate: f.rt ? (JSON.parse(f.rt) as UserState['rate']) : null,
    lastAnnounce: Number(f.la ?? 0),
  };
}
