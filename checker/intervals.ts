/** Sets of time as sorted, disjoint half-open intervals [start, end). */
export type Iv = readonly [number, number];

export function merge(ivs: Iv[]): Iv[] {
  const sorted = ivs.filter(([s, e]) => e > s).sort((a, b) => a[0] - b[0]);
  const out: Array<[number, number]> = [];
  for (const [s, e] of sorted) {
    const last = out[out.length - 1];
    if (last && s <= last[1]) last[1] = Math.max(last[1], e);
    else out.push([s, e]);
  }
  return out;
}

export function intersect(a: Iv[], b: Iv[]): Iv[] {
  const out: Iv[] = [];
  let i = 0;
  let j = 0;
  while (i < a.length && j < b.length) {
    const s = Math.max(a[i]![0], b[j]![0]);
    const e = Math.min(a[i]![1], b[j]![1]);
    if (e > s) out.push([s, e]);
    if (a[i]![1] < b[j]![1]) i++;
    else j++;
  }
  return out;
}

export function subtract(a: Iv[], b: Iv[]): Iv[] {
  const out: Iv[] = [];
  for (const [s0, e0] of a) {
    let s = s0;
    for (const [bs, be] of b) {
      if (be <= s) continue;
      if (bs >= e0) break;
      if (bs > s) out.push([s, bs]);
      s = Math.max(s, be);
      if (s >= e0) break;
    }
    if (s < e0) out.push([s, e0]);
  }
  return out;
}

/** Each interval stretched forward by `d` (what was true up to `d` ago). */
export function dilate(ivs: Iv[], d: number): Iv[] {
  return merge(ivs.map(([s, e]) => [s, e + d] as const));
}

export function total(ivs: Iv[]): number {
  return ivs.reduce((sum, [s, e]) => sum + (e - s), 0);
}

export function overlaps(ivs: Iv[], s: number, e: number): boolean {
  return ivs.some(([a, b]) => a < e && b > s);
}

export function contains(ivs: Iv[], t: number): boolean {
  return ivs.some(([a, b]) => a <= t && t < b);
}
