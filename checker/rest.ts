/** REST admin calls as an app's backend makes them, with their outcome classified for the history. */
import { makeUserSig } from '../packages/server/src/auth/usersig.js';

export interface RestTarget {
  http: string;
  app: number;
  key: string;
}

export type RestOutcome = { outcome: 'ok' | 'fail' | 'unknown'; code?: number; body?: Record<string, unknown> };

let sigCache: { sig: string; at: number } | null = null;

function adminSig(target: RestTarget): string {
  const t = Date.now();
  if (!sigCache || t - sigCache.at > 600_000) sigCache = { sig: makeUserSig({ SDKAppID: target.app, secretKey: target.key, userID: 'administrator', expireSec: 86_400 }), at: t };
  return sigCache.sig;
}

/**
 * POSTs a command. A refused connection is `fail` (nothing reached the server); any other network
 * error is `unknown` (the command may have run); an envelope with FAIL is `fail` with its code.
 */
export async function restCall(target: RestTarget, command: string, body: unknown, timeoutMs = 5000): Promise<RestOutcome> {
  const q = new URLSearchParams({ sdkappid: String(target.app), identifier: 'administrator', usersig: adminSig(target), random: '1', contenttype: 'json' });
  let res: Response;
  try {
    res = await fetch(`${target.http}/v4/${command}?${q}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(timeoutMs),
    });
  } catch (err) {
    const code = (err as { cause?: { code?: string } }).cause?.code;
    return { outcome: code === 'ECONNREFUSED' ? 'fail' : 'unknown' };
  }
  let json: Record<string, unknown>;
  try {
    json = (await res.json()) as Record<string, unknown>;
  } catch {
    return { outcome: 'unknown' };
  }
  if (res.status !== 200) return { outcome: 'unknown', body: json };
  if (json.ActionStatus !== 'OK') return { outcome: 'fail', code: Number(json.ErrorCode), body: json };
  return { outcome: 'ok', body: json };
}
