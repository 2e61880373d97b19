/**
 * The tour finds the server and its app from the server's own environment (HOST, PORT,
 * PRESENTLY_CONFIG, PRESENTLY_DATA_DIR), and anything missing or wrong ends it with one line
 * saying what to do, never a stack trace. The README's walk-through with `npm start` and the
 * development app is tests/readme.test.ts.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { APP, appConfig, startServer, type TestServer } from './helpers/server.js';
import { cleanEnv, run, type Ran } from './helpers/cli.js';
import { freePort } from './helpers/redis.js';

let srv: TestServer;
let port: string;
const scratch = mkdtempSync(join(tmpdir(), 'presently-tour-'));
before(async () => {
  srv = await startServer();
  port = new URL(srv.http).port;
});
after(async () => {
  await srv.stop();
  rmSync(scratch, { recursive: true, force: true });
});

const tour = (env: Record<string, string>): Promise<Ran> => run(process.execPath, ['--conditions=source', '--import', 'tsx', 'examples/tour.ts'], cleanEnv(env));

/** A failure the person running the tour can act on: one line on stderr, no stack trace. */
function oneLine(r: Ran, code: number, re: RegExp): void {
  assert.equal(r.code, code, r.stderr);
  const lines = r.stderr.trim().split('\n');
  assert.equal(lines.length, 1, r.stderr);
  assert.match(lines[0]!, /^tour: /);
  assert.match(lines[0]!, re);
  assert.doesNotMatch(r.stderr, /^\s+at /m);
}

test('S20 S21 the tour runs against a server started with PORT and PRESENTLY_CONFIG, given the same', async () => {
  const r = await tour({ PORT: port, PRESENTLY_CONFIG: srv.configPath });
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(r.stdout.trim().split('\n'), [
    "bob asks: alice is { userID: 'alice', statusType: 1, customStatus: '' }",
    'bob hears: alice is online "listening to music"',
    'bob hears: alice is not logged in ""',
  ]);
});

test("the tour without the server's app: no development app in the data directory", async () => {
  oneLine(
    await tour({ PORT: port, PRESENTLY_DATA_DIR: scratch }),
    2,
    /no development app in .*dev-app\.json: start the server first \(npm start\) with the same PRESENTLY_DATA_DIR, or set PRESENTLY_CONFIG/,
  );
});

test("the tour with another app's key: the server refuses the UserSig, and the tour says which environment to give", async () => {
  const other = join(scratch, 'other.json');
  writeFileSync(other, JSON.stringify({ apps: [appConfig({ secretKey: 'not-the-servers-key' })] }));
  oneLine(
    await tour({ PORT: port, PRESENTLY_CONFIG: other }),
    1,
    new RegExp(`refused the UserSig for app ${APP} from ${other} \\(70009: .*\\): run the tour with the server's PRESENTLY_DATA_DIR or PRESENTLY_CONFIG`),
  );
});

test('the tour with no server at PORT, or with PORT=0: says how to point it at the server', async () => {
  const closed = String(await freePort());
  oneLine(
    await tour({ PORT: closed, PRESENTLY_CONFIG: srv.configPath }),
    1,
    new RegExp(`cannot reach the server at ws://127\\.0\\.0\\.1:${closed} .*: start it \\(npm start\\) and run the tour with the same HOST and PORT`),
  );
  oneLine(await tour({ PORT: '0', PRESENTLY_CONFIG: srv.configPath }), 2, /PORT=0: the server picked a free port; run the tour with PORT set to it/);
});
