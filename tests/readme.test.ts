/**
 * The README, followed as written on this checkout: its commands are read from README.md itself,
 * so a command that changes there is the command tested here.
 *
 * - `npm start` (PORT=0 and PRESENTLY_DATA_DIR in a temp directory, as the Configuration table
 *   allows), its banner, the README's `SIG=$(…)` line (stdout is the ticket alone, and the server
 *   accepts it at login), then `npm run tour` as the banner prints it, whose lines are the README's
 *   sample output. A second `npm start` on the same port ends in one line, not a stack trace.
 * - With a config file: the banner lists the SDKAppIDs but no secret key, the same `SIG=$(…)` line
 *   signs for the first app, and the demo page's UserSig helper is off.
 * - The UserSig command without the server's app: one line on stderr, nothing on stdout.
 * - The example config file: refused as shown (its placeholders), loaded once they are replaced
 *   as the README says.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Presently from '@presently/client';
import { loadApps } from '../packages/server/src/config/load.js';
import { DEFAULT_SERVER_OPTIONS } from '../packages/server/src/config/server-options.js';
import { APP, KEY, appConfig, startServer } from './helpers/server.js';
import { ROOT, background, cleanEnv, sh } from './helpers/cli.js';

const README = readFileSync(join(ROOT, 'README.md'), 'utf8');
const temps: string[] = [];
function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'presently-readme-'));
  temps.push(d);
  return d;
}
after(() => {
  for (const d of temps) rmSync(d, { recursive: true, force: true });
});

/** The README's fenced blocks, in order. */
const BLOCKS = [...README.matchAll(/^```(\w*)\n([\s\S]*?)^```$/gm)].map((m) => ({ lang: m[1]!, body: m[2]!, at: m.index }));

/** The one command line of the README's sh blocks that matches `re`, without its `# comment`. */
function readmeCommand(re: RegExp): string {
  const hits = BLOCKS.filter((b) => b.lang === 'sh')
    .flatMap((b) => b.body.split('\n'))
    .filter((l) => re.test(l));
  assert.equal(hits.length, 1, `one README command matching ${re}, found: ${JSON.stringify(hits)}`);
  return hits[0]!.replace(/\s+#.*$/, '');
}

/** The first fenced block of `lang` after the README text `marker`. */
function readmeBlockAfter(marker: string, lang: string): string {
  const at = README.indexOf(marker);
  assert.ok(at >= 0, `README says ${JSON.stringify(marker)}`);
  const block = BLOCKS.find((b) => b.at > at && b.lang === lang);
  assert.ok(block, `a ${lang} block after ${JSON.stringify(marker)}`);
  return block.body;
}

const START = readmeCommand(/^npm start\b/);
const SIG_LINE = readmeCommand(/^SIG=\$\(/);
const SIG_CMD = /^SIG=\$\((.*)\)$/.exec(SIG_LINE)![1]!;
const TOUR = readmeCommand(/^npm run tour\b/);
const TOUR_OUTPUT = readmeBlockAfter('## A 60-second tour', 'text').trimEnd().split('\n');

/** Runs the README's `SIG=$(…)` line in a shell with `env` and returns what SIG holds. */
async function readmeSig(env: Record<string, string>): Promise<{ sig: string; code: number | null; stderr: string }> {
  const r = await sh(`set -e\n${SIG_LINE}\nprintf '%s' "$SIG"`, cleanEnv(env));
  return { sig: r.stdout, code: r.code, stderr: r.stderr };
}

/** Logs `userID` in with `userSig` and out again: the server accepted the ticket. */
async function loginWorks(url: string, SDKAppID: number, userID: string, userSig: string): Promise<void> {
  const client = Presently.create({ SDKAppID, url });
  try {
    const res = await client.login({ userID, userSig });
    assert.equal(res.code, 0);
    await client.logout();
  } finally {
    await client.destroy();
  }
}

/** A banner line `  <label>:  <value>` of the server's output. */
function bannerValue(output: string, label: string): string {
  const m = new RegExp(`^  ${label}:\\s+(.*)$`, 'm').exec(output);
  assert.ok(m, `the banner has "${label}:"\n${output}`);
  return m[1]!;
}

const TICKET = /^[A-Za-z0-9*_-]+$/;

test('README: npm start, SIG=$(… usersig alice) is a ticket the server accepts, npm run tour prints the sample output', async (t) => {
  assert.equal(START, 'npm start');
  assert.equal(TOUR, 'npm run tour');
  const dataDir = tempDir();
  const server = background(START, cleanEnv({ PORT: '0', PRESENTLY_DATA_DIR: dataDir, PRESENTLY_PARENT_PID: String(process.pid) }));
  t.after(() => server.stop());
  await server.line(/^ {2}demo: /);
  const out = server.output();
  const ws = /Presently is running at (ws:\/\/127\.0\.0\.1:(\d+)) \(development app, just created\)/.exec(out);
  assert.ok(ws, out);
  const [, url, port] = ws;
  const SDKAppID = Number(bannerValue(out, 'SDKAppID'));

  // A second npm start on the same port (its own data directory) says so in one line, no stack trace.
  const again = await sh(START, cleanEnv({ PORT: port!, PRESENTLY_DATA_DIR: tempDir() }));
  assert.equal(again.code, 2);
  assert.match(again.stderr, new RegExp(`^presently: 127\\.0\\.0\\.1:${port} is in use \\(another server\\?\\): stop it or set PORT to a free port`, 'm'));
  assert.doesNotMatch(again.stdout + again.stderr, /^\s+at /m);
  assert.ok(bannerValue(out, 'secret key').includes(join(dataDir, 'dev-app.json')));

  // The banner's UserSig command is the README's, with the server's data directory.
  assert.equal(bannerValue(out, 'a UserSig'), `PRESENTLY_DATA_DIR=${dataDir} ${SIG_CMD}`);
  const { sig, code, stderr } = await readmeSig({ PRESENTLY_DATA_DIR: dataDir });
  assert.equal(code, 0, stderr);
  assert.match(sig, TICKET, 'SIG holds the ticket alone');
  assert.match(stderr, new RegExp(`^presently: a UserSig for "alice" of app ${SDKAppID} \\(${dataDir}/dev-app\\.json\\), valid 7 day\\(s\\)\\n$`));
  await loginWorks(url!, SDKAppID, 'alice', sig);

  // The banner's tour command is the README's, with this server's port and data directory.
  const tour = bannerValue(out, 'the tour');
  assert.equal(tour, `PORT=${port} PRESENTLY_DATA_DIR=${dataDir} ${TOUR}`);
  const r = await sh(tour, cleanEnv());
  assert.equal(r.code, 0, r.stderr);
  const printed = r.stdout.split('\n').filter((l) => l !== '' && !l.startsWith('> ')); // npm's header: "> presently@… tour"
  assert.deepEqual(printed, TOUR_OUTPUT);
});

test('README: with a config file the banner lists the SDKAppIDs, no secret key; the same SIG line signs for the first app; no demo helper', async (t) => {
  const second = { SDKAppID: APP + 1, secretKey: 'the-second-apps-secret' };
  const srv = await startServer({ apps: [appConfig(), appConfig(second)] });
  t.after(() => srv.stop());
  // The banner, and the log line saying the demo helper is off (pino writes it asynchronously).
  const output = await new Promise<string>((resolve) => {
    const check = () => {
      if (!/^ {2}demo: /m.test(srv.output()) || !srv.output().includes('"msg":"no demo UserSig helper')) return;
      srv.proc.stdout!.off('data', check);
      resolve(srv.output());
    };
    srv.proc.stdout!.on('data', check);
    check();
  });
  assert.match(output, new RegExp(`Presently is running at ${srv.ws} \\(apps from ${srv.configPath}\\)`));
  assert.equal(bannerValue(output, 'SDKAppIDs'), `${APP}, ${APP + 1}`);
  assert.ok(!output.includes(KEY) && !output.includes(second.secretKey), 'no secret key of the config file is printed');
  assert.match(bannerValue(output, 'a UserSig'), new RegExp(`^PRESENTLY_CONFIG=${srv.configPath} ${SIG_CMD.replace(/[$()]/g, '\\$&')} --app SDKAppID `));
  assert.match(bannerValue(output, 'demo'), /no UserSig helper with a config file/);
  assert.match(output, /"msg":"no demo UserSig helper: it exists only for the development app/);

  const { sig, code, stderr } = await readmeSig({ PRESENTLY_CONFIG: srv.configPath });
  assert.equal(code, 0, stderr);
  assert.match(sig, TICKET);
  await loginWorks(srv.ws, APP, 'alice', sig);

  const demo = await fetch(`${srv.http}/demo/config`);
  assert.deepEqual(await demo.json(), { devMode: false, prefix: 'demo-' });
});

test("README: the SIG line without the server's app fails in one line, leaves SIG empty and makes no app", async () => {
  const empty = tempDir();
  const { sig, code, stderr } = await readmeSig({ PRESENTLY_DATA_DIR: empty });
  assert.equal(code, 2);
  assert.equal(sig, '');
  assert.match(
    stderr,
    /^presently: no development app in .*dev-app\.json: start the server first \(npm start\) with the same PRESENTLY_DATA_DIR, or set PRESENTLY_CONFIG to the server's config file\n$/,
  );
  assert.deepEqual(readdirSync(empty), []);
});

test('README: the example config file is refused as shown and loads once its placeholders are replaced as the README says', async () => {
  const example = readmeBlockAfter('The config file lists the apps', 'json');
  const dir = tempDir();
  const configPath = join(dir, 'apps.json');
  const options = { ...DEFAULT_SERVER_OPTIONS, dataDir: dir, configPath };
  writeFileSync(configPath, example);
  assert.throws(() => loadApps(options), /apps\[0\]\.secretKey: must be 16 to 1024 characters with at least 8 different characters other than whitespace/);

  // The README's node one-liner makes the secrets.
  const oneLiner = /`(node -e "[^`]*randomBytes[^`]*")`/.exec(README)?.[1];
  assert.ok(oneLiner, 'the README shows a node one-liner for a secret');
  const secret = async () => {
    const r = await sh(oneLiner, cleanEnv());
    assert.equal(r.code, 0, r.stderr);
    return r.stdout.trim();
  };
  const [secretKey, hookSecret] = [await secret(), await secret()];
  assert.match(secretKey, /^[0-9a-f]{32}$/);
  const config = JSON.parse(example) as { apps: Array<{ secretKey: string; webhook: { url: string; secret: string } }> };
  config.apps[0]!.secretKey = secretKey;
  config.apps[0]!.webhook.secret = hookSecret;
  config.apps[0]!.webhook.url = 'https://hooks.internal.test/presence';
  writeFileSync(configPath, JSON.stringify(config));
  const loaded = loadApps(options);
  assert.equal(loaded.apps.length, 1);
  assert.equal(loaded.apps[0]!.secretKey, secretKey);
});

test("README: the SDK's core snippet runs as written with plain node, through the package that npm install built", async () => {
  const srv = await startServer();
  try {
    const snippet = readmeBlockAfter('The core of it:', 'ts');
    assert.match(snippet, /^import Presently from '@presently\/client';$/m);
    // The README's server is on 8080; this one on a free port. userSig comes from "your backend".
    const port = new URL(srv.ws).port;
    const body = snippet.replace("url: 'ws://127.0.0.1:8080'", `url: 'ws://127.0.0.1:${port}'`);
    assert.notEqual(body, snippet, 'the snippet names the server as the README says');
    const dir = join(ROOT, 'tests/compat/.build');
    mkdirSync(dir, { recursive: true });
    const file = join(dir, `readme-snippet-${process.pid}.mjs`);
    temps.push(file);
    writeFileSync(file, `const userSig = process.env.SIG;\n${body}\nconsole.log(JSON.stringify(data));\nawait chat.destroy();\n`);
    // Plain node: no tsx, no "source" condition: @presently/client resolves to its built dist/.
    const r = await sh(`node ${file}`, cleanEnv({ SIG: srv.sig('bob') }));
    assert.equal(r.code, 0, r.stderr);
    const data = JSON.parse(r.stdout.trim().split('\n').at(-1)!) as { successUserList: unknown[]; failureUserList: Array<{ userID: string; code: number }> };
    // alice has no account on this server: the query answers her as unknown (70107), as documented.
    assert.deepEqual(
      data.failureUserList.map((f) => [f.userID, f.code]),
      [['alice', 70107]],
    );
  } finally {
    await srv.stop();
  }
});
