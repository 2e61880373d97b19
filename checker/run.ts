/**
 * A seeded run: a server node, fault proxies, recorder workers, the REST sampler and the nemesis;
 * then the final reads, the merged history and the checker's verdict.
 *
 *   npm run check:faults -- --seed=7 --seconds=30
 *   npm run check:faults -- --check=path/to/history.jsonl     (judge an existing history again)
 *
 * Options: --seed (default: random) --seconds (workload and faults, default 30) --workers (3)
 * --users (users per worker, 6) --faults (kill,term,delay,partition,halfopen) --heartbeat
 * (heartbeat timeout in s, 3) --slack (ms, 500) --out (history file to keep) --keep (keep the data dir)
 * --server-root (run the server from another checkout, e.g. a deliberately broken build).
 */
import { fork, type ChildProcess } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import WebSocket from 'ws';
import { makeUserSig } from '../packages/server/src/auth/usersig.js';
import { check, formatReport, type Verdict } from './check.js';
import { HistoryWriter, mergeParts, now, readHistory, type Bounds, type FaultKind, type Rec, type UserDecl } from './history.js';
import type { FromWorker, ToWorker, WorkerConfig } from './ipc.js';
import { FaultProxy } from './proxy.js';
import { restCall } from './rest.js';
import { Rng } from './rng.js';
import { ServerNode, freePort } from './server.js';

const ROOT = new URL('..', import.meta.url).pathname;
const APP = 1400000001;
const KEY = 'chaos-secret-key-0123456789abcdef';
const PLATFORMS = ['Web', 'Android', 'iPhone'];
export const ALL_FAULTS: FaultKind[] = ['kill', 'term', 'delay', 'partition', 'halfopen'];

export interface RunOptions {
  seed: string;
  /** How long the workload runs with faults. */
  seconds: number;
  workers: number;
  usersPerWorker: number;
  faults: FaultKind[];
  heartbeatTimeoutSec: number;
  slackMs: number;
  /** Where to keep the history; else it stays in the run's temp dir (removed unless it fails or `keep`). */
  out?: string;
  keep?: boolean;
  /** Run the server from another checkout (e.g. a deliberately broken build, to see it caught). */
  serverRoot?: string;
  log?: (line: string) => void;
}

export interface RunResult {
  verdict: Verdict;
  historyPath: string;
  report: string;
}

export const DEFAULT_RUN: RunOptions = {
  seed: '1',
  seconds: 30,
  workers: 3,
  usersPerWorker: 6,
  faults: ALL_FAULTS,
  heartbeatTimeoutSec: 3,
  slackMs: 500,
};

const SDK = { backoffBaseMs: 100, backoffCapMs: 1000, connectTimeoutMs: 3000, requestTimeoutMs: 5000 };

export function boundsFor(heartbeatTimeoutSec: number, slackMs: number): Bounds {
  const heartbeatTimeoutMs = heartbeatTimeoutSec * 1000;
  const heartbeatGraceMs = Math.max(1000, heartbeatTimeoutMs / 10);
  // A client in a fault: the SDK notices silence within the timeout, reconnects within its
  // backoff cap (a few attempts while the server restarts), connects and logs in.
  const recoveryMs = heartbeatTimeoutMs + 2 * SDK.backoffCapMs + SDK.connectTimeoutMs + slackMs;
  return {
    finMs: 1000,
    heartbeatTimeoutMs,
    heartbeatGraceMs,
    slackMs,
    deliveryMs: slackMs,
    recoveryMs,
    agreeMs: recoveryMs + heartbeatTimeoutMs + heartbeatGraceMs + slackMs,
  };
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, Math.max(0, ms)));

function once<T extends FromWorker['type']>(child: ChildProcess, type: T): Promise<Extract<FromWorker, { type: T }>> {
  return new Promise((resolve, reject) => {
    const onMsg = (m: FromWorker) => {
      if (m.type === type) {
        child.off('message', onMsg);
        resolve(m as Extract<FromWorker, { type: T }>);
      } else if (m.type === 'error') reject(new Error(`worker failed: ${m.message}`));
    };
    child.on('message', onMsg);
    child.once('exit', (code) => reject(new Error(`worker exited (${code}) while waiting for ${type}`)));
  });
}

/** Logs in as `u` on a platform the workers never use and reads its subscriptions (sync minus self and friends). */
async function readSync(ws: string, u: string): Promise<string[]> {
  const sock = new WebSocket(ws);
  const replies = new Map<number, (f: { code: number; data?: { userList?: Array<{ userID: string }> } }) => void>();
  sock.on('message', (d: Buffer) => {
    const f = JSON.parse(d.toString()) as { id?: number; code: number };
    if (typeof f.id === 'number') replies.get(f.id)?.(f);
  });
  const req = (id: number, frame: Record<string, unknown>) =>
    new Promise<{ code: number; data?: { userList?: Array<{ userID: string }> } }>((resolve) => {
      replies.set(id, resolve);
      sock.send(JSON.stringify({ ...frame, id }));
    });
  await new Promise<void>((resolve, reject) => {
    sock.once('open', () => resolve());
    sock.once('error', reject);
  });
  try {
    const login = await req(1, { op: 'login', SDKAppID: APP, userID: u, userSig: makeUserSig({ SDKAppID: APP, secretKey: KEY, userID: u }), platform: 'Unknown' });
    if (login.code !== 0) throw new Error(`durable read: login of ${u} refused with ${login.code}`);
    const sync = await req(2, { op: 'syncStatus' });
    return (sync.data?.userList ?? []).map((s) => s.userID).filter((id) => id !== u);
  } finally {
    sock.terminate();
  }
}

export async function runChaos(input: Partial<RunOptions> = {}): Promise<RunResult> {
  const o: RunOptions = { ...DEFAULT_RUN, ...input };
  const log = o.log ?? ((line: string) => console.log(line));
  const dir = mkdtempSync(join(tmpdir(), 'presently-chaos-'));
  const historyPath = join(dir, 'history.jsonl');
  const hist = new HistoryWriter(`${historyPath}.run.part`);
  const record = (r: Rec) => hist.write(r);
  const flushTimer = setInterval(() => hist.flush(), 500);
  const rng = new Rng(o.seed);
  const nemesisRng = rng.fork('nemesis');
  const bounds = boundsFor(o.heartbeatTimeoutSec, o.slackMs);

  const dataDir = join(dir, 'data');
  mkdirSync(dataDir);
  const configPath = join(dir, 'config.json');
  writeFileSync(
    configPath,
    JSON.stringify({
      apps: [
        {
          SDKAppID: APP,
          secretKey: KEY,
          edition: 'premium',
          admins: ['administrator'],
          userStatus: { queryAndNotify: true, friendAutoNotify: true },
          limits: { heartbeatTimeoutSec: o.heartbeatTimeoutSec, rateLimitCalls: 1_000_000, maxSubscriptions: 1000, setSelfStatusPerMinute: 0, syncStatusPerMinute: 0 },
        },
      ],
      server: { maxLoginFailuresPerMinute: 0 },
    }),
  );
  const node = new ServerNode({ name: 'n1', dataDir, configPath, port: await freePort(), record, ...(o.serverRoot ? { root: resolve(o.serverRoot) } : {}) });
  const proxies = [new FaultProxy('p0', () => ({ host: '127.0.0.1', port: node.opts.port })), new FaultProxy('p1', () => ({ host: '127.0.0.1', port: node.opts.port }))];
  const children: ChildProcess[] = [];
  let failed = true;
  let sampling = true;
  try {
    await node.start();
    for (const p of proxies) await p.start();
    const paths: Record<string, string> = { direct: node.ws };
    for (const p of proxies) paths[p.path] = p.url;

    const users: UserDecl[] = [];
    for (let w = 0; w < o.workers; w++) {
      for (let i = 0; i < o.usersPerWorker; i++) {
        const n = rng.chance(0.4) ? 2 : 1;
        const slots = [...PLATFORMS].sort(() => rng.next() - 0.5).slice(0, n);
        users.push({ u: `w${w}u${i}`, worker: `w${w}`, slots });
      }
    }
    const allUsers = users.map((u) => u.u);
    const target = { http: node.http, app: APP, key: KEY };
    for (let i = 0; i < allUsers.length; i += 100) {
      const r = await restCall(target, 'im_open_login_svc/multiaccount_import', { AccountList: allUsers.slice(i, i + 100).map((UserID) => ({ UserID })) });
      if (r.outcome !== 'ok') throw new Error(`account import failed: ${JSON.stringify(r)}`);
    }
    record({ type: 'meta', t: now(), seed: o.seed, app: APP, nodes: [node.name], paths: Object.keys(paths), users, bounds, durationMs: o.seconds * 1000, faults: o.faults });
    log(`chaos: seed ${o.seed}, ${allUsers.length} users on ${o.workers} workers, ${o.seconds} s, faults ${o.faults.join(',') || 'none'}; history ${historyPath}`);

    // Workers.
    for (let w = 0; w < o.workers; w++) {
      const child = fork(join(ROOT, 'checker/worker.ts'), [], { execArgv: ['--conditions=source', '--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
      children.push(child);
      const config: WorkerConfig = {
        name: `w${w}`,
        seed: o.seed,
        app: APP,
        key: KEY,
        users: users.filter((u) => u.worker === `w${w}`),
        allUsers,
        paths,
        node: node.name,
        rest: node.http,
        out: `${historyPath}.w${w}.part`,
        heartbeatTimeoutMs: bounds.heartbeatTimeoutMs,
        finMs: bounds.finMs,
        heartbeatGraceMs: bounds.heartbeatGraceMs,
        slackMs: bounds.slackMs,
        sdk: SDK,
        thinkMs: [150, 700],
      };
      const started = once(child, 'started');
      child.send({ type: 'start', config } satisfies ToWorker);
      await started;
    }

    // The sampler: the server's truth, every ~300 ms while the node is up.
    const sampleOnce = async (final = false) => {
      const t0 = now();
      const r = await restCall(target, 'openim/query_online_status', { To_Account: allUsers }, 3000);
      const t1 = now();
      if (r.outcome !== 'ok') return false;
      const status: Record<string, number> = {};
      const map: Record<string, number> = { Online: 1, PushOnline: 2, Offline: 3 };
      for (const q of (r.body?.QueryResult as Array<{ To_Account: string; Status: string }>) ?? []) status[q.To_Account] = map[q.Status] ?? 0;
      const rec: Rec = { type: 'sample', t: t1, t0, t1, node: node.name, status };
      if (final) rec.final = true;
      record(rec);
      return true;
    };
    const sampler = (async () => {
      while (sampling) {
        if (node.running) await sampleOnce();
        await sleep(250 + rng.range(0, 100));
      }
    })();

    // The nemesis.
    const deadline = now() + o.seconds * 1000;
    let faultSeq = 0;
    const bag: FaultKind[] = [];
    let lastFaultEnd = now();
    while (o.faults.length > 0 && now() < deadline - 2000) {
      await sleep(nemesisRng.range(800, 2500));
      if (now() >= deadline - 2000) break;
      // Every kind once, in a seeded order, before any comes again.
      if (bag.length === 0) bag.push(...[...o.faults].sort(() => nemesisRng.next() - 0.5));
      const kind = bag.shift()!;
      const id = `f${++faultSeq}`;
      if (kind === 'kill' || kind === 'term') {
        record({ type: 'fault', t: now(), id, kind, node: node.name, params: {} });
        if (kind === 'kill') await node.kill();
        else await node.term();
        await sleep(nemesisRng.range(0, 500));
        await node.start();
        record({ type: 'fault-end', t: now(), id });
      } else {
        const proxy = nemesisRng.pick(proxies);
        if (kind === 'delay') {
          const delayMs = Math.round(nemesisRng.range(50, 400));
          const ms = Math.round(nemesisRng.range(1000, 3000));
          record({ type: 'fault', t: now(), id, kind, path: proxy.path, params: { delayMs, ms } });
          proxy.setDelay(delayMs);
          await sleep(ms);
        } else if (kind === 'partition') {
          const ms = Math.round(nemesisRng.range(500, bounds.heartbeatTimeoutMs + 1500));
          record({ type: 'fault', t: now(), id, kind, path: proxy.path, params: { ms } });
          proxy.partition();
          await sleep(ms);
        } else {
          const ms = Math.round(bounds.heartbeatTimeoutMs + bounds.heartbeatGraceMs + bounds.slackMs + nemesisRng.range(1000, 2000));
          const t = now();
          record({ type: 'fault', t, id, kind, path: proxy.path, params: { ms } });
          for (const s of proxy.sever()) record({ type: 'severed', t, path: proxy.path, port: s.port, lastUp: s.lastUp });
          await sleep(ms);
        }
        proxy.heal();
        record({ type: 'fault-end', t: now(), id });
      }
      lastFaultEnd = now();
    }
    await sleep(deadline - now());
    log(`chaos: ${faultSeq} faults done; quiescing`);

    // Quiet: the workload stops, every client comes back and re-syncs; deliberate ends run out.
    record({ type: 'phase', t: now(), name: 'quiet' });
    const quiet = await Promise.all(
      children.map((c) => {
        const q = once(c, 'quiet');
        c.send({ type: 'stop' } satisfies ToWorker);
        return q;
      }),
    );
    const pendingUntil = Math.max(...quiet.map((q) => q.pendingUntil), lastFaultEnd);
    const unsettled = quiet.flatMap((q) => q.unsettled);
    if (unsettled.length > 0) log(`chaos: clients not back after the faults: ${unsettled.join(', ')}`);
    // A bound, not an event: the last crash / silence must be visible by then (FIN, S5).
    await sleep(pendingUntil - now());
    record({ type: 'phase', t: now(), name: 'snapshot' });
    await Promise.all(
      children.map((c) => {
        const d = once(c, 'snapshot-done');
        c.send({ type: 'snapshot' } satisfies ToWorker);
        return d;
      }),
    );
    sampling = false;
    await sampler;
    await sampleOnce(true);
    record({ type: 'phase', t: now(), name: 'horizon' });
    await Promise.all(
      children.map((c) => {
        const exited = new Promise<void>((r) => c.once('exit', () => r()));
        c.send({ type: 'exit' } satisfies ToWorker);
        return exited;
      }),
    );

    // What the store holds: subscriptions (sync minus friends) and friends, per user.
    for (const u of allUsers) {
      const r = await restCall(target, 'sns/friend_get', { From_Account: u, StartIndex: 0 });
      const friends = ((r.body?.UserDataItem as Array<{ To_Account: string }>) ?? []).map((f) => f.To_Account);
      const synced = await readSync(node.ws, u);
      record({ type: 'durable', t: now(), u, subs: synced.filter((id) => !friends.includes(id)), friends });
    }
    failed = false;
  } finally {
    sampling = false;
    clearInterval(flushTimer);
    for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
    for (const p of proxies) await p.close();
    await node.term().catch(() => undefined);
    hist.close();
    if (failed) log(`chaos: the run failed; node output:\n${node.output()}`);
  }
  mergeParts(historyPath);
  const verdict = check(readHistory(historyPath));
  const report = formatReport(verdict);
  let kept = historyPath;
  if (o.out) {
    mkdirSync(dirname(resolve(o.out)), { recursive: true });
    copyFileSync(historyPath, o.out);
    kept = resolve(o.out);
  }
  // Kept: the whole dir with --keep; else the history, when it failed and was not copied out.
  if (!o.keep && (verdict.ok || o.out)) rmSync(dir, { recursive: true, force: true });
  else if (!o.keep) rmSync(dataDir, { recursive: true, force: true });
  return { verdict, historyPath: kept, report };
}

function parseArgs(argv: string[]): { run: Partial<RunOptions>; check?: string } {
  const run: Partial<RunOptions> = {};
  let checkPath: string | undefined;
  for (const a of argv) {
    const m = /^--([a-z-]+)(?:=(.*))?$/.exec(a);
    if (!m) throw new Error(`unknown argument ${a}`);
    const [, k, v = ''] = m;
    if (k === 'seed') run.seed = v;
    else if (k === 'seconds') run.seconds = Number(v);
    else if (k === 'workers') run.workers = Number(v);
    else if (k === 'users') run.usersPerWorker = Number(v);
    else if (k === 'faults') run.faults = v === '' || v === 'none' ? [] : (v.split(',') as FaultKind[]);
    else if (k === 'heartbeat') run.heartbeatTimeoutSec = Number(v);
    else if (k === 'slack') run.slackMs = Number(v);
    else if (k === 'out') run.out = v;
    else if (k === 'keep') run.keep = true;
    else if (k === 'server-root') run.serverRoot = v;
    else if (k === 'check') checkPath = v;
    else throw new Error(`unknown option --${k}`);
  }
  for (const f of run.faults ?? []) if (!ALL_FAULTS.includes(f)) throw new Error(`unknown fault ${f}; known: ${ALL_FAULTS.join(', ')}`);
  return checkPath ? { run, check: checkPath } : { run };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const { run, check: checkPath } = parseArgs(process.argv.slice(2));
  if (checkPath) {
    const verdict = check(readHistory(checkPath));
    console.log(formatReport(verdict));
    process.exit(verdict.ok ? 0 : 1);
  }
  run.seed ??= String(Math.floor(Math.random() * 1e9));
  runChaos(run).then(
    (r) => {
      console.log(r.report);
      console.log(`history: ${r.historyPath}`);
      process.exit(r.verdict.ok ? 0 : 1);
    },
    (err: unknown) => {
      console.error(err);
      process.exit(2);
    },
  );
}
