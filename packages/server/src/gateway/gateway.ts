/**
 * The gateway: owns the WebSocket connections of this process and carries out what the engines
 * ask (deliver, kick, persist). Pushes are batched per socket and sent once per event-loop turn.
 */
import type { Logger } from 'pino';
import type { WebSocket } from 'ws';
import { CloseCode, ErrorCode, PresentlyError } from '@presently/protocol';
import { AppEngine } from '../engine/engine.js';
import type { StatusChange } from '../engine/types.js';
import type { AppSettings } from '../config/settings.js';
import type { ServerOptions } from '../config/server-options.js';
import type { DurableStore } from '../store/types.js';
import { ConnList, Connection, pushFrameText } from './connection.js';
import { ConnectionCounter, LoginGuard } from './guards.js';
import { ClientAddresses } from '../net/client-address.js';
import { WebhookDispatcher } from '../webhooks/dispatcher.js';
import { outboxFor } from '../webhooks/outbox.js';
import { LocalDriver, type AppDriver } from './driver.js';
import type { Engine, Sink } from './sink.js';
import type { ClusterNode } from '../cluster/node.js';
import type { ClusterApp } from '../cluster/replica.js';
import type { V2Node } from '../cluster/v2/node.js';

/**
 * How long a request waits for the store to commit its facts before it is answered with 70500
 * (docs/limits.md): a full disk or an unreachable database must not leave clients without a reply.
 */
export const STORE_REPLY_TIMEOUT_MS = 5000;

export class Gateway {
  /** Each app's state on this node (reads), and how it is changed (one process or a cluster). */
  readonly engines = new Map<number, Engine>();
  readonly drivers = new Map<number, AppDriver>();
  readonly connections = new Set<Connection>();
  private readonly pendingLogin: ConnList;
  /**
   * Logged-in connections by heartbeat timeout: a session keeps the timeout it was told at login
   * (S5) even if the app's setting changes later; one list per distinct timeout in use.
   */
  private readonly liveLists = new Map<number, ConnList>();
  /** Failed logins (WebSocket and REST) per source address: 70050 past the limit. */
  readonly loginGuard: LoginGuard;
  /** The client address of a request: the TCP peer, or what trusted proxies say (trustedProxies). */
  readonly clientAddresses: ClientAddresses;
  /** Open connections per source address (maxConnectionsPerIp). */
  private readonly perIp: ConnectionCounter;
  private lastPrune = 0;
  /** The store's health at the last sweep (its changes are logged once each). */
  private storeHealthy = true;
  private dirty: Connection[] = [];
  private flushScheduled = false;
  /** Push frames made this turn, by change (pushFrame); emptied after each flush. */
  private readonly frames = new Map<StatusChange, Buffer>();
  private sweepTimer: NodeJS.Timeout | null = null;
  /** Prefix of this process's session ids (the cluster's node key when there is one). */
  get nodeId(): string {
    return this.cluster?.key ?? this.v2?.key ?? this.localId;
  }
  private readonly localId: string;
  /** State.StateChange callbacks (docs/webhooks.md); fed by each engine's `event` port. */
  readonly webhooks: WebhookDispatcher<Sink>;
  /** `watchAll` streams per app (the console's live view). */
  private readonly watchers = new Map<number, Set<Connection>>();
  /** This process is a node of a cluster (either design): every request may wait on Redis. */
  readonly clustered: boolean;
  /** Counters for /metrics and the logs. */
  readonly stats = { notifications: 0, heartbeatTimeouts: 0, loginTimeouts: 0 };

  constructor(
    readonly options: ServerOptions,
    readonly store: DurableStore,
    readonly log: Logger,
    /** This process as a cluster node (REDIS_URL); null on its own. */
    readonly cluster: ClusterNode | null = null,
    /** This process as a node of cluster v2 (docs/cluster.md, "Cluster v2"); null otherwise. */
    readonly v2: V2Node | null = null,
  ) {
    this.clustered = cluster !== null || v2 !== null;
    this.localId = Math.random().toString(36).slice(2, 8);
    this.pendingLogin = new ConnList(options.loginTimeoutMs, 'opened');
    this.loginGuard = new LoginGuard(options.maxLoginFailuresPerMinute);
    this.clientAddresses = new ClientAddresses(options.trustedProxies);
    this.perIp = new ConnectionCounter(options.maxConnectionsPerIp);
    this.webhooks = new WebhookDispatcher<Sink>({
      backend: outboxFor(store),
      settingsOf: (app) => this.engines.get(app)?.settings,
      remoteAddressOf: (c) => c.remoteAddress,
      log: log.child({ component: 'webhooks' }),
      allowNetworks: options.webhookAllowNetworks,
      // Checked with the other variables at start-up (config/load.ts); none: the defaults.
      options: options.webhookTuning,
    });
  }

  /**
   * Adds an app, loading its durable state (and, in a cluster, joining its command log). In a
   * cluster every node applies every change: facts are persisted and webhook events written only
   * by the node the change came from, and each node delivers only to its own sockets.
   */
  async addApp(settings: AppSettings): Promise<AppDriver> {
    if (this.v2) return this.addV2App(settings, this.v2);
    let replica: ClusterApp | null = null;
    const origin = (): boolean => replica === null || replica.applyingLocal;
    // A session of ours ended by someone else's entry (a kick, a newer login) leaves the registry.
    const ended = (sink: Sink): void => {
      const sid = sink.session?.id;
      if (replica && sid !== undefined && sink.node === '') replica.localEnded(sid);
    };
    const engine: Engine = new AppEngine<Sink>(settings, {
      deliver: (sink: Sink, change: StatusChange) => {
        if (sink.node === '') this.stats.notifications++;
        sink.deliver(change);
      },
      kick: (sink, type) => {
        ended(sink);
        sink.kick(type);
      },
      replaced: (sink) => {
        ended(sink);
        sink.session = null;
        sink.close(CloseCode.NORMAL, 'replaced by a newer login of the same client');
      },
      persist: (m) => {
        if (!origin()) return;
        // An account row carries the log position of its entry: see SqlStore's account upsert.
        this.store.persist(replica && m.t === 'account' ? { ...m, v: replica.version } : m);
      },
      // The dispatcher reads this engine's current settings.
      event: (e) => {
        if (origin()) this.webhooks.onEvent(engine.settings, e);
      },
      announced: (change) => this.toWatchers(engine, change),
    });
    let driver: AppDriver;
    if (this.cluster) {
      replica = await this.cluster.addApp({ engine, store: this.store });
      driver = replica;
    } else {
      engine.load(await this.store.loadApp(settings.SDKAppID), Date.now());
      driver = new LocalDriver(engine);
    }
    this.engines.set(settings.SDKAppID, engine);
    this.drivers.set(settings.SDKAppID, driver);
    return driver;
  }

  /** An app on cluster v2: the node's view of the users it needs, over per-user records in Redis. */
  private async addV2App(settings: AppSettings, node: V2Node): Promise<AppDriver> {
    const { store } = this;
    if (!store.loadUsers) throw new Error('cluster v2 needs a store that loads users one by one (SQL)');
    const driver = await node.addApp({
      settings,
      store: store as DurableStore & { loadUsers: NonNullable<DurableStore['loadUsers']> },
      log: this.log,
      onEvent: (engine, e) => this.webhooks.onEvent(engine.settings, e),
      onDelivered: () => this.stats.notifications++,
    });
    this.engines.set(settings.SDKAppID, driver.engine);
    this.drivers.set(settings.SDKAppID, driver);
    return driver;
  }

  /** A connection became a `watchAll` stream of its app. */
  watch(conn: Connection): void {
    if (!conn.watcher) return;
    let set = this.watchers.get(conn.watcher.app);
    if (!set) {
      set = new Set();
      this.watchers.set(conn.watcher.app, set);
    }
    set.add(conn);
  }

  unwatch(conn: Connection): void {
    if (!conn.watcher) return;
    const set = this.watchers.get(conn.watcher.app);
    set?.delete(conn);
    if (set?.size === 0) this.watchers.delete(conn.watcher.app);
  }

  /**
   * Every announced change of an app goes to its watchers. A watcher whose user is no longer an
   * admin, or whose ticket was invalidated by a kick (S28), is closed instead: rights are checked
   * on each change, not only when the stream started.
   */
  private toWatchers(engine: Engine, change: StatusChange): void {
    const set = this.watchers.get(engine.app);
    if (!set) return;
    for (const c of set) {
      const w = c.watcher;
      if (!w || !engine.settings.admins.includes(w.userID) || engine.ticketInvalidated(w.userID, w.ticketTime)) {
        c.close(CloseCode.KICKED, 'admin rights revoked');
        continue;
      }
      c.deliver(change);
    }
  }

  accept(ws: WebSocket, remoteAddress: string): void {
    if (!this.perIp.acquire(remoteAddress)) {
      ws.close(CloseCode.TOO_MANY_CONNECTIONS, 'too many connections from this address');
      return;
    }
    ws.once('close', () => this.perIp.release(remoteAddress));
    const conn = new Connection(ws, this, remoteAddress);
    this.connections.add(conn);
    this.pendingLogin.add(conn);
    ws.on('message', (data: Buffer, isBinary: boolean) => conn.onMessage(data, isBinary));
    ws.on('close', () => conn.onClose('close'));
    ws.on('error', (err) => {
      this.log.debug({ err, conn: conn.id }, 'socket error');
      conn.onClose('close');
    });
  }

  /** A connection logged in: from now on it must heartbeat within `timeoutMs` (told at login). */
  track(conn: Connection, timeoutMs: number): void {
    conn.list?.remove(conn);
    let list = this.liveLists.get(timeoutMs);
    if (!list) {
      list = new ConnList(timeoutMs);
      this.liveLists.set(timeoutMs, list);
    }
    list.add(conn);
  }

  untrack(conn: Connection): void {
    conn.list?.remove(conn);
  }

  markDirty(conn: Connection): void {
    this.dirty.push(conn);
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    setImmediate(() => this.flush());
  }

  private flush(): void {
    this.flushScheduled = false;
    const conns = this.dirty;
    this.dirty = [];
    for (const c of conns) c.flushOutbox();
    this.frames.clear();
  }

  /**
   * The push frame of one change as UTF-8 bytes, made once and sent to every session that gets
   * this change alone in this turn (instead of encoding the same text once per socket).
   */
  pushFrame(change: StatusChange): Buffer {
    let f = this.frames.get(change);
    if (f === undefined) {
      f = Buffer.from(pushFrameText([change]));
      this.frames.set(change, f);
    }
    return f;
  }

  /** Starts the liveness sweep (S5), the login deadline and subscription expiry (S19). */
  start(sweepEveryMs = 250): void {
    this.sweepTimer = setInterval(() => this.sweep(Date.now()), sweepEveryMs);
    this.sweepTimer.unref();
    this.cluster?.start();
    this.v2?.start();
    this.webhooks.start();
  }

  /** This node was declared down by the cluster: every client reconnects (to any node). */
  evictAll(): void {
    for (const c of [...this.connections]) c.close(CloseCode.SERVER_RESTART, 'node rejoining the cluster');
  }

  /**
   * Resolves once everything queued so far is durable, or rejects with 70500 after
   * STORE_REPLY_TIMEOUT_MS: a request whose facts the store cannot commit (a full disk, the
   * database down) is answered promptly with an error instead of never. The write is not dropped:
   * the store keeps retrying it, so the request may still take effect later; it was not
   * acknowledged.
   */
  durable(): Promise<void> {
    const flushed = this.store.flush();
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        const cause = this.store.lastError?.()?.message ?? 'no answer';
        reject(new PresentlyError(ErrorCode.INTERNAL_ERROR, `the store did not confirm the write within ${STORE_REPLY_TIMEOUT_MS} ms (${cause}); it is retried, try again later`));
      }, STORE_REPLY_TIMEOUT_MS);
    });
    return Promise.race([flushed, timeout]).finally(() => clearTimeout(timer));
  }

  /**
   * Null while the store commits; otherwise the 70500 a request that writes gets at once, before
   * anything is applied: while writes are failing (or one has gone unconfirmed for
   * STORE_REPLY_TIMEOUT_MS), a login, a subscription or a REST write would be seen by others
   * and then not be acknowledged. Requests that end sessions (logout, disconnects) are never
   * refused: a refused logout would leave a ghost; their writes are retried.
   */
  writesRefused(now = Date.now()): PresentlyError | null {
    if (this.store.healthy() && (this.store.unconfirmedFor?.(now) ?? 0) < STORE_REPLY_TIMEOUT_MS) return null;
    const cause = this.store.lastError?.()?.message ?? `no commit for ${STORE_REPLY_TIMEOUT_MS} ms`;
    return new PresentlyError(ErrorCode.INTERNAL_ERROR, `the store cannot commit writes now (${cause}); nothing was changed, try again later`);
  }

  /** Logs the store's failures once when they start, with their cause, and once when they clear. */
  private watchStore(): void {
    const healthy = this.store.healthy();
    if (healthy === this.storeHealthy) return;
    this.storeHealthy = healthy;
    if (healthy) this.log.info('store writes succeed again; the writes held meanwhile are committed');
    else this.log.error({ cause: this.store.lastError?.()?.message ?? 'unknown' }, 'store writes fail; they are retried, and requests needing them get 70500');
  }

  sweep(now: number): void {
    this.watchStore();
    for (const c of this.pendingLogin.expired(now)) {
      this.stats.loginTimeouts++;
      c.close(CloseCode.LOGIN_TIMEOUT, 'login timeout');
    }
    for (const [timeoutMs, list] of this.liveLists) {
      for (const c of list.expired(now)) {
        this.stats.heartbeatTimeouts++;
        this.log.debug({ conn: c.id, timeoutMs }, 'heartbeat timeout');
        // A silent peer will not answer a close handshake: drop the socket, then the session (S5).
        c.ws.terminate();
        c.onClose('timeout');
      }
      if (list.size === 0) this.liveLists.delete(timeoutMs);
    }
    for (const driver of this.drivers.values()) driver.tick(now);
    if (now - this.lastPrune > 60_000) {
      this.lastPrune = now;
      this.loginGuard.prune(now);
    }
  }

  /**
   * Closes every socket with `code` (e.g. SERVER_RESTART), stops the sweep and webhook delivery
   * (events, such as these sockets' disconnects, are still written until `drain`).
   */
  closeAll(code: number, reason: string): void {
    if (this.sweepTimer) clearInterval(this.sweepTimer);
    this.webhooks.stopDelivery();
    this.flush();
    for (const c of [...this.connections]) {
      c.ws.close(code, reason);
    }
  }

  /** Stops webhook delivery and writes every queued webhook event; call before the store closes. */
  drain(): Promise<void> {
    return this.webhooks.close();
  }
}
