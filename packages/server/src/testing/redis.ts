/**
 * Redis for the cluster tests: 127.0.0.1:6379 here (TEST_REDIS_URL to change it). Without it
 * the cluster cases skip loudly; under CI=true they must run, so its absence fails.
 */
import { createConnection } from 'node:net';

export const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

function reachable(url: string): Promise<boolean> {
  const u = new URL(url);
  return new Promise((resolve) => {
    const sock = createConnection({ host: u.hostname, port: Number(u.port || 6379) });
    const done = (ok: boolean) => {
      sock.destroy();
      resolve(ok);
    };
    sock.setTimeout(2000, () => done(false));
    sock.once('error', () => done(false));
    sock.once('connect', () => sock.write('*1\r\n$4\r\nPING\r\n'));
    sock.once('data', (d) => done(d.toString().startsWith('+PONG')));
  });
}

/** `false` when Redis can be used; else the skip reason (printed). Throws under CI=true. */
export async function redisSkip(what: string): Promise<string | false> {
  if (await reachable(REDIS_URL)) return false;
  const msg = `Redis is not reachable at ${REDIS_URL}`;
  if (process.env.CI === 'true') throw new Error(`${msg}: CI must run ${what}`);
  console.warn(`\n*** ${msg}: SKIPPING ${what} ***\n`);
  return msg;
}
