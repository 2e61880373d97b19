/**
 * Private Redis servers for the cluster tests: a standalone `redis-server` (stop, kill -9, restart
 * on the same port) and a three-master Redis Cluster. Each instance has its own temp directory,
 * saves nothing (`--save "" --appendonly no`) and is SIGKILLed when the test process exits, so no
 * orphan survives a run. `redisCommand` talks raw RESP over node:net, with no client library.
 */
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { mkdtempSync, mkdirSync, openSync, closeSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const REDIS_SERVER = '/usr/bin/redis-server';
const REDIS_CLI = '/usr/bin/redis-cli';
const HOST = '127.0.0.1';
const run = promisify(execFile);

export interface RedisInstance {
  port: number;
  /** redis://127.0.0.1:PORT */
  url: string;
  /** The instance's temp directory (log file, cluster config). */
  dir: string;
  /** SIGTERM, then waits for the process to exit. */
  stop(): Promise<void>;
  /** SIGKILL (a crash), then waits for the process to exit. */
  kill(): Promise<void>;
  /** Stops the process if it runs, then starts it again on the same port: empty data (nothing is saved). */
  restart(): Promise<void>;
  /** What the server logged so far. */
  log(): string;
}

export interface RedisClusterInstance {
  seeds: Array<{ host: string; port: number }>;
  /** 'redis://127.0.0.1:P1,redis://127.0.0.1:P2,redis://127.0.0.1:P3' */
  url: string;
  /** The three masters, to stop, kill or restart one of them (a restarted node keeps its nodes.conf). */
  nodes: RedisInstance[];
  /** Stops every node and removes the cluster's temp directory. */
  stop(): Promise<void>;
}

export interface RedisOptions {
  /** A port to use instead of a free one. */
  port?: number;
  /** Extra redis-server arguments, e.g. ['--maxmemory', '10mb']. */
  args?: string[];
  /** The directory to work in (created if needed); a fresh temp directory by default. */
  dir?: string;
}

// One exit hook for the whole process: SIGKILL every live child, remove every temp directory.
const live = new Set<ChildProcess>();
const tempDirs = new Set<string>();
let hooked = false;
function reapOnExit(): void {
  if (hooked) return;
  hooked = true;
  process.on('exit', () => {
    for (const p of live) p.kill('SIGKILL');
    for (const d of tempDirs) rmSync(d, { recursive: true, force: true });
  });
}

/** A port that was free a moment ago (bind port 0, read it, close). */
export async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((resolve, reject) => {
    srv.once('error', reject);
    srv.listen(0, HOST, () => resolve());
  });
  const { port } = srv.address() as { port: number };
  await new Promise<void>((resolve) => srv.close(() => resolve()));
  return port;
}

export type RespValue = string | number | null | RespError | RespValue[];
export class RespError extends Error {}

/** Parses one RESP reply at `buf[at]`; `undefined` while it is incomplete. */
function parseResp(buf: Buffer, at: number): { value: RespValue; end: number } | undefined {
  const eol = buf.indexOf('\r\n', at);
  if (eol < 0) return undefined;
  const type = String.fromCharCode(buf[at]!);
  const line = buf.toString('utf8', at + 1, eol);
  switch (type) {
    case '+':
      return { value: line, end: eol + 2 };
    case '-':
      return { value: new RespError(line), end: eol + 2 };
    case ':':
      return { value: Number(line), end: eol + 2 };
    case '$': {
      const len = Number(line);
      if (len < 0) return { value: null, end: eol + 2 };
      if (buf.length < eol + 2 + len + 2) return undefined;
      return { value: buf.toString('utf8', eol + 2, eol + 2 + len), end: eol + 2 + len + 2 };
    }
    case '*': {
      const n = Number(line);
      if (n < 0) return { value: null, end: eol + 2 };
      const items: RespValue[] = [];
      let end = eol + 2;
      for (let i = 0; i < n; i++) {
        const item = parseResp(buf, end);
        if (!item) return undefined;
        items.push(item.value);
        end = item.end;
      }
      return { value: items, end };
    }
    default:
      throw new Error(`unexpected RESP type ${JSON.stringify(type)}`);
  }
}

/**
 * Sends one command over a fresh TCP connection and returns the reply (`+OK` → 'OK', bulk → string,
 * array → array, `-ERR` → a RespError value, not a throw). Rejects on a network error or timeout.
 */
export function redisCommand(port: number, args: string[], opts: { host?: string; timeoutMs?: number } = {}): Promise<RespValue> {
  return new Promise((resolve, reject) => {
    const sock = connect(port, opts.host ?? HOST);
    let buf = Buffer.alloc(0);
    const done = (err: Error | undefined, value?: RespValue) => {
      clearTimeout(timer);
      sock.destroy();
      if (err) reject(err);
      else resolve(value ?? null);
    };
    const timer = setTimeout(() => done(new Error(`redis ${args[0]} on port ${port} timed out`)), opts.timeoutMs ?? 2000);
    sock.on('error', (e) => done(e));
    sock.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      try {
        const r = parseResp(buf, 0);
        if (r) done(undefined, r.value);
      } catch (e) {
        done(e as Error);
      }
    });
    sock.on('close', () => done(new Error(`redis on port ${port} closed the connection`)));
    sock.write(`*${args.length}\r\n` + args.map((a) => `$${Buffer.byteLength(a)}\r\n${a}\r\n`).join(''));
  });
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Polls until `check` returns true (errors count as "not yet"). */
async function waitFor(what: string, check: () => Promise<boolean>, timeoutMs: number, alive: () => boolean = () => true): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (!alive()) throw new Error(`${what}: the process exited`);
    try {
      if (await check()) return;
    } catch {
      /* not yet */
    }
    if (Date.now() > deadline) throw new Error(`${what}: timed out after ${timeoutMs} ms`);
    await sleep(25);
  }
}

/** Starts a private redis-server and waits until it answers PING. */
export async function startRedis(opts: RedisOptions = {}): Promise<RedisInstance> {
  reapOnExit();
  const port = opts.port ?? (await freePort());
  const dir = opts.dir ?? mkdtempSync(join(tmpdir(), 'presently-redis-'));
  if (!opts.dir) tempDirs.add(dir);
  const logPath = join(dir, `redis-${port}.log`);
  let proc: ChildProcess | undefined;
  let exited: Promise<void> = Promise.resolve();

  const spawnServer = async (): Promise<void> => {
    mkdirSync(dir, { recursive: true });
    // Output goes to a file, not a pipe: the parent holds no stream that could keep it alive.
    const fd = openSync(logPath, 'a');
    const args = ['--port', String(port), '--bind', HOST, '--dir', dir, '--save', '', '--appendonly', 'no', '--logfile', '', '--daemonize', 'no', ...(opts.args ?? [])];
    const p = spawn(REDIS_SERVER, args, { stdio: ['ignore', fd, fd] });
    closeSync(fd);
    proc = p;
    live.add(p);
    // A forgotten instance does not keep the test file running; the exit hook kills it.
    p.unref();
    exited = new Promise<void>((resolve) =>
      p.once('exit', () => {
        live.delete(p);
        resolve();
      }),
    );
    const isAlive = () => p.exitCode === null && p.signalCode === null;
    try {
      await waitFor(`redis-server on port ${port}`, async () => (await redisCommand(port, ['PING'], { timeoutMs: 500 })) === 'PONG', 10_000, isAlive);
    } catch (e) {
      p.kill('SIGKILL');
      throw new Error(`${(e as Error).message}\n${readLog()}`, { cause: e });
    }
  };
  const readLog = (): string => {
    try {
      return readFileSync(logPath, 'utf8');
    } catch {
      return '';
    }
  };
  const halt = async (signal: NodeJS.Signals): Promise<void> => {
    const p = proc;
    if (!p) return;
    if (p.exitCode === null && p.signalCode === null) {
      p.ref(); // keep the event loop alive while we wait for the exit
      p.kill(signal);
    }
    await exited;
  };

  await spawnServer();
  return {
    port,
    url: `redis://${HOST}:${port}`,
    dir,
    stop: () => halt('SIGTERM'),
    kill: () => halt('SIGKILL'),
    async restart() {
      await halt('SIGTERM');
      await spawnServer();
    },
    log: readLog,
  };
}

/** Starts three cluster-enabled masters, joins them with `redis-cli --cluster create`, waits for cluster_state:ok. */
export async function startRedisCluster(opts: { nodeTimeoutMs?: number } = {}): Promise<RedisClusterInstance> {
  reapOnExit();
  const dir = mkdtempSync(join(tmpdir(), 'presently-redis-cluster-'));
  tempDirs.add(dir);
  // The cluster bus needs a port too (cluster-port, default PORT+10000, which may exceed 65535).
  const ports: Array<{ port: number; bus: number }> = [];
  const taken = new Set<number>();
  while (ports.length < 3) {
    const port = await freePort();
    const bus = await freePort();
    if (port === bus || taken.has(port) || taken.has(bus)) continue;
    taken.add(port).add(bus);
    ports.push({ port, bus });
  }
  const started = await Promise.allSettled(
    ports.map(({ port, bus }) =>
      startRedis({
        port,
        dir,
        args: [
          '--cluster-enabled',
          'yes',
          '--cluster-config-file',
          join(dir, `nodes-${port}.conf`),
          '--cluster-node-timeout',
          String(opts.nodeTimeoutMs ?? 2000),
          '--cluster-port',
          String(bus),
        ],
      }),
    ),
  );
  const nodes = started.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
  const stop = async (): Promise<void> => {
    await Promise.all(nodes.map((n) => n.stop()));
    rmSync(dir, { recursive: true, force: true });
    tempDirs.delete(dir);
  };
  try {
    const failed = started.find((r) => r.status === 'rejected');
    if (failed) throw failed.reason;
    await run(REDIS_CLI, ['--cluster', 'create', ...ports.map((p) => `${HOST}:${p.port}`), '--cluster-replicas', '0', '--cluster-yes'], { timeout: 30_000 });
    await waitFor(
      'redis cluster state ok',
      async () => {
        const infos = await Promise.all(ports.map((p) => redisCommand(p.port, ['CLUSTER', 'INFO'])));
        return infos.every((i) => typeof i === 'string' && /cluster_state:ok/.test(i) && /cluster_known_nodes:3\b/.test(i));
      },
      20_000,
    );
  } catch (e) {
    await stop();
    throw e;
  }
  const seeds = ports.map((p) => ({ host: HOST, port: p.port }));
  return {
    seeds,
    url: seeds.map((s) => `redis://${s.host}:${s.port}`).join(','),
    nodes,
    stop,
  };
}

export interface SentinelInstance {
  port: number;
  /** `sentinel://127.0.0.1:PORT/<name>`: what REDIS_URL takes for Sentinel. */
  url: string;
  /** The port of the master Sentinel names now (changes after a failover). */
  masterPort(): Promise<number>;
  stop(): Promise<void>;
}

/**
 * A private Redis Sentinel (`redis-server <conf> --sentinel`) watching the master on
 * `masterPort` as `name`, quorum 1: it declares the master down after `downAfterMs` and promotes
 * a replica. Its config file is its own (Sentinel rewrites it).
 */
export async function startSentinel(masterPort: number, opts: { name?: string; downAfterMs?: number } = {}): Promise<SentinelInstance> {
  reapOnExit();
  const name = opts.name ?? 'presently';
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'presently-sentinel-'));
  tempDirs.add(dir);
  const conf = join(dir, 'sentinel.conf');
  writeFileSync(
    conf,
    [
      `port ${port}`,
      `bind ${HOST}`,
      `dir ${dir}`,
      `sentinel monitor ${name} ${HOST} ${masterPort} 1`,
      `sentinel down-after-milliseconds ${name} ${opts.downAfterMs ?? 1000}`,
      `sentinel failover-timeout ${name} 10000`,
      `sentinel parallel-syncs ${name} 1`,
      '',
    ].join('\n'),
  );
  const fd = openSync(join(dir, 'sentinel.log'), 'a');
  const p = spawn(REDIS_SERVER, [conf, '--sentinel'], { stdio: ['ignore', fd, fd] });
  closeSync(fd);
  live.add(p);
  p.unref();
  const exited = new Promise<void>((resolve) =>
    p.once('exit', () => {
      live.delete(p);
      resolve();
    }),
  );
  await waitFor(`redis sentinel on port ${port}`, async () => (await redisCommand(port, ['PING'], { timeoutMs: 500 })) === 'PONG', 10_000);
  return {
    port,
    url: `sentinel://${HOST}:${port}/${name}`,
    async masterPort() {
      const addr = (await redisCommand(port, ['SENTINEL', 'get-master-addr-by-name', name])) as string[];
      return Number(addr[1]);
    },
    async stop() {
      if (p.exitCode === null && p.signalCode === null) {
        p.ref();
        p.kill('SIGTERM');
      }
      await exited;
    },
  };
}
