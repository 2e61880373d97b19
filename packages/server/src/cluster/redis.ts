/**
 * Redis for the cluster (ioredis): one server, or a Redis Cluster given as several seed URLs.
 *
 * Keys. Everything of one app shares the hash tag `{prefix:app}`, so its command log, its session
 * registry and its markers sit in one slot and one Lua script can touch them together; the
 * cluster-wide keys (leases, the node set, the leader) share `{prefix}`. On a Redis Cluster the
 * apps spread over the masters by their slots.
 *
 * Commands fail at once while the connection is down (no offline queue): a request then gets an
 * error instead of landing later in an order nobody chose, and the node resynchronises its
 * sessions when the connection is back (cluster/node.ts).
 */
import { Cluster, Redis, type ClusterOptions, type RedisOptions } from 'ioredis';

export type RedisClient = Redis | Cluster;

const BASE: RedisOptions = {
  enableOfflineQueue: false,
  maxRetriesPerRequest: 1,
  retryStrategy: (times: number) => Math.min(50 * times, 1000),
  lazyConnect: true,
};

/**
 * `redis://host:port`; a comma-separated list of Redis Cluster seed nodes; or
 * `sentinel://host:port,host:port/<master name>`: Redis Sentinel, which ioredis asks for the
 * current master (and again after a failover). `sharded`: a client for sharded channels
 * (SSUBSCRIBE): on a Redis Cluster, one subscriber connection per master.
 */
export function createRedis(url: string, name: string, mode: { sharded?: boolean; commandTimeoutMs?: number } = {}): RedisClient {
  const timeout = mode.commandTimeoutMs === undefined ? {} : { commandTimeout: mode.commandTimeoutMs };
  if (url.startsWith('sentinel://')) {
    const [hosts = '', master = ''] = url.slice('sentinel://'.length).split('/');
    const sentinels = hosts
      .split(',')
      .filter((h) => h !== '')
      .map((h) => {
        const [host = '127.0.0.1', port = '26379'] = h.split(':');
        return { host, port: Number(port) };
      });
    return new Redis({ ...BASE, ...timeout, sentinels, name: master || 'mymaster', connectionName: name });
  }
  const urls = url
    .split(',')
    .map((u) => u.trim())
    .filter((u) => u !== '');
  if (urls.length > 1) {
    const seeds = urls.map((u) => {
      const x = new URL(u);
      return { host: x.hostname, port: Number(x.port || 6379) };
    });
    const first = new URL(urls[0]!);
    const opts: ClusterOptions = {
      enableOfflineQueue: false,
      lazyConnect: true,
      clusterRetryStrategy: (times: number) => Math.min(100 * times, 1000),
      shardedSubscribers: mode.sharded === true,
      redisOptions: { ...BASE, ...timeout, connectionName: name, ...(first.password ? { password: decodeURIComponent(first.password) } : {}) },
    };
    return new Cluster(seeds, opts);
  }
  return new Redis(urls[0] ?? 'redis://127.0.0.1:6379', { ...BASE, ...timeout, connectionName: name });
}

/** Connects (lazyConnect) and waits until the client can take commands. */
export async function connectRedis(client: RedisClient, timeoutMs = 10_000): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      client.connect(),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`Redis did not answer within ${timeoutMs} ms`)), timeoutMs);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

export class RedisKeys {
  readonly global: string;
  constructor(readonly prefix: string) {
    this.global = `{${prefix}}`;
  }
  nodes(): string {
    return `${this.global}:nodes`;
  }
  lease(node: string): string {
    return `${this.global}:lease:${node}`;
  }
  leader(): string {
    return `${this.global}:leader`;
  }
  private tag(app: number): string {
    return `{${this.prefix}:${app}}`;
  }
  log(app: number): string {
    return `${this.tag(app)}:log`;
  }
  /** Sessions held by `node` (sid -> login record): what a joining node starts from. */
  live(app: number, node: string): string {
    return `${this.tag(app)}:live:${node}`;
  }
  down(app: number, node: string): string {
    return `${this.tag(app)}:down:${node}`;
  }
  /** Number of the last entry appended: replicas check they read every entry. */
  seq(app: number): string {
    return `${this.tag(app)}:seq`;
  }
  epoch(app: number): string {
    return `${this.tag(app)}:epoch`;
  }
}

/**
 * Appends one entry to an app's log, numbered (field n: 1, 2, ... since the log began), and
 * updates the appending node's session registry in the same step. KEYS: log, live hash, seq.
 * ARGV: entry, maxlen, op ('' | set | del | reset), then the op's fields (set: sid record; del:
 * sid; reset: sid record pairs).
 */
export const APPEND = `
local op = ARGV[3]
if op == 'set' then redis.call('HSET', KEYS[2], ARGV[4], ARGV[5])
elseif op == 'del' then redis.call('HDEL', KEYS[2], ARGV[4])
elseif op == 'reset' then
  redis.call('DEL', KEYS[2])
  for i = 4, #ARGV, 2 do redis.call('HSET', KEYS[2], ARGV[i], ARGV[i + 1]) end
end
return redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[2], '*', 'c', ARGV[1], 'n', redis.call('INCR', KEYS[3]))
`;

/**
 * Declares a node dead in one app, once: the first survivor to run it appends the entry and drops
 * the node's registry. KEYS: log, live hash, marker, seq. ARGV: entry, maxlen. Returns 1 if appended.
 */
export const DOWN = `
if redis.call('SET', KEYS[3], '1', 'NX', 'EX', 3600) then
  redis.call('DEL', KEYS[2])
  redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[2], '*', 'c', ARGV[1], 'n', redis.call('INCR', KEYS[4]))
  return 1
end
return 0
`;

/** The log's last id and every node's registry, read at one instant. KEYS: log, live hashes. */
export const SNAPSHOT = `
local last = redis.call('XREVRANGE', KEYS[1], '+', '-', 'COUNT', 1)
local out = {}
if #last > 0 then out[1] = last[1][1] else out[1] = '0-0' end
for i = 2, #KEYS do out[i] = redis.call('HGETALL', KEYS[i]) end
return out
`;

/** Takes or keeps the leader key. KEYS: leader. ARGV: node, ms. Returns 1 when this node leads. */
export const LEAD = `
local cur = redis.call('GET', KEYS[1])
if cur == ARGV[1] then redis.call('PEXPIRE', KEYS[1], ARGV[2]) return 1 end
if not cur then redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2]) return 1 end
return 0
`;
