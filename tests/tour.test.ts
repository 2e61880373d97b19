/** The README's tour runs as documented against a real server (so the tour cannot rot). */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { APP, KEY, startServer, type TestServer } from './helpers/server.js';

const run = promisify(execFile);
let srv: TestServer;
before(async () => {
  srv = await startServer();
});
after(async () => {
  await srv.stop();
});

test('S20 S21 the tour: bob sees alice come online, set a custom status and log out', async () => {
  const root = new URL('..', import.meta.url).pathname;
  const { stdout } = await run(process.execPath, ['--conditions=source', '--import', 'tsx', 'examples/tour.ts'], {
    cwd: root,
    env: { ...process.env, PRESENTLY_URL: srv.ws, PRESENTLY_SDKAPPID: String(APP), PRESENTLY_SECRET_KEY: KEY },
    timeout: 30_000,
  });
  assert.match(stdout, /bob asks: alice is \{ userID: 'alice', statusType: 1, customStatus: '' \}/);
  assert.match(stdout, /bob hears: alice is online "listening to music"/);
  assert.match(stdout, /bob hears: alice is not logged in ""/);
});
