/**
 * The admin stream (docs/protocol.md "watchAll"): a WebSocket to this server that proves the
 * admin with its UserSig and then receives every status change of the app. It heartbeats as told
 * and reconnects with jittered backoff; a refusal (bad ticket, not an admin, rights revoked)
 * stops it for good.
 */
import type { StatusCounts, UserStatusInfo } from '@presently/protocol';
import type { Credentials } from './rest.js';

export type StreamState = 'connecting' | 'live' | 'reconnecting' | 'refused' | 'stopped';

export interface StreamHandlers {
  onState(state: StreamState, detail: string): void;
  /** The counts when the stream (re)started. */
  onStart(counts: StatusCounts): void;
  /** Changes, oldest first. */
  onChanges(list: UserStatusInfo[]): void;
}

/** Close codes after which reconnecting cannot help. */
const FINAL_CLOSE = new Set([4001, 4002]);

export class AdminStream {
  private ws: WebSocket | null = null;
  private heartbeat: ReturnType<typeof setInterval> | null = null;
  private retry: ReturnType<typeof setTimeout> | null = null;
  private failures = 0;
  private stopped = false;

  constructor(
    private readonly creds: Credentials,
    private readonly handlers: StreamHandlers,
    private readonly url = `${location.protocol === 'https:' ? 'wss:' : 'ws:'}//${location.host}/`,
  ) {}

  start(): void {
    this.stopped = false;
    this.connect();
  }

  stop(): void {
    this.stopped = true;
    this.cleanup();
    this.handlers.onState('stopped', '');
  }

  private cleanup(): void {
    if (this.heartbeat) clearInterval(this.heartbeat);
    if (this.retry) clearTimeout(this.retry);
    this.heartbeat = null;
    this.retry = null;
    const ws = this.ws;
    this.ws = null;
    if (ws && ws.readyState <= WebSocket.OPEN) ws.close(1000, 'console closed');
  }

  private connect(): void {
    this.handlers.onState(this.failures === 0 ? 'connecting' : 'reconnecting', '');
    const ws = new WebSocket(this.url);
    this.ws = ws;
    ws.addEventListener('open', () => {
      ws.send(JSON.stringify({ id: 1, op: 'watchAll', SDKAppID: this.creds.SDKAppID, userID: this.creds.identifier, userSig: this.creds.userSig }));
    });
    ws.addEventListener('message', (ev: MessageEvent) => {
      if (ws !== this.ws) return;
      let frame: { id?: number; op?: string; code?: number; message?: string; data?: unknown };
      try {
        frame = JSON.parse(String(ev.data)) as typeof frame;
      } catch {
        return;
      }
      if (frame.op === 'userStatusUpdated' && Array.isArray(frame.data)) {
        this.handlers.onChanges(frame.data as UserStatusInfo[]);
      } else if (frame.op === 'watchAll' && frame.id === 1) {
        if (frame.code !== 0) {
          this.stopped = true;
          this.cleanup();
          this.handlers.onState('refused', `${frame.message ?? 'refused'} (${frame.code ?? '?'})`);
          return;
        }
        const data = frame.data as { heartbeatIntervalMs: number; counts: StatusCounts };
        this.failures = 0;
        this.heartbeat = setInterval(
          () => {
            if (ws.readyState === WebSocket.OPEN) ws.send('{"op":"heartbeat"}');
          },
          Math.max(1000, data.heartbeatIntervalMs),
        );
        this.handlers.onStart(data.counts);
        this.handlers.onState('live', '');
      }
    });
    ws.addEventListener('close', (ev: CloseEvent) => {
      if (ws !== this.ws || this.stopped) return;
      this.cleanup();
      if (FINAL_CLOSE.has(ev.code)) {
        this.stopped = true;
        this.handlers.onState('refused', ev.reason || `closed with ${ev.code}`);
        return;
      }
      const delay = Math.random() * Math.min(10_000, 500 * 2 ** this.failures++);
      this.handlers.onState('reconnecting', '');
      this.retry = setTimeout(() => this.connect(), delay);
    });
  }
}
