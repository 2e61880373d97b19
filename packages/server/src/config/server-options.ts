/**
 * Process-wide options (not per app), as a TypeBox schema (config/schema.ts) from which the
 * type is derived. Each has a default and a range; most have an environment variable, the
 * limits a key of the config file's `server` object (ServerFileSchema), checked by load.ts.
 */
import { Type, type Static } from '@sinclair/typebox';
import { cidrList, int } from './schema.js';

const optionalString = Type.Union([Type.String(), Type.Undefined()]);

export const LogLevelSchema = Type.Union((['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const).map((l) => Type.Literal(l)));

export const ServerOptionsSchema = Type.Object({
  /** Interface to listen on. env HOST. @default '127.0.0.1' */
  host: Type.String(),
  /** Port for WebSocket and HTTP; 0 picks a free one. env PORT. @default 8080 */
  port: int(0, 65_535),
  /** Where the SQLite file and the development app live. env PRESENTLY_DATA_DIR. @default './data' */
  dataDir: Type.String(),
  /** JSON config file with the apps. env PRESENTLY_CONFIG. @default none (a development app is made) */
  configPath: optionalString,
  /** PostgreSQL for durable data instead of the SQLite file. env DATABASE_URL. @default none */
  databaseUrl: optionalString,
  /**
   * Redis for live presence and the cluster's command log: one URL, or several comma-separated
   * seed nodes of a Redis Cluster. env REDIS_URL. @default none (one process, state in memory)
   */
  redisUrl: optionalString,
  /** Prefix of every Redis key: nodes sharing one prefix form one cluster. env PRESENTLY_REDIS_PREFIX. @default 'presently' */
  redisPrefix: Type.String(),
  /**
   * The cluster's design: 'replicated' (every node applies each app's command log) or 'v2'
   * (per-user records in Redis, fan-out by interest; being built: docs/cluster.md, "Cluster v2").
   * env PRESENTLY_CLUSTER. @default 'replicated'
   */
  clusterDesign: Type.Union([Type.Literal('replicated'), Type.Literal('v2')]),
  /** This node's name in the cluster. env PRESENTLY_NODE_ID. @default a random one */
  nodeId: optionalString,
  /** A node that has not renewed its lease for this long is dead: its sessions end, ms. env PRESENTLY_LEASE_MS. @default 5000 */
  leaseMs: int(500, 600_000),
  /**
   * After SIGTERM, how long the sessions of a leaving node stay ONLINE while their clients move to
   * another node, ms. env PRESENTLY_DRAIN_GRACE_MS. @default 5000
   */
  drainGraceMs: int(0, 600_000),
  /**
   * Entries each app's command log keeps in Redis (about); a node that falls further behind exits
   * (code 70) to start afresh. env PRESENTLY_LOG_MAXLEN. @default 100000
   */
  logMaxLen: int(10, 100_000_000),
  /**
   * Connections the kernel holds for the server before it accepts them (the listen backlog;
   * Linux caps it at net.core.somaxconn). A reconnect storm larger than it has its extra
   * connection attempts dropped and retried by the clients a second or more later. @default 4096
   */
  listenBacklog: int(1, 65_535),
  /** Largest WebSocket frame the server reads, bytes (S32). @default 16384 */
  maxFrameBytes: int(1_024, 1_048_576),
  /** An unauthenticated socket must log in within this, ms. @default 10000 */
  loginTimeoutMs: int(100, 600_000),
  /** A socket whose unsent data passes this is closed as a slow consumer, bytes. @default 4194304 */
  maxSendQueueBytes: int(64, 1_073_741_824),
  /** Requests of one connection awaiting their replies (durable writes); past it: 72006. @default 64 */
  maxInFlight: int(1, 10_000),
  /** Failed logins per source address per minute before further ones get 70050; 0 = off. @default 20 */
  maxLoginFailuresPerMinute: int(0, 1_000_000),
  /** Open connections per source address; past it the socket is closed with 4009; 0 = off. @default 0 */
  maxConnectionsPerIp: int(0, 1_000_000),
  /**
   * Networks (CIDRs, or single addresses) webhooks may reach inside the ranges the egress policy
   * refuses: loopback, private, link-local, unique-local... (webhooks/egress.ts). Added to those of
   * env PRESENTLY_WEBHOOK_ALLOW_NETWORKS (comma-separated). @default [] (none)
   */
  webhookAllowNetworks: cidrList(),
  /**
   * Reverse proxies (CIDRs or addresses) whose `X-Forwarded-For` / `Forwarded` headers name the
   * client: for a connection from one of them, the client address (per-address limits, the
   * brute-force guard, webhooks' ClientIP) is the last address of the header that is not itself a
   * trusted proxy. env PRESENTLY_TRUSTED_PROXIES (comma-separated) adds more. @default [] (none:
   * the TCP peer is the client)
   */
  trustedProxies: cidrList(),
  /**
   * When set, `GET /metrics` answers only requests with `Authorization: Bearer <token>` (401
   * otherwise). env PRESENTLY_METRICS_TOKEN. @default none (open, without per-app series)
   */
  metricsToken: optionalString,
  /** Per-app series (users, sessions by SDKAppID) in `/metrics`. @default false */
  metricsPerApp: Type.Boolean(),
  /** A whole HTTP request (headers and body) must arrive within this, ms; else 408 and closed. @default 15000 */
  httpRequestTimeoutMs: int(1_000, 600_000),
  /** Open HTTP connections per source address (WebSocket upgrades not counted); past it new ones are closed; 0 = off. @default 64 */
  maxHttpConnectionsPerIp: int(0, 1_000_000),
  /**
   * Start on an existing SQLite file that is empty (0 bytes, or no tables) as a new database
   * instead of refusing it. env PRESENTLY_ALLOW_EMPTY_DB=1. @default false
   */
  allowEmptyDb: Type.Boolean(),
  /**
   * Webhook delivery tuning (webhooks/options.ts: first retry delay and its cap, ms; deliveries
   * in flight in all, and per app). env PRESENTLY_WEBHOOK_BACKOFF_BASE_MS, _BACKOFF_CAP_MS,
   * _CONCURRENCY, _APP_CONCURRENCY. @default the dispatcher's own (1000, 600000, 32, 8)
   */
  webhookTuning: Type.Object({
    backoffBaseMs: Type.Optional(int(1, 86_400_000)),
    backoffCapMs: Type.Optional(int(1, 86_400_000)),
    concurrency: Type.Optional(int(1, 10_000)),
    appConcurrency: Type.Optional(int(1, 10_000)),
  }),
  /** Log level (pino). env LOG_LEVEL. @default 'info' */
  logLevel: LogLevelSchema,
});
export type ServerOptions = Static<typeof ServerOptionsSchema>;

/** The options the config file's `server` object may set; the others come from the environment. */
export const FILE_SERVER_KEYS = [
  'listenBacklog',
  'maxFrameBytes',
  'loginTimeoutMs',
  'maxSendQueueBytes',
  'maxInFlight',
  'maxLoginFailuresPerMinute',
  'maxConnectionsPerIp',
  'webhookAllowNetworks',
  'trustedProxies',
  'metricsPerApp',
  'httpRequestTimeoutMs',
  'maxHttpConnectionsPerIp',
] as const;

/** The config file's `server` object: every key optional, no other key. */
export const ServerFileSchema = Type.Object(
  {
    ...Type.Partial(Type.Pick(ServerOptionsSchema, FILE_SERVER_KEYS)).properties,
    /** A secret kept out of files: refused with a pointer to its variable. */
    metricsToken: Type.Optional(Type.Never({ errorMessage: 'set it in the environment (PRESENTLY_METRICS_TOKEN), not in the config file' })),
  },
  { additionalProperties: false },
);
export type ServerFileOptions = Static<typeof ServerFileSchema>;

export const DEFAULT_SERVER_OPTIONS: Readonly<ServerOptions> = Object.freeze({
  host: '127.0.0.1',
  port: 8080,
  dataDir: './data',
  configPath: undefined,
  databaseUrl: undefined,
  redisUrl: undefined,
  redisPrefix: 'presently',
  clusterDesign: 'replicated',
  nodeId: undefined,
  leaseMs: 5000,
  drainGraceMs: 5000,
  logMaxLen: 100_000,
  listenBacklog: 4096,
  maxFrameBytes: 16_384,
  loginTimeoutMs: 10_000,
  maxSendQueueBytes: 4 * 1024 * 1024,
  maxInFlight: 64,
  maxLoginFailuresPerMinute: 20,
  maxConnectionsPerIp: 0,
  webhookAllowNetworks: [],
  trustedProxies: [],
  metricsToken: undefined,
  metricsPerApp: false,
  httpRequestTimeoutMs: 15_000,
  maxHttpConnectionsPerIp: 64,
  allowEmptyDb: false,
  webhookTuning: {},
  logLevel: 'info',
});
