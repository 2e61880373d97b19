/**
 * A WebSocket for the SDK (its `WebSocket` option) that records what crosses the wire: the link's
 * local port, login / logout / syncStatus requests and replies, every `userStatusUpdated` push as
 * it arrived, kicks, the close and who caused it. It also carries the recorder's client faults:
 * `crash()` destroys the socket (the peer sees a FIN, no logout) and `freeze()` stops the client
 * dead while the socket stays open (nothing sent, nothing read: the server's heartbeat timeout).
 */
import WebSocket from 'ws';
import type { WebSocketConstructor, WebSocketLike } from '@presently/client';
import { now, type Rec, type StatusItem } from './history.js';

const CONNECTING = 0;
const OPEN = 1;
const CLOSED = 3;
const RECORDED_OPS = new Set(['login', 'logout', 'syncStatus']);

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Listener = (ev: any) => void;

export interface TapOwner {
  /** The client id (`w0c3`). */
  c: string;
  record(rec: Rec): void;
  /** Called with each new socket of this client, so the driver can crash or freeze the current one. */
  adopt(sock: TapSocket): void;
  nextLinkId(): string;
}

export class TapSocket implements WebSocketLike {
  readonly l: string;
  private readonly ws: WebSocket;
  private readonly listeners = new Map<string, Listener[]>();
  private opened = false;
  private closedBy: 'client' | 'crash' | null = null;
  private frozen = false;
  private crashed = false;
  private closeRecorded = false;
  lastSent = 0;
  private readonly sent = new Map<number, string>();

  constructor(
    url: string,
    private readonly owner: TapOwner,
  ) {
    this.l = owner.nextLinkId();
    this.ws = new WebSocket(url);
    owner.adopt(this);
    this.ws.on('open', () => {
      this.opened = true;
      this.lastSent = now();
      const port = (this.ws as unknown as { _socket?: { localPort?: number } })._socket?.localPort ?? 0;
      owner.record({ type: 'link-open', t: now(), c: owner.c, l: this.l, port });
      this.emit('open', {});
    });
    this.ws.on('message', (data: Buffer, isBinary: boolean) => {
      if (this.crashed) return;
      const text = isBinary ? null : data.toString();
      if (text !== null) this.inspectIncoming(text);
      if (!this.frozen) this.emit('message', { data: text ?? data });
    });
    this.ws.on('close', (code: number, reason: Buffer) => {
      if (this.opened && !this.closeRecorded) {
        this.closeRecorded = true;
        owner.record({ type: 'link-close', t: now(), l: this.l, code, reason: reason.toString(), by: this.closedBy ?? 'server', lastSent: this.lastSent });
      }
      if (!this.frozen && !this.crashed) this.emit('close', { code, reason: reason.toString() });
    });
    this.ws.on('error', () => {
      if (!this.frozen && !this.crashed) this.emit('error', {});
    });
  }

  get readyState(): number {
    if (this.crashed || this.frozen) return CLOSED;
    return this.ws.readyState;
  }

  get isOpen(): boolean {
    return this.opened && this.ws.readyState === OPEN && !this.crashed && !this.frozen;
  }

  addEventListener(type: string, listener: Listener): void {
    const list = this.listeners.get(type) ?? [];
    list.push(listener);
    this.listeners.set(type, list);
  }

  send(data: string): void {
    if (this.crashed || this.frozen) return;
    try {
      const frame = JSON.parse(data) as { op?: unknown; id?: unknown };
      if (typeof frame.op === 'string' && RECORDED_OPS.has(frame.op) && typeof frame.id === 'number') {
        this.sent.set(frame.id, frame.op);
        this.owner.record({ type: 'link-send', t: now(), l: this.l, op: frame.op, rid: frame.id });
      }
    } catch {
      /* not ours to judge */
    }
    this.lastSent = now();
    this.ws.send(data);
  }

  close(code?: number, reason?: string): void {
    if (this.crashed || this.frozen) return;
    this.closedBy ??= 'client';
    if (this.ws.readyState === CONNECTING) this.ws.terminate();
    else this.ws.close(code, reason);
  }

  terminate(): void {
    if (this.crashed || this.frozen) return;
    this.closedBy ??= 'client';
    this.ws.terminate();
  }

  /** Destroys the TCP connection now, without a close handshake or logout; the SDK hears nothing more. */
  crash(): void {
    this.crashed = true;
    this.closedBy = 'crash';
    this.ws.terminate();
  }

  /** Stops the client dead: nothing is sent or handed to the SDK any more; the socket stays open. */
  freeze(): void {
    this.frozen = true;
  }

  private emit(type: string, ev: unknown): void {
    for (const l of this.listeners.get(type) ?? []) l(ev);
  }

  private inspectIncoming(text: string): void {
    let frame: { op?: unknown; id?: unknown; code?: unknown; data?: unknown };
    try {
      frame = JSON.parse(text) as typeof frame;
    } catch {
      return;
    }
    const t = now();
    if (typeof frame.id === 'number' && this.sent.has(frame.id)) {
      const op = this.sent.get(frame.id)!;
      this.sent.delete(frame.id);
      this.owner.record({ type: 'link-reply', t, l: this.l, op, rid: frame.id, code: typeof frame.code === 'number' ? frame.code : -1 });
      return;
    }
    if (frame.op === 'userStatusUpdated' && frame.id === undefined && Array.isArray(frame.data)) {
      const items: StatusItem[] = (frame.data as StatusItem[]).map((s) => ({ userID: s.userID, statusType: s.statusType, customStatus: s.customStatus ?? '' }));
      this.owner.record({ type: 'push', t, l: this.l, items });
    } else if (frame.op === 'kickedOut') {
      const kind = (frame.data as { type?: unknown } | undefined)?.type;
      this.owner.record({ type: 'kick', t, l: this.l, kind: typeof kind === 'string' ? kind : '' });
    }
  }
}

/** The `WebSocket` option for one client's SDK instance. */
export function tapClass(owner: TapOwner): WebSocketConstructor {
  return class extends TapSocket {
    constructor(url: string) {
      super(url, owner);
    }
  };
}
