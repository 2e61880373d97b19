/**
 * Child processes of the bench: the Presently server (the real `start` command, from source as
 * `npm start` runs it), the raw-ws baseline server, and load-generator workers. Each is started
 * through `/bin/sh -c 'ulimit -n <hard>; exec ...'` so it gets the highest open-file limit allowed
 * (the hard limit, 20,000 on the target machine), optionally pinned to CPUs with taskset.
 */
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';

export const BENCH_DIR = fileURLToPath(new URL('..', import.meta.url));
export const ROOT = join(BENCH_DIR, '..');
const NODE_ARGS = ['--conditions=source', '--import', 'tsx'];

const live = new Set<ChildProcess>();
/** Registers a child the bench started some other way (e.g. a private redis-server) to be killed on exit. */
export function track(child: ChildProcess): void {
  live.add(child);
  child.once('exit', () => live.delete(child));
}
function reapAll(): void {
  for (const p of live) if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
}
process.once('exit', reapAll);
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.once(sig, () => {
    reapAll();
    process.exit(130);
  });
}

export interface SpawnPlan {
  /** CPU list for taskset (e.g. "1"); undefined = no pinning. */
  cpus?: string | undefined;
  /** Open the V8 inspector on 127.0.0.1, a free port (servers only). */
  inspect?: boolean;
}

/** Node flags from a space-separated environment variable (BENCH_SERVER_NODE_FLAGS, BENCH_WORKER_NODE_FLAGS). */
export function nodeFlagsFromEnv(name: string): string[] {
  return (process.env[name] ?? '').split(' ').filter((f) => f !== '');
}

/** Spawns `node <NODE_ARGS> script args` with the open-file limit raised to the hard limit. */
export function spawnNode(script: string, args: string[], opts: SpawnOptions & SpawnPlan & { nodeFlags?: string[] } = {}): ChildProcess {
  const pin = opts.cpus ? `taskset -c ${opts.cpus} ` : '';
  const shell = `ulimit -n "$(ulimit -Hn)" 2>/dev/null || ulimit -n 20000 2>/dev/null; exec ${pin}"$0" "$@"`;
  const flags = [...(opts.nodeFlags ?? []), ...NODE_ARGS];
  const child = spawn('/bin/sh', ['-c', shell, process.execPath, ...flags, script, ...args], { cwd: ROOT, ...opts });
  live.add(child);
  child.once('exit', () => live.delete(child));
  return child;
}

export interface ServerProc {
  kind: 'presently' | 'baseline';
  /** ws://127.0.0.1:port */
  ws: string;
  /** http://127.0.0.1:port */
  http: string;
  pid: number;
  /** The V8 inspector's WebSocket URL when started with `inspect` (W3 forces GCs through it). */
  inspector: string | undefined;
  /** Last lines of output, for error reports. */
  tail(): string;
  /** SIGTERM (graceful; SIGKILL after 15 s), or SIGKILL at once with `kill`. */
  stop(opts?: { kill?: boolean }): Promise<void>;
}

function waitListening(kind: ServerProc['kind'], child: ChildProcess): Promise<ServerProc> {
  const lines: string[] = [];
  let inspector: string | undefined;
  const keep = (l: string) => {
    inspector ??= /Debugger listening on (ws:\/\/\S+)/.exec(l)?.[1];
    lines.push(l);
    if (lines.length > 40) lines.shift();
  };
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  if (child.stderr) createInterface({ input: child.stderr }).on('line', keep);
  return new Promise((resolve, reject) => {
    const rl = createInterface({ input: child.stdout! });
    let done = false;
    rl.on('line', (line) => {
      keep(line);
      if (done) return;
      try {
        const rec = JSON.parse(line) as { msg?: string; url?: string };
        if (rec.msg === 'listening' && rec.url) {
          done = true;
          const http = rec.url;
          resolve({
            kind,
            http,
            ws: http.replace(/^http/, 'ws'),
            pid: child.pid!,
            get inspector() {
              return inspector;
            },
            tail: () => lines.join('\n'),
            async stop(opts: { kill?: boolean } = {}) {
              if (child.exitCode === null && child.signalCode === null) {
                child.kill(opts.kill ? 'SIGKILL' : 'SIGTERM');
                const t = setTimeout(() => child.kill('SIGKILL'), 15_000);
                await exited;
                clearTimeout(t);
              }
            },
          });
        }
      } catch {
        /* not a log line */
      }
    });
    child.once('exit', (code, signal) => {
      if (!done) reject(new Error(`${kind} server exited (${code ?? signal}) before listening:\n${lines.join('\n')}`));
    });
  });
}

/** The V8 flag of the root package.json `start` script. */
const PRESENTLY_NODE_FLAGS = '--max-semi-space-size=32';

/**
 * The Presently server on a data directory and config file, port 0: one process on its SQLite file
 * unless `env` makes it a cluster node (REDIS_URL, DATABASE_URL...; a REDIS_URL or DATABASE_URL of
 * the bench's own environment is not passed on). Extra node flags for it
 * (e.g. `--cpu-prof --cpu-prof-dir=/tmp/prof` to profile it) come from BENCH_SERVER_NODE_FLAGS.
 */
export function startPresently(dataDir: string, configPath: string, plan: SpawnPlan = {}, env: Record<string, string> = {}): Promise<ServerProc> {
  // The young generation `npm start` gives the server (package.json): fan-out makes short-lived
  // garbage, and with V8's default semi-space the scavenges set W1's p99.
  const nodeFlags = [PRESENTLY_NODE_FLAGS, ...nodeFlagsFromEnv('BENCH_SERVER_NODE_FLAGS')];
  if (plan.inspect) nodeFlags.push('--inspect=127.0.0.1:0');
  const child = spawnNode(join(ROOT, 'packages/server/src/main.ts'), ['start'], {
    ...plan,
    nodeFlags,
    env: { ...process.env, PORT: '0', HOST: '127.0.0.1', PRESENTLY_DATA_DIR: dataDir, PRESENTLY_CONFIG: configPath, LOG_LEVEL: 'info', REDIS_URL: '', DATABASE_URL: '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return waitListening('presently', child);
}

/** The raw-ws baseline server for the graph (n, k, seed). */
export function startBaseline(n: number, k: number, seed: number, plan: SpawnPlan = {}): Promise<ServerProc> {
  const child = spawnNode(join(BENCH_DIR, 'src/baseline-server.ts'), [`--n=${n}`, `--k=${k}`, `--seed=${seed}`], {
    ...plan,
    nodeFlags: plan.inspect ? ['--inspect=127.0.0.1:0'] : [],
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return waitListening('baseline', child);
}
