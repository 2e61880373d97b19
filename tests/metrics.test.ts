/** Operations: /metrics in Prometheus format reflects connections, sessions, statuses and deliveries. */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { APP, startServer, type TestServer } from './helpers/server.js';
import { RawPeer } from './helpers/raw.js';

const TOKEN = 'metrics-token-0123456789';
let srv: TestServer;
before(async () => {
  // Per-app series, behind a token (docs/security.md).
  srv = await startServer({ server: { metricsPerApp: true }, env: { PRESENTLY_METRICS_TOKEN: TOKEN } });
});
after(async () => {
  await srv.stop();
});

async function scrape(target = srv, token: string | undefined = TOKEN): Promise<Map<string, number>> {
  const res = await fetch(`${target.http}/metrics`, token === undefined ? {} : { headers: { authorization: `Bearer ${token}` } });
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type') ?? '', /text\/plain/);
  const out = new Map<string, number>();
  for (const line of (await res.text()).split('\n')) {
    const m = /^([a-z0-9_]+(?:\{[^}]*\})?) ([0-9.e+-]+)$/.exec(line);
    if (m) out.set(m[1]!, Number(m[2]));
  }
  return out;
}

test('S1 S20 /metrics counts connections, sessions per app, users per status and notifications', async () => {
  const a = await RawPeer.connect(srv.ws);
  assert.equal((await a.login(APP, 'm-a', srv.sig('m-a'))).code, 0);
  const b = await RawPeer.connect(srv.ws);
  assert.equal((await b.login(APP, 'm-b', srv.sig('m-b'))).code, 0);
  assert.equal((await b.request('subscribeUserStatus', { userIDList: ['m-a'] })).code, 0);
  const before = await scrape();
  assert.equal(before.get('presently_connections'), 2);
  assert.equal(before.get(`presently_sessions{app="${APP}"}`), 2);
  assert.equal(before.get(`presently_users{app="${APP}",status="online"}`), 2);
  assert.ok(before.has('presently_nodejs_eventloop_lag_p99_seconds'), 'event-loop delay is exported');
  assert.equal((await a.request('setSelfStatus', { customStatus: 'x' })).code, 0);
  await b.next((f) => f.op === 'userStatusUpdated');
  const after1 = await scrape();
  // One change, two receiver sessions (m-a itself and its subscriber m-b).
  assert.equal((after1.get('presently_notifications_total') ?? 0) - (before.get('presently_notifications_total') ?? 0), 2);
  a.ws.terminate();
  await b.next((f) => f.op === 'userStatusUpdated' && JSON.stringify(f.data).includes('"statusType":2'));
  const after2 = await scrape();
  assert.equal(after2.get(`presently_users{app="${APP}",status="offline"}`), 1);
  b.close();
});

test('/metrics: behind the token when one is set (401 otherwise); without metricsPerApp no series names an app', async () => {
  for (const headers of [{}, { authorization: 'Bearer wrong' }, { authorization: `Bearer ${TOKEN}x` }] as Array<Record<string, string>>) {
    assert.equal((await fetch(`${srv.http}/metrics`, { headers })).status, 401);
  }
  const plain = await startServer();
  try {
    const p = await RawPeer.connect(plain.ws);
    assert.equal((await p.login(APP, 'm-plain', plain.sig('m-plain'))).code, 0);
    const m = await scrape(plain, undefined);
    assert.equal(m.get('presently_sessions'), 1);
    assert.equal(m.get('presently_users{status="online"}'), 1);
    assert.ok(![...m.keys()].some((k) => k.includes('app=')), 'no series carries an app label');
    p.close();
  } finally {
    await plain.stop();
  }
});
