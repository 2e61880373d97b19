/** Messages between the runner and the load-generator workers (IPC, advanced serialization). */
import type { HistData } from './stats.js';

export interface InitArgs {
  w: number;
  /**
   * The server's ws:// URL, or one per node of a cluster: the worker's l-th user connects to
   * urls[l % urls.length], so every worker talks to every node and the nodes get equal shares.
   */
  urls: string[];
  /** Load-generator processes in all (users are dealt round-robin: user g is worker g % workers's l = g / workers). */
  workers: number;
  SDKAppID: number;
  /** Global user indexes this worker owns. */
  users: number[];
  /** UserSig of each owned user, same order. */
  sigs: string[];
  n: number;
  k: number;
  seed: number;
  /**
   * Source addresses for this worker's sockets (127.1.w.1–16, dealt round-robin), so ephemeral
   * ports never run out and the kernel's search for a free port stays short: with one source
   * address for 5,000 sockets, bind() scanned the port range and took most of a login's cost.
   */
  localAddresses: string[];
}

export interface LoginArgs {
  /** Logins in flight at once in this worker. */
  concurrency: number;
  /** Log in only this many of the users not logged in yet (default: all). */
  count?: number;
}
export interface LoginResult {
  ok: number;
  failed: number;
  errors: string[];
  /** Connect + login latency, ms. */
  hist: HistData;
  /** Its two parts: WebSocket handshake (connect to open), and login frame to login reply. */
  handshake: HistData;
  reply: HistData;
  /** Per owned user (same order as InitArgs.users): connect started / login reply received (shared clock, ms; 0 = never). */
  sentAt: Float64Array;
  /** Per owned user: when the login frame was sent (after the WebSocket handshake). */
  loginAt: Float64Array;
  doneAt: Float64Array;
}

export interface SubscribeArgs {
  count: number;
  seed: number;
  concurrency: number;
}

export interface ChurnStopResult {
  sent: number;
  acks: number;
  errors: number;
  /** Pairs [user, last seq] of every owned user that ever set a status. */
  seqs: Int32Array;
}

export interface Progress {
  delivered: number;
  acks: number;
  sent: number;
}

export interface PhaseResult {
  /** Friend notifications received (churn changes, in order, first time). */
  delivered: number;
  /** Of those, received while the churn was running. */
  deliveredInWindow: number;
  /** The sender's own session hearing its change (S20). */
  self: number;
  dup: number;
  outOfOrder: number;
  /** Changes never received (gaps plus the tail after the drain). */
  missing: number;
  /** Pushes that were not churn changes (logins, offline...). */
  other: number;
  unexpected: number;
  hist: HistData;
  /** The same latencies split by where sender and receiver sockets are (cluster: same node or not). */
  histSame: HistData;
  histCross: HistData;
}

export interface QueryArgs {
  /** Ids per getUserStatus. */
  ids: number;
  /** Connections in this worker, each with one request in flight (closed loop). */
  conns: number;
  /** Start time on the shared clock, and duration. */
  startAt: number;
  durationMs: number;
  seed: number;
}
export interface QueryResult {
  count: number;
  errors: number;
  firstError: string;
  hist: HistData;
}

export interface OfflineResult {
  pairs: number;
  seen: number;
  missing: number;
  hist: HistData;
}

export interface LoginCheckResult {
  /** Pairs (friend F's login reply came before U sent its login frame): F must hear U's ONLINE. */
  required: number;
  requiredSeen: number;
  /** Every ONLINE push of a friend received, required or not. */
  seenTotal: number;
  dupOnline: number;
}

export interface StatusResult {
  ready: number;
  closedUnexpected: number;
  closeCodes: Record<string, number>;
  /** Heartbeats sent so far, and heartbeat replies received. */
  hbSent: number;
  hbAcked: number;
}

export type Request =
  | { cmd: 'init'; args: InitArgs }
  | { cmd: 'login'; args: LoginArgs }
  | { cmd: 'subscribe'; args: SubscribeArgs }
  | { cmd: 'track'; args: { online?: boolean; offline?: boolean } }
  | { cmd: 'churnStart'; args: { rate: number; seed: number } }
  | { cmd: 'churnStop'; args: Record<string, never> }
  | { cmd: 'progress'; args: Record<string, never> }
  | { cmd: 'collect'; args: { finalSeq: Int32Array } }
  | { cmd: 'query'; args: QueryArgs }
  | { cmd: 'destroy'; args: { users: number[] } }
  | { cmd: 'offlineWait'; args: { victimTime: Float64Array; timeoutMs: number } }
  | { cmd: 'loginCheck'; args: { loginAt: Float64Array; doneAt: Float64Array; marginMs: number } }
  | { cmd: 'status'; args: Record<string, never> }
  | { cmd: 'shutdown'; args: Record<string, never> };

export interface ResultMap {
  init: { ok: true };
  login: LoginResult;
  subscribe: { ok: number; failed: number; errors: string[] };
  track: { ok: true };
  churnStart: { ok: true };
  churnStop: ChurnStopResult;
  progress: Progress;
  collect: PhaseResult;
  query: QueryResult;
  destroy: { times: Float64Array };
  offlineWait: OfflineResult;
  loginCheck: LoginCheckResult;
  status: StatusResult;
  shutdown: { ok: true };
}

export type Cmd = Request['cmd'];
export type ArgsOf<C extends Cmd> = Extract<Request, { cmd: C }>['args'];
