/**
 * One clock for every bench process: CLOCK_MONOTONIC in milliseconds (fractional). It is the
 * same system-wide clock in the runner, the workers and the servers, so a timestamp written by a
 * sender process can be compared with the receive time in another process.
 */
import { performance } from 'node:perf_hooks';

const base = Number(process.hrtime.bigint() / 1000n) / 1000 - performance.now();

/** Milliseconds on the shared monotonic clock. */
export const now = (): number => base + performance.now();

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
