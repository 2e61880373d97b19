/**
 * App (tenant) settings: the shape of one entry of the config file's `apps` list.
 * Every limit is a per-app setting with the rule's default (S30).
 */
export type Edition = 'basic' | 'premium';
export type DevicePolicy = 'single' | 'perPlatform' | 'multi';

export interface Limits {
  /** Most ids in one getUserStatus call (S14). @default 500 */
  maxQueryIDs: number;
  /** Most ids in one subscribe/unsubscribe call (S15, S19). @default 100 */
  maxSubscribeIDsPerCall: number;
  /** Most subscriptions a user holds; past it the oldest are evicted (S16). @default 200 */
  maxSubscriptions: number;
  /** Calls of each of query/subscribe/unsubscribe allowed per user per window (S14). @default 20 */
  rateLimitCalls: number;
  /** The rate window, seconds (S14). @default 5 */
  rateLimitWindowSec: number;
  /** Silence after which a session is declared dead, seconds (S5). @default 400 */
  heartbeatTimeoutSec: number;
  /** Subscriptions of a user not online for this long are dropped, hours (S19). @default 24 */
  subscriptionExpiryHours: number;
  /** Longest custom status, bytes of UTF-8 (S7). @default 100 */
  customStatusMaxBytes: number;
  /** Most users in one friend list (30010 past it). @default 3000 */
  maxFriends: number;
  /**
   * S10 opt-in: announce at most one custom-status change per user per window, seconds; the last
   * value wins and is announced when the window ends. A general status change is announced at
   * once (with the latest custom status). 0 turns it off. @default 0
   */
  announceWindowSec: number;
  /**
   * Own custom-status changes per user per minute; past it 72003. A bound against floods far
   * above any person's use (S10 puts no app-level limit on them otherwise). 0 = off. @default 120
   */
  setSelfStatusPerMinute: number;
  /** `syncStatus` calls (the SDK's catch-up after a reconnect) per user per minute; past it 72003. 0 = off. @default 30 */
  syncStatusPerMinute: number;
}

export interface DeviceSettings {
  /** What one more login does (S26). @default 'perPlatform' */
  policy: DevicePolicy;
  /** With 'multi': sessions per native platform. @default 3 */
  maxPerPlatform: number;
  /** With 'multi': web instances. @default 10 */
  maxWeb: number;
}

export interface WebhookSettings {
  /** Where `State.StateChange` callbacks are POSTed (compat.md §4). */
  url: string;
  /** When set, each request is signed (HMAC-SHA256 over timestamp + body). @default undefined */
  secret?: string;
  /** Per-attempt timeout, ms, within WEBHOOK_BOUNDS.timeoutMs. @default 2000 */
  timeoutMs: number;
  /** Attempts before an event goes to the dead-letter record, within WEBHOOK_BOUNDS.maxAttempts. @default 8 */
  maxAttempts: number;
}

export const DEFAULT_WEBHOOK: Readonly<Omit<WebhookSettings, 'url'>> = Object.freeze({ timeoutMs: 2000, maxAttempts: 8 });

/**
 * The accepted range of each numeric webhook setting (config file and settings API alike). A
 * timeout is a delivery slot held: past 30 s one app's slow endpoint holds its slots for long
 * (and past 2^31-1 ms Node's timer fires at once). With the default backoff, 100 attempts
 * wait up to about 15 hours in all (about half that on average).
 */
export const WEBHOOK_BOUNDS = Object.freeze({
  timeoutMs: Object.freeze({ min: 100, max: 30_000 }),
  maxAttempts: Object.freeze({ min: 1, max: 100 }),
});

export interface AppSettings {
  SDKAppID: number;
  secretKey: string;
  /** 'premium' is needed to see other users' statuses (S13). @default 'premium' */
  edition: Edition;
  /** Accounts allowed to call the REST API. @default ['administrator'] */
  admins: string[];
  userStatus: {
    /** "User status query and status change notification" switch (S13, S18). @default true */
    queryAndNotify: boolean;
    /** "Automatic notification of friends' statuses" switch (S21c). @default false */
    friendAutoNotify: boolean;
  };
  limits: Limits;
  devices: DeviceSettings;
  /** State.StateChange callbacks; none when absent. @default undefined */
  webhook?: WebhookSettings;
}

export const DEFAULT_LIMITS: Readonly<Limits> = Object.freeze({
  maxQueryIDs: 500,
  maxSubscribeIDsPerCall: 100,
  maxSubscriptions: 200,
  rateLimitCalls: 20,
  rateLimitWindowSec: 5,
  heartbeatTimeoutSec: 400,
  subscriptionExpiryHours: 24,
  customStatusMaxBytes: 100,
  maxFriends: 3000,
  announceWindowSec: 0,
  setSelfStatusPerMinute: 120,
  syncStatusPerMinute: 30,
});

export const DEFAULT_DEVICES: Readonly<DeviceSettings> = Object.freeze({
  policy: 'perPlatform',
  maxPerPlatform: 3,
  maxWeb: 10,
});

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

const POSITIVE_NUMBER_LIMITS: ReadonlySet<keyof Limits> = new Set([
  'rateLimitWindowSec', 'heartbeatTimeoutSec', 'subscriptionExpiryHours', 'announceWindowSec',
]);
/** Limits where 0 means "off". */
const ZERO_ALLOWED: ReadonlySet<keyof Limits> = new Set(['announceWindowSec', 'setSelfStatusPerMinute', 'syncStatusPerMinute']);

/**
 * Validates one app entry and fills defaults. Invalid values are refused with a message that
 * names the field (style.md habit 7). Time limits accept fractions.
 */
export function normalizeApp(raw: unknown, where = 'app'): AppSettings {
  if (!isObject(raw)) throw new ConfigError(`${where}: must be an object`);
  const id = raw.SDKAppID;
  if (typeof id !== 'number' || !Number.isSafeInteger(id) || id <= 0) throw new ConfigError(`${where}.SDKAppID: must be a positive integer`);
  if (typeof raw.secretKey !== 'string' || raw.secretKey.length < 8) throw new ConfigError(`${where}.secretKey: must be a string of at least 8 characters`);
  const edition = raw.edition ?? 'premium';
  if (edition !== 'basic' && edition !== 'premium') throw new ConfigError(`${where}.edition: must be "basic" or "premium"`);
  const admins = raw.admins ?? ['administrator'];
  if (!Array.isArray(admins) || !admins.every((a) => typeof a === 'string' && a.length > 0)) throw new ConfigError(`${where}.admins: must be a list of userIDs`);
  const us = raw.userStatus ?? {};
  if (!isObject(us)) throw new ConfigError(`${where}.userStatus: must be an object`);
  const sw = (name: 'queryAndNotify' | 'friendAutoNotify', dflt: boolean): boolean => {
    const v = us[name] ?? dflt;
    if (typeof v !== 'boolean') throw new ConfigError(`${where}.userStatus.${name}: must be true or false`);
    return v;
  };
  const limitsRaw = raw.limits ?? {};
  if (!isObject(limitsRaw)) throw new ConfigError(`${where}.limits: must be an object`);
  const limits: Limits = { ...DEFAULT_LIMITS };
  for (const [k, v] of Object.entries(limitsRaw)) {
    if (!(k in DEFAULT_LIMITS)) throw new ConfigError(`${where}.limits.${k}: unknown limit`);
    const key = k as keyof Limits;
    const fractional = POSITIVE_NUMBER_LIMITS.has(key);
    const min0 = ZERO_ALLOWED.has(key);
    if (typeof v !== 'number' || !Number.isFinite(v) || v < 0 || (v === 0 && !min0) || (!fractional && !Number.isInteger(v))) {
      throw new ConfigError(`${where}.limits.${k}: must be a positive ${fractional ? 'number' : 'integer'}`);
    }
    limits[key] = v;
  }
  const devRaw = raw.devices ?? {};
  if (!isObject(devRaw)) throw new ConfigError(`${where}.devices: must be an object`);
  const devices: DeviceSettings = { ...DEFAULT_DEVICES };
  if (devRaw.policy !== undefined) {
    if (devRaw.policy !== 'single' && devRaw.policy !== 'perPlatform' && devRaw.policy !== 'multi') {
      throw new ConfigError(`${where}.devices.policy: must be "single", "perPlatform" or "multi"`);
    }
    devices.policy = devRaw.policy;
  }
  for (const k of ['maxPerPlatform', 'maxWeb'] as const) {
    const v = devRaw[k];
    if (v === undefined) continue;
    if (typeof v !== 'number' || !Number.isInteger(v) || v <= 0) throw new ConfigError(`${where}.devices.${k}: must be a positive integer`);
    devices[k] = v;
  }
  let webhook: WebhookSettings | undefined;
  if (raw.webhook !== undefined && raw.webhook !== null) {
    const w = raw.webhook;
    if (!isObject(w)) throw new ConfigError(`${where}.webhook: must be an object`);
    if (typeof w.url !== 'string' || !/^https?:\/\/./.test(w.url)) throw new ConfigError(`${where}.webhook.url: must be an http(s) URL`);
    if (w.secret !== undefined && (typeof w.secret !== 'string' || w.secret.length === 0)) throw new ConfigError(`${where}.webhook.secret: must be a non-empty string`);
    webhook = { url: w.url, timeoutMs: DEFAULT_WEBHOOK.timeoutMs, maxAttempts: DEFAULT_WEBHOOK.maxAttempts };
    if (typeof w.secret === 'string') webhook.secret = w.secret;
    for (const k of ['timeoutMs', 'maxAttempts'] as const) {
      const v = w[k];
      if (v === undefined) continue;
      const { min, max } = WEBHOOK_BOUNDS[k];
      if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) throw new ConfigError(`${where}.webhook.${k}: must be an integer from ${min} to ${max}`);
      webhook[k] = v;
    }
  }
  return {
    SDKAppID: id,
    secretKey: raw.secretKey,
    edition,
    admins: [...admins] as string[],
    userStatus: { queryAndNotify: sw('queryAndNotify', true), friendAutoNotify: sw('friendAutoNotify', false) },
    limits,
    devices,
    ...(webhook ? { webhook } : {}),
  };
}
