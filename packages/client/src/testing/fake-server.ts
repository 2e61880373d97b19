/**
 * An in-process fake Presently server for the SDK's tests: a real WebSocket server (the `ws`
 * package) on port 0 that answers the protocol with canned data, and lets a test push frames,
 * close with any code, or go silent. It produces what a real server cannot on demand (a kick at a
 * chosen moment, a restart close, a dead-but-open connection).
 */
import { WebSocketServer, type WebSocket } from 'ws';
import type { AddressInfo } from 'node:net';
import type { IncomingMessage } from 'node:http';
import { PROTOCOL_VERSION, type AppFeatures, type CallLimits, type LoginResult, type UserStatusInfo, type KickTypeValue } from '@presently/protocol';
import { EVENT, type EventName, type PresentlyEvent } from '../constants.js';
import type { PresentlyClient } from '../client.js';

export interface Frame {
  id?: number;
  op: string;
  [field: string]: unknown;
}

/** What the server does with a request; the default answers like a healthy server. */
export type Handler = (frame: Frame, sock: FakeSocket) => void;

export interface FakeServerOptions {
  /** Announced at login. @default 10000 */
  heartbeatIntervalMs?: number;
  /** Announced at login. @default 30000 */
  heartbeatTimeoutMs?: number;
  /** Called before each handshake completes; the connection waits for the returned promise. */
  beforeAccept?: (req: IncomingMessage) => Promise<void>;
  /** Announced at login. @default { userStatus: true, friendAutoNotify: false } */
  features?: AppFeatures;
  /** Announced at login. @default { maxQueryIDs: 500, maxSubscribeIDsPerCall: 100 } */
  limits?: CallLimits;
}

export class FakeSocket {
  readonly frames: Frame[] = [];
  /** The userID this socket logged in as. */
  userID = '';
  /** When true nothing is answered any more (not even heartbeats): a dead-but-open connection. */
  silent = false;
  readonly closed: Promise<{ code: number; reason: string }>;
  private waiters: Array<{ pred: (f: Frame) => boolean; resolve: (f: Frame) => void }> = [];

  constructor(
    readonly ws: WebSocket,
    readonly server: FakeServer,
  ) {
    this.closed = new Promise((resolve) => ws.once('close', (code, reason) => resolve({ code, reason: reason.toString() })));
    ws.on('message', (data: Buffer) => {
      const frame = JSON.parse(data.toString()) as Frame;
      this.frames.push(frame);
      this.waiters = this.waiters.filter((w) => {
        if (!w.pred(frame)) return true;
        w.resolve(frame);
        return false;
      });
      if (this.silent) return;
      const handler = this.server.handlers[frame.op] ?? DEFAULT_HANDLERS[frame.op];
      handler?.(frame, this);
    });
  }

  /** The first frame received (already, or later) with this op / matching this predicate. */
  next(match: string | ((f: Frame) => boolean)): Promise<Frame> {
    const pred = typeof match === 'string' ? (f: Frame) => f.op === match : match;
    const seen = this.frames.find(pred);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve) => this.waiters.push({ pred, resolve }));
  }

  /** How many frames of this op arrived so far. */
  count(op: string): number {
    return this.frames.filter((f) => f.op === op).length;
  }

  /** Sends a frame; resolves once it is written. A frame for a closing socket is dropped, like a real server's. */
  send(body: Record<string, unknown>): Promise<void> {
    if (this.ws.readyState !== this.ws.OPEN) return Promise.resolve();
    return new Promise((resolve) => this.ws.send(JSON.stringify(body), () => resolve()));
  }

  reply(frame: Frame, data: unknown): Promise<void> {
    return this.send({ id: frame.id, op: frame.op, code: 0, data });
  }

  refuse(frame: Frame, code: number, message = `refused with ${code}`): Promise<void> {
    return this.send({ id: frame.id, op: frame.op, code, message });
  }

  push(list: UserStatusInfo[]): Promise<void> {
    return this.send({ op: 'userStatusUpdated', data: list });
  }

  /** The server's kick sequence (S27): the push, then close 4001 with the type as reason. */
  async kick(type: KickTypeValue): Promise<void> {
    await this.send({ op: 'kickedOut', data: { type } });
    this.ws.close(4001, type);
  }

  close(code: number, reason = ''): void {
    this.ws.close(code, reason);
  }

  /** Drops the TCP connection without a closing handshake (network loss). */
  terminate(): void {
    this.ws.terminate();
  }
}

const DEFAULT_HANDLERS: Record<string, Handler> = {
  login(frame, sock) {
    sock.userID = String(frame.userID);
    const srv = sock.server;
    const result: LoginResult = {
      userID: sock.userID,
      sessionId: `s-${srv.sockets.length}`,
      heartbeatIntervalMs: srv.options.heartbeatIntervalMs ?? 10_000,
      heartbeatTimeoutMs: srv.options.heartbeatTimeoutMs ?? 30_000,
      serverTime: Date.now(),
      protocol: PROTOCOL_VERSION,
      customStatus: srv.statuses.get(sock.userID)?.customStatus ?? '',
      features: srv.options.features ?? { userStatus: true, friendAutoNotify: false },
      limits: srv.options.limits ?? { maxQueryIDs: 500, maxSubscribeIDsPerCall: 100 },
    };
    void sock.reply(frame, result);
  },
  heartbeat(frame, sock) {
    void sock.send(frame.id === undefined ? { op: 'heartbeat', code: 0, data: {} } : { id: frame.id, op: 'heartbeat', code: 0, data: {} });
  },
  logout(frame, sock) {
    void sock.reply(frame, {}).then(() => sock.close(4002, 'logged out'));
  },
  setSelfStatus(frame, sock) {
    const status = { userID: sock.userID, statusType: 1, customStatus: (frame.customStatus as string | null) ?? '' };
    sock.server.statuses.set(sock.userID, status as UserStatusInfo);
    void sock.reply(frame, status);
  },
  getUserStatus(frame, sock) {
    const srv = sock.server;
    const ids = frame.userIDList as string[];
    void sock.reply(frame, {
      successUserList: ids.flatMap((u) => srv.statuses.get(u) ?? []),
      failureUserList: ids.filter((u) => !srv.statuses.has(u)).map((u) => ({ userID: u, code: 70107, message: 'account does not exist' })),
    });
  },
  subscribeUserStatus(frame, sock) {
    void sock.reply(frame, { failureUserList: [] });
  },
  unsubscribeUserStatus(frame, sock) {
    void sock.reply(frame, { failureUserList: [] });
  },
  syncStatus(frame, sock) {
    void sock.reply(frame, { userList: [...sock.server.statuses.values()] });
  },
};

export class FakeServer {
  readonly sockets: FakeSocket[] = [];
  /** Per-op overrides of the default behaviour. */
  readonly handlers: Partial<Record<string, Handler>> = {};
  /** Statuses returned by getUserStatus and syncStatus. */
  readonly statuses = new Map<string, UserStatusInfo>();
  private waiters: Array<{ index: number; resolve: (s: FakeSocket) => void }> = [];

  private constructor(
    readonly wss: WebSocketServer,
    readonly url: string,
    readonly options: FakeServerOptions,
  ) {
    wss.on('connection', (ws) => {
      const sock = new FakeSocket(ws, this);
      this.sockets.push(sock);
      const index = this.sockets.length - 1;
      this.waiters = this.waiters.filter((w) => {
        if (w.index !== index) return true;
        w.resolve(sock);
        return false;
      });
    });
  }

  static async start(options: FakeServerOptions = {}): Promise<FakeServer> {
    const { beforeAccept } = options;
    const wss = new WebSocketServer({
      host: '127.0.0.1',
      port: 0,
      ...(beforeAccept ? { verifyClient: (info: { req: IncomingMessage }, done: (ok: boolean) => void) => void beforeAccept(info.req).then(() => done(true)) } : {}),
    });
    await new Promise<void>((resolve) => wss.once('listening', () => resolve()));
    const { port } = wss.address() as AddressInfo;
    return new FakeServer(wss, `ws://127.0.0.1:${port}`, options);
  }

  /** The index-th connection (0-based), already made or still to come. */
  connection(index: number): Promise<FakeSocket> {
    const sock = this.sockets[index];
    if (sock) return Promise.resolve(sock);
    return new Promise((resolve) => this.waiters.push({ index, resolve }));
  }

  setStatus(userID: string, statusType: UserStatusInfo['statusType'], customStatus = ''): UserStatusInfo {
    const s: UserStatusInfo = { userID, statusType, customStatus };
    this.statuses.set(userID, s);
    return s;
  }

  async stop(): Promise<void> {
    for (const s of this.sockets) s.ws.terminate();
    await new Promise<void>((resolve) => this.wss.close(() => resolve()));
  }
}

// ---- client-side helpers ------------------------------------------------------------------------

export interface Recorded {
  name: EventName;
  data: unknown;
}

/** Records every event of a client, in order. */
export function recordEvents(client: PresentlyClient): Recorded[] {
  const out: Recorded[] = [];
  const fired: EventName[] = [EVENT.SDK_READY, EVENT.SDK_NOT_READY, EVENT.USER_STATUS_UPDATED, EVENT.KICKED_OUT, EVENT.NET_STATE_CHANGE, EVENT.ERROR];
  for (const name of fired) client.on(name, (e: { name: EventName; data: unknown }) => out.push({ name: e.name, data: e.data }));
  return out;
}

/** The next event of that name (matching `pred`, when given). */
export function nextEvent<K extends EventName>(client: PresentlyClient, name: K, pred: (e: PresentlyEvent<K>) => boolean = () => true): Promise<PresentlyEvent<K>> {
  return new Promise((resolve) => {
    const handler = (e: PresentlyEvent<K>): void => {
      if (!pred(e)) return;
      client.off(name, handler);
      resolve(e);
    };
    client.on(name, handler);
  });
}

/** Logs in and waits for the SDK_READY that follows the login promise. */
export async function loginReady(client: PresentlyClient, params: { userID: string; userSig: string }) {
  const ready = nextEvent(client, EVENT.SDK_READY);
  const res = await client.login(params);
  await ready;
  return res;
}

/** Resolves after `ms`: only for asserting that something does NOT happen. */
export function quietFor(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
