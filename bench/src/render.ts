/**
 * Makes RESULTS.md again from the raw figures a run wrote next to it (`--out=X.md` writes X.json):
 *   node --conditions=source --import tsx bench/src/render.ts X.json [OUT.md]
 * (the log lines are not in the JSON: the Log section says so).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { writeResults } from './results.js';

const [input, output] = process.argv.slice(2);
if (!input) {
  process.stderr.write('usage: render.ts RESULTS.json [OUT.md]\n');
  process.exit(2);
}
// Typed arrays and histograms are not in the JSON: the tables use plain figures only.
const raw = JSON.parse(readFileSync(input, 'utf8')) as Omit<Parameters<typeof writeResults>[0], 'log' | 'started'> & { started: string };
const md = writeResults({ ...raw, started: new Date(raw.started), log: [`(made again from ${input} by bench/src/render.ts; the run's log is in the original RESULTS.md)`] });
if (output) writeFileSync(output, md);
else process.stdout.write(md);
