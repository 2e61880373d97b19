#!/usr/bin/env node
/**
 * Builds the publishable @presently/client into dist/ from the TypeScript sources, with
 * @presently/protocol (a workspace package that is never published) bundled in:
 *
 *   index.js / index.cjs   Node 20+ and bundlers, ESM / CommonJS. Use the global WebSocket when
 *                          there is one, else `ws`, imported lazily (the package's only dependency).
 *   browser.js / .cjs      The global WebSocket only, no `ws` anywhere: the `react-native`
 *                          condition, and `require` under the `browser` condition (Jest's jsdom).
 *   browser.min.js         The same, minified ESM: the `browser` condition, `<script type=module>`.
 *   presently.min.js       Minified classic script defining `window.Presently` (the default export).
 *   index.d.ts / .d.cts    Every type in one file, the protocol's types inlined (dts-bundle-generator);
 *                          the .d.cts copy types `require()`, which TypeScript reads as CommonJS.
 *
 * The minified+gzipped browser bundles must stay under BUDGET_BYTES: the build fails when over.
 * Runs from the root `prepare` (so `npm install` builds it), `npm run build` and `prepack`.
 * Each new file replaces its old one in one rename (as packages/console/build.mjs does).
 *
 * Usage: node build.mjs [--no-types]   (--no-types: JavaScript only, skips the type bundle)
 */
import { build } from 'esbuild';
import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import ts from 'typescript';

const here = dirname(fileURLToPath(import.meta.url));
const out = join(here, 'dist');
const tmp = join(here, `.dist-${process.pid}`);
const pkg = JSON.parse(readFileSync(join(here, 'package.json'), 'utf8'));
const withTypes = !process.argv.includes('--no-types');
const started = Date.now();

/** Minified + gzipped size limit of browser.min.js and presently.min.js (10 KB = 10,000 bytes). */
const BUDGET_BYTES = 10_000;

/**
 * ES2020 (the SDK needs nothing newer, plus WebSocket) and the browsers of the last few years. The
 * unminified builds stay ES2020 for older bundlers and parsers that read them (class fields are
 * lowered); the minified ones are run by browsers as they are, so they target the browsers only.
 */
const TARGET = ['es2020', 'chrome90', 'firefox90', 'safari15', 'node20'];
const BROWSERS = ['chrome90', 'firefox90', 'safari15'];
const BANNER = `/*! ${pkg.name} ${pkg.version} | ${pkg.license} */`;

const common = {
  absWorkingDir: here,
  bundle: true,
  target: TARGET,
  // @presently/protocol from its TypeScript sources, bundled in: the tarball never names it.
  conditions: ['source'],
  sourcemap: 'linked',
  sourcesContent: true,
  legalComments: 'none',
  logLevel: 'warning',
  metafile: true,
};

/**
 * For the builds that run where a global WebSocket always exists (browsers, React Native): `ws`
 * becomes a stub that says what to do, so no Node code is bundled or imported.
 */
const noWs = {
  name: 'presently-no-ws',
  setup(b) {
    b.onResolve({ filter: /^ws$/ }, () => ({ path: 'ws', namespace: 'presently-no-ws' }));
    b.onLoad({ filter: /.*/, namespace: 'presently-no-ws' }, () => ({
      contents: "export default class { constructor() { throw new Error('no global WebSocket here: pass options.WebSocket to Presently.create'); } }",
      loader: 'js',
    }));
  },
};

/** The entry for the classic script: `window.Presently` is the default export. */
const globalEntry = {
  contents: "import Presently from './src/index.ts';\nglobalThis.Presently = Presently;\n",
  resolveDir: here,
  sourcefile: 'presently-global.js',
  loader: 'js',
};

const builds = [
  { outfile: 'index.js', entryPoints: ['src/index.ts'], format: 'esm', platform: 'node', external: ['ws'] },
  // CommonJS loads `ws` with a lazy require(), not import(): Jest without ESM support refuses import().
  { outfile: 'index.cjs', entryPoints: ['src/index.ts'], format: 'cjs', platform: 'node', external: ['ws'], supported: { 'dynamic-import': false } },
  { outfile: 'browser.js', entryPoints: ['src/index.ts'], format: 'esm', platform: 'browser', plugins: [noWs] },
  { outfile: 'browser.cjs', entryPoints: ['src/index.ts'], format: 'cjs', platform: 'browser', plugins: [noWs] },
  { outfile: 'browser.min.js', entryPoints: ['src/index.ts'], format: 'esm', platform: 'browser', plugins: [noWs], minify: true, target: BROWSERS, banner: { js: BANNER } },
  { outfile: 'presently.min.js', stdin: globalEntry, format: 'iife', platform: 'browser', plugins: [noWs], minify: true, target: BROWSERS, banner: { js: BANNER } },
];
const BROWSER_ONLY = ['browser.js', 'browser.cjs', 'browser.min.js', 'presently.min.js'];
const BUDGETED = ['browser.min.js', 'presently.min.js'];

/** Files under `dir`, as paths relative to it. */
function listFiles(dir, prefix = '') {
  if (!existsSync(join(dir, prefix))) return [];
  return readdirSync(join(dir, prefix), { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? listFiles(dir, join(prefix, e.name)) : [join(prefix, e.name)]));
}

class BuildError extends Error {}
function fail(message) {
  throw new BuildError(message);
}

/** One bundled declaration file: the client's public types with @presently/protocol's inlined. */
async function bundleTypes() {
  const { generateDtsBundle } = await import('dts-bundle-generator');
  const [dts] = generateDtsBundle(
    [
      {
        filePath: join(here, 'src/index.ts'),
        libraries: { inlinedLibraries: ['@presently/protocol'] },
        output: { noBanner: true, exportReferencedTypes: false },
      },
    ],
    { preferredConfigPath: join(here, 'tsconfig.types.json') },
  );
  return `${BANNER}\n${fixNamespaceSelfReferences(dts)}`;
}

/**
 * A declaration bundler puts every module's declarations in one scope. A namespace member that
 * stands for an outer declaration of the same name (src/index.ts: `namespace Presently { export
 * const create = createClient; export import TYPES = TYPES_ENUM; }`) then comes out as
 * `const create: typeof create` or `export import TYPES = TYPES`: a reference to itself (TS2502,
 * TS2303). dts-bundle-generator, rollup-plugin-dts and API Extractor all flatten it so. Each such
 * self-reference is pointed here at a module-private alias of the outer declaration, declared
 * just before the namespace (`declare const _create: typeof create;`, `import _TYPES = TYPES;`).
 */
function fixNamespaceSelfReferences(text) {
  const sf = ts.createSourceFile('index.d.ts', text, ts.ScriptTarget.Latest, true, ts.ScriptKind.TS);
  const taken = new Set(text.match(/[A-Za-z_$][\w$]*/g));
  const fresh = (name) => {
    let alias = `_${name}`;
    for (let i = 2; taken.has(alias); i++) alias = `_${name}${i}`;
    taken.add(alias);
    return alias;
  };
  const edits = [];
  for (const stmt of sf.statements) {
    if (!ts.isModuleDeclaration(stmt) || !stmt.body || !ts.isModuleBlock(stmt.body)) continue;
    const aliases = [];
    for (const member of stmt.body.statements) {
      if (ts.isVariableStatement(member)) {
        for (const d of member.declarationList.declarations) {
          const q = d.type;
          if (ts.isIdentifier(d.name) && q && ts.isTypeQueryNode(q) && ts.isIdentifier(q.exprName) && q.exprName.text === d.name.text) {
            const alias = fresh(d.name.text);
            aliases.push(`declare const ${alias}: typeof ${d.name.text};`);
            edits.push({ pos: q.exprName.getStart(sf), end: q.exprName.end, text: alias });
          }
        }
      } else if (ts.isImportEqualsDeclaration(member) && ts.isIdentifier(member.moduleReference) && member.moduleReference.text === member.name.text) {
        const alias = fresh(member.name.text);
        aliases.push(`import ${alias} = ${member.name.text};`);
        edits.push({ pos: member.moduleReference.getStart(sf), end: member.moduleReference.end, text: alias });
      }
    }
    if (aliases.length > 0) edits.push({ pos: stmt.getFullStart(), end: stmt.getFullStart(), text: `\n${aliases.join('\n')}` });
  }
  let out = text;
  for (const e of edits.sort((a, b) => b.pos - a.pos)) out = out.slice(0, e.pos) + e.text + out.slice(e.end);
  return out;
}

/**
 * The bundled declarations must stand alone: checked as a strict consumer would (declaration
 * files included, no DOM, no @types/node, nothing else installed). Returns the errors, if any.
 */
function checkTypes(file) {
  const program = ts.createProgram([file], {
    strict: true,
    noUncheckedIndexedAccess: true,
    exactOptionalPropertyTypes: true,
    skipLibCheck: false,
    noEmit: true,
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.ESNext,
    moduleResolution: ts.ModuleResolutionKind.Bundler,
    lib: ['lib.es2022.d.ts'],
    types: [],
  });
  const host = { getCanonicalFileName: (f) => f, getCurrentDirectory: () => here, getNewLine: () => '\n' };
  const diagnostics = ts.getPreEmitDiagnostics(program);
  return diagnostics.length === 0 ? '' : ts.formatDiagnostics(diagnostics, host);
}

const sizes = [];
rmSync(tmp, { recursive: true, force: true });
mkdirSync(tmp, { recursive: true });
try {
  for (const { outfile, ...options } of builds) {
    const result = await build({ ...common, ...options, outfile: join(tmp, outfile) });
    const inputs = Object.keys(result.metafile.inputs);
    const code = readFileSync(join(tmp, outfile), 'utf8');
    // The protocol is inside, never imported; browser builds import nothing at all.
    if (/["']@presently\/protocol["']/.test(code)) fail(`${outfile} still imports @presently/protocol`);
    if (BROWSER_ONLY.includes(outfile)) {
      const nodeCode = inputs.filter((p) => p.includes('node_modules/ws/') || p.startsWith('node:'));
      if (nodeCode.length > 0) fail(`${outfile} bundles Node code: ${nodeCode.join(', ')}`);
      if (/\b(?:import|require)\s*\(\s*["'](?:ws|node:[a-z_/]+)["']\s*\)|\bfrom\s*["'](?:ws|node:[a-z_/]+)["']/.test(code)) {
        fail(`${outfile} imports ws or a Node built-in`);
      }
    }
    const raw = Buffer.byteLength(code);
    const gzip = gzipSync(code, { level: 9 }).length;
    sizes.push({ outfile, raw, gzip });
    if (BUDGETED.includes(outfile) && gzip > BUDGET_BYTES) {
      fail(`${outfile} is ${gzip} bytes minified+gzipped, over the budget of ${BUDGET_BYTES} bytes`);
    }
  }
  if (withTypes) {
    const dts = await bundleTypes();
    if (/["']@presently\/protocol["']/.test(dts)) fail('index.d.ts still refers to @presently/protocol');
    writeFileSync(join(tmp, 'index.d.ts'), dts);
    const errors = checkTypes(join(tmp, 'index.d.ts'));
    if (errors) fail(`the bundled index.d.ts does not type-check on its own:\n${errors}`);
    writeFileSync(join(tmp, 'index.d.cts'), dts);
  }
  // Move each new file over the old one (a rename is atomic), then drop what this build did not
  // make (e.g. the per-module output of an older `tsc -b`). Without --no-types the old type files
  // stay only if this build made none.
  const fresh = new Set();
  mkdirSync(out, { recursive: true });
  for (const rel of listFiles(tmp)) {
    fresh.add(rel);
    mkdirSync(dirname(join(out, rel)), { recursive: true });
    renameSync(join(tmp, rel), join(out, rel));
  }
  const keep = (rel) => fresh.has(rel) || (!withTypes && /^index\.d\.c?ts$/.test(rel));
  for (const rel of listFiles(out)) if (!keep(rel)) rmSync(join(out, rel), { force: true });
  for (const dir of readdirSync(out, { withFileTypes: true })) {
    if (dir.isDirectory() && listFiles(join(out, dir.name)).length === 0) rmSync(join(out, dir.name), { recursive: true, force: true });
  }
} catch (err) {
  if (!(err instanceof BuildError)) throw err;
  console.error(`@presently/client build FAILED: ${err.message}`);
  process.exitCode = 1;
} finally {
  rmSync(tmp, { recursive: true, force: true });
}
if (process.exitCode) process.exit();

const kb = (n) => `${(n / 1000).toFixed(1)} KB`;
const budgeted = sizes.filter((s) => BUDGETED.includes(s.outfile)).map((s) => `${s.outfile} ${kb(s.raw)} / ${kb(s.gzip)} gzip`);
console.log(`@presently/client: built dist/ in ${Date.now() - started} ms${withTypes ? '' : ' (no types)'}; ${budgeted.join(', ')} (budget ${kb(BUDGET_BYTES)} gzip)`);
