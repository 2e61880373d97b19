/**
 * Cluster v2: this process as a node (docs/cluster.md, "Cluster v2"). It holds the Redis clients
 * (commands, and the sharded subscriber), the per-user records, the interest router, and its apps;
 * each message on a channel goes to the app it belongs to.
 *
 * Leases: every node renews `lease:<key>` (PX = the lease) every lease/5 and is listed in the node
 * set. The first node to find another's lease gone claims it once (`down:<key>`, SET NX) and ends
 * that node's sessions, user by user (app.ts `endNode`): its users go OFFLINE for every watcher
 * within the lease plus one round. Expiry is Redis's clock, not the nodes'. A node that finds
 * itself claimed (it lost Redis for longer than its lease) closes its sockets (their clients log
 * in again) and goes on under a new key.
 */
import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import { connectRedis, createRedis, type RedisClient } from '../redis.js';
import { Interest } from './interest.js';
import { UserKeys, UserRecords } from './records.js';
import { V2App, type V2AppInit } from './app.js';

export interface V2NodeOptions {
  redisUrl: string;
  /** Prefix of every key and channel (PRESENTLY_REDIS_PREFIX). */
  prefix: string;
  /** The node's stable name (PRESENTLY_NODE_ID); its key adds an incarnation. */
  nodeId?: string;
  /** PRESENTLY_LEASE_MS. @default 5000 */
  leaseMs?: number;
  log: Logger;
  /** This node was declared dead: its sockets must close (gateway.evictAll). */
  onEvicted?: () => void;
}

export class V2Node {
  readonly records: UserRecords;
  readonly interest: Interest;
  readonly keys: UserKeys;
  readonly leaseMs: number;
  private readonly nodeId: string;
  private current: string;
  private readonly cmd: RedisClient;
  private readonly sub: RedisClient;
  private readonly apps = new Map<number, V2App>();
  private timer: NodeJS.Timeout | null = null;
  /** Since when this node's lease renewals have succeeded without a break (ms). */
  private holdingSince: number | null = null;
  private round: Promise<void> | null = null;
  /** Nodes claimed by this node (tests and metrics). */
  readonly counters = { nodesEnded: 0, evictions: 0 };

  constructor(private readonly opts: V2NodeOptions) {
    this.nodeId = opts.nodeId ?? randomBytes(4).toString('hex');
    this.current = this.incarnation();
    this.leaseMs = opts.leaseMs ?? 5000;
    this.keys = new UserKeys(opts.prefix);
    // A frozen Redis (or a silent network) keeps the connection open: a command that gets no
    // answer fails after a fraction of the lease, and the request that needed it gets 70500.
    this.cmd = createRedis(opts.redisUrl, `presently-${this.nodeId}`, { commandTimeoutMs: Math.max(200, Math.floor((opts.leaseMs ?? 5000) / 2)) });
    this.sub = createRedis(opts.redisUrl, `presently-${this.nodeId}-sub`, { sharded: true });
    for (const c of [this.cmd, this.sub]) {
      c.on('error', (err: Error) => opts.log.debug({ err: err.message }, 'redis error'));
      // A lost connection may have lost messages, or Redis its data: not ready until recovered.
      c.on('close', () => (this.needsRecovery = true));
    }
    this.records = new UserRecords(this.cmd, this.keys);
    this.interest = new Interest(this.sub, {
      message: (m) => {
        const at = this.keys.parseChannel(m.channel);
        const app = at && this.apps.get(at.app);
        if (!app) return;
        if (at.userID === '') app.onAppMessage(m.n, m.body);
        else app.onMessage(at.userID, m.body);
      },
      gap: (channel) => {
        const at = this.keys.parseChannel(channel);
        if (at && at.userID !== '')
          this.apps
            .get(at.app)
            ?.onGap(at.userID)
            .catch((err: unknown) => opts.log.debug({ err }, 'cluster v2: reading a record after a gap failed'));
      },
      // Changes may have been missed while away; if Redis lost its data, sessions are written back first.
      reconnected: () => void this.recover(),
    });
  }

  /** `<nodeId>.<incarnation>`: the node of this process's sessions in the records. */
  get key(): string {
    return this.current;
  }

  private incarnation(): string {
    return `${this.nodeId}.${randomBytes(3).toString('hex')}`;
  }

  async connect(): Promise<void> {
    await Promise.all([connectRedis(this.cmd), connectRedis(this.sub)]);
    await this.cmd.set(this.keys.epoch(), randomBytes(8).toString('hex'), 'NX');
    this.epoch = await this.cmd.get(this.keys.epoch());
    await this.renew();
  }

  /** The Redis dataset this node's records belong to (see RedisKeys.epoch). */
  private epoch: string | null = null;
  /** Writing this node's sessions back after Redis lost them (/readyz says 503 meanwhile). */
  private resyncing = false;
  /** A connection to Redis was lost since the last recovery (/readyz says 503 until it ran). */
  private needsRecovery = false;
  private recovering: Promise<void> | null = null;

  /**
   * After a reconnection: if Redis lost its data (no epoch, or another one), the announcement
   * numbers start again and every app writes this node's sessions back (app.ts resync); then
   * every watcher here hears the current status of everyone it watches.
   */
  recover(): Promise<void> {
    this.recovering ??= (async () => {
      try {
        await this.cmd.set(this.keys.epoch(), randomBytes(8).toString('hex'), 'NX');
        const epoch = await this.cmd.get(this.keys.epoch());
        const lostData = epoch !== this.epoch;
        this.resyncing = true;
        if (lostData) {
          this.epoch = epoch;
          this.opts.log.warn('cluster v2: Redis lost its data; this node writes its sessions back');
          this.interest.forgetNumbers();
          await this.renew();
        }
        const now = Date.now();
        for (const app of this.apps.values()) await app.resync(now, lostData);
        for (const app of this.apps.values()) await app.onReconnected();
        this.needsRecovery = false;
      } catch (err) {
        this.opts.log.debug({ err }, 'cluster v2: recovery round failed; it runs again');
        this.epoch = null; // checked again at the next round
      } finally {
        this.resyncing = false;
        this.recovering = null;
      }
    })();
    return this.recovering;
  }

  /**
   * Ends the sessions of this node id's earlier incarnations at once (a node restarted with its
   * PRESENTLY_NODE_ID after a crash): nothing of them can still be alive. Call once the apps are added.
   */
  async endEarlierIncarnations(): Promise<void> {
    for (const k of await this.cmd.smembers(this.keys.nodes())) {
      if (k !== this.current && k.startsWith(`${this.nodeId}.`)) await this.claim(k, 'an earlier incarnation of this node');
    }
  }

  /** Starts renewing the lease and watching the others'. */
  start(): void {
    this.timer = setInterval(
      () => {
        this.round ??= this.tick().finally(() => (this.round = null));
      },
      Math.max(50, Math.floor(this.leaseMs / 5)),
    );
    this.timer.unref();
  }

  async addApp(init: Omit<V2AppInit, 'node' | 'records' | 'interest' | 'redis' | 'liveNodes' | 'reachable'>): Promise<V2App> {
    const app = new V2App({
      ...init,
      node: () => this.current,
      records: this.records,
      interest: this.interest,
      redis: this.cmd,
      liveNodes: () => this.liveNodes(),
      reachable: () => this.healthy(),
    });
    this.apps.set(init.settings.SDKAppID, app);
    await this.interest.add(this.keys.appChannel(init.settings.SDKAppID));
    return app;
  }

  /** Nodes whose lease is current. */
  async liveNodes(): Promise<string[]> {
    const all = await this.cmd.smembers(this.keys.nodes());
    if (all.length === 0) return [];
    const alive = await this.cmd.mget(...all.map((k) => this.keys.lease(k)));
    return all.filter((_, i) => alive[i] !== null);
  }

  /** True while Redis answers and no resync runs (/readyz). */
  healthy(): boolean {
    return this.reachable() && this.sub.status === 'ready' && !this.resyncing && !this.needsRecovery;
  }

  /**
   * Whether Redis answers: connected, and the last lease round got its replies (a frozen Redis
   * keeps the connection open; its silence shows as a round that timed out). While false,
   * requests are refused at once without being sent.
   */
  reachable(): boolean {
    return this.cmd.status === 'ready' && !this.silent;
  }

  /** The last lease round failed; logged once each way. */
  private silent = false;

  private setSilent(silent: boolean, err?: unknown): void {
    if (silent === this.silent) return;
    this.silent = silent;
    if (silent) this.opts.log.error({ err }, 'cluster v2: Redis does not answer; requests get 70500 until it does');
    else this.opts.log.info('cluster v2: Redis answers again');
  }

  private async renew(): Promise<void> {
    await this.cmd.multi().set(this.keys.lease(this.current), '1', 'PX', this.leaseMs).sadd(this.keys.nodes(), this.current).exec();
  }

  /** One round: this node's lease, then the others'. */
  private async tick(): Promise<void> {
    try {
      if ((await this.cmd.exists(this.keys.down(this.current))) === 1) {
        // Declared dead while away: its sessions were ended; clients log in again, under a new key.
        this.counters.evictions++;
        this.opts.log.warn({ node: this.current }, 'cluster v2: this node was declared dead; its sockets close and it goes on under a new key');
        this.current = this.incarnation();
        this.opts.onEvicted?.();
      }
      if (this.needsRecovery || (await this.cmd.get(this.keys.epoch())) !== this.epoch || [...this.apps.values()].some((a) => a.hasUnwritten())) await this.recover();
      await this.renew();
      this.setSilent(false);
      this.holdingSince ??= Date.now();
      // Back from an outage, other nodes may not have renewed yet: judge their leases only after
      // holding ours for a full lease period (a Redis that froze for everyone kills no one).
      if (Date.now() - this.holdingSince < this.leaseMs) return;
      for (const k of await this.cmd.smembers(this.keys.nodes())) {
        if (k === this.current || (await this.cmd.exists(this.keys.lease(k))) === 1) continue;
        await this.claim(k, 'its lease lapsed');
      }
    } catch (err) {
      this.holdingSince = null;
      this.setSilent(true, err);
    }
  }

  /** Ends node `k`'s sessions, once in the whole cluster (the first to claim it does it). */
  private async claim(k: string, why: string): Promise<void> {
    if ((await this.cmd.set(this.keys.down(k), '1', 'EX', 3600, 'NX')) !== 'OK') return;
    this.opts.log.warn({ node: k, why }, 'cluster v2: a node is gone; its sessions end');
    const now = Date.now();
    for (const app of this.apps.values()) await app.endNode(k, now);
    await this.cmd.srem(this.keys.nodes(), k);
    this.counters.nodesEnded++;
  }

  /**
   * SIGTERM: this node leaves. Its sessions stay as they are (their clients log in again on
   * another node, which replaces each quietly: watchers hear nothing) and its lease is set to
   * run out after `graceMs`; then a survivor ends the sessions whose clients did not come back.
   */
  async drain(graceMs: number): Promise<void> {
    for (const app of this.apps.values()) app.drain();
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.round;
    try {
      await this.cmd.set(this.keys.lease(this.current), '1', 'PX', Math.max(1, graceMs));
    } catch (err) {
      this.opts.log.warn({ err }, 'could not announce the drain; survivors will find this node by its lease');
    }
  }

  /** Stops renewing; the lease lapses unless `leave` ends this node's sessions first (a drain). */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.round;
    await this.interest.close();
    this.cmd.disconnect();
  }
}
