/**
 * Prometheus metrics at `/metrics` (design.md "Operations"): connections, sessions and statuses,
 * status changes, notifications sent, timeouts, plus Node's own (event-loop delay, heap, CPU).
 * Values are read from the gateway at scrape time: nothing is added to the hot path.
 */
import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import type { Gateway } from './gateway/gateway.js';

export function createMetrics(gw: Gateway): Registry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'presently_' });
  const counterFrom = (name: string, help: string, read: () => number) => {
    // A counter whose value the gateway keeps: at scrape time add what was counted since.
    let last = 0;
    new Counter({
      name,
      help,
      registers: [registry],
      collect() {
        const now = read();
        this.inc(Math.max(0, now - last));
        last = now;
      },
    });
  };
  counterFrom('presently_notifications_total', 'Status changes delivered to sessions (one per receiver session).', () => gw.stats.notifications);
  counterFrom('presently_heartbeat_timeouts_total', 'Sessions declared dead after the heartbeat timeout (S5).', () => gw.stats.heartbeatTimeouts);
  counterFrom('presently_login_timeouts_total', 'Sockets closed for not logging in within the deadline.', () => gw.stats.loginTimeouts);
  new Gauge({
    name: 'presently_webhook_leader',
    help: '1 while this process delivers the webhooks (in a cluster, one node at a time), else 0.',
    registers: [registry],
    collect() {
      this.set(gw.webhooks.stats().leader ? 1 : 0);
    },
  });
  new Gauge({
    name: 'presently_store_healthy',
    help: '1 while the durable store commits writes, 0 while a write is being retried (PostgreSQL down).',
    registers: [registry],
    collect() {
      this.set(gw.store.healthy() ? 1 : 0);
    },
  });
  const cluster = gw.cluster;
  if (cluster) {
    counterFrom('presently_cluster_log_appends_total', "Entries this node appended to the apps' command logs (one Redis EVAL each).", () => cluster.counters.appends);
    counterFrom('presently_cluster_log_reads_total', 'XREAD calls of this node that returned (each brings up to 1,000 entries).', () => cluster.counters.reads);
    counterFrom('presently_cluster_entries_applied_total', 'Log entries this node applied to its replicas (every entry of every node).', () => cluster.counters.entriesApplied);
    new Gauge({
      name: 'presently_cluster_ready',
      help: '1 when this node is connected to Redis and resynchronised, else 0.',
      registers: [registry],
      collect() {
        this.set(cluster.healthy() ? 1 : 0);
      },
    });
  }
  new Gauge({
    name: 'presently_connections',
    help: 'Open WebSocket connections.',
    registers: [registry],
    collect() {
      this.set(gw.connections.size);
    },
  });
  // Which apps exist and how many users each has is the operator's business: per-app series only
  // with the server option metricsPerApp (and then /metrics wants a token, docs/security.md).
  const perApp = gw.options.metricsPerApp;
  new Gauge({
    name: 'presently_sessions',
    help: perApp ? 'Logged-in sessions, per app.' : 'Logged-in sessions.',
    labelNames: perApp ? ['app'] : [],
    registers: [registry],
    collect() {
      if (!perApp) {
        let n = 0;
        for (const e of gw.engines.values()) n += e.sessionCount();
        this.set(n);
        return;
      }
      for (const [app, e] of gw.engines) this.set({ app: String(app) }, e.sessionCount());
    },
  });
  new Gauge({
    name: 'presently_users',
    help: perApp ? 'Accounts per app and general status (S1).' : 'Accounts per general status (S1).',
    labelNames: perApp ? ['app', 'status'] : ['status'],
    registers: [registry],
    collect() {
      const total = { online: 0, offline: 0, unlogined: 0 };
      for (const [app, e] of gw.engines) {
        const c = e.statusCounts();
        for (const status of ['online', 'offline', 'unlogined'] as const) {
          if (perApp) this.set({ app: String(app), status }, c[status]);
          total[status] += c[status];
        }
      }
      if (!perApp) for (const status of ['online', 'offline', 'unlogined'] as const) this.set({ status }, total[status]);
    },
  });
  return registry;
}
