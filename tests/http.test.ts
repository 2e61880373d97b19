/**
 * The HTTP side against strangers (hardening): a REST body is read only once its caller proved it
 * is an admin, and never past the limit; a request that trickles in is cut at the deadline; open
 * HTTP connections per address are capped (WebSocket upgrades aside).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { APP, startServer, type TestServer } from './helpers/server.js';
import { RawPeer } from './helpers/raw.js';

let srv: TestServer;
before(async () => {
  srv = await startServer({ server: { httpRequestTimeoutMs: 1500, maxHttpConnectionsPerIp: 4 } });
});
after(async () => {
  await srv.stop();
});

/** A raw HTTP/1.1 client: what it wrote, and everything it got until the server closed. */
async function rawHttp(head: string, body: Buffer | string): Promise<{ socket: Socket; response: Promise<string>; written: () => number }> {
  const { port } = new URL(srv.http);
  const socket = connect(Number(port), '127.0.0.1');
  await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
  let written = 0;
  socket.write(head);
  socket.write(body, () => (written += Buffer.byteLength(body)));
  const response = new Promise<string>((resolve) => {
    let text = '';
    socket.on('data', (d: Buffer) => (text += d.toString()));
    socket.on('close', () => resolve(text));
  });
  return { socket, response, written: () => written };
}

test('a stranger\u2019s REST body is not read: a 30 MB upload gets its refusal at once and the connection closes', { timeout: 20_000 }, async () => {
  const q = `sdkappid=${APP}&identifier=administrator&usersig=garbage&random=1&contenttype=json`;
  const { socket, response } = await rawHttp(
    `POST /v4/im_open_login_svc/account_import?${q} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 30000000\r\n\r\n`,
    '{"UserID":"x", "pad":"',
  );
  // Only the head and 22 bytes were sent; the reply (and the close) come without the other 30 MB.
  const text = await response;
  assert.match(text, /^HTTP\/1\.1 200 /);
  assert.match(text, /connection: close/i);
  assert.match(text, /"ErrorCode":70005/);
  socket.destroy();
});

test('an admin\u2019s REST body past the 1 MB limit is refused (60003) and not read to its end', { timeout: 20_000 }, async () => {
  const q = `sdkappid=${APP}&identifier=administrator&usersig=${encodeURIComponent(srv.sig('administrator'))}&random=1&contenttype=json`;
  const chunk = Buffer.alloc(1024 * 1024 + 64 * 1024, 'a');
  const { socket, response } = await rawHttp(
    `POST /v4/im_open_login_svc/account_import?${q} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 30000000\r\n\r\n`,
    chunk,
  );
  const text = await response;
  assert.match(text, /"ErrorCode":60003/);
  assert.match(text, /body too large/);
  socket.destroy();
});

test('a request that trickles in is cut at the request deadline (408), whatever it sends', { timeout: 20_000 }, async () => {
  const q = `sdkappid=${APP}&identifier=administrator&usersig=${encodeURIComponent(srv.sig('administrator'))}&random=1`;
  const { socket, response } = await rawHttp(`POST /v4/im_open_login_svc/account_check?${q} HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n`, '{');
  const drip = setInterval(() => socket.write(' '), 200);
  try {
    const text = await response;
    assert.match(text, /^HTTP\/1\.1 408 /);
  } finally {
    clearInterval(drip);
  }
});

test('open HTTP connections per address are capped (429); WebSocket handshakes do not count against it', { timeout: 20_000 }, async () => {
  const { port } = new URL(srv.http);
  const open = (): Promise<Socket> =>
    new Promise((resolve) => {
      const s = connect(Number(port), '127.0.0.1', () => resolve(s));
      s.on('error', () => undefined); // a refused connection may be reset: its close is what we await
    });
  const get = (s: Socket): Promise<string> =>
    new Promise((resolve) => {
      let text = '';
      const done = (): void => resolve(text);
      s.on('data', (d: Buffer) => {
        text += d.toString();
        if (text.includes('\r\n\r\n')) done();
      });
      s.once('close', done);
      s.write('GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n');
    });
  // More WebSockets than the cap: handshakes are not counted.
  const sockets = await Promise.all([1, 2, 3, 4, 5, 6].map(() => RawPeer.connect(srv.ws)));
  assert.equal((await sockets[0]!.login(APP, 'http-cap', srv.sig('http-cap'))).code, 0);
  // Four keep-alive HTTP connections are served; the fifth is refused with 429 and closed.
  const held = await Promise.all([open(), open(), open(), open()]);
  for (const s of held) assert.match(await get(s), /^HTTP\/1\.1 200 /);
  const fifth = await open();
  assert.match(await get(fifth), /^HTTP\/1\.1 429 /);
  // Closing one frees its slot.
  held[0].destroy();
  await new Promise<void>((resolve) => held[0].once('close', () => resolve()));
  let admitted: Socket | null = null;
  for (let i = 0; i < 50 && !admitted; i++) {
    const s = await open();
    if (/^HTTP\/1\.1 200 /.test(await get(s))) admitted = s;
    else s.destroy();
  }
  assert.ok(admitted, 'a freed slot admits a new connection');
  for (const s of [...held.slice(1), admitted, fifth]) s.destroy();
  for (const w of sockets) w.close();
});
