/** The REST admin API from the page (docs/rest.md): same origin, admin UserSig in the query. */

export interface Credentials {
  SDKAppID: number;
  identifier: string;
  userSig: string;
}

/** A refusal from the server (`ActionStatus: FAIL`), or a transport failure (code 0). */
export class RestError extends Error {
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(message);
    this.name = 'RestError';
  }
}

/** Codes after which the stored credentials are useless: the console signs out. */
export const AUTH_CODES: ReadonlySet<number> = new Set([60006, 60010, 70001, 70003, 70005, 70009, 70013, 70014, 70020, 70050, 70052]);

export type Reply = Record<string, unknown> & { ActionStatus: string; ErrorCode: number; ErrorInfo: string };

export async function callRest(creds: Credentials, command: string, body: unknown = {}): Promise<Reply> {
  const q = new URLSearchParams({
    sdkappid: String(creds.SDKAppID),
    identifier: creds.identifier,
    usersig: creds.userSig,
    random: String(Math.floor(Math.random() * 2 ** 32)),
    contenttype: 'json',
  });
  let res: Response;
  try {
    res = await fetch(`/v4/${command}?${q.toString()}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
      cache: 'no-store',
    });
  } catch {
    throw new RestError(0, 'the server cannot be reached');
  }
  if (!res.ok) throw new RestError(0, `the server answered HTTP ${res.status}`);
  const reply = (await res.json()) as Reply;
  if (reply.ActionStatus !== 'OK') throw new RestError(reply.ErrorCode, reply.ErrorInfo || `error ${reply.ErrorCode}`);
  return reply;
}
