/**
 * Starts a real Presently server process for end-to-end tests: its own temp data directory and
 * config, port 0, and teardown registered by the caller (`await srv.stop()` in `after`).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { makeUserSig } from '../../packages/server/src/auth/usersig.js';

const ROOT = new URL('../..', import.meta.url).pathname;
const MAIN = join(ROOT, 'packages/server/src/main.ts');

export const APP = 1400000001;
export const KEY = 'e2e-secret-key-0123456789';

export interface AppOverrides {
  SDKAppID?: number;
  secretKey?: string;
  edition?: 'basic' | 'premium';
  admins?: string[];
  userStatus?: { queryAndNotify?: boolean; friendAutoNotify?: boolean };
  limits?: Record<string, number>;
  devices?: Record<string, unknown>;
}

export interface TestServer {
  /** http://127.0.0.1:port */
  http: string;
  /** ws://127.0.0.1:port */
  ws: string;
  dataDir: string;
  configPath: string;
  proc: ChildProcess;
  /** Everything the process wrote to stdout and stderr so far. */
  output(): string;
  /** Stops the process (SIGTERM, or SIGKILL with `kill: true`) and waits for it to exit. */
  stop(opts?: { kill?: boolean; keepData?: boolean }): Promise<void>;
  /** Starts again on the same data directory and config (a restart). */
  restart(opts?: { samePort?: boolean }): Promise<TestServer>;
  sig(userID: string, opts?: { expireSec?: number; nowSec?: number; SDKAppID?: number }): string;
}

export function appConfig(over: AppOverrides = {}): Record<string, unknown> {
  return {
    SDKAppID: APP,
    secretKey: KEY,
    edition: 'premium',
    admins: ['administrator'],
    ...over,
    userStatus: { queryAndNotify: true, friendAutoNotify: true, ...(over.userStatus ?? {}) },
  };
}

export async function startServer(
  opts: {
    apps?: Record<string, unknown>[];
    server?: Record<string, unknown>;
    dataDir?: string;
    configPath?: string;
    logLevel?: string;
    port?: number;
    /** Extra environment, e.g. DATABASE_URL; kept for restarts. */
    env?: Record<string, string>;
  } = {},
): Promise<TestServer> {
  const dataDir = opts.dataDir ?? mkdtempSync(join(tmpdir(), 'presently-e2e-'));
  const configPath = opts.configPath ?? join(dataDir, 'config.json');
  if (!opts.configPath) {
    // Every test connects from 127.0.0.1 and many send bad tickets on purpose: the brute-force
    // guard is off unless a test turns it on (tests/limits.test.ts does).
    const server = { maxLoginFailuresPerMinute: 0, ...(opts.server ?? {}) };
    writeFileSync(configPath, JSON.stringify({ apps: opts.apps ?? [appConfig()], server }));
  }
  const proc = spawn(process.execPath, ['--conditions=source', '--import', 'tsx', MAIN, 'start'], {
    cwd: ROOT,
    env: {
      ...process.env,
      PORT: String(opts.port ?? 0),
      HOST: '127.0.0.1',
      PRESENTLY_DATA_DIR: dataDir,
      PRESENTLY_CONFIG: configPath,
      LOG_LEVEL: opts.logLevel ?? 'info',
      PRESENTLY_PARENT_PID: String(process.pid),
      ...(opts.env ?? {}),
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  // A test file that ends or crashes takes its servers with it (no orphans between runs).
  const reap = () => proc.kill('SIGKILL');
  process.once('exit', reap);
  proc.once('exit', () => process.off('exit', reap));
  let stderr = '';
  let output = '';
  proc.stderr?.on('data', (d: Buffer) => {
    stderr += d.toString();
    output += d.toString();
  });
  proc.stdout?.on('data', (d: Buffer) => (output += d.toString()));
  const url = await new Promise<string>((resolve, reject) => {
    const rl = createInterface({ input: proc.stdout });
    rl.on('line', (line) => {
      try {
        const rec = JSON.parse(line) as { msg?: string; url?: string };
        if (rec.msg === 'listening' && rec.url) resolve(rec.url);
      } catch {
        /* not a log line */
      }
    });
    proc.once('exit', (code) => reject(new Error(`server exited with ${code} before listening:\n${stderr}`)));
  });
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  const server: TestServer = {
    http: url,
    ws: url.replace(/^http/, 'ws'),
    dataDir,
    configPath,
    proc,
    output: () => output,
    async stop({ kill = false, keepData = false } = {}) {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill(kill ? 'SIGKILL' : 'SIGTERM');
      await exited;
      if (!keepData) rmSync(dataDir, { recursive: true, force: true });
    },
    restart: (o: { samePort?: boolean } = {}) =>
      startServer({ dataDir, configPath, ...(opts.env ? { env: opts.env } : {}), ...(o.samePort ? { port: Number(new URL(url).port) } : {}) }),
    sig: (userID, o = {}) => makeUserSig({ SDKAppID: o.SDKAppID ?? APP, secretKey: KEY, userID, expireSec: o.expireSec ?? 3600, nowSec: o.nowSec }),
  };
  return server;
}
