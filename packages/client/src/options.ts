/** Options of `Presently.create` (style.md habit 7): typed, each with its default, merged once. */
import { ErrorCode, PresentlyError, isPlatform, type Platform } from '@presently/protocol';
import type { WebSocketConstructor } from './transport.js';

/**
 * Log levels, as in the hosted SDK's `setLogLevel`: 0 everything (state changes, reconnect
 * schedule), 1 release (logins, lost connections), 2 warnings, 3 errors, 4 nothing.
 */
export type LogLevel = 0 | 1 | 2 | 3 | 4;

/** Receives the SDK's log lines at or above the log level. */
export type Logger = (message: string, fields?: Record<string, unknown>, level?: LogLevel) => void;

export interface PresentlyOptions {
  /**
   * The app's SDKAppID. Not checked here: like the hosted SDK, `login` rejects with 2000 when it
   * is missing or not a positive integer.
   */
  SDKAppID: number;
  /**
   * The server's address, e.g. `ws://127.0.0.1:8080` (`ws:`, `wss:`, `http:`, `https:`).
   * @default `proxyServer`, else the address given to `Presently.configure({ url })`, else the
   * `PRESENTLY_URL` environment variable (Node), else the page's own origin (browsers)
   */
  url?: string;
  /**
   * The hosted SDK's option for a WebSocket proxy; Presently takes it as the server's address when
   * `url` is not given, so `create({ SDKAppID, proxyServer })` works unchanged.
   */
  proxyServer?: string;
  /** Accepted for compatibility and not used (Presently has no file transfer). */
  fileUploadProxy?: string;
  /** Accepted for compatibility and not used. */
  fileDownloadProxy?: string;
  /** Accepted for compatibility and not used. */
  scene?: string;
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
   * Where log lines go: every state change (`state ready -> disconnected`), reconnect decision,
   * and warning (such as a list trimmed to the app's limit).
   * @default warnings and errors to `console`
   */
  logger?: Logger;
  /**
   * The lowest level logged (`setLogLevel` changes it later).
   * @default 0 with a `logger`, 2 (warnings and errors) without
   */
  logLevel?: LogLevel;
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
  logLevel: LogLevel;
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

function isLogLevel(value: unknown): value is LogLevel {
  return value === 0 || value === 1 || value === 2 || value === 3 || value === 4;
}

/** Checks a log level given to `create` or `setLogLevel`. */
export function checkLogLevel(value: unknown): LogLevel {
  if (!isLogLevel(value)) throw invalid(`log level must be 0, 1, 2, 3 or 4, got ${String(value)}`);
  return value;
}

/** Checks a server address: a string URL with a WebSocket or HTTP scheme. */
export function checkUrl(url: unknown, name = 'url'): string {
  if (typeof url !== 'string' || url === '') throw invalid(`${name} must be a non-empty string (e.g. "ws://127.0.0.1:8080")`);
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw invalid(`${name} ${JSON.stringify(url)} is not a URL`);
  }
  if (!['ws:', 'wss:', 'http:', 'https:'].includes(parsed.protocol)) {
    throw invalid(`${name} must use ws:, wss:, http: or https:, got ${parsed.protocol}`);
  }
  return url;
}

/** The address set with `Presently.configure({ url })`, for every later `create` without one. */
let configuredUrl: string | undefined;

/** What `Presently.configure` takes. */
export interface ConfigureOptions {
  /** The server's address for every later `create` that names none; `undefined` forgets it. */
  url?: string | undefined;
}

/** Sets defaults for later `create` calls (today: the server's address). */
export function configure(options: ConfigureOptions): void {
  if (typeof options !== 'object' || options === null) throw invalid('configure() needs an options object');
  configuredUrl = options.url === undefined ? undefined : checkUrl(options.url);
}

/** `PRESENTLY_URL` in Node-like runtimes; undefined elsewhere. */
function environmentUrl(): string | undefined {
  const env = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env;
  const url = env?.PRESENTLY_URL;
  return url === undefined || url === '' ? undefined : url;
}

/** A page's own origin as a WebSocket address (http: → ws:, https: → wss:); undefined outside pages. */
function pageUrl(): string | undefined {
  const loc = (globalThis as { location?: { protocol?: unknown; host?: unknown } }).location;
  if (!loc || typeof loc.host !== 'string' || loc.host === '') return undefined;
  if (loc.protocol === 'https:') return `wss://${loc.host}`;
  if (loc.protocol === 'http:') return `ws://${loc.host}`;
  return undefined;
}

/** The server's address, by the order documented on `PresentlyOptions.url`. */
function serverUrl(options: PresentlyOptions): string {
  if (options.url !== undefined) return checkUrl(options.url);
  if (options.proxyServer !== undefined) return checkUrl(options.proxyServer, 'proxyServer');
  const fallback = configuredUrl ?? environmentUrl() ?? pageUrl();
  if (fallback === undefined) {
    throw invalid('no server address: pass url to create(), or call Presently.configure({ url }) once, or set PRESENTLY_URL');
  }
  return checkUrl(fallback);
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
  const url = serverUrl(options);
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
    logLevel: options.logLevel === undefined ? (options.logger ? 0 : 2) : checkLogLevel(options.logLevel),
  };
}
