/**
 * Cluster v2: this process as a node (docs/cluster.md, "Cluster v2"). It holds the Redis clients
 * (commands, and the sharded subscriber), the per-user records, the interest router, and its apps;
 * each message on a user's channel goes to the app it belongs to.
 */
import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import { connectRedis, createRedis, type RedisClient } from '../redis.js';
import { Interest } from './interest.js';
import { UserKeys, UserRecords } from './records.js';
import { V2App, type V2AppInit } from './app.js';

export interface V2NodeOptions {
  redisUrl: string;
  /** Prefix of every key and channel (PRESENTLY_REDIS_PREFIX). */
  prefix: string;
  /** The node's stable name (PRESENTLY_NODE_ID); its key adds an incarnation. */
  nodeId?: string;
  log: Logger;
}

export class V2Node {
  /** `<nodeId>.<incarnation>`: the node of this process's sessions in the records. */
  readonly key: string;
  readonly records: UserRecords;
  readonly interest: Interest;
  readonly keys: UserKeys;
  private readonly cmd: RedisClient;
  private readonly sub: RedisClient;
  private readonly apps = new Map<number, V2App>();

  constructor(private readonly opts: V2NodeOptions) {
    const nodeId = opts.nodeId ?? randomBytes(4).toString('hex');
    this.key = `${nodeId}.${randomBytes(3).toString('hex')}`;
    this.keys = new UserKeys(opts.prefix);
    this.cmd = createRedis(opts.redisUrl, `presently-${this.key}`);
    this.sub = createRedis(opts.redisUrl, `presently-${this.key}-sub`, { sharded: true });
    for (const c of [this.cmd, this.sub]) c.on('error', (err: Error) => opts.log.debug({ err: err.message }, 'redis error'));
    this.records = new UserRecords(this.cmd, this.keys);
    this.interest = new Interest(this.sub, {
      message: (m) => {
        const at = this.keys.parseChannel(m.channel);
        if (at) this.apps.get(at.app)?.onMessage(at.userID, m.body);
      },
      gap: (channel) => {
        const at = this.keys.parseChannel(channel);
        if (at) void this.apps.get(at.app)?.onGap(at.userID);
      },
      reconnected: () => {
        for (const app of this.apps.values()) void app.onReconnected();
      },
    });
  }

  async connect(): Promise<void> {
    await Promise.all([connectRedis(this.cmd), connectRedis(this.sub)]);
  }

  addApp(init: Omit<V2AppInit, 'node' | 'records' | 'interest'>): V2App {
    const app = new V2App({ ...init, node: this.key, records: this.records, interest: this.interest });
    this.apps.set(init.settings.SDKAppID, app);
    return app;
  }

  /** True while Redis answers (/readyz). */
  healthy(): boolean {
    return this.cmd.status === 'ready';
  }

  async stop(): Promise<void> {
    await this.interest.close();
    this.cmd.disconnect();
  }
}
