/** Options of `Presently.create` (style.md habit 7): typed, each with its default, merged once. */
import { ErrorCode, PresentlyError, isPlatform, type Platform } from '@presently/protocol';
import type { WebSocketConstructor } from './transport.js';

/** Receives the SDK's debug lines (state changes, reconnect schedule). */
export type Logger = (message: string, fields?: Record<string, unknown>) => void;

export interface PresentlyOptions {
  /**
   * The app's SDKAppID. Not checked here: like the hosted SDK, `login` rejects with 2000 when it
   * is missing or not a positive integer.
   */
  SDKAppID: number;
  /** The server's WebSocket address, e.g. `ws://127.0.0.1:8080` (`ws:`, `wss:`, `http:`, `https:`). */
  url: string;
  /**
   * The platform this session declares at login (user-status.md, "Words"); the server's
   * multi-device policy is per platform (S26).
   * @default 'Web'
   */
  platform?: Platform;
  /**
   * How long a request waits for its reply before rejecting with 2801 (network timeout).
   * @default 15000
   */
  requestTimeoutMs?: number;
  /**
   * How long opening the WebSocket may take before the attempt fails with 2801.
   * @default 10000
   */
  connectTimeoutMs?: number;
  /**
   * Reconnect backoff: the first retry waits a random time in [0, backoffBaseMs); each failed
   * attempt doubles the window (full jitter, `backoff()`).
   * @default 500
   */
  backoffBaseMs?: number;
  /**
   * Reconnect backoff: the window never grows past this.
   * @default 30000
   */
  backoffCapMs?: number;
  /**
   * After the server closes with 4010 (restarting), reconnect after a random delay in
   * [0, restartDelayMaxMs), without counting it as a failed attempt.
   * @default 1000
   */
  restartDelayMaxMs?: number;
  /**
   * The connection is declared lost when nothing at all (reply, push, heartbeat answer) has
   * arrived for `min(heartbeatTimeoutMs, 2 × heartbeatIntervalMs + heartbeatGraceMs)`, both
   * intervals being the ones the server announced at login. Two missed heartbeat answers plus
   * this grace (for a slow network or a busy tab) is much sooner than the server's own timeout
   * (400 s by default, S5), which is too slow to notice a dead network.
   * @default 5000
   */
  heartbeatGraceMs?: number;
  /**
   * The WebSocket implementation.
   * @default globalThis.WebSocket when present (browsers, Deno, Node >= 22), else the `ws` package,
   * loaded lazily so browser bundles carry no Node code
   */
  WebSocket?: WebSocketConstructor;
  /**
   * Debug output: every state change (`state ready -> disconnected`) and reconnect decision.
   * @default undefined (silent)
   */
  logger?: Logger;
}

export interface ResolvedOptions {
  SDKAppID: number;
  url: string;
  platform: Platform;
  requestTimeoutMs: number;
  connectTimeoutMs: number;
  backoffBaseMs: number;
  backoffCapMs: number;
  restartDelayMaxMs: number;
  heartbeatGraceMs: number;
  WebSocket: WebSocketConstructor | undefined;
  logger: Logger | undefined;
}

/** The defaults, in one place. */
export const DEFAULT_OPTIONS = {
  platform: 'Web',
  requestTimeoutMs: 15_000,
  connectTimeoutMs: 10_000,
  backoffBaseMs: 500,
  backoffCapMs: 30_000,
  restartDelayMaxMs: 1_000,
  heartbeatGraceMs: 5_000,
} as const satisfies Partial<PresentlyOptions>;

function invalid(message: string): PresentlyError {
  return new PresentlyError(ErrorCode.INVALID_PARAMETERS, `invalid option: ${message}`);
}

function duration(name: string, value: number | undefined, fallback: number, min: number): number {
  if (value === undefined) return fallback;
  // setTimeout clamps anything above 2^31-1 ms to 1 ms; refuse it rather than spin.
  if (typeof value !== 'number' || !Number.isFinite(value) || value < min || value > 2_147_483_647) {
    throw invalid(`${name} must be a number of milliseconds between ${min} and 2147483647, got ${String(value)}`);
  }
  return value;
}

/**
 * Merges the options with the defaults and refuses invalid values with a PresentlyError (70402).
 * SDKAppID is left to `login` (2000), as in the hosted SDK.
 */
export function resolveOptions(options: PresentlyOptions): ResolvedOptions {
  if (typeof options !== 'object' || options === null) throw invalid('create() needs an options object');
  const { url } = options;
  if (typeof url !== 'string' || url === '') throw invalid('url is required (e.g. "ws://127.0.0.1:8080")');
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw invalid(`url ${JSON.stringify(url)} is not a URL`);
  }
  if (!['ws:', 'wss:', 'http:', 'https:'].includes(parsed.protocol)) {
    throw invalid(`url must use ws:, wss:, http: or https:, got ${parsed.protocol}`);
  }
  const platform = options.platform ?? DEFAULT_OPTIONS.platform;
  if (!isPlatform(platform)) throw invalid(`unknown platform ${JSON.stringify(platform)}`);
  if (options.WebSocket !== undefined && typeof options.WebSocket !== 'function') throw invalid('WebSocket must be a constructor');
  if (options.logger !== undefined && typeof options.logger !== 'function') throw invalid('logger must be a function');
  const backoffBaseMs = duration('backoffBaseMs', options.backoffBaseMs, DEFAULT_OPTIONS.backoffBaseMs, 0);
  const backoffCapMs = duration('backoffCapMs', options.backoffCapMs, DEFAULT_OPTIONS.backoffCapMs, 0);
  if (backoffCapMs < backoffBaseMs) throw invalid('backoffCapMs must not be smaller than backoffBaseMs');
  return {
    SDKAppID: options.SDKAppID,
    url,
    platform,
    requestTimeoutMs: duration('requestTimeoutMs', options.requestTimeoutMs, DEFAULT_OPTIONS.requestTimeoutMs, 1),
    connectTimeoutMs: duration('connectTimeoutMs', options.connectTimeoutMs, DEFAULT_OPTIONS.connectTimeoutMs, 1),
    backoffBaseMs,
    backoffCapMs,
    restartDelayMaxMs: duration('restartDelayMaxMs', options.restartDelayMaxMs, DEFAULT_OPTIONS.restartDelayMaxMs, 0),
    heartbeatGraceMs: duration('heartbeatGraceMs', options.heartbeatGraceMs, DEFAULT_OPTIONS.heartbeatGraceMs, 0),
    WebSocket: options.WebSocket,
    logger: options.logger,
  };
}
