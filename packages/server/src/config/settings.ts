/**
 * App (tenant) settings: the shape of one entry of the config file's `apps` list, as TypeBox
 * schemas (config/schema.ts) from which the types are derived. Every limit is a per-app setting
 * with the rule's default (S30) and a range: refused outside it, with the field named.
 */
import { Type, type Static } from '@sinclair/typebox';
import { SECRET_KEY_MIN_DISTINCT, compile, describeProblem, firstProblem, int, num, rangeOf } from './schema.js';

/** Longest secret key, webhook secret, characters. */
export const SECRET_MAX_CHARS = 1024;
/** Shortest secret key, characters. */
export const SECRET_KEY_MIN_CHARS = 16;
/** Longest webhook URL, characters. */
export const WEBHOOK_URL_MAX_CHARS = 2048;
/** Most admins per app. */
export const MAX_ADMINS = 100;

const strict = { additionalProperties: false } as const;

/**
 * Ranges: timers stay well below Node's 2^31-1 ms (about 24.8 days; past it a timer fires at once),
 * counts stay within what one process holds in memory. The bench's reachable-never rate limit
 * (10^9 calls per 0.01 s) is inside them.
 */
export const LimitsSchema = Type.Object(
  {
    /** Most ids in one getUserStatus call (S14). @default 500 */
    maxQueryIDs: int(1, 10_000),
    /** Most ids in one subscribe/unsubscribe call (S15, S19). @default 100 */
    maxSubscribeIDsPerCall: int(1, 10_000),
    /** Most subscriptions a user holds; past it the oldest are evicted (S16). @default 200 */
    maxSubscriptions: int(1, 100_000),
    /** Calls of each of query/subscribe/unsubscribe allowed per user per window (S14). @default 20 */
    rateLimitCalls: int(1, 1_000_000_000),
    /** The rate window, seconds (S14). @default 5 */
    rateLimitWindowSec: num(0.01, 86_400),
    /** Silence after which a session is declared dead, seconds (S5). @default 400 */
    heartbeatTimeoutSec: num(0.5, 86_400),
    /** Subscriptions of a user not online for this long are dropped, hours (S19): up to a year. @default 24 */
    subscriptionExpiryHours: num(0.0001, 8_760),
    /** Longest custom status, bytes of UTF-8 (S7). @default 100 */
    customStatusMaxBytes: int(1, 4_096),
    /** Most users in one friend list (30010 past it). @default 3000 */
    maxFriends: int(1, 100_000),
    /**
     * S10 opt-in: announce at most one custom-status change per user per window, seconds; the last
     * value wins and is announced when the window ends. A general status change is announced at
     * once (with the latest custom status). 0 turns it off. @default 0
     */
    announceWindowSec: num(0, 86_400),
    /**
     * Own custom-status changes per user per minute; past it 72003. A bound against floods far
     * above any person's use (S10 puts no app-level limit on them otherwise). 0 = off. @default 120
     */
    setSelfStatusPerMinute: int(0, 100_000),
    /** `syncStatus` calls (the SDK's catch-up after a reconnect) per user per minute; past it 72003. 0 = off. @default 30 */
    syncStatusPerMinute: int(0, 100_000),
  },
  strict,
);
export type Limits = Static<typeof LimitsSchema>;

export const DevicePolicySchema = Type.Union([Type.Literal('single'), Type.Literal('perPlatform'), Type.Literal('multi')]);
export type DevicePolicy = Static<typeof DevicePolicySchema>;

export const DeviceSettingsSchema = Type.Object(
  {
    /** What one more login does (S26). @default 'perPlatform' */
    policy: DevicePolicySchema,
    /** With 'multi': sessions per native platform. @default 3 */
    maxPerPlatform: int(1, 100),
    /** With 'multi': web instances. @default 10 */
    maxWeb: int(1, 100),
  },
  strict,
);
export type DeviceSettings = Static<typeof DeviceSettingsSchema>;

/**
 * A webhook's numbers. A timeout is a delivery slot held: past 30 s one app's slow endpoint holds
 * its slots for long (and past 2^31-1 ms Node's timer fires at once). With the default backoff,
 * 100 attempts wait up to about 15 hours in all (about half that on average).
 */
const webhookTimeoutMs = int(100, 30_000);
const webhookMaxAttempts = int(1, 100);
const webhookUrl = Type.String({
  maxLength: WEBHOOK_URL_MAX_CHARS,
  format: 'presently-http-url',
  errorMessage: `must be an http(s) URL of at most ${WEBHOOK_URL_MAX_CHARS} characters`,
});
const webhookSecret = Type.String({ minLength: 1, maxLength: SECRET_MAX_CHARS, errorMessage: `must be a non-empty string of at most ${SECRET_MAX_CHARS} characters` });

export const WebhookSettingsSchema = Type.Object(
  {
    /** Where `State.StateChange` callbacks are POSTed (compat.md §4). */
    url: webhookUrl,
    /** When set, each request is signed (HMAC-SHA256 over timestamp + body). @default undefined */
    secret: Type.Optional(webhookSecret),
    /** Per-attempt timeout, ms, within WEBHOOK_BOUNDS.timeoutMs. @default 2000 */
    timeoutMs: webhookTimeoutMs,
    /** Attempts before an event goes to the dead-letter record, within WEBHOOK_BOUNDS.maxAttempts. @default 8 */
    maxAttempts: webhookMaxAttempts,
  },
  strict,
);
export type WebhookSettings = Static<typeof WebhookSettingsSchema>;

export const DEFAULT_WEBHOOK: Readonly<Omit<WebhookSettings, 'url'>> = Object.freeze({ timeoutMs: 2000, maxAttempts: 8 });

/** The accepted range of each numeric webhook setting (config file and settings API alike). */
export const WEBHOOK_BOUNDS = Object.freeze({
  timeoutMs: rangeOf(webhookTimeoutMs),
  maxAttempts: rangeOf(webhookMaxAttempts),
});

export const EditionSchema = Type.Union([Type.Literal('basic'), Type.Literal('premium')]);
export type Edition = Static<typeof EditionSchema>;

const sdkAppID = int(1, 4_294_967_295, { errorMessage: 'must be an integer from 1 to 4294967295' });
const secretKey = Type.String({
  minLength: SECRET_KEY_MIN_CHARS,
  maxLength: SECRET_MAX_CHARS,
  format: 'presently-secret-key',
  errorMessage:
    `must be ${SECRET_KEY_MIN_CHARS} to ${SECRET_MAX_CHARS} characters with at least ${SECRET_KEY_MIN_DISTINCT} different ` +
    'characters other than whitespace and no control characters (make one with: openssl rand -hex 16)',
});
const admins = Type.Array(Type.String({ format: 'presently-userid', maxLength: 32, errorMessage: 'must be a userID: 1-32 bytes of UTF-8, no control characters' }), {
  maxItems: MAX_ADMINS,
  errorMessage: `must be a list of at most ${MAX_ADMINS} userIDs`,
});

export const UserStatusSwitchesSchema = Type.Object(
  {
    /** "User status query and status change notification" switch (S13, S18). @default true */
    queryAndNotify: Type.Boolean(),
    /** "Automatic notification of friends' statuses" switch (S21c). @default false */
    friendAutoNotify: Type.Boolean(),
  },
  strict,
);

/** One app's settings, every default filled in: what the engine runs with. */
export const AppSettingsSchema = Type.Object(
  {
    SDKAppID: sdkAppID,
    secretKey,
    /** 'premium' is needed to see other users' statuses (S13). @default 'premium' */
    edition: EditionSchema,
    /** Accounts allowed to call the REST API. @default ['administrator'] */
    admins,
    userStatus: UserStatusSwitchesSchema,
    limits: LimitsSchema,
    devices: DeviceSettingsSchema,
    /** State.StateChange callbacks; none when absent. @default undefined */
    webhook: Type.Optional(WebhookSettingsSchema),
  },
  strict,
);
export type AppSettings = Static<typeof AppSettingsSchema>;

/** One entry of the config file's `apps` list: only SDKAppID and secretKey are required. */
export const AppEntrySchema = Type.Object(
  {
    SDKAppID: sdkAppID,
    secretKey,
    edition: Type.Optional(EditionSchema),
    admins: Type.Optional(admins),
    userStatus: Type.Optional(Type.Partial(UserStatusSwitchesSchema, strict)),
    limits: Type.Optional(Type.Partial(LimitsSchema, strict)),
    devices: Type.Optional(Type.Partial(DeviceSettingsSchema, strict)),
    webhook: Type.Optional(
      Type.Union([
        Type.Object(
          {
            url: webhookUrl,
            secret: Type.Optional(webhookSecret),
            timeoutMs: Type.Optional(webhookTimeoutMs),
            maxAttempts: Type.Optional(webhookMaxAttempts),
          },
          strict,
        ),
        Type.Null(),
      ]),
    ),
  },
  strict,
);
export type AppEntry = Static<typeof AppEntrySchema>;

const AppEntryCheck = compile(AppEntrySchema);

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

/** Checks `value` against a compiled schema; a problem becomes a ConfigError naming the field under `where`. */
export function checkConfig<T extends Parameters<typeof firstProblem>[0]>(check: T, value: unknown, where: string): void {
  const p = firstProblem(check, value);
  if (p) throw new ConfigError(describeProblem(where, p));
}

/** `defaults` with the values `given` defines (a key present as undefined keeps its default). */
function withDefaults<T extends object>(defaults: Readonly<T>, given: Partial<T> | undefined): T {
  const out = { ...defaults } as T;
  for (const [k, v] of Object.entries(given ?? {})) if (v !== undefined) (out as Record<string, unknown>)[k] = v;
  return out;
}

/**
 * Validates one app entry and fills defaults. Invalid values and unknown keys are refused with a
 * message that names the field (style.md habit 7). Time limits accept fractions.
 */
export function normalizeApp(raw: unknown, where = 'app'): AppSettings {
  checkConfig(AppEntryCheck, raw, where);
  const a = raw as AppEntry;
  return {
    SDKAppID: a.SDKAppID,
    secretKey: a.secretKey,
    edition: a.edition ?? 'premium',
    admins: [...(a.admins ?? ['administrator'])],
    userStatus: { queryAndNotify: a.userStatus?.queryAndNotify ?? true, friendAutoNotify: a.userStatus?.friendAutoNotify ?? false },
    limits: withDefaults(DEFAULT_LIMITS, a.limits),
    devices: withDefaults(DEFAULT_DEVICES, a.devices),
    ...(a.webhook
      ? {
          webhook: {
            url: a.webhook.url,
            ...(a.webhook.secret !== undefined ? { secret: a.webhook.secret } : {}),
            timeoutMs: a.webhook.timeoutMs ?? DEFAULT_WEBHOOK.timeoutMs,
            maxAttempts: a.webhook.maxAttempts ?? DEFAULT_WEBHOOK.maxAttempts,
          },
        }
      : {}),
  };
}
