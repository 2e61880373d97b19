#!/usr/bin/env node
// Checks docs/rules.md, the project's own statement of the behaviour rules S1-S32, against the
// repository: every rule is there once, each names the code that carries it and the tests that
// prove it, and those references still hold.
//
// Usage: node scripts/check-rules.mjs [rules file]   (default: docs/rules.md of this repository)
// Exit code 0 when every check passes, 1 otherwise (a rules file that cannot be read included).
//
// The format it reads (docs/rules.md, "How to read this page"):
//   ### S16                      one heading per rule, S1..S32
//   prose                        the rule in our words
//   Code:                        a label line, then one bullet per file:
//   - `packages/…/file.ts`: `Symbol`, `Other.symbol` (what they do)
//   Tests:                       a label line, then one bullet per test file,
//   - `tests/…/file.test.ts`     each with sub-bullets naming its tests:
//     - "S16 past the cap (4 here) …"
//
// Checks, per rule:
//   - the heading is present, exactly once, and the rule has prose;
//   - at least one Code path and at least one Tests path;
//   - every listed path exists (paths are relative to the repository root);
//   - every identifier written in backticks on a Code bullet (`AppEngine.subscribe`) still
//     appears in that file (its last segment, as a word);
//   - every Tests path is a test file (`*.test.ts`, `*.test.mjs`, …) that cites the rule id as a
//     word (`\bS16\b`; a cited sub-part such as `S21c` counts for S21);
//   - every quoted test name is found in that test file.
// No dependencies: node:fs and node:path only.
import { readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const FIRST = 1;
const LAST = 32;
const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const rulesPath = process.argv[2] ? resolve(process.argv[2]) : join(ROOT, 'docs', 'rules.md');
const shownRulesPath = relative(process.cwd(), rulesPath).startsWith('..') ? rulesPath : relative(process.cwd(), rulesPath) || rulesPath;

let text;
try {
  text = readFileSync(rulesPath, 'utf8');
} catch (err) {
  console.log(`check-rules: cannot read ${shownRulesPath}: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
}

/** A backticked token that names a file: no spaces, at least one slash, an extension. */
const PATH_RE = /^[\w.@-]+(?:\/[\w.@-]+)+\.[A-Za-z0-9]+$/;
/** A backticked token that names a symbol: `Name`, `Class.member`, `fn()`. */
const SYMBOL_RE = /^[A-Za-z_$][\w$]*(?:\.[A-Za-z_$][\w$]*)*(?:\(\))?$/;
const TEST_FILE_RE = /\.test\.[cm]?[jt]sx?$/;

// ---- parse ----------------------------------------------------------------------------------------

/** @typedef {{ path: string, line: number, symbols: string[], names: string[] }} Ref */
/** @typedef {{ id: string, line: number, prose: number, code: Ref[], tests: Ref[] }} Rule */

/** @type {Map<string, Rule[]>} */
const found = new Map();
/** @type {Rule | null} */
let rule = null;
/** @type {'prose' | 'code' | 'tests'} */
let part = 'prose';
/** @type {Ref | null} */
let ref = null;
let inFence = false;

const lines = text.split(/\r?\n/);
lines.forEach((raw, index) => {
  const lineNo = index + 1;
  if (/^\s*(```|~~~)/.test(raw)) {
    inFence = !inFence;
    return;
  }
  if (inFence) return;
  const heading = /^(#{1,6})\s+(.*)$/.exec(raw);
  if (heading) {
    const m = /^S(\d+)\s*$/.exec(heading[2].trim());
    if (heading[1] === '###' && m) {
      rule = { id: `S${Number(m[1])}`, line: lineNo, prose: 0, code: [], tests: [] };
      const list = found.get(rule.id) ?? [];
      list.push(rule);
      found.set(rule.id, list);
    } else {
      rule = null; // any other heading ends the rule
    }
    part = 'prose';
    ref = null;
    return;
  }
  if (!rule) return;
  const label = /^(Code|Tests):\s*(.*)$/.exec(raw);
  if (label) {
    part = label[1] === 'Code' ? 'code' : 'tests';
    ref = null;
    if (label[2].trim() !== '') addRef(label[2], lineNo); // tolerate `Code: \`a.ts\`` on one line
    return;
  }
  if (part === 'prose') {
    if (raw.trim() !== '') rule.prose++;
    return;
  }
  const sub = /^\s{2,}[-*]\s+(.*)$/.exec(raw);
  if (sub && ref) {
    const name = quoted(sub[1]);
    if (name !== null) ref.names.push(name);
    else ref.symbols.push(...backticks(sub[1]).filter((t) => SYMBOL_RE.test(t)));
    return;
  }
  const bullet = /^[-*]\s+(.*)$/.exec(raw);
  if (bullet) {
    addRef(bullet[1], lineNo);
    return;
  }
  if (raw.trim() === '') return; // blank lines inside a list
  // Any other line ends the list; what follows is prose again.
  part = 'prose';
  ref = null;
  rule.prose++;
});

/** Adds the path references found on one line to the current rule's Code or Tests. */
function addRef(content, lineNo) {
  if (!rule) return;
  const tokens = backticks(content);
  const paths = tokens.filter((t) => PATH_RE.test(t));
  const symbols = tokens.filter((t) => !PATH_RE.test(t) && SYMBOL_RE.test(t));
  const list = part === 'code' ? rule.code : rule.tests;
  ref = null;
  for (const p of paths) {
    ref = { path: p, line: lineNo, symbols: paths.length === 1 ? symbols : [], names: [] };
    list.push(ref);
  }
  // A name quoted on the file's own line: - `tests/x.test.ts`: "S16 …"
  const name = quoted(content.replace(/`[^`]*`/g, ''));
  if (ref && name !== null) ref.names.push(name);
}

function backticks(s) {
  return [...s.matchAll(/`([^`]+)`/g)].map((m) => m[1].trim());
}

/** The text between the first and the last double quote of a line, or null. */
function quoted(s) {
  const a = s.indexOf('"');
  const b = s.lastIndexOf('"');
  return a >= 0 && b > a ? s.slice(a + 1, b) : null;
}

// ---- check ----------------------------------------------------------------------------------------

/** @type {Map<string, string[]>} rule id -> problems */
const problems = new Map();
const problem = (id, message) => {
  const list = problems.get(id) ?? [];
  list.push(message);
  problems.set(id, list);
};

/** @type {Map<string, string | null>} */
const fileCache = new Map();
function readRepoFile(p) {
  if (!fileCache.has(p)) {
    const abs = join(ROOT, p);
    let content = null;
    try {
      if (statSync(abs).isFile()) content = readFileSync(abs, 'utf8');
    } catch {
      content = null;
    }
    fileCache.set(p, content);
  }
  return fileCache.get(p) ?? null;
}

/** Source text with the escapes a quoted test name may carry undone (\' \" \\). */
function unescaped(source) {
  return source.replace(/\\(['"`\\])/g, '$1');
}

const escapeRe = (s) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

let codeRefs = 0;
let testRefs = 0;
let testNames = 0;

for (let n = FIRST; n <= LAST; n++) {
  const id = `S${n}`;
  const list = found.get(id) ?? [];
  if (list.length === 0) {
    problem(id, `rule ${id} is missing (no "### ${id}" heading)`);
    continue;
  }
  if (list.length > 1) problem(id, `rule ${id} appears ${list.length} times (lines ${list.map((r) => r.line).join(', ')})`);
  for (const r of list) {
    if (r.prose === 0) problem(id, `line ${r.line}: ${id} has no text`);
    if (r.code.length === 0) problem(id, `line ${r.line}: ${id} lists no Code path`);
    if (r.tests.length === 0) problem(id, `line ${r.line}: ${id} lists no Tests path`);

    for (const c of r.code) {
      codeRefs++;
      const src = readRepoFile(c.path);
      if (src === null) {
        problem(id, `line ${c.line}: Code path \`${c.path}\` does not exist`);
        continue;
      }
      for (const s of c.symbols) {
        const last = s.replace(/\(\)$/, '').split('.').pop() ?? s;
        if (!new RegExp(`(?<![\\w$])${escapeRe(last)}(?![\\w$])`).test(src)) {
          problem(id, `line ${c.line}: \`${s}\` is not found in \`${c.path}\``);
        }
      }
    }

    const cites = new RegExp(`\\b${id}[a-z]?\\b`);
    for (const t of r.tests) {
      testRefs++;
      if (!TEST_FILE_RE.test(t.path)) problem(id, `line ${t.line}: Tests path \`${t.path}\` is not a test file (*.test.ts)`);
      const src = readRepoFile(t.path);
      if (src === null) {
        problem(id, `line ${t.line}: Tests path \`${t.path}\` does not exist`);
        continue;
      }
      if (!cites.test(src)) problem(id, `line ${t.line}: test file \`${t.path}\` does not mention ${id}`);
      const plain = unescaped(src);
      for (const name of t.names) {
        testNames++;
        if (!plain.includes(name)) problem(id, `line ${t.line}: test "${name}" is not found in \`${t.path}\``);
      }
    }
  }
}

for (const [id, list] of found) {
  const n = Number(id.slice(1));
  if (n < FIRST || n > LAST) problem(id, `unknown rule ${id} (line ${list[0]?.line}): the rules are S${FIRST}..S${LAST}`);
}

// ---- report ---------------------------------------------------------------------------------------

const failed = [...problems.keys()];
console.log(`check-rules: ${shownRulesPath}`);
if (failed.length === 0) {
  console.log(`ok: S${FIRST}..S${LAST} all present; ${codeRefs} code references, ${testRefs} test-file references and ${testNames} test names checked`);
  process.exit(0);
}
const order = (id) => Number(id.slice(1)) || 0;
for (const id of failed.sort((a, b) => order(a) - order(b))) {
  for (const message of problems.get(id) ?? []) console.log(`FAIL ${id}: ${message}`);
}
const count = [...problems.values()].reduce((sum, l) => sum + l.length, 0);
console.log(`check-rules: ${count} problem${count === 1 ? '' : 's'} in ${failed.length} rule${failed.length === 1 ? '' : 's'} (${failed.join(', ')})`);
process.exit(1);
