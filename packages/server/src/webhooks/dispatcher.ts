/**
 * Webhook delivery off the hot path (S29, compat.md §4, the webhooks issue).
 *
 * 1. `onEvent` (called synchronously by the engine) only appends to an in-memory queue.
 * 2. Once per event-loop turn the queue becomes outbox rows, written in one transaction.
 * 3. Only committed rows are delivered: per (app, user) in `seq` order, one request in flight per
 *    user, users in parallel up to `concurrency`, and at most `appConcurrency` of one app; apps
 *    with events due take the free slots in turn (round robin). The outcome of an attempt
 *    (delete on 2xx, retry time, dead letter) is committed before that user's next request is
 *    sent, so after a crash at most the one event that was in flight per user is sent again, and
 *    an event whose 2xx was recorded never is (at-least-once; receivers drop repeats by
 *    X-Presently-Event-Id).
 * 4. A failed attempt is retried after a full-jitter exponential backoff; after the app's
 *    `maxAttempts` the row stays in the table as a dead letter and the user's next event goes.
 *
 * A slow or dead receiver holds back only its own user's later events: the engine never waits.
 * An app whose endpoint hangs holds at most its own `appConcurrency` slots: other apps' events
 * still go at once. Each app keeps its own ring of recent attempts.
 *
 * Every request goes through the egress policy (egress.ts): a target in a loopback, private,
 * link-local... range is refused at connect time, after DNS, unless the operator allows it. What
 * an app's admin sees of a failure is its class (`HTTP 500`, `timeout`, `egress refused`...),
 * never the receiver's reply nor an address.
 *
 * A cluster (several processes on one PostgreSQL outbox, `backend.shared`): every process writes
 * its events; only the one holding the delivery lease (leadership.ts) delivers, every process's
 * rows, reading what others wrote every `pollMs`. A process that loses the lease stops sending at
 * once (an attempt in flight finishes and its outcome is recorded) and forgets the rows it held;
 * the next leader starts again from the table. Seqs come from the database in commit order, so
 * per user the order is that of `seq` across processes too.
 */
import { randomUUID } from 'node:crypto';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { Logger } from 'pino';
import { WEBHOOK_BOUNDS, type AppSettings, type WebhookSettings } from '../config/settings.js';
import type { PresenceEvent } from '../engine/types.js';
import { callbackUrl, formatStateChange } from './format.js';
import { backoffDelay, resolveWebhookOptions, type WebhookOptions } from './options.js';
import type { DeadLetter, OutboxBackend, OutboxOp, OutboxRow } from './outbox.js';
import { Leadership } from './leadership.js';
import { EgressPolicy, egressAgents, errorClass, type EgressAgents } from './egress.js';
import { ATTEMPT_HEADER, EVENT_ID_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER, signBody } from './signature.js';

/**
 * idle: events are stored, nothing is sent yet (before `start`).
 * running: events are stored and delivered.
 * stopping: events are still stored (sessions closing at shutdown); nothing more is sent.
 * closed: the outbox is flushed; later events are dropped with a warning (the store is closing).
 */
export type DispatcherState = 'idle' | 'running' | 'stopping' | 'closed';

export interface AttemptRecord {
  eventId: string;
  app: number;
  userID: string;
  /** 1 for the first attempt of the event. */
  attempt: number;
  /** When the attempt started, ms. */
  at: number;
  durationMs: number;
  /** HTTP status, 0 when no response came (refused, reset, timeout) or no request was made. */
  status: number;
  /** delivered: 2xx; retry: failed, will be tried again; dead: failed, no attempt left. */
  outcome: 'delivered' | 'retry' | 'dead';
  /** Why it failed; '' when delivered. */
  error: string;
}

export interface WebhookStats {
  state: DispatcherState;
  /** False when the outbox is in memory (a store that is not SQL). */
  durable: boolean;
  /** Events not yet written to the outbox. */
  queued: number;
  /** Outbox rows held in memory for delivery. */
  inMemory: number;
  /** True while rows wait in the table because memory was full. */
  backlog: boolean;
  /**
   * True when this process delivers: always with an outbox of its own (SQLite, memory); with one
   * shared by a cluster (PostgreSQL), while it holds the delivery lease.
   */
  leader: boolean;
  inFlight: number;
  delivered: number;
  failedAttempts: number;
  deadLettered: number;
}

export interface WebhookDispatcherInit<S> {
  backend: OutboxBackend;
  /** The app's current settings, read at each attempt (the settings API changes them live). */
  settingsOf(app: number): AppSettings | undefined;
  /** The socket address of a session, for `ClientIP`. */
  remoteAddressOf(sink: S): string;
  log: Logger;
  options?: Partial<WebhookOptions>;
  /**
   * CIDRs the operator lets webhooks reach inside the ranges the egress policy refuses
   * (`server.webhookAllowNetworks`). @default [] (none)
   */
  allowNetworks?: readonly string[];
  /** The egress policy itself (a test's own resolver); takes the place of `allowNetworks`. */
  egress?: EgressPolicy;
}

interface Incoming<S> {
  app: number;
  event: PresenceEvent<S>;
  remoteAddress: string;
  at: number;
}

/** The events of one user of one app, oldest first; only the head is ever in flight. */
interface Lane {
  readonly key: string;
  readonly app: AppQueue;
  rows: OutboxRow[];
  busy: boolean;
  timer: NodeJS.Timeout | null;
}

/** One app's share of the dispatcher: its due lanes, its slots in use, its recent attempts. */
interface AppQueue {
  readonly app: number;
  /** Lanes whose head is due, in the order they became due (round robin over the app's users). */
  readonly ready: Set<Lane>;
  /** Requests of this app in flight (at most `appConcurrency`). */
  inFlight: number;
  /** The app's latest attempts, oldest first, at most `recentAttempts`; `n` orders them across apps. */
  readonly recent: Array<{ n: number; rec: AttemptRecord }>;
}

/** Reply bytes read (and dropped) before the connection is closed instead of reused. */
const MAX_REPLY_BYTES = 64 * 1024;

function clamp(v: number, { min, max }: { min: number; max: number }): number {
  return Math.min(Math.max(v, min), max);
}

export class WebhookDispatcher<S> {
  private state: DispatcherState = 'idle';
  readonly options: WebhookOptions;
  private readonly backend: OutboxBackend;
  private readonly log: Logger;

  // ---- writing (group commit) ----
  private incoming: Incoming<S>[] = [];
  private ops: OutboxOp[] = [];
  private opWaiters: Array<() => void> = [];
  /** Rows of a write that failed: written first next time (they keep their seq). */
  private unwritten: OutboxRow[] = [];
  private writeScheduled = false;
  /** Every database step (init, write, load) runs on this chain, one after another. */
  private chain: Promise<void> = Promise.resolve();
  private initialized = false;
  private seq = 0;
  private droppedAfterClose = 0;

  // ---- delivery ----
  private readonly lanes = new Map<string, Lane>();
  /** Per app: due lanes, slots in use, recent attempts. */
  private readonly apps = new Map<number, AppQueue>();
  /** Apps with a due lane, in turn order: the next free slot goes to the first that may use it. */
  private readonly readyApps = new Set<AppQueue>();
  /** Slots one app may hold. */
  private readonly appCap: number;
  private readonly agents: EgressAgents;
  private loaded = 0;
  /** Highest seq handed to a lane: rows above it are still only in the table. */
  private cursor = 0;
  /** The table may hold pending rows above `cursor` (after a restart, or when memory was full). */
  private backlog = false;
  private loadQueued = false;
  /** Shared outbox: rows other processes wrote may be above `cursor` (set every `pollMs`). */
  private pollDue = false;
  private pollTimer: NodeJS.Timeout | null = null;
  /** Ids of the rows in lanes (the one in flight included): a row read again is not added twice. */
  private readonly held = new Set<string>();
  private inFlight = 0;
  private readonly sending = new Set<Promise<unknown>>();
  private readonly abort = new AbortController();
  private closing: Promise<void> | null = null;

  // ---- cluster ----
  /** The outbox is shared by several processes: only the lease holder delivers. */
  private readonly shared: boolean;
  private leadership: Leadership | null = null;
  private leader: boolean;
  /** Counts leadership changes: a read begun under an earlier one is dropped. */
  private epoch = 0;

  // ---- admin view ----
  /** Numbers the attempts remembered, to list every app's together newest first. */
  private attemptSeq = 0;
  private readonly counters = { delivered: 0, failedAttempts: 0, deadLettered: 0 };

  constructor(private readonly init: WebhookDispatcherInit<S>) {
    this.options = resolveWebhookOptions(init.options);
    this.appCap = Math.min(this.options.appConcurrency, this.options.concurrency);
    this.agents = egressAgents(init.egress ?? new EgressPolicy(init.allowNetworks ?? []));
    this.backend = init.backend;
    this.log = init.log;
    this.shared = init.backend.shared === true;
    this.leader = !this.shared;
  }

  /** Whether this process sends now: running, and the leader of a shared outbox. */
  private delivering(): boolean {
    return this.state === 'running' && this.leader;
  }

  private setState(next: DispatcherState): void {
    if (this.state === next) return;
    this.log.debug({ from: this.state, to: next }, 'webhook dispatcher state');
    this.state = next;
  }

  // ---- the hot path ----------------------------------------------------------------------------

  /** Called by the engine, synchronously, for every presence event of the app `settings` is of. */
  onEvent(settings: AppSettings, event: PresenceEvent<S>): void {
    if (!settings.webhook) return;
    if (this.state === 'closed') {
      if (this.droppedAfterClose++ === 0) this.log.warn({ app: settings.SDKAppID }, 'webhook event after close dropped');
      return;
    }
    const remoteAddress = 'sink' in event ? this.init.remoteAddressOf(event.sink) : '';
    this.incoming.push({ app: settings.SDKAppID, event, remoteAddress, at: Date.now() });
    this.scheduleWrite();
  }

  // ---- lifecycle -------------------------------------------------------------------------------

  /** Starts delivering, beginning with the rows a previous run left pending. */
  start(): void {
    if (this.state !== 'idle') return;
    if (!this.backend.durable) this.log.warn('webhook outbox is in memory: undelivered events do not survive a restart');
    this.setState('running');
    this.backlog = true;
    if (this.shared) this.startLeadership();
    this.maybeLoad();
  }

  private startLeadership(): void {
    const backend = this.backend;
    if (!backend.openSession) throw new Error('a shared webhook outbox must open sessions for the delivery lease');
    this.leadership = new Leadership({
      connect: () => backend.openSession!(),
      retryMs: this.options.leaderRetryMs,
      onChange: (leader) => this.onLeadership(leader),
      // Once per outage, not once a period.
      onError: (err) => this.log.warn({ err }, 'webhook delivery lease: connection failed'),
    });
    this.leadership.start();
  }

  /** The delivery lease was taken or lost (shared outbox). */
  private onLeadership(leader: boolean): void {
    if (this.leader === leader) return;
    this.leader = leader;
    this.epoch++;
    if (leader) {
      this.log.info('webhook delivery: this process is the leader');
      // Everything pending is read from the table again, whoever wrote it.
      this.cursor = 0;
      this.backlog = true;
      this.pollTimer = setInterval(() => {
        this.pollDue = true;
        this.maybeLoad();
      }, this.options.pollMs);
      this.pollTimer.unref();
      this.maybeLoad();
      return;
    }
    this.log.warn('webhook delivery: leadership lost, delivery stopped in this process');
    this.stopPolling();
    this.clearReady();
    this.backlog = false;
    // Rows held are forgotten (the next leader reads them from the table); a lane whose head is
    // in flight keeps it until its outcome is recorded (settle drops it then).
    for (const lane of [...this.lanes.values()]) {
      if (lane.timer) clearTimeout(lane.timer);
      lane.timer = null;
      this.forget(lane, lane.busy ? 1 : 0);
    }
  }

  private stopPolling(): void {
    if (this.pollTimer) clearInterval(this.pollTimer);
    this.pollTimer = null;
    this.pollDue = false;
  }

  /** Drops a lane's rows from index `keep` on; the lane too when none is left. */
  private forget(lane: Lane, keep: number): void {
    for (const r of lane.rows.splice(keep)) {
      this.held.delete(r.id);
      this.loaded--;
    }
    if (lane.rows.length === 0 && !lane.busy) this.lanes.delete(lane.key);
  }

  /**
   * Sends nothing more: requests in flight are aborted (their events stay pending and go again
   * after a restart). Events are still written, so the disconnects of a shutdown are kept.
   */
  stopDelivery(): void {
    if (this.state === 'idle' || this.state === 'running') this.setState('stopping');
    // The lease goes with the delivery: another process takes over without waiting for our exit.
    this.leadership?.stop();
    this.stopPolling();
    if (this.shared) this.leader = false;
    for (const lane of this.lanes.values()) {
      if (lane.timer) clearTimeout(lane.timer);
      lane.timer = null;
    }
    this.clearReady();
    this.abort.abort();
  }

  private clearReady(): void {
    for (const q of this.readyApps) q.ready.clear();
    this.readyApps.clear();
  }

  /** Stops delivery and writes everything queued; call it before the store closes. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      this.stopDelivery();
      await Promise.allSettled([...this.sending]);
      // Outcomes of the attempts that just ended are queued now; write them with the events.
      await new Promise<void>((resolve) => setImmediate(resolve));
      // Two passes: the second takes what arrived during the first (or retries it once).
      await this.writeNow();
      if (this.incoming.length + this.ops.length + this.unwritten.length > 0) await this.writeNow();
      this.agents.destroy();
      const lost = this.unwritten.length + this.incoming.length;
      if (lost > 0) this.log.error({ events: lost }, 'webhook events could not be written before close');
      this.setState('closed');
    })();
    return this.closing;
  }

  /** Resolves once every event queued so far is in the outbox (or its write failed). */
  async flush(): Promise<void> {
    await this.writeNow();
  }

  // ---- admin view ------------------------------------------------------------------------------

  /**
   * The latest attempts, newest first, kept in memory: `recentAttempts` of them per app, so one
   * app's failures never push another's out. With `app`, that app's only; else every app's.
   */
  recentAttempts(q: { app?: number; limit?: number } = {}): AttemptRecord[] {
    const limit = q.limit ?? this.options.recentAttempts;
    if (q.app !== undefined)
      return (this.apps.get(q.app)?.recent ?? [])
        .slice(-limit)
        .reverse()
        .map((e) => e.rec);
    return [...this.apps.values()]
      .flatMap((a) => a.recent)
      .sort((x, y) => y.n - x.n)
      .slice(0, limit)
      .map((e) => e.rec);
  }

  /** Dead letters from the outbox, most recent first. */
  async deadLetters(q: { app?: number; limit?: number } = {}): Promise<DeadLetter[]> {
    await this.onChain(() => this.ensureInit());
    return this.backend.deadLetters({ ...(q.app !== undefined ? { app: q.app } : {}), limit: q.limit ?? 100 });
  }

  stats(): WebhookStats {
    return {
      state: this.state,
      durable: this.backend.durable,
      queued: this.incoming.length + this.unwritten.length,
      inMemory: this.loaded,
      backlog: this.backlog,
      leader: this.leader,
      inFlight: this.inFlight,
      ...this.counters,
    };
  }

  // ---- the outbox ------------------------------------------------------------------------------

  /** The outbox's writes are failing (logged once each way). */
  private outboxFailing = false;

  private onChain<T>(fn: () => Promise<T>): Promise<T> {
    const p = this.chain.then(fn);
    this.chain = p.then(
      () => undefined,
      () => undefined,
    );
    return p;
  }

  private async ensureInit(): Promise<void> {
    if (this.initialized) return;
    await this.backend.migrate();
    // A shared outbox numbers its rows itself (at commit).
    if (!this.shared) this.seq = await this.backend.maxSeq();
    this.initialized = true;
  }

  private scheduleWrite(): void {
    if (this.writeScheduled) return;
    this.writeScheduled = true;
    setImmediate(() => {
      this.writeNow().catch((err: unknown) => this.log.error({ err }, 'webhook outbox write step failed'));
    });
  }

  private writeNow(): Promise<void> {
    this.writeScheduled = false;
    const events = this.incoming;
    const ops = this.ops;
    const waiters = this.opWaiters;
    this.incoming = [];
    this.ops = [];
    this.opWaiters = [];
    return this.onChain(() => this.writeBatch(events, ops, waiters));
  }

  private async writeBatch(events: Incoming<S>[], ops: OutboxOp[], waiters: Array<() => void>): Promise<void> {
    if (events.length === 0 && ops.length === 0 && this.unwritten.length === 0) return;
    try {
      await this.ensureInit();
    } catch (err) {
      this.writeFailed(err, [], events, ops, waiters);
      return;
    }
    const rows = this.unwritten;
    this.unwritten = [];
    for (const e of events) rows.push(this.toRow(e));
    try {
      await this.backend.write([...rows.map((row): OutboxOp => ({ t: 'insert', row })), ...ops]);
    } catch (err) {
      this.writeFailed(err, rows, [], ops, waiters);
      return;
    }
    if (this.outboxFailing) {
      this.outboxFailing = false;
      this.log.info('webhook outbox writes succeed again; the events held meanwhile are written');
    }
    for (const w of waiters) w();
    this.admit(rows);
  }

  /**
   * Nothing is dropped: the rows and outcomes go again, before anything queued since. Logged
   * once when the writes start failing (with the database's own error) and once when they succeed.
   */
  private writeFailed(err: unknown, rows: OutboxRow[], events: Incoming<S>[], ops: OutboxOp[], waiters: Array<() => void>): void {
    if (!this.outboxFailing) {
      this.outboxFailing = true;
      this.log.error({ err, events: rows.length + events.length, outcomes: ops.length }, 'webhook outbox writes fail; the events are held and written again');
    }
    this.unwritten = rows.concat(this.unwritten);
    this.incoming = events.concat(this.incoming);
    this.ops = ops.concat(this.ops);
    this.opWaiters = waiters.concat(this.opWaiters);
    if (!this.closing) setTimeout(() => this.scheduleWrite(), this.options.writeRetryMs).unref();
  }

  private toRow(e: Incoming<S>): OutboxRow {
    const { query, body } = formatStateChange(e.app, e.event, e.remoteAddress, e.at);
    return { id: randomUUID(), seq: ++this.seq, app: e.app, userID: e.event.userID, query, body, attempts: 0, nextAt: 0, createdAt: e.at };
  }

  /** Rows just committed: straight to their lanes, unless older ones still wait in the table. */
  private admit(rows: OutboxRow[]): void {
    const first = rows[0];
    const last = rows[rows.length - 1];
    if (!first || !last) return;
    // Shared: the leader delivers them (this process, if it is the leader, reads them below).
    if (this.shared && !this.leader) return;
    if (this.state === 'running' && !this.backlog && this.loaded + rows.length <= this.options.maxInMemory) {
      // Shared: only when no other process committed rows between the cursor and these (seqs
      // are taken in commit order, one batch's in a row); else they are read with the others.
      if (this.shared && first.seq !== this.cursor + 1) {
        this.pollDue = true;
        this.maybeLoad();
        return;
      }
      for (const r of rows) this.addToLane(r);
      this.cursor = last.seq;
      this.pump();
    } else {
      this.backlog = true;
      this.maybeLoad();
    }
  }

  /**
   * Reads pending rows above the cursor when memory has room (half empty, to read in pages):
   * rows left in the table (backlog), or, shared, rows other processes wrote (pollDue).
   */
  private maybeLoad(): void {
    if (!this.delivering() || !(this.backlog || this.pollDue) || this.loadQueued) return;
    if (this.loaded > this.options.maxInMemory / 2) return;
    this.loadQueued = true;
    const loading = this.onChain(async () => {
      this.loadQueued = false;
      if (!this.delivering() || !(this.backlog || this.pollDue)) return;
      const epoch = this.epoch;
      const polled = this.pollDue;
      this.pollDue = false;
      const limit = this.options.maxInMemory - this.loaded;
      let rows: OutboxRow[];
      try {
        await this.ensureInit();
        rows = await this.backend.loadPending(this.cursor, limit);
      } catch (err) {
        this.log.error({ err }, 'webhook outbox read failed');
        if (polled) this.pollDue = true;
        setTimeout(() => this.maybeLoad(), this.options.writeRetryMs).unref();
        return;
      }
      // Leadership changed meanwhile: that change started its own read (or delivery stopped).
      if (epoch !== this.epoch || !this.delivering()) return;
      if (rows.length < limit) this.backlog = false;
      for (const r of rows) this.addToLane(r);
      const last = rows[rows.length - 1];
      if (last) this.cursor = last.seq;
      this.pump();
    });
    loading.catch((err: unknown) => this.log.error({ err }, 'webhook outbox load step failed'));
  }

  // ---- delivery --------------------------------------------------------------------------------

  private appQueue(app: number): AppQueue {
    let q = this.apps.get(app);
    if (!q) {
      q = { app, ready: new Set(), inFlight: 0, recent: [] };
      this.apps.set(app, q);
    }
    return q;
  }

  private addToLane(row: OutboxRow): void {
    if (this.held.has(row.id)) return;
    this.held.add(row.id);
    const key = `${row.app}\u0000${row.userID}`;
    let lane = this.lanes.get(key);
    if (!lane) {
      lane = { key, app: this.appQueue(row.app), rows: [], busy: false, timer: null };
      this.lanes.set(key, lane);
    }
    lane.rows.push(row);
    this.loaded++;
    if (lane.rows.length === 1) this.schedule(lane);
  }

  /** Makes the lane's head ready now or when its backoff ends; forgets an empty lane. */
  private schedule(lane: Lane): void {
    if (lane.busy || lane.timer || !this.delivering()) return;
    const head = lane.rows[0];
    if (!head) {
      this.lanes.delete(lane.key);
      return;
    }
    const wait = head.nextAt - Date.now();
    if (wait <= 0) {
      lane.app.ready.add(lane);
      this.readyApps.add(lane.app);
      return;
    }
    lane.timer = setTimeout(() => {
      lane.timer = null;
      this.schedule(lane);
      this.pump();
    }, wait);
    lane.timer.unref();
  }

  /**
   * Fills the free slots: each goes to the first app in turn that has a due lane and is below
   * its own cap; that app then goes to the back of the line. An app at its cap is passed over, so
   * an app whose endpoint hangs never takes more than `appConcurrency` slots.
   */
  private pump(): void {
    if (!this.delivering()) return;
    while (this.inFlight < this.options.concurrency) {
      let next: Lane | undefined;
      for (const q of this.readyApps) {
        if (q.inFlight >= this.appCap) continue;
        next = q.ready.values().next().value;
        this.readyApps.delete(q);
        if (!next) continue;
        q.ready.delete(next);
        if (q.ready.size > 0) this.readyApps.add(q);
        break;
      }
      if (!next) return;
      const lane = next;
      const row = lane.rows[0];
      if (lane.busy || !row) continue;
      lane.busy = true;
      this.inFlight++;
      lane.app.inFlight++;
      this.attempt(lane, row).catch((err: unknown) => this.log.error({ err, eventId: row.id }, 'webhook attempt failed unexpectedly'));
    }
  }

  private async attempt(lane: Lane, row: OutboxRow): Promise<void> {
    const at = Date.now();
    const settings = this.init.settingsOf(row.app);
    const hook = settings?.webhook;
    if (!hook) {
      // The webhook (or the app) was removed at run time: keep the event as a dead letter.
      this.inFlight--;
      lane.app.inFlight--;
      const error = settings ? 'the app has no webhook configured' : 'the app no longer exists';
      this.log.warn({ app: row.app, eventId: row.id }, error);
      await this.settle(lane, row, { eventId: row.id, app: row.app, userID: row.userID, attempt: row.attempts, at, durationMs: 0, status: 0, outcome: 'dead', error }, '');
      return;
    }
    const attempt = row.attempts + 1;
    const sent = this.send(hook, row, attempt);
    this.sending.add(sent);
    const { status, error, detail } = await sent;
    this.sending.delete(sent);
    this.inFlight--;
    lane.app.inFlight--;
    if (error === null) {
      // Stopped mid-request: the attempt does not count and the row stays pending.
      lane.busy = false;
      return;
    }
    this.pump();
    if (error !== '') this.counters.failedAttempts++;
    // The operator hears of a tenant's target refused by the policy (once per event).
    if (error === 'egress refused' && attempt === 1)
      this.log.warn({ app: row.app, eventId: row.id, detail }, 'webhook target refused by the egress policy (server.webhookAllowNetworks)');
    const maxAttempts = clamp(hook.maxAttempts, WEBHOOK_BOUNDS.maxAttempts);
    const outcome = error === '' ? 'delivered' : attempt >= maxAttempts ? 'dead' : 'retry';
    await this.settle(lane, row, { eventId: row.id, app: row.app, userID: row.userID, attempt, at, durationMs: Date.now() - at, status, outcome, error }, detail);
  }

  /**
   * One HTTP attempt. `error` is '' on a 2xx, the failure's class otherwise (what the app's admin
   * sees), null when stopped; `detail` says more, for the operator's log only.
   */
  private send(hook: WebhookSettings, row: OutboxRow, attempt: number): Promise<{ status: number; error: string | null; detail: string }> {
    const headers: Record<string, string> = {
      'content-type': 'application/json',
      'content-length': String(Buffer.byteLength(row.body)),
      'user-agent': 'Presently-Webhook/1',
      [EVENT_ID_HEADER]: row.id,
      [ATTEMPT_HEADER]: String(attempt),
    };
    if (hook.secret) {
      const ts = String(Math.floor(Date.now() / 1000));
      headers[TIMESTAMP_HEADER] = ts;
      headers[SIGNATURE_HEADER] = signBody(hook.secret, ts, row.body);
    }
    let url: URL;
    try {
      url = new URL(callbackUrl(hook.url, row.query));
    } catch (err) {
      return Promise.resolve({ status: 0, error: 'invalid URL', detail: (err as Error).message });
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') return Promise.resolve({ status: 0, error: 'invalid URL', detail: url.protocol });
    const https = url.protocol === 'https:';
    // An embedder's settings may skip normalizeApp: the timer stays within its bounds anyway.
    const timeoutMs = clamp(hook.timeoutMs, WEBHOOK_BOUNDS.timeoutMs);
    return new Promise((resolve) => {
      // One controller per attempt: its own timeout, and the dispatcher's stop.
      const ctl = new AbortController();
      let timedOut = false;
      let settled = false;
      /** The reply's status, once its headers came. */
      let replied = 0;
      const timer = setTimeout(() => {
        timedOut = true;
        ctl.abort();
      }, timeoutMs);
      const onStop = (): void => ctl.abort();
      this.abort.signal.addEventListener('abort', onStop, { once: true });
      const finish = (r: { status: number; error: string | null; detail: string }): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        this.abort.signal.removeEventListener('abort', onStop);
        resolve(r);
      };
      // Once the status came, it decides: the reply's body is informational ({"ActionStatus":"OK"}),
      // read and dropped (never shown: it could be anything the target serves).
      const byStatus = (status: number): { status: number; error: string; detail: string } =>
        status >= 200 && status < 300 ? { status, error: '', detail: '' } : { status, error: `HTTP ${status}`, detail: '' };
      const req = (https ? httpsRequest : httpRequest)(
        url,
        {
          method: 'POST',
          headers,
          agent: https ? this.agents.https : this.agents.http,
          signal: ctl.signal,
        },
        (res: IncomingMessage) => {
          const status = res.statusCode ?? 0;
          replied = status;
          let size = 0;
          res.on('data', (chunk: Buffer) => {
            size += chunk.length;
            if (size > MAX_REPLY_BYTES) {
              finish(byStatus(status));
              res.destroy();
            }
          });
          res.on('end', () => finish(byStatus(status)));
          // Cut short, timed out or stopped while the body came: the status has been given.
          res.on('error', () => finish(byStatus(status)));
          res.on('close', () => finish(byStatus(status)));
        },
      );
      // A redirect is a failure (`HTTP 3xx`): node:http follows none.
      req.on('error', (err: Error) => {
        if (replied) finish(byStatus(replied));
        else if (this.abort.signal.aborted) finish({ status: 0, error: null, detail: '' });
        else if (timedOut) finish({ status: 0, error: 'timeout', detail: `no reply within ${timeoutMs} ms` });
        else finish({ status: 0, error: errorClass(err), detail: err.message });
      });
      req.end(row.body);
    });
  }

  /**
   * Records the outcome, commits it, and only then lets the user's next event go. `detail` (an
   * address, a system error) goes to the operator's log, never to the record an admin sees.
   */
  private async settle(lane: Lane, row: OutboxRow, rec: AttemptRecord, detail: string): Promise<void> {
    this.remember(rec);
    const now = Date.now();
    let op: OutboxOp;
    let nextAt = 0;
    if (rec.outcome === 'delivered') {
      this.counters.delivered++;
      op = { t: 'delete', id: row.id };
    } else if (rec.outcome === 'dead') {
      this.counters.deadLettered++;
      this.log.warn({ app: row.app, userID: row.userID, eventId: row.id, attempts: rec.attempt, error: rec.error, detail }, 'webhook event dead-lettered');
      op = { t: 'dead', id: row.id, attempts: rec.attempt, error: rec.error, at: now };
    } else {
      nextAt = now + backoffDelay(rec.attempt, this.options.backoffBaseMs, this.options.backoffCapMs);
      this.log.debug({ app: row.app, userID: row.userID, eventId: row.id, attempt: rec.attempt, error: rec.error, detail, retryInMs: nextAt - now }, 'webhook attempt failed');
      op = { t: 'retry', id: row.id, attempts: rec.attempt, nextAt, error: rec.error, at: now };
    }
    await new Promise<void>((resolve) => {
      this.ops.push(op);
      this.opWaiters.push(resolve);
      this.scheduleWrite();
    });
    if (rec.outcome === 'retry') {
      row.attempts = rec.attempt;
      row.nextAt = nextAt;
    } else {
      lane.rows.shift();
      this.held.delete(row.id);
      this.loaded--;
    }
    lane.busy = false;
    // The lease was lost during the attempt: the rest is the next leader's.
    if (this.shared && !this.leader) this.forget(lane, 0);
    this.schedule(lane);
    this.pump();
    this.maybeLoad();
  }

  private remember(rec: AttemptRecord): void {
    const recent = this.appQueue(rec.app).recent;
    recent.push({ n: ++this.attemptSeq, rec });
    if (recent.length > this.options.recentAttempts) recent.shift();
  }
}
