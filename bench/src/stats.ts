/**
 * Statistics: a mergeable latency histogram (log-linear buckets, ~1.6% precision, exact min and
 * max), percentiles, and the median / min-max of repeated runs.
 */

/** 64 sub-buckets per power of two; values are whole microseconds. */
const SUB_BITS = 6;
const SUB = 1 << SUB_BITS;
/** Covers up to 2^31 µs (~36 min). */
const BUCKETS = (31 - SUB_BITS + 2) * SUB;

export interface HistData {
  counts: Float64Array;
  n: number;
  sum: number;
  min: number;
  max: number;
}

function bucketOf(us: number): number {
  if (us < 2 * SUB) return us;
  const msb = 31 - Math.clz32(us);
  const k = msb - SUB_BITS;
  return (k + 1) * SUB + ((us >>> k) - SUB);
}

/** Lower and upper bound (µs) of a bucket. */
function boundsOf(idx: number): [number, number] {
  if (idx < 2 * SUB) return [idx, idx];
  const k = Math.floor(idx / SUB) - 1;
  const m = (idx % SUB) + SUB;
  return [m * 2 ** k, (m + 1) * 2 ** k - 1];
}

export class Hist implements HistData {
  counts = new Float64Array(BUCKETS);
  n = 0;
  sum = 0;
  min = Infinity;
  max = 0;

  /** Adds one latency in milliseconds (negative clock jitter counts as 0). */
  add(ms: number): void {
    const v = ms > 0 ? ms : 0;
    const us = Math.min(2 ** 31 - 1, Math.round(v * 1000));
    this.counts[bucketOf(us)]! += 1;
    this.n++;
    this.sum += v;
    if (v < this.min) this.min = v;
    if (v > this.max) this.max = v;
  }

  merge(o: HistData): this {
    for (let i = 0; i < BUCKETS; i++) this.counts[i]! += o.counts[i] ?? 0;
    this.n += o.n;
    this.sum += o.sum;
    if (o.n > 0) {
      this.min = Math.min(this.min, o.min);
      this.max = Math.max(this.max, o.max);
    }
    return this;
  }

  static from(parts: HistData[]): Hist {
    const h = new Hist();
    for (const p of parts) h.merge(p);
    return h;
  }

  /** The p-th percentile in ms (0 < p <= 100), NaN when empty. */
  percentile(p: number): number {
    if (this.n === 0) return NaN;
    if (p >= 100) return this.max;
    const rank = Math.max(1, Math.ceil((p / 100) * this.n));
    let seen = 0;
    for (let i = 0; i < BUCKETS; i++) {
      seen += this.counts[i]!;
      if (seen >= rank) {
        const [lo, hi] = boundsOf(i);
        const mid = (lo + hi) / 2 / 1000;
        return Math.min(this.max, Math.max(this.min, mid));
      }
    }
    return this.max;
  }

  mean(): number {
    return this.n === 0 ? NaN : this.sum / this.n;
  }

  data(): HistData {
    return { counts: this.counts, n: this.n, sum: this.sum, min: this.min, max: this.max };
  }
}

/** Median of a list (mean of the two middle values for an even count); NaN when empty. */
export function median(xs: readonly number[]): number {
  const v = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) return NaN;
  const m = Math.floor(v.length / 2);
  return v.length % 2 === 1 ? v[m]! : (v[m - 1]! + v[m]!) / 2;
}

export function minMax(xs: readonly number[]): [number, number] {
  const v = xs.filter((x) => Number.isFinite(x));
  if (v.length === 0) return [NaN, NaN];
  return [Math.min(...v), Math.max(...v)];
}

/** Percentile of raw samples (nearest rank). */
export function percentileOf(xs: readonly number[], p: number): number {
  if (xs.length === 0) return NaN;
  const v = [...xs].sort((a, b) => a - b);
  return v[Math.min(v.length - 1, Math.max(0, Math.ceil((p / 100) * v.length) - 1))]!;
}
