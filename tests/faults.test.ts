/**
 * Presence under faults (issue 16), one process: a short seeded run of the history recorder
 * (SDK clients in worker processes), the nemesis (kill -9 and SIGTERM restarts of the server,
 * delay, partition and half-open on the clients' network paths) and the REST sampler, judged by
 * the checker (checker/check.ts): no ghost (S3, S5), no false offline, no lost acknowledged
 * write, per-user order (S22), agreement at the end. On failure the report names the seed and
 * shows the slice of history behind each violation; `npm run check:faults -- --seed=N` replays it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runChaos } from '../checker/run.js';

const SEED = process.env.CHAOS_SEED ?? '20251';

test(`S3 S5 S22 presence under faults: a seeded run (seed ${SEED}) with every fault kind has no violation`, { timeout: 120_000 }, async () => {
  const lines: string[] = [];
  const r = await runChaos({ seed: SEED, seconds: 24, workers: 3, usersPerWorker: 5, log: (l) => lines.push(l) });
  console.log(r.report);
  assert.ok(r.verdict.ok, `${r.report}\n${lines.join('\n')}\nhistory kept at ${r.historyPath}`);
  const faults = Object.keys(r.verdict.stats).filter((k) => k.startsWith('fault '));
  assert.ok(faults.length >= 4, `the run injected ${faults.join(', ')}`);
  assert.ok((r.verdict.stats['pushes'] ?? 0) > 50 && (r.verdict.stats['samples'] ?? 0) > 20, JSON.stringify(r.verdict.stats));
  assert.ok((r.verdict.figures.judgedWatcherMs ?? 0) > 30_000, 'watchers were judged for a meaningful time');
});
