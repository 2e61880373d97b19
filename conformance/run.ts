/**
 * Runs the conformance kit against one SDK through its adapter:
 *
 *   node --conditions=source --import tsx conformance/run.ts --adapter typescript   (packages/client)
 *   ... --adapter unity                  (sdks/unity, built first with sh sdks/unity/build.sh)
 *   ... --cmd "mono my/Adapter.exe"      (any adapter command line, split on spaces)
 *   ... --only S23,S26   only the scenarios whose id or rules start with these
 *   ... --trace          print every line exchanged with the adapter
 *   ... --list           list the scenarios and stop
 *
 * Exit code 0 when every scenario passed, 1 otherwise.
 */
import { ADAPTERS } from './runner/adapters.js';
import { loadScenarios, runConformance } from './runner/kit.js';

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

async function main(): Promise<void> {
  const only = (arg('--only') ?? '').split(',').filter(Boolean);
  if (process.argv.includes('--list')) {
    for (const s of loadScenarios(only)) console.log(`${s.id.padEnd(34)} ${s.rules.join(' ').padEnd(14)} ${s.title}`);
    return;
  }
  const cmd = arg('--cmd');
  const name = arg('--adapter') ?? 'typescript';
  let adapter: string[];
  if (cmd) adapter = cmd.split(' ').filter(Boolean);
  else {
    const make = ADAPTERS[name];
    if (!make) throw new Error(`unknown adapter ${name} (known: ${Object.keys(ADAPTERS).join(', ')}); or give --cmd "<command line>"`);
    adapter = make();
  }
  const report = await runConformance({ adapter, only, trace: process.argv.includes('--trace') });
  process.exitCode = report.failed === 0 ? 0 : 1;
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exitCode = 1;
});
