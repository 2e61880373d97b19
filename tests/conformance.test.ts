/**
 * The conformance kit (conformance/) against the TypeScript SDK: every scenario passes through
 * the SDK's adapter against a real server; and an SDK broken on purpose (no S23 catch-up after a
 * reconnect) fails the kit's S23 scenario, so the kit does check what it claims to.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ADAPTERS } from '../conformance/runner/adapters.js';
import { runConformance, type RunReport } from '../conformance/runner/kit.js';

const lines: string[] = [];
const log = (line: string): void => void lines.push(line);

function failures(report: RunReport): string {
  return report.outcomes
    .filter((o) => !o.ok)
    .map((o) => `${o.id}: ${o.error}`)
    .join('\n\n');
}

test('S1-S28 the TypeScript SDK passes every conformance scenario through its adapter', { timeout: 120_000 }, async () => {
  const report = await runConformance({ adapter: ADAPTERS.typescript!(), log });
  assert.ok(report.outcomes.length >= 30, `only ${report.outcomes.length} scenarios ran`);
  assert.equal(report.failed, 0, `${failures(report)}\n\n${lines.join('\n')}`);
  for (const family of ['S1', 'S5', 'S7', 'S11', 'S15', 'S20', 'S23', 'S26', 'S28']) {
    assert.ok(
      report.outcomes.some((o) => o.rules.includes(family)),
      `no scenario covers ${family}`,
    );
  }
});

test('S23 an SDK without the catch-up after a reconnect fails the kit', { timeout: 60_000 }, async () => {
  const report = await runConformance({
    adapter: ADAPTERS.typescript!(),
    only: ['S23-resync-after-network-cut'],
    env: { CONFORMANCE_BREAK: 'no-resync' },
    log,
  });
  assert.equal(report.outcomes.length, 1);
  const [outcome] = report.outcomes;
  assert.equal(outcome!.ok, false, 'the broken SDK passed the S23 scenario');
  assert.match(outcome!.error ?? '', /away hearing .*f1.*did not happen/);
});
