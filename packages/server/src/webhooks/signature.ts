/**
 * Request signing (the issue: "sign each request so receivers can verify it"). The hosted service
 * signs nothing (compat.md §4), so these headers are ours; a receiver that ignores them still works.
 *
 *   X-Presently-Timestamp: <unix seconds when this attempt was sent>
 *   X-Presently-Signature: sha256=<hex HMAC-SHA256(secret, timestamp + "." + raw body)>
 *
 * The timestamp is signed with the body so a captured request cannot be replayed later than the
 * receiver's tolerance; it is the attempt's time, so a retry carries a fresh one.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

export const TIMESTAMP_HEADER = 'X-Presently-Timestamp';
export const SIGNATURE_HEADER = 'X-Presently-Signature';
/** The event's unique id: the same on every attempt of one event, for receivers to drop duplicates. */
export const EVENT_ID_HEADER = 'X-Presently-Event-Id';
/** 1 for the first attempt of an event, 2 for its first retry, … */
export const ATTEMPT_HEADER = 'X-Presently-Attempt';

/** `sha256=<hex>` for one body at one timestamp (seconds, as a decimal string). */
export function signBody(secret: string, timestamp: string, body: string): string {
  return `sha256=${createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex')}`;
}

export interface VerifyInput {
  secret: string;
  /** The X-Presently-Timestamp header. */
  timestamp: string | undefined;
  /** The X-Presently-Signature header. */
  signature: string | undefined;
  /** The raw body, byte for byte as received (not re-serialised JSON). */
  body: string;
  /** Largest accepted age (or clock skew), seconds. @default 300 */
  toleranceSec?: number;
  /** Unix seconds now. @default the clock */
  nowSec?: number;
}

/** What a receiver does (docs/webhooks.md shows the same steps with node:crypto alone). */
export function verifySignature(v: VerifyInput): boolean {
  if (!v.timestamp || !v.signature || !/^\d+$/.test(v.timestamp)) return false;
  const now = v.nowSec ?? Math.floor(Date.now() / 1000);
  if (Math.abs(now - Number(v.timestamp)) > (v.toleranceSec ?? 300)) return false;
  const expected = Buffer.from(signBody(v.secret, v.timestamp, v.body));
  const got = Buffer.from(v.signature);
  return got.length === expected.length && timingSafeEqual(got, expected);
}
