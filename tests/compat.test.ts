/**
 * Drop-in proof (docs/migrating.md): presence code written only against the hosted SDK's typings
 * (`tests/compat/apps`, importing `@tencentcloud/chat`) type-checks against those typings and,
 * unchanged, against `@presently/client`; bundled with the alias `@tencentcloud/chat ->
 * @presently/client`, it runs against a real Presently server.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { build } from 'esbuild';
import Presently from '@presently/client';
import { APP, appConfig, startServer, type TestServer } from './helpers/server.js';
import { destroyAll, is, sdk } from './helpers/sdk.js';
import { rest } from './helpers/rest.js';

const ROOT = new URL('..', import.meta.url).pathname;
const COMPAT = join(ROOT, 'tests/compat');
const run = promisify(execFile);

/** What tests/compat/apps/roster.ts exports, as far as this test uses it. */
interface Contact {
  statusType: number;
  customStatus: string;
}
interface Roster {
  contacts: Map<string, Contact>;
  timeline: string[];
  kickedOutType: string;
  netState: string;
  onlineStatusEnabled: boolean;
  repeatLogin: unknown;
  serverTime: number;
  until(pred: (contacts: Map<string, Contact>) => boolean): Promise<void>;
  setMood(text: string): Promise<void>;
  stop(): Promise<void>;
}
interface RosterModule {
  startRoster(config: { SDKAppID: number; userID: string; userSig: string; contacts: string[]; proxyServer?: string }): Promise<Roster>;
}

async function tsc(project: string): Promise<{ code: number; output: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', join(COMPAT, project)], { cwd: ROOT });
    return { code: 0, output: stdout + stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : 1, output: `${e.stdout ?? ''}${e.stderr ?? ''}` };
  }
}

let srv: TestServer;
let roster: RosterModule;
before(async () => {
  srv = await startServer({ apps: [appConfig()] });
  // The bundle goes inside the repository so that `ws` (kept external, as in any Node app)
  // resolves from its node_modules.
  const outdir = join(COMPAT, '.build');
  mkdirSync(outdir, { recursive: true });
  const outfile = join(outdir, `roster-${process.pid}.mjs`);
  await build({
    entryPoints: [join(COMPAT, 'apps/roster.ts')],
    bundle: true,
    platform: 'node',
    format: 'esm',
    outfile,
    alias: { '@tencentcloud/chat': '@presently/client' },
    conditions: ['source'],
    external: ['ws'],
    logLevel: 'error',
  });
  roster = (await import(pathToFileURL(outfile).href)) as RosterModule;
});
after(async () => {
  await destroyAll();
  await srv.stop();
});

test('an app written against the hosted typings type-checks against them and, unchanged, against @presently/client', async () => {
  const [official, presently] = await Promise.all([tsc('tsconfig.official.json'), tsc('tsconfig.presently.json')]);
  assert.equal(official.code, 0, `against @tencentcloud/chat:\n${official.output}`);
  assert.equal(presently.code, 0, `against @presently/client:\n${presently.output}`);
});

test('the same app, bundled with @tencentcloud/chat aliased to @presently/client, runs against the server', async () => {
  assert.equal((await rest(srv, 'im_open_login_svc/multiaccount_import', { AccountList: [{ UserID: 'cp-carol' }, { UserID: 'cp-alice' }] })).ActionStatus, 'OK');
  const bob = await sdk(srv, 'cp-bob');
  await bob.client.setSelfStatus({ customStatus: 'coding' });

  // The server's address as the hosted SDK takes it: the proxyServer option.
  const alice = await roster.startRoster({ SDKAppID: APP, userID: 'cp-alice', userSig: srv.sig('cp-alice'), contacts: ['cp-bob', 'cp-carol'], proxyServer: srv.ws });
  assert.deepEqual(alice.timeline, ['login resolved', 'ready'], 'SDK_READY after the login promise resolved');
  assert.equal(alice.onlineStatusEnabled, true);
  assert.equal(alice.repeatLogin, true);
  assert.ok(Math.abs(alice.serverTime - Date.now() / 1000) < 5);
  assert.deepEqual(Object.fromEntries(alice.contacts), {
    'cp-bob': { statusType: 1, customStatus: 'coding' },
    'cp-carol': { statusType: 3, customStatus: '' },
  });
  assert.equal(alice.netState, 'connected');

  // The address set outside the app: PRESENTLY_URL.
  process.env.PRESENTLY_URL = srv.ws;
  const dave = await roster.startRoster({ SDKAppID: APP, userID: 'cp-dave', userSig: srv.sig('cp-dave'), contacts: ['cp-alice'] });
  delete process.env.PRESENTLY_URL;
  assert.deepEqual(dave.contacts.get('cp-alice'), { statusType: 1, customStatus: '' });

  // Pushes reach the app's handler, with `this` = the context it gave.
  await alice.setMood('in a meeting');
  await dave.until((c) => c.get('cp-alice')?.customStatus === 'in a meeting');
  await sdk(srv, 'cp-carol');
  await alice.until((c) => c.get('cp-carol')?.statusType === 1);

  // Another web instance of alice kicks the roster's (S26 default policy): KICKED_OUT, then SDK_NOT_READY.
  const alice2 = await sdk(srv, 'cp-alice');
  await alice.until(() => alice.timeline.includes('not ready'));
  assert.equal(alice.kickedOutType, Presently.TYPES.KICKED_OUT_MULT_ACCOUNT);
  assert.deepEqual(alice.timeline.slice(2), ['kicked', 'not ready']);
  assert.equal(alice.netState, 'disconnected');
  await alice2.client.logout();
  await dave.until((c) => c.get('cp-alice')?.statusType === 3);

  await Promise.all([alice.stop(), dave.stop()]);
  assert.ok(!alice.timeline.includes('message') && !dave.timeline.includes('message'), 'events of features Presently lacks never fire');
  await bob.waitFor(is('cp-bob', 1, 'coding'));
});
