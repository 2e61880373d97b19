/**
 * Crash safety (hardening issue): kill -9 of the server in the middle of a write-heavy run.
 * After the restart, every acknowledged friendship, subscription and login state is there, and
 * nothing appears that was never asked for. "Nothing acknowledged is ever lost."
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { UserStatus } from '@presently/protocol';
import { APP, appConfig, startServer, type TestServer } from './helpers/server.js';
import { RawPeer } from './helpers/raw.js';
import { rest } from './helpers/rest.js';

const servers: TestServer[] = [];
after(async () => {
  for (const s of servers) await s.stop();
});

test('S3 S4 S16 kill -9 during a write-heavy run loses nothing acknowledged', async () => {
  const srv = await startServer({ apps: [appConfig({ limits: { rateLimitCalls: 100_000, maxSubscriptions: 100_000 } })] });
  const targets = Array.from({ length: 100 }, (_, i) => `t${i}`);
  assert.equal((await rest(srv, 'im_open_login_svc/multiaccount_import', { AccountList: targets.map((UserID) => ({ UserID })) })).ActionStatus, 'OK');

  const ackedSubs = new Set<string>();
  const sentSubs = new Set<string>();
  const ackedFriends = new Set<string>();
  const sentFriends = new Set<string>();
  const loggedIn = new Set<string>(); // acknowledged logins never logged out: must be OFFLINE after
  const loggedOut = new Set<string>(); // acknowledged logouts: must be UNLOGINED after
  const logoutSent = new Set<string>(); // logouts in flight at the kill: either outcome is right
  let stop = false;

  const subscriber = async (n: number) => {
    const p = await RawPeer.connect(srv.ws);
    const me = `sub${n}`;
    if ((await p.login(APP, me, srv.sig(me))).code !== 0) return;
    loggedIn.add(me);
    for (let i = 0; !stop; i++) {
      const key = `${me}>${targets[i % targets.length]}`;
      sentSubs.add(key);
      const r = await Promise.race([p.request('subscribeUserStatus', { userIDList: [targets[i % targets.length]] }), p.closed]);
      if ('code' in r && r.code === 0 && !('reason' in r)) ackedSubs.add(key);
      else return;
    }
  };
  const befriender = async () => {
    for (let i = 0; !stop; i++) {
      const from = targets[i % 50]!;
      const to = targets[50 + ((i + Math.floor(i / 50)) % 50)]!;
      const key = `${from}>${to}`;
      sentFriends.add(key);
      try {
        const r = await rest(srv, 'sns/friend_add', { From_Account: from, AddFriendItem: [{ To_Account: to }], AddType: 'Add_Type_Single' });
        const item = (r.ResultItem as Array<{ ResultCode: number }> | undefined)?.[0];
        if (r.ActionStatus === 'OK' && item && (item.ResultCode === 0 || item.ResultCode === 30001)) ackedFriends.add(key);
      } catch {
        return; // the server died mid-request
      }
    }
  };
  const churner = async (n: number) => {
    for (let i = 0; !stop; i++) {
      const me = `churn${n}-${i}`;
      const p = await RawPeer.connect(srv.ws).catch(() => null);
      if (!p) return;
      const r = await Promise.race([p.login(APP, me, srv.sig(me)), p.closed]);
      if (!('code' in r) || r.code !== 0 || 'reason' in r) return;
      loggedIn.add(me);
      if (i % 2 === 0) {
        logoutSent.add(me);
        const o = await Promise.race([p.request('logout'), p.closed]);
        if ('code' in o && o.code === 0 && !('reason' in o)) {
          loggedIn.delete(me);
          loggedOut.add(me);
        }
      }
    }
  };

  const workers = [subscriber(1), subscriber(2), subscriber(3), befriender(), befriender(), churner(1), churner(2)];
  // Let the writes run until enough have been acknowledged, then pull the plug.
  while (ackedSubs.size < 300 || ackedFriends.size < 100 || loggedOut.size < 20) await new Promise((r) => setTimeout(r, 20));
  await srv.stop({ kill: true, keepData: true });
  stop = true;
  await Promise.allSettled(workers);

  const again = await srv.restart();
  servers.push(again);
  // Subscriptions: every acknowledged one is there; none that was never sent.
  const subsFound = new Set<string>();
  for (const n of [1, 2, 3]) {
    const p = await RawPeer.connect(again.ws);
    assert.equal((await p.login(APP, `sub${n}`, again.sig(`sub${n}`))).code, 0);
    const sync = await p.request('syncStatus');
    for (const u of (sync.data as { userList: Array<{ userID: string }> }).userList) if (u.userID !== `sub${n}`) subsFound.add(`sub${n}>${u.userID}`);
    p.close();
  }
  for (const k of ackedSubs) assert.ok(subsFound.has(k), `acknowledged subscription ${k} lost`);
  for (const k of subsFound) assert.ok(sentSubs.has(k), `phantom subscription ${k}`);
  // Friendships.
  const friendsFound = new Set<string>();
  for (const from of targets.slice(0, 50)) {
    const r = await rest(again, 'sns/friend_get', { From_Account: from, StartIndex: 0 });
    for (const f of (r.UserDataItem as Array<{ To_Account: string }>) ?? []) friendsFound.add(`${from}>${f.To_Account}`);
  }
  for (const k of ackedFriends) assert.ok(friendsFound.has(k), `acknowledged friendship ${k} lost`);
  for (const k of friendsFound) assert.ok(sentFriends.has(k), `phantom friendship ${k}`);
  // Login states: acknowledged logins are OFFLINE (not UNLOGINED), acknowledged logouts UNLOGINED.
  const ids = [...loggedIn].filter((id) => id.startsWith('churn')).concat([...loggedOut]);
  const checker = await RawPeer.connect(again.ws);
  assert.equal((await checker.login(APP, 'checker', again.sig('checker'))).code, 0);
  for (let i = 0; i < ids.length; i += 500) {
    const r = await checker.request('getUserStatus', { userIDList: ids.slice(i, i + 500) });
    assert.equal(r.code, 0, JSON.stringify(r));
    for (const s of (r.data as { successUserList: Array<{ userID: string; statusType: number }> }).successUserList) {
      if (loggedOut.has(s.userID)) assert.equal(s.statusType, UserStatus.UNLOGINED, s.userID);
      else if (logoutSent.has(s.userID)) assert.ok([UserStatus.OFFLINE, UserStatus.UNLOGINED].includes(s.statusType as 2 | 3), s.userID);
      else assert.equal(s.statusType, UserStatus.OFFLINE, s.userID);
    }
    assert.deepEqual((r.data as { failureUserList: unknown[] }).failureUserList, [], 'every acknowledged login made its account');
  }
  checker.close();
  console.log(
    `crash: acknowledged ${ackedSubs.size} subscriptions, ${ackedFriends.size} friendships, ${loggedIn.size} logins, ${loggedOut.size} logouts before kill -9; all found`,
  );
});
