/**
 * The 60-second tour: two users in Node see each other's status change.
 * Start the server first (`npm start`), then run `npm run tour`.
 * Environment: PRESENTLY_URL (default ws://127.0.0.1:8080), PRESENTLY_DATA_DIR (default ./data),
 * or PRESENTLY_SDKAPPID + PRESENTLY_SECRET_KEY to name an app directly.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import Presently from '@presently/client';
import { makeUserSig } from '@presently/server';

const url = process.env.PRESENTLY_URL ?? 'ws://127.0.0.1:8080';
let SDKAppID = Number(process.env.PRESENTLY_SDKAPPID ?? 0);
let secretKey = process.env.PRESENTLY_SECRET_KEY ?? '';
if (!SDKAppID) {
  // The development app that `npm start` made on its first run.
  const dev = JSON.parse(readFileSync(join(process.env.PRESENTLY_DATA_DIR ?? 'data', 'dev-app.json'), 'utf8')) as {
    apps: Array<{ SDKAppID: number; secretKey: string }>;
  };
  ({ SDKAppID, secretKey } = dev.apps[0]!);
}
// In a real app, your backend makes UserSigs with the secret key and hands them to clients.
const userSig = (userID: string) => makeUserSig({ SDKAppID, secretKey, userID, expireSec: 3600 });

const alice = Presently.create({ SDKAppID, url, platform: 'Web' });
const bob = Presently.create({ SDKAppID, url, platform: 'Android' });

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
await bob.destroy();
await alice.destroy();
