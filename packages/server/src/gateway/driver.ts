/**
 * How the gateway and the REST API change an app's state. On one process (`LocalDriver`) each
 * call runs the engine at once and returns its result synchronously: the hot path is as it was.
 * In a cluster (`cluster/replica.ts`) each call is appended to the app's command log and its
 * result comes once this node has applied it, in log order, like every other node.
 */
import type { FailureItem, UserStatusInfo } from '@presently/protocol';
import type { LoginParams } from '../engine/engine.js';
import type { DisconnectReason } from '../engine/types.js';
import type { AppSettings } from '../config/settings.js';
import { runCommand, type RestReply } from '../rest/commands.js';
import type { ConsoleContext } from '../rest/console.js';
import type { Engine, Sink, SinkSession } from './sink.js';

export type Maybe<T> = T | Promise<T>;

export type StatusReply = { successUserList: UserStatusInfo[]; failureUserList: FailureItem[] };
export type FailuresReply = { failureUserList: FailureItem[] };

export interface AppDriver {
  /** This node's copy of the app's state: reads (sync, listings, REST queries) use it directly. */
  readonly engine: Engine;
  login(p: LoginParams<Sink>, now: number): Maybe<SinkSession>;
  logout(s: SinkSession, now: number): Maybe<void>;
  /** The socket is gone; nobody waits for this. */
  disconnect(s: SinkSession, reason: DisconnectReason, now: number): void;
  setCustomStatus(s: SinkSession, value: string | null | undefined, now: number): Maybe<UserStatusInfo>;
  getUserStatus(s: SinkSession, ids: string[], now: number): Maybe<StatusReply>;
  subscribe(s: SinkSession, ids: string[], now: number): Maybe<FailuresReply>;
  unsubscribe(s: SinkSession, ids: string[] | undefined, now: number): Maybe<FailuresReply>;
  /** S23: the statuses a reconnecting client reads again. */
  sync(s: SinkSession, now: number): Maybe<UserStatusInfo[]>;
  /** One compat REST command (rest/commands.ts). */
  rest(command: string, body: unknown, now: number): Maybe<RestReply>;
  /** New settings of the app (the settings API); resolves once they apply everywhere. */
  updateSettings(next: AppSettings): Maybe<void>;
  /**
   * The console's user list where this node holds no copy of the app (cluster v2): a view of the
   * page `body` asks for (rest/console.ts list_users). Absent: the engine is the view.
   */
  listUsersView?(body: unknown): Promise<ConsoleContext['engine']>;
  /** Time passing: S10 windows and S19 expiry. */

  tick(now: number): void;
}

export class LocalDriver implements AppDriver {
  constructor(readonly engine: Engine) {}
  login(p: LoginParams<Sink>, now: number): SinkSession {
    return this.engine.login(p, now);
  }
  logout(s: SinkSession, now: number): void {
    this.engine.logout(s, now);
  }
  disconnect(s: SinkSession, reason: DisconnectReason, now: number): void {
    this.engine.disconnect(s, reason, now);
  }
  setCustomStatus(s: SinkSession, value: string | null | undefined, now: number): UserStatusInfo {
    return this.engine.setCustomStatus(s, value, now);
  }
  getUserStatus(s: SinkSession, ids: string[], now: number): StatusReply {
    return this.engine.getUserStatus(s, ids, now);
  }
  subscribe(s: SinkSession, ids: string[], now: number): FailuresReply {
    return this.engine.subscribe(s, ids, now);
  }
  unsubscribe(s: SinkSession, ids: string[] | undefined, now: number): FailuresReply {
    return this.engine.unsubscribe(s, ids, now);
  }
  sync(s: SinkSession, now: number): UserStatusInfo[] {
    return this.engine.sync(s, now);
  }
  rest(command: string, body: unknown, now: number): RestReply {
    return runCommand({ engine: this.engine, now }, command, body);
  }
  updateSettings(next: AppSettings): void {
    this.engine.updateSettings(next);
  }
  tick(now: number): void {
    this.engine.sweep(now);
  }
}

/**
 * Runs `call` and hands its result to `ok`, synchronously when it is not a promise (one process)
 * or when the promise settles (a cluster). A thrown error or a rejection goes to `fail`.
 */
export function settle<T>(call: () => Maybe<T>, ok: (v: T) => void, fail: (err: unknown) => void): void {
  let r: Maybe<T>;
  try {
    r = call();
  } catch (err) {
    fail(err);
    return;
  }
  if (r instanceof Promise) r.then(ok, fail);
  else ok(r);
}
