/**
 * UserSig version 2 (compat.md §2): an HMAC-SHA256 ticket bound to app, userID and expiry,
 * compatible with the official `tls-sig-api-v2` generator.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { deflateSync, inflateSync } from 'node:zlib';
import { ErrorCode, isWellFormed } from '@presently/protocol';

export interface TicketClaims {
  SDKAppID: number;
  userID: string;
  /** `TLS.time`, seconds. */
  time: number;
  /** `TLS.expire`, seconds of lifetime. */
  expire: number;
}

function hmac(key: string, c: TicketClaims, userbuf?: string): string {
  let text = `TLS.identifier:${c.userID}\nTLS.sdkappid:${c.SDKAppID}\nTLS.time:${c.time}\nTLS.expire:${c.expire}\n`;
  if (userbuf !== undefined) text += `TLS.userbuf:${userbuf}\n`;
  return createHmac('sha256', key).update(text, 'utf8').digest('base64');
}

const escape = (b64: string): string => b64.replace(/\+/g, '*').replace(/\//g, '-').replace(/=/g, '_');
const unescape = (s: string): string => s.replace(/\*/g, '+').replace(/-/g, '/').replace(/_/g, '=');

/** Makes a UserSig, as an app's own server would. */
export function makeUserSig(opts: { SDKAppID: number; secretKey: string; userID: string; expireSec?: number; nowSec?: number }): string {
  const claims: TicketClaims = {
    SDKAppID: opts.SDKAppID,
    userID: opts.userID,
    time: opts.nowSec ?? Math.floor(Date.now() / 1000),
    expire: opts.expireSec ?? 86_400 * 180,
  };
  const doc = {
    'TLS.ver': '2.0',
    'TLS.identifier': claims.userID,
    'TLS.sdkappid': claims.SDKAppID,
    'TLS.time': claims.time,
    'TLS.expire': claims.expire,
    'TLS.sig': hmac(opts.secretKey, claims),
  };
  return escape(deflateSync(Buffer.from(JSON.stringify(doc), 'utf8')).toString('base64'));
}

export type VerifyResult = { ok: true; claims: TicketClaims } | { ok: false; code: number; message: string };

/** Longest ticket we look at; real ones are ~200-400 characters. */
const MAX_SIG_CHARS = 4096;

/**
 * How far in the future a ticket's issue time (`TLS.time`) may lie, seconds: the clock skew
 * allowed between the app's server and this one. A ticket from further ahead is refused, or it
 * would outlive an admin kick (S28 refuses tickets issued up to the kick's second).
 */
export const MAX_TICKET_CLOCK_SKEW_SEC = 120;

function refuse(code: number, message: string): VerifyResult {
  return { ok: false, code, message };
}

/**
 * Verifies a UserSig for an app and user. Codes follow compat.md §5. The HMAC is compared in
 * constant time; a forged ticket is refused as a key mismatch before its expiry is looked at.
 */
export function verifyUserSig(sig: string, expect: { SDKAppID: number; secretKey: string; userID: string; nowSec: number }): VerifyResult {
  if (sig.length === 0) return refuse(ErrorCode.USERSIG_EMPTY, 'UserSig is empty');
  if (sig.length > MAX_SIG_CHARS) return refuse(ErrorCode.USERSIG_DECODE_FAILED, 'UserSig is too long');
  let doc: Record<string, unknown>;
  try {
    const raw = inflateSync(Buffer.from(unescape(sig), 'base64'), { maxOutputLength: 16_384 });
    const parsed: unknown = JSON.parse(raw.toString('utf8'));
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new Error('not an object');
    doc = parsed as Record<string, unknown>;
  } catch {
    return refuse(ErrorCode.USERSIG_DECODE_FAILED, 'UserSig could not be decoded');
  }
  const identifier = doc['TLS.identifier'];
  const sdkappid = doc['TLS.sdkappid'];
  const time = doc['TLS.time'];
  const expire = doc['TLS.expire'];
  const mac = doc['TLS.sig'];
  const userbuf = doc['TLS.userbuf'];
  if (
    typeof identifier !== 'string' ||
    typeof sdkappid !== 'number' ||
    typeof time !== 'number' ||
    typeof expire !== 'number' ||
    typeof mac !== 'string' ||
    (userbuf !== undefined && typeof userbuf !== 'string')
  ) {
    return refuse(ErrorCode.USERSIG_CHECK_FAILED, 'UserSig lacks a field');
  }
  // The MAC covers the UTF-8 text, where every lone surrogate reads as U+FFFD: such an
  // identifier would share its MAC with others. Only well-formed text is signed text.
  if (!isWellFormed(identifier) || (userbuf !== undefined && !isWellFormed(userbuf))) {
    return refuse(ErrorCode.USERSIG_CHECK_FAILED, 'UserSig fields must be well-formed Unicode');
  }
  if (sdkappid !== expect.SDKAppID) return refuse(ErrorCode.USERSIG_SDKAPPID_MISMATCH, 'UserSig was made for another SDKAppID');
  if (identifier !== expect.userID) return refuse(ErrorCode.USERSIG_IDENTIFIER_MISMATCH, 'UserSig was made for another userID');
  const claims: TicketClaims = { SDKAppID: sdkappid, userID: identifier, time, expire };
  const want = Buffer.from(hmac(expect.secretKey, claims, userbuf), 'utf8');
  const got = Buffer.from(mac, 'utf8');
  if (want.length !== got.length || !timingSafeEqual(want, got)) {
    return refuse(ErrorCode.USERSIG_KEY_MISMATCH, 'UserSig does not match the secret key');
  }
  if (expect.nowSec > time + expire) return refuse(ErrorCode.USERSIG_EXPIRED, 'UserSig expired');
  if (time > expect.nowSec + MAX_TICKET_CLOCK_SKEW_SEC) {
    return refuse(ErrorCode.USERSIG_CHECK_FAILED, `UserSig was issued in the future (more than ${MAX_TICKET_CLOCK_SKEW_SEC} s ahead of this server's clock)`);
  }
  return { ok: true, claims };
}
