/**
 * Process-wide webhook delivery options. What a receiver gets (URL, secret, timeout, attempts) is
 * per app (`AppSettings.webhook`); how this process schedules retries and bounds its work is here.
 */
import { ConfigError } from '../config/settings.js';

export interface WebhookOptions {
  /** Ceiling of the first retry delay, ms; it doubles with each failed attempt. @default 1000 */
  backoffBaseMs: number;
  /** Largest retry delay, ms. @default 600000 (10 min) */
  backoffCapMs: number;
  /** Requests in flight at once, over every app and user (one per user at most). @default 32 */
  concurrency: number;
  /**
   * Requests in flight at once for one app (at most `concurrency`): an app whose endpoint hangs
   * holds no more slots than this, the others are shared between the apps in turn. @default 8
   */
  appConcurrency: number;
  /** Outbox rows held in memory; the rest wait in the table until these are done. @default 10000 */
  maxInMemory: number;
  /** Attempts remembered for the admin view (`recentAttempts`), per app. @default 200 */
  recentAttempts: number;
  /** Delay before an outbox write that failed (database down) is tried again, ms. @default 1000 */
  writeRetryMs: number;
  /**
   * Shared outbox (a cluster on PostgreSQL): how often a process that does not deliver tries to
   * take the delivery lease, and the leader checks its lease connection, ms. @default 1000
   */
  leaderRetryMs: number;
  /** Shared outbox: how often the leader reads rows the other processes wrote, ms. @default 250 */
  pollMs: number;
}

export const DEFAULT_WEBHOOK_OPTIONS: Readonly<WebhookOptions> = Object.freeze({
  backoffBaseMs: 1000,
  backoffCapMs: 600_000,
  concurrency: 32,
  appConcurrency: 8,
  maxInMemory: 10_000,
  recentAttempts: 200,
  writeRetryMs: 1000,
  leaderRetryMs: 1000,
  pollMs: 250,
});

const ENV: ReadonlyArray<[string, keyof WebhookOptions]> = [
  ['PRESENTLY_WEBHOOK_BACKOFF_BASE_MS', 'backoffBaseMs'],
  ['PRESENTLY_WEBHOOK_BACKOFF_CAP_MS', 'backoffCapMs'],
  ['PRESENTLY_WEBHOOK_CONCURRENCY', 'concurrency'],
  ['PRESENTLY_WEBHOOK_APP_CONCURRENCY', 'appConcurrency'],
];

/** The options set in the environment (positive integers); an invalid value is refused by name. */
export function webhookOptionsFromEnv(env: NodeJS.ProcessEnv): Partial<WebhookOptions> {
  const out: Partial<WebhookOptions> = {};
  for (const [name, key] of ENV) {
    const raw = env[name];
    if (raw === undefined || raw === '') continue;
    const v = Number(raw);
    if (!Number.isInteger(v) || v <= 0) throw new ConfigError(`${name}: must be a positive integer`);
    out[key] = v;
  }
  return out;
}

/**
 * Merges options once, at start-up: defaults, then `env`'s variables, then explicit values. The
 * server passes what config/load.ts read and checked from the environment as explicit values
 * (ServerOptions.webhookTuning), so `env` is for programs that embed the dispatcher.
 */
export function resolveWebhookOptions(explicit: Partial<WebhookOptions> = {}, env: NodeJS.ProcessEnv = {}): WebhookOptions {
  const o: WebhookOptions = { ...DEFAULT_WEBHOOK_OPTIONS, ...webhookOptionsFromEnv(env), ...explicit };
  for (const [k, v] of Object.entries(o)) {
    if (!Number.isInteger(v) || v <= 0) throw new ConfigError(`webhook option ${k}: must be a positive integer`);
  }
  if (o.backoffCapMs < o.backoffBaseMs) throw new ConfigError('webhook option backoffCapMs: must not be below backoffBaseMs');
  return o;
}

/**
 * Delay before the next attempt after `failures` failed ones (1 for the first retry): full jitter,
 * a uniform draw in [0, min(cap, base * 2^(failures-1))). Full jitter spreads the retries of many
 * events that failed together (a receiver that was down) instead of sending them in waves.
 */
export function backoffDelay(failures: number, baseMs: number, capMs: number, random: () => number = Math.random): number {
  const exp = Math.min(capMs, baseMs * 2 ** Math.min(Math.max(failures - 1, 0), 40));
  return Math.floor(random() * exp);
}
