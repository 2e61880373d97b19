/** Sizes and durations of each mode. Every scenario's size is printed in its name in RESULTS.md. */
export type ModeName = 'tiny' | 'quick' | 'full';

export interface Mode {
  name: ModeName;
  /** Runs of every scenario; figures are medians of the runs with min-max. */
  runs: number;
  /** Friends per user (mutual). */
  k: number;
  /** Users online for W1, W4, W5. */
  n: number;
  /** W1 change rates (changes/s), then doubling `extraSteps` more times until saturation. */
  steps: number[];
  extraSteps: number;
  /** W1 seconds per step, warm-up seconds, longest drain after a step. */
  stepSec: number;
  warmSec: number;
  drainMaxSec: number;
  /** W2 users logging in; at most 500 logins in flight. */
  w2N: number;
  w2InFlight: number;
  /** W3 sessions held by one server process, subscriptions each, hold seconds. */
  w3Sessions: number;
  w3Subs: number;
  holdSec: number;
  /** W4 sockets destroyed at once; how long to wait for every OFFLINE. */
  w4Victims: number;
  w4TimeoutSec: number;
  /** W5 seconds per query size, closed-loop connections in total (one request in flight each). */
  w5Sec: number;
  w5Conns: number;
  /** Most sockets per load-generator process (each has at most 20,000 open files). */
  sessionsPerWorker: number;
  /** C1: W1 on a cluster of this many nodes (N = `n`, the same steps). */
  c1Nodes: number;
  /** W3C: sessions held by a cluster of `w3cNodes` nodes, hold seconds. */
  w3cSessions: number;
  w3cNodes: number;
  w3cHoldSec: number;
  /**
   * CS: W1's churn at one fixed rate (`csRate` changes/s for `csSec` seconds, after W1's warm-up)
   * on a cluster of each of `csNodes` node counts, for the replicated design and cluster v2.
   */
  csNodes: number[];
  csRate: number;
  csSec: number;
  /** Scenarios run when no --only is given. */
  scenarios: string[];
}

/** Every scenario id `--only=` takes. */
export const ALL_SCENARIOS = ['W1', 'W2', 'W3', 'W4', 'W5', 'C1', 'W3C', 'CS'];
/** Run when no --only is given: everything but CS (a cluster per design and node count: run it with --only=CS). */
const DEFAULT_SCENARIOS = ALL_SCENARIOS.filter((x) => x !== 'CS');

const common = { k: 20, w2InFlight: 500, w3Subs: 20, sessionsPerWorker: 5000, c1Nodes: 2 };

export const MODES: Record<ModeName, Mode> = {
  /** Smoke run: proves the pipeline end to end in about a minute. Figures mean nothing. */
  tiny: {
    ...common,
    name: 'tiny',
    runs: 1,
    n: 300,
    steps: [200, 500],
    extraSteps: 1,
    stepSec: 1.5,
    warmSec: 0.5,
    drainMaxSec: 3,
    w2N: 300,
    w3Sessions: 300,
    holdSec: 3,
    w4Victims: 30,
    w4TimeoutSec: 5,
    w5Sec: 1.5,
    w5Conns: 16,
    w3cSessions: 600,
    w3cNodes: 3,
    w3cHoldSec: 3,
    csNodes: [1, 2],
    csRate: 200,
    csSec: 2,
    scenarios: DEFAULT_SCENARIOS,
  },
  /** `npm run bench`: under 5 minutes on 2 cores; one run per step, smaller N. */
  quick: {
    ...common,
    name: 'quick',
    runs: 1,
    n: 4000,
    steps: [500, 1000, 2000, 5000],
    extraSteps: 2,
    stepSec: 5,
    warmSec: 2,
    drainMaxSec: 5,
    w2N: 4000,
    w3Sessions: 4000,
    holdSec: 15,
    w4Victims: 500,
    w4TimeoutSec: 10,
    w5Sec: 4,
    w5Conns: 64,
    // The 100,000 over 6 nodes takes ~15 minutes a run: quick holds a reduced cluster.
    w3cSessions: 3000,
    w3cNodes: 3,
    w3cHoldSec: 10,
    csNodes: [1, 2, 4],
    csRate: 500,
    csSec: 10,
    scenarios: DEFAULT_SCENARIOS,
  },
  /** `npm run bench -- --full`: the sizes, medians of 3 runs. */
  full: {
    ...common,
    name: 'full',
    runs: 3,
    n: 10_000,
    steps: [500, 1000, 2000, 5000],
    extraSteps: 5,
    stepSec: 15,
    warmSec: 5,
    drainMaxSec: 15,
    w2N: 10_000,
    w3Sessions: 19_000,
    holdSec: 120,
    w4Victims: 500,
    w4TimeoutSec: 15,
    w5Sec: 10,
    w5Conns: 128,
    w3cSessions: 100_000,
    w3cNodes: 6,
    w3cHoldSec: 120,
    csNodes: [1, 2, 4, 6],
    csRate: 500,
    csSec: 15,
    scenarios: DEFAULT_SCENARIOS,
  },
};

export function workersFor(mode: Mode, sessions: number): number {
  return Math.max(1, Math.ceil(sessions / mode.sessionsPerWorker));
}
