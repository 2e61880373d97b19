/**
 * Several real server processes forming one cluster: a fresh PostgreSQL database and a fresh
 * Redis key prefix per cluster, so test runs never meet. Without PostgreSQL or Redis the tests
 * that need them skip loudly, except under CI=true where that is a failure.
 */
import { PG_URL, pgQuery, postgresSkip } from '../../packages/server/src/testing/postgres.js';
import { REDIS_URL, redisSkip } from '../../packages/server/src/testing/redis.js';
import { startServer, type TestServer } from './server.js';

export { REDIS_URL };

/** `false` when PostgreSQL and Redis can be used; else the skip reason (printed). Throws under CI=true. */
export async function clusterSkip(what: string): Promise<string | false> {
  return (await postgresSkip(what)) || (await redisSkip(what));
}

export interface TestCluster {
  nodes: TestServer[];
  databaseUrl: string;
  redisUrl: string;
  prefix: string;
  /** Starts one more node (same database, Redis and prefix); `nodeId` defaults to n<index>. */
  add(opts?: { nodeId?: string; env?: Record<string, string> }): Promise<TestServer>;
  /** Stops every node still running and drops the database. */
  stop(): Promise<void>;
}

export async function startCluster(opts: {
  nodes: number;
  apps?: Record<string, unknown>[];
  server?: Record<string, unknown>;
  redisUrl?: string;
  /** A PostgreSQL server to create the database on (default: the machine's). */
  pgUrl?: string;
  env?: Record<string, string>;
}): Promise<TestCluster> {
  const tag = `${process.pid}_${Math.floor(Math.random() * 1e9)}`;
  const dbName = `presently_cluster_${tag}`;
  const pgUrl = opts.pgUrl ?? PG_URL;
  await pgQuery(`CREATE DATABASE ${dbName}`, pgUrl);
  const databaseUrl = new URL(pgUrl);
  databaseUrl.pathname = `/${dbName}`;
  const redisUrl = opts.redisUrl ?? REDIS_URL;
  const prefix = `test_${tag}`;
  const nodes: TestServer[] = [];
  const add = async (o: { nodeId?: string; env?: Record<string, string> } = {}): Promise<TestServer> => {
    const srv = await startServer({
      apps: opts.apps,
      server: opts.server,
      env: {
        DATABASE_URL: databaseUrl.href,
        REDIS_URL: redisUrl,
        PRESENTLY_REDIS_PREFIX: prefix,
        PRESENTLY_NODE_ID: o.nodeId ?? `n${nodes.length}`,
        PRESENTLY_LEASE_MS: '2000',
        PRESENTLY_DRAIN_GRACE_MS: '4000',
        ...(opts.env ?? {}),
        ...(o.env ?? {}),
      },
    });
    nodes.push(srv);
    return srv;
  };
  for (let i = 0; i < opts.nodes; i++) await add();
  return {
    nodes,
    databaseUrl: databaseUrl.href,
    redisUrl,
    prefix,
    add,
    async stop() {
      await Promise.all(nodes.map((n) => n.stop({ kill: true }).catch(() => undefined)));
      await pgQuery(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`, pgUrl).catch(() => undefined);
    },
  };
}

/** A node's GET /readyz status: 200 when it serves, 503 while it cannot (its own judgement). */
export async function readyz(srv: TestServer): Promise<number> {
  const res = await fetch(`${srv.http}/readyz`);
  await res.arrayBuffer();
  return res.status;
}

/** Polls /readyz until it answers `status` (the node reports its own state; nothing else tells). */
export async function untilReady(srv: TestServer, status: number, withinMs = 30_000): Promise<void> {
  const end = Date.now() + withinMs;
  for (;;) {
    if ((await readyz(srv)) === status) return;
    if (Date.now() > end) throw new Error(`/readyz did not become ${status} within ${withinMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
