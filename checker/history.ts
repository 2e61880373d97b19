/**
 * The history of a run: one JSON object per line (JSONL), each with `t` (ms since the epoch, the
 * machine's clock, 0.01 ms resolution; every process of a run is on one machine) and `type`.
 * Processes write their own part files; `mergeParts` sorts them into one file by `t`.
 *
 * Names used throughout:
 * - node:   a server process ("n1"; a cluster run has several). Links and faults name theirs.
 * - path:   the network path a client uses to reach a node: "direct" or a fault proxy ("p0").
 * - user:   an account (u); slot: one device of a user, i.e. a platform ("Web", "Android"):
 *           with the default device policy one platform holds one session (S26).
 * - client: one SDK instance (c), driving one slot of one user, for its whole life.
 * - link:   one WebSocket of a client (l); the SDK opens a new one at every reconnect.
 */
import { appendFileSync, closeSync, openSync, readFileSync, readdirSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';

/** Statuses as numbers (S1): 1 ONLINE, 2 OFFLINE, 3 UNLOGINED. */
export type Status = 1 | 2 | 3;
export const ONLINE = 1;
export const OFFLINE = 2;
export const UNLOGINED = 3;

export interface StatusItem {
  userID: string;
  statusType: number;
  customStatus: string;
}

/** The bounds the checker judges with, all in ms; written by the run into `meta`. */
export interface Bounds {
  /** A closed connection (FIN) ends its session within this (the issue: 1 s). */
  finMs: number;
  /** The app's heartbeat timeout (S5). */
  heartbeatTimeoutMs: number;
  /** S5: a silent session is declared dead no later than the timeout plus this: max(1 s, 10 %). */
  heartbeatGraceMs: number;
  /** Added to every bound: scheduling on a shared machine, the sweep period. */
  slackMs: number;
  /** A change reaches a connected watcher (push) within this, outside faults. */
  deliveryMs: number;
  /**
   * After a fault that touches a client (its path faulted, its node stopped), how long its link
   * may be in doubt and its view stale: the SDK's silence limit, its reconnect backoff, login.
   */
  recoveryMs: number;
  /** After the last fault ends, every watcher agrees with the server within this. */
  agreeMs: number;
}

export interface UserDecl {
  u: string;
  worker: string;
  slots: string[];
}

export type Rec =
  | {
      type: 'meta';
      t: number;
      seed: string;
      app: number;
      nodes: string[];
      paths: string[];
      users: UserDecl[];
      bounds: Bounds;
      durationMs: number;
      faults: string[];
    }
  /** A call: start t0, end t1 (`t` = t1), outcome ok / fail (nothing changed) / unknown. */
  | {
      type: 'op';
      t: number;
      p: string;
      id: string;
      u: string;
      c?: string;
      op: string;
      args: Record<string, unknown>;
      t0: number;
      t1: number;
      outcome: 'ok' | 'fail' | 'unknown';
      code?: number;
      data?: unknown;
    }
  /** An SDK instance made for a slot of a user, reaching `node` over `path`. */
  | { type: 'client'; t: number; c: string; u: string; slot: string; path: string; node: string }
  /** A WebSocket of a client opened; `port` is its local port (the proxies name connections by it). */
  | { type: 'link-open'; t: number; c: string; l: string; port: number }
  /** A login / logout / syncStatus request written on a link. */
  | { type: 'link-send'; t: number; l: string; op: string; rid: number }
  /** The reply to one of those. */
  | { type: 'link-reply'; t: number; l: string; op: string; rid: number; code: number }
  /** A `userStatusUpdated` frame as it came off the wire (S20, S22). */
  | { type: 'push'; t: number; l: string; items: StatusItem[] }
  /** A `kickedOut` frame. */
  | { type: 'kick'; t: number; l: string; kind: string }
  /**
   * A link closed, as the client saw it. `by`: server (the peer or the network closed it),
   * client (the SDK closed it), crash (the recorder destroyed the socket on purpose).
   * `lastSent`: when the client last wrote a frame on it (heartbeats included).
   */
  | { type: 'link-close'; t: number; l: string; code: number; reason: string; by: 'server' | 'client' | 'crash'; lastSent: number }
  /** A client's life ended (logged out, crashed, frozen, kicked, refused); no more calls on it. */
  | { type: 'client-end'; t: number; c: string; why: string }
  /** The recorder destroyed a client's socket abruptly (FIN, no logout); the instance is gone. */
  | { type: 'crash'; t: number; c: string; l: string | null }
  /** The recorder froze a client: nothing more is sent or read, the socket stays open (S5). */
  | { type: 'silence'; t: number; c: string; l: string | null; lastSent: number }
  /** USER_STATUS_UPDATED as the app heard it (pushes and the SDK's re-sync after a reconnect). */
  | { type: 'view'; t: number; c: string; items: StatusItem[] }
  /** NET_STATE_CHANGE of a client. */
  | { type: 'net'; t: number; c: string; state: string }
  /** The server's truth, `query_online_status` of every user, asked at t0, answered at t1. */
  | { type: 'sample'; t: number; t0: number; t1: number; node: string; status: Record<string, number>; final?: boolean }
  /** A fault began (`t`); `end` is written when it is over. */
  | { type: 'fault'; t: number; id: string; kind: FaultKind; node?: string; path?: string; params: Record<string, number> }
  | { type: 'fault-end'; t: number; id: string }
  /** A node's process: down (stopped / killed, as it was observed to exit) or up (listening). */
  | { type: 'node'; t: number; node: string; event: 'down' | 'up'; how?: string }
  /**
   * Half-open: the proxy dropped the client's side of a connection at `t` and keeps the server's
   * side open and silent. `port` names the client's link; `lastUp` is when the proxy last wrote to
   * the server on it: the server must declare the session dead within the heartbeat bound of it.
   */
  | { type: 'severed'; t: number; path: string; port: number; lastUp: number }
  /** Run phases: `quiet` (faults over, workload stopped), `snapshot` (final reads start), `horizon` (judging ends). */
  | { type: 'phase'; t: number; name: string }
  /** Read after the horizon: what the store holds for a user (its subscriptions and friends). */
  | { type: 'durable'; t: number; u: string; subs: string[]; friends: string[] };

export type FaultKind = 'kill' | 'term' | 'delay' | 'partition' | 'halfopen';

/** Milliseconds since the epoch with sub-ms resolution, comparable across the run's processes. */
export function now(): number {
  return Math.round((performance.timeOrigin + performance.now()) * 100) / 100;
}

/** Appends records to a part file, buffered; `flush` writes them out (called on a timer and at the end). */
export class HistoryWriter {
  private buf: string[] = [];
  private readonly fd: number;

  constructor(readonly path: string) {
    this.fd = openSync(path, 'a');
  }

  write(rec: Rec): void {
    this.buf.push(JSON.stringify(rec));
    if (this.buf.length >= 512) this.flush();
  }

  flush(): void {
    if (this.buf.length === 0) return;
    writeSync(this.fd, this.buf.join('\n') + '\n');
    this.buf = [];
  }

  close(): void {
    this.flush();
    closeSync(this.fd);
  }
}

/** Reads a history file (or an array of records) into records sorted by time (stable). */
export function readHistory(path: string): Rec[] {
  const lines = readFileSync(path, 'utf8').split('\n');
  const recs: Rec[] = [];
  for (const line of lines) if (line.trim() !== '') recs.push(JSON.parse(line) as Rec);
  return sortRecs(recs);
}

export function sortRecs(recs: Rec[]): Rec[] {
  return recs
    .map((r, i) => [r, i] as const)
    .sort((x, y) => x[0].t - y[0].t || x[1] - y[1])
    .map(([r]) => r);
}

/** Merges `<out>.*.part` into `<out>`, sorted by time, and removes the parts. */
export function mergeParts(out: string): number {
  const dir = dirname(out);
  const prefix = `${basename(out)}.`;
  const parts = readdirSync(dir)
    .filter((f) => f.startsWith(prefix) && f.endsWith('.part'))
    .map((f) => join(dir, f));
  const recs: Rec[] = [];
  for (const p of parts) {
    for (const line of readFileSync(p, 'utf8').split('\n')) if (line.trim() !== '') recs.push(JSON.parse(line) as Rec);
  }
  const sorted = sortRecs(recs);
  writeFileSync(out, '');
  for (let i = 0; i < sorted.length; i += 2000) {
    appendFileSync(
      out,
      sorted
        .slice(i, i + 2000)
        .map((r) => JSON.stringify(r))
        .join('\n') + '\n',
    );
  }
  for (const p of parts) rmSync(p, { force: true });
  return sorted.length;
}
