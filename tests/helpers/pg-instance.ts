/**
 * A private PostgreSQL 15 server for tests that stop or restart PostgreSQL, leaving the machine's
 * shared server on 5432 alone. Its own temp directory (data, log, Unix socket), a free port on
 * 127.0.0.1, trust auth for `postgres`, fsync off. initdb refuses to run as root, so the directory
 * belongs to the `postgres` user and initdb / pg_ctl run through `runuser -u postgres --` when we
 * are root. The server is stopped (immediate mode) and its directory removed when the process exits.
 */
import { execFile, execFileSync, spawnSync } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort } from './redis.js';

/** The newest PostgreSQL server binaries Debian installed (/usr/lib/postgresql/<version>/bin). */
const BIN = ((): string => {
  const root = '/usr/lib/postgresql';
  const versions = existsSync(root) ? readdirSync(root).filter((v) => existsSync(join(root, v, 'bin', 'initdb'))) : [];
  versions.sort((x, y) => Number(y) - Number(x));
  return join(root, versions[0] ?? '15', 'bin');
})();
const run = promisify(execFile);

export interface PgInstance {
  port: number;
  /** postgres://postgres@127.0.0.1:PORT/postgres */
  url: string;
  /** The temp directory: data/ , log, the Unix socket. */
  dir: string;
  /** Stops the server (fast mode) and removes its directory; the instance is done. */
  stop(): Promise<void>;
  /** Fast-mode restart on the same port; resolves once it accepts connections again. */
  restart(): Promise<void>;
  /** Stops the server but keeps its data, for `start()` later. 'immediate' is a crash (no checkpoint). */
  stopOnly(mode?: 'smart' | 'fast' | 'immediate'): Promise<void>;
  /** Starts a stopped server again on the same port; resolves once it accepts connections. */
  start(): Promise<void>;
  /** What the server logged so far. */
  log(): string;
}

// Wraps a command so it runs as `postgres` (only needed, and only possible, when we are root).
const asRoot = process.getuid?.() === 0;
function asPostgres(cmd: string, args: string[]): [string, string[]] {
  return asRoot ? ['runuser', ['-u', 'postgres', '--', cmd, ...args]] : [cmd, args];
}

// Data directories of servers still running, stopped and removed synchronously at process exit.
const running = new Map<string, string>(); // dataDir -> base dir
let hooked = false;
function cleanupOnExit(): void {
  if (hooked) return;
  hooked = true;
  process.on('exit', () => {
    for (const [data, base] of running) {
      const [cmd, args] = asPostgres(join(BIN, 'pg_ctl'), ['-D', data, '-m', 'immediate', '-w', '-t', '10', 'stop']);
      spawnSync(cmd, args, { stdio: 'ignore', cwd: base, timeout: 15_000 });
      rmSync(base, { recursive: true, force: true });
    }
  });
}

function postgresOwner(): { uid: number; gid: number } {
  const id = (flag: string) => Number(execFileSync('id', [flag, 'postgres'], { encoding: 'utf8' }).trim());
  return { uid: id('-u'), gid: id('-g') };
}

/** initdb + pg_ctl start of a fresh server; resolves once it accepts connections. */
export async function startPostgres(): Promise<PgInstance> {
  cleanupOnExit();
  const dir = mkdtempSync(join(tmpdir(), 'presently-pg-'));
  if (asRoot) {
    const { uid, gid } = postgresOwner();
    chownSync(dir, uid, gid);
  }
  const data = join(dir, 'data');
  const logPath = join(dir, 'log');
  const port = await freePort();
  const serverOpts = `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off`;
  let removed = false;

  const readLog = (): string => {
    try {
      return readFileSync(logPath, 'utf8');
    } catch {
      return '';
    }
  };
  const exec = async (bin: string, args: string[]): Promise<void> => {
    const [cmd, argv] = asPostgres(join(BIN, bin), args);
    try {
      // cwd: the postgres user may not be allowed into ours.
      await run(cmd, argv, { cwd: dir, timeout: 60_000 });
    } catch (e) {
      const err = e as Error & { stderr?: string; stdout?: string };
      throw new Error(`${bin} ${args.join(' ')} failed: ${err.message}\n${err.stdout ?? ''}${err.stderr ?? ''}\n${readLog()}`, { cause: e });
    }
  };
  const pgCtl = (action: string, extra: string[] = []) => exec('pg_ctl', ['-D', data, '-l', logPath, '-w', '-t', '30', ...extra, action]);
  const start = async () => {
    await pgCtl('start', ['-o', serverOpts]);
    running.set(data, dir);
  };
  const stopOnly = async (mode: 'smart' | 'fast' | 'immediate' = 'fast') => {
    if (!running.has(data)) return;
    await pgCtl('stop', ['-m', mode]);
    running.delete(data);
  };

  try {
    await exec('initdb', ['-D', data, '-A', 'trust', '-U', 'postgres', '--no-sync', '-E', 'UTF8', '--locale=C']);
    await start();
  } catch (e) {
    await stopOnly('immediate').catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
    throw e;
  }

  return {
    port,
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    dir,
    async stop() {
      if (removed) return;
      await stopOnly('fast');
      rmSync(dir, { recursive: true, force: true });
      removed = true;
    },
    async restart() {
      if (running.has(data)) await pgCtl('restart', ['-m', 'fast', '-o', serverOpts]);
      else await start();
    },
    stopOnly,
    async start() {
      if (!running.has(data)) await start();
    },
    log: readLog,
  };
}
