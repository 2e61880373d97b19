/**
 * Turns the runs into figures (median of runs, min-max, ratio to the raw-ws baseline, target,
 * pass/miss) and writes RESULTS.md.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { ROOT } from './procs.js';
import os from 'node:os';
import type { Mode } from './modes.js';
import type { OnlineRun, W1Step } from './scenarios/online.js';
import type { W2Result } from './scenarios/login.js';
import type { W3Result } from './scenarios/hold.js';
import type { W3CResult } from './scenarios/cluster-hold.js';
import { median, minMax } from './stats.js';

export interface Collected {
  online: { presently: OnlineRun[]; baseline: OnlineRun[] };
  login: { presently: W2Result[]; baseline: W2Result[] };
  hold: { presently: W3Result[]; baseline: W3Result[] };
  /** C1 (W1 on a cluster) and W3C (W3 on a cluster), one entry per run; CS, one entry per run, design and node count (absent in older JSON). */
  cluster: { c1: OnlineRun[]; w3c: W3CResult[]; cs?: CsRun[] };
  errors: string[];
}

/** CS: W1's churn at one rate on a cluster of `nodes` nodes of one design; `online` null when it failed (`error`). */
export interface CsRun {
  design: 'replicated' | 'v2';
  nodes: number;
  run: number;
  rate: number;
  online: OnlineRun | null;
  error: string | null;
}

/** ejabberd reference figures quoted by the issue. */
const EJABBERD = { notifPerSec: 20_000, cores: 1.31, p99At1000: 247, loginsPerSec: 284, loginP99: 2600, offlineP99: 478 };
const EJ_PER_CORE = EJABBERD.notifPerSec / EJABBERD.cores;

type Fmt = 'int' | 'ms' | 'dec' | 'dec3' | 'kib' | 'pct';
interface Figure {
  scenario: string;
  metric: string;
  fmt: Fmt;
  p: number[];
  b: number[];
  target: string;
  /** undefined: information only. */
  pass?: (p: number, b: number) => boolean;
}

function fmt(x: number, f: Fmt): string {
  if (!Number.isFinite(x)) return '—';
  switch (f) {
    case 'int':
      return Math.round(x).toLocaleString('en-US');
    case 'ms':
      return x < 10 ? x.toFixed(2) : x < 100 ? x.toFixed(1) : Math.round(x).toLocaleString('en-US');
    case 'dec':
      return x.toFixed(2);
    case 'dec3':
      return x.toFixed(3);
    case 'kib':
      return x.toFixed(1);
    case 'pct':
      return `${x.toFixed(2)}%`;
  }
}

function cell(xs: number[], f: Fmt): string {
  if (xs.length === 0) return '—';
  const m = fmt(median(xs), f);
  if (xs.length === 1) return m;
  const [lo, hi] = minMax(xs);
  return `${m} (${fmt(lo, f)}–${fmt(hi, f)})`;
}

function ratio(p: number[], b: number[]): string {
  const mp = median(p);
  const mb = median(b);
  if (mp === 0 && mb === 0) return '1.00×';
  // A ratio to a baseline at or below zero (noise in tiny runs) means nothing.
  if (!Number.isFinite(mp) || !Number.isFinite(mb) || mb <= 0) return '—';
  return `${(mp / mb).toFixed(2)}×`;
}

const stepAt = (r: OnlineRun, rate: number): W1Step | undefined => r.steps.find((s) => s.rate === rate);

/** The highest rate that both runs sustained (else their first step). */
function commonRate(p: OnlineRun, b: OnlineRun): number {
  let best = p.steps[0]?.rate ?? 0;
  for (const s of p.steps) {
    const o = stepAt(b, s.rate);
    if (!s.saturated && o && !o.saturated) best = Math.max(best, s.rate);
  }
  return best;
}

function peakSustained(r: OnlineRun): W1Step | undefined {
  const ok = r.steps.filter((s) => !s.saturated);
  const pool = ok.length > 0 ? ok : r.steps;
  return pool.reduce<W1Step | undefined>((a, s) => (!a || s.deliveredPerSec > a.deliveredPerSec ? s : a), undefined);
}

function figures(c: Collected, mode: Mode): Figure[] {
  const F: Figure[] = [];
  const P = c.online.presently;
  const B = c.online.baseline;
  const w1Name = `W1 friends churn (N=${mode.n.toLocaleString('en-US')}, K=${mode.k})`;
  if (P.some((r) => r.steps.length > 0)) {
    const pairs = P.map((p, i) => [p, B[i]] as const).filter((x): x is readonly [OnlineRun, OnlineRun] => !!x[1]);
    const rates = pairs.map(([p, b]) => commonRate(p, b));
    const rateText = [...new Set(rates)].join('/');
    const at = (runs: OnlineRun[], i: number) => stepAt(runs[i]!, rates[i]!)?.perCoreSec ?? NaN;
    F.push({
      scenario: w1Name,
      metric: `notifications per server-core-second, at ${rateText || '?'} changes/s (highest step both sustained)`,
      fmt: 'int',
      p: pairs.map((_, i) => at(P, i)),
      b: pairs.map((_, i) => at(B, i)),
      target: `≥ 60% of baseline and ≥ ${Math.round(4 * EJ_PER_CORE).toLocaleString('en-US')} (4× ejabberd's ${Math.round(EJ_PER_CORE).toLocaleString('en-US')})`,
      pass: (p, b) => p >= 0.6 * b && p >= 4 * EJ_PER_CORE,
    });
    F.push({
      scenario: w1Name,
      metric: 'delivered notifications/s at the highest sustained step',
      fmt: 'int',
      p: P.map((r) => peakSustained(r)?.deliveredPerSec ?? NaN),
      b: B.map((r) => peakSustained(r)?.deliveredPerSec ?? NaN),
      target: `info (ejabberd ~${EJABBERD.notifPerSec.toLocaleString('en-US')}/s on ${EJABBERD.cores} cores)`,
    });
    for (const [metric, key, target, pass] of [
      ['latency p99 at 1,000 changes/s, ms', 'p99', `≤ 20 ms (ejabberd ${EJABBERD.p99At1000} ms)`, (p: number) => p <= 20],
      ['latency p50 at 1,000 changes/s, ms', 'p50', 'info', undefined],
      ['latency max at 1,000 changes/s, ms', 'max', 'info', undefined],
    ] as const) {
      F.push({
        scenario: w1Name,
        metric,
        fmt: 'ms',
        p: P.map((r) => stepAt(r, 1000)?.[key] ?? NaN),
        b: B.map((r) => stepAt(r, 1000)?.[key] ?? NaN),
        target,
        ...(pass ? { pass } : {}),
      });
    }
    for (const [metric, key] of [
      ['missing notifications (all steps, saturated ones too)', 'missing'],
      ['duplicated notifications (all steps)', 'dup'],
      ['out-of-order notifications (all steps)', 'outOfOrder'],
    ] as const) {
      const total = (r: OnlineRun) => r.steps.reduce((a, s) => a + s[key], 0);
      F.push({ scenario: w1Name, metric, fmt: 'int', p: P.map(total), b: B.map(total), target: '0', pass: (p) => p === 0 });
    }
    const top = Math.max(...mode.steps);
    F.push({
      scenario: w1Name,
      metric: `server CPU, cores, at ${top.toLocaleString('en-US')} changes/s`,
      fmt: 'dec',
      p: P.map((r) => stepAt(r, top)?.cores ?? NaN),
      b: B.map((r) => stepAt(r, top)?.cores ?? NaN),
      target: 'info',
    });
    F.push({
      scenario: w1Name,
      metric: `server RSS, MiB, at ${top.toLocaleString('en-US')} changes/s`,
      fmt: 'int',
      p: P.map((r) => stepAt(r, top)?.rssMiB ?? NaN),
      b: B.map((r) => stepAt(r, top)?.rssMiB ?? NaN),
      target: 'info',
    });
  }
  if (P.length > 0) {
    F.push({
      scenario: `W1/W5 (N=${mode.n.toLocaleString('en-US')})`,
      metric: 'sockets closed by the server during W1 and W5 (e.g. 4008 slow consumer)',
      fmt: 'int',
      p: P.map((r) => r.closedUnexpected),
      b: B.map((r) => r.closedUnexpected),
      target: '0',
      pass: (p) => p === 0,
    });
  }
  const L = c.login;
  if (L.presently.length > 0) {
    const name = `W2 login storm (N=${mode.w2N.toLocaleString('en-US')}, ≤${mode.w2InFlight} in flight)`;
    F.push({
      scenario: name,
      metric: 'logins/s',
      fmt: 'int',
      p: L.presently.map((r) => r.perSec),
      b: L.baseline.map((r) => r.perSec),
      target: `≥ 2,000 (ejabberd ${EJABBERD.loginsPerSec})`,
      pass: (p) => p >= 2000,
    });
    F.push({
      scenario: name,
      metric: 'login latency p99, ms',
      fmt: 'ms',
      p: L.presently.map((r) => r.p99),
      b: L.baseline.map((r) => r.p99),
      target: `≤ 500 ms (ejabberd 2.6 s)`,
      pass: (p) => p <= 500,
    });
    F.push({ scenario: name, metric: 'login latency p50, ms', fmt: 'ms', p: L.presently.map((r) => r.p50), b: L.baseline.map((r) => r.p50), target: 'info' });
    F.push({ scenario: name, metric: 'failed logins', fmt: 'int', p: L.presently.map((r) => r.failed), b: L.baseline.map((r) => r.failed), target: '0', pass: (p) => p === 0 });
    F.push({
      scenario: name,
      metric: 'server CPU during the storm, cores (load generator in the log)',
      fmt: 'dec',
      p: L.presently.map((r) => r.cores),
      b: L.baseline.map((r) => r.cores),
      target: 'info',
    });
    F.push({
      scenario: name,
      metric: 'WebSocket handshake p99, ms',
      fmt: 'ms',
      p: L.presently.map((r) => r.handshakeP99),
      b: L.baseline.map((r) => r.handshakeP99),
      target: 'info',
    });
    F.push({
      scenario: name,
      metric: 'login frame to login reply p99, ms',
      fmt: 'ms',
      p: L.presently.map((r) => r.replyP99),
      b: L.baseline.map((r) => r.replyP99),
      target: 'info',
    });
    F.push({
      scenario: name,
      metric: `friend pairs with no ONLINE push (each of the ${((mode.w2N * mode.k) / 2).toLocaleString('en-US')} pairs owes exactly one)`,
      fmt: 'int',
      p: L.presently.map((r) => r.pairs - r.seenTotal),
      b: L.baseline.map((r) => r.pairs - r.seenTotal),
      target: '0',
      pass: (p) => p === 0,
    });
    F.push({
      scenario: name,
      metric: 'duplicated ONLINE pushes',
      fmt: 'int',
      p: L.presently.map((r) => r.dupOnline),
      b: L.baseline.map((r) => r.dupOnline),
      target: '0',
      pass: (p) => p === 0,
    });
    F.push({
      scenario: name,
      metric: `friends logged in first and not notified (of ${L.presently[0]!.required.toLocaleString('en-US')} such pairs)`,
      fmt: 'int',
      p: L.presently.map((r) => r.required - r.requiredSeen),
      b: L.baseline.map((r) => r.required - r.requiredSeen),
      target: '0',
      pass: (p) => p === 0,
    });
  }
  const H = c.hold;
  if (H.presently.length > 0) {
    const name = `W3 hold (${mode.w3Sessions.toLocaleString('en-US')} sessions in one process, K=${mode.k}, ${mode.w3Subs} subscriptions each)`;
    F.push({
      scenario: name,
      metric: 'server RSS per session after a full GC (last 90% of sessions), KiB',
      fmt: 'kib',
      p: H.presently.map((r) => r.rssPerSessionKiB),
      b: H.baseline.map((r) => r.rssPerSessionKiB),
      target: '≤ 20 KiB',
      pass: (p) => p <= 20,
    });
    F.push({
      scenario: name,
      metric: 'JS heap per session after a full GC (last 90%), KiB',
      fmt: 'kib',
      p: H.presently.map((r) => r.heapPerSessionKiB),
      b: H.baseline.map((r) => r.heapPerSessionKiB),
      target: 'info',
    });
    F.push({
      scenario: name,
      metric: 'server RSS per session (plain average, incl. warm-up), KiB',
      fmt: 'kib',
      p: H.presently.map((r) => r.rssAvgPerSessionKiB),
      b: H.baseline.map((r) => r.rssAvgPerSessionKiB),
      target: 'info',
    });
    F.push({
      scenario: name,
      metric: 'server RSS during the hold (no forced GC), MiB',
      fmt: 'int',
      p: H.presently.map((r) => r.rssHoldMiB),
      b: H.baseline.map((r) => r.rssHoldMiB),
      target: 'info',
    });
    F.push({
      scenario: name,
      metric: 'server RSS after the hold and a full GC, MiB',
      fmt: 'int',
      p: H.presently.map((r) => r.rssAfterMiB),
      b: H.baseline.map((r) => r.rssAfterMiB),
      target: 'info',
    });
    F.push({
      scenario: name,
      metric: `server CPU while holding (heartbeats every 60 s + sweep), % of one core`,
      fmt: 'pct',
      p: H.presently.map((r) => r.cpuPctOfCore),
      b: H.baseline.map((r) => r.cpuPctOfCore),
      target: '< 5%',
      pass: (p) => p < 5,
    });
    F.push({
      scenario: name,
      metric: 'sessions still open after the hold',
      fmt: 'int',
      p: H.presently.map((r) => r.ready),
      b: H.baseline.map((r) => r.ready),
      target: `${mode.w3Sessions}`,
      pass: (p) => p === mode.w3Sessions,
    });
  }
  const w4P = P.map((r) => r.w4).filter((x) => x !== null);
  const w4B = B.map((r) => r.w4).filter((x) => x !== null);
  if (w4P.length > 0) {
    const name = `W4 abrupt disconnects (${mode.w4Victims} of N=${mode.n.toLocaleString('en-US')} sockets destroyed at once)`;
    F.push({
      scenario: name,
      metric: 'friend sees OFFLINE, p99, ms',
      fmt: 'ms',
      p: w4P.map((r) => r.p99),
      b: w4B.map((r) => r.p99),
      target: `≤ 100 ms (ejabberd ${EJABBERD.offlineP99} ms)`,
      pass: (p) => p <= 100,
    });
    F.push({ scenario: name, metric: 'every friend saw OFFLINE after (max), ms', fmt: 'ms', p: w4P.map((r) => r.max), b: w4B.map((r) => r.max), target: 'info' });
    F.push({
      scenario: name,
      metric: 'server CPU from the first destroy to the last OFFLINE, ms',
      fmt: 'ms',
      p: w4P.map((r) => r.serverCpuMs),
      b: w4B.map((r) => r.serverCpuMs),
      target: 'info',
    });
    F.push({
      scenario: name,
      metric: `friends never told (of ${w4P[0]!.pairs.toLocaleString('en-US')})`,
      fmt: 'int',
      p: w4P.map((r) => r.missing),
      b: w4B.map((r) => r.missing),
      target: '0',
      pass: (p) => p === 0,
    });
  }
  const q = (runs: OnlineRun[], ids: number) => runs.map((r) => r.w5.find((x) => x.ids === ids)).filter((x) => x !== undefined);
  if (q(P, 1).length > 0) {
    const name = `W5 queries (N=${mode.n.toLocaleString('en-US')}, ${mode.w5Conns} connections, 1 in flight each)`;
    F.push({
      scenario: name,
      metric: 'getUserStatus(1 id): round-trips per server-core-second',
      fmt: 'int',
      p: q(P, 1).map((r) => r.perCoreSec),
      b: q(B, 1).map((r) => r.perCoreSec),
      target: '≥ 50% of the raw echo',
      pass: (p, b) => p >= 0.5 * b,
    });
    F.push({ scenario: name, metric: 'getUserStatus(1 id): round-trips/s', fmt: 'int', p: q(P, 1).map((r) => r.perSec), b: q(B, 1).map((r) => r.perSec), target: 'info' });
    F.push({ scenario: name, metric: 'getUserStatus(1 id): p99, ms', fmt: 'ms', p: q(P, 1).map((r) => r.p99), b: q(B, 1).map((r) => r.p99), target: 'info' });
    F.push({
      scenario: name,
      metric: 'getUserStatus(500 ids): round-trips per server-core-second',
      fmt: 'int',
      p: q(P, 500).map((r) => r.perCoreSec),
      b: q(B, 500).map((r) => r.perCoreSec),
      target: 'info',
    });
    F.push({ scenario: name, metric: 'getUserStatus(500 ids): p99, ms', fmt: 'ms', p: q(P, 500).map((r) => r.p99), b: q(B, 500).map((r) => r.p99), target: 'info' });
    F.push({
      scenario: name,
      metric: 'query errors',
      fmt: 'int',
      p: q(P, 1).map((r, i) => r.errors + (q(P, 500)[i]?.errors ?? 0)),
      b: q(B, 1).map((r, i) => r.errors + (q(B, 500)[i]?.errors ?? 0)),
      target: '0',
      pass: (p) => p === 0,
    });
  }
  return F;
}

function verdict(f: Figure): string {
  if (!f.pass) return '—';
  const p = median(f.p);
  const b = median(f.b);
  if (!Number.isFinite(p)) return 'n/a';
  return f.pass(p, b) ? 'pass' : '**MISS**';
}

export function summaryTable(c: Collected, mode: Mode): string {
  const rows = figures(c, mode);
  const out = ['| Scenario (size) | Figure | Presently | Raw-ws baseline | Ratio | Target | Result |', '|---|---|---:|---:|---:|---|---|'];
  let last = '';
  for (const f of rows) {
    const scen = f.scenario === last ? '' : f.scenario;
    last = f.scenario;
    out.push(`| ${scen} | ${f.metric} | ${cell(f.p, f.fmt)} | ${cell(f.b, f.fmt)} | ${ratio(f.p, f.b)} | ${f.target} | ${verdict(f)} |`);
  }
  return out.join('\n');
}

function stepTable(runs: OnlineRun[]): string {
  const rates = [...new Set(runs.flatMap((r) => r.steps.map((s) => s.rate)))].sort((a, b) => a - b);
  const lines = [
    '| changes/s | sent/s | notif/s owed | notif/s delivered | notif per core-s | p50 ms | p99 ms | max ms | missing/dup/ooo | server cores | RSS MiB | loadgen cores | other work, cores | runs saturated |',
    '|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|---:|---:|---|',
  ];
  for (const rate of rates) {
    const s = runs.map((r) => stepAt(r, rate)).filter((x): x is W1Step => !!x);
    const m = (f: (x: W1Step) => number) => median(s.map(f));
    const sat = s.filter((x) => x.saturated);
    lines.push(
      `| ${rate.toLocaleString('en-US')} | ${fmt(
        m((x) => x.sentPerSec),
        'int',
      )} | ${fmt(
        m((x) => x.offeredPerSec),
        'int',
      )} | ${fmt(
        m((x) => x.deliveredPerSec),
        'int',
      )} | ` +
        `${cell(
          s.map((x) => x.perCoreSec),
          'int',
        )} | ${fmt(
          m((x) => x.p50),
          'ms',
        )} | ${fmt(
          m((x) => x.p99),
          'ms',
        )} | ${fmt(
          m((x) => x.max),
          'ms',
        )} | ` +
        `${s.reduce((a, x) => a + x.missing, 0)}/${s.reduce((a, x) => a + x.dup, 0)}/${s.reduce((a, x) => a + x.outOfOrder, 0)} | ` +
        `${fmt(
          m((x) => x.cores),
          'dec',
        )} | ${fmt(
          m((x) => x.rssMiB),
          'int',
        )} | ${fmt(
          m((x) => x.loadgenCores),
          'dec',
        )} | ${fmt(
          m((x) => x.foreignCores),
          'dec',
        )} | ` +
        `${sat.length}/${s.length}${sat.length ? ` (${sat[0]!.why})` : ''} |`,
    );
  }
  return lines.join('\n');
}

// ---- the cluster section ---------------------------------------------------------------------

interface CRow {
  metric: string;
  fmt: Fmt;
  /** The cluster's figure per run. */
  x: number[];
  /** The comparison per run: one Presently process (W1 / W3 of the same run), and the raw-ws baseline (C1). */
  p: number[];
  b?: number[];
  target: string;
  pass?: (x: number) => boolean;
}

function clusterTable(rows: CRow[], withBaseline: boolean, xName: string, pName: string): string {
  const head = withBaseline
    ? [`| Figure | ${xName} | ${pName} | Ratio | Raw-ws baseline | Ratio | Target | Result |`, '|---|---:|---:|---:|---:|---:|---|---|']
    : [`| Figure | ${xName} | ${pName} | Ratio | Target | Result |`, '|---|---:|---:|---:|---|---|'];
  const out = [...head];
  for (const r of rows) {
    const mx = median(r.x);
    const v = !r.pass ? '—' : !Number.isFinite(mx) ? 'n/a' : r.pass(mx) ? 'pass' : '**MISS**';
    const base = withBaseline ? ` ${cell(r.b ?? [], r.fmt)} | ${ratio(r.x, r.b ?? [])} |` : '';
    out.push(`| ${r.metric} | ${cell(r.x, r.fmt)} | ${cell(r.p, r.fmt)} | ${ratio(r.x, r.p)} |${base} ${r.target} | ${v} |`);
  }
  return out.join('\n');
}

/** The highest rate that run i of every list sustained in at least half of the runs (else the first step). */
function commonRateOf(...lists: OnlineRun[][]): number {
  const first = lists[0]?.[0];
  if (!first) return NaN;
  const runs = Math.max(...lists.map((l) => l.length));
  let best = first.steps[0]?.rate ?? NaN;
  for (const s of first.steps) {
    let ok = 0;
    for (let i = 0; i < runs; i++)
      if (
        lists.every((l) => {
          const st = l[i] ? stepAt(l[i]!, s.rate) : undefined;
          return st !== undefined && !st.saturated;
        })
      )
        ok++;
    if (ok * 2 >= runs) best = Math.max(best, s.rate);
  }
  return best;
}

const highestSustained = (r: OnlineRun): number => Math.max(0, ...r.steps.filter((s) => !s.saturated).map((s) => s.rate));

function c1Rows(c: Collected, mode: Mode): CRow[] {
  const X = c.cluster.c1;
  const P = c.online.presently;
  const B = c.online.baseline;
  const rows: CRow[] = [];
  const at = (runs: OnlineRun[], rate: number | number[], f: (s: W1Step) => number) =>
    runs.map((r, i) => {
      const s = stepAt(r, Array.isArray(rate) ? rate[i]! : rate);
      return s ? f(s) : NaN;
    });
  // One rate for every run: the highest step that the cluster, one process and the baseline all
  // sustained in at least half of the runs (a run that competed with other work may miss it).
  const rate = commonRateOf(X, P, B);
  const rates = X.map(() => rate);
  const rateText = Number.isFinite(rate) ? rate.toLocaleString('en-US') : '?';
  const all = { x: X, p: P, b: B };
  const row = (metric: string, fmt: Fmt, f: (r: OnlineRun, i: number) => number, target = 'info', pass?: (x: number) => boolean): CRow => ({
    metric,
    fmt,
    x: all.x.map(f),
    p: all.p.map(f),
    b: all.b.map(f),
    target,
    ...(pass ? { pass } : {}),
  });
  rows.push(row('highest step sustained, changes/s', 'int', highestSustained));
  rows.push(row('delivered notifications/s at the highest sustained step', 'int', (r) => peakSustained(r)?.deliveredPerSec ?? NaN));
  rows.push({
    metric: `notifications per server-core-second (all nodes' CPU), at ${rateText} changes/s (highest step all three sustained in most runs)`,
    fmt: 'int',
    x: at(X, rates, (s) => s.perCoreSec),
    p: at(P, rates, (s) => s.perCoreSec),
    b: at(B, rates, (s) => s.perCoreSec),
    target: 'info',
  });
  rows.push({
    metric: `the same counting Redis's CPU too, at ${rateText} changes/s`,
    fmt: 'int',
    x: at(X, rates, (s) => s.perCoreSecWithRedis),
    p: at(P, rates, (s) => s.perCoreSec),
    b: at(B, rates, (s) => s.perCoreSec),
    target: 'info',
  });
  for (const [metric, f] of [
    ['latency p50 at 1,000 changes/s, ms (all pairs)', (s: W1Step) => s.p50],
    ['latency p99 at 1,000 changes/s, ms (all pairs)', (s: W1Step) => s.p99],
    ['latency max at 1,000 changes/s, ms', (s: W1Step) => s.max],
  ] as const) {
    rows.push({ metric, fmt: 'ms', x: at(X, 1000, f), p: at(P, 1000, f), b: at(B, 1000, f), target: metric.includes('p99') ? 'info (W1 on one process: ≤ 20 ms)' : 'info' });
  }
  rows.push({
    metric: 'cross-node pairs (sender and receiver on different nodes): p50 at 1,000 changes/s, ms',
    fmt: 'ms',
    x: at(X, 1000, (s) => s.p50Cross),
    p: at(P, 1000, (s) => s.p50),
    b: [],
    target: 'info',
  });
  rows.push({ metric: 'cross-node pairs: p99 at 1,000 changes/s, ms', fmt: 'ms', x: at(X, 1000, (s) => s.p99Cross), p: at(P, 1000, (s) => s.p99), b: [], target: 'info' });
  rows.push({ metric: 'same-node pairs: p99 at 1,000 changes/s, ms', fmt: 'ms', x: at(X, 1000, (s) => s.p99Same), p: at(P, 1000, (s) => s.p99), b: [], target: 'info' });
  for (const [metric, key] of [
    ['missing notifications (all steps, saturated ones too)', 'missing'],
    ['duplicated notifications (all steps)', 'dup'],
    ['out-of-order notifications (all steps)', 'outOfOrder'],
  ] as const) {
    rows.push(
      row(
        metric,
        'int',
        (r) => r.steps.reduce((a, s) => a + s[key], 0),
        '0',
        (x) => x === 0,
      ),
    );
  }
  rows.push(
    row(
      'sockets closed by the server',
      'int',
      (r) => r.closedUnexpected,
      '0',
      (x) => x === 0,
    ),
  );
  for (const rate of new Set([1000, ...rates])) {
    const rt = rate.toLocaleString('en-US');
    rows.push({
      metric: `server CPU, cores (sum of the nodes), at ${rt} changes/s`,
      fmt: 'dec',
      x: at(X, rate, (s) => s.cores),
      p: at(P, rate, (s) => s.cores),
      b: at(B, rate, (s) => s.cores),
      target: 'info',
    });
    rows.push({ metric: `Redis CPU, cores, at ${rt} changes/s`, fmt: 'dec', x: at(X, rate, (s) => s.redisCores), p: [], b: [], target: 'info' });
    if (rate === 1000) {
      rows.push({
        metric: `server RSS per node (largest node), MiB, at ${rt} changes/s`,
        fmt: 'int',
        x: at(X, rate, (s) => Math.max(...s.nodeRssMiB)),
        p: at(P, rate, (s) => s.rssMiB),
        b: at(B, rate, (s) => s.rssMiB),
        target: 'info',
      });
    }
  }
  // Commands of at least 0.005 per change at some step (the lease and leader rounds are far below).
  const cmds = new Set<string>();
  for (const r of X) for (const s of r.steps) for (const [k, v] of Object.entries(s.redisPerChange)) if (v >= 0.005) cmds.add(k);
  const order = ['total', 'eval', 'evalsha', 'xread', 'xadd', 'hset', 'hdel'];
  for (const cmd of [...order.filter((k) => cmds.has(k)), ...[...cmds].filter((k) => !order.includes(k)).sort()]) {
    const label =
      cmd === 'total'
        ? 'Redis commands per status change, all commands (INFO commandstats delta / changes sent)'
        : `… of which ${cmd.toUpperCase()}${cmd === 'xadd' || cmd === 'hset' || cmd === 'hdel' ? ' (run inside the EVAL)' : ''}`;
    rows.push({ metric: `${label}, at 1,000 changes/s`, fmt: 'dec', x: at(X, 1000, (s) => s.redisPerChange[cmd] ?? 0), p: [], b: [], target: 'info' });
    if (cmd === 'total') {
      for (const rate of new Set(rates)) {
        if (rate !== 1000)
          rows.push({
            metric: `${label}, at ${rate.toLocaleString('en-US')} changes/s`,
            fmt: 'dec',
            x: at(X, rate, (s) => s.redisPerChange[cmd] ?? 0),
            p: [],
            b: [],
            target: 'info',
          });
      }
    }
  }
  void mode;
  return rows;
}

function c1StepTable(runs: OnlineRun[]): string {
  const rates = [...new Set(runs.flatMap((r) => r.steps.map((s) => s.rate)))].sort((a, b) => a - b);
  const lines = [
    '| changes/s | sent/s | notif/s delivered | notif per core-s (nodes) | incl. Redis | p50 ms | p99 ms | max ms | cross-node p50 / p99 ms | same-node p99 ms | missing/dup/ooo | node cores | RSS per node MiB | Redis cores | Redis cmds per change (total; EVAL, XREAD) | loadgen cores | other work, cores | runs saturated |',
    '|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---|---|---:|---|---:|---:|---|',
  ];
  for (const rate of rates) {
    const s = runs.map((r) => stepAt(r, rate)).filter((x): x is W1Step => !!x);
    const m = (f: (x: W1Step) => number) => median(s.map(f));
    const sat = s.filter((x) => x.saturated);
    const nodes = Math.max(...s.map((x) => x.nodeCores.length));
    const perNode = (f: (x: W1Step) => number[], d: Fmt) => Array.from({ length: nodes }, (_, i) => fmt(median(s.map((x) => f(x)[i] ?? NaN)), d)).join(' + ');
    const rc = (cmd: string) =>
      fmt(
        m((x) => x.redisPerChange[cmd] ?? 0),
        'dec',
      );
    lines.push(
      `| ${rate.toLocaleString('en-US')} | ${fmt(
        m((x) => x.sentPerSec),
        'int',
      )} | ${fmt(
        m((x) => x.deliveredPerSec),
        'int',
      )} | ${cell(
        s.map((x) => x.perCoreSec),
        'int',
      )} | ${fmt(
        m((x) => x.perCoreSecWithRedis),
        'int',
      )} | ` +
        `${fmt(
          m((x) => x.p50),
          'ms',
        )} | ${fmt(
          m((x) => x.p99),
          'ms',
        )} | ${fmt(
          m((x) => x.max),
          'ms',
        )} | ${fmt(
          m((x) => x.p50Cross),
          'ms',
        )} / ${fmt(
          m((x) => x.p99Cross),
          'ms',
        )} | ${fmt(
          m((x) => x.p99Same),
          'ms',
        )} | ` +
        `${s.reduce((a, x) => a + x.missing, 0)}/${s.reduce((a, x) => a + x.dup, 0)}/${s.reduce((a, x) => a + x.outOfOrder, 0)} | ` +
        `${perNode((x) => x.nodeCores, 'dec')} | ${perNode((x) => x.nodeRssMiB, 'int').replaceAll(' + ', ' / ')} | ${fmt(
          m((x) => x.redisCores),
          'dec',
        )} | ${rc('total')}; ${rc('eval')}, ${rc('xread')} | ` +
        `${fmt(
          m((x) => x.loadgenCores),
          'dec',
        )} | ${fmt(
          m((x) => x.foreignCores),
          'dec',
        )} | ${sat.length}/${s.length}${sat.length ? ` (${sat[0]!.why})` : ''} |`,
    );
  }
  return lines.join('\n');
}

function w3cRows(c: Collected, mode: Mode): CRow[] {
  const X = c.cluster.w3c;
  const P = c.hold.presently;
  const S = mode.w3cSessions;
  const maxOf = (xs: number[]) => Math.max(...xs);
  const meanOf = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);
  return [
    { metric: 'sessions still open after the hold', fmt: 'int', x: X.map((r) => r.ready), p: P.map((r) => r.ready), target: fmtInt(S), pass: (x) => x === S },
    {
      metric: 'sessions closed by a server (client side)',
      fmt: 'int',
      x: X.map((r) => r.closedUnexpected),
      p: P.map((r) => r.closedUnexpected),
      target: '0',
      pass: (x) => x === 0,
    },
    {
      metric: 'sessions the nodes timed out for missing heartbeats (presently_heartbeat_timeouts_total, all nodes)',
      fmt: 'int',
      x: X.map((r) => r.heartbeatTimeouts),
      p: [],
      target: '0',
      pass: (x) => x === 0,
    },
    {
      metric: 'heartbeats left unanswered (of all the clients sent)',
      fmt: 'int',
      x: X.map((r) => r.heartbeatsMissed),
      p: P.map((r) => r.heartbeatsMissed),
      target: '0',
      pass: (x) => x === 0,
    },
    { metric: 'heartbeats sent by the clients (60 s interval)', fmt: 'int', x: X.map((r) => r.heartbeats), p: P.map((r) => r.heartbeats), target: 'info' },
    { metric: `time to log every session in (≤${mode.w2InFlight} logins in flight), s`, fmt: 'dec', x: X.map((r) => r.loginSec), p: P.map((r) => r.loginSec), target: 'info' },
    { metric: 'logins/s over that time', fmt: 'int', x: X.map((r) => r.loginsPerSec), p: P.map((r) => r.sessions / r.loginSec), target: 'info' },
    { metric: `time of the subscribe calls (${mode.w3Subs} ids per session), s`, fmt: 'dec', x: X.map((r) => r.subscribeSec), p: [], target: 'info' },
    { metric: 'while the last 90% logged in: cores of all nodes / Redis / PostgreSQL — nodes', fmt: 'dec', x: X.map((r) => r.loginPhase.nodes), p: [], target: 'info' },
    { metric: '… Redis', fmt: 'dec', x: X.map((r) => r.loginPhase.redis), p: [], target: 'info' },
    { metric: "… PostgreSQL (the cluster database's backends)", fmt: 'dec', x: X.map((r) => r.loginPhase.pg), p: [], target: 'info' },
    { metric: '… other work on the machine', fmt: 'dec', x: X.map((r) => r.loginPhase.other), p: [], target: 'info' },
    { metric: 'while they subscribed: cores of all nodes', fmt: 'dec', x: X.map((r) => r.subscribePhase.nodes), p: [], target: 'info' },
    { metric: '… Redis', fmt: 'dec', x: X.map((r) => r.subscribePhase.redis), p: [], target: 'info' },
    { metric: '… PostgreSQL', fmt: 'dec', x: X.map((r) => r.subscribePhase.pg), p: [], target: 'info' },
    { metric: '… other work on the machine', fmt: 'dec', x: X.map((r) => r.subscribePhase.other), p: [], target: 'info' },
    {
      metric: 'RSS of a node before any session (after GC: the accounts and friend graph), MiB, largest node',
      fmt: 'int',
      x: X.map((r) => maxOf(r.rssIdleMiB)),
      p: P.map((r) => r.rssIdleMiB),
      target: 'info',
    },
    { metric: 'RSS per node after the hold and a full GC, MiB, largest node', fmt: 'int', x: X.map((r) => maxOf(r.rssAfterMiB)), p: P.map((r) => r.rssAfterMiB), target: 'info' },
    { metric: 'RSS per node during the hold (no forced GC), MiB, largest node', fmt: 'int', x: X.map((r) => maxOf(r.rssHoldMiB)), p: P.map((r) => r.rssHoldMiB), target: 'info' },
    {
      metric: 'RSS of all nodes together after the hold and a full GC, MiB',
      fmt: 'int',
      x: X.map((r) => r.rssAfterMiB.reduce((a, b) => a + b, 0)),
      p: P.map((r) => r.rssAfterMiB),
      target: 'info',
    },
    {
      metric: 'RSS per node per session of the cluster (marginal, after GC; mean of the nodes), KiB',
      fmt: 'kib',
      x: X.map((r) => meanOf(r.rssPerSessionKiB)),
      p: P.map((r) => r.rssPerSessionKiB),
      target: 'info',
    },
    {
      metric: 'RSS per session, all nodes together (marginal, after GC), KiB',
      fmt: 'kib',
      x: X.map((r) => r.clusterRssPerSessionKiB),
      p: P.map((r) => r.rssPerSessionKiB),
      target: 'info (one process: ≤ 20 KiB)',
    },
    {
      metric: 'JS heap per node per session of the cluster (marginal; mean of the nodes), KiB',
      fmt: 'kib',
      x: X.map((r) => meanOf(r.heapPerSessionKiB)),
      p: P.map((r) => r.heapPerSessionKiB),
      target: 'info',
    },
    {
      metric: 'CPU of a node while holding, % of one core, busiest node',
      fmt: 'pct',
      x: X.map((r) => maxOf(r.cpuPctOfCore)),
      p: P.map((r) => r.cpuPctOfCore),
      target: '< 5% (W3)',
      pass: (x) => x < 5,
    },
    {
      metric: 'CPU of all nodes together while holding, % of one core',
      fmt: 'pct',
      x: X.map((r) => r.cpuPctOfCore.reduce((a, b) => a + b, 0)),
      p: P.map((r) => r.cpuPctOfCore),
      target: 'info',
    },
    { metric: 'Redis CPU while holding, % of one core', fmt: 'pct', x: X.map((r) => r.redisCores * 100), p: [], target: 'info' },
    { metric: 'Redis commands/s while holding', fmt: 'int', x: X.map((r) => r.redisCallsPerSec), p: [], target: 'info' },
    { metric: 'Redis memory (used_memory) after the hold, MiB', fmt: 'int', x: X.map((r) => r.redisMemMiB), p: [], target: 'info' },
  ];
}

const fmtInt = (x: number): string => x.toLocaleString('en-US');

function w3cNodeTable(runs: W3CResult[]): string {
  const lines = [
    '| run | node | sockets | RSS after GC: no session → 10% → all, MiB | RSS during the hold, MiB | RSS per cluster session, KiB | JS heap per cluster session, KiB | CPU while holding |',
    '|---:|---|---:|---|---:|---:|---:|---:|',
  ];
  runs.forEach((r, i) => {
    for (let n = 0; n < r.nodes; n++) {
      lines.push(
        `| ${i + 1} | n${n} | ${fmtInt(r.connections[n] ?? NaN)} | ${fmt(r.rssIdleMiB[n]!, 'int')} → ${fmt(r.rssFirstMiB[n]!, 'int')} → ${fmt(r.rssAfterMiB[n]!, 'int')} | ${fmt(r.rssHoldMiB[n]!, 'int')} | ` +
          `${fmt(r.rssPerSessionKiB[n]!, 'kib')} | ${fmt(r.heapPerSessionKiB[n]!, 'kib')} | ${fmt(r.cpuPctOfCore[n]!, 'pct')} |`,
      );
    }
  });
  return lines.join('\n');
}

/** CS per design and node count: CPU-seconds per 1,000 changes and per 1,000 notifications (nodes + Redis), medians over the runs. */
function csTable(runs: CsRun[]): string {
  const lines = [
    '| design | nodes | changes sent/s | changes | notifications delivered | missing/dup/ooo | nodes CPU-s per 1k changes | Redis CPU-s per 1k changes | **nodes + Redis CPU-s per 1k changes** | vs 1 node | nodes + Redis CPU-s per 1k notifications | PostgreSQL CPU-s per 1k changes (not in the sum) | node cores (each) | Redis cores | Redis cmds per change | p50 / p99 ms | loadgen cores | other work, cores | sockets closed by a server | saturated |',
    '|---|---:|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|---|---:|---:|---|---:|---:|---:|---|',
  ];
  const designs = [...new Set(runs.map((r) => r.design))];
  const nodeCounts = [...new Set(runs.map((r) => r.nodes))].sort((a, b) => a - b);
  for (const design of designs) {
    let one = NaN;
    for (const nodes of nodeCounts) {
      const rs = runs.filter((r) => r.design === design && r.nodes === nodes);
      if (rs.length === 0) continue;
      const s = rs.map((r) => r.online?.steps.find((x) => x.rate === r.rate)).filter((x): x is W1Step => !!x);
      if (s.length === 0) {
        lines.push(`| ${design} | ${nodes} | failed: ${(rs[0]!.error ?? '').split('\n')[0]!.replaceAll('|', '\\|').slice(0, 300)} |${' |'.repeat(17)}`);
        continue;
      }
      const per1k = (f: (x: W1Step) => number, d: (x: W1Step) => number) => s.map((x) => (1000 * f(x)) / d(x));
      const total = per1k(
        (x) => x.cpuSec + x.redisCpuSec,
        (x) => x.sent,
      );
      if (nodes === 1) one = median(total);
      const m = (f: (x: W1Step) => number) => median(s.map(f));
      const nodeCores = Array.from({ length: nodes }, (_, i) => fmt(median(s.map((x) => x.nodeCores[i] ?? NaN)), 'dec')).join(' + ');
      const closed = rs.reduce((a, r) => a + (r.online?.closedUnexpected ?? 0), 0);
      const sat = s.filter((x) => x.saturated);
      lines.push(
        `| ${design} | ${nodes} | ${fmt(
          m((x) => x.sentPerSec),
          'int',
        )} | ${fmt(
          m((x) => x.sent),
          'int',
        )} | ${fmt(
          m((x) => x.delivered),
          'int',
        )} | ${s.reduce((a, x) => a + x.missing, 0)}/${s.reduce((a, x) => a + x.dup, 0)}/${s.reduce((a, x) => a + x.outOfOrder, 0)} | ` +
          `${cell(
            per1k(
              (x) => x.cpuSec,
              (x) => x.sent,
            ),
            'dec3',
          )} | ${cell(
            per1k(
              (x) => x.redisCpuSec,
              (x) => x.sent,
            ),
            'dec3',
          )} | **${cell(total, 'dec3')}** | ${Number.isFinite(one) && one > 0 ? `${(median(total) / one).toFixed(2)}×` : '—'} | ${cell(
            per1k(
              (x) => x.cpuSec + x.redisCpuSec,
              (x) => x.delivered,
            ),
            'dec3',
          )} | ${cell(
            per1k(
              (x) => x.pgCpuSec,
              (x) => x.sent,
            ),
            'dec3',
          )} | ` +
          `${nodeCores} | ${fmt(
            m((x) => x.redisCores),
            'dec',
          )} | ${fmt(
            m((x) => x.redisPerChange.total ?? 0),
            'dec',
          )} | ${fmt(
            m((x) => x.p50),
            'ms',
          )} / ${fmt(
            m((x) => x.p99),
            'ms',
          )} | ${fmt(
            m((x) => x.loadgenCores),
            'dec',
          )} | ${fmt(
            m((x) => x.foreignCores),
            'dec',
          )} | ${closed} | ${sat.length}/${s.length}${sat.length ? ` (${sat[0]!.why})` : ''} |`,
      );
    }
  }
  return lines.join('\n');
}

/** The "Cluster" section (C1, W3C, CS); empty when none ran. */
export function clusterSection(c: Collected, mode: Mode): string {
  const out: string[] = [];
  const cs = c.cluster.cs ?? [];
  if (c.cluster.c1.length === 0 && c.cluster.w3c.length === 0 && cs.length === 0) return '';
  out.push('## Cluster', '');
  out.push(
    'Presently nodes (`npm start` with REDIS_URL, DATABASE_URL, PRESENTLY_REDIS_PREFIX, PRESENTLY_NODE_ID) sharing one Redis',
    "(a private `redis-server` the bench starts, so its counters are the cluster's alone) and one fresh PostgreSQL database per run.",
    "Every node applies the app's one command log (a Redis stream) and holds a full replica of the presence state; it delivers to its own sockets only.",
    'Everything runs on the same machine: the nodes, Redis and the load generator share its cores.',
    '',
  );
  if (c.cluster.c1.length > 0) {
    out.push(
      `### C1 friends churn on ${mode.c1Nodes} nodes (N=${fmtInt(mode.n)}, K=${mode.k})`,
      '',
      `W1's workload and generator; each load-generator process spreads its users over the ${mode.c1Nodes} nodes (half each), so about half of the`,
      'friend pairs have sender and receiver on different nodes. Compared with W1 on one Presently process and with the raw-ws baseline, measured in the same runs.',
      '',
      clusterTable(c1Rows(c, mode), true, `Cluster, ${mode.c1Nodes} nodes`, 'One process (W1)'),
      '',
      '#### C1 steps (cluster)',
      '',
      c1StepTable(c.cluster.c1),
      '',
    );
  }
  if (cs.length > 0) {
    out.push(
      `### CS: CPU per change on ${mode.csNodes.join(', ')} nodes, replicated vs v2 (N=${fmtInt(mode.n)}, K=${mode.k}, ${fmtInt(mode.csRate)} changes/s for ${mode.csSec} s)`,
      '',
      "W1's workload and generator at one fixed rate (after W1's warm-up step), on a fresh cluster per design and node count: the replicated",
      'design (`PRESENTLY_CLUSTER=replicated`: every node applies every entry of the one log) and cluster v2 (`PRESENTLY_CLUSTER=v2`: per-user',
      'records and fan-out by interest). Each load-generator process spreads its users over the nodes. CPU-seconds are counted over the step',
      "and its drain: every node process (/proc), Redis (`INFO cpu`); PostgreSQL's backends of the cluster database apart. Cells: median (min–max) of the runs.",
      '',
      csTable(cs),
      '',
    );
  }
  if (c.cluster.w3c.length > 0) {
    out.push(
      `### W3C hold on a cluster (${fmtInt(mode.w3cSessions)} sessions over ${mode.w3cNodes} nodes, K=${mode.k}, ${mode.w3Subs} subscriptions each)`,
      '',
      `W3 on ${mode.w3cNodes} nodes (~${fmtInt(Math.round(mode.w3cSessions / mode.w3cNodes))} sockets each), compared with W3 on one process (${fmtInt(mode.w3Sessions)} sessions) in the same runs.`,
      'Each node holds a full replica of every session, so its memory grows with the sessions of the whole cluster: "per session of the cluster" is a',
      "node's growth divided by all the cluster's sessions, and the sum over the nodes is what one session costs the cluster.",
      '',
      clusterTable(w3cRows(c, mode), false, `Cluster, ${mode.w3cNodes} nodes`, 'One process (W3)'),
      '',
      '#### W3C per node',
      '',
      w3cNodeTable(c.cluster.w3c),
      '',
    );
  }
  return out.join('\n');
}

function sh(cmd: string, args: string[]): string {
  try {
    return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], cwd: ROOT, maxBuffer: 256 * 2 ** 20 }).trim();
  } catch {
    return '';
  }
}

export interface Machine {
  nproc: number;
  cpu: string;
  node: string;
  os: string;
  memGiB: number;
  nofile: string;
  loadStart: string;
  git: string;
}

export function machine(): Machine {
  const model = /model name\s*:\s*(.*)/.exec(safeRead('/proc/cpuinfo'))?.[1] ?? os.cpus()[0]?.model ?? 'unknown';
  const dirty = sh('git', ['status', '--porcelain', '--', 'packages']) ? ' + uncommitted changes in packages/' : '';
  return {
    nproc: os.availableParallelism(),
    cpu: model,
    node: process.version,
    os: `${os.type()} ${os.release()} ${os.arch()}`,
    memGiB: os.totalmem() / 2 ** 30,
    nofile: sh('/bin/sh', ['-c', 'echo "soft $(ulimit -Sn), hard $(ulimit -Hn)"']),
    loadStart: os
      .loadavg()
      .map((x) => x.toFixed(2))
      .join(' '),
    git: `${sh('git', ['rev-parse', '--short', 'HEAD']) || 'unknown'}${dirty} (packages/ content fingerprint ${codeFingerprint()})`,
  };
}

/**
 * A short hash of the content of every file of packages/ (tracked, and untracked but not
 * ignored), so figures measured on uncommitted server code can be told apart, and a change of
 * the server code during a run is seen.
 */
export function codeFingerprint(): string {
  const h = createHash('sha1');
  for (const f of sh('git', ['ls-files', '--cached', '--others', '--exclude-standard', '--', 'packages']).split('\n').filter(Boolean).sort()) {
    h.update(f);
    h.update(safeRead(join(ROOT, f)));
  }
  return h.digest('hex').slice(0, 10);
}

function safeRead(p: string): string {
  try {
    return readFileSync(p, 'utf8');
  } catch {
    return '';
  }
}

export function writeResults(opts: {
  c: Collected;
  mode: Mode;
  m: Machine;
  command: string;
  started: Date;
  seconds: number;
  log: string[];
  pinned: boolean;
  seed: number;
}): string {
  const { c, mode, m } = opts;
  const out: string[] = [];
  out.push('# Presently benchmark results', '');
  if (mode.name === 'tiny') {
    out.push(
      '> **SMOKE RUN (`--tiny`)**: tiny sizes to prove the suite works end to end. These figures are',
      '> **not** benchmark results and the pass/miss column means nothing at these sizes. Run',
      '> `npm run bench` (quick) or `npm run bench -- --full` on a quiet machine for real figures.',
      '',
    );
  } else if (mode.name === 'quick') {
    out.push('> Quick mode: smaller N than the issue and **one run per step** (no medians). Use `--full` for the reference figures.', '');
  }
  out.push(
    `- **Command**: \`${opts.command}\``,
    `- **Mode**: ${mode.name}, ${mode.runs} run${mode.runs > 1 ? 's' : ''} per scenario${mode.runs > 1 ? ' (cells: median (min–max))' : ''}; seed ${opts.seed} (every run uses the same graph)`,
    `- **Date**: ${opts.started.toISOString()}, took ${Math.round(opts.seconds)} s`,
    `- **Machine**: ${m.nproc} CPUs (nproc), ${m.cpu}, ${m.memGiB.toFixed(1)} GiB RAM, ${m.os}; open files ${m.nofile}`,
    `- **Node**: ${m.node}; Presently at git ${m.git}`,
    `- **Load average at start**: ${m.loadStart} (other work on the machine skews every figure)`,
    `- **CPU pinning**: ${opts.pinned ? 'server on the last CPU, load generator on the others (taskset)' : 'none'}`,
    '',
    '## Summary',
    '',
    summaryTable(c, mode),
    '',
    'Ratio = Presently / baseline (medians). For latencies and memory lower is better, for rates higher is better.',
    'The baseline is a raw `ws` server doing the same socket work with no presence logic (bench/src/baseline-server.ts).',
    '',
  );
  if (c.errors.length > 0) {
    out.push('## Errors', '', ...c.errors.map((e) => `- ${e.split('\n')[0]}`), '');
  }
  const cluster = clusterSection(c, mode);
  if (cluster) out.push(cluster);
  if (c.online.presently.some((r) => r.steps.length > 0)) {
    out.push('## W1 steps', '', '### Presently', '', stepTable(c.online.presently), '');
    if (c.online.baseline.length > 0) out.push('### Raw-ws baseline', '', stepTable(c.online.baseline), '');
    out.push(
      'A step is *saturated* when the generator could not send 95% of the rate, fewer than 90% of the owed notifications',
      'arrived while the churn ran, or p99 passed 500 ms. Steps past the listed ones double the rate until the first saturated step.',
      '"notif per core-s" counts every notification of the step (including the drain) over the server CPU of the step.',
      '"other work" is CPU used on the machine by anything but the server and the load generator during the step (from /proc/stat):',
      'when it is well above 0 the step competed with other work and its latencies are not clean.',
      '',
    );
  }
  out.push('## Log', '', '```text', ...opts.log, '```', '');
  return out.join('\n');
}
