/**
 * The cluster's recovery tests (tests/cluster-recovery.test.ts) again, on nodes running cluster v2
 * (PRESENTLY_CLUSTER=v2; docs/cluster.md, "Cluster v2"): Redis restarted empty, PostgreSQL
 * restarted, a three-master Redis Cluster.
 */
process.env.PRESENTLY_CLUSTER = 'v2';
await import('./cluster-recovery.test.js');
