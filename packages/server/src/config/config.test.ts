/**
 * The configuration inputs (config file, environment) through their schemas: misspelt keys
 * refused with the nearest valid name, every number within its documented range, weak secret
 * keys refused, and a valid file resolved exactly as before.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TSchema } from '@sinclair/typebox';
import { ConfigError, DeviceSettingsSchema, LimitsSchema, WebhookSettingsSchema, normalizeApp } from './settings.js';
import { DEFAULT_SERVER_OPTIONS, ServerFileSchema } from './server-options.js';
import { loadApps, serverOptionsFrom } from './load.js';
import { editDistance, nearest } from './schema.js';

const KEY = 'test-secret-key-0123456789';
const README = readFileSync(new URL('../../../../README.md', import.meta.url), 'utf8');

function fileWith(content: unknown): { path: string; load: () => ReturnType<typeof loadApps> } {
  const dir = mkdtempSync(join(tmpdir(), 'presently-config-'));
  const path = join(dir, 'config.json');
  writeFileSync(path, JSON.stringify(content));
  return { path, load: () => loadApps({ ...DEFAULT_SERVER_OPTIONS, dataDir: dir, configPath: path }) };
}

function refused(fn: () => unknown, message: string): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof ConfigError, String(err));
    assert.equal(err.message, message);
    return true;
  });
}

const app = (over: Record<string, unknown> = {}) => ({ SDKAppID: 1400000001, secretKey: KEY, ...over });

test('misspelt keys in the config file are refused, naming the key and the nearest valid one', () => {
  const cases: Array<[Record<string, unknown>, string]> = [
    [{ admns: ['administrator'] }, 'apps[0].admns: unknown key; did you mean admins?'],
    [{ webhok: { url: 'https://hooks.example/p' } }, 'apps[0].webhok: unknown key; did you mean webhook?'],
    [{ userStatus: { queryAndNotfy: true } }, 'apps[0].userStatus.queryAndNotfy: unknown key; did you mean queryAndNotify?'],
    [{ devices: { polcy: 'single' } }, 'apps[0].devices.polcy: unknown key; did you mean policy?'],
    [{ webhook: { url: 'https://hooks.example/p', secrt: 'abc' } }, 'apps[0].webhook.secrt: unknown key; did you mean secret?'],
    [{ limits: { maxQueryIds: 5 } }, 'apps[0].limits.maxQueryIds: unknown key; did you mean maxQueryIDs?'],
    [{ limits: { heartbeatTimoutSec: 60 } }, 'apps[0].limits.heartbeatTimoutSec: unknown key; did you mean heartbeatTimeoutSec?'],
    [{ editon: 'basic' }, 'apps[0].editon: unknown key; did you mean edition?'],
    [{ colour: 'blue' }, 'apps[0].colour: unknown key'],
  ];
  for (const [over, message] of cases) refused(() => fileWith({ apps: [app(over)] }).load(), message);
  // A misspelt required key: the misspelling is named, not only the missing key.
  refused(() => normalizeApp({ SDKAppID: 1, secretKye: KEY }, 'apps[0]'), 'apps[0].secretKye: unknown key; did you mean secretKey?');
  // The file's top level and its server object.
  const top = fileWith({ apps: [app()], sever: { maxInFlight: 4 } });
  refused(top.load, `${top.path}: sever: unknown key; did you mean server?`);
  refused(() => serverOptionsFrom({}, { maxInFligt: 4 }), 'server.maxInFligt: unknown key; did you mean maxInFlight?');
  refused(() => serverOptionsFrom({}, { listenBaklog: 10 }), 'server.listenBaklog: unknown key; did you mean listenBacklog?');
  refused(() => serverOptionsFrom({}, { port: 80 }), 'server.port: unknown key');
  refused(() => serverOptionsFrom({}, { metricsToken: 'x'.repeat(20) }), 'server.metricsToken: set it in the environment (PRESENTLY_METRICS_TOKEN), not in the config file');
});

test('suggestions: edit distance with swaps; nothing suggested for a name far from every valid one', () => {
  assert.equal(editDistance('admns', 'admins'), 1);
  assert.equal(editDistance('polciy', 'policy'), 1, 'a swap of neighbours is one edit');
  assert.equal(nearest('ADMINS', ['admins', 'edition']), 'admins');
  assert.equal(nearest('colour', ['admins', 'edition', 'limits']), undefined);
  assert.equal(nearest('x'.repeat(1000), ['admins']), undefined);
});

/** Every number of a schema: [key, min, max, integer]. */
function numbers(schema: { properties: Record<string, TSchema> }): Array<[string, number, number, boolean]> {
  return Object.entries(schema.properties)
    .filter(([, s]) => typeof (s as { minimum?: number }).minimum === 'number')
    .map(([k, s]) => {
      const { minimum, maximum, type } = s as unknown as { minimum: number; maximum: number; type: string };
      return [k, minimum, maximum, type === 'integer'];
    });
}

test('every number of an app has a range: its bounds accepted, past them refused naming the field and the range', () => {
  const sections: Array<[string, { properties: Record<string, TSchema> }, (k: string, v: number) => Record<string, unknown>]> = [
    ['limits', LimitsSchema, (k, v) => ({ limits: { [k]: v } })],
    ['devices', DeviceSettingsSchema, (k, v) => ({ devices: { [k]: v } })],
    ['webhook', WebhookSettingsSchema, (k, v) => ({ webhook: { url: 'https://hooks.example/p', [k]: v } })],
  ];
  let n = 0;
  for (const [section, schema, over] of sections) {
    for (const [k, min, max, integer] of numbers(schema)) {
      n++;
      const at = `apps[0].${section}.${k}`;
      const get = (s: ReturnType<typeof normalizeApp>) => (s[section as 'limits'] as unknown as Record<string, number>)[k];
      assert.equal(get(normalizeApp(app(over(k, min)), 'apps[0]')), min, `${at} min`);
      assert.equal(get(normalizeApp(app(over(k, max)), 'apps[0]')), max, `${at} max`);
      assert.ok(max < 2 ** 31 - 1 || !/Ms$|Sec$|Hours$/.test(k), `${at}: a timer stays below 2^31-1 ms`);
      const message = `${at}: must be ${integer ? 'an integer' : 'a number'} from ${min} to ${max}`;
      const below = min === 0 ? -1 : integer ? min - 1 : min / 2;
      for (const bad of [below, max * 2, max + 1, 1e306, Number.MAX_SAFE_INTEGER + 2, NaN, Infinity, '5', null]) {
        refused(() => normalizeApp(app(over(k, bad as number)), 'apps[0]'), message);
      }
      if (integer) refused(() => normalizeApp(app(over(k, min + 0.5)), 'apps[0]'), message);
    }
  }
  assert.ok(n >= 16, `${n} numbers`);
  // The hardening issue's example: a heartbeat timeout that made logins' heartbeatTimeoutMs null.
  refused(() => normalizeApp(app({ limits: { heartbeatTimeoutSec: 1e306 } }), 'apps[0]'), 'apps[0].limits.heartbeatTimeoutSec: must be a number from 0.5 to 86400');
  // Timers: the longest heartbeat timeout, announcement window and expiry stay below 2^31-1 ms.
  const longest = normalizeApp(app({ limits: { heartbeatTimeoutSec: 86_400, announceWindowSec: 86_400, rateLimitWindowSec: 86_400 } })).limits;
  assert.ok(longest.heartbeatTimeoutSec * 1000 < 2 ** 31 - 1 && longest.announceWindowSec * 1000 < 2 ** 31 - 1);
  // The bench's never-reached rate limit (bench/src/setup.ts) is inside the ranges.
  const bench = normalizeApp(app({ limits: { rateLimitCalls: 1_000_000_000, rateLimitWindowSec: 0.01, setSelfStatusPerMinute: 0, syncStatusPerMinute: 0 } }));
  assert.equal(bench.limits.rateLimitCalls, 1e9);
});

test('every number of the server object has a range, refused outside naming the field', () => {
  const list = numbers(ServerFileSchema);
  assert.ok(list.length >= 9, `${list.length} numbers`);
  for (const [k, min, max, integer] of list) {
    assert.equal((serverOptionsFrom({}, { [k]: min }) as unknown as Record<string, number>)[k], min);
    assert.equal((serverOptionsFrom({}, { [k]: max }) as unknown as Record<string, number>)[k], max);
    assert.ok(integer);
    for (const bad of [min - 1, max + 1, 1e306, 1.5 + min, '5']) refused(() => serverOptionsFrom({}, { [k]: bad }), `server.${k}: must be an integer from ${min} to ${max}`);
  }
  refused(() => serverOptionsFrom({}, { metricsPerApp: 'yes' }), 'server.metricsPerApp: must be true or false');
  refused(() => serverOptionsFrom({}, { trustedProxies: ['10.0.0.0/8', 'intranet'] }), 'server.trustedProxies[1]: must be a CIDR such as "10.0.0.0/8" or an IP address');
  refused(() => serverOptionsFrom({}, { trustedProxies: Array(1001).fill('10.0.0.1') }), 'server.trustedProxies: must be a list of at most 1000 CIDRs such as "10.0.0.0/8"');
  refused(() => serverOptionsFrom({}, [1]), 'server: must be an object');
});

test('environment variables: numbers and names within their ranges, refused naming the variable and its text', () => {
  const cases: Array<[NodeJS.ProcessEnv, string]> = [
    [{ PORT: '70000' }, 'PORT: must be an integer from 0 to 65535, got "70000"'],
    [{ PORT: 'eighty' }, 'PORT: must be an integer from 0 to 65535, got "eighty"'],
    [{ PORT: '-1' }, 'PORT: must be an integer from 0 to 65535, got "-1"'],
    [{ PRESENTLY_LEASE_MS: '100' }, 'PRESENTLY_LEASE_MS: must be an integer from 500 to 600000, got "100"'],
    [{ PRESENTLY_LEASE_MS: '99999999999' }, 'PRESENTLY_LEASE_MS: must be an integer from 500 to 600000, got "99999999999"'],
    [{ PRESENTLY_DRAIN_GRACE_MS: '1e9' }, 'PRESENTLY_DRAIN_GRACE_MS: must be an integer from 0 to 600000, got "1e9"'],
    [{ PRESENTLY_LOG_MAXLEN: '5' }, 'PRESENTLY_LOG_MAXLEN: must be an integer from 10 to 100000000, got "5"'],
    [{ PRESENTLY_REDIS_PREFIX: 'a b' }, 'PRESENTLY_REDIS_PREFIX: 1-64 letters, digits, _ . -, got "a b"'],
    [{ PRESENTLY_NODE_ID: 'n'.repeat(65) }, `PRESENTLY_NODE_ID: 1-64 letters, digits, _ -, got "${'n'.repeat(65)}"`],
    [{ PRESENTLY_METRICS_TOKEN: 'short' }, 'PRESENTLY_METRICS_TOKEN: 16 to 1024 characters, got "short"'],
    [{ LOG_LEVEL: 'verbose' }, 'LOG_LEVEL: must be "fatal", "error", "warn", "info", "debug", "trace" or "silent", got "verbose"'],
    [{ PRESENTLY_TRUSTED_PROXIES: '10.0.0.0/8, intranet' }, 'PRESENTLY_TRUSTED_PROXIES[1]: must be a CIDR such as "10.0.0.0/8" or an IP address, got "10.0.0.0/8, intranet"'],
    [{ PRESENTLY_ALLOW_EMPTY_DB: 'yes' }, `PRESENTLY_ALLOW_EMPTY_DB: '1' (start on an empty database file) or '0', got "yes"`],
    [{ PRESENTLY_WEBHOOK_CONCURRENCY: '0' }, 'PRESENTLY_WEBHOOK_CONCURRENCY: must be an integer from 1 to 10000, got "0"'],
    [{ PRESENTLY_WEBHOOK_BACKOFF_CAP_MS: '99999999999' }, 'PRESENTLY_WEBHOOK_BACKOFF_CAP_MS: must be an integer from 1 to 86400000, got "99999999999"'],
  ];
  for (const [env, message] of cases) refused(() => serverOptionsFrom(env), message);
  const o = serverOptionsFrom({ PORT: '0', PRESENTLY_LEASE_MS: '500', PRESENTLY_LOG_MAXLEN: '50', LOG_LEVEL: 'trace', HOST: '', PRESENTLY_TRUSTED_PROXIES: ' 10.0.0.0/8 , ::1 ' });
  assert.deepEqual([o.port, o.leaseMs, o.logMaxLen, o.logLevel, o.host, o.trustedProxies], [0, 500, 50, 'trace', '127.0.0.1', ['10.0.0.0/8', '::1']]);
  // The webhook tuning and the empty-database switch reach the options the server passes on.
  const w = serverOptionsFrom({ PRESENTLY_WEBHOOK_BACKOFF_BASE_MS: '20', PRESENTLY_WEBHOOK_APP_CONCURRENCY: '2', PRESENTLY_ALLOW_EMPTY_DB: '1' });
  assert.deepEqual([w.webhookTuning, w.allowEmptyDb], [{ backoffBaseMs: 20, appConcurrency: 2 }, true]);
  assert.deepEqual([serverOptionsFrom({}).webhookTuning, serverOptionsFrom({}).allowEmptyDb], [{}, false]);
});

test('weak secret keys are refused at start; a key from openssl rand -hex 16 passes', () => {
  const message =
    'apps[0].secretKey: must be 16 to 1024 characters with at least 8 different characters other than whitespace and no control characters (make one with: openssl rand -hex 16)';
  for (const weak of [
    ' '.repeat(8),
    ' '.repeat(40),
    '\t \n '.repeat(8),
    'k'.repeat(16),
    'abcabcabcabcabcabcabc',
    'password',
    'a1b2c3d4e5f6g7h',
    `${KEY}\u0000`,
    'x'.repeat(1025),
    12345678901234568,
  ]) {
    refused(() => fileWith({ apps: [app({ secretKey: weak })] }).load(), message);
  }
  refused(() => fileWith({ apps: [{ SDKAppID: 1 }] }).load(), 'apps[0].secretKey: is required');
  for (const strong of ['0f3a9c1be2d47a8e56b0c9d1e2f3a4b5', KEY, 'correct horse battery staple', 'ключ-для-подписи-2024']) {
    assert.equal(normalizeApp(app({ secretKey: strong })).secretKey, strong);
  }
});

test('stored strings have limits: admins follow userID rules, webhook url and secret lengths', () => {
  refused(() => normalizeApp(app({ admins: ['administrator', ''] }), 'apps[0]'), 'apps[0].admins[1]: must be a userID: 1-32 bytes of UTF-8, no control characters');
  refused(() => normalizeApp(app({ admins: ['x'.repeat(33)] }), 'apps[0]'), 'apps[0].admins[0]: must be a userID: 1-32 bytes of UTF-8, no control characters');
  refused(() => normalizeApp(app({ admins: ['ops\n'] }), 'apps[0]'), 'apps[0].admins[0]: must be a userID: 1-32 bytes of UTF-8, no control characters');
  refused(() => normalizeApp(app({ admins: Array.from({ length: 101 }, (_, i) => `a${i}`) }), 'apps[0]'), 'apps[0].admins: must be a list of at most 100 userIDs');
  refused(() => normalizeApp(app({ admins: 'administrator' }), 'apps[0]'), 'apps[0].admins: must be a list of at most 100 userIDs');
  const url = `https://hooks.example/${'p'.repeat(2048)}`;
  refused(() => normalizeApp(app({ webhook: { url } }), 'apps[0]'), 'apps[0].webhook.url: must be an http(s) URL of at most 2048 characters');
  refused(() => normalizeApp(app({ webhook: { url: 'ftp://hooks.example/p' } }), 'apps[0]'), 'apps[0].webhook.url: must be an http(s) URL of at most 2048 characters');
  refused(
    () => normalizeApp(app({ webhook: { url: 'https://hooks.example/p', secret: 's'.repeat(1025) } }), 'apps[0]'),
    'apps[0].webhook.secret: must be a non-empty string of at most 1024 characters',
  );
  refused(() => normalizeApp(app({ webhook: 'https://hooks.example/p' }), 'apps[0]'), 'apps[0].webhook: must be an object or null');
  refused(() => normalizeApp(app({ edition: 'gold' }), 'apps[0]'), 'apps[0].edition: must be "basic" or "premium"');
  refused(() => normalizeApp(app({ devices: { policy: 'many' } }), 'apps[0]'), 'apps[0].devices.policy: must be "single", "perPlatform" or "multi"');
  refused(() => normalizeApp(app({ SDKAppID: 2 ** 32 }), 'apps[0]'), 'apps[0].SDKAppID: must be an integer from 1 to 4294967295');
  refused(() => normalizeApp(null, 'apps[0]'), 'apps[0]: must be an object');
});

test('the config file: its top level, duplicate apps, and an empty apps list', () => {
  const f = fileWith({ apps: [] });
  refused(f.load, `${f.path}: apps: must be a list of 1 to 1000 apps`);
  const g = fileWith([]);
  refused(g.load, `${g.path}: must be an object with an "apps" list`);
  const h = fileWith({ server: {} });
  refused(h.load, `${h.path}: apps: is required`);
  const d = fileWith({ apps: [app(), app()] });
  refused(d.load, `${d.path}: SDKAppID 1400000001 appears twice`);
});

test('a config file with every value valid loads exactly as before: the same resolved settings and server options', () => {
  const config = {
    apps: [
      {
        SDKAppID: 1400000001,
        secretKey: KEY,
        edition: 'basic',
        admins: ['administrator', 'ops'],
        userStatus: { queryAndNotify: false, friendAutoNotify: true },
        limits: { maxQueryIDs: 300, rateLimitWindowSec: 2.5, heartbeatTimeoutSec: 120, subscriptionExpiryHours: 0.5, announceWindowSec: 3, syncStatusPerMinute: 0 },
        devices: { policy: 'multi', maxWeb: 4 },
        webhook: { url: 'https://hooks.example/presence', secret: 'hook-secret', maxAttempts: 3 },
      },
      { SDKAppID: 1400000002, secretKey: '0f3a9c1be2d47a8e56b0c9d1e2f3a4b5', webhook: null },
    ],
    server: { listenBacklog: 600, maxFrameBytes: 2048, maxInFlight: 8, maxConnectionsPerIp: 0, trustedProxies: ['10.0.0.0/8'], metricsPerApp: true },
  };
  const { load } = fileWith(config);
  assert.deepEqual(load().apps, [
    {
      SDKAppID: 1400000001,
      secretKey: KEY,
      edition: 'basic',
      admins: ['administrator', 'ops'],
      userStatus: { queryAndNotify: false, friendAutoNotify: true },
      limits: {
        maxQueryIDs: 300,
        maxSubscribeIDsPerCall: 100,
        maxSubscriptions: 200,
        rateLimitCalls: 20,
        rateLimitWindowSec: 2.5,
        heartbeatTimeoutSec: 120,
        subscriptionExpiryHours: 0.5,
        customStatusMaxBytes: 100,
        maxFriends: 3000,
        announceWindowSec: 3,
        setSelfStatusPerMinute: 120,
        syncStatusPerMinute: 0,
      },
      devices: { policy: 'multi', maxPerPlatform: 3, maxWeb: 4 },
      webhook: { url: 'https://hooks.example/presence', secret: 'hook-secret', timeoutMs: 2000, maxAttempts: 3 },
    },
    {
      SDKAppID: 1400000002,
      secretKey: '0f3a9c1be2d47a8e56b0c9d1e2f3a4b5',
      edition: 'premium',
      admins: ['administrator'],
      userStatus: { queryAndNotify: true, friendAutoNotify: false },
      limits: { ...DEFAULT_LIMITS_AS_BEFORE },
      devices: { policy: 'perPlatform', maxPerPlatform: 3, maxWeb: 10 },
    },
  ]);
  const o = serverOptionsFrom({ PORT: '9000', PRESENTLY_TRUSTED_PROXIES: '192.168.0.0/16' }, config.server);
  assert.deepEqual(o, {
    ...DEFAULT_SERVER_OPTIONS,
    port: 9000,
    listenBacklog: 600,
    maxFrameBytes: 2048,
    maxInFlight: 8,
    trustedProxies: ['10.0.0.0/8', '192.168.0.0/16'],
    metricsPerApp: true,
  });
});

/** The defaults as the server has always resolved them (S30), written out. */
const DEFAULT_LIMITS_AS_BEFORE = {
  maxQueryIDs: 500,
  maxSubscribeIDsPerCall: 100,
  maxSubscriptions: 200,
  rateLimitCalls: 20,
  rateLimitWindowSec: 5,
  heartbeatTimeoutSec: 400,
  subscriptionExpiryHours: 24,
  customStatusMaxBytes: 100,
  maxFriends: 3000,
  announceWindowSec: 0,
  setSelfStatusPerMinute: 120,
  syncStatusPerMinute: 30,
};

test("README's configuration tables state each number's range as the schemas have it", () => {
  const rows = [
    ...numbers(LimitsSchema).map(([k, min, max]) => [`limits.${k}`, min, max] as const),
    ...numbers(DeviceSettingsSchema).map(([k, min, max]) => [`devices.${k}`, min, max] as const),
    ...numbers(ServerFileSchema).map(([k, min, max]) => [k, min, max] as const),
  ];
  const fmt = (n: number) => n.toLocaleString('en-US', { maximumFractionDigits: 10 });
  for (const [name, min, max] of rows) {
    const leaf = name.split('.').at(-1)!;
    const line = README.split('\n').find((l) => l.startsWith('| `') && l.split(' | ')[0]!.includes(`${leaf}\``));
    assert.ok(line, `a README row for ${name}`);
    const range = `${fmt(min)}–${fmt(max)}`;
    assert.ok(line.includes(range), `README row of ${name} states ${range}: ${line}`);
  }
});
