/**
 * The long fuzz run (hardening issue: >= 1M cases): `npm run fuzz -- [cases] [seed]`.
 * Runs the same properties as tests/fuzz.test.ts against a real server process, in chunks
 * with consecutive seeds, and prints the number of cases and failures.
 */
import { APP, appConfig, startServer } from '../tests/helpers/server.js';
import { OTHER_APP, fuzzProtocol, fuzzRest, setupWorld } from '../tests/fuzz/harness.js';

const total = Number(process.argv[2] ?? 1_000_000);
const seed0 = Number(process.argv[3] ?? Date.now() % 1_000_000);
const chunk = 50_000;
const srv = await startServer({ apps: [appConfig({ SDKAppID: APP }), appConfig({ SDKAppID: OTHER_APP })] });
const world = await setupWorld(srv);
const t0 = Date.now();
let failures = 0;
try {
  for (let done = 0, i = 0; done < total; done += chunk, i++) {
    const n = Math.min(chunk, total - done);
    const restRuns = Math.max(1, Math.floor(n / 50));
    try {
      await fuzzProtocol(world, { numRuns: n - restRuns, seed: seed0 + i });
      await fuzzRest(world, { numRuns: restRuns, seed: seed0 + i });
    } catch (err) {
      failures++;
      console.error(`chunk ${i} (seed ${seed0 + i}) failed:`, err);
    }
    console.log(`${world.cases} cases, ${failures} failures, ${Math.round((Date.now() - t0) / 1000)} s`);
  }
} finally {
  await srv.stop();
}
console.log(`fuzz done: ${world.cases} cases, ${failures} failed chunks, seeds ${seed0}..${seed0 + Math.ceil(total / chunk) - 1}`);
process.exit(failures ? 1 : 0);
