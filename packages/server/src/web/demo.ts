/**
 * The demo page's helpers (docs/console.md "Demo page"). They exist only while the server runs
 * the generated development app (no PRESENTLY_CONFIG): an app's real server makes its users'
 * UserSigs and friendships, and a configured Presently never does that for it.
 *
 *   GET  /demo/config                      -> {devMode, SDKAppID?, prefix}      (always answers)
 *   GET  /demo/usersig?userID=demo-alice   -> {SDKAppID, userID, userSig, expireSec}
 *   POST /demo/friends {userID, userSig, friendID} -> {ok: true, added}          (both directions)
 *
 * Only ids made of the demo prefix and [A-Za-z0-9_-] get a UserSig, never an app admin, and each
 * lives an hour. Adding a friend needs the caller's own UserSig and works only between demo
 * users. Otherwise: 404 when not in development mode, 400/403 for the rest. The secret key never
 * leaves the server.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { ErrorCode } from '@presently/protocol';
import { makeUserSig } from '../auth/usersig.js';
import { checkTicket } from '../gateway/guards.js';
import type { Gateway } from '../gateway/gateway.js';
import { securityHeaders } from './static.js';

export const DEMO_PREFIX = 'demo-';
export const DEMO_SIG_SECONDS = 3600;
const DEMO_ID = /^demo-[A-Za-z0-9_-]{1,27}$/;
const MAX_BODY = 4096;

export function isDemoUserID(id: unknown): id is string {
  return typeof id === 'string' && DEMO_ID.test(id);
}

function json(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
    'cache-control': 'no-store',
    ...securityHeaders(false),
  });
  res.end(text);
}

function readBody(req: IncomingMessage): Promise<string | null> {
  return new Promise((resolve) => {
    let size = 0;
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size <= MAX_BODY) chunks.push(c);
    });
    req.on('end', () => resolve(size > MAX_BODY ? null : Buffer.concat(chunks).toString('utf8')));
    req.on('error', () => resolve(null));
  });
}

export class DemoApi {
  /** `devApp`: the development app's SDKAppID, undefined when the server runs a config file. */
  constructor(
    private readonly gw: Gateway,
    private readonly devApp: number | undefined,
  ) {}

  private get engine() {
    return this.devApp === undefined ? undefined : this.gw.engines.get(this.devApp);
  }

  /** Answers `/demo/config`, `/demo/usersig` and `/demo/friends`; false for any other path. */
  handle(req: IncomingMessage, res: ServerResponse, url: URL): boolean {
    const p = url.pathname;
    if (p !== '/demo/config' && p !== '/demo/usersig' && p !== '/demo/friends') return false;
    const engine = this.engine;
    if (p === '/demo/config') {
      json(res, 200, engine ? { devMode: true, SDKAppID: engine.app, prefix: DEMO_PREFIX } : { devMode: false, prefix: DEMO_PREFIX });
      return true;
    }
    if (!engine) {
      json(res, 404, { error: 'the demo helpers exist only in development mode (a server started without PRESENTLY_CONFIG)' });
      return true;
    }
    if (p === '/demo/usersig') {
      if (req.method !== 'GET') {
        res.writeHead(405, { allow: 'GET' }).end();
        return true;
      }
      const userID = url.searchParams.get('userID');
      if (!isDemoUserID(userID)) {
        json(res, 403, { error: `demo UserSigs are made only for ids "${DEMO_PREFIX}" + 1-27 of A-Z a-z 0-9 _ -` });
        return true;
      }
      if (engine.settings.admins.includes(userID)) {
        json(res, 403, { error: 'no demo UserSig for an app admin' });
        return true;
      }
      const userSig = makeUserSig({ SDKAppID: engine.app, secretKey: engine.settings.secretKey, userID, expireSec: DEMO_SIG_SECONDS });
      json(res, 200, { SDKAppID: engine.app, userID, userSig, expireSec: DEMO_SIG_SECONDS });
      return true;
    }
    if (req.method !== 'POST') {
      res.writeHead(405, { allow: 'POST' }).end();
      return true;
    }
    void this.addFriend(req, res);
    return true;
  }

  private async addFriend(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const engine = this.engine;
    const text = await readBody(req);
    if (!engine) return json(res, 404, { error: 'not in development mode' });
    let body: { userID?: unknown; userSig?: unknown; friendID?: unknown };
    try {
      body = JSON.parse(text ?? '') as typeof body;
      if (typeof body !== 'object' || body === null) throw new Error('not an object');
    } catch {
      return json(res, 400, { error: 'the body must be a JSON object {userID, userSig, friendID}' });
    }
    const { userID, userSig, friendID } = body;
    if (!isDemoUserID(userID) || !isDemoUserID(friendID) || userID === friendID) {
      return json(res, 403, { error: `friends are added here only between two different "${DEMO_PREFIX}" users` });
    }
    const now = Date.now();
    // The same ticket check as every other door: failures count against the brute-force guard.
    const verdict = checkTicket(this.gw.loginGuard, engine, {
      SDKAppID: engine.app,
      userID,
      userSig: typeof userSig === 'string' ? userSig : '',
      address: this.gw.clientAddresses.of(req),
      now,
    });
    if (!verdict.ok) return json(res, verdict.blocked ? 429 : 403, { error: verdict.message, code: verdict.code });
    if (!engine.hasAccount(friendID)) return json(res, 404, { error: `${friendID} has never logged in`, code: ErrorCode.FRIEND_ACCOUNT_NOT_FOUND });
    const refusal = this.gw.writesRefused(now);
    if (refusal) return json(res, 503, { error: refusal.message, code: refusal.code });
    const meta = { remark: '', groups: [], addSource: 'AddSource_Type_Demo', addTime: Math.floor(now / 1000) };
    const added: Array<[string, string]> = [];
    for (const [from, to] of [
      [userID, friendID],
      [friendID, userID],
    ] as const) {
      if (engine.isFriend(from, to)) continue;
      const code = engine.addFriend(from, to, meta);
      if (code !== 0) {
        // Never half a friendship: what this call added goes again (e.g. one list is full, 30010).
        for (const [f, t] of added) engine.removeFriend(f, t);
        await this.gw.store.flush().catch(() => undefined);
        return json(res, 409, { error: `could not add ${to} to the friends of ${from}`, code });
      }
      added.push([from, to]);
    }
    try {
      await this.gw.durable();
    } catch {
      return json(res, 500, { error: 'the friendship could not be stored (yet): the store is failing', code: ErrorCode.INTERNAL_ERROR });
    }
    json(res, 200, { ok: true, added: added.map(([f, t]) => `${f} -> ${t}`) });
  }
}
