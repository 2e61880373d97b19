/**
 * The REST envelope (compat.md §3): `POST /v4/{service}/{command}?sdkappid&identifier&usersig`,
 * admin auth by the admin's UserSig, replies always HTTP 200 with the outcome in the body.
 */
import { ErrorCode, PresentlyError, messageFor } from '@presently/protocol';
import { randomBytes } from 'node:crypto';
import { checkTicket, type TicketApp } from '../gateway/guards.js';
import type { Gateway } from '../gateway/gateway.js';
import { READ_ONLY_COMMANDS, type RestReply } from './commands.js';
import type { AppSettings } from '../config/settings.js';
import { SETTINGS_SERVICE, runSettingsCommand, type AppSettingsService } from './settings.js';
import { CONSOLE_COMMANDS, LIST_USERS, runConsoleCommand, type ConsoleContext } from './console.js';

export function restFail(code: number, message?: string, friendApi = false): RestReply {
  const r: RestReply = { ActionStatus: 'FAIL', ErrorCode: code, ErrorInfo: message ?? messageFor(code) };
  if (friendApi) r.ErrorDisplay = '';
  return r;
}

/**
 * `settings` serves our own `presently/*` commands (the app settings API, rest/settings.ts);
 * every other command goes to the compat commands of commands.ts.
 */
/** A key made at start and never shown: no ticket verifies against it. */
const DECOY_KEY = randomBytes(32).toString('hex');

/** An app that does not exist, for checking a ticket the way a real app's would be checked. */
function decoyApp(app: number): TicketApp {
  return { app, settings: { secretKey: DECOY_KEY }, ticketInvalidated: () => false };
}

export async function handleRest(
  gw: Gateway,
  url: URL,
  /** Reads the request body, called only once the caller proved it is an admin: null when it is over the limit. */
  readBody: () => Promise<string | null>,
  settings: AppSettingsService,
  ip = '',
): Promise<RestReply> {
  const command = url.pathname.slice('/v4/'.length);
  const friendApi = command.startsWith('sns/');
  const q = url.searchParams;
  const sdkappid = q.get('sdkappid');
  if (!sdkappid) return restFail(ErrorCode.REST_NO_SDKAPPID, undefined, friendApi);
  if (!/^\d{1,15}$/.test(sdkappid)) return restFail(ErrorCode.REST_BAD_SDKAPPID, 'sdkappid must be a number', friendApi);
  const identifier = q.get('identifier');
  if (!identifier) return restFail(ErrorCode.REST_BAD_IDENTIFIER, 'identifier is missing', friendApi);
  const driver = gw.drivers.get(Number(sdkappid));
  const now = Date.now();
  // The ticket first: a caller who cannot prove who it is learns nothing, not even whether the
  // app exists (an unknown SDKAppID is checked against a key nobody has, and fails the same way
  // as a known app's ticket made with the wrong key) nor who the admins are. Failures count
  // against the guard (70050 past it); a valid ticket always passes.
  const app = driver?.engine ?? decoyApp(Number(sdkappid));
  const verdict = checkTicket(gw.loginGuard, app, { SDKAppID: app.app, userID: identifier, userSig: q.get('usersig') ?? '', address: ip, now });
  if (!verdict.ok || !driver) return restFail(verdict.ok ? ErrorCode.USERSIG_KEY_MISMATCH : verdict.code, verdict.ok ? undefined : verdict.message, friendApi);
  const engine = driver.engine;
  if (!engine.settings.admins.includes(identifier)) return restFail(ErrorCode.REST_ADMIN_REQUIRED, 'only an app admin may call the REST API', friendApi);
  const body = await readBody();
  if (body === null) return restFail(ErrorCode.REST_BAD_JSON, 'body too large', friendApi);
  let parsed: unknown;
  try {
    parsed = body.trim() === '' ? {} : JSON.parse(body);
  } catch {
    return restFail(ErrorCode.REST_BAD_JSON, undefined, friendApi);
  }
  if (CONSOLE_COMMANDS.includes(command)) {
    // Read-only commands of the web console (rest/console.ts): nothing to flush. Cluster v2 holds
    // no copy of the app: its user list is read from the store and the records.
    let view: ConsoleContext['engine'] = engine;
    if (command === LIST_USERS && driver.listUsersView) {
      try {
        view = await driver.listUsersView(parsed);
      } catch (err) {
        if (err instanceof PresentlyError) return restFail(err.code, err.message, friendApi);
        throw err;
      }
    }
    return runConsoleCommand({ engine: view, webhooks: gw.webhooks }, command, parsed);
  }
  if (command.startsWith(SETTINGS_SERVICE)) {
    // Durable before the reply on its own (the settings write is awaited inside).
    // In a cluster, a change reaches every node's engine through the driver.
    const target = {
      app: engine.app,
      get settings() {
        return engine.settings;
      },
      updateSettings: (next: AppSettings) => driver.updateSettings(next),
    };
    return runSettingsCommand({ service: settings, engine: target, identifier, now: Date.now() }, command, parsed);
  }
  const writes = !READ_ONLY_COMMANDS.has(command);
  // While the store cannot commit, a write is refused before it changes anything.
  const refusal = writes ? gw.writesRefused() : null;
  if (refusal) return restFail(refusal.code, refusal.message, friendApi);
  let reply: RestReply;
  try {
    const r = driver.rest(command, parsed, Date.now());
    reply = r instanceof Promise ? await r : r;
  } catch (err) {
    // The cluster's log could not take the command (Redis down): nothing was done.
    if (err instanceof PresentlyError) return restFail(err.code, err.message, friendApi);
    throw err;
  }
  // Acknowledge only what is durable (70500 when the store cannot commit in time). A read changes
  // nothing: it answers from memory at once, even while writes are failing.
  if (writes) {
    try {
      await gw.durable();
    } catch (err) {
      if (err instanceof PresentlyError) return restFail(err.code, err.message, friendApi);
      throw err;
    }
  }
  return reply;
}
