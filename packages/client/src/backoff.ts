/** Reconnect delays (style.md habit 4): a pure function, so it is unit-tested without timers. */

export interface BackoffOptions {
  /** Upper bound of the first delay (attempt 0), ms. */
  baseMs: number;
  /** No delay is ever longer than this, ms. */
  capMs: number;
}

/**
 * Full-jitter exponential backoff: `random() * min(capMs, baseMs * 2^attempt)`.
 * Full jitter (rather than a fixed exponential) spreads a crowd of clients that lost the same
 * server over the whole window, so they do not all come back in the same millisecond.
 *
 * @param attempt 0 for the first retry after a success; the caller resets it after a re-login.
 * @param random a source in [0, 1); injectable so tests are deterministic.
 */
export function backoff(attempt: number, options: BackoffOptions, random: () => number = Math.random): number {
  const n = Number.isFinite(attempt) && attempt > 0 ? Math.floor(attempt) : 0;
  // 2 ** n is Infinity for large n; min() then yields the cap, so no overflow guard is needed.
  const window = Math.min(options.capMs, options.baseMs * 2 ** n);
  return random() * window;
}
