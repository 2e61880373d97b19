/**
 * The hosted SDK's surface that code written for it relies on (docs/migrating.md): where the
 * server is found, repeat-login shape, housekeeping calls (setLogLevel, getServerTime,
 * registerPlugin, getMyProfile, callExperimentalAPI), any event name, and the ordering and
 * trimming rules of the status calls. Against the in-process fake server.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import Presently, { create, configure, EVENT, PresentlyError, type PresentlyOptions } from './index.js';
import { FakeServer, loginReady, type FakeServerOptions } from './testing/fake-server.js';

const APP = 1400000001;
const T = { timeout: 5_000 };

async function setup(t: TestContext, opts: Partial<PresentlyOptions> = {}, serverOpts: FakeServerOptions = {}) {
  const server = await FakeServer.start(serverOpts);
  const client = create({ SDKAppID: APP, url: server.url, requestTimeoutMs: 2000, ...opts });
  t.after(async () => {
    await client.destroy();
    await server.stop();
  });
  return { server, client };
}

function codeIs(code: number) {
  return (err: unknown): boolean => {
    assert.ok(err instanceof PresentlyError, `expected a PresentlyError, got ${String(err)}`);
    assert.equal(err.code, code, `expected ${code}, got ${err.code}: ${err.message}`);
    return true;
  };
}

// ---- where the server is ------------------------------------------------------------------------

/** Logs in with options that name no `url`, and tells which fake server got the login. */
async function loginWithout(t: TestContext, options: Omit<PresentlyOptions, 'SDKAppID'>, server: FakeServer): Promise<void> {
  const client = create({ SDKAppID: APP, ...options });
  t.after(() => client.destroy());
  await client.login({ userID: 'u1', userSig: 's' });
  assert.equal((await server.connection(0)).count('login'), 1);
}

test('create({ SDKAppID }) with no address anywhere throws 70402 saying how to give one', T, () => {
  assert.throws(
    () => create({ SDKAppID: APP }),
    (err: unknown) => {
      codeIs(70402)(err);
      assert.match((err as Error).message, /no server address.*configure\(\{ url \}\).*PRESENTLY_URL/);
      return true;
    },
  );
});

test('create: the hosted proxyServer option is taken as the server address', T, async (t) => {
  const server = await FakeServer.start();
  t.after(() => server.stop());
  await loginWithout(t, { proxyServer: server.url }, server);
});

test('create: Presently.configure({ url }) is the address of every later create that names none; url still wins', T, async (t) => {
  const server = await FakeServer.start();
  const other = await FakeServer.start();
  t.after(async () => {
    configure({ url: undefined });
    await Promise.all([server.stop(), other.stop()]);
  });
  Presently.configure({ url: server.url });
  await loginWithout(t, {}, server);
  const explicit = create({ SDKAppID: APP, url: other.url });
  t.after(() => explicit.destroy());
  await explicit.login({ userID: 'u2', userSig: 's' });
  assert.equal((await other.connection(0)).count('login'), 1);
  assert.throws(() => Presently.configure({ url: 'ftp://x' }), codeIs(70402));
  configure({ url: undefined });
  assert.throws(() => create({ SDKAppID: APP }), codeIs(70402));
});

test('create: PRESENTLY_URL in the environment is the address when nothing else names one', T, async (t) => {
  const server = await FakeServer.start();
  t.after(async () => {
    delete process.env.PRESENTLY_URL;
    await server.stop();
  });
  process.env.PRESENTLY_URL = server.url;
  await loginWithout(t, {}, server);
});

test("create: in a page, the page's own origin is the address (http: -> ws:)", T, async (t) => {
  const server = await FakeServer.start();
  const g = globalThis as { location?: unknown };
  t.after(async () => {
    delete g.location;
    await server.stop();
  });
  g.location = { protocol: 'http:', host: new URL(server.url).host };
  await loginWithout(t, {}, server);
});

// ---- login and events -----------------------------------------------------------------------------

test('login again as the same user: the hosted shape, actionStatus OK, errorInfo says so, repeatLogin true', T, async (t) => {
  const { client } = await setup(t);
  await loginReady(client, { userID: 'u1', userSig: 's' });
  const again = await client.login({ userID: 'u1', userSig: 's' });
  assert.equal(again.code, 0);
  assert.equal(again.data.actionStatus, 'OK');
  assert.equal(again.data.errorCode, 0);
  assert.equal(again.data.repeatLogin, true);
  assert.match(again.data.errorInfo, /u1 is already logged in/);
});

test('on / off take any event name, with a handler of any function type; unknown names are kept and never fire', T, async (t) => {
  const { client } = await setup(t);
  const seen: string[] = [];
  const name: string = 'sdkStateReady'; // a name held in a string
  const handler: (event: { name: string }) => void = (e) => seen.push(e.name);
  client.on(name, handler);
  client.on(EVENT.MESSAGE_RECEIVED, handler);
  client.on('somethingElse', handler);
  await loginReady(client, { userID: 'u1', userSig: 's' });
  assert.deepEqual(seen, ['sdkStateReady']);
  client.off(name, handler);
  await client.logout();
  await loginReady(client, { userID: 'u1', userSig: 's' });
  assert.deepEqual(seen, ['sdkStateReady']);
});

// ---- housekeeping calls ---------------------------------------------------------------------------

test('setLogLevel filters what reaches the logger; 4 silences it; a bad level throws 70402', T, async (t) => {
  const lines: Array<[string, number | undefined]> = [];
  const { client } = await setup(t, { logger: (message, _fields, level) => lines.push([message, level]) });
  client.setLogLevel(2);
  await loginReady(client, { userID: 'u1', userSig: 's' });
  assert.equal(lines.length, 0, 'state changes are level 0');
  await client.login({ userID: 'u1', userSig: 's' }); // a repeat login warns (level 2)
  assert.equal(lines.length, 1);
  assert.equal(lines[0]![1], 2);
  client.setLogLevel(4);
  await client.login({ userID: 'u1', userSig: 's' });
  assert.equal(lines.length, 1);
  client.setLogLevel(0);
  await client.logout();
  assert.ok(lines.some(([m]) => m.startsWith('state ready -> loggedOut')));
  assert.throws(() => client.setLogLevel(7), codeIs(70402));
});

test("getServerTime: the server's clock in seconds, as measured at login", T, async (t) => {
  const { server, client } = await setup(t);
  const ahead = 3_600_000;
  server.handlers.login = (frame, sock) => {
    void sock.reply(frame, { userID: frame.userID, sessionId: 's', heartbeatIntervalMs: 10_000, heartbeatTimeoutMs: 30_000, serverTime: Date.now() + ahead, protocol: 1 });
  };
  const before = Math.floor(Date.now() / 1000);
  assert.ok(Math.abs(client.getServerTime() - before) <= 1, 'before login: the local clock');
  await client.login({ userID: 'u1', userSig: 's' });
  const skew = client.getServerTime() - Math.floor(Date.now() / 1000);
  assert.ok(Math.abs(skew - ahead / 1000) <= 1, `expected ~3600 s ahead, got ${skew}`);
});

test('registerPlugin takes the hosted plugins and ignores them (logged); getMyProfile gives the userID', T, async (t) => {
  const lines: string[] = [];
  const { client } = await setup(t, { logger: (m) => lines.push(m) });
  client.registerPlugin({ 'tim-upload-plugin': {} });
  assert.ok(lines.some((m) => m.includes('registerPlugin')));
  await assert.rejects(client.getMyProfile(), codeIs(2024));
  await client.login({ userID: 'u1', userSig: 's' });
  assert.deepEqual(await client.getMyProfile(), { code: 0, data: { userID: 'u1', nick: '', avatar: '' } });
});

test("callExperimentalAPI('isCommercialAbilityEnabled'): bit 7 from the app's features; other bits false; other names 2905", T, async (t) => {
  const { client } = await setup(t);
  await assert.rejects(client.callExperimentalAPI('isCommercialAbilityEnabled', 128), codeIs(2024));
  await client.login({ userID: 'u1', userSig: 's' });
  assert.deepEqual(await client.callExperimentalAPI('isCommercialAbilityEnabled', 128), { code: 0, data: { enabled: true } });
  assert.deepEqual(await client.callExperimentalAPI('isCommercialAbilityEnabled', '128'), { code: 0, data: { enabled: true } });
  assert.deepEqual(await client.callExperimentalAPI('isCommercialAbilityEnabled', 32), { code: 0, data: { enabled: false } });
  assert.deepEqual(await client.callExperimentalAPI('isCommercialAbilityEnabled', 128 + 32), { code: 0, data: { enabled: false } });
  assert.deepEqual(await client.callExperimentalAPI('isCommercialAbilityEnabled', 2 ** 40), { code: 0, data: { enabled: false } });
  await assert.rejects(client.callExperimentalAPI('isCommercialAbilityEnabled', 'lots'), codeIs(70402));
  await assert.rejects(client.callExperimentalAPI('sendComboMessage', {}), codeIs(2905));
});

test("callExperimentalAPI('isCommercialAbilityEnabled', 128) is false when the app's edition or switch forbids user status", T, async (t) => {
  const { client } = await setup(t, {}, { features: { userStatus: false, friendAutoNotify: false } });
  await client.login({ userID: 'u1', userSig: 's' });
  assert.deepEqual(await client.callExperimentalAPI('isCommercialAbilityEnabled', 128), { code: 0, data: { enabled: false } });
});

// ---- status calls: ordering and trimming ----------------------------------------------------------

test('getUserStatus: own status first (from this instance), repeats asked once, only oneself sends nothing', T, async (t) => {
  const { server, client } = await setup(t);
  server.setStatus('u2', 1, 'coding');
  server.setStatus('u3', 3);
  await client.login({ userID: 'u1', userSig: 's' });
  const sock = await server.connection(0);
  await client.setSelfStatus({ customStatus: 'music' });
  const got = await client.getUserStatus({ userIDList: ['u3', 'u1', 'u2', 'u3'] });
  assert.deepEqual(got.data.successUserList, [
    { userID: 'u1', statusType: 1, customStatus: 'music' },
    { userID: 'u3', statusType: 3, customStatus: '' },
    { userID: 'u2', statusType: 1, customStatus: 'coding' },
  ]);
  assert.deepEqual(
    sock.frames.filter((f) => f.op === 'getUserStatus').map((f) => f.userIDList),
    [['u3', 'u2']],
  );
  const self = await client.getUserStatus({ userIDList: ['u1'] });
  assert.deepEqual(self.data, { successUserList: [{ userID: 'u1', statusType: 1, customStatus: 'music' }], failureUserList: [] });
  assert.equal(sock.count('getUserStatus'), 1, 'no request for oneself alone');
});

test('own custom status follows pushes about oneself (another device set it)', T, async (t) => {
  const { server, client } = await setup(t);
  await loginReady(client, { userID: 'u1', userSig: 's' });
  await (await server.connection(0)).push([{ userID: 'u1', statusType: 1, customStatus: 'from phone' }]);
  await new Promise<void>((resolve) => client.on(EVENT.USER_STATUS_UPDATED, () => resolve()));
  const self = await client.getUserStatus({ userIDList: ['u1'] });
  assert.equal(self.data.successUserList[0]?.customStatus, 'from phone');
});

test("past the app's per-call limit the lists are trimmed; each id left out is in failureUserList with 72002", T, async (t) => {
  const { server, client } = await setup(t, { logLevel: 4 }, { limits: { maxQueryIDs: 2, maxSubscribeIDsPerCall: 1 } });
  for (const u of ['a', 'b', 'c']) server.setStatus(u, 1);
  await client.login({ userID: 'u1', userSig: 's' });
  const sock = await server.connection(0);
  const left = (ids: string[], max: number) => ids.map((userID) => ({ userID, code: 72002, message: `not sent: more than ${max} userIDs in one call` }));
  const got = await client.getUserStatus({ userIDList: ['u1', 'a', 'b', 'c'] });
  assert.deepEqual(
    got.data.successUserList.map((s) => s.userID),
    ['u1', 'a', 'b'],
  );
  assert.deepEqual(got.data.failureUserList, left(['c'], 2));
  const sub = await client.subscribeUserStatus({ userIDList: ['a', 'b', 'c'] });
  assert.deepEqual(sub.data.failureUserList, left(['b', 'c'], 1));
  const unsub = await client.unsubscribeUserStatus({ userIDList: ['a', 'a', 'b'] });
  assert.deepEqual(unsub.data.failureUserList, left(['b'], 1));
  assert.deepEqual(
    sock.frames.filter((f) => f.op !== 'login' && f.op !== 'heartbeat').map((f) => [f.op, f.userIDList]),
    [
      ['getUserStatus', ['a', 'b']],
      ['subscribeUserStatus', ['a']],
      ['unsubscribeUserStatus', ['a']],
    ],
  );
});
