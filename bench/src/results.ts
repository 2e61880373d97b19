/**
 * Turns the runs into figures (median of runs, min-max, ratio to the raw-ws baseline, target,
 * pass/miss) and writes RESULTS.md.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import type { Mode } from './modes.js';
import type { OnlineRun, W1Step } from './scenarios/online.js';
import type { W2Result } from './scenarios/login.js';
import type { W3Result } from './scenarios/hold.js';
import { median, minMax } from './stats.js';

export interface Collected {
  online: { presently: OnlineRun[]; baseline: OnlineRun[] };
  login: { presently: W2Result[]; baseline: W2Result[] };
  hold: { presently: W3Result[]; baseline: W3Result[] };
  errors: string[];
}

/** ejabberd reference figures quoted by the issue. */
const EJABBERD = { notifPerSec: 20_000, cores: 1.31, p99At1000: 247, loginsPerSec: 284, loginP99: 2600, offlineP99: 478 };
const EJ_PER_CORE = EJABBERD.notifPerSec / EJABBERD.cores;

type Fmt = 'int' | 'ms' | 'dec' | 'kib' | 'pct';
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
    F.push({ scenario: name, metric: 'logins/s', fmt: 'int', p: L.presently.map((r) => r.perSec), b: L.baseline.map((r) => r.perSec), target: `≥ 2,000 (ejabberd ${EJABBERD.loginsPerSec})`, pass: (p) => p >= 2000 });
    F.push({ scenario: name, metric: 'login latency p99, ms', fmt: 'ms', p: L.presently.map((r) => r.p99), b: L.baseline.map((r) => r.p99), target: `≤ 500 ms (ejabberd 2.6 s)`, pass: (p) => p <= 500 });
    F.push({ scenario: name, metric: 'login latency p50, ms', fmt: 'ms', p: L.presently.map((r) => r.p50), b: L.baseline.map((r) => r.p50), target: 'info' });
    F.push({ scenario: name, metric: 'failed logins', fmt: 'int', p: L.presently.map((r) => r.failed), b: L.baseline.map((r) => r.failed), target: '0', pass: (p) => p === 0 });
    F.push({ scenario: name, metric: 'server CPU during the storm, cores (load generator in the log)', fmt: 'dec', p: L.presently.map((r) => r.cores), b: L.baseline.map((r) => r.cores), target: 'info' });
    F.push({ scenario: name, metric: 'WebSocket handshake p99, ms', fmt: 'ms', p: L.presently.map((r) => r.handshakeP99), b: L.baseline.map((r) => r.handshakeP99), target: 'info' });
    F.push({ scenario: name, metric: 'login frame to login reply p99, ms', fmt: 'ms', p: L.presently.map((r) => r.replyP99), b: L.baseline.map((r) => r.replyP99), target: 'info' });
    F.push({
      scenario: name,
      metric: `friend pairs with no ONLINE push (each of the ${(mode.w2N * mode.k / 2).toLocaleString('en-US')} pairs owes exactly one)`,
      fmt: 'int',
      p: L.presently.map((r) => r.pairs - r.seenTotal),
      b: L.baseline.map((r) => r.pairs - r.seenTotal),
      target: '0',
      pass: (p) => p === 0,
    });
    F.push({ scenario: name, metric: 'duplicated ONLINE pushes', fmt: 'int', p: L.presently.map((r) => r.dupOnline), b: L.baseline.map((r) => r.dupOnline), target: '0', pass: (p) => p === 0 });
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
    F.push({ scenario: name, metric: 'server RSS per session after a full GC (last 90% of sessions), KiB', fmt: 'kib', p: H.presently.map((r) => r.rssPerSessionKiB), b: H.baseline.map((r) => r.rssPerSessionKiB), target: '≤ 20 KiB', pass: (p) => p <= 20 });
    F.push({ scenario: name, metric: 'JS heap per session after a full GC (last 90%), KiB', fmt: 'kib', p: H.presently.map((r) => r.heapPerSessionKiB), b: H.baseline.map((r) => r.heapPerSessionKiB), target: 'info' });
    F.push({ scenario: name, metric: 'server RSS per session (plain average, incl. warm-up), KiB', fmt: 'kib', p: H.presently.map((r) => r.rssAvgPerSessionKiB), b: H.baseline.map((r) => r.rssAvgPerSessionKiB), target: 'info' });
    F.push({ scenario: name, metric: 'server RSS during the hold (no forced GC), MiB', fmt: 'int', p: H.presently.map((r) => r.rssHoldMiB), b: H.baseline.map((r) => r.rssHoldMiB), target: 'info' });
    F.push({ scenario: name, metric: 'server RSS after the hold and a full GC, MiB', fmt: 'int', p: H.presently.map((r) => r.rssAfterMiB), b: H.baseline.map((r) => r.rssAfterMiB), target: 'info' });
    F.push({ scenario: name, metric: `server CPU while holding (heartbeats every 60 s + sweep), % of one core`, fmt: 'pct', p: H.presently.map((r) => r.cpuPctOfCore), b: H.baseline.map((r) => r.cpuPctOfCore), target: '< 5%', pass: (p) => p < 5 });
    F.push({ scenario: name, metric: 'sessions still open after the hold', fmt: 'int', p: H.presently.map((r) => r.ready), b: H.baseline.map((r) => r.ready), target: `${mode.w3Sessions}`, pass: (p) => p === mode.w3Sessions });
  }
  const w4P = P.map((r) => r.w4).filter((x) => x !== null);
  const w4B = B.map((r) => r.w4).filter((x) => x !== null);
  if (w4P.length > 0) {
    const name = `W4 abrupt disconnects (${mode.w4Victims} of N=${mode.n.toLocaleString('en-US')} sockets destroyed at once)`;
    F.push({ scenario: name, metric: 'friend sees OFFLINE, p99, ms', fmt: 'ms', p: w4P.map((r) => r.p99), b: w4B.map((r) => r.p99), target: `≤ 100 ms (ejabberd ${EJABBERD.offlineP99} ms)`, pass: (p) => p <= 100 });
    F.push({ scenario: name, metric: 'every friend saw OFFLINE after (max), ms', fmt: 'ms', p: w4P.map((r) => r.max), b: w4B.map((r) => r.max), target: 'info' });
    F.push({ scenario: name, metric: `friends never told (of ${w4P[0]!.pairs.toLocaleString('en-US')})`, fmt: 'int', p: w4P.map((r) => r.missing), b: w4B.map((r) => r.missing), target: '0', pass: (p) => p === 0 });
  }
  const q = (runs: OnlineRun[], ids: number) => runs.map((r) => r.w5.find((x) => x.ids === ids)).filter((x) => x !== undefined);
  if (q(P, 1).length > 0) {
    const name = `W5 queries (N=${mode.n.toLocaleString('en-US')}, ${mode.w5Conns} connections, 1 in flight each)`;
    F.push({ scenario: name, metric: 'getUserStatus(1 id): round-trips per server-core-second', fmt: 'int', p: q(P, 1).map((r) => r.perCoreSec), b: q(B, 1).map((r) => r.perCoreSec), target: '≥ 50% of the raw echo', pass: (p, b) => p >= 0.5 * b });
    F.push({ scenario: name, metric: 'getUserStatus(1 id): round-trips/s', fmt: 'int', p: q(P, 1).map((r) => r.perSec), b: q(B, 1).map((r) => r.perSec), target: 'info' });
    F.push({ scenario: name, metric: 'getUserStatus(1 id): p99, ms', fmt: 'ms', p: q(P, 1).map((r) => r.p99), b: q(B, 1).map((r) => r.p99), target: 'info' });
    F.push({ scenario: name, metric: 'getUserStatus(500 ids): round-trips per server-core-second', fmt: 'int', p: q(P, 500).map((r) => r.perCoreSec), b: q(B, 500).map((r) => r.perCoreSec), target: 'info' });
    F.push({ scenario: name, metric: 'getUserStatus(500 ids): p99, ms', fmt: 'ms', p: q(P, 500).map((r) => r.p99), b: q(B, 500).map((r) => r.p99), target: 'info' });
    F.push({ scenario: name, metric: 'query errors', fmt: 'int', p: q(P, 1).map((r, i) => r.errors + (q(P, 500)[i]?.errors ?? 0)), b: q(B, 1).map((r, i) => r.errors + (q(B, 500)[i]?.errors ?? 0)), target: '0', pass: (p) => p === 0 });
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
  const out = [
    '| Scenario (size) | Figure | Presently | Raw-ws baseline | Ratio | Target | Result |',
    '|---|---|---:|---:|---:|---|---|',
  ];
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
      `| ${rate.toLocaleString('en-US')} | ${fmt(m((x) => x.sentPerSec), 'int')} | ${fmt(m((x) => x.offeredPerSec), 'int')} | ${fmt(m((x) => x.deliveredPerSec), 'int')} | ` +
        `${cell(s.map((x) => x.perCoreSec), 'int')} | ${fmt(m((x) => x.p50), 'ms')} | ${fmt(m((x) => x.p99), 'ms')} | ${fmt(m((x) => x.max), 'ms')} | ` +
        `${s.reduce((a, x) => a + x.missing, 0)}/${s.reduce((a, x) => a + x.dup, 0)}/${s.reduce((a, x) => a + x.outOfOrder, 0)} | ` +
        `${fmt(m((x) => x.cores), 'dec')} | ${fmt(m((x) => x.rssMiB), 'int')} | ${fmt(m((x) => x.loadgenCores), 'dec')} | ${fmt(m((x) => x.foreignCores), 'dec')} | ` +
        `${sat.length}/${s.length}${sat.length ? ` (${sat[0]!.why})` : ''} |`,
    );
  }
  return lines.join('\n');
}

function sh(cmd: string, args: string[]): string {
  try {
    return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
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
    loadStart: os.loadavg().map((x) => x.toFixed(2)).join(' '),
    git: `${sh('git', ['rev-parse', '--short', 'HEAD']) || 'unknown'}${dirty}`,
  };
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
