/**
 * The deterministic workload: user ids, the seeded friend graph and the seeded subscriptions.
 * Every process (runner, load-generator workers, raw-ws baseline server) computes the same graph
 * from (n, k, seed), so none of them has to ship it to the others.
 */

/** mulberry32: a small, fast, seeded PRNG returning floats in [0, 1). */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export const userID = (i: number): string => `u${i}`;

/** The index of a bench user id (`u123` -> 123), or -1. */
export function userIndex(id: string): number {
  if (id.charCodeAt(0) !== 117 /* u */) return -1;
  const n = Number(id.slice(1));
  return Number.isInteger(n) ? n : -1;
}

/**
 * K mutual friends per user, exactly: a ring lattice (each user is friends with the K/2 users on
 * either side) laid over a seeded random permutation of the users, so neighbours are random
 * user ids but every user has exactly K friends and every friendship is mutual.
 * Row i of the result (`adj[i*k .. i*k+k-1]`) holds the friends of user i.
 */
export function friendGraph(n: number, k: number, seed: number): Int32Array {
  if (k % 2 !== 0) throw new Error(`K must be even (got ${k})`);
  if (n <= k) throw new Error(`N must be larger than K (got N=${n}, K=${k})`);
  const perm = new Int32Array(n);
  for (let i = 0; i < n; i++) perm[i] = i;
  const r = rng(seed);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(r() * (i + 1));
    const t = perm[i]!;
    perm[i] = perm[j]!;
    perm[j] = t;
  }
  const adj = new Int32Array(n * k);
  for (let p = 0; p < n; p++) {
    const u = perm[p]!;
    let c = 0;
    for (let d = 1; d <= k / 2; d++) {
      adj[u * k + c++] = perm[(p + d) % n]!;
      adj[u * k + c++] = perm[(p - d + n) % n]!;
    }
  }
  return adj;
}

/** `count` distinct subscription targets of user u (never u itself), seeded by (seed, u). */
export function subscriptionsOf(u: number, n: number, count: number, seed: number): number[] {
  const r = rng((seed ^ Math.imul(u + 1, 0x9e3779b1)) >>> 0);
  const out = new Set<number>();
  const want = Math.min(count, n - 1);
  while (out.size < want) {
    const t = Math.floor(r() * n);
    if (t !== u) out.add(t);
  }
  return [...out];
}

/** `count` distinct users picked with a seeded PRNG (W4's victims). */
export function pickUsers(n: number, count: number, seed: number): number[] {
  const r = rng(seed);
  const out = new Set<number>();
  while (out.size < Math.min(count, n)) out.add(Math.floor(r() * n));
  return [...out];
}
