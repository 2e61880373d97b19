/**
 * What one status change costs Redis, and how many messages it puts on the nodes, in the
 * cluster's replicated design (one command log per app: the origin appends, every node reads
 * every entry) and in cluster v2 (the origin writes the user's record by compare-and-set and
 * publishes the change on the user's sharded channel; only the nodes that listen to the user
 * receive it). A private redis-server, the bench's friend graph (K mutual friends), users placed
 * on nodes at random, the same changes for both designs.
 *
 *   node --conditions=source --import tsx bench/src/redis-costs.ts [--users=6000] [--changes=200000] [--runs=3]
 *
 * Reports, per design and node count: Redis CPU microseconds per change (utime+stime of the
 * redis-server process over the changes, /proc) and messages received per change summed over
 * the nodes. Node-side costs are not here: the end-to-end scenarios measure those.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { friendGraph, rng, userID } from './graph.js';
import { cpuSeconds } from './procstat.js';
import { APPEND } from '../../packages/server/src/cluster/redis.js';
import { UserKeys, UserRecords } from '../../packages/server/src/cluster/v2/records.js';

const arg = (name: string, dflt: number): number => {
  const a = process.argv.find((x) => x.startsWith(`--${name}=`));
  return a ? Number(a.split('=')[1]) : dflt;
};
const USERS = arg('users', 6000);
const CHANGES = arg('changes', 200000);
const RUNS = arg('runs', 3);
const K = 20;
const NODES = [1, 2, 4, 6, 12, 24];
const IN_FLIGHT = 64;
const APP = 1;

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  const { port } = s.address() as { port: number };
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}

async function startRedis(): Promise<{ port: number; pid: number; stop(): void }> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'presently-redis-costs-'));
  const proc = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir], { stdio: 'ignore' });
  for (;;) {
    const probe = new Redis({ port, lazyConnect: true, retryStrategy: () => null });
    probe.on('error', () => undefined); // not listening yet
    try {
      await probe.connect();
      await probe.ping();
      probe.disconnect();
      break;
    } catch {
      probe.disconnect();
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
  return {
    port,
    pid: proc.pid!,
    stop: () => {
      proc.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Runs `n` calls of `one(i)` with at most IN_FLIGHT at once. */
async function pump(n: number, one: (i: number) => Promise<unknown>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: IN_FLIGHT }, async () => {
      while (next < n) await one(next++);
    }),
  );
}

interface Figures {
  redisUsPerChange: number;
  messagesPerChange: number;
}

/** Today's design: every change is one APPEND script; each node reads every entry (XREAD BLOCK, batches of up to 1,000). */
async function replicated(port: number, pid: number, nodes: number, changes: number[]): Promise<Figures> {
  const origin = new Redis({ port });
  origin.defineCommand('append', { numberOfKeys: 3, lua: APPEND });
  const log = `{costs:${nodes}}:log`;
  await origin.del(log);
  let received = 0;
  let stop = false;
  const readers = Array.from({ length: nodes }, () => new Redis({ port }));
  const reading = readers.map(async (r) => {
    let id = '$';
    while (!stop) {
      const reply = await r.xread('COUNT', 1000, 'BLOCK', 200, 'STREAMS', log, id);
      if (!reply) continue;
      const entries = reply[0]![1];
      received += entries.length;
      id = entries[entries.length - 1]![0];
    }
  });
  await new Promise((resolve) => setTimeout(resolve, 300)); // the readers are blocked on '$'
  const cpu0 = cpuSeconds(pid);
  const append = origin as unknown as { append(...a: string[]): Promise<unknown> };
  await pump(changes.length, (i) =>
    append.append(log, `{costs:${nodes}}:live:n0`, `{costs:${nodes}}:seq`, JSON.stringify({ t: 'status', u: userID(changes[i]!), c: `s${i}` }), '100000', ''),
  );
  while (received < changes.length * nodes) await new Promise((resolve) => setTimeout(resolve, 20));
  const cpu = cpuSeconds(pid) - cpu0;
  stop = true;
  await Promise.all(reading);
  for (const c of [origin, ...readers]) c.disconnect();
  return { redisUsPerChange: (cpu * 1e6) / changes.length, messagesPerChange: received / changes.length };
}

/** Cluster v2: one compare-and-set script per change, published on the user's channel; nodes listen to the users their own users watch. */
async function partitioned(port: number, pid: number, nodes: number, changes: number[], placement: Int32Array, adj: Int32Array): Promise<Figures> {
  const keys = new UserKeys(`costs${nodes}`);
  const origin = new Redis({ port });
  const records = new UserRecords(origin, keys);
  const subs = Array.from({ length: nodes }, () => new Redis({ port }));
  let received = 0;
  for (const s of subs) s.on('smessage', () => received++);
  // Node j listens to its own users and to every friend of them (auto-notify).
  for (let j = 0; j < nodes; j++) {
    const listen = new Set<number>();
    for (let u = 0; u < USERS; u++) {
      if (placement[u] !== j) continue;
      listen.add(u);
      for (let f = 0; f < K; f++) listen.add(adj[u * K + f]!);
    }
    const chans = [...listen].map((u) => keys.channel(APP, userID(u)));
    for (let i = 0; i < chans.length; i += 500) await Promise.all(chans.slice(i, i + 500).map((c) => subs[j]!.ssubscribe(c)));
  }
  let expected = 0;
  for (const u of changes) {
    const heard = new Set<number>([placement[u]!]);
    for (let f = 0; f < K; f++) heard.add(placement[adj[u * K + f]!]!);
    expected += heard.size;
  }
  const versions = new Map<number, number>();
  const cpu0 = cpuSeconds(pid);
  // Each change is decided on the version the node holds (kept fresh by the user's channel in
  // the real design): one script per change, as when the node's copy is current.
  await pump(changes.length, async (i) => {
    const u = changes[i]!;
    const v = versions.get(u) ?? 0;
    versions.set(u, v + 1);
    const r = await records.cas(APP, userID(u), v, { st: '1', cs: `s${i}` }, JSON.stringify({ userID: userID(u), statusType: 1, customStatus: `s${i}` }));
    if (!r.ok) {
      // Two in-flight changes of one user: the later one reads and decides again.
      versions.set(u, r.v + 1);
      await records.cas(APP, userID(u), r.v, { st: '1', cs: `s${i}` }, 'x');
    }
  });
  while (received < expected) await new Promise((resolve) => setTimeout(resolve, 20));
  const cpu = cpuSeconds(pid) - cpu0;
  for (const c of [origin, ...subs]) c.disconnect();
  return { redisUsPerChange: (cpu * 1e6) / changes.length, messagesPerChange: received / changes.length };
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function main(): Promise<void> {
  const adj = friendGraph(USERS, K, 1);
  const pick = rng(7);
  const changes = Array.from({ length: CHANGES }, () => Math.floor(pick() * USERS));
  console.log(`redis-costs: ${USERS} users, K=${K}, ${CHANGES} changes, ${RUNS} runs, ${IN_FLIGHT} in flight; medians`);
  console.log('| nodes | replicated: Redis µs/change | replicated: messages/change | v2: Redis µs/change | v2: messages/change |');
  console.log('|---|---|---|---|---|');
  for (const nodes of NODES) {
    const place = rng(100 + nodes);
    const placement = Int32Array.from({ length: USERS }, () => Math.floor(place() * nodes));
    const rep: Figures[] = [];
    const v2: Figures[] = [];
    for (let run = 0; run < RUNS; run++) {
      const redis = await startRedis();
      try {
        rep.push(await replicated(redis.port, redis.pid, nodes, changes));
        v2.push(await partitioned(redis.port, redis.pid, nodes, changes, placement, adj));
      } finally {
        redis.stop();
      }
    }
    const f = (xs: Figures[], k: keyof Figures) => median(xs.map((x) => x[k])).toFixed(2);
    console.log(`| ${nodes} | ${f(rep, 'redisUsPerChange')} | ${f(rep, 'messagesPerChange')} | ${f(v2, 'redisUsPerChange')} | ${f(v2, 'messagesPerChange')} |`);
  }
}

await main();
