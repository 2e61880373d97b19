/**
 * The checker must fail when it should: hand-made histories with a ghost, a false offline, a lost
 * write, a disagreement, an out-of-order push (and a few more), each caught; and the same stories
 * told correctly pass.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { check, formatReport, type ViolationKind } from './check.js';
import { sortRecs, type Bounds, type Rec, type StatusItem } from './history.js';

const T0 = 1_700_000_000_000;
const s = (sec: number) => T0 + sec * 1000;
const BOUNDS: Bounds = { finMs: 1000, heartbeatTimeoutMs: 3000, heartbeatGraceMs: 1000, slackMs: 500, deliveryMs: 500, recoveryMs: 8500, agreeMs: 13000 };
const ON = (userID: string, customStatus = ''): StatusItem => ({ userID, statusType: 1, customStatus });
const OFF = (userID: string): StatusItem => ({ userID, statusType: 2, customStatus: '' });

/** A small history builder: users a and b (one Web device each), one node, one proxy path. */
class H {
  recs: Rec[] = [];
  private n = 0;
  constructor() {
    this.recs.push({
      type: 'meta',
      t: T0,
      seed: 'unit',
      app: 1,
      nodes: ['n1'],
      paths: ['direct', 'p0'],
      users: [
        { u: 'a', worker: 'w0', slots: ['Web'] },
        { u: 'b', worker: 'w0', slots: ['Web'] },
      ],
      bounds: BOUNDS,
      durationMs: 60_000,
      faults: [],
    });
  }
  add(r: Rec): this {
    this.recs.push(r);
    return this;
  }
  op(u: string, c: string | undefined, op: string, args: Record<string, unknown>, t0: number, t1: number, data?: unknown, outcome: 'ok' | 'fail' | 'unknown' = 'ok'): this {
    const r: Rec = { type: 'op', t: t1, p: 'w0', id: `op${++this.n}`, u, op, args, t0, t1, outcome };
    if (c) r.c = c;
    if (data !== undefined) r.data = data;
    return this.add(r);
  }
  /** A new client `c` of `u` logs in at t (link c.1, reply 5 ms later). */
  login(c: string, u: string, t: number, path = 'direct'): this {
    this.add({ type: 'client', t, c, u, slot: 'Web', path, node: 'n1' });
    this.add({ type: 'link-open', t: t + 1, c, l: `${c}.1`, port: 40000 + this.n++ });
    this.add({ type: 'link-send', t: t + 2, l: `${c}.1`, op: 'login', rid: 1 });
    this.add({ type: 'link-reply', t: t + 5, l: `${c}.1`, op: 'login', rid: 1, code: 0 });
    this.add({ type: 'net', t: t + 6, c, state: 'connected' });
    return this.op(u, c, 'login', { slot: 'Web', path }, t, t + 6);
  }
  /** w (client c) subscribes to `target` at t and reads its status, `status`. */
  subscribe(c: string, w: string, target: string, t: number, status: StatusItem): this {
    this.op(w, c, 'subscribe', { target }, t, t + 3, { failureUserList: [] });
    return this.op(w, c, 'getUserStatus', { userIDList: [target] }, t + 4, t + 6, { successUserList: [status], failureUserList: [] });
  }
  crash(c: string, t: number): this {
    this.add({ type: 'crash', t, c, l: `${c}.1` });
    this.add({ type: 'link-close', t: t + 1, l: `${c}.1`, code: 1006, reason: '', by: 'crash', lastSent: t - 200 });
    return this.add({ type: 'client-end', t: t + 1, c, why: 'crash' });
  }
  push(c: string, t: number, ...items: StatusItem[]): this {
    this.add({ type: 'push', t, l: `${c}.1`, items });
    return this.add({ type: 'view', t: t + 0.1, c, items });
  }
  sample(t: number, status: Record<string, number>, final = false): this {
    const r: Rec = { type: 'sample', t: t + 3, t0: t, t1: t + 3, node: 'n1', status };
    if (final) r.final = true;
    return this.add(r);
  }
  end(t: number): Rec[] {
    this.add({ type: 'phase', t, name: 'horizon' });
    return sortRecs(this.recs);
  }
}

function kinds(recs: Rec[]): ViolationKind[] {
  return check(recs).violations.map((v) => v.kind);
}

function expectOnly(recs: Rec[], kind: ViolationKind): void {
  const v = check(recs);
  if (process.env.SHOW_REPORTS) console.log(formatReport(v));
  assert.ok(!v.ok, `expected a ${kind}, got a pass`);
  assert.ok(
    v.violations.some((x) => x.kind === kind),
    `expected ${kind}:\n${formatReport(v)}`,
  );
  assert.ok(
    v.violations.every((x) => x.excerpt.length > 0 || x.kind === 'slow-agreement'),
    'each violation shows its excerpt',
  );
}

function expectPass(recs: Rec[]): void {
  const v = check(recs);
  assert.ok(v.ok, formatReport(v));
}

/** a and b online; b watches a. */
function watching(): H {
  return new H().login('ca', 'a', s(1)).login('cb', 'b', s(1.5)).subscribe('cb', 'b', 'a', s(2), ON('a')).sample(s(2.5), { a: 1, b: 1 });
}

test('a ghost: a crashed user that every watcher and the server still show ONLINE is caught', () => {
  const h = watching().crash('ca', s(5)).sample(s(8), { a: 1, b: 1 });
  const recs = h.end(s(12));
  expectOnly(recs, 'ghost');
  const ghost = check(recs).violations.find((v) => v.kind === 'ghost')!;
  assert.ok(
    ghost.excerpt.some((line) => line.includes('CRASH')),
    ghost.excerpt.join('\n'),
  );
  // Told right: the OFFLINE push within the FIN bound, the server agrees.
  expectPass(watching().crash('ca', s(5)).push('cb', s(5.3), OFF('a')).sample(s(8), { a: 2, b: 1 }).end(s(12)));
});

test('a ghost after silence: a frozen client past the heartbeat bound (S5) still ONLINE is caught', () => {
  const freeze = (h: H) => h.add({ type: 'silence', t: s(5), c: 'ca', l: 'ca.1', lastSent: s(4.9) }).add({ type: 'client-end', t: s(5), c: 'ca', why: 'silence' });
  // 3 s timeout + 1 s grace + 0.5 s slack after 4.9 s: the server said ONLINE at 10 s.
  expectOnly(freeze(watching()).sample(s(10), { a: 1, b: 1 }).end(s(12)), 'ghost');
  // ONLINE at 7 s is within the timeout; OFFLINE at 8.5 s is in time.
  expectPass(
    freeze(watching())
      .sample(s(7), { a: 1, b: 1 })
      .add({ type: 'link-close', t: s(8.1), l: 'ca.1', code: 1006, reason: '', by: 'server', lastSent: s(4.9) })
      .push('cb', s(8.1), OFF('a'))
      .sample(s(8.5), { a: 2, b: 1 })
      .end(s(12)),
  );
});

test('a false offline: a live, heartbeating user shown OFFLINE by a push and by the server is caught', () => {
  const recs = watching().push('cb', s(6), OFF('a')).sample(s(7), { a: 2, b: 1 }).end(s(10));
  const v = check(recs);
  assert.deepEqual([...new Set(v.violations.map((x) => x.kind))], ['false-offline'], formatReport(v));
  // An OFFLINE that a fault on a's path explains is not one.
  const h = new H()
    .login('ca', 'a', s(1), 'p0')
    .login('cb', 'b', s(1.5))
    .subscribe('cb', 'b', 'a', s(2), ON('a'))
    .add({ type: 'fault', t: s(5), id: 'f1', kind: 'partition', path: 'p0', params: { ms: 4000 } })
    .add({ type: 'fault-end', t: s(9), id: 'f1' })
    .push('cb', s(6), OFF('a'))
    .push('cb', s(10), ON('a'));
  expectPass(h.end(s(12)));
});

test('a server that closes a live session with no cause is caught (unexplained close: a false offline)', () => {
  const h = watching().add({ type: 'link-close', t: s(5), l: 'ca.1', code: 1006, reason: '', by: 'server', lastSent: s(4.8) });
  assert.ok(kinds(h.end(s(6))).includes('unexplained-close'));
});

test('a lost acknowledged write: a subscription and a friendship acknowledged before a restart, missing after, are caught', () => {
  const h = watching()
    .op('b', undefined, 'friendAdd', { From_Account: 'b', AddFriendItem: [{ To_Account: 'a' }], AddType: 'Add_Type_Single' }, s(3), s(3.01))
    .add({ type: 'fault', t: s(4), id: 'f1', kind: 'kill', node: 'n1', params: {} })
    .add({ type: 'fault-end', t: s(6), id: 'f1' });
  const recs = h.end(s(8));
  recs.push({ type: 'durable', t: s(9), u: 'b', subs: [], friends: [] }, { type: 'durable', t: s(9), u: 'a', subs: ['b'], friends: [] });
  const k = kinds(recs);
  assert.equal(k.filter((x) => x === 'lost-write').length, 2, k.join(','));
  assert.ok(k.includes('phantom-write'), 'a subscription nobody asked for is caught too');
  const good = watching()
    .op('b', undefined, 'friendAdd', { From_Account: 'b', AddFriendItem: [{ To_Account: 'a' }], AddType: 'Add_Type_Single' }, s(3), s(3.01))
    .end(s(8));
  good.push({ type: 'durable', t: s(9), u: 'b', subs: ['a'], friends: ['a'] }, { type: 'durable', t: s(9), u: 'a', subs: [], friends: [] });
  expectPass(good);
});

test('a disagreement: at the end a watcher shows what its own getUserStatus contradicts', () => {
  const story = (pushed: boolean) => {
    const h = watching().op('a', 'ca', 'setSelfStatus', { customStatus: 'a#1' }, s(3), s(3.01), ON('a', 'a#1'));
    if (pushed) h.push('cb', s(3.005), ON('a', 'a#1'));
    h.add({ type: 'phase', t: s(5), name: 'quiet' });
    h.op('b', 'cb', 'getUserStatus', { userIDList: ['a'], final: true }, s(6), s(6.01), { successUserList: [ON('a', 'a#1')], failureUserList: [] });
    return h.sample(s(6.1), { a: 1, b: 1 }, true).end(s(7));
  };
  expectOnly(story(false), 'disagreement');
  expectPass(story(true));
});

test('an out-of-order push (S22): a later custom status before an earlier one is caught; so is a duplicate and a made-up one', () => {
  const sets = () => watching().op('a', 'ca', 'setSelfStatus', { customStatus: 'a#1' }, s(3), s(3.01)).op('a', 'ca', 'setSelfStatus', { customStatus: 'a#2' }, s(3.1), s(3.11));
  expectOnly(sets().push('cb', s(3.2), ON('a', 'a#2')).push('cb', s(3.3), ON('a', 'a#1')).end(s(5)), 'out-of-order');
  expectOnly(sets().push('cb', s(3.02), ON('a', 'a#1')).push('cb', s(3.12), ON('a', 'a#2')).push('cb', s(3.3), ON('a', 'a#2')).end(s(5)), 'duplicate');
  expectOnly(sets().push('cb', s(3.02), ON('a', 'a#1')).push('cb', s(3.3), ON('a', 'a#9')).end(s(5)), 'phantom-status');
  // The same status twice is no duplicate when the subscription lapsed in between (changes missed on purpose).
  expectPass(
    watching()
      .crash('ca', s(2.9))
      .push('cb', s(3), OFF('a'))
      .op('b', 'cb', 'unsubscribe', { target: 'a' }, s(3.5), s(3.51))
      .login('ca2', 'a', s(4))
      .subscribe('cb', 'b', 'a', s(5), ON('a'))
      .crash('ca2', s(5.9))
      .push('cb', s(6), OFF('a'))
      .end(s(7)),
  );
  // a#2 skipped while the subscription and the link held: a lost push.
  const lost = sets().op('a', 'ca', 'setSelfStatus', { customStatus: 'a#3' }, s(3.2), s(3.21));
  expectOnly(lost.push('cb', s(3.02), ON('a', 'a#1')).push('cb', s(3.22), ON('a', 'a#3')).end(s(5)), 'lost-push');
  expectPass(sets().push('cb', s(3.02), ON('a', 'a#1')).push('cb', s(3.12), ON('a', 'a#2')).end(s(5)));
});

test('a client that a fault dropped and that never comes back is caught', () => {
  const h = new H()
    .login('ca', 'a', s(1))
    .add({ type: 'fault', t: s(2), id: 'f1', kind: 'kill', node: 'n1', params: {} })
    .add({ type: 'link-close', t: s(2.01), l: 'ca.1', code: 1006, reason: '', by: 'server', lastSent: s(1.9) })
    .add({ type: 'fault-end', t: s(4), id: 'f1' });
  assert.ok(kinds(h.end(s(20))).includes('no-recovery'));
});
