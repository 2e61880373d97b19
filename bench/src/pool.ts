/** The runner's side of the load-generator workers: spawn, call over IPC, stop. */
import type { ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { BENCH_DIR, nodeFlagsFromEnv, spawnNode, type SpawnPlan } from './procs.js';
import type { ArgsOf, Cmd, InitArgs, ResultMap } from './ipc.js';

interface Reply {
  re?: number;
  ok?: boolean;
  result?: unknown;
  error?: string;
  ready?: boolean;
}

class WorkerHandle {
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void; cmd: string }>();
  readonly ready: Promise<void>;

  constructor(
    readonly index: number,
    readonly proc: ChildProcess,
  ) {
    let markReady: () => void = () => undefined;
    this.ready = new Promise((r) => (markReady = r));
    proc.on('message', (m: Reply) => {
      if (m.ready) return markReady();
      const p = m.re !== undefined ? this.pending.get(m.re) : undefined;
      if (!p) return;
      this.pending.delete(m.re!);
      if (m.ok) p.resolve(m.result);
      else p.reject(new Error(`worker ${index} ${p.cmd}: ${m.error}`));
    });
    proc.once('exit', (code, signal) => {
      for (const p of this.pending.values()) p.reject(new Error(`worker ${index} exited (${code ?? signal}) during ${p.cmd}`));
      this.pending.clear();
    });
  }

  get pid(): number {
    return this.proc.pid!;
  }

  call<C extends Cmd>(cmd: C, args: ArgsOf<C>): Promise<ResultMap[C]> {
    return new Promise((resolve, reject) => {
      const id = this.nextId++;
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject, cmd });
      this.proc.send({ id, cmd, args });
    });
  }
}

export class Pool {
  private constructor(readonly workers: WorkerHandle[]) {}

  /** Starts `count` workers and sends each its init args. */
  static async start(count: number, initFor: (w: number) => InitArgs, plan: SpawnPlan = {}): Promise<Pool> {
    const script = join(BENCH_DIR, 'src/worker.ts');
    const workers = Array.from({ length: count }, (_, w) => {
      const proc = spawnNode(script, [], {
        ...plan,
        nodeFlags: nodeFlagsFromEnv('BENCH_WORKER_NODE_FLAGS'),
        stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
        serialization: 'advanced',
      });
      return new WorkerHandle(w, proc);
    });
    const pool = new Pool(workers);
    await Promise.all(
      workers.map(async (w) => {
        await Promise.race([w.ready, new Promise((_, reject) => w.proc.once('exit', (c) => reject(new Error(`worker ${w.index} exited (${c}) while starting`))))]);
        await w.call('init', initFor(w.index));
      }),
    );
    return pool;
  }

  get pids(): number[] {
    return this.workers.map((w) => w.pid);
  }

  /** The same command on every worker; `args` may depend on the worker index. */
  all<C extends Cmd>(cmd: C, args: ArgsOf<C> | ((w: number) => ArgsOf<C>)): Promise<Array<ResultMap[C]>> {
    return Promise.all(this.workers.map((w) => w.call(cmd, typeof args === 'function' ? args(w.index) : args)));
  }

  call<C extends Cmd>(w: number, cmd: C, args: ArgsOf<C>): Promise<ResultMap[C]> {
    return this.workers[w]!.call(cmd, args);
  }

  async stop(): Promise<void> {
    await Promise.all(
      this.workers.map(async (w) => {
        if (w.proc.exitCode !== null || w.proc.signalCode !== null) return;
        const exited = new Promise<void>((r) => w.proc.once('exit', () => r()));
        try {
          await Promise.race([w.call('shutdown', {}), exited]);
        } catch {
          /* already gone */
        }
        const t = setTimeout(() => w.proc.kill('SIGKILL'), 5000);
        await exited;
        clearTimeout(t);
      }),
    );
  }
}
