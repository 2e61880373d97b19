/** SDK instances for end-to-end tests, with awaitable event logs and registered teardown. */
import Presently, { type PresentlyClient } from '@presently/client';
import type { Platform, UserStatusInfo } from '@presently/protocol';
import { APP, type TestServer } from './server.js';

export interface Watched {
  client: PresentlyClient;
  userID: string;
  /** Every USER_STATUS_UPDATED item received, in order. */
  updates: UserStatusInfo[];
  kicks: string[];
  netStates: string[];
  /**
   * Resolves with the first update that matches and no earlier waitFor took; rejects after
   * WAIT_MS naming what it waited for and what came (a missed event fails fast, not silently).
   */
  waitFor(pred: (s: UserStatusInfo) => boolean): Promise<UserStatusInfo>;
  waitKick(): Promise<string>;
  /** Resolves when the network state becomes `state` after this call. */
  waitNet(state: string): Promise<void>;
}

const live = new Set<PresentlyClient>();

/** How long a wait of this helper lasts before it fails saying what it waited for, ms. */
export const WAIT_MS = 30_000;

/** What a predicate made by `is()` waits for (shown when a wait fails). */
const described = new WeakMap<(s: UserStatusInfo) => boolean, string>();

/** Destroys every instance made by `sdk()`; call it in `after`/`afterEach`. */
export async function destroyAll(): Promise<void> {
  await Promise.all([...live].map((c) => c.destroy().catch(() => undefined)));
  live.clear();
}

export function watch(client: PresentlyClient, userID: string): Watched {
  const updates: UserStatusInfo[] = [];
  const kicks: string[] = [];
  const netStates: string[] = [];
  let listeners: Array<() => void> = [];
  const notify = () => {
    for (const l of [...listeners]) l();
  };
  const consumed = new Set<number>();
  client.on(Presently.EVENT.USER_STATUS_UPDATED, (e) => {
    updates.push(...e.data);
    notify();
  });
  client.on(Presently.EVENT.KICKED_OUT, (e) => {
    kicks.push(e.data.type);
    notify();
  });
  client.on(Presently.EVENT.NET_STATE_CHANGE, (e) => {
    netStates.push(e.data.state);
    notify();
  });
  const until = <T>(check: () => T | undefined, what: () => string): Promise<T> =>
    new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        listeners = listeners.filter((l) => l !== run);
        reject(
          new Error(
            `${userID}: no ${what()} within ${WAIT_MS} ms; updates: ${JSON.stringify(updates.slice(-10))}, kicks: ${JSON.stringify(kicks)}, net: ${JSON.stringify(netStates)}`,
          ),
        );
      }, WAIT_MS);
      const tryNow = () => {
        const v = check();
        if (v === undefined) return false;
        clearTimeout(timer);
        listeners = listeners.filter((l) => l !== run);
        resolve(v);
        return true;
      };
      const run = () => void tryNow();
      if (!tryNow()) listeners.push(run);
    });
  return {
    client,
    userID,
    updates,
    kicks,
    netStates,
    waitFor: (pred) =>
      until(
        () => {
          for (let i = 0; i < updates.length; i++) {
            const u = updates[i]!;
            if (!consumed.has(i) && pred(u)) {
              consumed.add(i);
              return u;
            }
          }
          return undefined;
        },
        () => `update matching ${described.get(pred) ?? 'the predicate'}`,
      ),
    waitKick: () =>
      until(
        () => kicks[0],
        () => 'kick',
      ),
    waitNet: (state) => {
      const from = netStates.length;
      return until(
        () => (netStates.indexOf(state, from) >= 0 ? true : undefined),
        () => `network state ${state}`,
      ).then(() => undefined);
    },
  };
}

/** A new SDK instance logged in as `userID`. */
export async function sdk(srv: TestServer, userID: string, opts: { platform?: Platform; url?: string; sig?: string; SDKAppID?: number } = {}): Promise<Watched> {
  const client = Presently.create({
    SDKAppID: opts.SDKAppID ?? APP,
    url: opts.url ?? srv.ws,
    platform: opts.platform ?? 'Web',
    backoffBaseMs: 50,
    backoffCapMs: 500,
    logger: process.env.SDK_DEBUG ? (m, f) => console.error('[sdk]', userID, m, JSON.stringify(f ?? {})) : undefined,
  });
  live.add(client);
  const w = watch(client, userID);
  // SDK_READY follows the login promise (the hosted SDK's order): wait for it too.
  const ready = new Promise<void>((resolve) => client.on(Presently.EVENT.SDK_READY, () => resolve()));
  await client.login({ userID, userSig: opts.sig ?? srv.sig(userID) });
  await ready;
  return w;
}

/** A status predicate; a wait for it that fails names it. */
export const is = (userID: string, statusType: number, customStatus?: string): ((s: UserStatusInfo) => boolean) => {
  const pred = (s: UserStatusInfo): boolean => s.userID === userID && s.statusType === statusType && (customStatus === undefined || s.customStatus === customStatus);
  described.set(pred, JSON.stringify({ userID, statusType, ...(customStatus === undefined ? {} : { customStatus }) }));
  return pred;
};
