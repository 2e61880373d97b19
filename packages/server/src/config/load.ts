/** Loads the apps: from PRESENTLY_CONFIG, or a development app kept in the data directory. */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { ConfigError, normalizeApp, type AppSettings } from './settings.js';
import { parseCidr } from '../net/cidr.js';
import { DEFAULT_SERVER_OPTIONS, type ServerOptions } from './server-options.js';

export interface LoadedConfig {
  apps: AppSettings[];
  /** Where the apps came from. */
  source: string;
  /** True when the development app was made by this start. */
  createdDevApp: boolean;
}

export const DEV_APP_FILE = 'dev-app.json';

function intFromEnv(name: string, value: string | undefined, dflt: number): number {
  if (value === undefined || value === '') return dflt;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new ConfigError(`${name}: must be a non-negative integer, got ${JSON.stringify(value)}`);
  return n;
}

/** A list of networks: the config file's list, then the environment's, each entry checked. */
function networkList(option: string, envName: string, env: NodeJS.ProcessEnv, fileValue: unknown): string[] {
  const out: string[] = [];
  if (fileValue !== undefined) {
    if (!Array.isArray(fileValue)) throw new ConfigError(`server.${option}: must be a list of CIDRs such as "10.0.0.0/8"`);
    fileValue.forEach((v, i) => {
      if (typeof v !== 'string' || !parseCidr(v)) throw new ConfigError(`server.${option}[${i}]: must be a CIDR such as "10.0.0.0/8" or an IP address`);
      out.push(v);
    });
  }
  const raw = env[envName];
  for (const v of (raw ?? '').split(',').map((x) => x.trim()).filter((x) => x !== '')) {
    if (!parseCidr(v)) throw new ConfigError(`${envName}: ${JSON.stringify(v)} is not a CIDR such as "10.0.0.0/8" or an IP address`);
    out.push(v);
  }
  return out;
}

/** Server options from the environment and the config file's optional `server` object. */
export function serverOptionsFrom(env: NodeJS.ProcessEnv, fileServer: Record<string, unknown> = {}): ServerOptions {
  const o: ServerOptions = { ...DEFAULT_SERVER_OPTIONS };
  for (const k of ['listenBacklog', 'maxFrameBytes', 'loginTimeoutMs', 'maxSendQueueBytes', 'maxInFlight', 'maxLoginFailuresPerMinute', 'maxConnectionsPerIp', 'httpRequestTimeoutMs', 'maxHttpConnectionsPerIp'] as const) {
    const v = fileServer[k];
    if (v === undefined) continue;
    const zeroOk = k === 'maxLoginFailuresPerMinute' || k === 'maxConnectionsPerIp' || k === 'maxHttpConnectionsPerIp';
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || (v === 0 && !zeroOk)) {
      throw new ConfigError(`server.${k}: must be a ${zeroOk ? 'non-negative' : 'positive'} integer`);
    }
    o[k] = v;
  }
  o.webhookAllowNetworks = networkList('webhookAllowNetworks', 'PRESENTLY_WEBHOOK_ALLOW_NETWORKS', env, fileServer.webhookAllowNetworks);
  o.trustedProxies = networkList('trustedProxies', 'PRESENTLY_TRUSTED_PROXIES', env, fileServer.trustedProxies);
  if (fileServer.metricsPerApp !== undefined) {
    if (typeof fileServer.metricsPerApp !== 'boolean') throw new ConfigError('server.metricsPerApp: must be true or false');
    o.metricsPerApp = fileServer.metricsPerApp;
  }
  if (fileServer.metricsToken !== undefined) throw new ConfigError('server.metricsToken: set it in the environment (PRESENTLY_METRICS_TOKEN), not in the config file');
  o.metricsToken = env.PRESENTLY_METRICS_TOKEN || undefined;
  if (o.metricsToken !== undefined && o.metricsToken.length < 16) throw new ConfigError('PRESENTLY_METRICS_TOKEN: at least 16 characters');
  for (const k of Object.keys(fileServer)) {
    if (!(k in DEFAULT_SERVER_OPTIONS) || k === 'host' || k === 'port' || k === 'dataDir' || k === 'configPath' || k === 'databaseUrl' || k === 'logLevel' || k === 'redisUrl' || k === 'redisPrefix' || k === 'nodeId' || k === 'leaseMs' || k === 'drainGraceMs' || k === 'logMaxLen') {
      throw new ConfigError(`server.${k}: unknown option`);
    }
  }
  o.host = env.HOST || o.host;
  o.port = intFromEnv('PORT', env.PORT, o.port);
  o.dataDir = env.PRESENTLY_DATA_DIR || o.dataDir;
  o.configPath = env.PRESENTLY_CONFIG || undefined;
  o.databaseUrl = env.DATABASE_URL || undefined;
  o.logLevel = env.LOG_LEVEL || o.logLevel;
  o.redisUrl = env.REDIS_URL || undefined;
  o.redisPrefix = env.PRESENTLY_REDIS_PREFIX || o.redisPrefix;
  if (!/^[A-Za-z0-9_.-]{1,64}$/.test(o.redisPrefix)) throw new ConfigError('PRESENTLY_REDIS_PREFIX: 1-64 letters, digits, _ . -');
  o.nodeId = env.PRESENTLY_NODE_ID || undefined;
  if (o.nodeId !== undefined && !/^[A-Za-z0-9_-]{1,64}$/.test(o.nodeId)) throw new ConfigError('PRESENTLY_NODE_ID: 1-64 letters, digits, _ -');
  o.leaseMs = intFromEnv('PRESENTLY_LEASE_MS', env.PRESENTLY_LEASE_MS, o.leaseMs);
  if (o.leaseMs < 500) throw new ConfigError('PRESENTLY_LEASE_MS: at least 500');
  o.drainGraceMs = intFromEnv('PRESENTLY_DRAIN_GRACE_MS', env.PRESENTLY_DRAIN_GRACE_MS, o.drainGraceMs);
  o.logMaxLen = intFromEnv('PRESENTLY_LOG_MAXLEN', env.PRESENTLY_LOG_MAXLEN, o.logMaxLen);
  if (o.logMaxLen < 10) throw new ConfigError('PRESENTLY_LOG_MAXLEN: at least 10');
  return o;
}

export function readConfigFile(path: string): { apps: unknown[]; server: Record<string, unknown> } {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new ConfigError(`${path}: cannot read JSON (${(err as Error).message})`);
  }
  if (typeof raw !== 'object' || raw === null || !Array.isArray((raw as { apps?: unknown }).apps)) {
    throw new ConfigError(`${path}: must be an object with an "apps" list`);
  }
  const server = (raw as { server?: unknown }).server ?? {};
  if (typeof server !== 'object' || server === null || Array.isArray(server)) throw new ConfigError(`${path}: "server" must be an object`);
  return { apps: (raw as { apps: unknown[] }).apps, server: server as Record<string, unknown> };
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
    if (apps.length === 0) throw new ConfigError(`${path}: "apps" is empty`);
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
