/** Messages between the run (orchestrator) and its worker processes. */
import type { UserDecl } from './history.js';

export interface WorkerConfig {
  name: string;
  seed: string;
  app: number;
  key: string;
  /** Users this worker drives. */
  users: UserDecl[];
  /** Every user of the run, in one order (for picking targets; subscriptions and friends use disjoint targets). */
  allUsers: string[];
  /** Path name -> WebSocket URL (a proxy, or the node itself for "direct"). */
  paths: Record<string, string>;
  node: string;
  /** The node's HTTP address, for REST (never through a proxy). */
  rest: string;
  /** This worker's history part file. */
  out: string;
  heartbeatTimeoutMs: number;
  finMs: number;
  heartbeatGraceMs: number;
  slackMs: number;
  sdk: { backoffBaseMs: number; backoffCapMs: number; connectTimeoutMs: number; requestTimeoutMs: number };
  /** Pause between one user's operations. */
  thinkMs: [number, number];
}

export type ToWorker = { type: 'start'; config: WorkerConfig } | { type: 'stop' } | { type: 'snapshot' } | { type: 'exit' };

export type FromWorker =
  | { type: 'started' }
  /** Workload stopped, every live client connected and re-synced (or `unsettled` of them not). */
  | { type: 'quiet'; pendingUntil: number; unsettled: string[] }
  | { type: 'snapshot-done' }
  | { type: 'error'; message: string };
