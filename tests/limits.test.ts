/**
 * Gateway limits over real sockets: the login deadline for unauthenticated sockets and the bound
 * on a slow consumer's send queue (S32: a bad client never hurts the server or other users).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { CloseCode, ErrorCode, UserStatus } from '@presently/protocol';
import { APP, appConfig, startServer, type TestServer } from './helpers/server.js';
import { rest } from './helpers/rest.js';
import { RawPeer } from './helpers/raw.js';

let srv: TestServer;
before(async () => {
  srv = await startServer({
    // The slow-consumer test floods own status on purpose: the per-minute flood bound is off here
    // (the burst test below runs its own server with the defaults).
    apps: [appConfig({ limits: { rateLimitCalls: 1000, maxSubscriptions: 1000, setSelfStatusPerMinute: 0 } })],
    server: { loginTimeoutMs: 300, maxSendQueueBytes: 64 * 1024, maxInFlight: 2 },
  });
});
after(async () => {
  await srv.stop();
});

test('S32 a socket that never logs in is closed with 4003 after the login deadline', async () => {
  const p = await RawPeer.connect(srv.ws);
  const t0 = Date.now();
  const { code } = await p.closed;
  assert.equal(code, CloseCode.LOGIN_TIMEOUT);
  assert.ok(Date.now() - t0 < 3000);
});

test('S32 the login deadline counts from the socket opening: frames other than a successful login do not extend it', { timeout: 10_000 }, async () => {
  const p = await RawPeer.connect(srv.ws);
  const t0 = Date.now();
  // Heartbeats, other ops and a refused login, every 50 ms: each is answered, none keeps the socket.
  let sent = 0;
  const chatter = setInterval(() => {
    const frames = [{ op: 'heartbeat' }, { id: sent, op: 'getUserStatus', userIDList: ['x'] }, { id: sent, op: 'login', SDKAppID: APP, userID: 'late', userSig: 'bad' }];
    p.sendRaw(JSON.stringify(frames[sent++ % frames.length]));
  }, 50);
  try {
    const { code } = await p.closed;
    assert.equal(code, CloseCode.LOGIN_TIMEOUT);
  } finally {
    clearInterval(chatter);
  }
  // 300 ms deadline, 250 ms sweep: closed within ~0.6 s whatever the chatter (not at 'silence + 300 ms', never).
  assert.ok(sent >= 3, `only ${sent} frames were sent before the close`);
  assert.ok(Date.now() - t0 < 3000);
});

test('S10 S23 a burst of syncStatus or setSelfStatus from one user: the per-minute budget is answered, the rest refused with 72003, watchers hear only the accepted changes', async (t) => {
  const dflt = await startServer();
  t.after(() => dflt.stop());
  const flooder = await RawPeer.connect(dflt.ws);
  assert.equal((await flooder.login(APP, 'flood', dflt.sig('flood'))).code, 0);
  const watcher = await RawPeer.connect(dflt.ws);
  assert.equal((await watcher.login(APP, 'flood-watch', dflt.sig('flood-watch'))).code, 0);
  assert.equal((await watcher.request('subscribeUserStatus', { userIDList: ['flood'] })).code, 0);
  const burst = (op: string, n: number, fields: (i: number) => Record<string, unknown>) =>
    Promise.all(Array.from({ length: n }, (_, i) => flooder.request(op, fields(i)))).then((replies) => ({
      ok: replies.filter((r) => r.code === 0).length,
      refused: replies.filter((r) => r.code === ErrorCode.TOO_MANY_CALLS).length,
    }));
  // Defaults: 30 syncs and 120 own-status changes per user per minute.
  assert.deepEqual(await burst('syncStatus', 200, () => ({})), { ok: 30, refused: 170 });
  assert.deepEqual(await burst('setSelfStatus', 300, (i) => ({ customStatus: `s${i}` })), { ok: 120, refused: 180 });
  // The watcher heard exactly the accepted changes (the last one included), and nothing after.
  const heard: string[] = [];
  await watcher.next((f) => {
    if (f.op === 'userStatusUpdated') for (const c of f.data as Array<{ userID: string; customStatus: string }>) if (c.userID === 'flood') heard.push(c.customStatus);
    return heard.length >= 120;
  });
  assert.equal(heard.length, 120);
  assert.equal(heard.at(-1), 's119');
  flooder.close();
  watcher.close();
});

test('S32 a consumer that stops reading is closed with 4008 once its queue passes the bound; others are unaffected', async () => {
  // The slow one: subscribes to a busy user, then stops reading its socket.
  const slow = await RawPeer.connect(srv.ws);
  assert.equal((await slow.login(APP, 'slow', srv.sig('slow'))).code, 0);
  const busy = await RawPeer.connect(srv.ws);
  assert.equal((await busy.login(APP, 'busy', srv.sig('busy'))).code, 0);
  assert.equal((await slow.request('subscribeUserStatus', { userIDList: ['busy'] })).code, 0);
  const watcher = await RawPeer.connect(srv.ws);
  assert.equal((await watcher.login(APP, 'watcher', srv.sig('watcher'))).code, 0);
  assert.equal((await watcher.request('subscribeUserStatus', { userIDList: ['slow'] })).code, 0);
  const socket = (slow.ws as unknown as { _socket: { pause(): void; resume(): void } })._socket;
  socket.pause();

  // The busy user flips its status until the server gives up on the slow reader.
  const pad = 'x'.repeat(90);
  const t0 = Date.now();
  const slowGone = watcher.next((f) => f.op === 'userStatusUpdated' && JSON.stringify(f.data).includes('"slow","statusType":2'));
  let i = 0;
  let gone = false;
  void slowGone.then(() => (gone = true));
  while (!gone && i < 200_000) {
    for (let k = 0; k < 500; k++) busy.sendRaw(JSON.stringify({ id: 1_000_000 + i++, op: 'setSelfStatus', customStatus: pad }));
    await new Promise((r) => setImmediate(r));
  }
  await slowGone;
  console.log(
    `slow consumer: closed after ${i} status changes (~${Math.round((i * 150) / 1024)} KiB of pushes owed to it) in ${Date.now() - t0} ms; bound 64 KiB plus socket buffers`,
  );
  const statusOfSlow = await watcher.request('getUserStatus', { userIDList: ['slow'] });
  assert.equal((statusOfSlow.data as { successUserList: Array<{ statusType: number }> }).successUserList[0]?.statusType, UserStatus.OFFLINE);
  // Once it reads again, it learns why it was closed.
  socket.resume();
  assert.equal((await slow.closed).code, CloseCode.SLOW_CONSUMER);
  // The busy user and the watcher still work.
  assert.equal((await busy.request('setSelfStatus', { customStatus: 'still fine' })).code, 0);
  busy.close();
  watcher.close();
});

test('S32 frames above four times the limit close the socket with 1009; the server keeps serving', async () => {
  const big = await RawPeer.connect(srv.ws);
  big.sendRaw('x'.repeat(16_384 * 4 + 1));
  assert.equal((await big.closed).code, 1009);
  const ok = await RawPeer.connect(srv.ws);
  assert.equal((await ok.login(APP, 'after-big', srv.sig('after-big'))).code, 0);
  ok.close();
});

test('S32 requests awaiting durable writes are bounded per connection (72006); refused ones change nothing', async () => {
  const ids = Array.from({ length: 200 }, (_, i) => `inflight-${i}`);
  const imp = await rest(srv, 'im_open_login_svc/multiaccount_import', { AccountList: ids.slice(0, 100).map((UserID) => ({ UserID })) });
  const imp2 = await rest(srv, 'im_open_login_svc/multiaccount_import', { AccountList: ids.slice(100).map((UserID) => ({ UserID })) });
  assert.equal(imp.ActionStatus, 'OK');
  assert.equal(imp2.ActionStatus, 'OK');
  const p = await RawPeer.connect(srv.ws);
  assert.equal((await p.login(APP, 'inflight-me', srv.sig('inflight-me'))).code, 0);
  const replies = await Promise.all(ids.map((id) => p.request('subscribeUserStatus', { userIDList: [id] })));
  const admitted = ids.filter((_, i) => replies[i]?.code === 0);
  const refused = replies.filter((r) => r.code === ErrorCode.TOO_MANY_IN_FLIGHT);
  assert.equal(admitted.length + refused.length, ids.length, 'every request got a reply: admitted or 72006');
  assert.ok(refused.length > 0, 'a burst of 200 passes the bound of 2');
  const sync = await p.request('syncStatus');
  const subscribed = (sync.data as { userList: Array<{ userID: string }> }).userList.map((u) => u.userID).filter((id) => id.startsWith('inflight-') && id !== 'inflight-me');
  assert.deepEqual(subscribed.sort(), admitted.sort(), 'only the admitted requests took effect');
  p.close();
});

test('S25 brute force: past the failed-ticket limit a bad ticket gets 70050 and its socket is closed (4011); a valid ticket still works, over the socket and REST', async () => {
  const guarded = await startServer({ server: { maxLoginFailuresPerMinute: 5 } });
  try {
    const p = await RawPeer.connect(guarded.ws);
    for (let i = 0; i < 5; i++) {
      const r = await p.request('login', { SDKAppID: APP, userID: 'bf', userSig: guarded.sig('bf', { SDKAppID: APP + 1 }) });
      assert.equal(r.code, ErrorCode.USERSIG_SDKAPPID_MISMATCH);
    }
    // The sixth bad ticket: 70050, whatever its own fault, and the failing socket is closed.
    const sixth = await p.request('login', { SDKAppID: APP, userID: 'bf', userSig: 'garbage' });
    assert.equal(sixth.code, ErrorCode.TOO_MANY_LOGIN_FAILURES);
    assert.equal((await p.closed).code, CloseCode.TOO_MANY_LOGIN_FAILURES);
    // The attacker's failures lock nobody out: a valid ticket for the same user, from the same
    // address, logs in; so does the admin's REST call.
    const valid = await RawPeer.connect(guarded.ws);
    assert.equal((await valid.login(APP, 'bf', guarded.sig('bf'))).code, 0);
    assert.equal((await rest(guarded, 'im_open_login_svc/account_check', { CheckItem: [{ UserID: 'bf' }] })).ActionStatus, 'OK');
    // REST counts the same way, for its own identity (the admin): five refusals with their code,
    // then 70050; the admin's valid ticket still works.
    const badRest = () => rest(guarded, 'im_open_login_svc/account_check', { CheckItem: [{ UserID: 'bf' }] }, { usersig: 'garbage' });
    for (let i = 0; i < 5; i++) assert.equal((await badRest()).ErrorCode, ErrorCode.USERSIG_DECODE_FAILED);
    assert.equal((await badRest()).ErrorCode, ErrorCode.TOO_MANY_LOGIN_FAILURES);
    assert.equal((await rest(guarded, 'im_open_login_svc/account_check', { CheckItem: [{ UserID: 'bf' }] })).ActionStatus, 'OK');
    valid.close();
  } finally {
    await guarded.stop();
  }
});

test('S25 brute force: the limit is per address and identity; five times as many failures close an address for every identity', async () => {
  const guarded = await startServer({ server: { maxLoginFailuresPerMinute: 2 } });
  try {
    const attempt = async (userID: string): Promise<number> => {
      const p = await RawPeer.connect(guarded.ws);
      const r = await p.request('login', { SDKAppID: APP, userID, userSig: 'garbage' });
      p.close();
      return r.code as number;
    };
    // Two failures for each of five users: every one answered with its own code (10 = 5 x 2).
    for (const u of ['u1', 'u2', 'u3', 'u4', 'u5']) {
      assert.equal(await attempt(u), ErrorCode.USERSIG_DECODE_FAILED);
      assert.equal(await attempt(u), ErrorCode.USERSIG_DECODE_FAILED);
    }
    // The address is now past 5 x 2 failures: a bad ticket for a fresh identity gets 70050 ...
    assert.equal(await attempt('u6'), ErrorCode.TOO_MANY_LOGIN_FAILURES);
    // ... and a valid one still logs in.
    const ok = await RawPeer.connect(guarded.ws);
    assert.equal((await ok.login(APP, 'u6', guarded.sig('u6'))).code, 0);
    ok.close();
  } finally {
    await guarded.stop();
  }
});

test('S25 behind a trusted proxy the guard counts the client named by X-Forwarded-For; from anyone else the header is ignored', async () => {
  const proxied = await startServer({ server: { maxLoginFailuresPerMinute: 2, trustedProxies: ['127.0.0.0/8'] } });
  const untrusted = await startServer({ server: { maxLoginFailuresPerMinute: 2 } });
  try {
    const bad = async (srvX: TestServer, client: string, userID = 'px'): Promise<number> => {
      const p = await RawPeer.connect(srvX.ws, { 'x-forwarded-for': client });
      const r = await p.request('login', { SDKAppID: APP, userID, userSig: 'garbage' });
      p.close();
      return r.code as number;
    };
    // Client A uses up its failures; client B, behind the same proxy, is not affected.
    assert.equal(await bad(proxied, '198.51.100.1'), ErrorCode.USERSIG_DECODE_FAILED);
    assert.equal(await bad(proxied, '198.51.100.1'), ErrorCode.USERSIG_DECODE_FAILED);
    assert.equal(await bad(proxied, '198.51.100.1'), ErrorCode.TOO_MANY_LOGIN_FAILURES);
    assert.equal(await bad(proxied, '198.51.100.2'), ErrorCode.USERSIG_DECODE_FAILED);
    // A spoofed entry to the left of what the proxy appended changes nothing.
    assert.equal(await bad(proxied, '203.0.113.9, 198.51.100.1'), ErrorCode.TOO_MANY_LOGIN_FAILURES);
    // Without trustedProxies the header is the client's own word: both "clients" are one address.
    assert.equal(await bad(untrusted, '198.51.100.1'), ErrorCode.USERSIG_DECODE_FAILED);
    assert.equal(await bad(untrusted, '198.51.100.2'), ErrorCode.USERSIG_DECODE_FAILED);
    assert.equal(await bad(untrusted, '198.51.100.3'), ErrorCode.TOO_MANY_LOGIN_FAILURES);
  } finally {
    await Promise.all([proxied.stop(), untrusted.stop()]);
  }
});

test('S32 per-address connection limit: past it the socket is closed with 4009', async () => {
  const capped = await startServer({ server: { maxConnectionsPerIp: 3 } });
  try {
    const peers = await Promise.all([1, 2, 3].map(() => RawPeer.connect(capped.ws)));
    const fourth = await RawPeer.connect(capped.ws);
    assert.equal((await fourth.closed).code, CloseCode.TOO_MANY_CONNECTIONS);
    peers[0]!.close();
    await peers[0]!.closed;
    // The server frees the slot when its side of the socket closes, a moment after ours.
    let again = await RawPeer.connect(capped.ws);
    for (let i = 0; i < 50; i++) {
      const r = await Promise.race([again.login(APP, 'cap', capped.sig('cap')), again.closed]);
      if ('op' in r && r.code === 0) break;
      again = await RawPeer.connect(capped.ws);
    }
    assert.equal(again.ws.readyState, again.ws.OPEN, 'a freed slot admits a new socket');
    for (const p of [...peers.slice(1), again]) p.close();
  } finally {
    await capped.stop();
  }
});

/** The listen backlog the kernel gives the server's socket (`ss`: Send-Q of a listening socket). */
function listenBacklogOf(url: string): number {
  const port = new URL(url).port;
  const out = execFileSync('ss', ['-Hltn', `sport = :${port}`], { encoding: 'utf8' }).trim();
  const cols = out.split(/\s+/);
  assert.equal(cols[0], 'LISTEN', `ss: ${out}`);
  return Number(cols[2]);
}

test('a login storm is queued by the kernel: the listen backlog is listenBacklog (4096 by default), not Node’s 511', async () => {
  const somaxconn = Number(readFileSync('/proc/sys/net/core/somaxconn', 'utf8'));
  assert.ok(somaxconn > 511, `net.core.somaxconn is ${somaxconn}: the kernel would cap any backlog at or below Node's default`);
  assert.equal(listenBacklogOf(srv.http), Math.min(4096, somaxconn));
  const small = await startServer({ server: { listenBacklog: 600 } });
  try {
    assert.equal(listenBacklogOf(small.http), 600);
  } finally {
    await small.stop();
  }
});
