/**
 * A TCP proxy between clients and a node: one "path" of the network, which the nemesis can make
 * slow (delay), cut off (partition: nothing passes either way, held until it heals, as TCP
 * retransmits would), or half-open (the client's side of every connection vanishes while the
 * server's side stays open and silent; new connections are refused until it ends).
 */
import { connect, createServer, type Server, type Socket } from 'node:net';
import { now } from './history.js';

type Action = { kind: 'data'; buf: Buffer } | { kind: 'end' } | { kind: 'destroy' };

/** One direction of a connection: actions released in order at their time (Infinity: held). */
class Lane {
  private readonly queue: Array<{ at: number; act: Action }> = [];
  private timer: ReturnType<typeof setTimeout> | null = null;
  private lastAt = 0;
  ended = false;

  constructor(
    private readonly target: () => Socket | null,
    private readonly onWrite: () => void,
  ) {}

  push(act: Action, delayMs: number, held: boolean): void {
    const at = held ? Infinity : Math.max(this.lastAt, now() + delayMs);
    if (!held) this.lastAt = at;
    this.queue.push({ at, act });
    this.pump();
  }

  /** Releases what a partition held, in order. */
  release(): void {
    const t = now();
    for (const q of this.queue) if (q.at === Infinity) q.at = t;
    this.lastAt = Math.max(this.lastAt, t);
    this.pump();
  }

  clear(): void {
    this.queue.length = 0;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  pump(): void {
    const sock = this.target();
    if (!sock) return;
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    const t = now();
    while (this.queue.length > 0 && this.queue[0]!.at <= t) {
      const { act } = this.queue.shift()!;
      if (act.kind === 'data') {
        if (!sock.destroyed && !this.ended) {
          sock.write(act.buf);
          this.onWrite();
        }
      } else if (act.kind === 'end') {
        this.ended = true;
        if (!sock.destroyed) sock.end();
      } else {
        this.ended = true;
        sock.destroy();
      }
    }
    const head = this.queue[0];
    if (head && head.at !== Infinity) this.timer = setTimeout(() => this.pump(), Math.max(1, head.at - t));
  }
}

interface Conn {
  client: Socket;
  up: Socket;
  upReady: boolean;
  lastUp: number;
  severed: boolean;
  toUp: Lane;
  toClient: Lane;
}

export interface SeveredConn {
  port: number;
  lastUp: number;
}

export class FaultProxy {
  private server: Server | null = null;
  private readonly conns = new Set<Conn>();
  private delayMs = 0;
  private partitioned = false;
  private refusing = false;
  port = 0;

  constructor(
    readonly path: string,
    /** Where connections go; asked for every new connection (a cluster run may move it). */
    private readonly target: () => { host: string; port: number },
  ) {}

  async start(): Promise<void> {
    this.server = createServer({ allowHalfOpen: true }, (client) => this.accept(client));
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', () => resolve()));
    this.port = (this.server.address() as { port: number }).port;
  }

  get url(): string {
    return `ws://127.0.0.1:${this.port}`;
  }

  setDelay(ms: number): void {
    this.delayMs = ms;
  }

  partition(): void {
    this.partitioned = true;
  }

  heal(): void {
    this.partitioned = false;
    this.refusing = false;
    this.delayMs = 0;
    for (const c of this.conns) {
      c.toUp.release();
      c.toClient.release();
    }
  }

  /**
   * Half-open: drops the client's side of every connection at once (the client sees its socket
   * close) and keeps the server's side open and silent; refuses new connections until `heal`.
   */
  sever(): SeveredConn[] {
    this.refusing = true;
    const out: SeveredConn[] = [];
    for (const c of this.conns) {
      if (c.severed) continue;
      c.severed = true;
      out.push({ port: c.client.remotePort ?? 0, lastUp: c.lastUp });
      c.toClient.clear();
      c.toUp.clear();
      c.client.destroy();
    }
    return out;
  }

  async close(): Promise<void> {
    for (const c of this.conns) {
      c.client.destroy();
      c.up.destroy();
    }
    this.conns.clear();
    if (this.server) await new Promise<void>((resolve) => this.server!.close(() => resolve()));
  }

  private accept(client: Socket): void {
    if (this.refusing) {
      client.resetAndDestroy();
      return;
    }
    const { host, port } = this.target();
    const up = connect({ port, host, allowHalfOpen: true });
    const conn: Conn = {
      client,
      up,
      upReady: false,
      lastUp: now(),
      severed: false,
      toUp: new Lane(
        () => (conn.upReady ? up : null),
        () => (conn.lastUp = now()),
      ),
      toClient: new Lane(
        () => client,
        () => undefined,
      ),
    };
    this.conns.add(conn);
    client.setNoDelay(true);
    up.setNoDelay(true);
    up.on('connect', () => {
      conn.upReady = true;
      conn.toUp.pump();
    });
    const forget = () => {
      if (client.destroyed && up.destroyed) this.conns.delete(conn);
    };
    client.on('data', (buf) => {
      if (!conn.severed) conn.toUp.push({ kind: 'data', buf }, this.delayMs, this.partitioned);
    });
    let clientEnded = false;
    let upEnded = false;
    client.on('end', () => {
      clientEnded = true;
      if (!conn.severed) conn.toUp.push({ kind: 'end' }, this.delayMs, this.partitioned);
    });
    client.on('close', () => {
      // After a clean end the server closes its side itself; a reset is passed on as one.
      if (!conn.severed && !clientEnded) conn.toUp.push({ kind: 'destroy' }, this.delayMs, this.partitioned);
      forget();
    });
    up.on('data', (buf) => {
      if (!conn.severed) conn.toClient.push({ kind: 'data', buf }, this.delayMs, this.partitioned);
    });
    up.on('end', () => {
      upEnded = true;
      if (!conn.severed) conn.toClient.push({ kind: 'end' }, this.delayMs, this.partitioned);
    });
    up.on('close', () => {
      if (!conn.severed && !upEnded) conn.toClient.push({ kind: 'destroy' }, this.delayMs, this.partitioned);
      forget();
    });
    client.on('error', () => undefined);
    up.on('error', () => undefined);
  }
}
