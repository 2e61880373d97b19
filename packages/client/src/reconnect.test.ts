/**
 * Kicks, connection loss, reconnection and the S23 re-sync, against the in-process fake server.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { create, EVENT, TYPES, PresentlyError, type PresentlyOptions, type KickTypeValue } from './index.js';
import { FakeServer, loginReady, nextEvent, quietFor, recordEvents, type FakeServerOptions } from './testing/fake-server.js';

const APP = 1400000001;
/** A hung await fails the test instead of hanging the run. */
const T = { timeout: 5_000 };

/** Fast reconnects: any reconnect would happen within 20 ms. */
const FAST: Partial<PresentlyOptions> = { backoffBaseMs: 5, backoffCapMs: 20, restartDelayMaxMs: 5, requestTimeoutMs: 2000 };

async function setup(t: TestContext, opts: Partial<PresentlyOptions> = {}, serverOpts: FakeServerOptions = {}) {
  const server = await FakeServer.start(serverOpts);
  const logs: Array<{ message: string; fields: Record<string, unknown> | undefined }> = [];
  const client = create({
    SDKAppID: APP,
    url: server.url,
    ...FAST,
    logger: (message, fields) => logs.push({ message, fields }),
    ...opts,
  });
  t.after(async () => {
    await client.destroy();
    await server.stop();
  });
  await loginReady(client, { userID: 'u1', userSig: 'sig-1' });
  const sock = await server.connection(0);
  return { server, client, sock, logs };
}

async function rejectsWith(p: Promise<unknown>, code: number): Promise<void> {
  await assert.rejects(p, (err: unknown) => {
    assert.ok(err instanceof PresentlyError);
    assert.equal(err.code, code, `expected ${code}, got ${err.code}: ${err.message}`);
    return true;
  });
}

const connected = (client: ReturnType<typeof create>) => nextEvent(client, EVENT.NET_STATE_CHANGE, (e) => e.data.state === TYPES.NET_STATE_CONNECTED);

// ---- kicks ------------------------------------------------------------------------------------------

const KICKS: Array<[KickTypeValue, number]> = [
  [TYPES.KICKED_OUT_MULT_DEVICE, 3002],
  [TYPES.KICKED_OUT_MULT_ACCOUNT, 3003],
  [TYPES.KICKED_OUT_USERSIG_EXPIRED, 3004],
  [TYPES.KICKED_OUT_REST_API, 3006],
];

for (const [type, code] of KICKS) {
  test(`kicked (${type}): KICKED_OUT, SDK_NOT_READY {code:${code}}, pending calls and later calls reject ${code}, no reconnect`, T, async (t) => {
    const { server, client, sock } = await setup(t);
    server.handlers.getUserStatus = () => undefined; // stays pending until the kick
    const pending = rejectsWith(client.getUserStatus({ userIDList: ['u2'] }), code);
    await sock.next('getUserStatus');
    const events = recordEvents(client);
    const notReady = nextEvent(client, EVENT.SDK_NOT_READY);
    await sock.kick(type);
    await notReady;
    await pending;
    assert.deepEqual(events, [
      { name: EVENT.NET_STATE_CHANGE, data: { state: 'disconnected' } },
      { name: EVENT.KICKED_OUT, data: { type } },
      { name: EVENT.SDK_NOT_READY, data: { code } },
    ]);
    assert.equal(client.isReady(), false);
    assert.equal(client.getLoginUser(), '');
    await rejectsWith(client.setSelfStatus({ customStatus: 'x' }), code);
    await rejectsWith(client.logout(), 2024);
    await sock.closed;
    await quietFor(60); // a reconnect would have come within 20 ms
    assert.equal(server.sockets.length, 1);
    assert.equal(events.length, 3);
  });
}

test('close 4001 without a kickedOut push: the close reason gives the kick type', T, async (t) => {
  const { server, client, sock } = await setup(t);
  const kicked = nextEvent(client, EVENT.KICKED_OUT);
  sock.close(4001, TYPES.KICKED_OUT_REST_API);
  assert.deepEqual((await kicked).data, { type: 'REST_API_Kick' });
  await rejectsWith(client.getUserStatus({ userIDList: ['u2'] }), 3006);
  await quietFor(60);
  assert.equal(server.sockets.length, 1);
});

test('a login after a kick works again (the app brings a new UserSig)', T, async (t) => {
  const { server, client, sock } = await setup(t);
  const notReady = nextEvent(client, EVENT.SDK_NOT_READY);
  await sock.kick(TYPES.KICKED_OUT_MULT_ACCOUNT);
  await notReady;
  const res = await client.login({ userID: 'u1', userSig: 'sig-2' });
  assert.equal(res.data.repeatLogin, false);
  assert.equal((await (await server.connection(1)).next('login')).userSig, 'sig-2');
});

// ---- network loss -------------------------------------------------------------------------------

test('network loss: disconnected -> connecting -> connected, same userSig and instanceId, calls meanwhile reject 2800', T, async (t) => {
  const { server, client, sock } = await setup(t);
  server.handlers.getUserStatus = () => undefined;
  const pending = rejectsWith(client.getUserStatus({ userIDList: ['u2'] }), 2800);
  await sock.next('getUserStatus');
  const events = recordEvents(client);
  const duringOutage: Array<Promise<void>> = [];
  client.on(EVENT.NET_STATE_CHANGE, (e) => {
    if (e.data.state !== 'connected') {
      duringOutage.push(rejectsWith(client.subscribeUserStatus({ userIDList: ['u2'] }), 2800));
      assert.equal(client.isReady(), true); // still logged in: no SDK_NOT_READY for a network blip
      assert.equal(client.getLoginUser(), 'u1');
    }
  });
  const back = connected(client);
  sock.terminate();
  await back;
  await pending;
  await Promise.all(duringOutage);
  assert.equal(duringOutage.length, 2);
  assert.deepEqual(
    events.filter((e) => e.name !== EVENT.USER_STATUS_UPDATED),
    [
      { name: EVENT.NET_STATE_CHANGE, data: { state: 'disconnected' } },
      { name: EVENT.NET_STATE_CHANGE, data: { state: 'connecting' } },
      { name: EVENT.NET_STATE_CHANGE, data: { state: 'connected' } },
    ],
  );
  const first = await sock.next('login');
  const again = await (await server.connection(1)).next('login');
  assert.equal(again.userID, 'u1');
  assert.equal(again.userSig, 'sig-1');
  assert.equal(again.instanceId, first.instanceId);
  assert.equal(again.platform, first.platform);
  delete server.handlers.getUserStatus;
  assert.equal((await client.getUserStatus({ userIDList: ['u1'] })).code, 0);
});

test('S23: after a reconnect, syncStatus runs and ONE USER_STATUS_UPDATED lists exactly the users that differ', T, async (t) => {
  const { server, client, sock } = await setup(t);
  server.setStatus('u2', 1, 'a');
  server.setStatus('u3', 1, '');
  server.setStatus('u4', 2, ''); // never reported to the app

  // What the app has heard: u2 by a push, u3 by getUserStatus, u1 (self) by setSelfStatus.
  const pushed = nextEvent(client, EVENT.USER_STATUS_UPDATED);
  await sock.push([{ userID: 'u2', statusType: 1, customStatus: 'a' }]);
  await pushed;
  await client.getUserStatus({ userIDList: ['u3'] });
  await client.setSelfStatus({ customStatus: 'music' });

  // While the app is away: u2 goes offline, self's custom status is cleared (S9); u3 unchanged.
  server.setStatus('u2', 2, '');
  server.setStatus('u1', 1, '');

  const events = recordEvents(client);
  const diff = nextEvent(client, EVENT.USER_STATUS_UPDATED);
  sock.terminate();
  const got = (await diff).data;
  const second = await server.connection(1);
  await second.next('syncStatus');
  const byId = [...got].sort((a, b) => a.userID.localeCompare(b.userID));
  assert.deepEqual(byId, [
    { userID: 'u1', statusType: 1, customStatus: '' },
    { userID: 'u2', statusType: 2, customStatus: '' },
    { userID: 'u4', statusType: 2, customStatus: '' },
  ]);
  // The diff came after "connected", and only once: a round trip later there is no other update.
  await client.getUserStatus({ userIDList: ['u3'] });
  assert.deepEqual(
    events.map((e) => (e.name === EVENT.NET_STATE_CHANGE ? (e.data as { state: string }).state : e.name)),
    ['disconnected', 'connecting', 'connected', EVENT.USER_STATUS_UPDATED],
  );

  // A second outage with nothing changed reports nothing; the sync still runs.
  const quiet = recordEvents(client);
  const back = connected(client);
  second.terminate();
  await back;
  await (await server.connection(2)).next('syncStatus');
  await client.getUserStatus({ userIDList: ['u3'] }); // a round trip after the sync reply
  assert.deepEqual(
    quiet.filter((e) => e.name === EVENT.USER_STATUS_UPDATED),
    [],
  );
});

test('close 4010 (server restart): reconnects after a short jittered delay, not the backoff', T, async (t) => {
  // A backoff of up to a minute: only the restart path can bring the client back in time.
  const { server, client, sock, logs } = await setup(t, { backoffBaseMs: 60_000, backoffCapMs: 60_000, restartDelayMaxMs: 20 });
  const back = connected(client);
  sock.close(4010, 'restarting');
  await back;
  assert.equal((await (await server.connection(1)).next('login')).userID, 'u1');
  const scheduled = logs.filter((l) => l.message === 'reconnect scheduled');
  assert.equal(scheduled.length, 1);
  assert.equal(scheduled[0]?.fields?.restart, true);
  assert.equal(scheduled[0]?.fields?.attempt, 0);
  assert.ok((scheduled[0]?.fields?.delayMs as number) <= 20);
});

test('other close codes (4004, 4008, 1006) reconnect with backoff', T, async (t) => {
  const { server, client, sock } = await setup(t);
  let current = sock;
  let index = 0;
  for (const code of [4004, 4008]) {
    const back = connected(client);
    current.close(code, 'bye');
    await back;
    current = await server.connection(++index);
  }
  const back = connected(client);
  current.terminate(); // 1006 on the client side
  await back;
  assert.equal(server.sockets.length, 4);
});

test('backoff grows on failed re-logins and resets after a successful one', T, async (t) => {
  const { server, client, sock, logs } = await setup(t);
  let refusals = 2;
  server.handlers.login = (frame, s) => {
    if (refusals-- > 0) {
      void s.refuse(frame, 70500, 'busy'); // retryable
      return;
    }
    delete server.handlers.login;
    void s.reply(frame, { userID: frame.userID, sessionId: 'x', heartbeatIntervalMs: 10_000, heartbeatTimeoutMs: 30_000, serverTime: 0, protocol: 1 });
  };
  const back = connected(client);
  sock.terminate();
  await back;
  const again = connected(client);
  (await server.connection(3)).terminate();
  await again;
  const attempts = logs.filter((l) => l.message === 'reconnect scheduled').map((l) => l.fields?.attempt);
  assert.deepEqual(attempts, [0, 1, 2, 0]);
});

// ---- re-login refused ----------------------------------------------------------------------------

for (const [code, type, notReadyCode] of [
  [70001, 'userSigExpired', 3004],
  [70052, 'REST_API_Kick', 3006],
] as const) {
  test(`re-login refused with ${code}: KICKED_OUT ${type}, SDK_NOT_READY, reconnecting stops`, T, async (t) => {
    const { server, client, sock } = await setup(t);
    server.handlers.login = (frame, s) => void s.refuse(frame, code);
    const events = recordEvents(client);
    const notReady = nextEvent(client, EVENT.SDK_NOT_READY);
    sock.terminate();
    await notReady;
    assert.deepEqual(events, [
      { name: EVENT.NET_STATE_CHANGE, data: { state: 'disconnected' } },
      { name: EVENT.NET_STATE_CHANGE, data: { state: 'connecting' } },
      { name: EVENT.NET_STATE_CHANGE, data: { state: 'disconnected' } },
      { name: EVENT.KICKED_OUT, data: { type } },
      { name: EVENT.SDK_NOT_READY, data: { code: notReadyCode } },
    ]);
    await rejectsWith(client.getUserStatus({ userIDList: ['u2'] }), notReadyCode);
    await quietFor(60);
    assert.equal(server.sockets.length, 2);
  });
}

test('re-login refused for another reason (70009): ERROR with the code, SDK_NOT_READY {3001}, reconnecting stops', T, async (t) => {
  const { server, client, sock } = await setup(t);
  server.handlers.login = (frame, s) => void s.refuse(frame, 70009, 'key mismatch');
  const events = recordEvents(client);
  const notReady = nextEvent(client, EVENT.SDK_NOT_READY);
  sock.terminate();
  await notReady;
  assert.deepEqual(events.slice(-2), [
    { name: EVENT.ERROR, data: { code: 70009, message: 'key mismatch' } },
    { name: EVENT.SDK_NOT_READY, data: { code: 3001 } },
  ]);
  await rejectsWith(client.getUserStatus({ userIDList: ['u2'] }), 3001);
  await quietFor(60);
  assert.equal(server.sockets.length, 2);
});

test('a repeated login() with a fresh userSig is what the next re-login uses', T, async (t) => {
  const { server, client, sock } = await setup(t);
  assert.equal((await client.login({ userID: 'u1', userSig: 'sig-renewed' })).data.repeatLogin, true);
  const back = connected(client);
  sock.terminate();
  await back;
  assert.equal((await (await server.connection(1)).next('login')).userSig, 'sig-renewed');
});

// ---- silence watchdog ------------------------------------------------------------------------------

test('silence: answered heartbeats keep the link; nothing for 2 x interval + grace counts as lost, then reconnect', T, async (t) => {
  const { server, client, sock } = await setup(t, { heartbeatGraceMs: 20 }, { heartbeatIntervalMs: 20, heartbeatTimeoutMs: 10_000 });
  const events = recordEvents(client);
  // 6 heartbeats (~120 ms) is twice the 60 ms limit: only the answers keep the link alive.
  let n = 0;
  await sock.next((f) => f.op === 'heartbeat' && ++n === 6);
  assert.equal(events.length, 0);
  assert.equal(server.sockets.length, 1);
  const back = connected(client);
  sock.silent = true; // open but dead
  await back;
  assert.deepEqual(
    events.map((e) => (e.data as { state?: string }).state),
    ['disconnected', 'connecting', 'connected'],
  );
  assert.equal((await (await server.connection(1)).next('login')).userID, 'u1');
});

test('silence limit is capped by the server heartbeatTimeoutMs', T, async (t) => {
  // interval 1 s (no heartbeat during the test), server timeout 50 ms: the link dies after ~50 ms.
  const { client, sock } = await setup(t, { heartbeatGraceMs: 10_000 }, { heartbeatIntervalMs: 1000, heartbeatTimeoutMs: 50 });
  const started = Date.now();
  await connected(client);
  assert.ok(Date.now() - started < 1000);
  assert.equal(sock.count('heartbeat'), 0);
});

// ---- logout / destroy while disconnected ---------------------------------------------------------

test('logout while the connection is down: resolves, SDK_NOT_READY {3005}, no reconnect', T, async (t) => {
  const { server, client, sock } = await setup(t, { backoffBaseMs: 40, backoffCapMs: 40 });
  const events = recordEvents(client);
  const down = nextEvent(client, EVENT.NET_STATE_CHANGE, (e) => e.data.state === 'disconnected');
  sock.terminate();
  await down;
  assert.deepEqual(await client.logout(), { code: 0, data: {} });
  assert.deepEqual(events.slice(-1), [{ name: EVENT.SDK_NOT_READY, data: { code: 3005 } }]);
  await quietFor(80);
  assert.equal(server.sockets.length, 1);
  await rejectsWith(client.getUserStatus({ userIDList: ['u2'] }), 3005);
});

test('destroy while reconnecting: the attempt is abandoned, no events, no new session', T, async (t) => {
  let gateOpen: (() => void) | undefined;
  const gate = new Promise<void>((resolve) => (gateOpen = resolve));
  let handshakes = 0;
  let second: (() => void) | undefined;
  const secondArrived = new Promise<void>((resolve) => (second = resolve));
  const { server, client, sock } = await setup(
    t,
    {},
    {
      beforeAccept: () => {
        if (++handshakes === 1) return Promise.resolve();
        second?.();
        return gate;
      },
    },
  );
  const events = recordEvents(client);
  sock.terminate();
  await secondArrived;
  await client.destroy();
  gateOpen?.();
  const next = await server.connection(1);
  await next.closed;
  assert.equal(next.count('login'), 0);
  assert.deepEqual(
    events.map((e) => (e.data as { state?: string }).state),
    ['disconnected', 'connecting'],
  );
});
