/**
 * Setting up a target: the Presently server with N accounts and the seeded friend graph (made
 * once per size over the REST API into a template data directory, then copied for every fresh
 * server), or the raw-ws baseline server; plus the load-generator workers.
 */
import { cpSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeUserSig } from '@presently/server';
import { friendGraph, userID } from './graph.js';
import { Pool } from './pool.js';
import { startBaseline, startPresently, type ServerProc, type SpawnPlan } from './procs.js';

export const APP = 1400000001;
export const KEY = 'bench-secret-key-0123456789abcdef';
/** Source addresses per load-generator worker (see InitArgs.localAddresses). */
const SOURCE_ADDRESSES = 16;

/**
 * The bench app: premium, query switch and friend auto-notify on, every default limit kept
 * (heartbeat timeout 400 s, so the real 60 s heartbeat interval) except the per-user call rate
 * limit (20 calls per 5 s), which W5's closed-loop queries would hit at once. It is made
 * unreachable but still checked on every call: 10^9 calls per 10 ms window. The short window keeps
 * the server's per-user sliding-window log as short as with the defaults (at most a few entries);
 * a 10^9 limit over the default 5 s window would make that log hold every call of the last 5 s.
 */
export function benchConfig(): Record<string, unknown> {
  return {
    apps: [
      {
        SDKAppID: APP,
        secretKey: KEY,
        edition: 'premium',
        admins: ['administrator'],
        userStatus: { queryAndNotify: true, friendAutoNotify: true },
        limits: { rateLimitCalls: 1_000_000_000, rateLimitWindowSec: 0.01, setSelfStatusPerMinute: 0, syncStatusPerMinute: 0 },
      },
    ],
    server: {},
  };
}

export interface Plans {
  server: SpawnPlan;
  workers: SpawnPlan;
}

export class Workspace {
  readonly dir = mkdtempSync(join(tmpdir(), 'presently-bench-'));
  private readonly templates = new Map<string, string>();
  readonly configPath = join(this.dir, 'config.json');
  private readonly sigCache = new Map<number, string>();

  constructor(
    readonly k: number,
    readonly seed: number,
    readonly plans: Plans,
    private readonly log: (s: string) => void,
  ) {
    writeFileSync(this.configPath, JSON.stringify(benchConfig(), null, 2));
  }

  sig(i: number): string {
    let s = this.sigCache.get(i);
    if (!s) {
      s = makeUserSig({ SDKAppID: APP, secretKey: KEY, userID: userID(i), expireSec: 86_400 });
      this.sigCache.set(i, s);
    }
    return s;
  }

  /** A data directory with N accounts and the friend graph, made over REST once per N. */
  async template(n: number): Promise<string> {
    const key = `n${n}`;
    const have = this.templates.get(key);
    if (have) return have;
    const dir = join(this.dir, `template-${key}`);
    const t0 = Date.now();
    const srv = await startPresently(dir, this.configPath, this.plans.server);
    try {
      await seedAccounts(srv, n, this.k, this.seed);
    } finally {
      await srv.stop();
    }
    this.log(`  seeded ${n} accounts and ${n * this.k} friend entries over REST in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    this.templates.set(key, dir);
    return dir;
  }

  /** A fresh Presently server on a copy of the template for N. */
  async presently(n: number, extra: SpawnPlan = {}): Promise<ServerProc> {
    const tpl = await this.template(n);
    const dir = mkdtempSync(join(this.dir, 'run-'));
    for (const f of readdirSync(tpl)) cpSync(join(tpl, f), join(dir, f));
    const srv = await startPresently(dir, this.configPath, { ...this.plans.server, ...extra });
    const stop = srv.stop.bind(srv);
    srv.stop = async () => {
      await stop();
      rmSync(dir, { recursive: true, force: true });
    };
    return srv;
  }

  baseline(n: number, extra: SpawnPlan = {}): Promise<ServerProc> {
    return startBaseline(n, this.k, this.seed, { ...this.plans.server, ...extra });
  }

  /**
   * Workers for users 0..n-1, dealt round-robin, each on its own source addresses. With several
   * servers (the nodes of a cluster) every worker spreads its users over all of them.
   */
  workers(srv: ServerProc | ServerProc[], n: number, count: number): Promise<Pool> {
    const urls = (Array.isArray(srv) ? srv : [srv]).map((s) => s.ws);
    return Pool.start(
      count,
      (w) => {
        const users: number[] = [];
        for (let i = w; i < n; i += count) users.push(i);
        return {
          w,
          urls,
          workers: count,
          SDKAppID: APP,
          users,
          sigs: users.map((i) => this.sig(i)),
          n,
          k: this.k,
          seed: this.seed,
          localAddresses: Array.from({ length: SOURCE_ADDRESSES }, (_, j) => `127.1.${w}.${j + 1}`),
        };
      },
      this.plans.workers,
    );
  }

  cleanup(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** Imports N accounts (100 per call) and the mutual friend graph (one friend_import per user). */
export async function seedAccounts(srv: ServerProc, n: number, k: number, graphSeed: number): Promise<void> {
  const adminSig = makeUserSig({ SDKAppID: APP, secretKey: KEY, userID: 'administrator', expireSec: 86_400 });
  const q = `sdkappid=${APP}&identifier=administrator&usersig=${adminSig}&contenttype=json`;
  const rest = async (command: string, body: unknown): Promise<Record<string, unknown>> => {
    const res = await fetch(`${srv.http}/v4/${command}?${q}&random=${Math.floor(Math.random() * 2 ** 32)}`, {
      method: 'POST',
      body: JSON.stringify(body),
    });
    if (res.status !== 200) throw new Error(`REST ${command}: HTTP ${res.status}\n${srv.tail()}`);
    const r = (await res.json()) as Record<string, unknown>;
    if (r.ErrorCode !== 0) throw new Error(`REST ${command}: ${JSON.stringify(r).slice(0, 300)}`);
    return r;
  };
  const parallel = async (count: number, concurrency: number, fn: (i: number) => Promise<void>) => {
    let next = 0;
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (next < count) await fn(next++);
      }),
    );
  };
  await parallel(Math.ceil(n / 100), 4, async (c) => {
    const AccountList = [];
    for (let i = c * 100; i < Math.min(n, (c + 1) * 100); i++) AccountList.push({ UserID: userID(i) });
    const r = await rest('im_open_login_svc/multiaccount_import', { AccountList });
    if ((r.FailAccounts as unknown[]).length > 0) throw new Error(`multiaccount_import failed for ${JSON.stringify(r.FailAccounts)}`);
  });
  const adj = friendGraph(n, k, graphSeed);
  // The graph is mutual by construction, so one one-way import per user writes both directions.
  await parallel(n, 32, async (i) => {
    const AddFriendItem = [];
    for (let j = 0; j < k; j++) AddFriendItem.push({ To_Account: userID(adj[i * k + j]!), AddSource: 'AddSource_Type_Bench' });
    const r = await rest('sns/friend_import', { From_Account: userID(i), AddFriendItem });
    if ((r.Fail_Account as unknown[]).length > 0) throw new Error(`friend_import ${userID(i)}: ${JSON.stringify(r.ResultItem).slice(0, 300)}`);
  });
}
