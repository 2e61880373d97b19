/**
 * W1 (friends churn), W5 (queries) and W4 (abrupt disconnects) share one "online" setup: a fresh
 * server with N users, every user logged in. They run in that order (W4 is destructive).
 */
import { now, sleep } from '../clock.js';
import { pickUsers } from '../graph.js';
import { workersFor } from '../modes.js';
import { Meter, Window } from '../procstat.js';
import { Hist } from '../stats.js';
import { PidsMeter, redisDelta, type RedisSnapshot } from '../cluster.js';
import { bringUp, mustLoginAll, profiled, tearDown, type Ctx, type Kind, type Target } from './common.js';

export interface W1Step {
  /** Changes per second asked of the generator. */
  rate: number;
  /** Changes actually sent, and per second. */
  sent: number;
  sentPerSec: number;
  /** Friend notifications the sent changes owe (sent x K), per second. */
  offeredPerSec: number;
  /** Friend notifications received while the churn ran, per second. */
  deliveredPerSec: number;
  /** Friend notifications received (incl. drain) per server CPU second. */
  perCoreSec: number;
  p50: number;
  p99: number;
  max: number;
  missing: number;
  dup: number;
  outOfOrder: number;
  unexpected: number;
  /** Server cores and RSS (MiB, mean) during the churn; load-generator cores. */
  cores: number;
  rssMiB: number;
  loadgenCores: number;
  /** Cores used by other work on the machine during the step (not the bench). */
  foreignCores: number;
  drainMs: number;
  saturated: boolean;
  why: string;
  /** Per server process (one, or each node of a cluster): cores and RSS (MiB, mean) during the churn. */
  nodeCores: number[];
  nodeRssMiB: number[];
  /** Cluster: latency of pairs whose sockets are on the same node / on different nodes (NaN on one process). */
  p50Same: number;
  p99Same: number;
  p50Cross: number;
  p99Cross: number;
  maxCross: number;
  /** Cluster: Redis cores during the churn (INFO cpu), NaN without Redis. */
  redisCores: number;
  /** Cluster: notifications per core-second of the nodes and Redis together. */
  perCoreSecWithRedis: number;
  /** Cluster: Redis commands per status change sent, over the step and its drain (INFO commandstats), by command and 'total'. */
  redisPerChange: Record<string, number>;
  /** Cluster: microseconds Redis spent per call, by command, over the step. */
  redisUsecPerCall: Record<string, number>;
  /** Friend notifications received over the step and its drain. */
  delivered: number;
  /** CPU-seconds over the step and its drain: all server processes (every node), Redis (INFO cpu; NaN without Redis), the cluster database's PostgreSQL backends (NaN without). */
  cpuSec: number;
  redisCpuSec: number;
  pgCpuSec: number;
}

export interface W5Result {
  ids: number;
  perSec: number;
  perCoreSec: number;
  cores: number;
  p50: number;
  p99: number;
  errors: number;
  firstError: string;
  loadgenCores: number;
  foreignCores: number;
}

export interface W4Result {
  victims: number;
  pairs: number;
  missing: number;
  p50: number;
  p99: number;
  max: number;
  /** CPU used from the first destroy until every OFFLINE arrived: the server, the load generator (ms). */
  serverCpuMs: number;
  loadgenCpuMs: number;
}

export interface OnlineRun {
  kind: Kind;
  n: number;
  k: number;
  steps: W1Step[];
  w5: W5Result[];
  w4: W4Result | null;
  closedUnexpected: number;
  closeCodes: Record<string, number>;
}

export interface OnlineOptions {
  w1: boolean;
  w5: boolean;
  w4: boolean;
  /** W1 at these rates only (after the warm-up), none skipped for saturation; default: the mode's steps. */
  rates?: number[];
  /** W1 seconds per step (default the mode's). */
  stepSec?: number;
  /** A cluster's nodes (default the mode's C1 nodes) and their extra environment. */
  nodes?: number;
  clusterEnv?: Record<string, string>;
}

export async function runOnline(ctx: Ctx, kind: Kind, run: number, opt: OnlineOptions): Promise<OnlineRun> {
  const { mode } = ctx;
  const t = await bringUp(ctx, kind, mode.n, workersFor(mode, mode.n), process.env.BENCH_PROFILE_DIR ? { inspect: true } : {}, opt.nodes ?? mode.c1Nodes, opt.clusterEnv ?? {});
  try {
    const login = await mustLoginAll(t, mode.w2InFlight);
    const where = t.nodes.length > 1 ? ` on ${t.nodes.length} nodes, ${Math.round(login.ok / t.nodes.length)} each` : '';
    ctx.log(`  ${kind}: ${login.ok} users online${where} (${t.workers} load-generator process${t.workers > 1 ? 'es' : ''})`);
    await sleep(500);
    const out: OnlineRun = { kind, n: t.n, k: mode.k, steps: [], w5: [], w4: null, closedUnexpected: 0, closeCodes: {} };
    if (opt.w1) out.steps = await w1(ctx, t, run, opt);
    if (opt.w5) {
      await sleep(500);
      for (const ids of [1, 500]) out.w5.push(await w5(ctx, t, ids, run));
    }
    const st = await t.pool.all('status', {});
    out.closedUnexpected = st.reduce((a, s) => a + s.closedUnexpected, 0);
    for (const s of st) for (const [c, v] of Object.entries(s.closeCodes)) out.closeCodes[c] = (out.closeCodes[c] ?? 0) + v;
    if (opt.w4) out.w4 = await w4(ctx, t, run);
    return out;
  } finally {
    await tearDown(t);
  }
}

// ---- W1 --------------------------------------------------------------------------------------

async function w1(ctx: Ctx, t: Target, run: number, opt: OnlineOptions): Promise<W1Step[]> {
  const { mode } = ctx;
  const steps: W1Step[] = [];
  await step(ctx, t, opt.rates?.[0] ?? mode.steps[0]!, mode.warmSec, run * 1000 + 999); // warm-up, not recorded
  const schedule = [...(opt.rates ?? mode.steps)];
  let last = schedule[schedule.length - 1]!;
  if (!opt.rates) for (let i = 0; i < mode.extraSteps; i++) schedule.push((last *= 2));
  for (const [i, rate] of schedule.entries()) {
    const s = await step(ctx, t, rate, opt.stepSec ?? mode.stepSec, run * 1000 + i);
    steps.push(s);
    const clusterText =
      t.nodes.length > 1
        ? ` [${t.nodes.length} nodes: ${s.nodeCores.map((c) => c.toFixed(2)).join('+')} cores, ${s.nodeRssMiB.map((r) => r.toFixed(0)).join('/')} MiB; ` +
          `cross-node p50 ${s.p50Cross.toFixed(1)} p99 ${s.p99Cross.toFixed(1)}, same-node p99 ${s.p99Same.toFixed(1)} ms; ` +
          `Redis ${s.redisCores.toFixed(2)} cores, ${Object.entries(s.redisPerChange)
            .filter(([, v]) => v >= 0.005)
            .map(([c, v]) => `${c} ${v.toFixed(2)}${s.redisUsecPerCall[c] !== undefined ? ` (${s.redisUsecPerCall[c].toFixed(1)} µs)` : ''}`)
            .join(', ')} per change]`
        : '';
    ctx.log(
      `  ${t.kind} W1 ${rate}/s: ${Math.round(s.deliveredPerSec)} notif/s, ${Math.round(s.perCoreSec)} notif/core-s, ` +
        `p50 ${s.p50.toFixed(1)} p99 ${s.p99.toFixed(1)} max ${s.max.toFixed(1)} ms, missing/dup/ooo ${s.missing}/${s.dup}/${s.outOfOrder}, ` +
        `server ${s.cores.toFixed(2)} cores ${s.rssMiB.toFixed(0)} MiB, loadgen ${s.loadgenCores.toFixed(2)} cores, other work ${s.foreignCores.toFixed(2)} cores${clusterText}${s.saturated ? ` — saturated (${s.why})` : ''}`,
    );
    if (s.saturated && !opt.rates && i >= mode.steps.length - 1) break;
  }
  return steps;
}

async function step(ctx: Ctx, t: Target, rate: number, seconds: number, seed: number): Promise<W1Step> {
  const { mode } = ctx;
  const redis = t.cluster?.redis;
  const redisPid = redis?.pid;
  const r0: RedisSnapshot | undefined = await redis?.snapshot();
  const win = new Meter(
    t.nodes.map((n) => n.pid),
    t.pool.pids,
    redisPid === undefined ? [] : [redisPid],
  );
  const cl = t.cluster;
  const pgm = cl ? await PidsMeter.start(() => cl.pgPids()) : undefined;
  const pg0 = now();
  const t0 = now();
  await t.pool.all('churnStart', (w) => ({ rate: rate / t.workers, seed: ctx.seed * 7919 + seed * 31 + w }));
  await sleep(seconds * 1000);
  const stops = await t.pool.all('churnStop', {});
  const churnSec = (now() - t0) / 1000;
  const during = win.peek();
  const r1: RedisSnapshot | undefined = await redis?.snapshot();
  const sent = stops.reduce((a, s) => a + s.sent, 0);
  const expected = sent * mode.k;

  // Drain: until every owed notification arrived, nothing moved for 1 s, or the longest drain.
  const d0 = now();
  let lastDelivered = -1;
  let lastMove = now();
  for (;;) {
    const prog = await t.pool.all('progress', {});
    const delivered = prog.reduce((a, p) => a + p.delivered, 0);
    if (delivered >= expected) break;
    if (delivered !== lastDelivered) {
      lastDelivered = delivered;
      lastMove = now();
    } else if (now() - lastMove > 1000) break;
    if (now() - d0 > mode.drainMaxSec * 1000) break;
    await sleep(25);
  }
  const drainMs = now() - d0;
  const total = win.end();
  const r2: RedisSnapshot | undefined = await redis?.snapshot();
  const pgCpuSec = pgm ? (await pgm.end()) * ((now() - pg0) / 1000) : NaN;

  const finalSeq = new Int32Array(t.n);
  for (const s of stops) for (let i = 0; i < s.seqs.length; i += 2) finalSeq[s.seqs[i]!] = s.seqs[i + 1]!;
  const phases = await t.pool.all('collect', { finalSeq });
  const hist = Hist.from(phases.map((p) => p.hist));
  const same = Hist.from(phases.map((p) => p.histSame));
  const cross = Hist.from(phases.map((p) => p.histCross));
  const redisDuring = r0 && r1 ? redisDelta(r0, r1) : undefined;
  const redisStep = r0 && r2 ? redisDelta(r0, r2) : undefined;
  const redisPerChange: Record<string, number> = {};
  if (redisStep && sent > 0) {
    redisPerChange.total = redisStep.total / sent;
    for (const [cmd, n] of Object.entries(redisStep.calls).sort((a, b) => b[1] - a[1])) redisPerChange[cmd] = n / sent;
  }
  const sum = (f: (p: (typeof phases)[number]) => number) => phases.reduce((a, p) => a + f(p), 0);
  const delivered = sum((p) => p.delivered);
  const deliveredPerSec = sum((p) => p.deliveredInWindow) / churnSec;
  const offeredPerSec = expected / churnSec;
  const p99 = hist.percentile(99);
  const why: string[] = [];
  if (sent < 0.95 * rate * seconds) why.push(`generator sent ${Math.round(sent / churnSec)}/s of ${rate}/s`);
  if (deliveredPerSec < 0.9 * offeredPerSec) why.push(`delivered ${Math.round(deliveredPerSec)}/s of ${Math.round(offeredPerSec)}/s owed`);
  if (p99 > 500) why.push(`p99 ${p99.toFixed(0)} ms`);
  return {
    rate,
    sent,
    sentPerSec: sent / churnSec,
    offeredPerSec,
    deliveredPerSec,
    perCoreSec: delivered / total.cpuSec,
    p50: hist.percentile(50),
    p99,
    max: hist.max,
    missing: sum((p) => p.missing),
    dup: sum((p) => p.dup),
    outOfOrder: sum((p) => p.outOfOrder),
    unexpected: sum((p) => p.unexpected),
    cores: during.cores,
    rssMiB: Math.max(...during.servers.map((x) => x.rssMean)) / 2 ** 20,
    loadgenCores: during.loadgenCores,
    foreignCores: during.foreignCores,
    drainMs,
    saturated: why.length > 0,
    why: why.join('; '),
    nodeCores: during.servers.map((x) => x.cores),
    nodeRssMiB: during.servers.map((x) => x.rssMean / 2 ** 20),
    p50Same: same.percentile(50),
    p99Same: same.percentile(99),
    p50Cross: cross.percentile(50),
    p99Cross: cross.percentile(99),
    maxCross: cross.n > 0 ? cross.max : NaN,
    redisCores: redisDuring ? redisDuring.cpuSec / during.seconds : NaN,
    perCoreSecWithRedis: redisStep ? delivered / (total.cpuSec + redisStep.cpuSec) : NaN,
    redisPerChange,
    redisUsecPerCall: redisStep?.usecPerCall ?? {},
    delivered,
    cpuSec: total.cpuSec,
    redisCpuSec: redisStep ? redisStep.cpuSec : NaN,
    pgCpuSec,
  };
}

// ---- W5 --------------------------------------------------------------------------------------

async function w5(ctx: Ctx, t: Target, ids: number, run: number): Promise<W5Result> {
  const { mode } = ctx;
  const startAt = now() + 300;
  const durationMs = mode.w5Sec * 1000;
  const pending = t.pool.all('query', (w) => ({
    ids,
    conns: Math.max(1, Math.floor(mode.w5Conns / t.workers)),
    startAt,
    durationMs,
    seed: ctx.seed * 131 + run * 17 + w,
  }));
  await sleep(startAt - now());
  const win = new Window(t.srv.pid, t.pool.pids);
  await sleep(durationMs);
  const st = win.end();
  const res = await pending;
  const count = res.reduce((a, r) => a + r.count, 0);
  const hist = Hist.from(res.map((r) => r.hist));
  const r: W5Result = {
    ids,
    perSec: count / st.seconds,
    perCoreSec: count / st.cpuSec,
    cores: st.cores,
    p50: hist.percentile(50),
    p99: hist.percentile(99),
    errors: res.reduce((a, x) => a + x.errors, 0),
    firstError: res.find((x) => x.firstError)?.firstError ?? '',
    loadgenCores: st.otherCores,
    foreignCores: st.foreignCores,
  };
  ctx.log(
    `  ${t.kind} W5 getUserStatus(${ids}): ${Math.round(r.perSec)} rt/s, ${Math.round(r.perCoreSec)} rt/core-s, ` +
      `p50 ${r.p50.toFixed(2)} p99 ${r.p99.toFixed(2)} ms, server ${r.cores.toFixed(2)} cores, loadgen ${r.loadgenCores.toFixed(2)}, other work ${r.foreignCores.toFixed(2)}${r.errors ? `, ${r.errors} errors (${r.firstError})` : ''}`,
  );
  return r;
}

// ---- W4 --------------------------------------------------------------------------------------

async function w4(ctx: Ctx, t: Target, run: number): Promise<W4Result> {
  const { mode } = ctx;
  const victims = pickUsers(t.n, mode.w4Victims, ctx.seed * 977 + run);
  await t.pool.all('track', { offline: true });
  await sleep(200);
  const meter = new Meter(
    t.nodes.map((n) => n.pid),
    t.pool.pids,
  );
  const waits = await profiled(
    ctx,
    t,
    `w4-${t.kind}-${run}`,
    async () => {
      const res = await t.pool.all('destroy', (w) => ({ users: victims.filter((v) => v % t.workers === w) }));
      const victimTime = new Float64Array(t.n);
      for (const r of res) for (let i = 0; i < r.times.length; i += 2) victimTime[r.times[i]!] = r.times[i + 1]!;
      return t.pool.all('offlineWait', { victimTime, timeoutMs: mode.w4TimeoutSec * 1000 });
    },
    200,
  );
  const cpu = meter.end();
  const hist = Hist.from(waits.map((x) => x.hist));
  const r: W4Result = {
    victims: victims.length,
    pairs: waits.reduce((a, x) => a + x.pairs, 0),
    missing: waits.reduce((a, x) => a + x.missing, 0),
    p50: hist.percentile(50),
    p99: hist.percentile(99),
    max: hist.max,
    serverCpuMs: cpu.cpuSec * 1000,
    loadgenCpuMs: cpu.loadgenCores * cpu.seconds * 1000,
  };
  ctx.log(
    `  ${t.kind} W4 ${r.victims} sockets destroyed: ${r.pairs - r.missing}/${r.pairs} friend OFFLINEs, ` +
      `p50 ${r.p50.toFixed(1)} p99 ${r.p99.toFixed(1)} max ${r.max.toFixed(1)} ms; CPU server ${r.serverCpuMs.toFixed(0)} ms, load generator ${r.loadgenCpuMs.toFixed(0)} ms`,
  );
  return r;
}
