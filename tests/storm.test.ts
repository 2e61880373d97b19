/**
 * Reconnect storm (hardening issue): N sessions (10,000 by default; STORM_SESSIONS) dropped at
 * once by a server restart come back with the SDK's jitter. The server admits them without its
 * event loop stalling (delay reported from /metrics), and each watched user changes status at
 * most twice for its watchers (OFFLINE, then ONLINE), ending ONLINE.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import Presently, { type PresentlyClient } from '@presently/client';
import type { UserStatusInfo } from '@presently/protocol';
import { APP, appConfig, startServer, type TestServer } from './helpers/server.js';

const N = Number(process.env.STORM_SESSIONS ?? 10_000);
const PER_WATCHER = 200;
const servers: TestServer[] = [];
const clients: PresentlyClient[] = [];
after(async () => {
  await Promise.all(clients.map((c) => c.destroy().catch(() => undefined)));
  for (const s of servers) await s.stop();
});

async function pool<T>(items: T[], width: number, fn: (t: T) => Promise<void>): Promise<void> {
  let i = 0;
  await Promise.all(
    Array.from({ length: width }, async () => {
      while (i < items.length) await fn(items[i++]!);
    }),
  );
}

/** One scrape (prom-client resets the event-loop histogram when it is read). */
async function metrics(srv: TestServer, names: string[]): Promise<number[]> {
  const text = await (await fetch(`${srv.http}/metrics`)).text();
  return names.map((name) => {
    const m = new RegExp(`^${name} ([0-9.e+-]+)$`, 'm').exec(text);
    return m ? Number(m[1]) : NaN;
  });
}

test(`S3 S23 reconnect storm: ${N} sessions dropped at once come back; watchers see at most OFFLINE then ONLINE`, { timeout: 240_000 }, async () => {
  const srv = await startServer({ apps: [appConfig({ limits: { rateLimitCalls: 1000 } })] });
  servers.push(srv);
  const users = Array.from({ length: N }, (_, i) => `storm${i}`);
  const connected = new Map<PresentlyClient, number>();
  let reconnects = 0;
  const make = (userID: string) => {
    const c = Presently.create({ SDKAppID: APP, url: srv.ws, platform: 'Android', connectTimeoutMs: 20_000, requestTimeoutMs: 60_000 });
    clients.push(c);
    c.on(Presently.EVENT.NET_STATE_CHANGE, (e) => {
      if (e.data.state === 'connected') {
        connected.set(c, (connected.get(c) ?? 0) + 1);
        reconnects++;
      }
    });
    return { c, userID };
  };
  const members = users.map(make);
  const t0 = Date.now();
  await pool(members, 500, async ({ c, userID }) => {
    await c.login({ userID, userSig: srv.sig(userID) });
  });
  const firstLoginMs = Date.now() - t0;

  // Watchers: each subscribes to 200 of the users and records every change it is told of.
  const seen = new Map<string, number[]>();
  const watchers: PresentlyClient[] = [];
  for (let w = 0; w * PER_WATCHER < N; w++) {
    const c = make(`storm-watcher${w}`).c;
    await c.login({ userID: `storm-watcher${w}`, userSig: srv.sig(`storm-watcher${w}`) });
    const mine = users.slice(w * PER_WATCHER, (w + 1) * PER_WATCHER);
    await c.subscribeUserStatus({ userIDList: mine.slice(0, 100) });
    await c.subscribeUserStatus({ userIDList: mine.slice(100) });
    await c.getUserStatus({ userIDList: mine }); // what the app was last told: all ONLINE
    c.on(Presently.EVENT.USER_STATUS_UPDATED, (e) => {
      for (const s of e.data)
        if (s.userID.startsWith('storm') && !s.userID.startsWith('storm-w')) {
          const list = seen.get(s.userID) ?? [];
          list.push(s.statusType);
          seen.set(s.userID, list);
        }
    });
    watchers.push(c);
  }
  const total = members.length + watchers.length;
  const baseline = reconnects;

  // Drop everything at once: the server restarts on the same port.
  await srv.stop({ keepData: true });
  const t1 = Date.now();
  const again = await srv.restart({ samePort: true });
  servers.push(again);
  await metrics(again, []); // reading the event-loop histogram resets it: measure the storm alone
  while (reconnects - baseline < total) await new Promise((r) => setTimeout(r, 100));
  const stormMs = Date.now() - t1;
  // Let the last pushes land: a marker change of each watcher's own is the last frame it needs.
  await Promise.all(
    watchers.map(async (w) => {
      const got = new Promise<void>((resolve) => {
        const h = (e: { data: UserStatusInfo[] }) => {
          if (e.data.some((s) => s.customStatus === 'end')) {
            w.off(Presently.EVENT.USER_STATUS_UPDATED, h);
            resolve();
          }
        };
        w.on(Presently.EVENT.USER_STATUS_UPDATED, h);
      });
      await w.setSelfStatus({ customStatus: 'end' });
      await got;
    }),
  );

  const [lagP99 = NaN, lagMax = NaN] = await metrics(again, ['presently_nodejs_eventloop_lag_p99_seconds', 'presently_nodejs_eventloop_lag_max_seconds']);
  let twice = 0;
  for (const u of users) {
    const changes = seen.get(u) ?? [];
    assert.ok(changes.length <= 2, `${u} changed ${changes.length} times: ${changes.join(',')}`);
    if (changes.length === 2) {
      twice++;
      assert.deepEqual(changes, [Presently.TYPES.USER_STATUS_OFFLINE, Presently.TYPES.USER_STATUS_ONLINE], u);
    }
    if (changes.length === 1) assert.equal(changes[0], Presently.TYPES.USER_STATUS_ONLINE, u);
  }
  // Everyone is back ONLINE, as a watcher can read it.
  for (let w = 0; w < watchers.length; w++) {
    const mine = users.slice(w * PER_WATCHER, (w + 1) * PER_WATCHER);
    const r = await watchers[w]!.getUserStatus({ userIDList: mine });
    for (const s of r.data.successUserList) assert.equal(s.statusType, Presently.TYPES.USER_STATUS_ONLINE, s.userID);
  }
  console.log(
    `storm: ${total} sessions (first login ${firstLoginMs} ms); after the restart all back in ${stormMs} ms; ` +
      `event-loop delay p99 ${(lagP99 * 1000).toFixed(1)} ms, max ${(lagMax * 1000).toFixed(1)} ms; ` +
      `${twice} users seen OFFLINE then ONLINE, ${N - twice} seen at most once`,
  );
});
