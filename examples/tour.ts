/**
 * The 60-second tour: two users in Node see each other's status change.
 * Start the server first (`npm start`), then run `npm run tour` with the same environment.
 *
 * It finds the server and its app the way the server does: HOST and PORT (default
 * 127.0.0.1:8080), and the app from PRESENTLY_CONFIG (its first app) or else the development app
 * in PRESENTLY_DATA_DIR (default ./data). PRESENTLY_URL names the server's address directly;
 * PRESENTLY_SDKAPPID picks another app of the config file, and with PRESENTLY_SECRET_KEY names
 * an app outright. Anything missing or wrong ends with one line saying what to do.
 */
import Presently, { ErrorCode } from '@presently/client';
import { ConfigError, loadApps, makeUserSig, serverOptionsFrom } from '@presently/server';

interface Target {
  url: string;
  SDKAppID: number;
  secretKey: string;
  /** Where the app came from, for messages. */
  source: string;
}

/** The server's address and app, from the same environment the server reads. */
function target(env: NodeJS.ProcessEnv): Target {
  const opts = serverOptionsFrom(env);
  let url = env.PRESENTLY_URL;
  if (!url) {
    if (opts.port === 0) throw new ConfigError('PORT=0: the server picked a free port; run the tour with PORT set to it (npm start prints the command)');
    const host = opts.host === '0.0.0.0' || opts.host === '::' ? '127.0.0.1' : opts.host;
    url = `ws://${host.includes(':') ? `[${host}]` : host}:${opts.port}`;
  }
  const wanted = Number(env.PRESENTLY_SDKAPPID ?? 0);
  if (wanted && env.PRESENTLY_SECRET_KEY) return { url, SDKAppID: wanted, secretKey: env.PRESENTLY_SECRET_KEY, source: 'PRESENTLY_SECRET_KEY' };
  const { apps, source } = loadApps(opts, { createDevApp: false });
  const app = wanted ? apps.find((a) => a.SDKAppID === wanted) : apps[0];
  if (!app) throw new ConfigError(`PRESENTLY_SDKAPPID=${wanted}: not an app of ${source} (its apps: ${apps.map((a) => a.SDKAppID).join(', ')})`);
  return { url, SDKAppID: app.SDKAppID, secretKey: app.secretKey, source };
}

/** One line for a failed call: what happened and what to do about it. */
function explain(err: unknown, t: Target): string {
  const code = (err as { code?: unknown }).code;
  const message = err instanceof Error ? err.message : String(err);
  if (code === ErrorCode.NETWORK_ERROR || code === ErrorCode.NETWORK_TIMEOUT) {
    return `cannot reach the server at ${t.url} (${message}): start it (npm start) and run the tour with the same HOST and PORT`;
  }
  if (typeof code === 'number' && ((code >= ErrorCode.USERSIG_EXPIRED && code <= ErrorCode.SDKAPPID_NOT_FOUND) || code === ErrorCode.USERSIG_INVALIDATED)) {
    return `the server refused the UserSig for app ${t.SDKAppID} from ${t.source} (${code}: ${message}): run the tour with the server's PRESENTLY_DATA_DIR or PRESENTLY_CONFIG`;
  }
  if (code === ErrorCode.FEATURE_NOT_ENABLED) {
    return `app ${t.SDKAppID} does not allow user status queries (${code}: ${message}): the tour needs edition "premium" and userStatus.queryAndNotify on`;
  }
  return typeof code === 'number' ? `${code}: ${message}` : message;
}

async function tour(t: Target): Promise<void> {
  const { url, SDKAppID, secretKey } = t;
  // In a real app, your backend makes UserSigs with the secret key and hands them to clients.
  const userSig = (userID: string) => makeUserSig({ SDKAppID, secretKey, userID, expireSec: 3600 });

  const alice = Presently.create({ SDKAppID, url, platform: 'Web' });
  const bob = Presently.create({ SDKAppID, url, platform: 'Android' });
  try {
    let aliceLeft = () => {};
    const left = new Promise<void>((resolve) => (aliceLeft = resolve));
    bob.on(Presently.EVENT.USER_STATUS_UPDATED, (event) => {
      for (const s of event.data) {
        console.log(`bob hears: ${s.userID} is ${['unknown', 'online', 'offline', 'not logged in'][s.statusType]} "${s.customStatus}"`);
        if (s.userID === 'alice' && s.statusType === Presently.TYPES.USER_STATUS_UNLOGINED) aliceLeft();
      }
    });

    await alice.login({ userID: 'alice', userSig: userSig('alice') });
    await bob.login({ userID: 'bob', userSig: userSig('bob') });
    await bob.subscribeUserStatus({ userIDList: ['alice'] });

    const { data } = await bob.getUserStatus({ userIDList: ['alice'] });
    console.log('bob asks: alice is', data.successUserList[0]);

    await alice.setSelfStatus({ customStatus: 'listening to music' });
    await alice.logout();
    await left; // bob hears alice leave
  } finally {
    await bob.destroy();
    await alice.destroy();
  }
}

let t: Target | undefined;
try {
  t = target(process.env);
  await tour(t);
} catch (err) {
  process.stderr.write(`tour: ${err instanceof ConfigError || !t ? (err as Error).message : explain(err, t)}\n`);
  process.exit(err instanceof ConfigError ? 2 : 1);
}
