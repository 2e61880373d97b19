/**
 * Which process of a cluster delivers webhooks: the one holding a PostgreSQL session-level
 * advisory lock on a connection of its own (not from the pool). The lock lives as long as that
 * connection, so a process that dies (or loses its connection) gives it up with it, and another
 * takes it within about `retryMs`.
 *
 * - Not leader: every `retryMs`, `pg_try_advisory_lock` (reconnecting first when needed).
 * - Leader: every `retryMs`, a `SELECT 1` on the connection. Any error of the connection, or no
 *   answer within `answerMs` (a connection dead without a word: a network partition), and this
 *   process stops being the leader at once (`onChange` runs synchronously from the error) and
 *   drops the connection, releasing the lock if the server still held it.
 *
 * Two processes may briefly both deliver (the old leader's last request in flight, or a leader
 * cut off without noticing before the server ends its session): delivery is at-least-once and
 * receivers drop repeats by X-Presently-Event-Id (docs/webhooks.md).
 */
import { PG_LOCK } from '../store/sql.js';

/** What is used of a `pg.Client`. */
export interface LeaseSession {
  query(text: string, values?: unknown[]): Promise<{ rows: unknown[] }>;
  on(event: 'error' | 'end', listener: (...args: unknown[]) => void): unknown;
  end(): Promise<void>;
}

export interface LeadershipInit {
  /** Opens the dedicated connection (on the outbox's database and schema). */
  connect(): Promise<LeaseSession>;
  /** Period of the attempts to take the lock, and of the leader's checks of its connection, ms. */
  retryMs: number;
  /** How long a query on the connection may go unanswered before it counts as lost, ms. @default max(5 × retryMs, 5000) */
  answerMs?: number;
  /** Called on every change, false → true or true → false. */
  onChange(leader: boolean): void;
  /** Told about the first failure of an outage (not logged here: the dispatcher does). */
  onError?(err: unknown): void;
}

/** The lock is per schema: stores in different schemas of one database are different clusters. */
const TRY_LOCK = `SELECT pg_try_advisory_lock(${PG_LOCK.webhookLeader}, hashtext(current_schema())) AS ok`;

export class Leadership {
  private session: LeaseSession | null = null;
  private leader = false;
  private running = false;
  private timer: NodeJS.Timeout | null = null;
  /** A failure was reported and nothing has succeeded since. */
  private failing = false;

  private readonly answerMs: number;

  constructor(private readonly init: LeadershipInit) {
    // Generous: a busy database answering late must not make the lease flap between processes.
    this.answerMs = init.answerMs ?? Math.max(5 * init.retryMs, 5000);
  }

  get isLeader(): boolean {
    return this.leader;
  }

  /** Starts trying to take the lock (the first try at once). */
  start(): void {
    if (this.running) return;
    this.running = true;
    void this.tick();
  }

  /** Gives the lock up (ends the connection) and stops trying; `onChange` is not called. */
  stop(): void {
    this.running = false;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.leader = false;
    this.drop();
  }

  private schedule(): void {
    if (!this.running || this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      void this.tick();
    }, this.init.retryMs);
    this.timer.unref();
  }

  private async tick(): Promise<void> {
    try {
      const s = this.session ?? (await this.open());
      if (!s) return;
      if (this.leader) {
        await bounded(s.query('SELECT 1'), this.answerMs);
      } else {
        const res = await bounded(s.query(TRY_LOCK), this.answerMs);
        const ok = (res.rows[0] as { ok?: unknown } | undefined)?.ok === true;
        // Stopped or cut off meanwhile: ending the connection releases what was taken.
        if (ok && this.running && this.session === s) this.setLeader(true);
      }
      this.failing = false;
    } catch (err) {
      this.failed(err);
      this.lost();
    } finally {
      this.schedule();
    }
  }

  private async open(): Promise<LeaseSession | null> {
    const s = await this.init.connect();
    if (!this.running) {
      s.end().catch(() => undefined);
      return null;
    }
    const onLost = (err?: unknown): void => {
      if (this.session !== s) return;
      if (err !== undefined) this.failed(err);
      this.lost();
    };
    s.on('error', (err) => onLost(err));
    s.on('end', () => onLost());
    this.session = s;
    return s;
  }

  private failed(err: unknown): void {
    if (this.failing) return;
    this.failing = true;
    this.init.onError?.(err);
  }

  /** The connection failed or stopped answering: no longer the leader, from now. */
  private lost(): void {
    this.drop();
    this.setLeader(false);
  }

  private drop(): void {
    const s = this.session;
    this.session = null;
    s?.end().catch(() => undefined);
  }

  private setLeader(leader: boolean): void {
    if (this.leader === leader) return;
    this.leader = leader;
    this.init.onChange(leader);
  }
}

/** `p`, or a rejection once `ms` passed without an answer. */
function bounded<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer from the database within ${ms} ms`)), ms);
  });
  return Promise.race([p, late]).finally(() => clearTimeout(timer));
}
