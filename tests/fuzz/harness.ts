/**
 * Property-based fuzzing of the WebSocket protocol and the REST API against a real server.
 * Invariants (S32): no crash, an error code from the catalogue for each refused request, a reply
 * for every request with an id, no change to other users, no data of another app.
 * Used by tests/fuzz.test.ts (bounded, seeded) and scripts/fuzz-long.ts (a long budget).
 */
import fc from 'fast-check';
import assert from 'node:assert/strict';
import { ErrorCode } from '@presently/protocol';
import { APP, type TestServer } from '../helpers/server.js';
import { RawPeer } from '../helpers/raw.js';
import { rest } from '../helpers/rest.js';

export const OTHER_APP = APP + 1;
const KNOWN_CODES = new Set<number>(Object.values(ErrorCode));
const VICTIMS = ['victim-a', 'victim-b'];
const OPS = ['login', 'logout', 'heartbeat', 'setSelfStatus', 'getUserStatus', 'subscribeUserStatus', 'unsubscribeUserStatus', 'syncStatus'];

/** Values of every JSON shape, some huge, some deep. */
const jsonValue = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: 'small' },
    fc.constant(null),
    fc.boolean(),
    fc.integer(),
    fc.double(),
    fc.string(),
    fc.string({ unit: 'binary', maxLength: 200 }),
    fc.constantFrom('victim-a', 'victim-b', 'other-app-user', 'fuzzer', '', 'x'.repeat(200)),
    // Hardening inputs: lone surrogates (no UTF-8 form), texts past the stored bounds.
    fc.constantFrom('x\ud800', '\udc00', 'a\udbffb', 'é'.repeat(300), 'n'.repeat(600)),
    fc.array(tie('value'), { maxLength: 5 }),
    fc.dictionary(fc.string({ maxLength: 10 }), tie('value'), { maxKeys: 5 }),
  ),
})).value;

/** A frame: a valid one mutated, a random object, deep nesting, garbage text or bytes. */
export const frameArb = fc.oneof(
  // Valid shapes with one field replaced by anything.
  fc
    .record({
      op: fc.constantFrom(...OPS, 'dance', ''),
      field: fc.constantFrom('id', 'op', 'userIDList', 'customStatus', 'SDKAppID', 'userID', 'userSig', 'platform', 'instanceId', 'extra'),
      value: jsonValue,
      id: fc.oneof(fc.nat({ max: 1_000 }), fc.constant(undefined)),
    })
    .map(({ op, field, value, id }) => {
      const f: Record<string, unknown> = { id, op, userIDList: ['victim-a'], customStatus: 'fuzz', SDKAppID: APP, userID: 'fuzzer', userSig: 'x' };
      f[field] = value;
      return { kind: 'text' as const, data: JSON.stringify(f) };
    }),
  fc.dictionary(fc.string({ maxLength: 12 }), jsonValue, { maxKeys: 8 }).map((o) => ({ kind: 'text' as const, data: JSON.stringify(o) })),
  fc.nat({ max: 5000 }).map((n) => ({ kind: 'text' as const, data: '['.repeat(n) + ']'.repeat(n) })),
  fc.string({ maxLength: 300 }).map((s) => ({ kind: 'text' as const, data: s })),
  fc.uint8Array({ maxLength: 300 }).map((b) => ({ kind: 'binary' as const, data: Buffer.from(b) })),
  // Invalid UTF-8 in a text frame.
  fc
    .uint8Array({ minLength: 1, maxLength: 50 })
    .map((b) => ({ kind: 'rawtext' as const, data: Buffer.concat([Buffer.from('{"op":"heartbeat","x":"'), Buffer.from([0xc3, 0x28, ...b]), Buffer.from('"}')]) })),
  fc.nat({ max: 40_000 }).map((n) => ({ kind: 'text' as const, data: JSON.stringify({ id: 1, op: 'setSelfStatus', customStatus: 'y'.repeat(n) }) })),
);

export interface FuzzWorld {
  srv: TestServer;
  fuzzer: RawPeer | null;
  anon: RawPeer | null;
  watcher: RawPeer;
  sentinel: number;
  cases: number;
}

async function loginPeer(srv: TestServer, userID: string, app = APP): Promise<RawPeer> {
  const p = await RawPeer.connect(srv.ws);
  const r = await p.request('login', { SDKAppID: app, userID, userSig: srv.sig(userID, { SDKAppID: app }), platform: 'Web' });
  assert.equal(r.code, 0, JSON.stringify(r));
  return p;
}

/** Two victims with known state, a watcher of them, and a user in another app. */
export async function setupWorld(srv: TestServer): Promise<FuzzWorld> {
  const peers: RawPeer[] = [];
  for (const v of VICTIMS) {
    const p = await loginPeer(srv, v);
    assert.equal((await p.request('setSelfStatus', { customStatus: `${v}-status` })).code, 0);
    peers.push(p);
  }
  peers.push(await loginPeer(srv, 'other-app-user', OTHER_APP));
  const watcher = await loginPeer(srv, 'fuzz-watcher');
  peers.push(watcher);
  // The world's sessions heartbeat like real clients, so a long run outlives the heartbeat timeout (S5).
  setInterval(() => {
    for (const p of peers) if (p.ws.readyState === p.ws.OPEN) p.ws.send('{"op":"heartbeat"}');
  }, 30_000).unref();
  assert.equal((await watcher.request('subscribeUserStatus', { userIDList: VICTIMS })).code, 0);
  await loginPeer(srv, 'fuzzer').then((p) => p.close());
  return { srv, fuzzer: null, anon: null, watcher, sentinel: 10_000_000, cases: 0 };
}

async function ensurePeers(w: FuzzWorld): Promise<void> {
  if (!w.fuzzer || w.fuzzer.ws.readyState !== w.fuzzer.ws.OPEN) w.fuzzer = await loginPeer(w.srv, 'fuzzer');
  if (!w.anon || w.anon.ws.readyState !== w.anon.ws.OPEN) w.anon = await RawPeer.connect(w.srv.ws);
}

/** Sends one frame, then a heartbeat with a fresh id; checks every frame that came back before it. */
async function sendAndCheck(w: FuzzWorld, peer: RawPeer, frame: { kind: string; data: string | Buffer }): Promise<void> {
  const id = w.sentinel++;
  const before = peer.frames.length;
  if (frame.kind === 'binary') peer.sendRaw(frame.data, true);
  else peer.ws.send(frame.data, { binary: false });
  peer.ws.send(JSON.stringify({ id, op: 'heartbeat' }));
  const done = peer.next((f) => f.id === id && f.op === 'heartbeat');
  const closed = peer.closed.then((c) => ({ closed: c }));
  const r = await Promise.race([done, closed]);
  if ('closed' in r) {
    // Allowed closes: logged out by a valid logout, too large (1009), invalid UTF-8 (1007), login deadline.
    assert.ok([4002, 1009, 1007, 4003, 1005].includes(r.closed.code), `unexpected close ${r.closed.code}`);
    return;
  }
  for (const f of peer.frames.slice(before)) {
    if (f.code !== undefined && f.code !== 0) assert.ok(KNOWN_CODES.has(f.code), `unknown code ${f.code} in ${JSON.stringify(f)}`);
    if (f.code !== undefined && f.code !== 0) assert.equal(typeof f.message, 'string');
    // Nothing from another app ever shows.
    assert.ok(!JSON.stringify(f).includes('"userID":"other-app-user","statusType"'), `leak: ${JSON.stringify(f)}`);
  }
}

/** The victims' state as their watcher can read it. */
async function victimsState(w: FuzzWorld): Promise<unknown> {
  const r = await w.watcher.request('getUserStatus', { userIDList: VICTIMS });
  return r.data;
}

export async function fuzzProtocol(w: FuzzWorld, opts: { numRuns: number; seed: number }): Promise<void> {
  const expected = await victimsState(w);
  const watcherSeen = w.watcher.frames.filter((f) => f.op === 'userStatusUpdated').length;
  await fc.assert(
    fc.asyncProperty(frameArb, fc.boolean(), async (frame, authed) => {
      await ensurePeers(w);
      await sendAndCheck(w, (authed ? w.fuzzer : w.anon)!, frame);
      w.cases++;
    }),
    { numRuns: opts.numRuns, seed: opts.seed, endOnFailure: true },
  );
  // Other users are unaffected: same state, and their watcher heard nothing about them.
  assert.deepEqual(await victimsState(w), expected);
  assert.equal(w.watcher.frames.filter((f) => f.op === 'userStatusUpdated').length, watcherSeen);
  const health = await fetch(`${w.srv.http}/healthz`);
  assert.equal(health.status, 200);
}

const COMMANDS = [
  'openim/query_online_status',
  'im_open_login_svc/kick',
  'im_open_login_svc/account_import',
  'im_open_login_svc/multiaccount_import',
  'im_open_login_svc/account_delete',
  'im_open_login_svc/account_check',
  'sns/friend_add',
  'sns/friend_import',
  'sns/friend_delete',
  'sns/friend_delete_all',
  'sns/friend_get',
  'sns/friend_check',
  'nope/nothing',
  'presently/get_app_settings',
];

/** REST: random bodies to every command, as an admin and as nobody. */
export async function fuzzRest(w: FuzzWorld, opts: { numRuns: number; seed: number }): Promise<void> {
  const expected = await victimsState(w);
  await fc.assert(
    fc.asyncProperty(
      fc.constantFrom(...COMMANDS),
      fc.oneof(
        jsonValue,
        fc.string({ maxLength: 100 }),
        // Account and friend bodies whose stored texts are past their bounds or not well-formed.
        fc.record({
          UserID: fc.constantFrom('fz-acct', 'x\ud800'),
          Nick: fc.constantFrom('n'.repeat(501), 'é'.repeat(251), 'ok\udfff'),
          From_Account: fc.constant('fz-acct'),
          AddFriendItem: fc.constant([{ To_Account: 'fz-other', Remark: 'r'.repeat(97), GroupName: 'g'.repeat(31) }]),
        }),
      ),
      fc.constantFrom('admin', 'stranger', 'forged'),
      async (command, body, who) => {
        const opt = who === 'admin' ? {} : who === 'stranger' ? { identifier: 'victim-a' } : { usersig: 'forged' };
        // Admin requests must not touch the victims: keep their ids out of admin bodies.
        const text = typeof body === 'string' ? body : JSON.stringify(body);
        if (who === 'admin' && /victim|fuzz-watcher/.test(text)) return;
        const r = await rest(w.srv, command, text, opt);
        assert.ok(r.ActionStatus === 'OK' || r.ActionStatus === 'FAIL', JSON.stringify(r));
        assert.equal(typeof r.ErrorCode, 'number');
        if (r.ActionStatus === 'FAIL') assert.ok(KNOWN_CODES.has(r.ErrorCode as number), `unknown code ${String(r.ErrorCode)}`);
        if (who !== 'admin') assert.equal(r.ActionStatus, 'FAIL');
        assert.ok(!JSON.stringify(r).includes('other-app-user'), 'no data of another app');
        w.cases++;
      },
    ),
    { numRuns: opts.numRuns, seed: opts.seed, endOnFailure: true },
  );
  assert.deepEqual(await victimsState(w), expected);
}
