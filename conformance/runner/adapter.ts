/**
 * The adapter process: one SDK under test behind the line protocol of conformance/README.md.
 * Commands go to its stdin as one JSON object per line; its stdout carries one JSON object per
 * line, either the result of a command (it has the command's `id`) or an event (it has `event`).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';

export interface AdapterEvent {
  event: string;
  client?: string;
  [key: string]: unknown;
}

export interface AdapterResult {
  id: number;
  ok: boolean;
  code?: number;
  message?: string;
  data?: unknown;
}

export class AdapterProcess {
  private readonly proc: ChildProcess;
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (r: AdapterResult) => void; reject: (e: Error) => void; cmd: string }>();
  private stderr = '';
  private exitError: Error | null = null;
  /** Set once the adapter said hello: its SDK's name and version. */
  hello: AdapterEvent | null = null;
  private readonly helloReady: Promise<AdapterEvent>;

  constructor(
    command: string[],
    private readonly onEvent: (e: AdapterEvent) => void,
    cwd: string,
    private readonly trace?: (line: string) => void,
    env: Record<string, string> = {},
  ) {
    const [file, ...args] = command;
    if (!file) throw new Error('empty adapter command');
    this.proc = spawn(file, args, { cwd, stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, ...env } });
    const reap = (): void => void this.proc.kill('SIGKILL');
    process.once('exit', reap);
    this.proc.once('exit', () => process.off('exit', reap));
    this.proc.stderr!.on('data', (d: Buffer) => {
      this.stderr += d.toString();
      if (this.stderr.length > 200_000) this.stderr = this.stderr.slice(-100_000);
    });
    let sayHello: (e: AdapterEvent) => void = () => undefined;
    let failHello: (e: Error) => void = () => undefined;
    this.helloReady = new Promise<AdapterEvent>((resolve, reject) => {
      sayHello = resolve;
      failHello = reject;
    });
    this.helloReady.catch(() => undefined);
    const rl = createInterface({ input: this.proc.stdout! });
    rl.on('line', (line) => {
      if (line.trim() === '') return;
      this.trace?.(`<- ${line}`);
      let msg: Record<string, unknown>;
      try {
        msg = JSON.parse(line) as Record<string, unknown>;
      } catch {
        this.stderr += `[runner] adapter wrote a line that is not JSON: ${line}\n`;
        return;
      }
      if (typeof msg.event === 'string') {
        if (msg.event === 'hello') {
          this.hello = msg as AdapterEvent;
          sayHello(this.hello);
        } else this.onEvent(msg as AdapterEvent);
        return;
      }
      if (typeof msg.id === 'number') {
        const p = this.pending.get(msg.id);
        if (p) {
          this.pending.delete(msg.id);
          p.resolve(msg as unknown as AdapterResult);
        }
      }
    });
    this.proc.once('exit', (code, signal) => {
      this.exitError = new Error(`adapter exited (${signal ?? code})\n--- adapter stderr (tail) ---\n${this.stderr.slice(-4000)}`);
      failHello(this.exitError);
      for (const p of this.pending.values()) p.reject(this.exitError);
      this.pending.clear();
    });
    this.proc.stdin!.on('error', () => undefined);
  }

  /** Waits for the adapter's hello line. */
  async ready(timeoutMs: number): Promise<AdapterEvent> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`adapter said no hello within ${timeoutMs} ms\n${this.stderr.slice(-4000)}`)), timeoutMs);
    });
    try {
      return await Promise.race([this.helloReady, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  get alive(): boolean {
    return this.exitError === null;
  }

  stderrTail(chars = 4000): string {
    return this.stderr.slice(-chars);
  }

  /** Sends a command and resolves with its result line (rejects after `timeoutMs`). */
  command(cmd: string, fields: Record<string, unknown>, timeoutMs: number): Promise<AdapterResult> {
    if (this.exitError) return Promise.reject(this.exitError);
    const id = this.nextId++;
    const line = JSON.stringify({ id, cmd, ...fields });
    return new Promise<AdapterResult>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`adapter gave no result for ${cmd} (#${id}) within ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(id, {
        cmd,
        resolve: (r) => {
          clearTimeout(timer);
          resolve(r);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      });
      this.trace?.(`-> ${line}`);
      this.proc.stdin!.write(`${line}\n`);
    });
  }

  async stop(): Promise<void> {
    if (!this.alive) return;
    const exited = new Promise<void>((resolve) => this.proc.once('exit', () => resolve()));
    this.proc.stdin!.end();
    const timer = setTimeout(() => this.proc.kill('SIGKILL'), 3000);
    await exited;
    clearTimeout(timer);
  }
}
