/**
 * One WebSocket connection: parses frames, runs them against the app's engine, batches pushes.
 * Every state change goes through `setState` (style.md habit 2).
 */
import type { WebSocket } from 'ws';
import {
  CloseCode,
  ErrorCode,
  PresentlyError,
  PROTOCOL_VERSION,
  isValidUserID,
  messageFor,
  parseClientFrame,
  type ClientFrame,
  type ClientOp,
  type KickTypeValue,
  type LoginRequest,
  type LoginResult,
  type WatchAllRequest,
} from '@presently/protocol';
import type { StatusChange } from '../engine/types.js';
import type { Gateway } from './gateway.js';
import { settle, type AppDriver, type Maybe } from './driver.js';
import type { Sink, SinkSession } from './sink.js';
import type { TicketClaims } from '../auth/usersig.js';
import { checkTicket } from './guards.js';

/** watching: an app admin's `watchAll` stream (no session; only heartbeats are taken). */
export type ConnState = 'open' | 'loggingIn' | 'ready' | 'watching' | 'closed';

const ASYNC_OPS: ReadonlySet<ClientOp> = new Set(['login', 'logout', 'subscribeUserStatus', 'unsubscribeUserStatus']);

let nextConnId = 1;

export class Connection implements Sink {
  readonly id = nextConnId++;
  /** A session of this process ('' ; a replica of another node's session names that node). */
  readonly node = '';
  state: ConnState = 'open';
  get open(): boolean {
    return this.state !== 'closed';
  }
  session: SinkSession | null = null;
  driver: AppDriver | null = null;
  /** The admin and ticket of a `watchAll` stream; null on every other connection. */
  watcher: { app: number; userID: string; ticketTime: number } | null = null;
  /** Last frame received, ms (S5). */
  lastSeen: number;
  /** When the socket opened, ms: the login deadline counts from here, whatever the socket sends. */
  readonly openedAt: number;
  /** Intrusive list links for the liveness sweep (oldest activity first). */
  prev: Connection | null = null;
  next: Connection | null = null;
  list: ConnList | null = null;
  /** Pending changes, sent as one frame at the end of this turn (S22 order kept). */
  private outbox: StatusChange[] = [];
  /** Requests whose replies wait on a durable write (login, logout, subscribe, unsubscribe). */
  private inFlight = 0;

  constructor(
    readonly ws: WebSocket,
    private readonly gw: Gateway,
    readonly remoteAddress: string,
  ) {
    this.lastSeen = Date.now();
    this.openedAt = this.lastSeen;
  }

  private setState(next: ConnState): void {
    if (this.state === next) return;
    this.gw.log.trace({ conn: this.id, from: this.state, to: next }, 'connection state');
    this.state = next;
  }

  // ---- incoming -------------------------------------------------------------------------------

  onMessage(data: Buffer, isBinary: boolean): void {
    if (this.state === 'closed') return;
    const now = Date.now();
    this.lastSeen = now;
    this.list?.touch(this);
    if (isBinary) return this.sendError(undefined, 'error', ErrorCode.INVALID_PARAMETERS, 'binary frames are not accepted');
    if (data.length > this.gw.options.maxFrameBytes) {
      return this.sendError(undefined, 'error', ErrorCode.INVALID_PARAMETERS, `frame exceeds ${this.gw.options.maxFrameBytes} bytes`);
    }
    const parsed = parseClientFrame(data.toString('utf8'));
    if (!parsed.ok) return this.sendError(parsed.id, parsed.op ?? 'error', parsed.code, parsed.message);
    const frame = parsed.frame;
    // In a cluster every request waits for the log, so every one but heartbeats counts.
    const bounded = ASYNC_OPS.has(frame.op) || (this.gw.clustered && frame.op !== 'heartbeat' && frame.op !== 'syncStatus');
    if (bounded && this.inFlight >= this.gw.options.maxInFlight) {
      // Refused before anything is applied: nothing changes (S32).
      return this.sendError(frame.id, frame.op, ErrorCode.TOO_MANY_IN_FLIGHT);
    }
    if (frame.op === 'watchAll') return this.watchAll(frame, now);
    if (this.state === 'watching') {
      if (frame.op === 'heartbeat') return this.heartbeatReply(frame.id);
      return this.sendError(frame.id, frame.op, ErrorCode.INVALID_PARAMETERS, 'a watchAll stream takes only heartbeats');
    }
    if (frame.op === 'login') {
      void this.login(frame);
      return;
    }
    if (this.state !== 'ready' || !this.session || !this.driver) {
      return this.sendError(frame.id, frame.op, ErrorCode.NOT_LOGGED_IN);
    }
    this.dispatch(frame, this.session, this.driver, now);
  }

  private dispatch(frame: Exclude<ClientFrame, LoginRequest>, session: SinkSession, driver: AppDriver, now: number): void {
    switch (frame.op) {
      case 'heartbeat':
        this.heartbeatReply(frame.id);
        return;
      case 'setSelfStatus':
        this.answer(frame, () => driver.setCustomStatus(session, frame.customStatus, now), false);
        return;
      case 'getUserStatus':
        this.answer(frame, () => driver.getUserStatus(session, frame.userIDList, now), false);
        return;
      case 'syncStatus':
        this.answer(frame, () => then(driver.sync(session, now), (userList) => ({ userList })), false);
        return;
      case 'subscribeUserStatus':
        if (this.refusedWrite(frame, now)) return;
        this.answer(frame, () => driver.subscribe(session, frame.userIDList, now), true);
        return;
      case 'unsubscribeUserStatus':
        if (this.refusedWrite(frame, now)) return;
        this.answer(frame, () => driver.unsubscribe(session, frame.userIDList, now), true);
        return;
      case 'logout': {
        // From now on this connection has no session: a close meanwhile ends nothing more.
        this.session = null;
        this.gw.untrack(this);
        this.setState('open');
        this.answer(
          frame,
          () => then(driver.logout(session, now), () => ({})),
          true,
          () => this.close(CloseCode.LOGGED_OUT, 'logged out'),
        );
        return;
      }
    }
  }

  /**
   * Runs one request and replies with its result: at once on one process, when the cluster's log
   * has applied it otherwise. `durable`: only once its facts are committed.
   */
  private answer<T>(frame: { id: number; op: ClientOp }, call: () => Maybe<T>, durable: boolean, after?: () => void): void {
    this.inFlight++;
    settle(
      call,
      (data) => {
        if (!durable) {
          this.inFlight--;
          this.reply(frame.id, frame.op, data);
          after?.();
          return;
        }
        this.gw.durable().then(
          () => {
            this.inFlight--;
            this.reply(frame.id, frame.op, data);
            after?.();
          },
          (err: unknown) => {
            this.inFlight--;
            this.replyError(frame, err);
          },
        );
      },
      (err) => {
        this.inFlight--;
        this.replyError(frame, err);
      },
    );
  }

  /** While the store cannot commit, a request that writes is refused before it changes anything. */
  private refusedWrite(frame: { id: number; op: ClientOp }, now: number): boolean {
    const refusal = this.gw.writesRefused(now);
    if (refusal === null) return false;
    this.replyError(frame, refusal);
    return true;
  }

  private heartbeatReply(id: number | undefined): void {
    this.send(id === undefined ? '{"op":"heartbeat","code":0,"data":{}}' : JSON.stringify({ id, op: 'heartbeat', code: 0, data: {} }));
  }

  /**
   * The ticket of a login or a watchAll (guards.ts `checkTicket`): the app (70020), the UserSig
   * (compat codes), an admin kick (70052). Sends the refusal itself and returns null (and past the
   * failed-ticket limit, 70050, closes this socket), or returns the app's driver and the claims.
   */
  private checkTicket(
    frame: { id: number; op: 'login' | 'watchAll'; SDKAppID: number; userID: string; userSig: string },
    now: number,
  ): { driver: AppDriver; verdict: { claims: TicketClaims } } | null {
    const driver = this.gw.drivers.get(frame.SDKAppID);
    const verdict = checkTicket(this.gw.loginGuard, driver?.engine, { ...frame, address: this.remoteAddress, now });
    if (!verdict.ok) {
      this.sendError(frame.id, frame.op, verdict.code, verdict.message);
      if (verdict.blocked) this.close(CloseCode.TOO_MANY_LOGIN_FAILURES, 'too many failed tickets');
      return null;
    }
    return driver ? { driver, verdict } : null;
  }

  /**
   * The admin stream (docs/protocol.md "watchAll"): checked like a login (ticket, brute-force
   * guard, invalidated tickets), then the caller must be an admin of the app (70403). No session
   * is opened; from now on every announced change of the app is pushed as `userStatusUpdated`.
   */
  private watchAll(frame: WatchAllRequest, now: number): void {
    if (this.state !== 'open') return this.sendError(frame.id, frame.op, ErrorCode.INVALID_PARAMETERS, 'watchAll needs a connection that is not logged in');
    const proof = this.checkTicket(frame, now);
    if (!proof) return;
    const { driver, verdict } = proof;
    const engine = driver.engine;
    if (!engine.settings.admins.includes(frame.userID)) return this.sendError(frame.id, frame.op, ErrorCode.ADMIN_REQUIRED, 'only an app admin may watch every status change');
    const timeoutMs = engine.settings.limits.heartbeatTimeoutSec * 1000;
    this.setState('watching');
    this.watcher = { app: engine.app, userID: frame.userID, ticketTime: verdict.claims.time };
    this.gw.track(this, timeoutMs);
    this.gw.watch(this);
    this.reply(frame.id, frame.op, {
      userID: frame.userID,
      heartbeatIntervalMs: heartbeatInterval(timeoutMs),
      heartbeatTimeoutMs: timeoutMs,
      serverTime: Date.now(),
      protocol: PROTOCOL_VERSION,
      counts: engine.statusCounts(),
    });
  }

  private async login(frame: LoginRequest): Promise<void> {
    if (this.state === 'loggingIn') return this.sendError(frame.id, 'login', ErrorCode.REPEATED_LOGIN);
    if (this.state === 'ready') return this.sendError(frame.id, 'login', ErrorCode.INVALID_PARAMETERS, 'already logged in on this connection');
    const now = Date.now();
    if (!isValidUserID(frame.userID)) return this.sendError(frame.id, 'login', ErrorCode.INVALID_PARAMETERS, 'userID must be 1-32 bytes without control characters');
    const proof = this.checkTicket(frame, now);
    if (!proof) return;
    const { driver, verdict } = proof;
    if (this.refusedWrite(frame, now)) return;
    this.setState('loggingIn');
    let session: SinkSession;
    this.inFlight++;
    try {
      const r = driver.login(
        {
          userID: frame.userID,
          platform: frame.platform ?? 'Web',
          instanceId: frame.instanceId ?? '',
          sessionId: `${this.gw.nodeId}-${this.id}`,
          ticketTime: verdict.claims.time,
          sink: this,
        },
        now,
      );
      session = r instanceof Promise ? await r : r;
    } catch (err) {
      if ((this.state as ConnState) === 'loggingIn') this.setState('open');
      return this.replyError(frame, err);
    } finally {
      this.inFlight--;
    }
    if ((this.state as ConnState) === 'closed') {
      // The socket went while the cluster applied the login: the session ends at once.
      driver.disconnect(session, 'close', Date.now());
      return;
    }
    const timeoutMs = driver.engine.settings.limits.heartbeatTimeoutSec * 1000;
    this.session = session;
    this.driver = driver;
    this.gw.track(this, timeoutMs);
    this.inFlight++;
    try {
      // The login state is durable before the client hears it is logged in.
      await this.gw.durable();
    } catch (err) {
      // Not confirmed: the client is told, and the session it would not know it has ends.
      this.replyError(frame, err);
      this.close(CloseCode.NORMAL, 'login not confirmed');
      return;
    } finally {
      this.inFlight--;
    }
    if ((this.state as ConnState) !== 'loggingIn') return; // closed or kicked meanwhile
    this.setState('ready');
    const engine = driver.engine;
    const { maxQueryIDs, maxSubscribeIDsPerCall } = engine.settings.limits;
    const result: LoginResult = {
      userID: frame.userID,
      sessionId: session.id,
      heartbeatIntervalMs: heartbeatInterval(timeoutMs),
      heartbeatTimeoutMs: timeoutMs,
      serverTime: Date.now(),
      protocol: PROTOCOL_VERSION,
      customStatus: engine.statusOf(frame.userID)?.customStatus ?? '',
      features: engine.features(),
      limits: { maxQueryIDs, maxSubscribeIDsPerCall },
    };
    this.reply(frame.id, 'login', result);
  }

  // ---- outgoing -------------------------------------------------------------------------------

  private reply(id: number, op: ClientOp, data: unknown): void {
    // Changes queued before this reply go out before it: the wire order is the order things
    // happened, so a client can tell a reply's snapshot from the changes that follow it (S23).
    this.flushOutbox();
    this.send(JSON.stringify({ id, op, code: 0, data }));
  }

  private replyError(frame: { id?: number; op: ClientOp }, err: unknown): void {
    if (err instanceof PresentlyError) {
      this.sendError(frame.id, frame.op, err.code, err.message);
      return;
    }
    this.gw.log.error({ err, op: frame.op }, 'request failed');
    this.sendError(frame.id, frame.op, ErrorCode.INTERNAL_ERROR);
  }

  sendError(id: number | undefined, op: ClientOp | 'error', code: number, message?: string): void {
    const body: Record<string, unknown> = id === undefined ? { op } : { id, op };
    body.code = code;
    body.message = message ?? messageFor(code);
    this.send(JSON.stringify(body));
  }

  /** Queues one status change; the batch goes out at the end of this turn (gateway.flush). */
  deliver(change: StatusChange): void {
    if (this.state === 'closed') return;
    if (this.outbox.length === 0) this.gw.markDirty(this);
    this.outbox.push(change);
  }

  flushOutbox(): void {
    const n = this.outbox.length;
    if (n === 0) return;
    // One change (the usual case): its frame's bytes are made once for all its receivers.
    const frame = n === 1 ? this.gw.pushFrame(this.outbox[0]!) : pushFrameText(this.outbox);
    this.outbox = [];
    this.send(frame);
  }

  /** Sends a text frame (a Buffer holds the text's UTF-8 bytes). */
  send(text: string | Buffer): void {
    if (this.state === 'closed') return;
    if (this.ws.bufferedAmount > this.gw.options.maxSendQueueBytes) {
      this.gw.log.warn({ conn: this.id, buffered: this.ws.bufferedAmount }, 'slow consumer closed');
      this.close(CloseCode.SLOW_CONSUMER, 'slow consumer');
      return;
    }
    this.ws.send(text, TEXT);
  }

  /** S27: the session was kicked; pushes queued before the kick go first. */
  kick(type: KickTypeValue): void {
    this.session = null;
    this.gw.untrack(this);
    this.flushOutbox();
    this.send(JSON.stringify({ op: 'kickedOut', data: { type } }));
    this.close(CloseCode.KICKED, type);
  }

  /** Closes the socket; the engine hears of it through onClose. */
  close(code: number, reason: string): void {
    if (this.state === 'closed') return;
    this.flushOutbox();
    this.ws.close(code, reason);
    this.onClose(code === CloseCode.HEARTBEAT_TIMEOUT ? 'timeout' : 'close');
  }

  /** The socket is gone (closed by either side, reset, or declared dead). */
  onClose(reason: 'close' | 'timeout'): void {
    if (this.state === 'closed') return;
    this.setState('closed');
    this.outbox = [];
    this.gw.untrack(this);
    if (this.watcher) this.gw.unwatch(this);
    const { session, driver } = this;
    this.session = null;
    if (session && driver) driver.disconnect(session, reason, Date.now());
    this.gw.connections.delete(this);
  }
}

const TEXT = { binary: false } as const;

/** The `userStatusUpdated` push of these changes, in order. */
export function pushFrameText(changes: readonly StatusChange[]): string {
  let data = changes[0]!.json();
  for (let i = 1; i < changes.length; i++) data += ',' + changes[i]!.json();
  return `{"op":"userStatusUpdated","data":[${data}]}`;
}

/** `r`'s value mapped by `f`, synchronously when `r` is not a promise. */
function then<T, U>(r: Maybe<T>, f: (v: T) => U): Maybe<U> {
  return r instanceof Promise ? r.then(f) : f(r);
}

/** Client heartbeat interval for a timeout: a third of it, at most 60 s, at least 100 ms. */
export function heartbeatInterval(timeoutMs: number): number {
  return Math.max(100, Math.min(60_000, Math.floor(timeoutMs / 3)));
}

/**
 * Connections ordered by last activity, oldest first: a sweep looks only at the head, so it costs
 * O(expired) however many sockets are open (no timer per socket, design.md "Gateway").
 */
export class ConnList {
  head: Connection | null = null;
  tail: Connection | null = null;
  size = 0;

  /**
   * `since: 'opened'` (the login deadline): a connection expires `timeoutMs` after it opened and
   * activity does not move it; the list stays in opening order. Otherwise after `timeoutMs` of
   * silence (S5).
   */
  constructor(
    public timeoutMs: number,
    private readonly since: 'opened' | 'lastSeen' = 'lastSeen',
  ) {}

  add(c: Connection): void {
    c.list = this;
    c.prev = this.tail;
    c.next = null;
    if (this.tail) this.tail.next = c;
    else this.head = c;
    this.tail = c;
    this.size++;
  }

  remove(c: Connection): void {
    if (c.list !== this) return;
    if (c.prev) c.prev.next = c.next;
    else this.head = c.next;
    if (c.next) c.next.prev = c.prev;
    else this.tail = c.prev;
    c.prev = c.next = null;
    c.list = null;
    this.size--;
  }

  touch(c: Connection): void {
    if (this.tail === c || this.since === 'opened') return;
    this.remove(c);
    this.add(c);
  }

  /** Removes and returns connections silent for longer than the timeout. */
  expired(now: number): Connection[] {
    const out: Connection[] = [];
    while (this.head && now - (this.since === 'opened' ? this.head.openedAt : this.head.lastSeen) > this.timeoutMs) {
      const c = this.head;
      this.remove(c);
      out.push(c);
    }
    return out;
  }
}
