/**
 * The benchmark runner.
 *
 *   npm run bench                 quick mode (< 5 min on 2 cores, smaller N, one run per step)
 *   npm run bench -- --full       the issue's sizes, medians of 3 runs
 *   npm run bench -- --tiny       smoke run with tiny sizes (about a minute)
 *
 * Options: --only=W1,W2,W3,W4,W5  --runs=N  --n=N (users of every scenario)  --seed=N  --pin (taskset:
 * server on the last CPU, load generator on the others)  --out=FILE (default bench/RESULTS.md).
 */
import { writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import os from 'node:os';
import { MODES, type Mode, type ModeName } from './modes.js';
import { BENCH_DIR, ROOT } from './procs.js';
import { Workspace } from './setup.js';
import { runOnline } from './scenarios/online.js';
import { runLogin } from './scenarios/login.js';
import { runHold } from './scenarios/hold.js';
import { machine, summaryTable, writeResults, type Collected } from './results.js';
import type { Ctx, Kind } from './scenarios/common.js';

const argv = process.argv.slice(2);
const flag = (name: string): boolean => argv.includes(`--${name}`);
const opt = (name: string): string | undefined => argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);

const known = ['full', 'quick', 'tiny', 'pin', 'help'];
for (const a of argv) {
  const name = a.replace(/^--/, '').split('=')[0]!;
  if (!known.includes(name) && !['only', 'runs', 'n', 'seed', 'out'].includes(name)) {
    process.stderr.write(`bench: unknown option ${a}\n`);
    process.exit(2);
  }
}
if (flag('help')) {
  process.stdout.write('usage: npm run bench [-- --full | --tiny] [--only=W1,W2,W3,W4,W5] [--runs=N] [--n=N] [--seed=N] [--pin] [--out=FILE]\n');
  process.exit(0);
}

const modeName: ModeName = flag('full') ? 'full' : flag('tiny') ? 'tiny' : 'quick';
const mode: Mode = { ...MODES[modeName] };
if (opt('runs')) mode.runs = Number(opt('runs'));
if (opt('n')) {
  // One size for every scenario (handy for small trial runs).
  mode.n = mode.w2N = mode.w3Sessions = Number(opt('n'));
  mode.w4Victims = Math.min(mode.w4Victims, Math.floor(mode.n / 4));
}
const only = new Set((opt('only') ?? 'W1,W2,W3,W4,W5').toUpperCase().split(','));
const seed = Number(opt('seed') ?? 1);
const outFile = opt('out') ?? join(BENCH_DIR, 'RESULTS.md');
const pinned = flag('pin') && os.availableParallelism() >= 2;
const lastCpu = os.availableParallelism() - 1;
const plans = pinned
  ? { server: { cpus: String(lastCpu) }, workers: { cpus: lastCpu === 1 ? '0' : `0-${lastCpu - 1}` } }
  : { server: {}, workers: {} };

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
const ctx: Ctx = { mode, ws, seed, log };
const c: Collected = {
  online: { presently: [], baseline: [] },
  login: { presently: [], baseline: [] },
  hold: { presently: [], baseline: [] },
  errors: [],
};
const kinds: Kind[] = ['presently', 'baseline'];

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
  const online = { w1: only.has('W1'), w5: only.has('W5'), w4: only.has('W4') };
  for (let run = 1; run <= mode.runs; run++) {
    const tag = mode.runs > 1 ? ` run ${run}/${mode.runs}` : '';
    if (online.w1 || online.w4 || online.w5) {
      log(`W1/W5/W4 online set, N=${mode.n}, K=${mode.k}${tag}`);
      for (const kind of kinds) {
        const r = await attempt(`W1/W5/W4 ${kind}${tag}`, () => runOnline(ctx, kind, run, online));
        if (r) c.online[kind].push(r);
      }
    }
    if (only.has('W2')) {
      log(`W2 login storm, N=${mode.w2N}${tag}`);
      for (const kind of kinds) {
        const r = await attempt(`W2 ${kind}${tag}`, () => runLogin(ctx, kind));
        if (r) c.login[kind].push(r);
      }
    }
    if (only.has('W3')) {
      log(`W3 hold, ${mode.w3Sessions} sessions${tag}`);
      for (const kind of kinds) {
        const r = await attempt(`W3 ${kind}${tag}`, () => runHold(ctx, kind));
        if (r) c.hold[kind].push(r);
      }
    }
  }
} finally {
  ws.cleanup();
}

const seconds = (Date.now() - started.getTime()) / 1000;
log(`done in ${seconds.toFixed(0)} s; load average now ${os.loadavg().map((x) => x.toFixed(2)).join(' ')}`);
writeFileSync(outFile, writeResults({ c, mode, m, command, started, seconds, log: logLines, pinned, seed }));
process.stdout.write(`\n${summaryTable(c, mode)}\n\nwrote ${relative(process.cwd(), outFile) || outFile}\n`);
process.exit(c.errors.length > 0 ? 1 : 0);
