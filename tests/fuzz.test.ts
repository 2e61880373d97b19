/** S32 fuzzing with a bounded, seeded budget (the long run: `npm run fuzz`). */
import { after, before, test } from 'node:test';
import { APP, appConfig, startServer, type TestServer } from './helpers/server.js';
import { OTHER_APP, fuzzProtocol, fuzzRest, setupWorld, type FuzzWorld } from './fuzz/harness.js';

let srv: TestServer;
let world: FuzzWorld;
before(async () => {
  srv = await startServer({ apps: [appConfig({ SDKAppID: APP }), appConfig({ SDKAppID: OTHER_APP })], server: { maxFrameBytes: 16_384 } });
  world = await setupWorld(srv);
});
after(async () => {
  console.log(`fuzz: ${world.cases} cases`);
  await srv.stop();
});

const SEED = Number(process.env.FUZZ_SEED ?? 20261123);

test('S32 protocol fuzz: random and mutated frames, authenticated and not: no crash, coded errors, others unaffected', async () => {
  await fuzzProtocol(world, { numRuns: 400, seed: SEED });
});

test('S32 S31 REST fuzz: random bodies to every command, as admin, stranger and forger', async () => {
  await fuzzRest(world, { numRuns: 200, seed: SEED });
});
