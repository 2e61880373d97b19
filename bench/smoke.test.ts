/**
 * Smoke test of the bench's own machinery (no timed assertions): statistics, the seeded graph,
 * and the load generator end to end against the raw-ws baseline and a real Presently server at
 * tiny sizes. Run: `node --conditions=source --import tsx --test bench/smoke.test.ts` (~15 s).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Hist, median, minMax } from './src/stats.js';
import { friendGraph, subscriptionsOf } from './src/graph.js';
import { MODES, type Mode } from './src/modes.js';
import { Workspace } from './src/setup.js';
import { bringUp, mustLoginAll, tearDown, type Ctx, type Kind, type Target } from './src/scenarios/common.js';
import { sleep } from './src/clock.js';
import { ClusterInfra, PG_ADMIN_URL, redisDelta } from './src/cluster.js';
import { postgresReachable } from '../packages/server/src/testing/postgres.js';

test('histogram percentiles are within 2% and merge', () => {
  const a = new Hist();
  const b = new Hist();
  for (let i = 1; i <= 10_000; i++) (i % 2 ? a : b).add(i / 100); // 0.01 .. 100 ms
  const h = Hist.from([a.data(), b.data()]);
  assert.equal(h.n, 10_000);
  for (const [p, want] of [
    [50, 50],
    [99, 99],
    [10, 10],
  ] as const) {
    const got = h.percentile(p);
    assert.ok(Math.abs(got - want) / want < 0.02, `p${p}: ${got} vs ${want}`);
  }
  assert.equal(h.max, 100);
  assert.equal(median([3, 1, 2]), 2);
  assert.equal(median([4, 1, 3, 2]), 2.5);
  assert.deepEqual(minMax([3, 1, 2]), [1, 3]);
});

test('friend graph: exactly K mutual friends, deterministic, no self', () => {
  const n = 1000;
  const k = 20;
  const adj = friendGraph(n, k, 7);
  assert.deepEqual(adj, friendGraph(n, k, 7));
  const sets = Array.from({ length: n }, (_, i) => new Set(adj.subarray(i * k, i * k + k)));
  for (let i = 0; i < n; i++) {
    assert.equal(sets[i]!.size, k);
    assert.ok(!sets[i]!.has(i));
    for (const f of sets[i]!) assert.ok(sets[f]!.has(i), `${i} -> ${f} not mutual`);
  }
  const subs = subscriptionsOf(5, n, 20, 1);
  assert.equal(new Set(subs).size, 20);
  assert.ok(!subs.includes(5));
});

const tiny: Mode = { ...MODES.tiny, n: 60, k: 6, w2N: 60, w3Sessions: 60 };

/**
 * Churns at 100 changes/s for 600 ms, waits (up to 4 s) until every owed notification has
 * arrived, then collects each worker's counts; `sum` adds one count over the workers.
 */
async function churnAndCollect(t: Target) {
  await t.pool.all('churnStart', (w) => ({ rate: 100, seed: w }));
  await sleep(600);
  const stops = await t.pool.all('churnStop', {});
  const sent = stops.reduce((a, s) => a + s.sent, 0);
  let delivered = 0;
  for (let i = 0; i < 200 && delivered < sent * tiny.k; i++) {
    await sleep(20);
    delivered = (await t.pool.all('progress', {})).reduce((a, p) => a + p.delivered, 0);
  }
  const finalSeq = new Int32Array(tiny.n);
  for (const s of stops) for (let i = 0; i < s.seqs.length; i += 2) finalSeq[s.seqs[i]!] = s.seqs[i + 1]!;
  const phases = await t.pool.all('collect', { finalSeq });
  const sum = (f: (p: (typeof phases)[number]) => number) => phases.reduce((a, p) => a + f(p), 0);
  return { sent, phases, sum };
}

/** Why the cluster smoke test cannot run here (no redis-server, no PostgreSQL), or false. */
async function clusterSkip(): Promise<string | false> {
  const { execFileSync } = await import('node:child_process');
  if (!process.env.BENCH_REDIS_URL) {
    try {
      execFileSync('redis-server', ['--version'], { stdio: 'ignore' });
    } catch {
      return 'no redis-server binary (or set BENCH_REDIS_URL)';
    }
  }
  return (await postgresReachable(PG_ADMIN_URL)) ? false : `PostgreSQL is not reachable at ${PG_ADMIN_URL}`;
}

test('load generator end to end against a 2-node cluster: churn across nodes, Redis counters', { timeout: 90_000, skip: await clusterSkip() }, async () => {
  const ws = new Workspace(tiny.k, 1, { server: {}, workers: {} }, () => undefined);
  const cluster = new ClusterInfra(ws, () => undefined);
  const ctx: Ctx = { mode: tiny, ws, seed: 1, log: () => undefined, cluster };
  try {
    const t = await bringUp(ctx, 'cluster', tiny.n, 2, {}, 2);
    try {
      assert.equal(t.nodes.length, 2);
      assert.equal((await mustLoginAll(t, 50)).ok, tiny.n);
      const r0 = await t.cluster!.redis.snapshot();
      const { sent, phases, sum } = await churnAndCollect(t);
      assert.equal(
        sum((p) => p.delivered),
        sent * tiny.k,
      );
      assert.equal(sum((p) => p.missing) + sum((p) => p.dup) + sum((p) => p.outOfOrder), 0);
      const same = Hist.from(phases.map((p) => p.histSame));
      const cross = Hist.from(phases.map((p) => p.histCross));
      assert.ok(same.n > 0 && cross.n > 0, `pairs on the same node (${same.n}) and across nodes (${cross.n})`);
      assert.equal(same.n + cross.n, sent * tiny.k);
      const d = redisDelta(r0, await t.cluster!.redis.snapshot());
      assert.ok((d.calls.eval ?? 0) + (d.calls.evalsha ?? 0) >= sent, `one append per change: ${JSON.stringify(d.calls)}`);
      assert.ok((d.calls.xread ?? 0) > 0);
    } finally {
      await tearDown(t);
    }
  } finally {
    await cluster.cleanup();
    ws.cleanup();
  }
});

for (const kind of ['baseline', 'presently'] as Kind[]) {
  test(`load generator end to end against ${kind}: churn, drain, destroy`, { timeout: 60_000 }, async () => {
    const ws = new Workspace(tiny.k, 1, { server: {}, workers: {} }, () => undefined);
    const ctx: Ctx = { mode: tiny, ws, seed: 1, log: () => undefined };
    const t = await bringUp(ctx, kind, tiny.n, 2);
    try {
      const login = await mustLoginAll(t, 50);
      assert.equal(login.ok, tiny.n);
      const { sent, sum } = await churnAndCollect(t);
      assert.ok(sent > 0);
      assert.equal(
        sum((p) => p.delivered),
        sent * tiny.k,
      );
      assert.equal(
        sum((p) => p.missing),
        0,
      );
      assert.equal(
        sum((p) => p.dup),
        0,
      );
      assert.equal(
        sum((p) => p.outOfOrder),
        0,
      );
      assert.equal(
        sum((p) => p.self),
        sent,
        'each sender hears its own change once',
      );

      await t.pool.all('track', { offline: true });
      const res = await t.pool.all('destroy', (w) => ({ users: [w, w + 2] }));
      const victimTime = new Float64Array(tiny.n);
      for (const r of res) for (let i = 0; i < r.times.length; i += 2) victimTime[r.times[i]!] = r.times[i + 1]!;
      const waits = await t.pool.all('offlineWait', { victimTime, timeoutMs: 5000 });
      assert.ok(waits.reduce((a, x) => a + x.pairs, 0) > 0);
      assert.equal(
        waits.reduce((a, x) => a + x.missing, 0),
        0,
      );
    } finally {
      await tearDown(t);
      ws.cleanup();
    }
  });
}
