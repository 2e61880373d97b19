/**
 * Runs the project's commands as a person would: in the repository's root, through a shell when
 * the README shows a shell line, with an environment cleaned of the variables the server reads
 * (so a developer's own PORT or PRESENTLY_CONFIG never leaks into a test).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';

export const ROOT = new URL('../..', import.meta.url).pathname;

const SERVER_VARS = /^(HOST|PORT|DATABASE_URL|REDIS_URL|LOG_LEVEL|PRESENTLY_.*)$/;

/** This process's environment without the server's variables, plus `extra`. */
export function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!SERVER_VARS.test(k)) env[k] = v;
  return { ...env, ...extra };
}

export interface Ran {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `cmd args` to its end (killed after `timeoutMs`); never throws for a non-zero exit. */
export function run(cmd: string, args: string[], env: NodeJS.ProcessEnv, timeoutMs = 30_000): Promise<Ran> {
  return new Promise((resolve, reject) => {
    const proc = spawn(cmd, args, { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'], timeout: timeoutMs, killSignal: 'SIGKILL' });
    let stdout = '';
    let stderr = '';
    proc.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    proc.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    proc.once('error', reject);
    proc.once('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** Runs a shell line as the README shows it. */
export function sh(line: string, env: NodeJS.ProcessEnv, timeoutMs = 30_000): Promise<Ran> {
  return run('sh', ['-c', line], env, timeoutMs);
}

export interface Background {
  proc: ChildProcess;
  /** Everything written to stdout and stderr so far. */
  output(): string;
  /** Resolves with the first stdout line matching `re` (already written or to come). */
  line(re: RegExp): Promise<string>;
  /** SIGTERM to the whole process group (shell, npm, node), then waits for its pipes to close. */
  stop(): Promise<void>;
}

/**
 * Starts a shell line in its own process group (npm, its shell and node all stop together).
 * Its server stops with this process too when given PRESENTLY_PARENT_PID (tests/helpers/server.ts).
 */
export function background(line: string, env: NodeJS.ProcessEnv): Background {
  const proc = spawn('sh', ['-c', line], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  const kill = (signal: NodeJS.Signals) => {
    try {
      process.kill(-proc.pid!, signal);
    } catch {
      /* already gone */
    }
  };
  const reap = () => kill('SIGKILL');
  process.once('exit', reap);
  let output = '';
  const lines: string[] = [];
  let waiters: Array<() => void> = [];
  let done = false;
  const closed = new Promise<void>((resolve) =>
    proc.once('close', () => {
      done = true;
      process.off('exit', reap);
      for (const w of waiters) w();
      resolve();
    }),
  );
  proc.stderr.on('data', (d: Buffer) => (output += d.toString()));
  proc.stdout.on('data', (d: Buffer) => (output += d.toString()));
  createInterface({ input: proc.stdout }).on('line', (l) => {
    lines.push(l);
    for (const w of waiters) w();
  });
  return {
    proc,
    output: () => output,
    line: (re) =>
      new Promise((resolve, reject) => {
        const check = () => {
          const hit = lines.find((l) => re.test(l));
          if (hit !== undefined) resolve(hit);
          else if (done) reject(new Error(`exited without a line matching ${re}:\n${output}`));
          else return false;
          waiters = waiters.filter((w) => w !== check);
          return true;
        };
        if (!check()) waiters.push(check);
      }),
    async stop() {
      if (!done) kill('SIGTERM');
      await closed;
    },
  };
}
