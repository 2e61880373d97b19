/**
 * One Presently server process: HTTP (REST admin API, health) and WebSocket on one port.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { AddressInfo, Socket } from 'node:net';
import { timingSafeEqual } from 'node:crypto';
import { WebSocketServer } from 'ws';
import { pino, type Logger } from 'pino';
import { CloseCode } from '@presently/protocol';
import { Gateway } from './gateway/gateway.js';
import type { AppSettings } from './config/settings.js';
import type { ServerOptions } from './config/server-options.js';
import { openPostgres, openSqlite } from './store/sql.js';
import type { DurableStore } from './store/types.js';
import { handleRest } from './rest/http.js';
import { ConnectionCounter } from './gateway/guards.js';
import { plainAddress } from './net/client-address.js';
import { createMetrics } from './metrics.js';
import type { Registry } from 'prom-client';
import { AppSettingsService } from './rest/settings.js';
import { appSettingsStoreFor } from './store/app-settings.js';
import { WebSite, type WebSiteOptions } from './web/site.js';
import type { ClusterNode } from './cluster/node.js';
import type { V2Node } from './cluster/v2/node.js';
import { ConfigError } from './config/settings.js';

export interface PresentlyServerInit {
  options: ServerOptions;
  apps: AppSettings[];
  logger?: Logger;
  /** Defaults to the SQLite file `presently.db` in the data directory. */
  store?: DurableStore;
  /** The console and demo pages (`/console/`, `/demo/`): where their assets are, the dev app. */
  web?: WebSiteOptions;
}

/** Largest REST body read, bytes. */
const MAX_REST_BODY = 1024 * 1024;

export class PresentlyServer {
  readonly log: Logger;
  readonly gateway: Gateway;
  private readonly metrics: Registry;
  private readonly http: Server;
  private readonly wss: WebSocketServer;
  private readonly web: WebSite;
  private ready = false;

  private constructor(
    readonly options: ServerOptions,
    readonly store: DurableStore,
    log: Logger,
    /** Run-time changes of app settings (`presently/*` REST commands). */
    readonly appSettings: AppSettingsService,
    web: WebSiteOptions = {},
    readonly cluster: ClusterNode | null = null,
    /** This process as a node of cluster v2; null otherwise. */
    readonly v2: V2Node | null = null,
  ) {
    this.log = log;
    this.gateway = new Gateway(options, store, log, cluster, v2);
    this.web = new WebSite(this.gateway, web, log);
    this.metrics = createMetrics(this.gateway);
    // A whole request (headers and body) must arrive in time: a body sent a byte at a time is cut
    // (408). The deadline is checked every second, not Node's default 30 s.
    this.http = createServer(
      {
        requestTimeout: options.httpRequestTimeoutMs,
        headersTimeout: Math.min(options.httpRequestTimeoutMs, 10_000),
        connectionsCheckingInterval: Math.min(1000, options.httpRequestTimeoutMs),
      },
      (req, res) => this.onRequest(req, res),
    );
    // ws reads at most 4x the frame limit; between the two the client gets an error frame (S32).
    this.wss = new WebSocketServer({ server: this.http, maxPayload: options.maxFrameBytes * 4, perMessageDeflate: false });
    this.wss.on('connection', (ws, req) => this.gateway.accept(ws, this.gateway.clientAddresses.of(req)));
    this.limitHttpConnections();
  }

  static async create(init: PresentlyServerInit): Promise<PresentlyServer> {
    const log = init.logger ?? pino({ level: init.options.logLevel, base: undefined });
    let store = init.store;
    if (!store && init.options.databaseUrl) {
      // Durable data in PostgreSQL (the cluster backend's store); migrations run here.
      store = await openPostgres(init.options.databaseUrl);
    } else if (!store) {
      mkdirSync(init.options.dataDir, { recursive: true });
      // Locked for this process; an existing but empty file is refused unless the operator says so.
      store = await openSqlite(join(init.options.dataDir, 'presently.db'), {
        allowEmpty: init.options.allowEmptyDb,
        warn: (message) => log.warn(message),
      });
    }
    const appSettings = new AppSettingsService(appSettingsStoreFor(store), log);
    if (!appSettings.store.durable) log.warn('the store is not SQL: app settings changed at run time last only until the process ends');
    await appSettings.migrate();
    let cluster: ClusterNode | null = null;
    let v2: V2Node | null = null;
    // A node evicted by the cluster (declared dead) closes its sockets: the gateway comes later.
    const gatewayRef: { gw?: Gateway } = {};
    const common = {
      redisUrl: init.options.redisUrl ?? '',
      prefix: init.options.redisPrefix,
      nodeId: init.options.nodeId,
      leaseMs: init.options.leaseMs,
      log: log.child({ component: 'cluster' }),
      onEvicted: () => gatewayRef.gw?.evictAll(),
    };
    // Loaded only with REDIS_URL: a single process never loads the Redis client.
    if (init.options.redisUrl && init.options.clusterDesign === 'v2') {
      // Cluster v2 (being built, docs/cluster.md): per-user records in Redis, fan-out by interest.
      if (!init.options.databaseUrl) throw new ConfigError('PRESENTLY_CLUSTER=v2 needs DATABASE_URL (PostgreSQL): nodes load users from it');
      const { V2Node } = await import('./cluster/v2/node.js');
      v2 = new V2Node(common);
      await v2.connect();
      log.info({ node: v2.key, design: 'v2' }, 'joined the cluster');
    } else if (init.options.redisUrl) {
      // Live presence and fan-out through Redis: this process is one node of a cluster.
      const { ClusterNode } = await import('./cluster/node.js');
      cluster = new ClusterNode({
        ...common,
        drainGraceMs: init.options.drainGraceMs,
        logMaxLen: init.options.logMaxLen,
        // A replica that missed entries cannot be mended in place: end, and be started afresh.
        onFatal: () => {
          gatewayRef.gw?.evictAll();
          setTimeout(() => process.exit(70), 100).unref();
        },
      });
      await cluster.connect();
      log.info({ node: cluster.key }, 'joined the cluster');
    }
    const server = new PresentlyServer(init.options, store, log, appSettings, init.web, cluster, v2);
    gatewayRef.gw = server.gateway;
    // Settings changed at run time (presently/set_app_settings) were stored; they win over the
    // config file's values for the same SDKAppID; every value never changed comes from the file.
    for (const app of init.apps) await server.gateway.addApp(await appSettings.resolve(app));
    // A v2 node restarted with its id ends its earlier incarnation's sessions once its apps are there.
    await v2?.endEarlierIncarnations();
    return server;
  }

  async listen(): Promise<string> {
    await new Promise<void>((resolve, reject) => {
      // ws re-emits the HTTP server's errors on the WebSocketServer: without a listener there, a
      // failed listen (EADDRINUSE) would throw instead of rejecting.
      this.http.once('error', reject);
      this.wss.once('error', reject);
      this.http.listen({ port: this.options.port, host: this.options.host, backlog: this.options.listenBacklog }, () => {
        this.http.off('error', reject);
        this.wss.off('error', reject);
        resolve();
      });
    });
    this.gateway.start();
    this.ready = true;
    return this.url;
  }

  get url(): string {
    const a = this.http.address() as AddressInfo;
    const host = a.family === 'IPv6' ? `[${a.address}]` : a.address;
    return `http://${host}:${a.port}`;
  }

  get port(): number {
    return (this.http.address() as AddressInfo).port;
  }

  /**
   * Open HTTP connections per source address (maxHttpConnectionsPerIp). A connection counts from
   * its first plain HTTP request until it closes; past the cap that request gets 429 and the
   * connection is closed. WebSocket upgrades never count (the gateway counts sockets itself,
   * maxConnectionsPerIp), so a reconnect storm from behind one NAT is not refused; a connection
   * that never finishes its headers is cut by the headers deadline. Trusted proxies are not counted.
   */
  private limitHttpConnections(): void {
    const max = this.options.maxHttpConnectionsPerIp;
    if (max === 0) return;
    const open = new ConnectionCounter(max);
    const counted = new WeakSet<Socket>();
    this.http.prependListener('request', (req: IncomingMessage, res: ServerResponse) => {
      const socket = req.socket;
      if (counted.has(socket)) return;
      const address = plainAddress(socket.remoteAddress ?? '');
      if (this.gateway.clientAddresses.isTrusted(address)) return;
      if (!open.acquire(address)) {
        // Answered here; onRequest sees the response already sent and does nothing more.
        res.writeHead(429, { connection: 'close', 'retry-after': '1' }).end();
        return;
      }
      counted.add(socket);
      socket.once('close', () => open.release(address));
    });
  }

  /** `/metrics`: behind the token when one is set (PRESENTLY_METRICS_TOKEN). */
  private metricsAllowed(req: IncomingMessage): boolean {
    const token = this.options.metricsToken;
    if (token === undefined) return true;
    const got = Buffer.from(req.headers.authorization ?? '', 'utf8');
    const want = Buffer.from(`Bearer ${token}`, 'utf8');
    return got.length === want.length && timingSafeEqual(got, want);
  }

  /**
   * Reads a REST body up to MAX_REST_BODY; past it stops reading and resolves null (the reply then
   * closes the connection: the rest of the body is never read).
   */
  private readRestBody(req: IncomingMessage, res: ServerResponse): Promise<string | null> {
    return new Promise((resolve) => {
      let size = 0;
      const chunks: Buffer[] = [];
      const onData = (c: Buffer): void => {
        size += c.length;
        if (size <= MAX_REST_BODY) {
          chunks.push(c);
          return;
        }
        req.off('data', onData);
        req.off('end', onEnd);
        req.pause();
        res.setHeader('connection', 'close');
        resolve(null);
      };
      const onEnd = (): void => resolve(Buffer.concat(chunks).toString('utf8'));
      req.on('data', onData);
      req.on('end', onEnd);
      req.on('error', () => resolve(null));
    });
  }

  private onRequest(req: IncomingMessage, res: ServerResponse): void {
    if (res.headersSent) return; // refused by the per-address cap
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (req.method === 'GET' && url.pathname === '/metrics') {
      if (!this.metricsAllowed(req)) {
        res.writeHead(401, { 'www-authenticate': 'Bearer' }).end();
        return;
      }
      this.metrics.metrics().then(
        (text) => {
          res.writeHead(200, { 'content-type': this.metrics.contentType });
          res.end(text);
        },
        (err: unknown) => {
          this.log.error({ err }, 'metrics failed');
          res.writeHead(500).end();
        },
      );
      return;
    }
    if (req.method === 'GET' && (url.pathname === '/healthz' || url.pathname === '/readyz')) {
      // healthz: the process serves. readyz: it can also take clients now (store and Redis up).
      const status = !this.ready ? 'starting' : url.pathname === '/healthz' ? 'ok' : this.readiness();
      const ok = status === 'ok';
      res.writeHead(ok ? 200 : 503, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ status }));
      return;
    }
    if (this.web.handle(req, res, url)) return;
    if (url.pathname.startsWith('/v4/')) {
      if (req.method !== 'POST') {
        res.writeHead(405, { allow: 'POST' }).end();
        return;
      }
      // The caller is checked before its body is read: a stranger's body is never read at all.
      let bodyRead = false;
      const readBody = (): Promise<string | null> => {
        bodyRead = true;
        return this.readRestBody(req, res);
      };
      void handleRest(this.gateway, url, readBody, this.appSettings, this.gateway.clientAddresses.of(req)).then(
        (reply) => {
          // An unread (or cut) body is still on the connection: close it after the reply.
          if (!bodyRead || !req.complete) res.setHeader('connection', 'close');
          res.writeHead(200, { 'content-type': 'application/json' });
          res.end(JSON.stringify(reply));
        },
        (err: unknown) => {
          this.log.error({ err }, 'REST request failed');
          res.writeHead(500, { connection: 'close' }).end();
        },
      );
      return;
    }
    res.writeHead(404, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ error: 'not found' }));
  }

  private readiness(): 'ok' | 'store unavailable' | 'cluster unavailable' {
    if (!this.store.healthy()) return 'store unavailable';
    if (this.cluster && !this.cluster.healthy()) return 'cluster unavailable';
    if (this.v2 && !this.v2.healthy()) return 'cluster unavailable';
    return 'ok';
  }

  /**
   * Stops accepting, tells clients to reconnect, flushes the store. A cluster node first tells
   * the others it leaves: its users stay ONLINE for the grace period while they reconnect.
   */
  async close(): Promise<void> {
    this.ready = false;
    // Stop accepting first: a client told to reconnect must not land on this closing process.
    const stopped = new Promise<void>((resolve) => this.http.close(() => resolve()));
    if (this.cluster) await this.cluster.drain();
    if (this.v2) await this.v2.drain(this.options.drainGraceMs);
    this.gateway.closeAll(CloseCode.SERVER_RESTART, 'server shutting down');
    await new Promise<void>((resolve) => {
      this.wss.close(() => resolve());
    });
    this.http.closeAllConnections();
    await stopped;
    // Webhook events of the shutdown itself (these disconnects) are written before the store closes.
    await this.gateway.drain();
    await this.cluster?.stop();
    await this.v2?.stop();
    await this.store.close();
  }
}
