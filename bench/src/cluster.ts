/**
 * The cluster backend for the C1 and W3C scenarios: Presently nodes (the real `start` command with
 * REDIS_URL, DATABASE_URL, PRESENTLY_REDIS_PREFIX and PRESENTLY_NODE_ID) sharing one PostgreSQL
 * database and one Redis.
 *
 * - Redis: by default a **private** `redis-server` the bench starts on a free loopback port (no
 *   persistence), so `INFO commandstats` and `INFO cpu` count the cluster's traffic only;
 *   BENCH_REDIS_URL=redis://... uses an existing one instead (its deltas then include whatever else
 *   talks to it). Every cluster gets its own key prefix, deleted when it stops.
 * - PostgreSQL (BENCH_DATABASE_URL, default postgres://postgres@127.0.0.1:5432/postgres): once per
 *   size, a template database gets the server's schema (a single node started on it once, which
 *   runs the migrations) and then the accounts and the friend graph, written in bulk with SQL: the
 *   very rows the REST import (`multiaccount_import`, `sns/friend_import`) writes, which over REST
 *   take ~5 s per 1,000 users on PostgreSQL (8 minutes for W3C's 100,000). BENCH_PG_SEED=rest
 *   imports over REST instead. Every cluster gets a fresh database made with `CREATE DATABASE ...
 *   TEMPLATE`, dropped when it stops; the templates are dropped at the end.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { Redis } from 'ioredis';
import pg from 'pg';
import { startPresently, track, type ServerProc, type SpawnPlan } from './procs.js';
import { cpuSeconds } from './procstat.js';
import { APP, seedAccounts, type Workspace } from './setup.js';
import { friendGraph, userID } from './graph.js';
import { pgQuery } from '../../packages/server/src/testing/postgres.js';

export const PG_ADMIN_URL = process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

/** Redis counters at one instant: calls per command (`INFO commandstats`) and CPU seconds (`INFO cpu`). */
export interface RedisSnapshot {
  calls: Record<string, number>;
  /** Microseconds Redis spent in each command (INFO commandstats usec). */
  usec: Record<string, number>;
  cpuSec: number;
}

/** Calls per command between two snapshots (the probe's own INFO calls left out), and CPU seconds. */
export function redisDelta(a: RedisSnapshot, b: RedisSnapshot): { calls: Record<string, number>; usecPerCall: Record<string, number>; total: number; cpuSec: number } {
  const calls: Record<string, number> = {};
  const usecPerCall: Record<string, number> = {};
  let total = 0;
  for (const [cmd, n] of Object.entries(b.calls)) {
    if (cmd === 'info') continue;
    const d = n - (a.calls[cmd] ?? 0);
    if (d > 0) {
      calls[cmd] = d;
      usecPerCall[cmd] = ((b.usec[cmd] ?? 0) - (a.usec[cmd] ?? 0)) / d;
      total += d;
    }
  }
  return { calls, usecPerCall, total, cpuSec: b.cpuSec - a.cpuSec };
}

/** Reads Redis's counters over its own connection. */
export class RedisProbe {
  private readonly client: Redis;
  constructor(
    readonly url: string,
    /** The redis-server pid when the bench started it (for /proc figures), else undefined. */
    readonly pid: number | undefined,
  ) {
    this.client = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 2 });
    this.client.on('error', () => undefined);
  }

  async snapshot(): Promise<RedisSnapshot> {
    if (this.client.status === 'wait') await this.client.connect();
    const [stats, cpu] = await Promise.all([this.client.info('commandstats'), this.client.info('cpu')]);
    const calls: Record<string, number> = {};
    const usec: Record<string, number> = {};
    for (const m of stats.matchAll(/^cmdstat_([^:]+):calls=(\d+),usec=(\d+)/gm)) {
      calls[m[1]!.toLowerCase()] = Number(m[2]);
      usec[m[1]!.toLowerCase()] = Number(m[3]);
    }
    const num = (k: string) => Number(new RegExp(`^${k}:([\\d.]+)`, 'm').exec(cpu)?.[1] ?? NaN);
    return { calls, usec, cpuSec: num('used_cpu_sys') + num('used_cpu_user') };
  }

  /** Memory Redis uses for data (used_memory), bytes. */
  async memory(): Promise<number> {
    if (this.client.status === 'wait') await this.client.connect();
    return Number(/^used_memory:(\d+)/m.exec(await this.client.info('memory'))?.[1] ?? NaN);
  }

  /** Deletes every key of a cluster's prefix (`{prefix}:...` and `{prefix:app}:...`). */
  async dropPrefix(prefix: string): Promise<number> {
    if (this.client.status === 'wait') await this.client.connect();
    let cursor = '0';
    let n = 0;
    do {
      const [next, keys] = await this.client.scan(cursor, 'MATCH', `{${prefix}*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length > 0) n += await this.client.unlink(...keys);
    } while (cursor !== '0');
    return n;
  }

  close(): void {
    this.client.disconnect();
  }
}

/**
 * CPU of a changing set of processes (PostgreSQL backends come and go with the nodes' pools):
 * processes that exist at the end count from the start (or from their birth).
 */
export class PidsMeter {
  private readonly cpu0 = new Map<number, number>();
  private t0 = 0;
  private constructor(private readonly list: () => Promise<number[]>) {}

  static async start(list: () => Promise<number[]>): Promise<PidsMeter> {
    const m = new PidsMeter(list);
    for (const p of await list().catch(() => [])) m.cpu0.set(p, cpuSeconds(p));
    m.t0 = Date.now();
    return m;
  }

  /** Cores used since the start. */
  async end(): Promise<number> {
    const pids = await this.list().catch(() => []);
    let s = 0;
    for (const p of pids) {
      const c = cpuSeconds(p) - (this.cpu0.get(p) ?? 0);
      if (Number.isFinite(c)) s += c;
    }
    return s / ((Date.now() - this.t0) / 1000);
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      s.close(() => (a && typeof a === 'object' ? resolve(a.port) : reject(new Error('no port'))));
    });
  });
}

async function startRedisServer(): Promise<{ url: string; proc: ChildProcess }> {
  const port = await freePort();
  const proc = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--maxclients', '10000'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  track(proc);
  const lines: string[] = [];
  await new Promise<void>((resolve, reject) => {
    const rl = createInterface({ input: proc.stdout });
    rl.on('line', (l) => {
      lines.push(l);
      if (/Ready to accept connections/.test(l)) resolve();
    });
    proc.once('error', (err) => reject(new Error(`redis-server: ${err.message} (is it installed? or set BENCH_REDIS_URL)`)));
    proc.once('exit', (code) => reject(new Error(`redis-server exited (${code}):\n${lines.join('\n')}`)));
  });
  return { url: `redis://127.0.0.1:${port}`, proc };
}

function pgAdmin(statement: string): Promise<void> {
  return pgQuery(statement, PG_ADMIN_URL);
}

/**
 * Writes N accounts and the mutual friend graph the way the REST import does (same rows: default
 * columns, add_source 'AddSource_Type_Bench', add_time in seconds), in bulk, into a database the
 * server has migrated.
 */
export async function sqlSeed(url: string, n: number, k: number, graphSeed: number): Promise<void> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    await c.query('BEGIN');
    const CHUNK = 20_000;
    for (let i = 0; i < n; i += CHUNK) {
      const ids = Array.from({ length: Math.min(CHUNK, n - i) }, (_, j) => userID(i + j));
      await c.query('INSERT INTO accounts (app, user_id) SELECT $1, unnest($2::text[])', [APP, ids]);
    }
    const adj = friendGraph(n, k, graphSeed);
    const addTime = Math.floor(Date.now() / 1000);
    const per = Math.ceil((CHUNK * 5) / k);
    for (let i = 0; i < n; i += per) {
      const from: string[] = [];
      const to: string[] = [];
      for (let u = i; u < Math.min(n, i + per); u++) {
        for (let j = 0; j < k; j++) {
          from.push(userID(u));
          to.push(userID(adj[u * k + j]!));
        }
      }
      await c.query(
        "INSERT INTO friends (app, from_id, to_id, remark, groups, add_source, add_time) SELECT $1, unnest($2::text[]), unnest($3::text[]), '', '[]', 'AddSource_Type_Bench', $4",
        [APP, from, to, addTime],
      );
    }
    await c.query('COMMIT');
    await c.query('ANALYZE');
  } finally {
    await c.end();
  }
}

function dbUrl(name: string): string {
  const u = new URL(PG_ADMIN_URL);
  u.pathname = `/${name}`;
  return u.href;
}

/** A running cluster: its nodes (n0, n1, ...), database, key prefix and Redis. */
export interface ClusterProc {
  nodes: ServerProc[];
  prefix: string;
  db: string;
  redis: RedisProbe;
  /** PostgreSQL backend processes serving the cluster's database now (pg_stat_activity). */
  pgPids(): Promise<number[]>;
  /** SIGKILLs every node (no drain: the figures are taken), drops the database and the prefix's keys. */
  stop(): Promise<void>;
}

export class ClusterInfra {
  private redisProc: ChildProcess | null = null;
  private probe: RedisProbe | null = null;
  private readonly templates = new Map<number, string>();
  private readonly dbs = new Set<string>();
  private count = 0;
  /** Unique per bench process: databases and key prefixes of different bench runs never meet. */
  private readonly tag = `${process.pid}_${Date.now().toString(36)}`;

  constructor(
    private readonly ws: Workspace,
    private readonly log: (s: string) => void,
  ) {}

  async redis(): Promise<RedisProbe> {
    if (this.probe) return this.probe;
    if (process.env.BENCH_REDIS_URL) {
      this.probe = new RedisProbe(process.env.BENCH_REDIS_URL, undefined);
      this.log(`  cluster Redis: ${process.env.BENCH_REDIS_URL} (BENCH_REDIS_URL; its command and CPU deltas include any other client's)`);
    } else {
      const r = await startRedisServer();
      this.redisProc = r.proc;
      this.probe = new RedisProbe(r.url, r.proc.pid);
      this.log(`  cluster Redis: private redis-server ${r.url} (pid ${r.proc.pid}, no persistence)`);
    }
    await this.probe.snapshot();
    return this.probe;
  }

  /** A template database with N accounts and the friend graph, imported over REST once per N. */
  private async template(n: number): Promise<string> {
    const have = this.templates.get(n);
    if (have) return have;
    const name = `presently_bench_${this.tag}_tpl_n${n}`;
    await pgAdmin(`CREATE DATABASE ${name}`);
    this.dbs.add(name);
    const t0 = Date.now();
    const dir = mkdtempSync(join(this.ws.dir, 'pg-seed-'));
    const overRest = process.env.BENCH_PG_SEED === 'rest';
    const srv = await startPresently(dir, this.ws.configPath, this.ws.plans.server, { DATABASE_URL: dbUrl(name) });
    try {
      if (overRest) await seedAccounts(srv, n, this.ws.k, this.ws.seed);
    } finally {
      await srv.stop();
      rmSync(dir, { recursive: true, force: true });
    }
    if (!overRest) await sqlSeed(dbUrl(name), n, this.ws.k, this.ws.seed);
    this.log(
      `  seeded ${n} accounts and ${n * this.ws.k} friend entries into PostgreSQL (${overRest ? 'over REST' : 'schema by the server, rows in bulk SQL'}) in ${((Date.now() - t0) / 1000).toFixed(1)} s`,
    );
    this.templates.set(n, name);
    return name;
  }

  /** Starts `nodes` Presently nodes (one after the other) on a fresh database with N users; `env` is added to every node's environment. */
  async start(n: number, nodes: number, plan: SpawnPlan = {}, env: Record<string, string> = {}): Promise<ClusterProc> {
    const redis = await this.redis();
    const tpl = await this.template(n);
    const id = ++this.count;
    const db = `presently_bench_${this.tag}_c${id}`;
    const prefix = `bench_${this.tag}_c${id}`;
    const t0 = Date.now();
    await pgAdmin(`CREATE DATABASE ${db} TEMPLATE ${tpl}`);
    this.dbs.add(db);
    const procs: ServerProc[] = [];
    const dirs: string[] = [];
    const stop = async (): Promise<void> => {
      await Promise.all(procs.map((p) => p.stop({ kill: true }).catch(() => undefined)));
      for (const d of dirs) rmSync(d, { recursive: true, force: true });
      await pgAdmin(`DROP DATABASE IF EXISTS ${db} WITH (FORCE)`).catch(() => undefined);
      this.dbs.delete(db);
      await redis.dropPrefix(prefix).catch(() => undefined);
    };
    // The nodes start together (each loads the accounts and the friend graph from PostgreSQL).
    const started = await Promise.allSettled(
      Array.from({ length: nodes }, (_, i) => {
        const dir = mkdtempSync(join(this.ws.dir, `node${i}-`));
        dirs.push(dir);
        return startPresently(
          dir,
          this.ws.configPath,
          { ...this.ws.plans.server, ...plan },
          {
            DATABASE_URL: dbUrl(db),
            REDIS_URL: redis.url,
            PRESENTLY_REDIS_PREFIX: prefix,
            PRESENTLY_NODE_ID: `n${i}`,
            ...env,
          },
        );
      }),
    );
    for (const r of started) if (r.status === 'fulfilled') procs.push(r.value);
    const failed = started.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) {
      await stop();
      throw failed.reason;
    }
    const design = env.PRESENTLY_CLUSTER ? ` (PRESENTLY_CLUSTER=${env.PRESENTLY_CLUSTER})` : '';
    this.log(`  cluster of ${nodes} node${nodes > 1 ? 's' : ''}${design} up on database ${db} (copied from the template) in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    const pgPids = async (): Promise<number[]> => {
      const c = new pg.Client({ connectionString: PG_ADMIN_URL });
      await c.connect();
      try {
        const r = await c.query<{ pid: number }>('SELECT pid FROM pg_stat_activity WHERE datname = $1', [db]);
        return r.rows.map((x) => Number(x.pid));
      } finally {
        await c.end();
      }
    };
    return { nodes: procs, prefix, db, redis, pgPids, stop };
  }

  /** Drops the template databases and stops the private redis-server. */
  async cleanup(): Promise<void> {
    for (const db of this.dbs) await pgAdmin(`DROP DATABASE IF EXISTS ${db} WITH (FORCE)`).catch(() => undefined);
    this.dbs.clear();
    this.probe?.close();
    const p = this.redisProc;
    if (p && p.exitCode === null && p.signalCode === null) {
      const exited = new Promise<void>((r) => p.once('exit', () => r()));
      p.kill('SIGTERM');
      const t = setTimeout(() => p.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(t);
    }
  }
}
