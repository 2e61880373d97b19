/**
 * This process as one node of a cluster (REDIS_URL): leases, dead-node detection, leaving
 * gracefully, and resynchronising after Redis comes back. The apps' replicas are in replica.ts.
 *
 * - Lease: `lease:<node>` is renewed every lease/5. A node whose lease is gone is declared down
 *   by the first survivor that sees it (once: a marker per app); every replica ends its sessions.
 *   A node only judges others after holding its own lease for a full lease period since it
 *   (re)connected, so a Redis restart that drops every lease does not make nodes judge each other.
 * - Unreachable: the connection is down, or Redis has not answered a lease renewal for half a
 *   lease (it froze, or the network drops packets without closing the connection). Requests that
 *   wait for the log are answered then (70500; REST reads from this node's memory), new ones at
 *   once, and `/readyz` says 503, until Redis answers again.
 * - Node key: `<nodeId>.<incarnation>`. A node restarted with the same id declares its previous
 *   incarnation down at once, so nothing of it comes back. A node that finds itself declared down
 *   (it lost Redis for longer than its lease) closes its sockets with 4010 and takes a new key.
 * - Leaving (SIGTERM): a `drain` entry keeps the node's sessions ONLINE for the grace period while
 *   their clients reconnect elsewhere; then the node is declared down like a dead one.
 * - Leader: one node (the `leader` key) appends the `tick` entries (time-based rules).
 */
import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import { APPEND, connectRedis, createRedis, DOWN, LEAD, RedisKeys, type RedisClient } from './redis.js';
import type { Entry, EntryBody } from './entries.js';
import { ClusterApp, type ClusterAppInit } from './replica.js';

export interface ClusterOptions {
  redisUrl: string;
  prefix: string;
  nodeId: string | undefined;
  leaseMs: number;
  drainGraceMs: number;
  log: Logger;
  /** How often the leader appends a tick, ms. */
  tickMs?: number;
  /** Entries a log keeps (about: Redis trims whole blocks); a node further behind must restart. */
  logMaxLen: number;
  /** A node that finds itself declared down: close every socket (clients reconnect). */
  onEvicted: () => void;
  /**
   * This node's replica missed log entries (it fell behind further than the log keeps): it can
   * no longer be trusted and the process should end (a supervisor starts it again, fresh).
   */
  onFatal?: (reason: string) => void;
}

interface Scripts {
  presentlyAppend(...keysThenArgs: string[]): Promise<unknown>;
  presentlyDown(...keysThenArgs: string[]): Promise<unknown>;
}

export class ClusterNode {
  readonly keys: RedisKeys;
  readonly redis: RedisClient;
  readonly nodeId: string;
  key: string;
  private readonly apps = new Map<number, ClusterApp>();
  /** Leaving nodes and when their grace ends (from `drain` entries). */
  readonly drains = new Map<string, number>();
  /** Nodes declared down (their late entries are ignored). */
  readonly downNodes = new Set<string>();
  private connected = false;
  private connectedSince = 0;
  /** When the oldest unanswered lease renewal was sent, ms (0: none outstanding). */
  private probeSince = 0;
  /** Redis has not answered a lease renewal for `silenceMs`, though the connection is open. */
  private silent = false;
  private readonly silenceMs: number;
  private resyncing = false;
  private leader = false;
  leaving = false;
  private timers: NodeJS.Timeout[] = [];
  private stopped = false;
  /** Redis commands sent by this node (for the capacity figures, /metrics). */
  readonly counters = { appends: 0, reads: 0, entriesApplied: 0 };

  constructor(readonly opts: ClusterOptions) {
    this.keys = new RedisKeys(opts.prefix);
    this.nodeId = opts.nodeId ?? randomBytes(4).toString('hex');
    this.key = `${this.nodeId}.${randomBytes(3).toString('hex')}`;
    this.redis = createRedis(opts.redisUrl, `presently-${this.key}`);
    // Sent as EVALSHA (ioredis loads a script once and falls back to EVAL when Redis lost it).
    this.redis.defineCommand('presentlyAppend', { numberOfKeys: 3, lua: APPEND });
    this.redis.defineCommand('presentlyDown', { numberOfKeys: 4, lua: DOWN });
    this.redis.on('error', (err: Error) => opts.log.debug({ err: err.message }, 'redis error'));
    this.silenceMs = Math.max(250, Math.floor(opts.leaseMs / 2));
  }

  /** The scripts defined on the client (typed view of ioredis' defineCommand). */
  private get scripts(): Scripts {
    return this.redis as unknown as Scripts;
  }

  get log(): Logger {
    return this.opts.log;
  }

  /** Ready for clients: Redis connected, resynchronised, every app's reader running. */
  healthy(): boolean {
    if (!this.reachable() || this.resyncing) return false;
    for (const a of this.apps.values()) if (!a.readerHealthy()) return false;
    return true;
  }

  /** Whether Redis can take the log's commands now: connected and answering. */
  reachable(): boolean {
    return this.connected && !this.silent && this.redis.status === 'ready';
  }

  async connect(): Promise<void> {
    await connectRedis(this.redis);
    this.connected = true;
    this.connectedSince = Date.now();
    this.redis.on('close', () => {
      if (this.connected) this.log.warn('lost Redis; retrying');
      this.connected = false;
      this.unreachable();
    });
    this.redis.on('ready', () => {
      if (this.stopped) return;
      this.connected = true;
      this.connectedSince = Date.now();
      this.log.info('Redis is back: resynchronising this node');
      void this.resync();
    });
    await this.renewLease();
    // A previous incarnation of this node id is over: nothing of it may come back. Each app's
    // join ends its sessions (`isDeadAtJoin`); the node set forgets it once every app has.
    const nodes = await this.redis.smembers(this.keys.nodes());
    for (const k of nodes) if (k !== this.key && k.startsWith(`${this.nodeId}.`)) this.previous.add(k);
  }

  /** Earlier incarnations of this node id, found at start. */
  private readonly previous = new Set<string>();

  /**
   * Whether a node of the node set is dead for a joining app: an earlier incarnation of this
   * node, or a node without a lease (it died while no survivor was there to see it). Such a node's
   * registry is not loaded, and a `down` entry ends its sessions for the nodes that have them.
   */
  async isDeadAtJoin(app: number, n: string): Promise<boolean> {
    if (!this.previous.has(n) && (await this.redis.exists(this.keys.lease(n))) === 1) return false;
    await this.downIn(app, n);
    return true;
  }

  async addApp(init: Omit<ClusterAppInit, 'node'>): Promise<ClusterApp> {
    const app = new ClusterApp({ ...init, node: this });
    this.apps.set(init.engine.app, app);
    await app.join();
    return app;
  }

  start(): void {
    if (this.previous.size > 0) void this.redis.srem(this.keys.nodes(), ...this.previous).catch(() => undefined);
    const every = Math.max(100, Math.floor(this.opts.leaseMs / 5));
    const lease = setInterval(() => {
      this.watchSilence();
      void this.heartbeat().catch((err: unknown) => this.log.debug({ err }, 'lease round failed'));
    }, every);
    const tick = setInterval(() => void this.tick(), this.opts.tickMs ?? 250);
    lease.unref();
    tick.unref();
    this.timers.push(lease, tick);
  }

  /** Appends one entry to an app's log (the registry op with it: see redis.ts APPEND). */
  async append(app: number, entry: Entry, reg: { op: '' | 'set' | 'del' | 'reset'; args: string[] }, node = this.key): Promise<void> {
    this.counters.appends++;
    await this.scripts.presentlyAppend(this.keys.log(app), this.keys.live(app, node), this.keys.seq(app), JSON.stringify(entry), String(this.opts.logMaxLen), reg.op, ...reg.args);
  }

  private async renewLease(): Promise<void> {
    const pipe = this.redis.multi();
    pipe.set(this.keys.lease(this.key), String(Date.now()), 'PX', this.opts.leaseMs);
    pipe.sadd(this.keys.nodes(), this.key);
    if (this.probeSince === 0) this.probeSince = Date.now();
    try {
      await pipe.exec();
    } finally {
      this.probeSince = 0;
    }
    if (this.silent) {
      this.silent = false;
      // Like a reconnection: leases are judged again only after a full period of our own.
      this.connectedSince = Date.now();
      this.log.info('Redis answers again');
    }
  }

  /**
   * A lease renewal unanswered for `silenceMs`: Redis is unreachable though the connection is
   * open. Checked again after this turn's I/O, so a reply that waited behind a busy event loop
   * of ours does not count as silence.
   */
  private watchSilence(): void {
    const silentFor = (): boolean => this.probeSince !== 0 && Date.now() - this.probeSince >= this.silenceMs;
    if (this.silent || this.stopped || !silentFor()) return;
    setImmediate(() => {
      if (this.silent || this.stopped || !silentFor()) return;
      this.silent = true;
      this.log.warn({ silentMs: Date.now() - this.probeSince }, 'Redis does not answer; requests that need the command log get 70500 until it does');
      this.unreachable();
    });
  }

  /** Redis cannot take commands now: every app answers the requests waiting for the log. */
  private unreachable(): void {
    for (const a of this.apps.values()) a.unreachable();
  }

  /** One lease round: renew, lead, judge the others. */
  private async heartbeat(): Promise<void> {
    // A round still waiting for Redis is not stacked upon (a frozen Redis would pile them up).
    if (this.stopped || this.leaving || !this.connected || this.probeSince !== 0) return;
    await this.renewLease();
    for (const a of this.apps.values()) a.reapClosed();
    this.leader = (await this.redis.eval(LEAD, 1, this.keys.leader(), this.key, String(this.opts.leaseMs))) === 1;
    // Judge only after holding our own lease for a full period since (re)connecting.
    const now = Date.now();
    if (this.resyncing || now - this.connectedSince < this.opts.leaseMs) return;
    const candidates = new Set(await this.redis.smembers(this.keys.nodes()));
    for (const a of this.apps.values()) for (const n of a.nodesWithSessions()) candidates.add(n);
    for (const n of this.drains.keys()) candidates.add(n);
    candidates.delete(this.key);
    for (const n of candidates) {
      const until = this.drains.get(n);
      if (until !== undefined) {
        if (now >= until) await this.declareDown(n);
        continue;
      }
      if ((await this.redis.exists(this.keys.lease(n))) === 0) await this.declareDown(n);
    }
  }

  private async declareDown(n: string): Promise<void> {
    this.log.warn({ node: n }, 'node is gone: ending its sessions');
    for (const app of this.apps.keys()) await this.downIn(app, n);
    await this.redis.srem(this.keys.nodes(), n);
  }

  /** Appends `down` for node `n` to one app's log, unless a survivor already did. */
  private async downIn(app: number, n: string): Promise<void> {
    const entry: Entry = { k: 'down', node: n, o: this.key, i: 0, t: Date.now() };
    this.counters.appends++;
    await this.scripts.presentlyDown(this.keys.log(app), this.keys.live(app, n), this.keys.down(app, n), this.keys.seq(app), JSON.stringify(entry), String(this.opts.logMaxLen));
  }

  private async tick(): Promise<void> {
    if (!this.leader || this.stopped || this.leaving || !this.healthy()) return;
    const now = Date.now();
    for (const a of this.apps.values()) {
      try {
        await this.append(a.app, { k: 'tick', o: this.key, i: 0, t: now }, { op: '', args: [] });
      } catch {
        return; // Redis is down: the next round tries again
      }
    }
  }

  /**
   * Redis came back (maybe empty): re-register this node, put its sessions back in the registry
   * and tell every replica which sessions it holds, so a disconnect or login lost meanwhile is
   * mended (a `sync` entry per app).
   */
  private async resync(): Promise<void> {
    if (this.resyncing) return;
    this.resyncing = true;
    try {
      for (;;) {
        try {
          await this.renewLease();
          for (const a of this.apps.values()) await a.resync();
          break;
        } catch (err) {
          this.log.debug({ err }, 'resync failed; retrying');
          if (this.stopped) return;
          await new Promise((r) => setTimeout(r, 200));
        }
      }
      this.connectedSince = Date.now();
    } finally {
      this.resyncing = false;
    }
  }

  /** This node can no longer follow the log. */
  fatal(reason: string): void {
    this.log.fatal({ reason }, 'this node missed entries of the command log');
    this.opts.onFatal?.(reason);
  }

  /** An entry declared this node down: its sockets close (clients come back) under a new key. */
  evicted(): void {
    if (this.leaving) return;
    const old = this.key;
    this.key = `${this.nodeId}.${randomBytes(3).toString('hex')}`;
    this.log.warn({ old, key: this.key }, 'this node was declared down: closing its sockets, rejoining under a new key');
    this.opts.onEvicted();
    void this.renewLease().catch(() => undefined);
  }

  /** SIGTERM: every app's log hears this node leaves; its sessions stay for the grace period. */
  async drain(): Promise<void> {
    const until = Date.now() + this.opts.drainGraceMs;
    const body: EntryBody = { k: 'drain', node: this.key, until };
    for (const a of this.apps.keys()) {
      try {
        await this.append(a, { ...body, o: this.key, i: 0, t: Date.now() }, { op: '', args: [] });
      } catch (err) {
        this.log.warn({ err }, 'could not announce the drain; survivors will find this node by its lease');
      }
    }
    this.leaving = true;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const t of this.timers) clearInterval(t);
    for (const a of this.apps.values()) a.stop();
    try {
      if (this.leader) await this.redis.del(this.keys.leader());
    } catch {
      /* Redis is down: the key expires */
    }
    this.redis.disconnect();
  }
}
