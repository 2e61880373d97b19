/**
 * The cluster's failure tests (tests/cluster-failover.test.ts) again, on nodes running cluster v2
 * (PRESENTLY_CLUSTER=v2; docs/cluster.md, "Cluster v2"): a node killed, restarted with its id,
 * drained by SIGTERM. The replicated log's own test (a node that fell behind it) is skipped there.
 */
process.env.PRESENTLY_CLUSTER = 'v2';
await import('./cluster-failover.test.js');
