/** The page's own SHA-256, HMAC and UserSig against Node's crypto and the server's verifier. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, createHmac, randomBytes } from 'node:crypto';
import { inflateSync } from 'node:zlib';
import { ErrorCode } from '@presently/protocol';
import { verifyUserSig } from '../../../server/src/auth/usersig.js';
import { hmacSha256, makeUserSig, sha256, zlibStored } from './usersig.js';

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

test('sha256 matches node:crypto for lengths around the block edges', () => {
  for (const n of [0, 1, 3, 55, 56, 57, 63, 64, 65, 119, 120, 128, 1000, 70_000]) {
    const data = randomBytes(n);
    assert.equal(hex(sha256(data)), createHash('sha256').update(data).digest('hex'), `length ${n}`);
  }
  assert.equal(hex(sha256(new TextEncoder().encode('abc'))), 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
});

test('hmacSha256 matches node:crypto, short and long keys', () => {
  for (const keyLen of [0, 8, 32, 64, 65, 200]) {
    const key = randomBytes(keyLen);
    const msg = randomBytes(100);
    assert.equal(hex(hmacSha256(key, msg)), createHmac('sha256', key).update(msg).digest('hex'), `key ${keyLen}`);
  }
});

test('zlibStored is a valid zlib stream, also past one 64 KiB block', () => {
  for (const n of [0, 10, 65_535, 65_536, 140_000]) {
    const data = randomBytes(n);
    assert.deepEqual(inflateSync(zlibStored(data)), data, `length ${n}`);
  }
});

test('a UserSig made in the page is accepted by the server, and refused for another key or user', () => {
  const secretKey = 'console-test-secret-key';
  const nowSec = Math.floor(Date.now() / 1000);
  const sig = makeUserSig({ SDKAppID: 1400000001, secretKey, userID: 'administrator', expireSec: 600, nowSec });
  assert.match(sig, /^[A-Za-z0-9*\-_]+$/);
  const ok = verifyUserSig(sig, { SDKAppID: 1400000001, secretKey, userID: 'administrator', nowSec });
  assert.deepEqual(ok, { ok: true, claims: { SDKAppID: 1400000001, userID: 'administrator', time: nowSec, expire: 600 } });
  const wrongKey = verifyUserSig(sig, { SDKAppID: 1400000001, secretKey: 'another-key-123', userID: 'administrator', nowSec });
  assert.equal(wrongKey.ok ? 0 : wrongKey.code, ErrorCode.USERSIG_KEY_MISMATCH);
  const wrongUser = verifyUserSig(sig, { SDKAppID: 1400000001, secretKey, userID: 'alice', nowSec });
  assert.equal(wrongUser.ok ? 0 : wrongUser.code, ErrorCode.USERSIG_IDENTIFIER_MISMATCH);
  const expired = verifyUserSig(sig, { SDKAppID: 1400000001, secretKey, userID: 'administrator', nowSec: nowSec + 601 });
  assert.equal(expired.ok ? 0 : expired.code, ErrorCode.USERSIG_EXPIRED);
  // Non-ASCII ids and keys are UTF-8 on both sides.
  const u = makeUserSig({ SDKAppID: 7, secretKey: 'clé-secrète-ü', userID: 'zoë', nowSec });
  assert.equal(verifyUserSig(u, { SDKAppID: 7, secretKey: 'clé-secrète-ü', userID: 'zoë', nowSec }).ok, true);
});
