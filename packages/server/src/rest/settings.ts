/**
 * The app settings API: an app's admin reads and changes its edition, switches, limits, device
 * policy and webhook at run time, through the REST envelope and admin auth of compat.md §3
 * under a service of ours, `presently`:
 *
 *   presently/get_app_settings     {}                      -> Settings, StoredChanges, UpdatedAt
 *   presently/set_app_settings     {"Settings": {...}}     -> the same, after the change
 *   presently/reset_app_settings   {}                      -> the same, back to the config file
 *
 * Choices (documented in docs/rest.md, "App settings API"):
 * - A change is a partial settings object. `userStatus`, `limits`, `devices` and `webhook` are
 *   merged key by key onto the current values; `edition` and `admins` are replaced. `null`
 *   puts a value back to its built-in default (`webhook: null` removes the webhook,
 *   `webhook.secret: null` the signing secret). The merged whole is validated by the config
 *   file's own `normalizeApp`, so the API and the file accept exactly the same values; any bad
 *   or unknown field refuses the whole change with 70402 naming the field, and nothing changes.
 * - `SDKAppID` (other than the app's own) and `secretKey` cannot be changed: 70402. A change of
 *   `admins` that leaves out the calling admin is refused (70402): stored changes win over the
 *   config file, so an app locked out of its REST API could not be repaired through it.
 * - The change is stored durably (store/app-settings.ts) before it is applied and before the
 *   reply; if storing fails the reply is 70500 and nothing changed. Then
 *   `AppEngine.updateSettings` makes it take effect for the next request of every session at
 *   once (S13, S14, S16, S21c, S26, S30...). Changes of one app are applied one at a time.
 * - What is stored is only the values changed through the API (each changed leaf, the webhook as
 *   a whole). At start the server applies them over the config file's settings of the same
 *   SDKAppID: a value changed at run time wins over the file; every other value still comes
 *   from the file, so editing an untouched value in the file works as before.
 *   `reset_app_settings` forgets the stored changes and goes back to the file's settings.
 * - Replies never carry `secretKey`; the webhook `secret` is never returned either: the webhook
 *   shows `HasSecret: true|false` instead (a read-only field, ignored when sent back, so a
 *   get -> edit -> set round trip keeps the secret).
 * - Non-admins never get here: http.ts refuses them with 60010 like any REST command.
 */
import type { Logger } from 'pino';
import { Type, type Static, type TObject, type TProperties } from '@sinclair/typebox';
import { ErrorCode, PresentlyError, messageFor } from '@presently/protocol';
import { AppSettingsSchema, ConfigError, normalizeApp, type AppSettings } from '../config/settings.js';
import { compile, describeProblem, firstProblem, type Problem } from '../config/schema.js';
import type { AppSettingsStore, StoredOverrides } from '../store/app-settings.js';
import type { RestReply } from './commands.js';

export const SETTINGS_SERVICE = 'presently/';
export const GET_APP_SETTINGS = 'presently/get_app_settings';
export const SET_APP_SETTINGS = 'presently/set_app_settings';
export const RESET_APP_SETTINGS = 'presently/reset_app_settings';
export const SETTINGS_COMMANDS: readonly string[] = Object.freeze([GET_APP_SETTINGS, SET_APP_SETTINGS, RESET_APP_SETTINGS]);

/** What the settings API acts on: one app's engine. */
export interface SettingsTarget {
  readonly app: number;
  readonly settings: AppSettings;
  /** May resolve later: a cluster applies the change on every node first. */
  updateSettings(next: AppSettings): void | Promise<void>;
}

type Obj = Record<string, unknown>;

function clone<T>(v: T): T {
  return structuredClone(v);
}

function bad(message: string): never {
  throw new PresentlyError(ErrorCode.INVALID_PARAMETERS, message);
}

/** Never changed at run time: the app's identity and its ticket key come from the config file. */
const FIXED: ReadonlySet<string> = new Set(['SDKAppID', 'secretKey']);
/** Top-level settings that may be absent; `null` removes them; stored as a whole. */
const OPTIONAL: ReadonlySet<string> = new Set(['webhook']);
/** Shown by get, ignored by set. */
const WEBHOOK_READ_ONLY = 'HasSecret';

// ---- the shape of a change -----------------------------------------------------------------------

/**
 * A section of a change (`limits`, `devices`...): the section's keys and no other, each value
 * anything (the merged whole is checked by normalizeApp, which names the field), or null.
 */
function sectionChange<P extends TProperties>(section: TObject<P>, extra: TProperties = {}) {
  const keys: TProperties = {};
  for (const k of Object.keys(section.properties)) keys[k] = Type.Optional(Type.Unknown());
  return Type.Union([Type.Object({ ...keys, ...extra }, { additionalProperties: false }), Type.Null()]);
}

/**
 * The `Settings` object of set_app_settings, and the stored changes (the same shape): the app
 * settings' keys and no other. Sections are merged key by key; other values are replaced.
 */
export const SettingsChangeSchema = Type.Object(
  {
    SDKAppID: Type.Optional(Type.Unknown()),
    secretKey: Type.Optional(Type.Unknown()),
    edition: Type.Optional(Type.Unknown()),
    admins: Type.Optional(Type.Unknown()),
    userStatus: Type.Optional(sectionChange(AppSettingsSchema.properties.userStatus)),
    limits: Type.Optional(sectionChange(AppSettingsSchema.properties.limits)),
    devices: Type.Optional(sectionChange(AppSettingsSchema.properties.devices)),
    webhook: Type.Optional(sectionChange(AppSettingsSchema.properties.webhook, { [WEBHOOK_READ_ONLY]: Type.Optional(Type.Unknown()) })),
  },
  { additionalProperties: false },
);
type SettingsChange = Static<typeof SettingsChangeSchema>;
type Section = Record<string, unknown> | null;
const SettingsChangeCheck = compile(SettingsChangeSchema);

/** The body of every presently/* command: a JSON object; set's carries `Settings`. */
const BodyCheck = compile(Type.Object({}, { errorMessage: 'must be a JSON object' }));
const SetBodyCheck = compile(Type.Object({ Settings: Type.Unknown() }));

function refuse(prefix: string, p: Problem | undefined): void {
  if (p) bad(describeProblem(prefix, p));
}

/** A section of a checked change or stored change: an object of values, null, or absent. */
function section(v: unknown): Section | undefined {
  return v as Section | undefined;
}

// ---- views -------------------------------------------------------------------------------------

function maskWebhook(w: Section | undefined): Obj | null {
  if (!w) return null;
  const { secret, ...rest } = w;
  return { ...clone(rest), [WEBHOOK_READ_ONLY]: typeof secret === 'string' && secret.length > 0 };
}

/** The settings as replies show them: no `secretKey`, the webhook secret replaced by `HasSecret`. */
export function settingsView(s: AppSettings): Obj {
  const out: Obj = {};
  for (const [k, v] of Object.entries(s)) {
    if (k === 'secretKey' || OPTIONAL.has(k)) continue;
    out[k] = clone(v);
  }
  out.webhook = maskWebhook(s.webhook);
  return out;
}

function storedView(o: StoredOverrides): Obj {
  const out = clone(o);
  if (out.webhook) out.webhook = maskWebhook(section(out.webhook));
  return out;
}

// ---- merging -----------------------------------------------------------------------------------

function mergeSection(current: Section | undefined, patch: Obj, readOnly?: string): Obj {
  const out: Obj = { ...current };
  for (const [k, v] of Object.entries(patch)) {
    if (k === readOnly) continue;
    if (v === null) delete out[k];
    else out[k] = v;
  }
  return out;
}

/**
 * Applies a change (the `Settings` object of set_app_settings) to the current settings and
 * validates the result as the config file would. Throws PresentlyError(70402) naming the field.
 */
export function mergeChange(current: AppSettings, patch: unknown): AppSettings {
  refuse('Settings', firstProblem(SettingsChangeCheck, patch));
  const change = patch as SettingsChange;
  const merged = clone(current) as unknown as Obj;
  for (const [key, value] of Object.entries(change)) {
    const at = `Settings.${key}`;
    if (key === 'SDKAppID') {
      if (value !== current.SDKAppID) bad(`${at}: cannot be changed`);
      continue;
    }
    if (key === 'secretKey') bad(`${at}: cannot be changed through the API (it comes from the config file)`);
    const patchSection = section(value);
    const isSection = key in SECTIONS;
    if (value === null) delete merged[key];
    else if (isSection && patchSection) merged[key] = mergeSection(section(merged[key]), patchSection, OPTIONAL.has(key) ? WEBHOOK_READ_ONLY : undefined);
    else merged[key] = value;
  }
  try {
    return normalizeApp(merged, 'Settings');
  } catch (err) {
    if (err instanceof ConfigError) bad(err.message);
    throw err;
  }
}

/** The keys whose values are objects merged key by key. */
const SECTIONS = { userStatus: true, limits: true, devices: true, webhook: true } as const;

/**
 * The stored changes after one more change: each leaf the change named gets its resulting
 * value; a webhook named in the change is kept whole (or null when removed). Applying the result
 * over the file's settings (applyStoredChanges) gives back `next`.
 */
export function recordChange(prev: StoredOverrides, patch: Obj, next: AppSettings): StoredOverrides {
  const out = clone(prev);
  const n = next as unknown as Obj;
  for (const key of Object.keys(patch)) {
    if (FIXED.has(key)) continue;
    if (OPTIONAL.has(key)) {
      out[key] = n[key] === undefined ? null : clone(n[key]);
      continue;
    }
    const resulting = section(n[key]);
    const p = section(patch[key]);
    if (key in SECTIONS && resulting && p) {
      const o: Obj = { ...section(out[key]) };
      for (const leaf of Object.keys(p)) if (Object.hasOwn(resulting, leaf)) o[leaf] = clone(resulting[leaf]);
      if (Object.keys(o).length > 0) out[key] = o;
    } else {
      out[key] = clone(n[key]);
    }
  }
  return out;
}

/**
 * Start-up: the config file's settings of an app with its stored run-time changes applied over
 * them (the stored values win). Throws ConfigError when the result is not valid.
 */
export function applyStoredChanges(base: AppSettings, stored: StoredOverrides): AppSettings {
  const where = `stored settings of app ${base.SDKAppID}`;
  const hint = " (table app_settings; delete that app's row to fall back to the config file)";
  const p = firstProblem(SettingsChangeCheck, stored);
  if (p) throw new ConfigError(`${describeProblem(where, p)}${hint}`);
  const merged = clone(base) as unknown as Obj;
  for (const [key, value] of Object.entries(stored as SettingsChange)) {
    if (FIXED.has(key)) continue;
    if (OPTIONAL.has(key)) {
      if (value === null) delete merged[key];
      else merged[key] = clone(value);
      continue;
    }
    const cur = section(merged[key]);
    const v = section(value);
    merged[key] = key in SECTIONS && cur && v ? { ...cur, ...clone(v) } : clone(value);
  }
  try {
    return normalizeApp(merged, where);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    throw new ConfigError(`${err.message}${hint}`);
  }
}

// ---- the service -------------------------------------------------------------------------------

interface AppEntry {
  /** The config file's settings. */
  base: AppSettings;
  /** What the API changed, as stored. */
  overrides: StoredOverrides;
  /** ms of the last stored change, 0 when none. */
  updatedAt: number;
  /** Changes of one app run one after another. */
  lock: Promise<void>;
}

export interface SettingsReply {
  Settings: Obj;
  StoredChanges: Obj;
  UpdatedAt: number;
}

export class AppSettingsService {
  private readonly apps = new Map<number, AppEntry>();

  constructor(
    readonly store: AppSettingsStore,
    private readonly log?: Logger,
  ) {}

  migrate(): Promise<void> {
    return this.store.migrate();
  }

  /** At start: an app's effective settings, its stored changes applied over the file's `base`. */
  async resolve(base: AppSettings): Promise<AppSettings> {
    const row = await this.store.load(base.SDKAppID);
    const effective = row ? applyStoredChanges(base, row.overrides) : base;
    this.apps.set(base.SDKAppID, { base, overrides: row?.overrides ?? {}, updatedAt: row?.updatedAt ?? 0, lock: Promise.resolve() });
    if (row) this.log?.info({ app: base.SDKAppID, storedChanges: storedView(row.overrides) }, 'stored app settings applied over the config file');
    return effective;
  }

  private entry(t: SettingsTarget): AppEntry {
    let e = this.apps.get(t.app);
    if (!e) {
      // An app added without resolve(): what it runs with is its file's settings.
      e = { base: t.settings, overrides: {}, updatedAt: 0, lock: Promise.resolve() };
      this.apps.set(t.app, e);
    }
    return e;
  }

  private serial<T>(e: AppEntry, fn: () => Promise<T>): Promise<T> {
    const run = e.lock.then(fn);
    e.lock = run.then(
      () => undefined,
      () => undefined,
    );
    return run;
  }

  private reply(t: SettingsTarget, e: AppEntry): SettingsReply {
    return { Settings: settingsView(t.settings), StoredChanges: storedView(e.overrides), UpdatedAt: e.updatedAt };
  }

  get(t: SettingsTarget): SettingsReply {
    return this.reply(t, this.entry(t));
  }

  /** Validates, stores, then applies one change; refusals throw PresentlyError, nothing changed. */
  set(t: SettingsTarget, patch: unknown, caller: string, now: number): Promise<SettingsReply> {
    const e = this.entry(t);
    return this.serial(e, async () => {
      const next = mergeChange(t.settings, patch);
      const p = patch as Obj;
      if (Object.hasOwn(p, 'admins') && !next.admins.includes(caller)) {
        bad(`Settings.admins: must include the calling admin ${JSON.stringify(caller)}, or no one could change the settings back`);
      }
      if (Object.keys(p).length === 0) return this.reply(t, e);
      const overrides = recordChange(e.overrides, p, next);
      await this.persist(t.app, () => this.store.save(t.app, overrides, now));
      e.overrides = overrides;
      e.updatedAt = now;
      await t.updateSettings(next);
      this.log?.info({ app: t.app, by: caller, change: storedView(p) }, 'app settings changed');
      return this.reply(t, e);
    });
  }

  /** Forgets the stored changes: the app runs with its config file's settings again. */
  reset(t: SettingsTarget, caller: string): Promise<SettingsReply> {
    const e = this.entry(t);
    return this.serial(e, async () => {
      await this.persist(t.app, () => this.store.remove(t.app));
      e.overrides = {};
      e.updatedAt = 0;
      await t.updateSettings(e.base);
      this.log?.info({ app: t.app, by: caller }, 'app settings reset to the config file');
      return this.reply(t, e);
    });
  }

  private async persist(app: number, write: () => Promise<void>): Promise<void> {
    try {
      await write();
    } catch (err) {
      this.log?.error({ err, app }, 'storing app settings failed');
      throw new PresentlyError(ErrorCode.INTERNAL_ERROR, 'the settings could not be stored; nothing was changed');
    }
  }
}

// ---- the commands ------------------------------------------------------------------------------

export interface SettingsContext {
  service: AppSettingsService;
  engine: SettingsTarget;
  /** The authenticated admin making the call. */
  identifier: string;
  /** ms since the epoch. */
  now: number;
}

function envelope(code: number, info: string): RestReply {
  return { ActionStatus: code === 0 ? 'OK' : 'FAIL', ErrorCode: code, ErrorInfo: info };
}

/**
 * Runs one `presently/*` command on an authenticated admin request. Refusals come back as FAIL
 * replies; an error that is not a PresentlyError is a bug and is rethrown for http.ts to log.
 */
export async function runSettingsCommand(ctx: SettingsContext, command: string, body: unknown): Promise<RestReply> {
  try {
    if (!SETTINGS_COMMANDS.includes(command)) {
      return envelope(ErrorCode.REST_BAD_URL, `unknown command ${JSON.stringify(command.slice(0, 100))}`);
    }
    refuse('the request body', firstProblem(BodyCheck, body));
    let fields: SettingsReply;
    if (command === GET_APP_SETTINGS) {
      fields = ctx.service.get(ctx.engine);
    } else if (command === SET_APP_SETTINGS) {
      refuse('', firstProblem(SetBodyCheck, body));
      fields = await ctx.service.set(ctx.engine, (body as { Settings: unknown }).Settings, ctx.identifier, ctx.now);
    } else {
      fields = await ctx.service.reset(ctx.engine, ctx.identifier);
    }
    return { ...envelope(0, ''), ...fields };
  } catch (err) {
    if (err instanceof PresentlyError) return envelope(err.code, err.message || messageFor(err.code));
    throw err;
  }
}
