/**
 * Read-only admin commands for the web console (packages/console), under our `presently` service
 * with the REST envelope and admin auth of every command (http.ts; docs/rest.md "Console API"):
 *
 *   presently/get_status_counts   {}                                      -> Counts, Accounts, Sessions
 *   presently/list_users          {Prefix?, After?, Limit?, Status?}     -> Users, Next
 *   presently/get_webhook_log     {Limit?}                                -> Webhook, Dispatcher, Attempts, DeadLetters
 *
 * Outer fields are PascalCase like the rest of the envelope; the objects inside are camelCase,
 * as in the settings API. Nothing here changes state. Refusals: 70402 naming the field.
 */
import { ErrorCode, PresentlyError, UserStatus, messageFor, type StatusType } from '@presently/protocol';
import type { AppEngine } from '../engine/engine.js';
import type { AttemptRecord, WebhookStats } from '../webhooks/dispatcher.js';
import type { DeadLetter } from '../webhooks/outbox.js';
import { publicError } from '../webhooks/egress.js';
import type { RestReply } from './commands.js';

export const GET_STATUS_COUNTS = 'presently/get_status_counts';
export const LIST_USERS = 'presently/list_users';
export const GET_WEBHOOK_LOG = 'presently/get_webhook_log';
export const CONSOLE_COMMANDS: readonly string[] = Object.freeze([GET_STATUS_COUNTS, LIST_USERS, GET_WEBHOOK_LOG]);

/** Largest page of list_users and of each webhook list. */
export const MAX_PAGE = 200;
const DEFAULT_USERS_PAGE = 50;
const DEFAULT_LOG_LIMIT = 50;

/** What the console commands read: one app's engine and the process's webhook dispatcher. */
export interface ConsoleContext {
  engine: Pick<AppEngine<unknown>, 'app' | 'settings' | 'statusCounts' | 'accountCount' | 'sessionCount' | 'listUsers'>;
  webhooks: {
    recentAttempts(q: { app?: number; limit?: number }): AttemptRecord[];
    deadLetters(q: { app?: number; limit?: number }): Promise<DeadLetter[]>;
    stats(): WebhookStats;
  };
}

const STATUS_NAMES: Record<string, StatusType> = {
  online: UserStatus.ONLINE,
  offline: UserStatus.OFFLINE,
  unlogined: UserStatus.UNLOGINED,
};

type Obj = Record<string, unknown>;

function bad(message: string): never {
  throw new PresentlyError(ErrorCode.INVALID_PARAMETERS, message);
}

function isObject(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function optString(body: Obj, key: string, maxLen: number): string | undefined {
  const v = body[key];
  if (v === undefined || v === null || v === '') return undefined;
  if (typeof v !== 'string' || v.length > maxLen) bad(`${key}: must be a string of at most ${maxLen} characters`);
  return v;
}

function limit(body: Obj, dflt: number): number {
  const v = body.Limit;
  if (v === undefined || v === null) return dflt;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1 || v > MAX_PAGE) bad(`Limit: must be an integer from 1 to ${MAX_PAGE}`);
  return v;
}

function ok(fields: Obj): RestReply {
  return { ActionStatus: 'OK', ErrorCode: 0, ErrorInfo: '', ...fields };
}

function statusCounts(ctx: ConsoleContext): Obj {
  const c = ctx.engine.statusCounts();
  return { Counts: { online: c.online, offline: c.offline, unlogined: c.unlogined }, Accounts: ctx.engine.accountCount(), Sessions: ctx.engine.sessionCount() };
}

function listUsers(ctx: ConsoleContext, body: Obj): Obj {
  const prefix = optString(body, 'Prefix', 64);
  const after = optString(body, 'After', 64);
  const statusName = optString(body, 'Status', 16);
  let status: StatusType | undefined;
  if (statusName !== undefined) {
    status = STATUS_NAMES[statusName];
    if (status === undefined) bad('Status: must be "online", "offline" or "unlogined"');
  }
  const page = ctx.engine.listUsers({
    limit: limit(body, DEFAULT_USERS_PAGE),
    ...(prefix ? { prefix } : {}),
    ...(after ? { after } : {}),
    ...(status !== undefined ? { status } : {}),
  });
  return { Users: page.users, Next: page.next };
}

async function webhookLog(ctx: ConsoleContext, body: Obj): Promise<Obj> {
  const n = limit(body, DEFAULT_LOG_LIMIT);
  const app = ctx.engine.app;
  // Each app's latest attempts are kept apart (another app's failures never push them out).
  // Errors are generic classes (HTTP 500, timeout, egress refused...): never a reply or an address.
  const attempts = ctx.webhooks.recentAttempts({ app, limit: n }).map((a) => ({ ...a, error: publicError(a.error) }));
  const dead = await ctx.webhooks.deadLetters({ app, limit: n });
  const w = ctx.engine.settings.webhook;
  return {
    Webhook: w ? { url: w.url, hasSecret: typeof w.secret === 'string' && w.secret.length > 0, timeoutMs: w.timeoutMs, maxAttempts: w.maxAttempts } : null,
    // Process-wide: one dispatcher serves every app of the server.
    Dispatcher: ctx.webhooks.stats(),
    Attempts: attempts,
    DeadLetters: dead.map((d) => ({
      id: d.id,
      userID: d.userID,
      attempts: d.attempts,
      lastError: publicError(d.lastError),
      createdAt: d.createdAt,
      deadAt: d.deadAt,
      body: d.body,
    })),
  };
}

/** Runs one console command for an authenticated admin; refusals come back as FAIL replies. */
export async function runConsoleCommand(ctx: ConsoleContext, command: string, body: unknown): Promise<RestReply> {
  try {
    if (!isObject(body)) bad('the request body must be a JSON object');
    if (command === GET_STATUS_COUNTS) return ok(statusCounts(ctx));
    if (command === LIST_USERS) return ok(listUsers(ctx, body));
    if (command === GET_WEBHOOK_LOG) return ok(await webhookLog(ctx, body));
    return { ActionStatus: 'FAIL', ErrorCode: ErrorCode.REST_BAD_URL, ErrorInfo: `unknown command ${JSON.stringify(command.slice(0, 100))}` };
  } catch (err) {
    if (err instanceof PresentlyError) return { ActionStatus: 'FAIL', ErrorCode: err.code, ErrorInfo: err.message || messageFor(err.code) };
    throw err;
  }
}
