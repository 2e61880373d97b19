/**
 * The cluster's outage tests (tests/cluster-outage.test.ts) again, on nodes running cluster v2
 * (PRESENTLY_CLUSTER=v2; docs/cluster.md, "Cluster v2"): Redis killed, restarted empty, frozen;
 * PostgreSQL stopped.
 */
process.env.PRESENTLY_CLUSTER = 'v2';
await import('./cluster-outage.test.js');
