/**
 * Abuse guards of the gateway (hardening issue): failed tickets (against guessing), and open
 * connections per source address.
 */
import { ErrorCode } from '@presently/protocol';
import { verifyUserSig, type TicketClaims } from '../auth/usersig.js';

/** Counts failures per key in a sliding window; a key past the limit is blocked until it slides. */
export class FailureWindow {
  private readonly log = new Map<string, number[]>();

  constructor(
    /** Failures allowed in the window; 0 turns the guard off. */
    private readonly max: number,
    private readonly windowMs: number,
  ) {}

  private recent(key: string, now: number): number[] | undefined {
    const times = this.log.get(key);
    if (!times) return undefined;
    const since = now - this.windowMs;
    let drop = 0;
    while (drop < times.length && (times[drop] as number) <= since) drop++;
    if (drop > 0) times.splice(0, drop);
    if (times.length === 0) {
      this.log.delete(key);
      return undefined;
    }
    return times;
  }

  blocked(key: string, now: number): boolean {
    if (this.max <= 0) return false;
    return (this.recent(key, now)?.length ?? 0) >= this.max;
  }

  fail(key: string, now: number): void {
    if (this.max <= 0) return;
    const times = this.recent(key, now);
    if (times) {
      times.push(now);
      // Past the limit only the newest matter: memory per key stays bounded.
      if (times.length > this.max) times.splice(0, times.length - this.max);
    } else this.log.set(key, [now]);
  }

  /** Drops keys whose failures have all slid out of the window (call from a periodic sweep). */
  prune(now: number): void {
    for (const key of [...this.log.keys()]) this.recent(key, now);
  }

  get size(): number {
    return this.log.size;
  }
}

/** Open connections per key (source address); 0 turns the limit off. */
export class ConnectionCounter {
  private readonly counts = new Map<string, number>();
  constructor(private readonly max: number) {}

  /** Takes a slot; false when the key is at its limit. */
  acquire(key: string): boolean {
    const n = this.counts.get(key) ?? 0;
    if (this.max > 0 && n >= this.max) return false;
    this.counts.set(key, n + 1);
    return true;
  }

  release(key: string): void {
    const n = this.counts.get(key) ?? 0;
    if (n <= 1) this.counts.delete(key);
    else this.counts.set(key, n - 1);
  }

  count(key: string): number {
    return this.counts.get(key) ?? 0;
  }
}

/**
 * Failed tickets, per source address and identity (app and userID) and, five times as many, per
 * address alone, in a sliding minute. Past the limit a failing ticket is answered with 70050
 * (whatever its own fault) and the caller closes the failing socket; a VALID ticket is never
 * refused for the failures of others: guessing is slowed, nobody is locked out.
 */
export class LoginGuard {
  private readonly perIdentity: FailureWindow;
  private readonly perAddress: FailureWindow;

  constructor(maxPerMinute: number) {
    this.perIdentity = new FailureWindow(maxPerMinute, 60_000);
    this.perAddress = new FailureWindow(maxPerMinute * 5, 60_000);
  }

  /** Records a failure; true when the address or this identity was already past its limit. */
  fail(address: string, identity: string, now: number): boolean {
    const key = `${address}|${identity}`;
    const blocked = this.perIdentity.blocked(key, now) || this.perAddress.blocked(address, now);
    this.perIdentity.fail(key, now);
    this.perAddress.fail(address, now);
    return blocked;
  }

  prune(now: number): void {
    this.perIdentity.prune(now);
    this.perAddress.prune(now);
  }
}

/** What a ticket check needs of an app. */
export interface TicketApp {
  app: number;
  settings: { secretKey: string };
  ticketInvalidated(userID: string, ticketTimeSec: number): boolean;
}

export type TicketVerdict = { ok: true; claims: TicketClaims } | { ok: false; code: number; message: string; blocked: boolean };

/**
 * The one ticket check of every door (login, watchAll, REST, the demo helper): the UserSig, then
 * an admin kick's invalidation (S28). A failure counts against the guard; past its limit the
 * verdict is 70050 with `blocked`, and the caller ends the failing connection.
 */
export function checkTicket(guard: LoginGuard, app: TicketApp | undefined, p: { SDKAppID: number; userID: string; userSig: string; address: string; now: number }): TicketVerdict {
  const refused = (code: number, message: string): TicketVerdict => {
    const blocked = guard.fail(p.address, `${p.SDKAppID}/${p.userID}`, p.now);
    if (blocked) return { ok: false, code: ErrorCode.TOO_MANY_LOGIN_FAILURES, message: 'too many failed tickets from this address, try later', blocked };
    return { ok: false, code, message, blocked };
  };
  if (!app) return refused(ErrorCode.SDKAPPID_NOT_FOUND, `SDKAppID ${p.SDKAppID} not found`);
  const verdict = verifyUserSig(p.userSig, { SDKAppID: app.app, secretKey: app.settings.secretKey, userID: p.userID, nowSec: Math.floor(p.now / 1000) });
  if (!verdict.ok) return refused(verdict.code, verdict.message);
  if (app.ticketInvalidated(p.userID, verdict.claims.time)) return refused(ErrorCode.USERSIG_INVALIDATED, 'UserSig was invalidated (the user was kicked), make a new one');
  return verdict;
}
