/**
 * The benchmark runner.
 *
 *   npm run bench                 quick mode (< 5 min on 2 cores, smaller N, one run per step)
 *   npm run bench -- --full       the issue's sizes, medians of 3 runs
 *   npm run bench -- --tiny       smoke run with tiny sizes (about a minute)
 *
 * Options: --only=W1,W2,W3,W4,W5,C1,W3C,CS (CS only when asked)  --cs-nodes=1,2,4,6  --cs-rate=N  --runs=N  --n=N (users of every scenario)  --seed=N  --pin (taskset:
 * server on the last CPU, load generator on the others)  --out=FILE (default bench/RESULTS.md).
 */
import { writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import os from 'node:os';
import { ALL_SCENARIOS, MODES, type Mode, type ModeName } from './modes.js';
import { BENCH_DIR, ROOT } from './procs.js';
import { Workspace } from './setup.js';
import { runOnline } from './scenarios/online.js';
import { runLogin } from './scenarios/login.js';
import { runHold } from './scenarios/hold.js';
import { runClusterHold } from './scenarios/cluster-hold.js';
import { ClusterInfra } from './cluster.js';
import { clusterSection, codeFingerprint, machine, summaryTable, writeResults, type Collected } from './results.js';
import type { Ctx, Kind } from './scenarios/common.js';

const argv = process.argv.slice(2);
const flag = (name: string): boolean => argv.includes(`--${name}`);
const opt = (name: string): string | undefined => argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);

const known = ['full', 'quick', 'tiny', 'pin', 'help'];
for (const a of argv) {
  const name = a.replace(/^--/, '').split('=')[0]!;
  if (!known.includes(name) && !['only', 'runs', 'n', 'seed', 'out', 'w3c', 'cs-nodes', 'cs-rate'].includes(name)) {
    process.stderr.write(`bench: unknown option ${a}\n`);
    process.exit(2);
  }
}
if (flag('help')) {
  process.stdout.write(
    `usage: npm run bench [-- --full | --tiny] [--only=${ALL_SCENARIOS.join(',')}] [--runs=N] [--n=N] [--w3c=N] [--cs-nodes=1,2,4,6] [--cs-rate=N] [--seed=N] [--pin] [--out=FILE]\n`,
  );
  process.exit(0);
}

const modeName: ModeName = flag('full') ? 'full' : flag('tiny') ? 'tiny' : 'quick';
const mode: Mode = { ...MODES[modeName] };
if (opt('runs')) mode.runs = Number(opt('runs'));
if (opt('n')) {
  // One size for every scenario (handy for small trial runs).
  mode.n = mode.w2N = mode.w3Sessions = mode.w3cSessions = Number(opt('n'));
  mode.w4Victims = Math.min(mode.w4Victims, Math.floor(mode.n / 4));
}
const ALIASES: Record<string, string> = { 'W3-100K': 'W3C', W3_100K: 'W3C', 'W3-CLUSTER': 'W3C' };
// W3C's sessions alone (trial runs of the cluster hold at another size).
if (opt('w3c')) mode.w3cSessions = Number(opt('w3c'));
// CS's node counts and its one change rate.
if (opt('cs-nodes')) mode.csNodes = opt('cs-nodes')!.split(',').map(Number);
if (opt('cs-rate')) mode.csRate = Number(opt('cs-rate'));
const only = new Set((opt('only')?.toUpperCase().split(',') ?? mode.scenarios).map((x) => ALIASES[x] ?? x));
for (const x of only) {
  if (!ALL_SCENARIOS.includes(x)) {
    process.stderr.write(`bench: unknown scenario ${x} (known: ${ALL_SCENARIOS.join(', ')})\n`);
    process.exit(2);
  }
}
const seed = Number(opt('seed') ?? 1);
const outFile = opt('out') ?? join(BENCH_DIR, 'RESULTS.md');
const pinned = flag('pin') && os.availableParallelism() >= 2;
const lastCpu = os.availableParallelism() - 1;
const plans = pinned ? { server: { cpus: String(lastCpu) }, workers: { cpus: lastCpu === 1 ? '0' : `0-${lastCpu - 1}` } } : { server: {}, workers: {} };

const logLines: string[] = [];
const log = (s: string): void => {
  const line = `[${((Date.now() - started.getTime()) / 1000).toFixed(0).padStart(4)}s] ${s}`;
  logLines.push(line);
  process.stdout.write(`${line}\n`);
};

const command = process.env.npm_lifecycle_event
  ? `npm run ${process.env.npm_lifecycle_event}${argv.length ? ` -- ${argv.join(' ')}` : ''}`
  : `node --conditions=source --import tsx ${relative(ROOT, join(BENCH_DIR, 'src/run.ts'))} ${argv.join(' ')}`.trim();

const started = new Date();
const m = machine();
log(`Presently bench, ${mode.name} mode (${command}); ${m.nproc} CPUs, ${m.cpu}, node ${m.node}, load ${m.loadStart}`);

const ws = new Workspace(mode.k, seed, plans, log);
const clusterInfra = only.has('C1') || only.has('W3C') || only.has('CS') ? new ClusterInfra(ws, log) : undefined;
const ctx: Ctx = { mode, ws, seed, log, ...(clusterInfra ? { cluster: clusterInfra } : {}) };
const c: Collected = {
  online: { presently: [], baseline: [] },
  login: { presently: [], baseline: [] },
  hold: { presently: [], baseline: [] },
  cluster: { c1: [], w3c: [], cs: [] },
  errors: [],
};
const kinds: Array<Exclude<Kind, 'cluster'>> = ['presently', 'baseline'];

async function attempt<T>(what: string, fn: () => Promise<T>): Promise<T | undefined> {
  try {
    return await fn();
  } catch (err) {
    const msg = `${what}: ${err instanceof Error ? err.message : String(err)}`;
    c.errors.push(msg);
    log(`ERROR ${msg}`);
    return undefined;
  }
}

try {
  // C1 is compared with W1 on one process and with the raw-ws baseline measured in the same run.
  const online = { w1: only.has('W1') || only.has('C1'), w5: only.has('W5'), w4: only.has('W4') };
  for (let run = 1; run <= mode.runs; run++) {
    const tag = mode.runs > 1 ? ` run ${run}/${mode.runs}` : '';
    if (online.w1 || online.w4 || online.w5) {
      log(`W1/W5/W4 online set, N=${mode.n}, K=${mode.k}${tag}`);
      for (const kind of kinds) {
        const r = await attempt(`W1/W5/W4 ${kind}${tag}`, () => runOnline(ctx, kind, run, online));
        if (r) c.online[kind].push(r);
      }
    }
    if (only.has('C1')) {
      log(`C1 friends churn on a cluster of ${mode.c1Nodes} nodes, N=${mode.n}, K=${mode.k}${tag}`);
      const r = await attempt(`C1 cluster${tag}`, () => runOnline(ctx, 'cluster', run, { w1: true, w5: false, w4: false }));
      if (r) c.cluster.c1.push(r);
    }
    if (only.has('CS')) {
      // Node counts outside, designs inside: the two designs of one node count are measured minutes apart at most.
      for (const nodes of mode.csNodes) {
        for (const design of ['replicated', 'v2'] as const) {
          log(`CS friends churn at ${mode.csRate} changes/s on ${nodes} node${nodes > 1 ? 's' : ''}, ${design}, N=${mode.n}, K=${mode.k}${tag}`);
          const r = await attempt(`CS ${design} ${nodes} nodes${tag}`, () =>
            runOnline(ctx, 'cluster', run, { w1: true, w5: false, w4: false, rates: [mode.csRate], stepSec: mode.csSec, nodes, clusterEnv: { PRESENTLY_CLUSTER: design } }),
          );
          c.cluster.cs!.push({ design, nodes, run, rate: mode.csRate, online: r ?? null, error: r ? null : (c.errors[c.errors.length - 1] ?? 'failed') });
        }
      }
    }
    if (only.has('W2')) {
      log(`W2 login storm, N=${mode.w2N}${tag}`);
      for (const kind of kinds) {
        const r = await attempt(`W2 ${kind}${tag}`, () => runLogin(ctx, kind));
        if (r) c.login[kind].push(r);
      }
    }
    // W3C is compared with W3 on one process, measured in the same run.
    if (only.has('W3') || only.has('W3C')) {
      log(`W3 hold, ${mode.w3Sessions} sessions${tag}`);
      for (const kind of only.has('W3') ? kinds : (['presently'] as const)) {
        const r = await attempt(`W3 ${kind}${tag}`, () => runHold(ctx, kind));
        if (r) c.hold[kind].push(r);
      }
    }
    if (only.has('W3C')) {
      log(`W3C hold on a cluster, ${mode.w3cSessions} sessions over ${mode.w3cNodes} nodes${tag}`);
      const r = await attempt(`W3C cluster${tag}`, () => runClusterHold(ctx));
      if (r) c.cluster.w3c.push(r);
    }
  }
} finally {
  await clusterInfra?.cleanup();
  ws.cleanup();
}

const seconds = (Date.now() - started.getTime()) / 1000;
const fpEnd = codeFingerprint();
if (!m.git.includes(fpEnd)) {
  log(`WARNING: the uncommitted code in packages/ changed during the run (fingerprint now ${fpEnd}): servers started at different times may have run different code`);
}
log(
  `done in ${seconds.toFixed(0)} s; load average now ${os
    .loadavg()
    .map((x) => x.toFixed(2))
    .join(' ')}`,
);
// The raw figures too, so the tables can be made again (node -e with results.ts) without a re-run.
writeFileSync(`${outFile.replace(/\.md$/, '')}.json`, JSON.stringify({ c, mode, m, command, started, seconds, pinned, seed }, null, 1));
writeFileSync(outFile, writeResults({ c, mode, m, command, started, seconds, log: logLines, pinned, seed }));
process.stdout.write(`\n${summaryTable(c, mode)}\n\n${clusterSection(c, mode)}\nwrote ${relative(process.cwd(), outFile) || outFile}\n`);
process.exit(c.errors.length > 0 ? 1 : 0);
