/**
 * The SDK against an in-process fake server (src/testing/fake-server.ts): creation, events,
 * login / logout, the not-ready codes, requests, timeouts and destroy.
 * Reconnection and kicks are in reconnect.test.ts.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import WS from 'ws';
import Presently, { create, EVENT, TYPES, PresentlyClient, PresentlyError, type PresentlyOptions, type WebSocketConstructor } from './index.js';
import { FakeServer, loginReady, nextEvent, recordEvents, type Frame } from './testing/fake-server.js';

const APP = 1400000001;
/** A hung await fails the test instead of hanging the run. */
const T = { timeout: 5_000 };

// Type-level: the browser's WebSocket and the `ws` class both fit the `WebSocket` option.
const _browserFits: WebSocketConstructor | undefined = typeof WebSocket === 'undefined' ? undefined : WebSocket;
const _wsFits: WebSocketConstructor = WS;
void _browserFits;
void _wsFits;

async function setup(t: TestContext, opts: Partial<PresentlyOptions> = {}, serverOpts = {}) {
  const server = await FakeServer.start(serverOpts);
  const client = create({ SDKAppID: APP, url: server.url, requestTimeoutMs: 2000, connectTimeoutMs: 2000, ...opts });
  t.after(async () => {
    await client.destroy();
    await server.stop();
  });
  return { server, client };
}

async function rejectsWith(p: Promise<unknown>, code: number): Promise<PresentlyError> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof PresentlyError, `expected a PresentlyError, got ${String(err)}`);
    assert.ok(err instanceof Error);
    assert.equal(err.code, code, `expected code ${code}, got ${err.code}: ${err.message}`);
    return err;
  }
  assert.fail(`expected a rejection with ${code}`);
}

/** The four calls that need SDK_READY. */
function statusCalls(client: PresentlyClient): Array<Promise<unknown>> {
  return [
    client.setSelfStatus({ customStatus: 'x' }),
    client.getUserStatus({ userIDList: ['u2'] }),
    client.subscribeUserStatus({ userIDList: ['u2'] }),
    client.unsubscribeUserStatus({ userIDList: ['u2'] }),
  ];
}

async function allRejectWith(client: PresentlyClient, code: number): Promise<void> {
  await Promise.all(statusCalls(client).map((p) => rejectsWith(p, code)));
}

// ---- creation and constants ---------------------------------------------------------------------

test('create: a new independent instance per call; default export carries create, TYPES, EVENT', T, async (t) => {
  const { server } = await setup(t);
  const a = Presently.create({ SDKAppID: APP, url: server.url });
  const b = Presently.create({ SDKAppID: APP, url: server.url });
  t.after(() => Promise.all([a.destroy(), b.destroy()]));
  assert.ok(a instanceof PresentlyClient);
  assert.notEqual(a, b);
  await loginReady(a, { userID: 'u1', userSig: 'sig' });
  assert.equal(a.isReady(), true);
  assert.equal(b.isReady(), false);
  assert.equal(b.getLoginUser(), '');
  assert.equal(Presently.TYPES, TYPES);
  assert.equal(Presently.EVENT, EVENT);
});

test('TYPES and EVENT have the hosted SDK names and values (compat.md §1)', T, () => {
  // A numeric enum also maps its values back to names (TYPES[1] === 'USER_STATUS_ONLINE').
  const named = Object.fromEntries(Object.entries(TYPES).filter(([key]) => !/^\d+$/.test(key)));
  assert.deepEqual(named, {
    USER_STATUS_UNKNOWN: 0,
    USER_STATUS_ONLINE: 1,
    USER_STATUS_OFFLINE: 2,
    USER_STATUS_UNLOGINED: 3,
    NET_STATE_CONNECTED: 'connected',
    NET_STATE_CONNECTING: 'connecting',
    NET_STATE_DISCONNECTED: 'disconnected',
    KICKED_OUT_MULT_ACCOUNT: 'multipleAccount',
    KICKED_OUT_MULT_DEVICE: 'multipleDevice',
    KICKED_OUT_USERSIG_EXPIRED: 'userSigExpired',
    KICKED_OUT_REST_API: 'REST_API_Kick',
  });
  const fired = {
    SDK_READY: 'sdkStateReady',
    SDK_NOT_READY: 'sdkStateNotReady',
    USER_STATUS_UPDATED: 'onUserStatusUpdated',
    KICKED_OUT: 'kickedOut',
    NET_STATE_CHANGE: 'netStateChange',
    ERROR: 'error',
  };
  assert.deepEqual(Object.fromEntries(Object.keys(fired).map((k) => [k, EVENT[k as keyof typeof EVENT]])), fired);
  // The hosted SDK's other events exist too (tests/compat checks the whole list against its typings).
  assert.equal(EVENT.MESSAGE_RECEIVED, 'onMessageReceived');
  assert.equal(Object.keys(EVENT).length, 32);
});

test('create refuses invalid options with a clear PresentlyError', T, () => {
  const bad: Array<Partial<PresentlyOptions>> = [
    {},
    { url: 'not a url' },
    { url: 'ftp://host' },
    { url: 'ws://h', platform: 'Amiga' as never },
    { url: 'ws://h', requestTimeoutMs: -1 },
    { url: 'ws://h', backoffBaseMs: 1000, backoffCapMs: 10 },
  ];
  for (const opts of bad) {
    assert.throws(
      () => create({ SDKAppID: APP, ...opts }),
      (err: unknown) => {
        assert.ok(err instanceof PresentlyError);
        assert.equal(err.code, 70402);
        assert.match(err.message, /invalid option/);
        return true;
      },
    );
  }
});

// ---- login ------------------------------------------------------------------------------------

test('login: resolves {code:0, data:{repeatLogin:false, ...}}, sends the login frame, emits connecting, connected, then SDK_READY after it resolved', T, async (t) => {
  const { server, client } = await setup(t, { platform: 'Android' });
  const events = recordEvents(client);
  const ready = nextEvent(client, EVENT.SDK_READY);
  // The hosted SDK's order, which TUIKit's engine relies on: the login promise's handlers run
  // before SDK_READY (the engine starts waiting for SDK_READY in its then-handler).
  let readyBeforeThen = true;
  const res = await client.login({ userID: 'u1', userSig: 'sig-1' }).then((r) => {
    readyBeforeThen = events.some((e) => e.name === EVENT.SDK_READY);
    return r;
  });
  assert.equal(readyBeforeThen, false);
  await ready;
  assert.equal(res.code, 0);
  assert.deepEqual(
    { actionStatus: res.data.actionStatus, errorCode: res.data.errorCode, errorInfo: res.data.errorInfo, repeatLogin: res.data.repeatLogin },
    { actionStatus: 'OK', errorCode: 0, errorInfo: '', repeatLogin: false },
  );
  assert.equal(res.data.userID, 'u1');
  assert.equal(typeof res.data.sessionId, 'string');
  assert.equal(client.isReady(), true);
  assert.equal(client.getLoginUser(), 'u1');
  const login = await (await server.connection(0)).next('login');
  assert.equal(login.SDKAppID, APP);
  assert.equal(login.userID, 'u1');
  assert.equal(login.userSig, 'sig-1');
  assert.equal(login.platform, 'Android');
  assert.equal(typeof login.instanceId, 'string');
  assert.ok((login.instanceId as string).length > 0 && (login.instanceId as string).length <= 64);
  assert.equal(typeof login.id, 'number');
  assert.deepEqual(events, [
    { name: EVENT.NET_STATE_CHANGE, data: { state: 'connecting' } },
    { name: EVENT.NET_STATE_CHANGE, data: { state: 'connected' } },
    { name: EVENT.SDK_READY, data: {} },
  ]);
});

test('login: platform defaults to Web; each instance has its own instanceId', T, async (t) => {
  const { server, client } = await setup(t);
  const other = create({ SDKAppID: APP, url: server.url });
  t.after(() => other.destroy());
  await loginReady(client, { userID: 'u1', userSig: 's' });
  await loginReady(other, { userID: 'u2', userSig: 's' });
  const a = await (await server.connection(0)).next('login');
  const b = await (await server.connection(1)).next('login');
  assert.equal(a.platform, 'Web');
  assert.notEqual(a.instanceId, b.instanceId);
});

test('login: missing SDKAppID / userID / userSig reject with 2000 / 2002 / 2003 without connecting', T, async (t) => {
  const { server, client } = await setup(t);
  const noApp = create({ url: server.url } as PresentlyOptions);
  t.after(() => noApp.destroy());
  await rejectsWith(noApp.login({ userID: 'u1', userSig: 's' }), 2000);
  await rejectsWith(client.login({ userID: '', userSig: 's' }), 2002);
  await rejectsWith(client.login({ userSig: 's' } as never), 2002);
  await rejectsWith(client.login({ userID: 'u1', userSig: '' }), 2003);
  await rejectsWith(client.login({ userID: 'u1' } as never), 2003);
  assert.equal(server.sockets.length, 0);
  await allRejectWith(client, 2024);
});

for (const code of [70001, 70009, 70052]) {
  test(`login: a server refusal (${code}) rejects with that code; calls then reject 3001`, T, async (t) => {
    const { server, client } = await setup(t);
    server.handlers.login = (frame, sock) => void sock.refuse(frame, code, 'no');
    const events = recordEvents(client);
    const err = await rejectsWith(client.login({ userID: 'u1', userSig: 's' }), code);
    assert.equal(err.message, 'no');
    assert.equal(client.isReady(), false);
    assert.equal(client.getLoginUser(), '');
    await allRejectWith(client, 3001);
    await (
      await server.connection(0)
    ).closed; // the SDK closed the refused connection
    assert.deepEqual(events, [
      { name: EVENT.NET_STATE_CHANGE, data: { state: 'connecting' } },
      { name: EVENT.NET_STATE_CHANGE, data: { state: 'disconnected' } },
    ]);
  });
}

test('login: a server that cannot be reached rejects with 2800', T, async (t) => {
  const gone = await FakeServer.start();
  const url = gone.url;
  await gone.stop();
  const client = create({ SDKAppID: APP, url });
  t.after(() => client.destroy());
  await rejectsWith(client.login({ userID: 'u1', userSig: 's' }), 2800);
  await allRejectWith(client, 3001);
});

test('login: a login reply that never comes rejects with 2801 after requestTimeoutMs', T, async (t) => {
  const { server, client } = await setup(t, { requestTimeoutMs: 50 });
  server.handlers.login = () => undefined;
  await rejectsWith(client.login({ userID: 'u1', userSig: 's' }), 2801);
});

test('login: the same user again resolves with repeatLogin:true and sends nothing', T, async (t) => {
  const { server, client } = await setup(t);
  const first = await loginReady(client, { userID: 'u1', userSig: 's' });
  const events = recordEvents(client);
  const again = await client.login({ userID: 'u1', userSig: 's' });
  assert.equal(again.code, 0);
  assert.equal(again.data.repeatLogin, true);
  assert.equal(again.data.sessionId, first.data.sessionId);
  assert.equal(server.sockets.length, 1);
  assert.equal((await server.connection(0)).count('login'), 1);
  assert.deepEqual(events, []);
});

test('login: while a login is in progress, another login rejects 2025 and calls reject 3000', T, async (t) => {
  const { server, client } = await setup(t);
  let release: (() => void) | undefined;
  server.handlers.login = (frame, sock) => {
    release = () => void sock.reply(frame, { userID: frame.userID, sessionId: 's', heartbeatIntervalMs: 10_000, heartbeatTimeoutMs: 30_000, serverTime: 0, protocol: 1 });
  };
  const pending = client.login({ userID: 'u1', userSig: 's' });
  const sock = await server.connection(0);
  await sock.next('login');
  await rejectsWith(client.login({ userID: 'u1', userSig: 's' }), 2025);
  await rejectsWith(client.login({ userID: 'u2', userSig: 's' }), 2025);
  await allRejectWith(client, 3000);
  assert.equal(client.isReady(), false);
  const ready = nextEvent(client, EVENT.SDK_READY);
  release?.();
  assert.equal((await pending).data.repeatLogin, false);
  assert.equal(client.isReady(), false, 'not ready until SDK_READY, as in the hosted SDK');
  await ready;
  assert.equal(client.isReady(), true);
});

test('login: as another user logs the first one out, then logs in on a new connection', T, async (t) => {
  const { server, client } = await setup(t);
  await loginReady(client, { userID: 'u1', userSig: 's1' });
  const events = recordEvents(client);
  const res = await loginReady(client, { userID: 'u2', userSig: 's2' });
  assert.equal(res.data.repeatLogin, false);
  assert.equal(client.getLoginUser(), 'u2');
  const first = await server.connection(0);
  await first.next('logout');
  assert.equal((await first.closed).code, 4002);
  const second = await server.connection(1);
  const login = await second.next('login');
  assert.equal(login.userID, 'u2');
  assert.deepEqual(
    events.map((e) => e.name),
    [EVENT.NET_STATE_CHANGE, EVENT.SDK_NOT_READY, EVENT.NET_STATE_CHANGE, EVENT.NET_STATE_CHANGE, EVENT.SDK_READY],
  );
});

// ---- events: on / off / context ------------------------------------------------------------------

test('on: handlers get {name, data} with `this` = context; off removes by handler (+ context)', T, async (t) => {
  const { client } = await setup(t);
  const ctxA = { label: 'A', seen: [] as string[] };
  const ctxB = { label: 'B', seen: [] as string[] };
  const shared = function (this: { label: string; seen: string[] }, e: { name: string }): void {
    this.seen.push(e.name);
  };
  const removed: string[] = [];
  const removedHandler = (e: { name: string }): void => void removed.push(e.name);
  let plainThis: unknown = 'unset';
  let plainEvent: unknown;
  client.on(EVENT.SDK_READY, function (this: unknown, e) {
    // eslint-disable-next-line @typescript-eslint/no-this-alias -- the test records the `this` a plain handler is called with.
    plainThis = this;
    plainEvent = e;
  });
  client.on(EVENT.SDK_READY, shared, ctxA);
  client.on(EVENT.SDK_READY, shared, ctxA); // the same pair twice is one listener
  client.on(EVENT.SDK_READY, shared, ctxB);
  client.on(EVENT.NET_STATE_CHANGE, shared, ctxA);
  client.on(EVENT.SDK_READY, removedHandler);
  client.on(EVENT.NET_STATE_CHANGE, removedHandler);
  client.off(EVENT.SDK_READY, shared, ctxB); // only the B listener goes
  client.off(EVENT.SDK_READY, removedHandler);
  client.off(EVENT.NET_STATE_CHANGE, removedHandler);
  await loginReady(client, { userID: 'u1', userSig: 's' });
  assert.deepEqual(plainEvent, { name: 'sdkStateReady', data: {} });
  assert.equal(plainThis, undefined);
  assert.deepEqual(ctxA.seen, ['netStateChange', 'netStateChange', 'sdkStateReady']);
  assert.deepEqual(ctxB.seen, []);
  assert.deepEqual(removed, []);
  // off without a context removes the handler whatever its context
  client.off(EVENT.NET_STATE_CHANGE, shared);
  await client.logout();
  assert.deepEqual(ctxA.seen, ['netStateChange', 'netStateChange', 'sdkStateReady']);
});

// ---- logout ---------------------------------------------------------------------------------------

test('logout: resolves {code:0, data:{}}, tells the server, emits disconnected + SDK_NOT_READY {code:3005}', T, async (t) => {
  const { server, client } = await setup(t);
  await rejectsWith(client.logout(), 2024);
  await loginReady(client, { userID: 'u1', userSig: 's' });
  const events = recordEvents(client);
  const res = await client.logout();
  assert.deepEqual(res, { code: 0, data: {} });
  const sock = await server.connection(0);
  assert.equal(sock.count('logout'), 1);
  assert.equal((await sock.closed).code, 4002);
  assert.equal(client.isReady(), false);
  assert.equal(client.getLoginUser(), '');
  assert.deepEqual(events, [
    { name: EVENT.NET_STATE_CHANGE, data: { state: 'disconnected' } },
    { name: EVENT.SDK_NOT_READY, data: { code: 3005 } },
  ]);
  await allRejectWith(client, 3005);
  await rejectsWith(client.logout(), 2024);
});

test('logout: a push that arrives on the old connection after logout is not emitted', T, async (t) => {
  const { server, client } = await setup(t);
  server.handlers.logout = (frame, sock) => {
    void sock.push([{ userID: 'u9', statusType: 1, customStatus: 'late' }]).then(() => sock.reply(frame, {}));
  };
  await loginReady(client, { userID: 'u1', userSig: 's' });
  const updates = recordEvents(client).filter((e) => e.name === EVENT.USER_STATUS_UPDATED);
  await client.logout();
  assert.deepEqual(updates, []);
});

// ---- calls ------------------------------------------------------------------------------------------

test('calls before login reject 2024', T, async (t) => {
  const { client } = await setup(t);
  await allRejectWith(client, 2024);
});

test('calls resolve {code:0, data} with the compat shapes and send the right frames', T, async (t) => {
  const { server, client } = await setup(t);
  server.setStatus('u2', TYPES.USER_STATUS_ONLINE, 'coding');
  await loginReady(client, { userID: 'u1', userSig: 's' });
  const sock = await server.connection(0);

  const self = await client.setSelfStatus({ customStatus: 'music' });
  assert.deepEqual(self, { code: 0, data: { userID: 'u1', statusType: 1, customStatus: 'music' } });
  const cleared = await client.setSelfStatus({ customStatus: null });
  assert.equal(cleared.data.customStatus, '');

  const got = await client.getUserStatus({ userIDList: ['u2', 'nobody'] });
  assert.deepEqual(got, {
    code: 0,
    data: {
      successUserList: [{ userID: 'u2', statusType: 1, customStatus: 'coding' }],
      failureUserList: [{ userID: 'nobody', code: 70107, message: 'account does not exist' }],
    },
  });
  assert.deepEqual(await client.subscribeUserStatus({ userIDList: ['u2'] }), { code: 0, data: { failureUserList: [] } });
  assert.deepEqual(await client.unsubscribeUserStatus({ userIDList: ['u2'] }), { code: 0, data: { failureUserList: [] } });
  assert.deepEqual(await client.unsubscribeUserStatus(), { code: 0, data: { failureUserList: [] } });

  const ops = sock.frames.filter((f) => f.op !== 'heartbeat' && f.op !== 'login');
  const strip = ({ id, ...rest }: Frame): Omit<Frame, 'id'> => (assert.equal(typeof id, 'number'), rest);
  assert.deepEqual(ops.map(strip), [
    { op: 'setSelfStatus', customStatus: 'music' },
    { op: 'setSelfStatus', customStatus: '' },
    { op: 'getUserStatus', userIDList: ['u2', 'nobody'] },
    { op: 'subscribeUserStatus', userIDList: ['u2'] },
    { op: 'unsubscribeUserStatus', userIDList: ['u2'] },
    { op: 'unsubscribeUserStatus' },
  ]);
  const ids = sock.frames.filter((f) => f.id !== undefined).map((f) => f.id as number);
  assert.deepEqual(
    ids,
    [...ids].sort((a, b) => a - b),
    'request ids increase',
  );
  assert.equal(new Set(ids).size, ids.length);
});

test('calls: a server refusal rejects with its code, message and data; bad arguments reject 70402', T, async (t) => {
  const { server, client } = await setup(t);
  server.handlers.subscribeUserStatus = (frame, sock) => void sock.send({ id: frame.id, op: frame.op, code: 72001, message: 'not enabled', data: { hint: 1 } });
  await loginReady(client, { userID: 'u1', userSig: 's' });
  const err = await rejectsWith(client.subscribeUserStatus({ userIDList: ['u2'] }), 72001);
  assert.equal(err.message, 'not enabled');
  assert.deepEqual(err.data, { hint: 1 });
  await rejectsWith(client.getUserStatus({ userIDList: 'u2' } as never), 70402);
  await rejectsWith(client.setSelfStatus({ customStatus: 5 } as never), 70402);
});

test('calls: no reply within requestTimeoutMs rejects with 2801; the connection stays usable', T, async (t) => {
  const { server, client } = await setup(t, { requestTimeoutMs: 60 });
  let ignore = true;
  server.handlers.getUserStatus = (frame, sock) => {
    if (!ignore) void sock.reply(frame, { successUserList: [], failureUserList: [] });
  };
  await loginReady(client, { userID: 'u1', userSig: 's' });
  await rejectsWith(client.getUserStatus({ userIDList: ['u2'] }), 2801);
  ignore = false;
  assert.equal((await client.getUserStatus({ userIDList: ['u2'] })).code, 0);
  assert.equal(server.sockets.length, 1);
});

// ---- pushes and server errors ---------------------------------------------------------------------

test('pushes: each userStatusUpdated frame is one USER_STATUS_UPDATED with its list (customStatus absent -> "")', T, async (t) => {
  const { server, client } = await setup(t);
  await loginReady(client, { userID: 'u1', userSig: 's' });
  const sock = await server.connection(0);
  const first = nextEvent(client, EVENT.USER_STATUS_UPDATED);
  await sock.send({
    op: 'userStatusUpdated',
    data: [
      { userID: 'u2', statusType: 1, customStatus: 'a' },
      { userID: 'u3', statusType: 2 },
    ],
  });
  assert.deepEqual((await first).data, [
    { userID: 'u2', statusType: 1, customStatus: 'a' },
    { userID: 'u3', statusType: 2, customStatus: '' },
  ]);
  const second = nextEvent(client, EVENT.USER_STATUS_UPDATED);
  await sock.push([{ userID: 'u2', statusType: 2, customStatus: '' }]);
  assert.deepEqual((await second).data, [{ userID: 'u2', statusType: 2, customStatus: '' }]);
});

test('pushes that race the login reply are emitted right after SDK_READY', T, async (t) => {
  const { server, client } = await setup(t);
  const login = server.handlers.login;
  server.handlers.login = (frame, sock) => {
    void sock.push([{ userID: 'u1', statusType: 1, customStatus: '' }]);
    sock.server.handlers.login = login;
    void sock.reply(frame, { userID: frame.userID, sessionId: 's', heartbeatIntervalMs: 10_000, heartbeatTimeoutMs: 30_000, serverTime: 0, protocol: 1 });
  };
  const events = recordEvents(client);
  const update = nextEvent(client, EVENT.USER_STATUS_UPDATED);
  await client.login({ userID: 'u1', userSig: 's' });
  assert.deepEqual((await update).data, [{ userID: 'u1', statusType: 1, customStatus: '' }]);
  assert.deepEqual(
    events.map((e) => e.name),
    [EVENT.NET_STATE_CHANGE, EVENT.NET_STATE_CHANGE, EVENT.SDK_READY, EVENT.USER_STATUS_UPDATED],
  );
});

test('a server error frame without a request becomes an ERROR event', T, async (t) => {
  const { server, client } = await setup(t);
  await loginReady(client, { userID: 'u1', userSig: 's' });
  const error = nextEvent(client, EVENT.ERROR);
  await (await server.connection(0)).send({ op: 'error', code: 70402, message: 'invalid parameters: malformed JSON' });
  assert.deepEqual((await error).data, { code: 70402, message: 'invalid parameters: malformed JSON' });
  const withData = nextEvent(client, EVENT.ERROR);
  await (await server.connection(0)).send({ op: 'error', code: 70500, message: 'internal error', data: { ref: 'x' } });
  assert.deepEqual((await withData).data, { code: 70500, message: 'internal error', data: { ref: 'x' } });
});

// ---- heartbeats -------------------------------------------------------------------------------------

test('heartbeats go out on the interval the server announced', T, async (t) => {
  const { server, client } = await setup(t, {}, { heartbeatIntervalMs: 15, heartbeatTimeoutMs: 10_000 });
  await loginReady(client, { userID: 'u1', userSig: 's' });
  const sock = await server.connection(0);
  let n = 0;
  const started = Date.now();
  await sock.next((f) => f.op === 'heartbeat' && ++n === 3);
  assert.ok(Date.now() - started >= 30, 'three heartbeats take at least two intervals');
  await client.logout();
  assert.ok(sock.frames.filter((f) => f.op === 'heartbeat').every((f) => f.id === undefined));
});

// ---- destroy ----------------------------------------------------------------------------------------

test('destroy: rejects pending calls (2999), logs out on the server, emits nothing more', T, async (t) => {
  const { server, client } = await setup(t);
  server.handlers.getUserStatus = () => undefined; // never answered
  await loginReady(client, { userID: 'u1', userSig: 's' });
  const sock = await server.connection(0);
  const events = recordEvents(client);
  const pending = rejectsWith(client.getUserStatus({ userIDList: ['u2'] }), 2999);
  await sock.next('getUserStatus');
  await client.destroy();
  await pending;
  assert.equal(sock.count('logout'), 1);
  await sock.closed;
  assert.deepEqual(events, []);
  assert.equal(client.isReady(), false);
  await rejectsWith(client.login({ userID: 'u1', userSig: 's' }), 2999);
  await allRejectWith(client, 2999);
  await client.destroy(); // idempotent
});

test('destroy during the WebSocket handshake: login rejects 2999, no login frame is sent', T, async (t) => {
  let accept: (() => void) | undefined;
  const gate = new Promise<void>((resolve) => (accept = resolve));
  let arrived: (() => void) | undefined;
  const handshake = new Promise<void>((resolve) => (arrived = resolve));
  const { server, client } = await setup(
    t,
    {},
    {
      beforeAccept: () => {
        arrived?.();
        return gate;
      },
    },
  );
  const events = recordEvents(client);
  const login = rejectsWith(client.login({ userID: 'u1', userSig: 's' }), 2999);
  await handshake;
  const destroyed = client.destroy();
  accept?.();
  await destroyed;
  await login;
  const sock = await server.connection(0);
  await sock.closed;
  assert.equal(sock.count('login'), 0);
  assert.deepEqual(
    events.map((e) => e.name),
    [EVENT.NET_STATE_CHANGE],
  ); // only "connecting", before destroy
});
