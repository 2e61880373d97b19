/** Loads the apps: from PRESENTLY_CONFIG, or a development app kept in the data directory. */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Type, type Static } from '@sinclair/typebox';
import { ConfigError, checkConfig, normalizeApp, type AppSettings } from './settings.js';
import { cidrList, compile, describeProblem, firstProblem } from './schema.js';
import { DEFAULT_SERVER_OPTIONS, FILE_SERVER_KEYS, LogLevelSchema, ServerFileSchema, ServerOptionsSchema, type ServerFileOptions, type ServerOptions } from './server-options.js';

export interface LoadedConfig {
  apps: AppSettings[];
  /** Where the apps came from. */
  source: string;
  /** True when the development app was made by this start. */
  createdDevApp: boolean;
}

export const DEV_APP_FILE = 'dev-app.json';

/** A path, URL or name from the environment. */
const envText = (max: number) => Type.String({ minLength: 1, maxLength: max });

/**
 * The environment variables the server reads, as values: numbers converted from their text,
 * comma-separated lists split. Absent or empty means the default. Other variables are ignored.
 */
export const EnvSchema = Type.Object({
  HOST: Type.Optional(envText(253)),
  PORT: Type.Optional(ServerOptionsSchema.properties.port),
  PRESENTLY_DATA_DIR: Type.Optional(envText(4096)),
  PRESENTLY_CONFIG: Type.Optional(envText(4096)),
  DATABASE_URL: Type.Optional(envText(4096)),
  LOG_LEVEL: Type.Optional(LogLevelSchema),
  REDIS_URL: Type.Optional(envText(4096)),
  PRESENTLY_REDIS_PREFIX: Type.Optional(Type.String({ pattern: '^[A-Za-z0-9_.-]{1,64}$', errorMessage: '1-64 letters, digits, _ . -' })),
  PRESENTLY_CLUSTER: Type.Optional(Type.Union([Type.Literal('replicated'), Type.Literal('v2')], { errorMessage: "'replicated' or 'v2'" })),
  PRESENTLY_NODE_ID: Type.Optional(Type.String({ pattern: '^[A-Za-z0-9_-]{1,64}$', errorMessage: '1-64 letters, digits, _ -' })),
  PRESENTLY_LEASE_MS: Type.Optional(ServerOptionsSchema.properties.leaseMs),
  PRESENTLY_DRAIN_GRACE_MS: Type.Optional(ServerOptionsSchema.properties.drainGraceMs),
  PRESENTLY_LOG_MAXLEN: Type.Optional(ServerOptionsSchema.properties.logMaxLen),
  PRESENTLY_METRICS_TOKEN: Type.Optional(Type.String({ minLength: 16, maxLength: 1024, errorMessage: '16 to 1024 characters' })),
  PRESENTLY_WEBHOOK_ALLOW_NETWORKS: Type.Optional(cidrList()),
  PRESENTLY_TRUSTED_PROXIES: Type.Optional(cidrList()),
  PRESENTLY_ALLOW_EMPTY_DB: Type.Optional(Type.Union([Type.Literal('0'), Type.Literal('1')], { errorMessage: "'1' (start on an empty database file) or '0'" })),
  PRESENTLY_WEBHOOK_BACKOFF_BASE_MS: Type.Optional(ServerOptionsSchema.properties.webhookTuning.properties.backoffBaseMs),
  PRESENTLY_WEBHOOK_BACKOFF_CAP_MS: Type.Optional(ServerOptionsSchema.properties.webhookTuning.properties.backoffCapMs),
  PRESENTLY_WEBHOOK_CONCURRENCY: Type.Optional(ServerOptionsSchema.properties.webhookTuning.properties.concurrency),
  PRESENTLY_WEBHOOK_APP_CONCURRENCY: Type.Optional(ServerOptionsSchema.properties.webhookTuning.properties.appConcurrency),
});
type Env = Static<typeof EnvSchema>;
const EnvCheck = compile(EnvSchema);
const ServerFileCheck = compile(ServerFileSchema);
const NUMERIC_ENV: ReadonlySet<string> = new Set([
  'PORT',
  'PRESENTLY_LEASE_MS',
  'PRESENTLY_DRAIN_GRACE_MS',
  'PRESENTLY_LOG_MAXLEN',
  'PRESENTLY_WEBHOOK_BACKOFF_BASE_MS',
  'PRESENTLY_WEBHOOK_BACKOFF_CAP_MS',
  'PRESENTLY_WEBHOOK_CONCURRENCY',
  'PRESENTLY_WEBHOOK_APP_CONCURRENCY',
]);
const LIST_ENV: ReadonlySet<string> = new Set(['PRESENTLY_WEBHOOK_ALLOW_NETWORKS', 'PRESENTLY_TRUSTED_PROXIES']);

/** The environment's variables of EnvSchema as values, checked; a bad one is a ConfigError naming it and its text. */
export function envFrom(env: NodeJS.ProcessEnv): Env {
  const out: Record<string, unknown> = {};
  for (const name of Object.keys(EnvSchema.properties)) {
    const text = env[name];
    if (text === undefined || text === '') continue;
    out[name] = NUMERIC_ENV.has(name)
      ? /^\s*\d+\s*$/.test(text)
        ? Number(text)
        : text
      : LIST_ENV.has(name)
        ? text
            .split(',')
            .map((x) => x.trim())
            .filter((x) => x !== '')
        : text;
  }
  const p = firstProblem(EnvCheck, out);
  if (p) {
    const name = p.path.replace(/^\./, '').replace(/\[.*$/, '');
    throw new ConfigError(`${describeProblem('', p)}, got ${JSON.stringify(String(env[name]).slice(0, 200))}`);
  }
  return out;
}

/** Server options from the environment and the config file's optional `server` object. */
export function serverOptionsFrom(env: NodeJS.ProcessEnv, fileServer: unknown = {}): ServerOptions {
  checkConfig(ServerFileCheck, fileServer, 'server');
  const file = fileServer as ServerFileOptions;
  const e = envFrom(env);
  const o: ServerOptions = { ...DEFAULT_SERVER_OPTIONS };
  for (const k of FILE_SERVER_KEYS) {
    const v = file[k];
    if (v !== undefined) (o as Record<string, unknown>)[k] = v;
  }
  o.webhookAllowNetworks = [...(file.webhookAllowNetworks ?? []), ...(e.PRESENTLY_WEBHOOK_ALLOW_NETWORKS ?? [])];
  o.trustedProxies = [...(file.trustedProxies ?? []), ...(e.PRESENTLY_TRUSTED_PROXIES ?? [])];
  o.metricsToken = e.PRESENTLY_METRICS_TOKEN;
  o.host = e.HOST ?? o.host;
  o.port = e.PORT ?? o.port;
  o.dataDir = e.PRESENTLY_DATA_DIR ?? o.dataDir;
  o.configPath = e.PRESENTLY_CONFIG;
  o.databaseUrl = e.DATABASE_URL;
  o.logLevel = e.LOG_LEVEL ?? o.logLevel;
  o.redisUrl = e.REDIS_URL;
  o.redisPrefix = e.PRESENTLY_REDIS_PREFIX ?? o.redisPrefix;
  o.nodeId = e.PRESENTLY_NODE_ID;
  o.clusterDesign = e.PRESENTLY_CLUSTER ?? o.clusterDesign;
  o.leaseMs = e.PRESENTLY_LEASE_MS ?? o.leaseMs;
  o.drainGraceMs = e.PRESENTLY_DRAIN_GRACE_MS ?? o.drainGraceMs;
  o.logMaxLen = e.PRESENTLY_LOG_MAXLEN ?? o.logMaxLen;
  o.allowEmptyDb = e.PRESENTLY_ALLOW_EMPTY_DB === '1';
  const tuning: ServerOptions['webhookTuning'] = {};
  if (e.PRESENTLY_WEBHOOK_BACKOFF_BASE_MS !== undefined) tuning.backoffBaseMs = e.PRESENTLY_WEBHOOK_BACKOFF_BASE_MS;
  if (e.PRESENTLY_WEBHOOK_BACKOFF_CAP_MS !== undefined) tuning.backoffCapMs = e.PRESENTLY_WEBHOOK_BACKOFF_CAP_MS;
  if (e.PRESENTLY_WEBHOOK_CONCURRENCY !== undefined) tuning.concurrency = e.PRESENTLY_WEBHOOK_CONCURRENCY;
  if (e.PRESENTLY_WEBHOOK_APP_CONCURRENCY !== undefined) tuning.appConcurrency = e.PRESENTLY_WEBHOOK_APP_CONCURRENCY;
  o.webhookTuning = tuning;
  return o;
}

/** The config file's top level: the apps (each checked by normalizeApp) and the optional `server` object. */
export const ConfigFileSchema = Type.Object(
  {
    apps: Type.Array(Type.Unknown(), { minItems: 1, maxItems: 1000, errorMessage: 'must be a list of 1 to 1000 apps' }),
    server: Type.Optional(Type.Unknown()),
  },
  { additionalProperties: false },
);
const ConfigFileCheck = compile(ConfigFileSchema);

export function readConfigFile(path: string): { apps: unknown[]; server: unknown } {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new ConfigError(`${path}: cannot read JSON (${(err as Error).message})`);
  }
  const p = firstProblem(ConfigFileCheck, raw);
  if (p) throw new ConfigError(`${path}: ${p.path === '' ? 'must be an object with an "apps" list' : describeProblem('', p)}`);
  const file = raw as Static<typeof ConfigFileSchema>;
  return { apps: file.apps, server: file.server ?? {} };
}

/**
 * Reads and validates the apps; makes the development app on a first start without config.
 * `createDevApp: false` (the CLI's usersig, the tour) reads the development app the server made
 * and fails with what to do when there is none, rather than make an app no server runs.
 */
export function loadApps(options: ServerOptions, { createDevApp = true }: { createDevApp?: boolean } = {}): LoadedConfig {
  if (options.configPath) {
    const path = resolve(options.configPath);
    const { apps } = readConfigFile(path);
    const list = apps.map((a, i) => normalizeApp(a, `apps[${i}]`));
    const seen = new Set<number>();
    for (const a of list) {
      if (seen.has(a.SDKAppID)) throw new ConfigError(`${path}: SDKAppID ${a.SDKAppID} appears twice`);
      seen.add(a.SDKAppID);
    }
    return { apps: list, source: path, createdDevApp: false };
  }
  const file = join(options.dataDir, DEV_APP_FILE);
  if (!createDevApp && !existsSync(file)) {
    throw new ConfigError(
      `no development app in ${resolve(file)}: start the server first (npm start) with the same PRESENTLY_DATA_DIR, or set PRESENTLY_CONFIG to the server's config file`,
    );
  }
  mkdirSync(options.dataDir, { recursive: true });
  let created = false;
  if (!existsSync(file)) {
    const dev = {
      apps: [
        {
          SDKAppID: 1400000001,
          secretKey: randomBytes(24).toString('hex'),
          edition: 'premium',
          admins: ['administrator'],
          userStatus: { queryAndNotify: true, friendAutoNotify: true },
        },
      ],
    };
    writeFileSync(file, `${JSON.stringify(dev, null, 2)}\n`, { mode: 0o600 });
    created = true;
  }
  const { apps } = readConfigFile(file);
  return { apps: apps.map((a, i) => normalizeApp(a, `apps[${i}]`)), source: resolve(file), createdDevApp: created };
}
