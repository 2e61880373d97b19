/**
 * The wire contract on its own: every byte of client input passes through `parseClientFrame`
 * (S32), and user ids and custom statuses are measured by `utf8Length` / checked by
 * `isValidUserID` and `isWellFormed`.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CLIENT_OPS, CloseCode, ErrorCode, PresentlyError, isPlatform, isValidUserID, isWellFormed, messageFor, parseClientFrame, utf8Length } from './index.js';

const ok = (text: string) => {
  const r = parseClientFrame(text);
  assert.equal(r.ok, true, `expected ${text} to parse: ${JSON.stringify(r)}`);
  return r.frame;
};
const refused = (text: string) => {
  const r = parseClientFrame(text);
  assert.equal(r.ok, false, `expected ${text} to be refused`);
  return r;
};

test('S32 frames: every op parses with its fields; extra fields are dropped', () => {
  assert.deepEqual(ok('{"op":"heartbeat"}'), { op: 'heartbeat' });
  assert.deepEqual(ok('{"id":3,"op":"heartbeat"}'), { id: 3, op: 'heartbeat' });
  assert.deepEqual(ok('{"id":1,"op":"login","SDKAppID":1400000001,"userID":"a","userSig":"s","platform":"Android","instanceId":"i","extra":1}'), {
    id: 1,
    op: 'login',
    SDKAppID: 1400000001,
    userID: 'a',
    userSig: 's',
    platform: 'Android',
    instanceId: 'i',
  });
  assert.deepEqual(ok('{"id":2,"op":"watchAll","SDKAppID":1,"userID":"adm","userSig":"s"}'), { id: 2, op: 'watchAll', SDKAppID: 1, userID: 'adm', userSig: 's' });
  assert.deepEqual(ok('{"id":4,"op":"logout"}'), { id: 4, op: 'logout' });
  assert.deepEqual(ok('{"id":5,"op":"syncStatus"}'), { id: 5, op: 'syncStatus' });
  assert.deepEqual(ok('{"id":6,"op":"setSelfStatus","customStatus":"hi"}'), { id: 6, op: 'setSelfStatus', customStatus: 'hi' });
  assert.deepEqual(ok('{"id":6,"op":"setSelfStatus","customStatus":null}'), { id: 6, op: 'setSelfStatus', customStatus: null });
  assert.deepEqual(ok('{"id":7,"op":"getUserStatus","userIDList":["a","b"]}'), { id: 7, op: 'getUserStatus', userIDList: ['a', 'b'] });
  assert.deepEqual(ok('{"id":8,"op":"subscribeUserStatus","userIDList":[]}'), { id: 8, op: 'subscribeUserStatus', userIDList: [] });
  assert.deepEqual(ok('{"id":9,"op":"unsubscribeUserStatus"}'), { id: 9, op: 'unsubscribeUserStatus' });
  assert.deepEqual(ok('{"id":9,"op":"unsubscribeUserStatus","userIDList":null}'), { id: 9, op: 'unsubscribeUserStatus' });
  assert.deepEqual(ok('{"id":9,"op":"unsubscribeUserStatus","userIDList":["x"]}'), { id: 9, op: 'unsubscribeUserStatus', userIDList: ['x'] });
  // Every op of the catalogue is covered above.
  assert.deepEqual([...CLIENT_OPS].sort(), [
    'getUserStatus',
    'heartbeat',
    'login',
    'logout',
    'setSelfStatus',
    'subscribeUserStatus',
    'syncStatus',
    'unsubscribeUserStatus',
    'watchAll',
  ]);
});

test('S32 frames: bad input is refused with 70402 and a message naming the fault; the id is kept when readable', () => {
  const cases: Array<[string, RegExp, number | undefined]> = [
    ['not json', /malformed JSON/, undefined],
    ['[1,2]', /must be a JSON object/, undefined],
    ['null', /must be a JSON object/, undefined],
    ['"x"', /must be a JSON object/, undefined],
    ['{"id":-1,"op":"logout"}', /id must be a non-negative integer/, undefined],
    ['{"id":1.5,"op":"logout"}', /id must be a non-negative integer/, undefined],
    ['{"id":"1","op":"logout"}', /id must be a non-negative integer/, undefined],
    ['{"id":1,"op":"nope"}', /unknown op "nope"/, 1],
    ['{"id":1}', /unknown op undefined/, 1],
    ['{"op":"logout"}', /logout needs an id/, undefined],
    ['{"id":1,"op":"login","SDKAppID":"1","userID":"a","userSig":"s"}', /SDKAppID must be an integer/, 1],
    ['{"id":1,"op":"login","SDKAppID":1.5,"userID":"a","userSig":"s"}', /SDKAppID must be an integer/, 1],
    ['{"id":1,"op":"login","SDKAppID":1,"userID":5,"userSig":"s"}', /userID must be a string/, 1],
    ['{"id":1,"op":"login","SDKAppID":1,"userID":"a"}', /userSig must be a string/, 1],
    ['{"id":1,"op":"login","SDKAppID":1,"userID":"a","userSig":"s","platform":"Amiga"}', /unknown platform/, 1],
    [`{"id":1,"op":"login","SDKAppID":1,"userID":"a","userSig":"s","instanceId":"${'i'.repeat(65)}"}`, /instanceId must be a string of at most 64/, 1],
    ['{"id":1,"op":"setSelfStatus","customStatus":5}', /customStatus must be a string or null/, 1],
    ['{"id":1,"op":"setSelfStatus","customStatus":"a\\ud800"}', /well-formed Unicode/, 1],
    ['{"id":1,"op":"getUserStatus"}', /userIDList must be an array of strings/, 1],
    ['{"id":1,"op":"getUserStatus","userIDList":[1]}', /userIDList must be an array of strings/, 1],
    ['{"id":1,"op":"subscribeUserStatus","userIDList":"a"}', /userIDList must be an array of strings/, 1],
    ['{"id":1,"op":"unsubscribeUserStatus","userIDList":[null]}', /userIDList must be an array of strings/, 1],
    [`{"id":1,"op":"getUserStatus","userIDList":${JSON.stringify(Array.from({ length: 10_001 }, () => 'a'))}}`, /userIDList must be an array of strings/, 1],
  ];
  for (const [text, message, id] of cases) {
    const r = refused(text);
    assert.equal(r.code, ErrorCode.INVALID_PARAMETERS, text.slice(0, 80));
    assert.match(r.message, message, text.slice(0, 80));
    assert.match(r.message, /^invalid parameters: /);
    assert.equal(r.id, id, text.slice(0, 80));
  }
  // An unknown op's echo is cut short: a refusal never repeats a large input back.
  const long = refused(`{"op":"${'x'.repeat(10_000)}"}`);
  assert.ok(long.message.length < 120, long.message);
});

test('S7 utf8Length counts UTF-8 bytes without allocating: ASCII, 2-, 3- and 4-byte characters, lone surrogates as 3', () => {
  for (const s of ['', 'a', 'é', '€', '😀', 'a😀é€', 'x'.repeat(1000), '\ud800', 'a\udc00b', '\ud83d']) {
    assert.equal(utf8Length(s), Buffer.byteLength(s, 'utf8'), JSON.stringify(s));
  }
});

test('S32 userIDs: 1-32 bytes, no control characters, well-formed Unicode', () => {
  for (const good of ['a', 'alice_01', 'é'.repeat(16), '😀'.repeat(8), 'x'.repeat(32), 'with space']) assert.equal(isValidUserID(good), true, good);
  for (const bad of ['', 'x'.repeat(33), 'é'.repeat(17), 'a\nb', 'a\u0000', 'a\u007f', 'a\u0085', 'x\ud800', '\udc00', 5, null, undefined, ['a']]) {
    assert.equal(isValidUserID(bad), false, JSON.stringify(bad));
  }
  assert.equal(isWellFormed('a😀b'), true);
  assert.equal(isWellFormed('a\ud83d'), false);
  assert.equal(isWellFormed('\ude00a'), false);
});

test('platforms, codes and messages: the catalogue is closed and every code has its message', () => {
  for (const p of ['Web', 'Android', 'iPhone', 'iPad', 'Windows', 'Mac', 'Linux', 'Unity', 'Unknown']) assert.equal(isPlatform(p), true);
  for (const p of ['web', 'PC', '', 3]) assert.equal(isPlatform(p), false);
  for (const code of Object.values(ErrorCode)) {
    if (code === 0) continue;
    assert.notEqual(messageFor(code), `error ${code}`, `code ${code} has no message`);
  }
  assert.equal(messageFor(12345), 'error 12345');
  const err = new PresentlyError(ErrorCode.FEATURE_NOT_ENABLED, undefined, { x: 1 });
  assert.ok(err instanceof Error);
  assert.equal(err.code, 72001);
  assert.equal(err.message, messageFor(72001));
  assert.deepEqual(err.data, { x: 1 });
  assert.equal(err.name, 'PresentlyError');
  const closes = Object.values(CloseCode);
  assert.equal(new Set(closes).size, closes.length, 'close codes are distinct');
  for (const c of closes) assert.ok(c === 1000 || c === 1001 || (c >= 4000 && c <= 4999), `${c} is in the application range`);
});
