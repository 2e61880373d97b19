/**
 * One server node as a real process, started from source the way `npm start` does, on 127.0.0.1,
 * with its own data directory and a fixed port (so restarts come back where clients look). A
 * cluster run makes several, with the cluster's environment in `env`.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { now, type Rec } from './history.js';

const ROOT = new URL('..', import.meta.url).pathname;

export async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', () => resolve()));
  const port = (srv.address() as { port: number }).port;
  await new Promise<void>((resolve) => srv.close(() => resolve()));
  return port;
}

export interface NodeOptions {
  name: string;
  dataDir: string;
  configPath: string;
  port: number;
  env?: Record<string, string>;
  /** Another checkout's root to run the server from (a deliberately broken build); default this one. */
  root?: string;
  record: (rec: Rec) => void;
}

export class ServerNode {
  private proc: ChildProcess | null = null;
  private exited: Promise<void> = Promise.resolve();
  private tail: string[] = [];

  constructor(readonly opts: NodeOptions) {}

  get name(): string {
    return this.opts.name;
  }
  get http(): string {
    return `http://127.0.0.1:${this.opts.port}`;
  }
  get ws(): string {
    return `ws://127.0.0.1:${this.opts.port}`;
  }
  get running(): boolean {
    return this.proc !== null && this.proc.exitCode === null && this.proc.signalCode === null;
  }
  /** The last lines the process wrote (for a report when it fails). */
  output(): string {
    return this.tail.join('\n');
  }

  /** Starts the process and resolves once it listens (records `node up`). */
  async start(): Promise<void> {
    const root = this.opts.root ?? ROOT;
    const proc = spawn(process.execPath, ['--max-semi-space-size=32', '--conditions=source', '--import', 'tsx', join(root, 'packages/server/src/main.ts'), 'start'], {
      cwd: root,
      env: {
        ...process.env,
        PORT: String(this.opts.port),
        HOST: '127.0.0.1',
        PRESENTLY_DATA_DIR: this.opts.dataDir,
        PRESENTLY_CONFIG: this.opts.configPath,
        LOG_LEVEL: 'info',
        PRESENTLY_PARENT_PID: String(process.pid),
        ...(this.opts.env ?? {}),
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.proc = proc;
    const reap = () => proc.kill('SIGKILL');
    process.once('exit', reap);
    this.exited = new Promise<void>((resolve) =>
      proc.once('exit', () => {
        process.off('exit', reap);
        resolve();
      }),
    );
    const keep = (line: string) => {
      this.tail.push(line);
      if (this.tail.length > 200) this.tail.shift();
    };
    createInterface({ input: proc.stderr }).on('line', keep);
    await new Promise<void>((resolve, reject) => {
      createInterface({ input: proc.stdout }).on('line', (line) => {
        keep(line);
        if (line.includes('"msg":"listening"')) resolve();
      });
      proc.once('exit', (code, signal) => reject(new Error(`node ${this.name} exited (${code ?? signal}) before listening:\n${this.output()}`)));
    });
    this.opts.record({ type: 'node', t: now(), node: this.name, event: 'up' });
  }

  /** kill -9, then waits for the exit (records `node down`). */
  async kill(): Promise<void> {
    await this.signal('SIGKILL', 'kill');
  }

  /** SIGTERM (the server drains: sockets closed with 4010), then waits for the exit. */
  async term(): Promise<void> {
    await this.signal('SIGTERM', 'term');
  }

  private async signal(sig: NodeJS.Signals, how: string): Promise<void> {
    if (!this.running) return;
    this.proc!.kill(sig);
    await this.exited;
    this.opts.record({ type: 'node', t: now(), node: this.name, event: 'down', how });
  }
}
