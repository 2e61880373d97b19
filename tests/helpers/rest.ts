/** Calls the REST admin API over real HTTP, as an app's backend would (compat.md §3). */
import { APP, type TestServer } from './server.js';

export async function rest(
  srv: TestServer,
  command: string,
  body: unknown,
  opts: { identifier?: string; usersig?: string; sdkappid?: string } = {},
): Promise<Record<string, unknown>> {
  const identifier = opts.identifier ?? 'administrator';
  const q = new URLSearchParams({
    sdkappid: opts.sdkappid ?? String(APP),
    identifier,
    usersig: opts.usersig ?? srv.sig(identifier),
    random: String(Math.floor(Math.random() * 2 ** 32)),
    contenttype: 'json',
  });
  const res = await fetch(`${srv.http}/v4/${command}?${q}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  if (res.status !== 200) throw new Error(`HTTP ${res.status} for ${command}`);
  return (await res.json()) as Record<string, unknown>;
}
