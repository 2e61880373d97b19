/**
 * Starts a real Presently server from source for a conformance run: port 0, its own temp data
 * directory, and a config holding one app per profile that the scenarios name (each profile is a
 * separate SDKAppID, so one server serves every scenario).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { makeUserSig } from '../../packages/server/src/auth/usersig.js';

const ROOT = new URL('../..', import.meta.url).pathname;
const MAIN = join(ROOT, 'packages/server/src/main.ts');

/** The secret key of every app of a conformance server (known to the runner, which signs tickets). */
export const SECRET_KEY = 'conformance-secret-0123456789abcdef';

/**
 * The app profiles scenarios pick with `"app"`. Small limits make S14-S16 cheap to exercise; the
 * other profiles each flip one switch or timer that a rule depends on.
 */
export const APP_PROFILES: Record<string, { SDKAppID: number; config: Record<string, unknown> }> = {
  default: {
    SDKAppID: 1400000101,
    config: {
      edition: 'premium',
      userStatus: { queryAndNotify: true, friendAutoNotify: true },
      limits: { maxQueryIDs: 5, maxSubscribeIDsPerCall: 3, maxSubscriptions: 4 },
    },
  },
  basic: { SDKAppID: 1400000102, config: { edition: 'basic', userStatus: { queryAndNotify: true, friendAutoNotify: true } } },
  switchOff: { SDKAppID: 1400000103, config: { edition: 'premium', userStatus: { queryAndNotify: false, friendAutoNotify: true } } },
  noFriendNotify: { SDKAppID: 1400000104, config: { edition: 'premium', userStatus: { queryAndNotify: true, friendAutoNotify: false } } },
  /** Heartbeat timeout 1 s: the login reply announces a heartbeat interval of a third of it. */
  fastHeartbeat: { SDKAppID: 1400000105, config: { edition: 'premium', limits: { heartbeatTimeoutSec: 1 } } },
  /** Subscriptions of a user offline for 1.8 s are dropped (S19). */
  shortExpiry: { SDKAppID: 1400000106, config: { edition: 'premium', limits: { subscriptionExpiryHours: 0.0005 } } },
};

export interface ConformanceServer {
  http: string;
  ws: string;
  port: number;
  sig(profile: string, userID: string, opts?: { expireSec?: number; nowSec?: number; secretKey?: string }): string;
  appId(profile: string): number;
  output(): string;
  stop(): Promise<void>;
}

export async function startServer(): Promise<ConformanceServer> {
  const dataDir = mkdtempSync(join(tmpdir(), 'presently-conformance-'));
  const configPath = join(dataDir, 'config.json');
  const apps = Object.values(APP_PROFILES).map((p) => ({ SDKAppID: p.SDKAppID, secretKey: SECRET_KEY, admins: ['administrator'], ...p.config }));
  // Scenarios send bad tickets on purpose: the brute-force guard is off.
  writeFileSync(configPath, JSON.stringify({ apps, server: { maxLoginFailuresPerMinute: 0 } }));
  const proc: ChildProcess = spawn(process.execPath, ['--conditions=source', '--import', 'tsx', MAIN, 'start'], {
    cwd: ROOT,
    env: {
      ...process.env,
      PORT: '0',
      HOST: '127.0.0.1',
      PRESENTLY_DATA_DIR: dataDir,
      PRESENTLY_CONFIG: configPath,
      LOG_LEVEL: 'info',
      PRESENTLY_PARENT_PID: String(process.pid),
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const reap = (): void => void proc.kill('SIGKILL');
  process.once('exit', reap);
  proc.once('exit', () => process.off('exit', reap));
  let output = '';
  proc.stderr?.on('data', (d: Buffer) => (output = `${output}${d.toString()}`.slice(-100_000)));
  const url = await new Promise<string>((resolve, reject) => {
    const rl = createInterface({ input: proc.stdout! });
    rl.on('line', (line) => {
      output = `${output}${line}\n`.slice(-100_000);
      try {
        const rec = JSON.parse(line) as { msg?: string; url?: string };
        if (rec.msg === 'listening' && rec.url) resolve(rec.url);
      } catch {
        /* not a log line */
      }
    });
    proc.once('exit', (code) => reject(new Error(`server exited with ${code} before listening:\n${output}`)));
  });
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  const appId = (profile: string): number => {
    const p = APP_PROFILES[profile];
    if (!p) throw new Error(`unknown app profile ${JSON.stringify(profile)} (known: ${Object.keys(APP_PROFILES).join(', ')})`);
    return p.SDKAppID;
  };
  return {
    http: url,
    ws: url.replace(/^http/, 'ws'),
    port: Number(new URL(url).port),
    appId,
    sig: (profile, userID, o = {}) => makeUserSig({ SDKAppID: appId(profile), secretKey: o.secretKey ?? SECRET_KEY, userID, expireSec: o.expireSec ?? 3600, nowSec: o.nowSec }),
    output: () => output,
    async stop() {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGTERM');
      const timer = setTimeout(() => proc.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** Calls the REST admin API of an app over real HTTP. */
export async function rest(srv: ConformanceServer, profile: string, command: string, body: unknown): Promise<Record<string, unknown>> {
  const q = new URLSearchParams({
    sdkappid: String(srv.appId(profile)),
    identifier: 'administrator',
    usersig: srv.sig(profile, 'administrator'),
    random: String(Math.floor(Math.random() * 2 ** 32)),
    contenttype: 'json',
  });
  const res = await fetch(`${srv.http}/v4/${command}?${q}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  if (res.status !== 200) throw new Error(`REST ${command}: HTTP ${res.status}`);
  const json = (await res.json()) as Record<string, unknown>;
  if (json.ActionStatus !== 'OK') throw new Error(`REST ${command} failed: ${JSON.stringify(json)}`);
  return json;
}
