/**
 * One app on a cluster node: the app's driver (gateway/driver.ts) over its command log, and the
 * replica that applies the log to this node's engine.
 *
 * A request is appended to the log with the origin's clock; the origin answers its client when it
 * applies its own entry, with the engine's result at that point of the order. Every node applies
 * every entry: a session's changes reach the sessions of every node in one order (S22), and each
 * node delivers only to its own sockets. Durable facts and webhook events are written by the
 * origin alone (`applyingLocal`), since every node computes them.
 *
 * Joining: the log's last id and every node's session registry are read at one instant (one Lua
 * script), the durable state comes from the store, and the log is read from that id on.
 *
 * Redis unreachable (node.ts): a request is answered with 70500 instead of waiting for the log,
 * at once when the node already knows (nothing is sent: nothing was done), else as soon as it
 * learns or after `requestTimeoutMs` (the entry was sent and may still be applied later). A REST
 * read (READ_ONLY_COMMANDS) is answered from this node's copy of the state instead.
 */
import type { Redis as RedisConn, Cluster as ClusterConn } from 'ioredis';
import { ErrorCode, PresentlyError, type UserStatusInfo } from '@presently/protocol';
import type { LoginParams } from '../engine/engine.js';
import type { DisconnectReason } from '../engine/types.js';
import type { AppSettings } from '../config/settings.js';
import type { DurableStore } from '../store/types.js';
import type { AppDriver, FailuresReply, StatusReply } from '../gateway/driver.js';
import { RemoteSink, type Engine, type Sink, type SinkSession } from '../gateway/sink.js';
import { READ_ONLY_COMMANDS, runCommand, type RestReply } from '../rest/commands.js';
import type { Entry, EntryBody, SessionRecord } from './entries.js';
import { SNAPSHOT } from './redis.js';
import type { ClusterNode } from './node.js';

export interface ClusterAppInit {
  node: ClusterNode;
  engine: Engine;
  store: DurableStore;
  /** How long a request waits for its entry to come back, ms. */
  requestTimeoutMs?: number;
}

interface Waiter {
  resolve(v: unknown): void;
  reject(err: unknown): void;
  timer: NodeJS.Timeout;
  /** A read's answer from this node's memory, when the log cannot give it. */
  local?: () => unknown;
}

const UNAVAILABLE = 'the cluster is unavailable (Redis); nothing was done, try again';
/** The entry was sent, but Redis did not answer: it may still be applied when Redis does. */
const UNANSWERED = 'the cluster is unavailable (Redis did not answer); the request may still take effect, try again later';

export class ClusterApp implements AppDriver {
  readonly engine: Engine;
  readonly app: number;
  private readonly node: ClusterNode;
  /** Every live session of the app, on any node, by id. */
  private readonly sessions = new Map<string, SinkSession>();
  /** Login records of this node's live sessions (a resync lists them). */
  private readonly records = new Map<string, SessionRecord>();
  /** This node's connections whose login entry is on its way. */
  private readonly localSinks = new Map<string, Sink>();
  private readonly waiters = new Map<number, Waiter>();
  private seq = 0;
  /** True while applying an entry this node appended: only then are facts persisted. */
  applyingLocal = false;
  private lastId = '0-0';
  /**
   * Log position of the entry being applied, from its stream id (ms * 4096 + sequence, kept
   * increasing across a Redis that restarted empty, since stream ids follow the clock).
   */
  version = 0;
  /** Number of the last entry applied (0: none yet, or unknown after joining). */
  private lastN = 0;
  private reader: RedisConn | ClusterConn | null = null;
  private readerOk = false;
  private stopped = false;
  private readonly timeoutMs: number;

  constructor(private readonly init: ClusterAppInit) {
    this.engine = init.engine;
    this.app = init.engine.app;
    this.node = init.node;
    this.timeoutMs = init.requestTimeoutMs ?? 10_000;
  }

  readerHealthy(): boolean {
    return this.readerOk;
  }

  // ---- joining and reading ---------------------------------------------------------------------

  async join(): Promise<void> {
    const { keys, redis } = this.node;
    await redis.set(keys.epoch(this.app), String(Date.now()), 'NX');
    const nodes: string[] = [];
    for (const n of await redis.smembers(keys.nodes())) {
      if (n !== this.node.key && !(await this.node.isDeadAtJoin(this.app, n))) nodes.push(n);
    }
    const snap = (await redis.eval(SNAPSHOT, 1 + nodes.length, keys.log(this.app), ...nodes.map((n) => keys.live(this.app, n)))) as [string, ...string[][]];
    this.engine.load(await this.init.store.loadApp(this.app), Date.now());
    this.lastId = snap[0];
    nodes.forEach((n, i) => {
      const flat = snap[i + 1] ?? [];
      for (let j = 0; j + 1 < flat.length; j += 2) {
        const rec = JSON.parse(flat[j + 1]!) as SessionRecord;
        this.applyQuietly(() => this.tryAdd(rec, n));
      }
    });
    this.reader = this.node.redis.duplicate();
    this.reader.on('error', () => undefined);
    // A read retried over a new connection may land on a log Redis restored or began again.
    this.reader.on('close', () => {
      this.lastN = 0;
    });
    await this.reader.connect().catch(() => undefined);
    void this.readLoop();
  }

  private async readLoop(): Promise<void> {
    const logKey = this.node.keys.log(this.app);
    while (!this.stopped && this.reader) {
      try {
        const res = await this.reader.xread('COUNT', 1000, 'BLOCK', 1000, 'STREAMS', logKey, this.lastId);
        this.readerOk = true;
        this.node.counters.reads++;
        if (!res) continue;
        for (const [, entries] of res) {
          for (const [id, fields] of entries) {
            this.lastId = id;
            const raw = fields[1];
            const n = Number(fields[3] ?? 0);
            // Entries are numbered 1, 2, ...; a log that began again (Redis came back empty) starts at 1.
            if (this.lastN !== 0 && n !== this.lastN + 1 && n !== 1) {
              this.readerOk = false;
              this.node.fatal(`app ${this.app}: log entry ${n} follows ${this.lastN}; entries were trimmed before this node read them`);
              return;
            }
            this.lastN = n;
            if (raw === undefined) continue;
            const dash = id.indexOf('-');
            this.version = Number(id.slice(0, dash)) * 4096 + Math.min(4095, Number(id.slice(dash + 1)));
            this.apply(JSON.parse(raw) as Entry);
          }
        }
      } catch (err) {
        this.readerOk = false;
        // What happened to the log while this node could not read it is unknown (Redis may come
        // back empty, or from an older snapshot): numbering is checked again from the next entry;
        // the nodes' `sync` entries mend the sessions.
        this.lastN = 0;
        if (this.stopped) return;
        this.node.log.debug({ err }, 'log read failed; retrying');
        await new Promise((r) => setTimeout(r, 200));
      }
    }
  }

  /**
   * Redis cannot take commands now (node.ts): every request waiting for its entry is answered,
   * a read from this node's memory, anything else with 70500 (its entry may still be applied).
   */
  unreachable(): void {
    const waiting = [...this.waiters.values()];
    this.waiters.clear();
    for (const w of waiting) {
      clearTimeout(w.timer);
      this.giveUp(w, UNANSWERED);
    }
  }

  /** A waiter whose entry the log will not bring: its read answered locally, or 70500. */
  private giveUp(w: Pick<Waiter, 'resolve' | 'reject' | 'local'>, message: string): void {
    if (!w.local) return w.reject(new PresentlyError(ErrorCode.INTERNAL_ERROR, message));
    try {
      w.resolve(w.local());
    } catch (err) {
      w.reject(err);
    }
  }

  stop(): void {
    this.stopped = true;
    this.reader?.disconnect();
    for (const w of this.waiters.values()) {
      clearTimeout(w.timer);
      w.reject(new PresentlyError(ErrorCode.INTERNAL_ERROR, 'the server is shutting down'));
    }
    this.waiters.clear();
  }

  /** Nodes that hold sessions in this replica (a dead one may be known only here). */
  nodesWithSessions(): Iterable<string> {
    return this.perNode.keys();
  }
  /** Sessions of other nodes in the map, per node (kept as sessions come and go: no scan). */
  private readonly perNode = new Map<string, number>();

  /**
   * Sessions of this node whose socket closed but which are still live in the log (the
   * disconnect could not be appended): appended again. Called every lease round; a session is
   * retried on the second round it is seen, so a disconnect on its way is not doubled.
   */
  reapClosed(): void {
    const seen = this.closedSeen;
    this.closedSeen = new Set();
    // Only this node's sessions (they have records): a scan of the whole cluster's every second
    // would cost each node in proportion to the cluster.
    for (const sid of this.records.keys()) {
      const s = this.sessions.get(sid);
      if (!s || !s.live || s.sink.open) continue;
      if (seen.has(sid)) this.submitQuiet({ k: 'disc', s: sid, r: 'close' }, { op: 'del', args: [sid] });
      else this.closedSeen.add(sid);
    }
  }
  private closedSeen = new Set<string>();

  /** Redis came back: this node's sessions go back in the registry and every replica hears them. */
  async resync(): Promise<void> {
    const { keys, redis } = this.node;
    if ((await redis.set(keys.epoch(this.app), String(Date.now()), 'NX')) === 'OK') {
      this.node.log.warn({ app: this.app }, 'Redis came back empty: rebuilding live state from this node');
    }
    const mine: SessionRecord[] = [];
    for (const [sid, s] of this.sessions) {
      const rec = this.records.get(sid);
      if (s.live && s.sink.node === '' && s.sink.open && rec) mine.push(rec);
    }
    const args: string[] = [];
    for (const r of mine) args.push(r.s, JSON.stringify(r));
    await this.node.append(this.app, { k: 'sync', node: this.node.key, ss: mine, o: this.node.key, i: 0, t: Date.now() }, { op: 'reset', args });
  }

  // ---- applying --------------------------------------------------------------------------------

  private applyQuietly(fn: () => void): void {
    const was = this.applyingLocal;
    this.applyingLocal = false;
    try {
      fn();
    } finally {
      this.applyingLocal = was;
    }
  }

  private addSession(rec: SessionRecord, node: string): SinkSession | null {
    const old = this.sessions.get(rec.s);
    if (old?.live) return null;
    if (old) this.forget(rec.s);
    const local = node === this.node.key;
    let sink = local ? this.localSinks.get(rec.s) : undefined;
    this.localSinks.delete(rec.s);
    const orphan = local && !sink;
    sink ??= new RemoteSink(local ? this.node.key : node, rec.ip);
    const s = this.engine.login({ userID: rec.u, platform: rec.p, instanceId: rec.n, sessionId: rec.s, ticketTime: rec.tt, sink }, rec.t);
    this.sessions.set(rec.s, s);
    if (sink.node !== '') this.perNode.set(sink.node, (this.perNode.get(sink.node) ?? 0) + 1);
    // Only this node's own sessions are ever listed again (a resync's `sync` entry).
    if (local) this.records.set(rec.s, { s: rec.s, u: rec.u, p: rec.p, n: rec.n, tt: rec.tt, ip: rec.ip, t: rec.t });
    // Our own login whose client is gone (closed, or its request timed out): end it for everyone.
    if (orphan) this.submitQuiet({ k: 'disc', s: rec.s, r: 'close' }, { op: 'del', args: [rec.s] });
    return s;
  }

  /** Adds a session a registry or a sync lists; one the engine refuses (S28) is skipped. */
  private tryAdd(rec: SessionRecord, node: string): void {
    try {
      this.addSession(rec, node);
    } catch (err) {
      this.node.log.debug({ err, session: rec.s }, 'listed session refused');
    }
  }

  /** Forgets a session of the map (it ended). */
  private forget(sid: string): SinkSession | undefined {
    const s = this.sessions.get(sid);
    if (!s) return undefined;
    this.sessions.delete(sid);
    this.records.delete(sid);
    const n = s.sink.node;
    if (n !== '') {
      const left = (this.perNode.get(n) ?? 1) - 1;
      if (left > 0) this.perNode.set(n, left);
      else this.perNode.delete(n);
    }
    return s;
  }

  private live(sid: string): SinkSession {
    const s = this.sessions.get(sid);
    if (!s || !s.live) {
      if (s) this.forget(sid);
      throw new PresentlyError(ErrorCode.NOT_LOGGED_IN);
    }
    return s;
  }

  /** Applies one entry to the engine; the origin's waiter gets the result. */
  apply(e: Entry): void {
    this.node.counters.entriesApplied++;
    const mine = e.o === this.node.key;
    const waiter = mine && e.i !== 0 ? this.waiters.get(e.i) : undefined;
    if (waiter) {
      this.waiters.delete(e.i);
      clearTimeout(waiter.timer);
    }
    if (this.node.downNodes.has(e.o) && e.k !== 'down') {
      if (waiter) this.giveUp(waiter, UNAVAILABLE);
      return;
    }
    this.applyingLocal = mine;
    let result: unknown;
    try {
      result = this.run(e);
    } catch (err) {
      if (waiter) waiter.reject(err);
      else if (!(err instanceof PresentlyError)) this.node.log.error({ err, entry: e.k }, 'applying a log entry failed');
      return;
    } finally {
      this.applyingLocal = false;
    }
    waiter?.resolve(result);
  }

  private run(e: Entry): unknown {
    const eng = this.engine;
    switch (e.k) {
      case 'login':
        return this.addSession(e, e.o);
      case 'logout':
        return eng.logout(this.live(e.s), e.t);
      case 'disc':
      case 'gone': {
        const s = this.forget(e.s);
        if (s?.live) eng.disconnect(s, e.k === 'disc' ? e.r : 'close', e.t);
        return undefined;
      }
      case 'custom':
        return eng.setCustomStatus(this.live(e.s), e.v, e.t);
      case 'get':
        return eng.getUserStatus(this.live(e.s), e.ids, e.t);
      case 'sub':
        return eng.subscribe(this.live(e.s), e.ids, e.t);
      case 'unsub':
        return eng.unsubscribe(this.live(e.s), e.ids ?? undefined, e.t);
      case 'rest':
        return runCommand({ engine: eng, now: e.t }, e.c, e.b);
      case 'settings':
        eng.updateSettings(e.v);
        return undefined;
      case 'tick':
        eng.sweep(e.t);
        this.pruneEnded();
        return undefined;
      case 'drain':
        if (e.node !== this.node.key) this.node.drains.set(e.node, e.until);
        return undefined;
      case 'down':
        this.nodeDown(e.node, e.t);
        return undefined;
      case 'sync':
        this.syncNode(e.node, e.ss, e.t);
        return undefined;
    }
  }

  private nodeOf(s: SinkSession): string {
    return s.sink.node === '' ? this.node.key : s.sink.node;
  }

  private nodeDown(n: string, now: number): void {
    this.node.downNodes.add(n);
    this.node.drains.delete(n);
    for (const [sid, s] of this.sessions) {
      if (this.nodeOf(s) !== n) continue;
      this.forget(sid);
      if (s.live) this.engine.disconnect(s, 'timeout', now);
    }
    if (n === this.node.key) this.node.evicted();
  }

  private syncNode(n: string, list: SessionRecord[], now: number): void {
    const listed = new Set(list.map((r) => r.s));
    for (const [sid, s] of this.sessions) {
      if (this.nodeOf(s) !== n || listed.has(sid)) continue;
      this.forget(sid);
      if (s.live) this.engine.disconnect(s, 'timeout', now);
    }
    if (n === this.node.key) return;
    for (const r of list) if (!this.sessions.get(r.s)?.live) this.tryAdd(r, n);
  }

  private pruneEnded(): void {
    // Sessions ended by a kick or a newer login leave the map here (at most once a tick).
    if (this.sessions.size < 64 || Math.random() > 0.05) return;
    for (const [sid, s] of this.sessions) if (!s.live) this.forget(sid);
  }

  /** A session of this node was ended by another entry (kick, newer login): drop it from the registry. */
  localEnded(sid: string): void {
    this.forget(sid);
    this.submitQuiet({ k: 'gone', s: sid }, { op: 'del', args: [sid] });
  }

  // ---- submitting ------------------------------------------------------------------------------

  /**
   * Appends an entry and resolves with its result once this node applies it. `local`: a read's
   * answer from this node's memory, given instead when Redis is unreachable.
   */
  private submit<T>(body: EntryBody, now: number, reg: { op: '' | 'set' | 'del'; args: string[] } = { op: '', args: [] }, local?: () => T): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const w = { resolve: resolve as (v: unknown) => void, reject, ...(local ? { local } : {}) };
      // Known unreachable: nothing is sent (a request would otherwise wait, and land later).
      if (!this.node.reachable()) return this.giveUp(w, UNAVAILABLE);
      const i = ++this.seq;
      const entry = { ...body, o: this.node.key, i, t: now };
      const timer = setTimeout(() => {
        if (this.waiters.delete(i)) this.giveUp(w, UNANSWERED);
      }, this.timeoutMs);
      this.waiters.set(i, { ...w, timer });
      this.node.append(this.app, entry, reg).catch((err: unknown) => {
        this.node.log.debug({ err }, 'append failed');
        clearTimeout(timer);
        if (this.waiters.delete(i)) this.giveUp(w, UNAVAILABLE);
      });
    });
  }

  /** Appends an entry nobody waits for; a failure is mended by the next resync. */
  private submitQuiet(body: EntryBody, reg: { op: '' | 'set' | 'del'; args: string[] }): void {
    const entry = { ...body, o: this.node.key, i: 0, t: Date.now() };
    this.node.append(this.app, entry, reg).catch((err: unknown) => this.node.log.debug({ err }, 'append failed; the next resync mends it'));
  }

  // ---- the driver ------------------------------------------------------------------------------

  login(p: LoginParams<Sink>, now: number): Promise<SinkSession> {
    const rec: SessionRecord = { s: p.sessionId, u: p.userID, p: p.platform, n: p.instanceId, tt: p.ticketTime, ip: p.sink.remoteAddress, t: now };
    this.localSinks.set(p.sessionId, p.sink);
    const done = this.submit<SinkSession | null>({ k: 'login', ...rec }, now, { op: 'set', args: [rec.s, JSON.stringify(rec)] });
    return done.then(
      (s) => {
        if (!s) throw new PresentlyError(ErrorCode.INTERNAL_ERROR, 'session already exists');
        return s;
      },
      (err: unknown) => {
        this.localSinks.delete(p.sessionId);
        throw err;
      },
    );
  }

  logout(s: SinkSession, now: number): Promise<void> {
    return this.submit<void>({ k: 'logout', s: s.id }, now, { op: 'del', args: [s.id] });
  }

  disconnect(s: SinkSession, reason: DisconnectReason): void {
    // A leaving node keeps its sessions for the grace period (its `drain` entry).
    if (this.node.leaving) return;
    this.submitQuiet({ k: 'disc', s: s.id, r: reason }, { op: 'del', args: [s.id] });
  }

  setCustomStatus(s: SinkSession, value: string | null | undefined, now: number): Promise<UserStatusInfo> {
    return this.submit({ k: 'custom', s: s.id, v: value ?? null }, now);
  }

  getUserStatus(s: SinkSession, ids: string[], now: number): Promise<StatusReply> {
    return this.submit({ k: 'get', s: s.id, ids }, now);
  }

  subscribe(s: SinkSession, ids: string[], now: number): Promise<FailuresReply> {
    return this.submit({ k: 'sub', s: s.id, ids }, now);
  }

  unsubscribe(s: SinkSession, ids: string[] | undefined, now: number): Promise<FailuresReply> {
    return this.submit({ k: 'unsub', s: s.id, ids: ids ?? null }, now);
  }

  /** S23, from this node's replica (like any read that takes no rate budget from the log). */
  sync(s: SinkSession, now: number): UserStatusInfo[] {
    return this.engine.sync(s, now);
  }

  rest(command: string, body: unknown, now: number): Promise<RestReply> {
    // A read goes through the log (it sees every change acknowledged before it, on any node);
    // while Redis is unreachable it answers from this node's copy (as of the last entry applied).
    const local = READ_ONLY_COMMANDS.has(command) ? () => runCommand({ engine: this.engine, now: Date.now() }, command, body) : undefined;
    return this.submit({ k: 'rest', c: command, b: body }, now, undefined, local);
  }

  updateSettings(next: AppSettings): void {
    this.engine.updateSettings(next);
    this.submitQuiet({ k: 'settings', v: next }, { op: '', args: [] });
  }

  /** Time is the leader's `tick` entries' business (node.ts). */
  tick(): void {}
}
