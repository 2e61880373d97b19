/**
 * The cluster's end-to-end tests (tests/cluster.test.ts) again, on nodes running cluster v2
 * (PRESENTLY_CLUSTER=v2: per-user records in Redis, fan-out by interest; docs/cluster.md,
 * "Cluster v2"). The tests of what v2 does not do yet are skipped there, each saying what.
 */
process.env.PRESENTLY_CLUSTER = 'v2';
await import('./cluster.test.js');
