import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { ErrorCode } from '@presently/protocol';
import { MAX_TICKET_CLOCK_SKEW_SEC, makeUserSig, verifyUserSig } from './usersig.js';

const require = createRequire(import.meta.url);
const TLSSigAPIv2 = require('tls-sig-api-v2') as { Api: new (id: number, key: string) => { genUserSig(u: string, e: number): string } };

const APP = 1400000001;
const KEY = 'a-secret-key-for-tests';
const now = () => Math.floor(Date.now() / 1000);

test('S25 a ticket made by the official tls-sig-api-v2 package verifies', () => {
  const sig = new TLSSigAPIv2.Api(APP, KEY).genUserSig('alice', 3600);
  const r = verifyUserSig(sig, { SDKAppID: APP, secretKey: KEY, userID: 'alice', nowSec: now() });
  assert.equal(r.ok, true);
});

test('S25 our own tickets verify and carry their claims', () => {
  const sig = makeUserSig({ SDKAppID: APP, secretKey: KEY, userID: 'bob', expireSec: 60, nowSec: 1000 });
  const r = verifyUserSig(sig, { SDKAppID: APP, secretKey: KEY, userID: 'bob', nowSec: 1060 });
  assert.deepEqual(r, { ok: true, claims: { SDKAppID: APP, userID: 'bob', time: 1000, expire: 60 } });
});

test('S25 expired when now > time + expire', () => {
  const sig = makeUserSig({ SDKAppID: APP, secretKey: KEY, userID: 'bob', expireSec: 60, nowSec: 1000 });
  const r = verifyUserSig(sig, { SDKAppID: APP, secretKey: KEY, userID: 'bob', nowSec: 1061 });
  assert.equal(r.ok, false);
  assert.equal(!r.ok && r.code, ErrorCode.USERSIG_EXPIRED);
});

test('S25 forged, wrong-app, wrong-user, empty and garbage tickets are refused with their codes', () => {
  const base = { SDKAppID: APP, secretKey: KEY, userID: 'carol', nowSec: now() };
  const code = (sig: string, over: Partial<typeof base> = {}) => {
    const r = verifyUserSig(sig, { ...base, ...over });
    return r.ok ? 0 : r.code;
  };
  const forged = makeUserSig({ SDKAppID: APP, secretKey: 'another-key-123', userID: 'carol' });
  assert.equal(code(forged), ErrorCode.USERSIG_KEY_MISMATCH);
  assert.equal(code(makeUserSig({ SDKAppID: APP + 1, secretKey: KEY, userID: 'carol' })), ErrorCode.USERSIG_SDKAPPID_MISMATCH);
  assert.equal(code(makeUserSig({ SDKAppID: APP, secretKey: KEY, userID: 'dave' })), ErrorCode.USERSIG_IDENTIFIER_MISMATCH);
  assert.equal(code(''), ErrorCode.USERSIG_EMPTY);
  assert.equal(code('not-a-ticket'), ErrorCode.USERSIG_DECODE_FAILED);
  assert.equal(code('x'.repeat(10_000)), ErrorCode.USERSIG_DECODE_FAILED);
});

test('S25 a ticket whose identifier has a lone surrogate is refused: the MAC covers exactly the identifier used', () => {
  // The MAC is over UTF-8, where every lone surrogate reads as U+FFFD: a ticket for 'x\ud800'
  // would also be one for 'x\udbff' and 'x\ufffd' if lone surrogates were signed at all.
  const sig = makeUserSig({ SDKAppID: APP, secretKey: KEY, userID: 'x\ud800' });
  for (const userID of ['x\ud800', 'x\udbff']) {
    const r = verifyUserSig(sig, { SDKAppID: APP, secretKey: KEY, userID, nowSec: now() });
    assert.equal(r.ok ? 0 : r.code, ErrorCode.USERSIG_CHECK_FAILED, JSON.stringify(userID));
  }
  // A well-formed pair (a real astral character) is fine.
  const astral = makeUserSig({ SDKAppID: APP, secretKey: KEY, userID: 'x\ud83d\ude00' });
  assert.equal(verifyUserSig(astral, { SDKAppID: APP, secretKey: KEY, userID: 'x\ud83d\ude00', nowSec: now() }).ok, true);
});

test('S25 S28 a ticket issued further in the future than the allowed clock skew is refused', () => {
  const t = now();
  const ahead = (sec: number) => makeUserSig({ SDKAppID: APP, secretKey: KEY, userID: 'eve', nowSec: t + sec });
  const codeOf = (sig: string) => {
    const r = verifyUserSig(sig, { SDKAppID: APP, secretKey: KEY, userID: 'eve', nowSec: t });
    return r.ok ? 0 : r.code;
  };
  assert.equal(codeOf(ahead(MAX_TICKET_CLOCK_SKEW_SEC)), 0, 'within the skew');
  assert.equal(codeOf(ahead(MAX_TICKET_CLOCK_SKEW_SEC + 1)), ErrorCode.USERSIG_CHECK_FAILED);
  assert.equal(codeOf(ahead(3600)), ErrorCode.USERSIG_CHECK_FAILED);
});
