import type { Mode } from '../modes.js';
import type { ClusterInfra, ClusterProc } from '../cluster.js';
import type { Pool } from '../pool.js';
import type { ServerProc, SpawnPlan } from '../procs.js';
import type { Workspace } from '../setup.js';
import type { LoginResult } from '../ipc.js';
import { Hist } from '../stats.js';
import { cpuProfile, summarizeProfile } from '../inspector.js';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** presently: one Presently process; baseline: the raw-ws server; cluster: Presently nodes on Redis. */
export type Kind = 'presently' | 'baseline' | 'cluster';

export interface Ctx {
  mode: Mode;
  ws: Workspace;
  seed: number;
  log: (s: string) => void;
  /** The cluster backend (Redis, PostgreSQL), for the cluster scenarios. */
  cluster?: ClusterInfra;
}

export interface Target {
  kind: Kind;
  /** The server (the first node of a cluster). */
  srv: ServerProc;
  /** Every server process: [srv] on one process, every node of a cluster. */
  nodes: ServerProc[];
  cluster: ClusterProc | null;
  pool: Pool;
  n: number;
  workers: number;
}

/**
 * Starts a fresh server of the kind for N users (a cluster: `nodes` nodes) and its workers (not
 * logged in yet; with a cluster, each worker's users are spread over every node).
 */
export async function bringUp(
  ctx: Ctx,
  kind: Kind,
  n: number,
  workers: number,
  extra: SpawnPlan = {},
  nodes = 2,
  /** A cluster's nodes' extra environment (PRESENTLY_CLUSTER=v2). */
  clusterEnv: Record<string, string> = {},
): Promise<Target> {
  if (kind === 'cluster') {
    if (!ctx.cluster) throw new Error('no cluster backend in this context');
    const c = await ctx.cluster.start(n, nodes, extra, clusterEnv);
    try {
      const pool = await ctx.ws.workers(c.nodes, n, workers);
      return { kind, srv: c.nodes[0]!, nodes: c.nodes, cluster: c, pool, n, workers };
    } catch (err) {
      await c.stop();
      throw err;
    }
  }
  const srv = kind === 'presently' ? await ctx.ws.presently(n, extra) : await ctx.ws.baseline(n, extra);
  try {
    const pool = await ctx.ws.workers(srv, n, workers);
    return { kind, srv, nodes: [srv], cluster: null, pool, n, workers };
  } catch (err) {
    await srv.stop();
    throw err;
  }
}

export async function tearDown(t: Target): Promise<void> {
  // A cluster's nodes go first (SIGKILL): closing every client socket first would make every
  // node apply a disconnect entry per session, which measures nothing.
  if (t.cluster) await t.cluster.stop().catch(() => undefined);
  await t.pool.stop().catch(() => undefined);
  await t.srv.stop().catch(() => undefined);
}

/** Global user index of worker w's l-th user (users are dealt round-robin). */
export const globalOf = (w: number, l: number, workers: number): number => w + l * workers;

export interface LoginAll {
  ok: number;
  failed: number;
  errors: string[];
  hist: Hist;
  handshake: Hist;
  reply: Hist;
  sentAt: Float64Array;
  loginAt: Float64Array;
  doneAt: Float64Array;
}

/** Logs every user of the target in, at most `inFlight` logins at once over all workers. */
export async function loginAll(t: Target, inFlight: number, perWorker?: number): Promise<LoginAll> {
  const concurrency = Math.max(1, Math.floor(inFlight / t.workers));
  const res: LoginResult[] = await t.pool.all('login', perWorker === undefined ? { concurrency } : { concurrency, count: perWorker });
  const sentAt = new Float64Array(t.n);
  const loginAt = new Float64Array(t.n);
  const doneAt = new Float64Array(t.n);
  res.forEach((r, w) => {
    r.sentAt.forEach((v, l) => (sentAt[globalOf(w, l, t.workers)] = v));
    r.loginAt.forEach((v, l) => (loginAt[globalOf(w, l, t.workers)] = v));
    r.doneAt.forEach((v, l) => (doneAt[globalOf(w, l, t.workers)] = v));
  });
  return {
    ok: res.reduce((a, r) => a + r.ok, 0),
    failed: res.reduce((a, r) => a + r.failed, 0),
    errors: res.flatMap((r) => r.errors),
    hist: Hist.from(res.map((r) => r.hist)),
    handshake: Hist.from(res.map((r) => r.handshake)),
    reply: Hist.from(res.map((r) => r.reply)),
    sentAt,
    loginAt,
    doneAt,
  };
}

export async function mustLoginAll(t: Target, inFlight: number, perWorker?: number): Promise<LoginAll> {
  const r = await loginAll(t, inFlight, perWorker);
  if (r.failed > 0) throw new Error(`${t.kind}: ${r.failed} of ${r.ok + r.failed} logins failed: ${r.errors.join('; ')}\n${t.srv.tail()}`);
  return r;
}

export const fmtN = (n: number): string => n.toLocaleString('en-US');

/**
 * With BENCH_PROFILE_DIR set, the first server (a cluster's node n0), started with the inspector
 * open, is CPU-profiled while `fn` runs: the profile is written there as <name>.cpuprofile and
 * its top functions by self time go to the log.
 */
export async function profiled<T>(ctx: Ctx, t: Target, name: string, fn: () => Promise<T>, intervalUs = 1000): Promise<T> {
  const dir = process.env.BENCH_PROFILE_DIR;
  const url = t.nodes[0]?.inspector;
  if (!dir || !url) return fn();
  const [out, profile] = await cpuProfile(url, fn, intervalUs);
  const file = join(dir, `${name}.cpuprofile`);
  writeFileSync(file, JSON.stringify(profile));
  ctx.log(
    `  CPU profile of ${t.kind} ${t.nodes.length > 1 ? 'node n0' : 'server'} during ${name}: ${file}; top functions by self time:\n${summarizeProfile(profile)
      .map((l) => `      ${l}`)
      .join('\n')}`,
  );
  return out;
}
