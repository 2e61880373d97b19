/** The app settings API (rest/settings.ts) against a real engine and a real SQLite settings table. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ErrorCode, type Platform } from '@presently/protocol';
import { AppEngine } from '../engine/engine.js';
import { ConfigError, DEFAULT_LIMITS, normalizeApp, type AppSettings } from '../config/settings.js';
import { openPostgres, openSqlite, type SqlStore } from '../store/sql.js';
import { PG_URL, dropSchema, freshSchema, postgresSkip } from '../testing/postgres.js';
import { MemoryAppSettingsStore, SqlAppSettingsStore, appSettingsStoreFor, type AppSettingsStore } from '../store/app-settings.js';
import { AppSettingsService, applyStoredChanges, runSettingsCommand, type SettingsReply } from './settings.js';

const APP = 1400000001;
const SECRET = 'the-secret-key-0123';
const NOW = 1_700_000_000_000;
const OK = { ActionStatus: 'OK', ErrorCode: 0, ErrorInfo: '' };

interface Sink {
  userID: string;
}

function fileSettings(over: Record<string, unknown> = {}): AppSettings {
  return normalizeApp({ SDKAppID: APP, secretKey: SECRET, ...over });
}

async function setup(opts: { base?: AppSettings; store?: AppSettingsStore } = {}) {
  const store = opts.store ?? new MemoryAppSettingsStore();
  const service = new AppSettingsService(store);
  await service.migrate();
  const settings = await service.resolve(opts.base ?? fileSettings());
  const engine = new AppEngine<Sink>(settings, { deliver() {}, kick() {}, persist() {} });
  let n = 0;
  const call = (command: string, body: unknown, identifier = 'administrator') => runSettingsCommand({ service, engine, identifier, now: NOW }, command, body);
  return {
    store,
    service,
    engine,
    call,
    set: (Settings: unknown, identifier?: string) => call('presently/set_app_settings', { Settings }, identifier),
    get: () => call('presently/get_app_settings', {}),
    login: (userID: string, platform: Platform = 'Web') => engine.login({ userID, platform, instanceId: `i${++n}`, sessionId: `s${n}`, ticketTime: 1, sink: { userID } }, NOW),
  };
}

function codeOf(fn: () => unknown): number | undefined {
  try {
    fn();
  } catch (err) {
    return (err as { code?: number }).code;
  }
  return undefined;
}

test('S30 get_app_settings shows every setting with its default, never the secretKey; no webhook reads as null', async () => {
  const t = await setup();
  const r = await t.get();
  assert.deepEqual(r, {
    ...OK,
    Settings: {
      SDKAppID: APP,
      edition: 'premium',
      admins: ['administrator'],
      userStatus: { queryAndNotify: true, friendAutoNotify: false },
      limits: { ...DEFAULT_LIMITS },
      devices: { policy: 'perPlatform', maxPerPlatform: 3, maxWeb: 10 },
      webhook: null,
    },
    StoredChanges: {},
    UpdatedAt: 0,
  });
  assert.ok(!JSON.stringify(r).includes(SECRET));
});

test('S13 S30 set_app_settings deep-merges sections, replaces edition, and the engine follows for the next request', async () => {
  const t = await setup();
  const me = t.login('me');
  t.login('other');
  assert.equal(t.engine.getUserStatus(me, ['other'], NOW).successUserList.length, 1);
  const r = (await t.set({ userStatus: { queryAndNotify: false }, limits: { maxQueryIDs: 7 } })) as unknown as SettingsReply & typeof OK;
  assert.equal(r.ActionStatus, 'OK');
  assert.deepEqual(r.Settings.userStatus, { queryAndNotify: false, friendAutoNotify: false });
  assert.equal((r.Settings.limits as { maxQueryIDs: number; rateLimitCalls: number }).maxQueryIDs, 7);
  assert.equal((r.Settings.limits as { rateLimitCalls: number }).rateLimitCalls, 20, 'untouched limits stay');
  assert.deepEqual(r.StoredChanges, { userStatus: { queryAndNotify: false }, limits: { maxQueryIDs: 7 } });
  assert.equal(r.UpdatedAt, NOW);
  assert.equal(
    codeOf(() => t.engine.getUserStatus(me, ['other'], NOW)),
    ErrorCode.FEATURE_NOT_ENABLED,
  );
  assert.equal(t.engine.getUserStatus(me, ['me'], NOW).successUserList.length, 1, 'S12 oneself stays free');
  await t.set({ edition: 'basic', userStatus: { queryAndNotify: true } });
  assert.equal(
    codeOf(() => t.engine.getUserStatus(me, ['other'], NOW)),
    ErrorCode.FEATURE_NOT_ENABLED,
  );
  await t.set({ edition: 'premium' });
  assert.equal(t.engine.getUserStatus(me, ['other'], NOW).successUserList.length, 1);
  assert.equal(t.engine.settings.secretKey, SECRET);
});

test('S32 invalid changes are refused with 70402 naming the field; nothing changes, nothing is stored', async () => {
  const t = await setup();
  const before = t.engine.settings;
  const cases: Array<[unknown, RegExp]> = [
    [{ limits: { maxQueryIDs: 0 } }, /^Settings\.limits\.maxQueryIDs: must be an integer from 1 to 10000$/],
    [{ limits: { maxQueryIDs: 2.5 } }, /Settings\.limits\.maxQueryIDs/],
    [{ limits: { rateLimitWindowSec: -1 } }, /^Settings\.limits\.rateLimitWindowSec: must be a number from 0\.01 to 86400$/],
    [{ limits: { customStatusMaxBytes: '100' } }, /Settings\.limits\.customStatusMaxBytes/],
    [{ limits: { maxQueryIds: 5 } }, /^Settings\.limits\.maxQueryIds: unknown key; did you mean maxQueryIDs\?$/],
    [{ limits: 5 }, /Settings\.limits: must be an object/],
    [{ edition: 'gold' }, /Settings\.edition: must be "basic" or "premium"/],
    [{ admins: 'administrator' }, /Settings\.admins: must be a list/],
    [{ userStatus: { queryAndNotify: 'yes' } }, /Settings\.userStatus\.queryAndNotify: must be true or false/],
    [{ userStatus: { friendAutoNotfy: true } }, /^Settings\.userStatus\.friendAutoNotfy: unknown key; did you mean friendAutoNotify\?$/],
    [{ devices: { policy: 'many' } }, /Settings\.devices\.policy/],
    [{ devices: { maxWeb: 0 } }, /^Settings\.devices\.maxWeb: must be an integer from 1 to 100$/],
    [{ webhook: { url: 'ftp://example.com' } }, /Settings\.webhook\.url: must be an http\(s\) URL/],
    [{ webhook: { url: 'http://example.com', secret: '' } }, /Settings\.webhook\.secret/],
    [{ webhook: { url: 'http://example.com', retries: 3 } }, /^Settings\.webhook\.retries: unknown key$/],
    [{ webhook: 'http://example.com' }, /Settings\.webhook: must be an object or null/],
    [{ SDKAppID: APP + 1 }, /Settings\.SDKAppID: cannot be changed/],
    [{ secretKey: 'another-secret-key' }, /Settings\.secretKey: cannot be changed/],
    [{ colour: 'blue' }, /^Settings\.colour: unknown key$/],
    [{ admins: ['ops'] }, /Settings\.admins: must include the calling admin "administrator"/],
    [[1, 2], /Settings: must be an object/],
    // A valid part does not go through when another part is bad.
    [{ limits: { maxQueryIDs: 5 }, edition: 'gold' }, /Settings\.edition/],
  ];
  for (const [Settings, info] of cases) {
    const r = await t.set(Settings);
    assert.equal(r.ErrorCode, ErrorCode.INVALID_PARAMETERS, JSON.stringify(Settings));
    assert.equal(r.ActionStatus, 'FAIL');
    assert.match(String(r.ErrorInfo), info);
    assert.equal(t.engine.settings, before, `unchanged after ${JSON.stringify(Settings)}`);
  }
  for (const body of [{}, { Settings: null }, [], 'x']) {
    const r = await t.call('presently/set_app_settings', body);
    assert.equal(r.ErrorCode, ErrorCode.INVALID_PARAMETERS, JSON.stringify(body));
  }
  assert.equal(await t.store.load(APP), undefined);
  assert.deepEqual((await t.get()).StoredChanges, {});
});

test('the webhook: merged key by key, its secret never shown (HasSecret), null removes it or its secret', async () => {
  const t = await setup();
  const secret = 'webhook-signing-secret';
  let r = await t.set({ webhook: { url: 'https://hooks.example.com/presence', secret } });
  assert.deepEqual((r.Settings as { webhook: unknown }).webhook, { url: 'https://hooks.example.com/presence', timeoutMs: 2000, maxAttempts: 8, HasSecret: true });
  assert.ok(!JSON.stringify(r).includes(secret), 'neither Settings nor StoredChanges carry the secret');
  assert.equal(t.engine.settings.webhook?.secret, secret);
  // A get -> edit -> set round trip: HasSecret is read-only and ignored, the secret stays.
  const view = (await t.get()).Settings as Record<string, Record<string, unknown>>;
  r = await t.set({ ...view, webhook: { ...view.webhook, timeoutMs: 500 } });
  assert.equal(r.ActionStatus, 'OK', String(r.ErrorInfo));
  assert.deepEqual(t.engine.settings.webhook, { url: 'https://hooks.example.com/presence', secret, timeoutMs: 500, maxAttempts: 8 });
  r = await t.set({ webhook: { secret: null } });
  assert.equal((r.Settings as { webhook: { HasSecret: boolean } }).webhook.HasSecret, false);
  assert.equal(t.engine.settings.webhook?.secret, undefined);
  r = await t.set({ webhook: null });
  assert.equal((r.Settings as { webhook: unknown }).webhook, null);
  assert.equal(t.engine.settings.webhook, undefined);
  assert.deepEqual((r.StoredChanges as { webhook: unknown }).webhook, null, 'the removal itself is stored');
});

test('null puts a value back to its built-in default', async () => {
  const t = await setup({ base: fileSettings({ limits: { maxQueryIDs: 9 }, devices: { policy: 'single' } }) });
  await t.set({ limits: { maxQueryIDs: null }, devices: null, edition: 'basic' });
  await t.set({ edition: null });
  assert.equal(t.engine.settings.limits.maxQueryIDs, DEFAULT_LIMITS.maxQueryIDs);
  assert.deepEqual(t.engine.settings.devices, { policy: 'perPlatform', maxPerPlatform: 3, maxWeb: 10 });
  assert.equal(t.engine.settings.edition, 'premium');
});

test('SDKAppID may be sent back unchanged; admins may change when the caller stays one, and new admins work at once', async () => {
  const t = await setup();
  let r = await t.set({ SDKAppID: APP, admins: ['administrator', 'ops'] });
  assert.equal(r.ActionStatus, 'OK', String(r.ErrorInfo));
  r = await t.set({ admins: ['ops'] }, 'ops');
  assert.equal(r.ActionStatus, 'OK', String(r.ErrorInfo));
  assert.deepEqual(t.engine.settings.admins, ['ops']);
});

test('stored changes applied over the file give back what ran; file values never changed at run time still apply', async () => {
  const store = new MemoryAppSettingsStore();
  const t = await setup({ store, base: fileSettings({ limits: { maxFriends: 50 } }) });
  await t.set({ limits: { maxQueryIDs: 5 }, userStatus: { friendAutoNotify: true } });
  await t.set({ limits: { rateLimitCalls: 3 }, devices: { policy: 'multi', maxWeb: 2 } });
  await t.set({ webhook: { url: 'http://127.0.0.1:1/hook', secret: 'shh-secret' } });
  await t.set({ webhook: null });
  await t.set({ webhook: { url: 'http://127.0.0.1:2/hook' } });
  await t.set({ limits: { maxQueryIDs: 6 } });
  const stored = (await store.load(APP))!.overrides;
  assert.deepEqual(stored, {
    limits: { maxQueryIDs: 6, rateLimitCalls: 3 },
    userStatus: { friendAutoNotify: true },
    devices: { policy: 'multi', maxWeb: 2 },
    webhook: { url: 'http://127.0.0.1:2/hook', timeoutMs: 2000, maxAttempts: 8 },
  });
  // A restart with the same file: exactly the settings that ran.
  assert.deepEqual(applyStoredChanges(fileSettings({ limits: { maxFriends: 50 } }), stored), t.engine.settings);
  // A restart after the file changed: the run-time changes win, the rest follows the file.
  const again = await setup({
    store,
    base: fileSettings({ limits: { maxFriends: 60, maxQueryIDs: 100 }, webhook: { url: 'http://127.0.0.1:3/hook', secret: 'file-secret' } }),
  });
  assert.equal(again.engine.settings.limits.maxFriends, 60);
  assert.equal(again.engine.settings.limits.maxQueryIDs, 6);
  assert.deepEqual(again.engine.settings.webhook, { url: 'http://127.0.0.1:2/hook', timeoutMs: 2000, maxAttempts: 8 }, 'the webhook is stored whole');
  // Reset: back to the file's settings, and nothing stored any more.
  const r = await again.call('presently/reset_app_settings', {});
  assert.equal(r.ActionStatus, 'OK');
  assert.equal(again.engine.settings.limits.maxQueryIDs, 100);
  assert.equal(again.engine.settings.webhook?.secret, 'file-secret');
  assert.deepEqual(r.StoredChanges, {});
  assert.equal(await store.load(APP), undefined);
});

test('stored changes the current version cannot accept stop the start with a ConfigError naming the field', () => {
  assert.throws(
    () => applyStoredChanges(fileSettings(), { limits: { maxQueryIDs: -3 } }),
    (err: unknown) => err instanceof ConfigError && /stored settings of app 1400000001\.limits\.maxQueryIDs/.test(err.message) && /app_settings/.test(err.message),
  );
});

test('S32 misspelt keys and out-of-range values in a change are refused with 70402 naming the key and the nearest valid name; nothing changes', async () => {
  const t = await setup();
  const before = t.engine.settings;
  const userID = 'must be a userID: 1-32 bytes of UTF-8, no control characters';
  const cases: Array<[unknown, string]> = [
    [{ admns: ['administrator'] }, 'Settings.admns: unknown key; did you mean admins?'],
    [{ webhok: { url: 'https://hooks.example/p' } }, 'Settings.webhok: unknown key; did you mean webhook?'],
    [{ userStatus: { queryAndNotfy: false } }, 'Settings.userStatus.queryAndNotfy: unknown key; did you mean queryAndNotify?'],
    [{ devices: { polcy: 'single' } }, 'Settings.devices.polcy: unknown key; did you mean policy?'],
    [{ webhook: { url: 'https://hooks.example/p', secrt: 'abc' } }, 'Settings.webhook.secrt: unknown key; did you mean secret?'],
    [{ limits: { maxQueryIDs: 5 }, limts: { maxQueryIDs: 5 } }, 'Settings.limts: unknown key; did you mean limits?'],
    [{ limits: { heartbeatTimeoutSec: 1e306 } }, 'Settings.limits.heartbeatTimeoutSec: must be a number from 0.5 to 86400'],
    [{ limits: { maxSubscriptions: 1e9 } }, 'Settings.limits.maxSubscriptions: must be an integer from 1 to 100000'],
    [{ limits: { announceWindowSec: 1e10 } }, 'Settings.limits.announceWindowSec: must be a number from 0 to 86400'],
    [{ devices: { maxWeb: 101 } }, 'Settings.devices.maxWeb: must be an integer from 1 to 100'],
    [{ admins: ['administrator', 'x'.repeat(33)] }, `Settings.admins[1]: ${userID}`],
    [{ admins: ['administrator', 'ops\u0000'] }, `Settings.admins[1]: ${userID}`],
    [{ webhook: { url: `https://hooks.example/${'p'.repeat(2048)}` } }, 'Settings.webhook.url: must be an http(s) URL of at most 2048 characters'],
    [{ webhook: { url: 'https://hooks.example/p', secret: 's'.repeat(1025) } }, 'Settings.webhook.secret: must be a non-empty string of at most 1024 characters'],
  ];
  for (const [Settings, info] of cases) {
    const r = await t.set(Settings);
    assert.deepEqual([r.ActionStatus, r.ErrorCode, r.ErrorInfo], ['FAIL', ErrorCode.INVALID_PARAMETERS, info], JSON.stringify(Settings).slice(0, 200));
  }
  assert.equal(t.engine.settings, before);
  assert.deepEqual((await t.get()).StoredChanges, {});
});

test('stored changes with an unknown key stop the start with a ConfigError naming it', () => {
  assert.throws(
    () => applyStoredChanges(fileSettings(), { limits: { maxQueryIds: 5 } }),
    new ConfigError(
      "stored settings of app 1400000001.limits.maxQueryIds: unknown key; did you mean maxQueryIDs? (table app_settings; delete that app's row to fall back to the config file)",
    ),
  );
});

test('a failed write refuses the change with 70500 and changes nothing', async () => {
  const store = new MemoryAppSettingsStore();
  store.save = async () => {
    throw new Error('disk full');
  };
  const t = await setup({ store });
  const before = t.engine.settings;
  const r = await t.set({ edition: 'basic' });
  assert.deepEqual({ ...r, ErrorInfo: '' }, { ActionStatus: 'FAIL', ErrorCode: ErrorCode.INTERNAL_ERROR, ErrorInfo: '' });
  assert.equal(t.engine.settings, before);
  assert.deepEqual((await t.get()).StoredChanges, {});
});

test('concurrent changes of one app are applied one after another; none is lost', async () => {
  const t = await setup();
  const rs = await Promise.all([t.set({ limits: { maxQueryIDs: 11 } }), t.set({ limits: { maxSubscriptions: 12 } }), t.set({ devices: { policy: 'single' } })]);
  assert.ok(rs.every((r) => r.ActionStatus === 'OK'));
  assert.equal(t.engine.settings.limits.maxQueryIDs, 11);
  assert.equal(t.engine.settings.limits.maxSubscriptions, 12);
  assert.equal(t.engine.settings.devices.policy, 'single');
  assert.deepEqual((await t.store.load(APP))!.overrides, { limits: { maxQueryIDs: 11, maxSubscriptions: 12 }, devices: { policy: 'single' } });
});

test('unknown presently commands get 60002; get needs an object body like every command', async () => {
  const t = await setup();
  assert.deepEqual(await t.call('presently/drop_app', {}), {
    ActionStatus: 'FAIL',
    ErrorCode: ErrorCode.REST_BAD_URL,
    ErrorInfo: 'unknown command "presently/drop_app"',
  });
  assert.equal((await t.call('presently/get_app_settings', [])).ErrorCode, ErrorCode.INVALID_PARAMETERS);
});

const pgSkip = await postgresSkip('the settings store on PostgreSQL');
const sqlBackends: Array<{ name: string; skip: string | false; open(): Promise<{ store: SqlStore; drop: () => Promise<void> }> }> = [
  { name: 'SQLite', skip: false, open: async () => ({ store: await openSqlite(':memory:'), drop: async () => undefined }) },
  {
    name: 'PostgreSQL',
    skip: pgSkip,
    async open() {
      const schema = freshSchema('presently_settings');
      return { store: await openPostgres(PG_URL, { schema }), drop: () => dropSchema(schema) };
    },
  },
];

for (const b of sqlBackends) {
  test(`the settings table on ${b.name}: created idempotently, upserted, read back, removed`, { skip: b.skip }, async () => {
    const { store: sqlStore, drop } = await b.open();
    try {
      assert.ok(appSettingsStoreFor(sqlStore) instanceof SqlAppSettingsStore);
      const store = new SqlAppSettingsStore(sqlStore.db);
      await store.migrate();
      await store.migrate();
      assert.equal(await store.load(APP), undefined);
      await store.save(APP, { edition: 'basic' }, NOW);
      await store.save(APP, { edition: 'basic', limits: { maxQueryIDs: 3 } }, NOW + 1);
      await store.save(APP + 1, { devices: { policy: 'single' } }, NOW);
      assert.deepEqual(await store.load(APP), { overrides: { edition: 'basic', limits: { maxQueryIDs: 3 } }, updatedAt: NOW + 1 });
      const t = await setup({ store });
      assert.equal(t.engine.settings.limits.maxQueryIDs, 3);
      assert.equal(t.engine.settings.edition, 'basic');
      await store.remove(APP);
      assert.equal(await store.load(APP), undefined);
      assert.deepEqual((await store.load(APP + 1))?.overrides, { devices: { policy: 'single' } });
    } finally {
      await sqlStore.close();
      await drop();
    }
  });
}

test('S14 S19 S30 the time limits changed at run time apply at once: rate window and subscription expiry', async () => {
  const t = await setup();
  const me = t.login('me');
  const other = t.login('other');
  await t.set({ limits: { rateLimitCalls: 1, rateLimitWindowSec: 60 } });
  t.engine.getUserStatus(me, ['other'], NOW);
  assert.equal(
    codeOf(() => t.engine.getUserStatus(me, ['other'], NOW + 10_000)),
    ErrorCode.TOO_MANY_CALLS,
  );
  await t.set({ limits: { rateLimitWindowSec: 5 } });
  assert.equal(t.engine.getUserStatus(me, ['other'], NOW + 10_000).successUserList.length, 1, 'a shorter window lets the next call through');

  t.engine.subscribe(other, ['me'], NOW);
  t.engine.logout(other, NOW);
  assert.equal(t.engine.sweep(NOW + 3_600_000), 0, 'kept for 24 h by default');
  await t.set({ limits: { subscriptionExpiryHours: 0.5 } });
  assert.equal(t.engine.sweep(NOW + 3_600_000), 1, 'dropped by the next sweep under the new expiry');
  assert.deepEqual(t.engine.subscriptionsOf('other'), []);
});
