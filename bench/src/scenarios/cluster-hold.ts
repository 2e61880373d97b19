/**
 * W3C: W3 on the cluster backend. S idle sessions (K friends and `w3Subs` subscriptions each) over
 * `w3cNodes` Presently nodes sharing Redis and PostgreSQL, heartbeats at the server's real
 * interval. The load generator spreads its sockets over every node (and over several processes
 * and source addresses, as W3 does).
 *
 * By design every node holds a full replica of the presence state of every session (state
 * replicated, sockets local), so a node's memory grows with the **cluster's** sessions, not only
 * with its own sockets. Memory is measured as in W3 (forced full GC through each node's V8
 * inspector, at the margin: 10% of the sessions first, reading a; then the rest, reading b after
 * the hold): per node, (b - a) / 0.9 S is the node's cost per session of the cluster, and the sum
 * over the nodes is what one session costs the whole cluster (compare W3's one process).
 */
import { now, sleep } from '../clock.js';
import { collectGarbage } from '../inspector.js';
import { workersFor } from '../modes.js';
import { Meter } from '../procstat.js';
import { PidsMeter, redisDelta } from '../cluster.js';
import { bringUp, fmtN, mustLoginAll, profiled, tearDown, type Ctx, type Target } from './common.js';
import { loginSpan, subscribeAll } from './hold.js';

export interface W3CResult {
  sessions: number;
  nodes: number;
  subscriptions: number;
  /** Sessions open at the end (client side), and closed by a server. */
  ready: number;
  closedUnexpected: number;
  closeCodes: Record<string, number>;
  /** Heartbeats the clients sent, and replies not received. */
  heartbeats: number;
  heartbeatsMissed: number;
  /** Sessions the nodes declared dead for missing heartbeats (presently_heartbeat_timeouts_total, all nodes). */
  heartbeatTimeouts: number;
  /** Sockets per node at the end (presently_connections). */
  connections: number[];
  /** Wall time of logging every session in (the two phases), s; logins/s over it; login p99, ms. */
  loginSec: number;
  loginsPerSec: number;
  loginP99: number;
  /** Wall time of the subscribe calls (both phases), s. */
  subscribeSec: number;
  /** While the last 90% logged in, and while they subscribed: cores of the nodes (sum), Redis, PostgreSQL (the cluster's backends), the load generator, other work. */
  loginPhase: PhaseCpu;
  subscribePhase: PhaseCpu;
  /** Per node, MiB: RSS after GC with no session, after 10%, after all + the hold; mean during the hold. */
  rssIdleMiB: number[];
  rssFirstMiB: number[];
  rssAfterMiB: number[];
  rssHoldMiB: number[];
  /** Per node: marginal RSS and JS heap per session of the cluster, KiB. */
  rssPerSessionKiB: number[];
  heapPerSessionKiB: number[];
  /** Sum over the nodes of the marginal RSS: one session's cost to the whole cluster, KiB. */
  clusterRssPerSessionKiB: number;
  /** Per node: CPU during the hold, % of one core. */
  cpuPctOfCore: number[];
  /** Redis during the hold: cores, commands per second, memory (MiB, used_memory at the end). */
  redisCores: number;
  redisCallsPerSec: number;
  redisMemMiB: number;
  loadgenCores: number;
  foreignCores: number;
  holdSec: number;
  /** Whole scenario, bring-up to tear-down, s. */
  wallSec: number;
}

export interface PhaseCpu {
  nodes: number;
  redis: number;
  pg: number;
  loadgen: number;
  other: number;
}

/** Measures the CPU of everything involved while `fn` runs. */
async function phaseCpu<T>(t: Target, fn: () => Promise<T>): Promise<[T, PhaseCpu]> {
  const c = t.cluster!;
  const pg = await PidsMeter.start(() => c.pgPids());
  const r0 = await c.redis.snapshot();
  const m = new Meter(
    t.nodes.map((n) => n.pid),
    t.pool.pids,
    c.redis.pid === undefined ? [] : [c.redis.pid],
    1000,
  );
  const out = await fn();
  const st = m.end();
  const r1 = await c.redis.snapshot();
  const pgCores = await pg.end();
  return [out, { nodes: st.cores, redis: (r1.cpuSec - r0.cpuSec) / st.seconds, pg: pgCores, loadgen: st.loadgenCores, other: Math.max(0, st.foreignCores - pgCores) }];
}

const cpuText = (p: PhaseCpu): string =>
  `nodes ${p.nodes.toFixed(2)} cores, Redis ${p.redis.toFixed(2)}, PostgreSQL ${p.pg.toFixed(2)}, loadgen ${p.loadgen.toFixed(2)}, other work ${p.other.toFixed(2)}`;

interface Reading {
  rss: number[];
  heap: number[];
}

/** Forces a full GC in every node, then reads each one's RSS (mean over 1.5 s) and JS heap. */
async function reading(t: Target): Promise<Reading> {
  const heap: number[] = [];
  for (const n of t.nodes) {
    if (!n.inspector) throw new Error(`cluster: no inspector URL in a node's output`);
    heap.push(await collectGarbage(n.inspector));
  }
  await sleep(300);
  const m = new Meter(
    t.nodes.map((n) => n.pid),
    [],
    [],
    250,
  );
  await sleep(1500);
  return { rss: m.end().servers.map((s) => s.rssMean), heap };
}

async function metric(url: string, name: string): Promise<number> {
  const res = await fetch(`${url}/metrics`);
  const text = await res.text();
  const m = new RegExp(`^${name}(?:\\{[^}]*\\})? ([\\d.e+]+)$`, 'm').exec(text);
  return m ? Number(m[1]) : NaN;
}

const MiB = (xs: number[]): number[] => xs.map((x) => x / 2 ** 20);
const list = (xs: number[], d = 0): string => xs.map((x) => x.toFixed(d)).join('/');

export async function runClusterHold(ctx: Ctx): Promise<W3CResult> {
  const { mode } = ctx;
  const S = mode.w3cSessions;
  const wall0 = now();
  const workers = workersFor(mode, S);
  const t = await bringUp(ctx, 'cluster', S, workers, { inspect: true }, mode.w3cNodes);
  try {
    const redis = t.cluster!.redis;
    await sleep(1000);
    const idle = await reading(t);
    const first = await mustLoginAll(t, mode.w2InFlight, Math.max(1, Math.ceil((S * 0.1) / t.workers)));
    const s0 = now();
    await subscribeAll(ctx, t);
    let subscribeSec = (now() - s0) / 1000;
    await sleep(1000);
    const a = await reading(t);
    ctx.log(`  cluster W3C: ${fmtN(first.ok)} sessions in ${loginSpan(first).toFixed(1)} s, subscribed; RSS after GC ${list(MiB(idle.rss))} -> ${list(MiB(a.rss))} MiB per node`);
    const [rest, loginPhase] = await phaseCpu(t, () => profiled(ctx, t, 'w3c-login', () => mustLoginAll(t, mode.w2InFlight)));
    ctx.log(`  cluster W3C: ${fmtN(first.ok + rest.ok)} sessions logged in (${fmtN(rest.ok)} in ${loginSpan(rest).toFixed(1)} s: ${cpuText(loginPhase)})`);
    const s1 = now();
    const [, subscribePhase] = await phaseCpu(t, () => profiled(ctx, t, 'w3c-subscribe', () => subscribeAll(ctx, t)));
    subscribeSec += (now() - s1) / 1000;
    const loginSec = loginSpan(first) + loginSpan(rest);
    ctx.log(`  cluster W3C: ${fmtN(rest.ok)} sessions subscribed in ${((now() - s1) / 1000).toFixed(1)} s (${cpuText(subscribePhase)}); ${subscribeSec.toFixed(1)} s in all`);
    await sleep(3000); // let the login and subscribe bursts settle
    const timeouts0 = await Promise.all(t.nodes.map((n) => metric(n.http, 'presently_heartbeat_timeouts_total')));
    const r0 = await redis.snapshot();
    const win = new Meter(
      t.nodes.map((n) => n.pid),
      t.pool.pids,
      redis.pid === undefined ? [] : [redis.pid],
      500,
    );
    await profiled(ctx, t, 'w3c-hold', () => sleep(mode.w3cHoldSec * 1000));
    const st = win.end();
    const r1 = await redis.snapshot();
    const b = await reading(t);
    const status = await t.pool.all('status', {});
    const timeouts1 = await Promise.all(t.nodes.map((n) => metric(n.http, 'presently_heartbeat_timeouts_total')));
    const connections = await Promise.all(t.nodes.map((n) => metric(n.http, 'presently_connections')));
    const redisMem = await redis.memory();
    const rd = redisDelta(r0, r1);
    const later = S - first.ok;
    const closeCodes: Record<string, number> = {};
    for (const s of status) for (const [c, v] of Object.entries(s.closeCodes)) closeCodes[c] = (closeCodes[c] ?? 0) + v;
    const hbSent = status.reduce((x, s) => x + s.hbSent, 0);
    const rssPerSession = t.nodes.map((_, i) => (b.rss[i]! - a.rss[i]!) / later / 1024);
    const out: W3CResult = {
      sessions: S,
      nodes: t.nodes.length,
      subscriptions: mode.w3Subs,
      ready: status.reduce((x, s) => x + s.ready, 0),
      closedUnexpected: status.reduce((x, s) => x + s.closedUnexpected, 0),
      closeCodes,
      heartbeats: hbSent,
      heartbeatsMissed: hbSent - status.reduce((x, s) => x + s.hbAcked, 0),
      heartbeatTimeouts: timeouts1.reduce((x, v) => x + v, 0),
      connections,
      loginSec,
      loginsPerSec: (first.ok + rest.ok) / loginSec,
      loginP99: first.hist.merge(rest.hist).percentile(99),
      subscribeSec,
      loginPhase,
      subscribePhase,
      rssIdleMiB: MiB(idle.rss),
      rssFirstMiB: MiB(a.rss),
      rssAfterMiB: MiB(b.rss),
      rssHoldMiB: MiB(st.servers.map((s) => s.rssMean)),
      rssPerSessionKiB: rssPerSession,
      heapPerSessionKiB: t.nodes.map((_, i) => (b.heap[i]! - a.heap[i]!) / later / 1024),
      clusterRssPerSessionKiB: rssPerSession.reduce((x, v) => x + v, 0),
      cpuPctOfCore: st.servers.map((s) => s.cores * 100),
      redisCores: rd.cpuSec / st.seconds,
      redisCallsPerSec: rd.total / st.seconds,
      redisMemMiB: redisMem / 2 ** 20,
      loadgenCores: st.loadgenCores,
      foreignCores: st.foreignCores,
      holdSec: st.seconds,
      wallSec: 0,
    };
    const timeoutsDuringHold = timeouts1.reduce((x, v, i) => x + v - timeouts0[i]!, 0);
    ctx.log(
      `  cluster W3C ${fmtN(out.ready)}/${fmtN(S)} sessions held ${st.seconds.toFixed(0)} s on ${out.nodes} nodes (${list(connections)} sockets): ` +
        `${out.closedUnexpected} closed by a server, ${out.heartbeatTimeouts} heartbeat timeouts (${timeoutsDuringHold} during the hold), ${out.heartbeatsMissed} of ${fmtN(hbSent)} heartbeats unanswered; ` +
        `login ${loginSec.toFixed(1)} s (${Math.round(out.loginsPerSec)}/s, p99 ${out.loginP99.toFixed(0)} ms); ` +
        `RSS per node after GC ${list(out.rssIdleMiB)} (no session) -> ${list(out.rssFirstMiB)} (${fmtN(first.ok)}) -> ${list(out.rssAfterMiB)} MiB (${fmtN(S)}), ${list(out.rssHoldMiB)} MiB during the hold; ` +
        `per session of the cluster ${list(rssPerSession, 1)} KiB RSS per node (sum ${out.clusterRssPerSessionKiB.toFixed(1)} KiB), JS heap ${list(out.heapPerSessionKiB, 1)} KiB; ` +
        `CPU ${out.cpuPctOfCore.map((c) => `${c.toFixed(1)}%`).join('/')} of a core; Redis ${(out.redisCores * 100).toFixed(1)}% of a core, ${out.redisCallsPerSec.toFixed(0)} commands/s, ${out.redisMemMiB.toFixed(0)} MiB; ` +
        `loadgen ${out.loadgenCores.toFixed(2)} cores, other work ${out.foreignCores.toFixed(2)} cores`,
    );
    out.wallSec = (now() - wall0) / 1000;
    return out;
  } finally {
    await tearDown(t);
  }
}
