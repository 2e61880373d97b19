/**
 * A raw protocol peer the runner drives itself, for what no SDK call does: another user's device
 * that changes its status, logs out, or vanishes without a goodbye (a reset connection, S3).
 */
import WebSocket from 'ws';

interface Frame {
  id?: number;
  op: string;
  code?: number;
  message?: string;
  data?: unknown;
}

export class RawActor {
  private nextId = 1;
  private readonly waiting = new Map<number, (f: Frame) => void>();
  private heartbeat: ReturnType<typeof setInterval> | null = null;

  private constructor(private readonly ws: WebSocket) {
    ws.on('message', (data) => {
      let f: Frame;
      try {
        f = JSON.parse((data as Buffer).toString()) as Frame;
      } catch {
        return;
      }
      if (typeof f.id === 'number') {
        const w = this.waiting.get(f.id);
        if (w) {
          this.waiting.delete(f.id);
          w(f);
        }
      }
    });
    ws.on('error', () => undefined);
    ws.on('close', () => this.stopHeartbeat());
  }

  static async connect(url: string): Promise<RawActor> {
    const ws = new WebSocket(url);
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    return new RawActor(ws);
  }

  request(op: string, fields: Record<string, unknown> = {}, timeoutMs = 5000): Promise<Frame> {
    const id = this.nextId++;
    return new Promise<Frame>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting.delete(id);
        reject(new Error(`raw ${op} got no reply within ${timeoutMs} ms`));
      }, timeoutMs);
      this.waiting.set(id, (f) => {
        clearTimeout(timer);
        resolve(f);
      });
      this.ws.send(JSON.stringify({ id, op, ...fields }));
    });
  }

  /** Logs in and keeps the session alive with heartbeats at the interval the server announced. */
  async login(SDKAppID: number, userID: string, userSig: string, platform: string): Promise<void> {
    const reply = await this.request('login', { SDKAppID, userID, userSig, platform, instanceId: `raw-${userID}-${Math.random().toString(36).slice(2)}` });
    if (reply.code !== 0) throw new Error(`raw login of ${userID} refused: ${reply.code} ${reply.message ?? ''}`);
    const interval = (reply.data as { heartbeatIntervalMs?: number } | undefined)?.heartbeatIntervalMs ?? 30_000;
    this.heartbeat = setInterval(() => {
      if (this.ws.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify({ op: 'heartbeat' }));
    }, interval);
  }

  private stopHeartbeat(): void {
    if (this.heartbeat) clearInterval(this.heartbeat);
    this.heartbeat = null;
  }

  /** Drops the TCP connection at once, without a close handshake or a logout. */
  drop(): void {
    this.stopHeartbeat();
    this.ws.terminate();
  }

  close(): void {
    this.stopHeartbeat();
    try {
      this.ws.close();
    } catch {
      /* already closed */
    }
  }
}
