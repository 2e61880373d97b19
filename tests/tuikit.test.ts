/**
 * TUIKit's engine (`@tencentcloud/chat-uikit-engine`, the official package) driving a Presently
 * instance against a real server: login settles, the online-status switch follows the app's
 * edition and switches, `switchUserStatus`, `TUIUserService.getUserStatus` / `subscribeUserStatus`
 * and the pushes reach its store (docs/migrating.md, "TUIKit").
 *
 * The engine is one module-wide singleton bound to the first chat it is given, so the tests run
 * in order in this file: the basic-edition app first, ended with `TUIChatEngine.destroy()` while
 * logged in (which unbinds it), then the premium app, ended with `TUIChatEngine.logout()`.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import Presently from '@presently/client';
import { TUIChatEngine, TUIStore, TUIUserService, StoreName } from '@tencentcloud/chat-uikit-engine';
import { APP, appConfig, startServer, type TestServer } from './helpers/server.js';
import { destroyAll, is, sdk } from './helpers/sdk.js';
import { rest } from './helpers/rest.js';

const BASIC_APP = APP + 1;
const T = { timeout: 30_000 };

// The engine keeps its switches with the browser's storage test `navigator.cookieEnabled`;
// Node 20 has no `navigator` (Node 21+ has one). Without cookies nothing is persisted.
const g = globalThis as { navigator?: unknown };
g.navigator ??= { cookieEnabled: false };

let srv: TestServer;
before(async () => {
  srv = await startServer({ apps: [appConfig(), appConfig({ SDKAppID: BASIC_APP, edition: 'basic' })] });
});
after(async () => {
  await destroyAll();
  await srv.stop();
});

type StatusMap = Map<string, { statusType: number; customStatus: string }>;

/** Resolves when a store key's value satisfies `pred` (TUIStore.watch calls at once, then on every update). */
function storeValue<V>(store: StoreName, key: string, pred: (value: V) => boolean): Promise<V> {
  return new Promise((resolve) => {
    const watcher = (value: unknown): void => {
      if (!pred(value as V)) return;
      // Unwatch after the store has finished calling its watchers.
      queueMicrotask(() => TUIStore.unwatch(store, { [key]: watcher }));
      resolve(value as V);
    };
    TUIStore.watch(store, { [key]: watcher });
  });
}

const statusIn = (userID: string, statusType: number, customStatus: string) => (m: StatusMap) => {
  const s = m.get(userID);
  return s !== undefined && s.statusType === statusType && s.customStatus === customStatus;
};

test('TUIKit on a basic-edition app: login settles, the online-status switch stays off, destroy unbinds', T, async () => {
  const chat = Presently.create({ SDKAppID: BASIC_APP, url: srv.ws });
  const sig = srv.sig('tk-basic', { SDKAppID: BASIC_APP });
  const res: unknown = await TUIChatEngine.login({ chat, SDKAppID: BASIC_APP, userID: 'tk-basic', userSig: sig });
  assert.equal((res as { data: { repeatLogin: boolean } }).data.repeatLogin, false);
  assert.equal(chat.isReady(), true);
  // isCommercialAbilityEnabled(2^7) answers from the app: basic edition, no user status (S13).
  assert.equal(await storeValue<boolean>(StoreName.APP, 'enabledOnlineStatus', (v) => v === false), false);
  const ability = await chat.callExperimentalAPI('isCommercialAbilityEnabled', 2 ** 7);
  assert.deepEqual(ability, { code: 0, data: { enabled: false } });
  await TUIChatEngine.destroy();
  assert.equal(chat.isReady(), false);
});

test('TUIKit on a premium app: online status switches on, queries, subscriptions and pushes reach TUIStore, logout ends the session', T, async () => {
  const bob = await sdk(srv, 'tk-bob');
  await bob.client.setSelfStatus({ customStatus: 'coding' });
  for (const UserID of ['tk-carol', 'tk-alice']) {
    assert.equal((await rest(srv, 'im_open_login_svc/account_import', { UserID })).ActionStatus, 'OK');
  }
  const watcher = await sdk(srv, 'tk-watcher');
  await watcher.client.subscribeUserStatus({ userIDList: ['tk-alice'] });

  const chat = Presently.create({ SDKAppID: APP, url: srv.ws });
  const res: unknown = await TUIChatEngine.login({ chat, SDKAppID: APP, userID: 'tk-alice', userSig: srv.sig('tk-alice') });
  assert.equal((res as { data: { repeatLogin: boolean } }).data.repeatLogin, false);
  await watcher.waitFor(is('tk-alice', Presently.TYPES.USER_STATUS_ONLINE));
  assert.equal(await storeValue<boolean>(StoreName.APP, 'enabledOnlineStatus', (v) => v === true), true);
  const profile = await storeValue<{ userID?: string }>(StoreName.USER, 'userProfile', (p) => p?.userID === 'tk-alice');
  assert.equal(profile.userID, 'tk-alice');

  // The switch on; the engine then follows the one-to-one conversations it knows of. Presently has
  // no conversations: an app that feeds TUIKit its own list gets statuses for those peers.
  TUIUserService.switchUserStatus({ displayOnlineStatus: true });
  assert.equal(TUIStore.getData(StoreName.USER, 'displayOnlineStatus'), true);
  TUIStore.update(StoreName.CONV, 'conversationList', [{ conversationID: 'C2Ctk-bob', type: 'C2C' }]);
  await storeValue<StatusMap>(StoreName.USER, 'userStatusList', statusIn('tk-bob', 1, 'coding'));

  // The service calls an app makes for its own user list.
  const got = (await TUIUserService.getUserStatus({ userIDList: ['tk-carol', 'tk-nobody'] })) as {
    data: { successUserList: unknown[]; failureUserList: Array<{ userID: string; code: number }> };
  };
  assert.deepEqual(got.data.successUserList, [{ userID: 'tk-carol', statusType: 3, customStatus: '' }]);
  assert.deepEqual(
    got.data.failureUserList.map((f) => [f.userID, f.code]),
    [['tk-nobody', 70107]],
  );
  await storeValue<StatusMap>(StoreName.USER, 'userStatusList', statusIn('tk-carol', 3, ''));
  await TUIUserService.subscribeUserStatus({ userIDList: ['tk-carol'] });

  // Pushes: carol logs in, bob changes his custom status.
  await sdk(srv, 'tk-carol');
  await storeValue<StatusMap>(StoreName.USER, 'userStatusList', statusIn('tk-carol', 1, ''));
  await bob.client.setSelfStatus({ customStatus: 'in a meeting' });
  await storeValue<StatusMap>(StoreName.USER, 'userStatusList', statusIn('tk-bob', 1, 'in a meeting'));

  await TUIChatEngine.logout();
  assert.equal(chat.isReady(), false);
  await watcher.waitFor(is('tk-alice', Presently.TYPES.USER_STATUS_UNLOGINED));
  await chat.destroy();
});
