/**
 * Abuse guards of the gateway (hardening issue): failed logins per source address (70050 past
 * the limit, against brute force), and open connections per source address.
 */

/** Counts failures per key in a sliding window; a key past the limit is blocked until it slides. */
export class FailureWindow {
  private readonly log = new Map<string, number[]>();

  constructor(
    /** Failures allowed in the window; 0 turns the guard off. */
    private readonly max: number,
    private readonly windowMs: number,
  ) {}

  private recent(key: string, now: number): number[] | undefined {
    const times = this.log.get(key);
    if (!times) return undefined;
    const since = now - this.windowMs;
    let drop = 0;
    while (drop < times.length && (times[drop] as number) <= since) drop++;
    if (drop > 0) times.splice(0, drop);
    if (times.length === 0) {
      this.log.delete(key);
      return undefined;
    }
    return times;
  }

  blocked(key: string, now: number): boolean {
    if (this.max <= 0) return false;
    return (this.recent(key, now)?.length ?? 0) >= this.max;
  }

  fail(key: string, now: number): void {
    if (this.max <= 0) return;
    const times = this.recent(key, now);
    if (times) {
      times.push(now);
      // Past the limit only the newest matter: memory per key stays bounded.
      if (times.length > this.max) times.splice(0, times.length - this.max);
    } else this.log.set(key, [now]);
  }

  /** Drops keys whose failures have all slid out of the window (call from a periodic sweep). */
  prune(now: number): void {
    for (const key of [...this.log.keys()]) this.recent(key, now);
  }

  get size(): number {
    return this.log.size;
  }
}

/** Open connections per key (source address); 0 turns the limit off. */
export class ConnectionCounter {
  private readonly counts = new Map<string, number>();
  constructor(private readonly max: number) {}

  /** Takes a slot; false when the key is at its limit. */
  acquire(key: string): boolean {
    const n = this.counts.get(key) ?? 0;
    if (this.max > 0 && n >= this.max) return false;
    this.counts.set(key, n + 1);
    return true;
  }

  release(key: string): void {
    const n = this.counts.get(key) ?? 0;
    if (n <= 1) this.counts.delete(key);
    else this.counts.set(key, n - 1);
  }

  count(key: string): number {
    return this.counts.get(key) ?? 0;
  }
}
