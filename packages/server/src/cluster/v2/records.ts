/**
 * Cluster v2, the owner of a user's live state (docs/cluster.md, "Cluster v2"): one Redis hash
 * per user, under a hash tag of its own (`{prefix:app:user}`), so that a Redis Cluster spreads
 * users over its masters and one script can update a user's record and announce it atomically.
 *
 * A node changes a record by compare-and-set on its version (`v`): it reads the record (or
 * holds a fresh copy, kept up to date by the user's channel), decides with the spec's rules in
 * TypeScript, and writes the fields it changed only if nobody else wrote in between; otherwise
 * it reads again and decides again. The same script publishes the change, if there is one, on
 * the user's sharded channel (SPUBLISH, in the user's slot) with the record's announcement
 * number `n`: every node that must hear the user hears each change once, in the order of `n`
 * (S22), and can tell a missed one by a gap.
 *
 * The decision logic stays out of Lua: Redis only compares, writes and publishes, so a master's
 * CPU per change is a few microseconds whatever the rules, and the rules have one home.
 */
import type { RedisClient } from '../redis.js';

/** A user's record as stored: field -> value (strings). `v` and `n` are the script's. */
export type RecordFields = Record<string, string>;

export interface UserRecord {
  /** 0 when the record does not exist. */
  readonly v: number;
  /** Number of the last change announced on the user's channel (0: none yet). */
  readonly n: number;
  readonly fields: RecordFields;
}

/** A field set to this value is deleted. */
export const DELETE = '\u0000';

/**
 * Compare-and-set of one user's record, and the announcement of the change on its channel.
 * KEYS[1] the record. ARGV[1] the expected version (0: the record must not exist), ARGV[2] the
 * channel, ARGV[3] the message ('' = nothing to announce), ARGV[4] the record's lifetime in ms
 * (0 = none), then field/value pairs (a value of NUL deletes the field).
 * Returns {1, v, n} when written, {0, v, n} (the current ones) when the version did not match.
 */
export const CAS = `
local v = tonumber(redis.call('HGET', KEYS[1], 'v') or '0')
local n = tonumber(redis.call('HGET', KEYS[1], 'n') or '0')
if v ~= tonumber(ARGV[1]) then return {0, v, n} end
v = v + 1
local set = {'v', v}
local del = {}
for i = 5, #ARGV, 2 do
  if ARGV[i + 1] == '\\0' then del[#del + 1] = ARGV[i] else set[#set + 1] = ARGV[i]; set[#set + 1] = ARGV[i + 1] end
end
if ARGV[3] ~= '' then
  n = n + 1
  set[#set + 1] = 'n'
  set[#set + 1] = n
end
redis.call('HSET', KEYS[1], unpack(set))
if #del > 0 then redis.call('HDEL', KEYS[1], unpack(del)) end
local ttl = tonumber(ARGV[4])
if ttl > 0 then redis.call('PEXPIRE', KEYS[1], ttl) else redis.call('PERSIST', KEYS[1]) end
if ARGV[3] ~= '' then redis.call('SPUBLISH', ARGV[2], n .. ' ' .. ARGV[3]) end
return {1, v, n}
`;

/**
 * A message on a user's channel that changes nothing in the record but its announcement number
 * (e.g. "the friend list changed": friends live in the store). KEYS[1] the record. ARGV[1] the
 * channel, ARGV[2] the message. Returns the number.
 */
export const NOTIFY = `
local n = redis.call('HINCRBY', KEYS[1], 'n', 1)
redis.call('SPUBLISH', ARGV[1], n .. ' ' .. ARGV[2])
return n
`;

/** Keys and channels of cluster v2. Every user's keys share the tag `{prefix:app:user}`. */
export class UserKeys {
  constructor(readonly prefix: string) {}
  private tag(app: number, userID: string): string {
    // A '}' in a userID would end the tag early (a hash tag is the text up to the first '}'):
    // it is escaped, and so is '%', so that two ids never share a tag.
    return `{${this.prefix}:${app}:${userID.replaceAll('%', '%25').replaceAll('}', '%7D')}}`;
  }
  record(app: number, userID: string): string {
    return `${this.tag(app, userID)}:r`;
  }
  /** The user's sharded channel: its changes, for every node that must hear them. */
  channel(app: number, userID: string): string {
    return `${this.tag(app, userID)}:c`;
  }
  /** The app and user of a channel of this prefix; null for another's. */
  parseChannel(channel: string): { app: number; userID: string } | null {
    const head = `{${this.prefix}:`;
    if (!channel.startsWith(head) || !channel.endsWith('}:c')) return null;
    const rest = channel.slice(head.length, -3);
    const colon = rest.indexOf(':');
    if (colon < 0) {
      // The app's own channel (appChannel): userID ''.
      const app = Number(rest);
      return Number.isSafeInteger(app) ? { app, userID: '' } : null;
    }
    const app = Number(rest.slice(0, colon));
    if (!Number.isSafeInteger(app)) return null;
    return {
      app,
      userID: rest
        .slice(colon + 1)
        .replaceAll('%7D', '}')
        .replaceAll('%25', '%'),
    };
  }

  /** Cluster-wide keys (one slot): the node set, leases, down markers. */
  nodes(): string {
    return `{${this.prefix}}:v2:nodes`;
  }
  lease(node: string): string {
    return `{${this.prefix}}:v2:lease:${node}`;
  }
  down(node: string): string {
    return `{${this.prefix}}:v2:down:${node}`;
  }
  /** Set once per Redis dataset: a different (or no) value means Redis lost what it held. */
  epoch(): string {
    return `{${this.prefix}}:v2:epoch`;
  }
  /** An app's own record and channel (its settings), under the app's tag. */
  appRecord(app: number): string {
    return `{${this.prefix}:${app}}:r`;
  }
  appChannel(app: number): string {
    return `{${this.prefix}:${app}}:c`;
  }
  /** Nodes that applied the app's settings message number `n`. */
  settingsAcks(app: number, n: number): string {
    return `{${this.prefix}:${app}}:acks:${n}`;
  }

  /** Users with a session on `node` (a set under the node's own tag): what its death must end. */
  nodeUsers(app: number, node: string): string {
    return `{${this.prefix}:${app}:node:${node}}:users`;
  }
}

export interface CasResult {
  ok: boolean;
  v: number;
  n: number;
}

/** What a decision returns: the fields to write and the change to announce, or null for no write. */
export interface Decision<T> {
  fields: RecordFields;
  /** The message published on the user's channel ('' or absent: none). */
  announce?: string;
  /** What the caller gets back once the write is in. */
  result: T;
}

/** The script as ioredis defines it on the client (EVALSHA, EVAL when Redis lost it). */
interface CasCommand {
  presentlyCas(key: string, ...args: string[]): Promise<[number, number, number]>;
  presentlyNotify(key: string, channel: string, message: string): Promise<number>;
}

export class UserRecords {
  /** Writes refused because the record moved on since it was read (each decided again). */
  readonly counters = { conflicts: 0 };

  constructor(
    private readonly redis: RedisClient,
    readonly keys: UserKeys,
    /** How many times a decision is made again after losing a race before giving up. */
    private readonly maxAttempts = 32,
  ) {
    redis.defineCommand('presentlyCas', { numberOfKeys: 1, lua: CAS });
    redis.defineCommand('presentlyNotify', { numberOfKeys: 1, lua: NOTIFY });
  }

  /** Publishes `message` on the user's channel with the next announcement number; the record is otherwise unchanged. */
  async publish(app: number, userID: string, message: string): Promise<number> {
    return Number(await (this.redis as unknown as CasCommand).presentlyNotify(this.keys.record(app, userID), this.keys.channel(app, userID), message));
  }

  /** Publishes `message` on the app's own channel (settings), numbered like a user's. */
  async publishApp(app: number, message: string): Promise<number> {
    return Number(await (this.redis as unknown as CasCommand).presentlyNotify(this.keys.appRecord(app), this.keys.appChannel(app), message));
  }

  async read(app: number, userID: string): Promise<UserRecord> {
    return toRecord(await this.redis.hgetall(this.keys.record(app, userID)));
  }

  /** Reads many users' records (pipelined; on a Redis Cluster each goes to its master). */
  async readMany(app: number, userIDs: readonly string[]): Promise<UserRecord[]> {
    if (userIDs.length === 0) return [];
    const pipe = this.redis.pipeline();
    for (const id of userIDs) pipe.hgetall(this.keys.record(app, id));
    const replies = (await pipe.exec()) ?? [];
    return replies.map(([err, value]) => {
      if (err) throw err;
      return toRecord(value as Record<string, string>);
    });
  }

  /** One compare-and-set: writes `fields` (and announces `announce`) if the record is still at `expected`. */
  async cas(app: number, userID: string, expected: number, fields: RecordFields, announce = '', ttlMs = 0): Promise<CasResult> {
    const args: string[] = [String(expected), this.keys.channel(app, userID), announce, String(ttlMs)];
    for (const [k, value] of Object.entries(fields)) {
      if (k === 'v' || k === 'n') throw new Error(`record field ${k} is the script's own`);
      args.push(k, value);
    }
    const reply = await (this.redis as unknown as CasCommand).presentlyCas(this.keys.record(app, userID), ...args);
    return { ok: reply[0] === 1, v: Number(reply[1]), n: Number(reply[2]) };
  }

  /**
   * Reads the record (or starts from `known`), lets `decide` choose the change, and writes it by
   * compare-and-set; on a lost race it reads again and decides again. `decide` returns null when
   * nothing is to be written. Returns the decision's result and the record as written.
   */
  async update<T>(app: number, userID: string, decide: (current: UserRecord) => Decision<T> | null, known?: UserRecord): Promise<{ result: T | null; record: UserRecord }> {
    let current = known ?? (await this.read(app, userID));
    for (let attempt = 0; attempt < this.maxAttempts; attempt++) {
      const d = decide(current);
      if (d === null) return { result: null, record: current };
      const r = await this.cas(app, userID, current.v, d.fields, d.announce ?? '');
      if (r.ok) return { result: d.result, record: { v: r.v, n: r.n, fields: merge(current.fields, d.fields) } };
      this.counters.conflicts++;
      // Lost a race: the writers of one user back off apart (full jitter) before reading again.
      if (attempt > 0) await new Promise((resolve) => setTimeout(resolve, Math.random() * Math.min(100, 2 ** attempt)));
      current = await this.read(app, userID);
    }
    throw new Error(`user ${userID}: record changed ${this.maxAttempts} times in a row while deciding`);
  }
}

/** The record after writing `changed` over `base` (NUL deletes). */
export function merge(base: RecordFields, changed: RecordFields): RecordFields {
  const out: RecordFields = { ...base };
  for (const [k, value] of Object.entries(changed)) {
    if (value === DELETE) delete out[k];
    else out[k] = value;
  }
  return out;
}

function toRecord(raw: Record<string, string>): UserRecord {
  const { v = '0', n = '0', ...fields } = raw;
  return { v: Number(v), n: Number(n), fields };
}
