/**
 * @presently/client as an app installs it: `npm pack` of packages/client (its `prepack` builds
 * dist/ from the current sources), installed with `npm install --offline` into an empty project
 * in a temp folder outside the repository (no workspace, no @presently/protocol anywhere), then:
 * (a) Node ESM `import` and CJS `require` load it; (b) strict TypeScript type-checks against its
 * one bundled declaration file (nodenext, ESM and CJS, and bundler resolution); (c) esbuild bundles
 * it for browsers without `ws` or Node built-ins; (d) the global-script bundle in headless Chromium
 * defines window.Presently and logs in for real; (e) from Node, ESM and CJS each log in to a real
 * server process through `ws` (Node 20 has no global WebSocket) and read a status.
 *
 * Why the temp project gets a lockfile holding the repo's locked `ws` (version and integrity):
 * npm 11 resolves a dependency that is not in a lockfile from the registry's full metadata, which
 * the repo's own install never caches (it caches the abbreviated form), so a plain `--offline`
 * install of the tarball fails with ENOTCACHED. With `ws` in the lockfile npm checks the tarball's
 * `ws` range against it and takes `ws` from the cache by integrity: no request at all. Only if even
 * that is not cached does the install fall back to `--prefer-offline`, loudly.
 *
 * Chromium (/usr/bin/chromium) is the only part that may be absent: (d) is then skipped with a
 * loud message, except under CI=true where it fails. No sleeps: each step waits for a process or
 * a reply.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { build } from 'esbuild';
import type { Browser } from 'playwright-core';
import type Presently from '@presently/client';
import { chromiumSkip, launchChromium } from './helpers/browser.js';
import { APP, startServer, type TestServer } from './helpers/server.js';

const ROOT = new URL('..', import.meta.url).pathname;
const CLIENT = join(ROOT, 'packages/client');
const TSC = join(ROOT, 'node_modules/typescript/bin/tsc');
const ONLINE = 1;
const skipBrowser = chromiumSkip('the global-script bundle test in Chromium (tests/package.test.ts)');

const execFileP = promisify(execFile);

/** Runs a command; on failure the error carries everything it printed. */
async function run(cmd: string, args: string[], opts: { cwd: string; env?: NodeJS.ProcessEnv; timeout?: number }): Promise<string> {
  try {
    const { stdout } = await execFileP(cmd, args, { cwd: opts.cwd, env: opts.env ?? process.env, timeout: opts.timeout ?? 30_000, maxBuffer: 16 * 1024 * 1024 });
    return stdout;
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string; message: string };
    throw new Error(`${cmd} ${args.join(' ')} (in ${opts.cwd}) failed: ${e.message}\n--- stdout\n${e.stdout ?? ''}\n--- stderr\n${e.stderr ?? ''}`, { cause: err });
  }
}

/** The environment without what an outer `npm test` / `npm run` passes down (npm_config_*, ...). */
function npmEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!/^npm_/i.test(k)) env[k] = v;
  return { ...env, NPM_CONFIG_UPDATE_NOTIFIER: 'false', NPM_CONFIG_FUND: 'false', NPM_CONFIG_AUDIT: 'false' };
}

let work = '';
let project = '';
let installed = '';
let srv: TestServer;
let browser: Browser | undefined;

before(async () => {
  work = realpathSync(mkdtempSync(join(tmpdir(), 'presently-package-')));
  assert.ok(!work.startsWith(realpathSync(ROOT)), 'the consumer project must live outside the repository');
  const packDir = join(work, 'pack');
  project = join(work, 'consumer');
  mkdirSync(packDir);
  mkdirSync(project);

  const serverUp = startServer();
  serverUp.catch(() => undefined); // awaited below; not an unhandled rejection meanwhile
  await run('npm', ['pack', '--pack-destination', packDir], { cwd: CLIENT, env: npmEnv(), timeout: 90_000 });
  const tarballs = readdirSync(packDir).filter((f) => f.endsWith('.tgz'));
  assert.equal(tarballs.length, 1, `npm pack made ${tarballs.join(', ') || 'nothing'}`);
  const tarball = join(packDir, tarballs[0]!);

  // An empty ESM project, plus the lockfile entry of `ws` (see the file comment).
  writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'consumer', version: '1.0.0', private: true, type: 'module' }, null, 2));
  const repoLock = JSON.parse(readFileSync(join(ROOT, 'package-lock.json'), 'utf8')) as { packages: Record<string, Record<string, unknown>> };
  const ws = repoLock.packages['node_modules/ws'];
  assert.ok(ws && typeof ws.integrity === 'string', 'the repository lockfile has no node_modules/ws entry');
  const { dev: _dev, ...wsEntry } = ws;
  writeFileSync(
    join(project, 'package-lock.json'),
    JSON.stringify(
      { name: 'consumer', version: '1.0.0', lockfileVersion: 3, requires: true, packages: { '': { name: 'consumer', version: '1.0.0' }, 'node_modules/ws': wsEntry } },
      null,
      2,
    ),
  );
  const install = (mode: string) => run('npm', ['install', mode, '--no-audit', '--no-fund', tarball], { cwd: project, env: npmEnv(), timeout: 60_000 });
  try {
    await install('--offline');
  } catch (err) {
    if (!/ENOTCACHED/.test(String(err))) throw err;
    console.warn(`\n*** ws ${String(ws.version)} is not in the npm cache: installing with --prefer-offline (asks the registry) ***\n`);
    await install('--prefer-offline');
  }
  installed = join(project, 'node_modules/@presently/client');
  srv = await serverUp;
});

after(async () => {
  await browser?.close();
  await srv?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
});

test('the installed package: dist only, ws its only dependency, no @presently/protocol', () => {
  const pkg = JSON.parse(readFileSync(join(installed, 'package.json'), 'utf8')) as { dependencies?: Record<string, string>; devDependencies?: unknown };
  assert.deepEqual(Object.keys(pkg.dependencies ?? {}), ['ws']);
  assert.ok(!existsSync(join(project, 'node_modules/@presently/protocol')), '@presently/protocol was installed');
  assert.ok(existsSync(join(project, 'node_modules/ws/package.json')), 'ws was not installed');
  const files = readdirSync(join(installed, 'dist'));
  for (const f of ['index.js', 'index.cjs', 'index.d.ts', 'index.d.cts', 'browser.js', 'browser.cjs', 'browser.min.js', 'presently.min.js']) {
    assert.ok(files.includes(f), `dist/${f} is missing from the tarball`);
  }
  assert.ok(!existsSync(join(installed, 'src')), 'sources are in the tarball');
  for (const f of files.filter((x) => /\.(c?js|d\.c?ts)$/.test(x))) {
    assert.doesNotMatch(readFileSync(join(installed, 'dist', f), 'utf8'), /["']@presently\/protocol["']/, `dist/${f} refers to @presently/protocol`);
  }
});

test('(a) Node ESM import and CommonJS require load it and expose create, TYPES, EVENT', async () => {
  writeFileSync(
    join(project, 'load.mjs'),
    `import Presently, * as named from '@presently/client';
console.log(JSON.stringify({
  resolved: import.meta.resolve('@presently/client'),
  create: typeof Presently.create, TYPES: typeof Presently.TYPES, EVENT: typeof Presently.EVENT,
  namedCreate: typeof named.create, namedTypes: typeof named.TYPES, namedEvent: typeof named.EVENT,
  online: Presently.TYPES.USER_STATUS_ONLINE, updated: Presently.EVENT.USER_STATUS_UPDATED,
}));
`,
  );
  writeFileSync(
    join(project, 'load.cjs'),
    `const Presently = require('@presently/client');
console.log(JSON.stringify({
  resolved: require.resolve('@presently/client'),
  create: typeof Presently.create, TYPES: typeof Presently.TYPES, EVENT: typeof Presently.EVENT,
  defaultCreate: typeof (Presently.default && Presently.default.create),
  online: Presently.TYPES.USER_STATUS_ONLINE, updated: Presently.EVENT.USER_STATUS_UPDATED,
}));
`,
  );
  const esm = JSON.parse(await run(process.execPath, ['load.mjs'], { cwd: project })) as Record<string, unknown>;
  assert.match(String(esm.resolved), /node_modules\/@presently\/client\/dist\/index\.js$/);
  assert.deepEqual(
    { ...esm, resolved: undefined },
    {
      resolved: undefined,
      create: 'function',
      TYPES: 'object',
      EVENT: 'object',
      namedCreate: 'function',
      namedTypes: 'object',
      namedEvent: 'object',
      online: ONLINE,
      updated: 'onUserStatusUpdated',
    },
  );
  const cjs = JSON.parse(await run(process.execPath, ['load.cjs'], { cwd: project })) as Record<string, unknown>;
  assert.match(String(cjs.resolved), /node_modules\/@presently\/client\/dist\/index\.cjs$/);
  assert.deepEqual(
    { ...cjs, resolved: undefined },
    { resolved: undefined, create: 'function', TYPES: 'object', EVENT: 'object', defaultCreate: 'function', online: ONLINE, updated: 'onUserStatusUpdated' },
  );
});

test('(b) a strict TypeScript project type-checks against the bundled declarations alone', async () => {
  mkdirSync(join(project, 'src'), { recursive: true });
  writeFileSync(
    join(project, 'src/app.ts'),
    `import Presently, { PresentlyError, type PresentlyClient, type UserStatusInfo } from '@presently/client';

const client: PresentlyClient = Presently.create({ SDKAppID: 1400000001, url: 'ws://127.0.0.1:8080' });
let onlineCount = 0;
client.on(Presently.EVENT.USER_STATUS_UPDATED, (event) => {
  const list: UserStatusInfo[] = event.data;
  for (const { userID, statusType, customStatus } of list) {
    if (statusType === Presently.TYPES.USER_STATUS_ONLINE && userID.length + customStatus.length > 0) onlineCount++;
  }
});

export async function main(userSig: string): Promise<number> {
  try {
    await client.login({ userID: 'alice', userSig });
    const { data } = await client.getUserStatus({ userIDList: ['bob'] });
    const first: UserStatusInfo | undefined = data.successUserList[0];
    return (first?.statusType ?? 0) + data.failureUserList.length + onlineCount;
  } catch (err) {
    if (err instanceof PresentlyError) return err.code;
    throw err;
  }
}

// The types are real, not \`any\`: each line below must be an error.
// @ts-expect-error SDKAppID is a number
Presently.create({ SDKAppID: '1400000001', url: 'ws://127.0.0.1:8080' });
// @ts-expect-error userIDList is a list of strings
void client.getUserStatus({ userIDList: 'bob' });
`,
  );
  writeFileSync(
    join(project, 'src/legacy.cts'),
    `import Presently = require('@presently/client');

export const client = Presently.create({ SDKAppID: 1400000001, url: 'ws://127.0.0.1:8080' });
export const online: number = Presently.TYPES.USER_STATUS_ONLINE;
export const updated: string = Presently.EVENT.USER_STATUS_UPDATED;
export const viaDefault = Presently.default.create;
`,
  );
  // No DOM, no @types/node, and the declaration files checked too (skipLibCheck off).
  const strict = {
    strict: true,
    noUncheckedIndexedAccess: true,
    exactOptionalPropertyTypes: true,
    noEmit: true,
    skipLibCheck: false,
    target: 'ES2022',
    lib: ['ES2022'],
    types: [],
  };
  writeFileSync(join(project, 'tsconfig.json'), JSON.stringify({ compilerOptions: { ...strict, module: 'NodeNext', moduleResolution: 'NodeNext' }, include: ['src'] }, null, 2));
  writeFileSync(
    join(project, 'tsconfig.bundler.json'),
    JSON.stringify({ compilerOptions: { ...strict, module: 'ESNext', moduleResolution: 'Bundler' }, files: ['src/app.ts'] }, null, 2),
  );

  const nodenext = await run(process.execPath, [TSC, '-p', 'tsconfig.json', '--listFiles'], { cwd: project });
  const bundler = await run(process.execPath, [TSC, '-p', 'tsconfig.bundler.json', '--listFiles'], { cwd: project });
  assert.match(nodenext, /node_modules\/@presently\/client\/dist\/index\.d\.ts$/m, 'ESM files did not get dist/index.d.ts');
  assert.match(nodenext, /node_modules\/@presently\/client\/dist\/index\.d\.cts$/m, '.cts files did not get dist/index.d.cts');
  assert.match(bundler, /node_modules\/@presently\/client\/dist\/index\.d\.ts$/m);
  for (const out of [nodenext, bundler]) assert.doesNotMatch(out, /protocol|\/src\/index\.ts$/m);
});

test('(c) esbuild bundles it for browsers without ws or Node built-ins', async () => {
  writeFileSync(
    join(project, 'web.js'),
    `import Presently from '@presently/client';
export const client = Presently.create({ SDKAppID: 1400000001, url: 'wss://presence.example.com' });
export const online = Presently.TYPES.USER_STATUS_ONLINE;
`,
  );
  const result = await build({
    absWorkingDir: project,
    entryPoints: ['web.js'],
    bundle: true,
    platform: 'browser',
    format: 'esm',
    write: false,
    metafile: true,
    minify: true,
    logLevel: 'silent',
  });
  const inputs = Object.keys(result.metafile.inputs);
  assert.ok(inputs.includes('node_modules/@presently/client/dist/browser.min.js'), `the browser condition did not pick dist/browser.min.js: ${inputs.join(', ')}`);
  assert.deepEqual(
    inputs.filter((p) => /node_modules\/ws\/|^node:|^(events|net|tls|http|https|crypto|stream|zlib|url|buffer)$/.test(p)),
    [],
  );
  const code = result.outputFiles[0]!.text;
  assert.doesNotMatch(code, /\b(?:import|require)\s*\(\s*["'](?:ws|node:[a-z_/]+)["']\s*\)|\bfrom\s*["'](?:ws|node:[a-z_/]+)["']/);
  assert.match(code, /onUserStatusUpdated/);
});

test('(d) the global-script bundle in Chromium defines window.Presently and logs in', { skip: skipBrowser }, async () => {
  writeFileSync(
    join(project, 'page.html'),
    `<!doctype html><meta charset="utf-8"><title>presently.min.js</title>\n<script src="node_modules/@presently/client/dist/presently.min.js"></script>\n`,
  );
  browser = await launchChromium();
  const page = await browser.newPage();
  page.setDefaultTimeout(10_000);
  const errors: string[] = [];
  page.on('pageerror', (err) => errors.push(String(err)));
  await page.goto(pathToFileURL(join(project, 'page.html')).href);
  type Global = { Presently?: typeof Presently };
  const seen = await page.evaluate(() => {
    const P = (window as unknown as Global).Presently;
    return { create: typeof P?.create, online: P?.TYPES.USER_STATUS_ONLINE, updated: P?.EVENT.USER_STATUS_UPDATED };
  });
  assert.deepEqual(seen, { create: 'function', online: ONLINE, updated: 'onUserStatusUpdated' });
  const userID = 'pkg-browser';
  const statuses = await page.evaluate(
    async ({ url, SDKAppID, userID, userSig }) => {
      const P = (window as unknown as Required<Global>).Presently;
      const client = P.create({ SDKAppID, url });
      await client.login({ userID, userSig });
      const { data } = await client.getUserStatus({ userIDList: [userID] });
      await client.logout();
      await client.destroy();
      return data.successUserList;
    },
    { url: srv.ws, SDKAppID: APP, userID, userSig: srv.sig(userID) },
  );
  assert.deepEqual(statuses, [{ userID, statusType: ONLINE, customStatus: '' }]);
  assert.deepEqual(errors, []);
});

test('(e) from Node, ESM and CommonJS each log in to a real server and read a status', async () => {
  const script = (load: string) => `${load}
const [url, SDKAppID, userID, userSig] = process.argv.slice(2);
(async () => {
  const client = Presently.create({ SDKAppID: Number(SDKAppID), url });
  await client.login({ userID, userSig });
  const { data } = await client.getUserStatus({ userIDList: [userID] });
  await client.logout();
  await client.destroy();
  console.log(JSON.stringify({ globalWebSocket: typeof globalThis.WebSocket, statuses: data.successUserList }));
})().catch((err) => { console.error(err); process.exit(1); });
`;
  writeFileSync(join(project, 'live.mjs'), script(`import Presently from '@presently/client';`));
  writeFileSync(join(project, 'live.cjs'), script(`const Presently = require('@presently/client');`));
  for (const file of ['live.mjs', 'live.cjs']) {
    const userID = `pkg-node-${file.replace('.', '-')}`;
    const out = JSON.parse(await run(process.execPath, [file, srv.ws, String(APP), userID, srv.sig(userID)], { cwd: project, timeout: 20_000 })) as {
      globalWebSocket: string;
      statuses: unknown;
    };
    assert.deepEqual(out.statuses, [{ userID, statusType: ONLINE, customStatus: '' }], file);
    // Node 20 has no global WebSocket: the login above went through the lazily loaded `ws`.
    if (Number(process.versions.node.split('.')[0]) < 22) assert.equal(out.globalWebSocket, 'undefined');
  }
});
