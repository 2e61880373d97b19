/** A raw WebSocket peer for tests that must send what the SDK never would. */
import WebSocket from 'ws';

export interface Frame {
  id?: number;
  op: string;
  code?: number;
  message?: string;
  data?: unknown;
}

export class RawPeer {
  readonly frames: Frame[] = [];
  private waiters: Array<{ pred: (f: Frame) => boolean; resolve: (f: Frame) => void }> = [];
  private nextId = 1;
  readonly closed: Promise<{ code: number; reason: string }>;

  private constructor(readonly ws: WebSocket) {
    ws.on('message', (data: Buffer) => {
      const f = JSON.parse(data.toString()) as Frame;
      this.frames.push(f);
      this.waiters = this.waiters.filter((w) => {
        if (!w.pred(f)) return true;
        w.resolve(f);
        return false;
      });
    });
    this.closed = new Promise((resolve) => ws.once('close', (code, reason) => resolve({ code, reason: reason.toString() })));
  }

  /** `headers`: extra handshake headers (e.g. X-Forwarded-For, as a reverse proxy adds). */
  static async connect(url: string, headers?: Record<string, string>): Promise<RawPeer> {
    const ws = headers ? new WebSocket(url, { headers }) : new WebSocket(url);
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    return new RawPeer(ws);
  }

  /** The first frame (already received or coming) that matches. */
  next(pred: (f: Frame) => boolean): Promise<Frame> {
    const seen = this.frames.find(pred);
    if (seen) {
      this.frames.splice(this.frames.indexOf(seen), 1);
      return Promise.resolve(seen);
    }
    return new Promise((resolve) => {
      this.waiters.push({
        pred,
        resolve: (f) => {
          this.frames.splice(this.frames.indexOf(f), 1);
          resolve(f);
        },
      });
    });
  }

  sendRaw(data: string | Buffer, binary = false): void {
    this.ws.send(data, { binary });
  }

  /** Sends a request and waits for its reply. */
  async request(op: string, fields: Record<string, unknown> = {}): Promise<Frame> {
    const id = this.nextId++;
    this.ws.send(JSON.stringify({ id, op, ...fields }));
    return this.next((f) => f.id === id);
  }

  async login(SDKAppID: number, userID: string, userSig: string, platform = 'Web'): Promise<Frame> {
    return this.request('login', { SDKAppID, userID, userSig, platform, instanceId: `raw-${userID}-${Math.random()}` });
  }

  close(): void {
    this.ws.close();
  }
}
