/**
 * One WebSocket connection to the server ("link"): request/reply matching, per-request timeouts,
 * heartbeats and the silence watchdog. It knows nothing of login state; the client decides what a
 * closed link means. Everything a link owns (pending requests, timers) dies with it.
 */
import { CloseCode, ErrorCode, PresentlyError, type ClientOp, type ReplyDataMap } from '@presently/protocol';

/**
 * The part of a WebSocket the SDK uses. The browser's `WebSocket`, Node's global one and the `ws`
 * package all fit: the SDK reads only `data` (message) and `code` / `reason` (close).
 */
export interface WebSocketLike {
  readonly readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  addEventListener(type: 'message', listener: (event: MessageEventLike) => void): void;
  addEventListener(type: 'close', listener: (event: CloseEventLike) => void): void;
  addEventListener(type: 'open' | 'error', listener: () => void): void;
  /** `ws` only: drops the TCP connection at once, without the closing handshake. */
  terminate?(): void;
}
export type WebSocketConstructor = new (url: string) => WebSocketLike;

const OPEN = 1;

export interface MessageEventLike {
  /** A string for text frames (the only kind the protocol uses). */
  data: unknown;
}
export interface CloseEventLike {
  code: number;
  reason: string;
}

/** globalThis.WebSocket when there is one; else `ws`, imported only now (browsers never get here). */
async function defaultWebSocket(): Promise<WebSocketConstructor> {
  const native = (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket;
  if (typeof native === 'function') return native;
  const mod = await import('ws');
  return mod.default;
}

/** Opens a socket. Rejects with 2800 when the server cannot be reached, 2801 on timeout. */
export async function openSocket(ctor: WebSocketConstructor | undefined, url: string, timeoutMs: number): Promise<WebSocketLike> {
  const Ctor = ctor ?? (await defaultWebSocket());
  let ws: WebSocketLike;
  try {
    ws = new Ctor(url);
  } catch (err) {
    throw new PresentlyError(ErrorCode.NETWORK_ERROR, `cannot connect to ${url}: ${err instanceof Error ? err.message : String(err)}`);
  }
  return new Promise<WebSocketLike>((resolve, reject) => {
    let settled = false;
    const settle = (err: PresentlyError | null): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (err === null) {
        resolve(ws);
        return;
      }
      closeQuietly(ws);
      reject(err);
    };
    const timer = setTimeout(() => settle(new PresentlyError(ErrorCode.NETWORK_TIMEOUT, `connecting to ${url} timed out after ${timeoutMs} ms`)), timeoutMs);
    ws.addEventListener('open', () => settle(null));
    // Browsers hide the reason of a failed handshake; so do we: "cannot connect" is all we know.
    ws.addEventListener('error', () => settle(new PresentlyError(ErrorCode.NETWORK_ERROR, `cannot connect to ${url}`)));
    ws.addEventListener('close', (ev: CloseEventLike) => settle(new PresentlyError(ErrorCode.NETWORK_ERROR, `cannot connect to ${url} (closed with ${ev.code})`)));
  });
}

/** Closes a socket and ignores what that throws (e.g. `ws` while still connecting). */
export function closeQuietly(ws: WebSocketLike, reason = ''): void {
  try {
    ws.close(CloseCode.NORMAL, reason);
  } catch {
    /* already closing */
  }
}

/** What the link hands to its owner. */
export interface LinkHandlers {
  /** A frame that is not the reply to a pending request (pushes, heartbeat answers, `error`). */
  onFrame(frame: IncomingFrame): void;
  /**
   * The link died on its own: the server closed it, the network dropped it, or nothing arrived
   * within the silence limit (reported as CloseCode.HEARTBEAT_TIMEOUT). Not called for `close()`.
   */
  onClose(code: number, reason: string): void;
}

/** A parsed server frame: an object with an `op`; everything else is the caller's to check. */
export interface IncomingFrame {
  op: string;
  id?: unknown;
  code?: unknown;
  message?: unknown;
  data?: unknown;
}

/** Request ops, i.e. everything but the id-less heartbeat. */
export type RequestOp = Exclude<ClientOp, 'heartbeat'>;

interface Pending {
  op: string;
  /** Runs as the reply is read, before any later frame: for work that must keep wire order. */
  onReply?: ((data: unknown) => void) | undefined;
  resolve(data: unknown): void;
  reject(err: PresentlyError): void;
  timer: ReturnType<typeof setTimeout>;
}

const now = (): number => (typeof performance !== 'undefined' ? performance.now() : Date.now());

export class Link {
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private closed: PresentlyError | null = null;
  private heartbeatTimer: ReturnType<typeof setInterval> | null = null;
  private silenceTimer: ReturnType<typeof setTimeout> | null = null;
  private silenceLimitMs = 0;
  private lastFrameAt = now();

  constructor(
    private readonly ws: WebSocketLike,
    private readonly handlers: LinkHandlers,
  ) {
    ws.addEventListener('message', (ev: MessageEventLike) => this.onMessage(ev.data));
    ws.addEventListener('close', (ev: CloseEventLike) => this.onSocketClose(ev.code, ev.reason));
    // An 'error' is always followed by 'close', which is where the link reacts.
    ws.addEventListener('error', () => undefined);
  }

  get isClosed(): boolean {
    return this.closed !== null;
  }

  /**
   * Sends a request and resolves with the reply's `data`; rejects with the reply's code, 2801 or
   * 2800. `onReply` runs synchronously when the reply is read, before the frames behind it (a
   * promise continuation would run after them).
   */
  request<Op extends RequestOp>(op: Op, fields: Record<string, unknown>, timeoutMs: number, onReply?: (data: ReplyDataMap[Op]) => void): Promise<ReplyDataMap[Op]> {
    if (this.closed) return Promise.reject(this.closed);
    const id = this.nextId++;
    return new Promise<ReplyDataMap[Op]>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new PresentlyError(ErrorCode.NETWORK_TIMEOUT, `${op} got no reply within ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(id, { op, onReply: onReply as ((data: unknown) => void) | undefined, resolve, reject, timer });
      if (!this.send({ ...fields, id, op })) {
        clearTimeout(timer);
        this.pending.delete(id);
        reject(new PresentlyError(ErrorCode.NETWORK_ERROR, `${op} could not be sent: the connection is not open`));
      }
    });
  }

  /**
   * Starts heartbeats every `intervalMs` and declares the link dead after `silenceLimitMs` without
   * any frame from the server (any frame counts as a sign of life).
   */
  startHeartbeat(intervalMs: number, silenceLimitMs: number): void {
    this.stopHeartbeat();
    if (this.closed) return;
    this.lastFrameAt = now();
    this.silenceLimitMs = silenceLimitMs;
    this.heartbeatTimer = setInterval(() => this.send({ op: 'heartbeat' }), intervalMs);
    this.armSilenceTimer(silenceLimitMs);
  }

  stopHeartbeat(): void {
    if (this.heartbeatTimer) clearInterval(this.heartbeatTimer);
    if (this.silenceTimer) clearTimeout(this.silenceTimer);
    this.heartbeatTimer = null;
    this.silenceTimer = null;
  }

  /** Rejects every pending request with `err` and keeps the link open (destroy sends a logout after). */
  rejectPending(err: PresentlyError): void {
    for (const p of this.pending.values()) {
      clearTimeout(p.timer);
      p.reject(err);
    }
    this.pending.clear();
  }

  /**
   * Closes the link from this side: every pending request rejects with `err`, and the owner is
   * not told (it asked). `hard` drops the TCP connection at once where the implementation allows,
   * for a peer that no longer answers (the closing handshake would only wait for it).
   */
  close(reason: string, err: PresentlyError, hard = false): void {
    if (this.closed) return;
    this.shutdown(err);
    if (hard && typeof this.ws.terminate === 'function') {
      try {
        this.ws.terminate();
        return;
      } catch {
        /* fall back to close() */
      }
    }
    closeQuietly(this.ws, reason);
  }

  private send(frame: Record<string, unknown>): boolean {
    if (this.closed || this.ws.readyState !== OPEN) return false;
    try {
      this.ws.send(JSON.stringify(frame));
      return true;
    } catch {
      return false;
    }
  }

  private armSilenceTimer(delayMs: number): void {
    // One timer, re-armed lazily for the remaining time instead of reset on every frame.
    this.silenceTimer = setTimeout(() => {
      this.silenceTimer = null;
      const silentFor = now() - this.lastFrameAt;
      if (silentFor < this.silenceLimitMs) {
        this.armSilenceTimer(this.silenceLimitMs - silentFor);
        return;
      }
      const reason = `nothing received for ${Math.round(silentFor)} ms`;
      this.close(reason, new PresentlyError(ErrorCode.NETWORK_ERROR, `connection lost: ${reason}`), true);
      this.handlers.onClose(CloseCode.HEARTBEAT_TIMEOUT, reason);
    }, delayMs);
  }

  private onMessage(raw: unknown): void {
    if (this.closed) return;
    this.lastFrameAt = now();
    if (typeof raw !== 'string') return; // the protocol is JSON text only
    let parsed: unknown;
    try {
      parsed = JSON.parse(raw);
    } catch {
      return;
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return;
    const frame = parsed as IncomingFrame;
    if (typeof frame.op !== 'string') return;
    if (typeof frame.id === 'number') {
      const p = this.pending.get(frame.id);
      if (p) {
        this.pending.delete(frame.id);
        clearTimeout(p.timer);
        if (frame.code === 0) {
          p.onReply?.(frame.data);
          p.resolve(frame.data);
        } else p.reject(replyError(frame));
        return;
      }
      if (frame.op !== 'error') return; // a late reply to a request that already timed out
    }
    this.handlers.onFrame(frame);
  }

  private onSocketClose(code: number, reason: string): void {
    if (this.closed) return;
    this.shutdown(new PresentlyError(ErrorCode.NETWORK_ERROR, `connection closed (${code}${reason ? `: ${reason}` : ''})`));
    this.handlers.onClose(code, reason);
  }

  private shutdown(err: PresentlyError): void {
    this.closed = err;
    this.stopHeartbeat();
    this.rejectPending(err);
  }
}

/** The PresentlyError for an error reply (or for a reply whose code is not a number). */
export function replyError(frame: IncomingFrame): PresentlyError {
  if (typeof frame.code !== 'number') {
    return new PresentlyError(ErrorCode.INTERNAL_ERROR, `malformed reply to ${frame.op}: no code`);
  }
  const message = typeof frame.message === 'string' && frame.message !== '' ? frame.message : undefined;
  return new PresentlyError(frame.code, message, frame.data);
}
