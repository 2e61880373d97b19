/**
 * The Unity (C#) SDK, built with Mono's compiler and run with Mono against real servers:
 * - the conformance kit passes through its adapter (sdks/unity/Tests~/ConformanceAdapter.cs);
 * - a build broken on purpose (no S23 catch-up after a reconnect) fails the kit's S23 scenario;
 * - the Unity guide's user-status samples, with only Init pointed at Presently, compile and work.
 * Needs `mcs` and `mono` (Debian: mono-devel; .ci/run installs it). Without them the tests are
 * skipped with a warning, except under CI=true, where they fail.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { createInterface } from 'node:readline';
import { join } from 'node:path';
import { runConformance } from '../conformance/runner/kit.js';
import { ROOT } from '../conformance/runner/kit.js';
import { APP, startServer } from './helpers/server.js';
import { destroyAll, sdk } from './helpers/sdk.js';

const UNITY = join(ROOT, 'sdks/unity');
const hasMono = spawnSync('sh', ['-c', 'command -v mcs && command -v mono'], { encoding: 'utf8' }).status === 0;
if (!hasMono) {
  if (process.env.CI === 'true') throw new Error('mcs/mono missing under CI=true: .ci/run installs mono-devel');
  console.warn('\n*** tests/unity.test.ts: mcs or mono not found (apt-get install -y mono-devel): SKIPPING the Unity SDK tests ***\n');
}
const skip = hasMono ? false : 'mono-devel is not installed';

function build(dir: string, define?: string): void {
  const r = spawnSync('sh', [join(UNITY, 'build.sh'), dir], { encoding: 'utf8', env: { ...process.env, ...(define ? { DEFINE: define } : {}) } });
  assert.equal(r.status, 0, `sdks/unity/build.sh ${dir} failed:\n${r.stdout}\n${r.stderr}`);
}

const lines: string[] = [];
const log = (line: string): void => void lines.push(line);

after(() => destroyAll());

test('S1-S28 the Unity SDK builds with mcs and passes every conformance scenario through its adapter', { skip, timeout: 150_000 }, async () => {
  build('build');
  const report = await runConformance({ adapter: ['mono', '--debug', join(UNITY, 'build/ConformanceAdapter.exe')], log });
  assert.ok(report.outcomes.length >= 30, `only ${report.outcomes.length} scenarios ran`);
  const failed = report.outcomes.filter((o) => !o.ok).map((o) => `${o.id}: ${o.error}`);
  assert.deepEqual(failed, [], lines.join('\n'));
});

test('S23 a Unity SDK built without the catch-up after a reconnect fails the kit', { skip, timeout: 90_000 }, async () => {
  build('build-broken', 'PRESENTLY_BREAK_NO_RESYNC');
  const report = await runConformance({ adapter: ['mono', join(UNITY, 'build-broken/ConformanceAdapter.exe')], only: ['S23-resync-after-network-cut'], log });
  assert.equal(report.outcomes.length, 1);
  assert.equal(report.outcomes[0]!.ok, false, 'the broken build passed the S23 scenario');
  assert.match(report.outcomes[0]!.error ?? '', /away hearing .*f1.*did not happen/);
});

test("S7 S11 S15 S20 the Unity guide's samples compile and work with only Init pointed at Presently", { skip, timeout: 90_000 }, async () => {
  build('build');
  const srv = await startServer();
  try {
    const other = await sdk(srv, 'userID1', { platform: 'Android' });
    const proc = spawn('mono', ['--debug', join(UNITY, 'build/UserStatusSamples.exe'), srv.ws, String(APP), srv.sig('userID')], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    proc.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const steps: Record<string, unknown>[] = [];
    const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
    const listening = new Promise<void>((resolve) => {
      createInterface({ input: proc.stdout }).on('line', (line) => {
        const step = JSON.parse(line) as Record<string, unknown>;
        steps.push(step);
        if (step.step === 'listening') resolve();
      });
    });
    await Promise.race([listening, exited.then((code) => assert.fail(`samples exited (${code}) before listening: ${JSON.stringify(steps)}\n${stderr}`))]);
    await other.client.setSelfStatus({ customStatus: 'playing' });
    assert.equal(await exited, 0, `${JSON.stringify(steps)}\n${stderr}`);
    const by = (name: string) => steps.find((s) => s.step === name);
    for (const name of ['SetStatus', 'QueryStatus', 'Subscribe']) assert.equal(by(name)?.result, 'TIM_SUCC', name);
    // Own status first (answered locally), then userID1 as the server has it.
    assert.deepEqual(by('GetUserStatus'), {
      step: 'GetUserStatus',
      code: 0,
      results: [
        { id: 'userID', type: 1, custom: '' },
        { id: 'userID1', type: 1, custom: '' },
      ],
    });
    assert.deepEqual(by('SubscribeUserStatus'), { step: 'SubscribeUserStatus', code: 0, result: '[]' });
    assert.deepEqual(by('UserStatusChanged')?.heard, [{ id: 'userID1', type: 1, custom: 'playing' }]);
    assert.deepEqual(by('logout'), { step: 'logout', code: 0 });
  } finally {
    await srv.stop();
  }
});
