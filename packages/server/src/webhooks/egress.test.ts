/**
 * The webhook egress policy (egress.ts, docs/security.md "Webhook egress"): which addresses are
 * refused, the operator's allow-list, the check at connect time (the agents' own lookup), and
 * what an admin may see of a failure.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { LookupAddress } from 'node:dns';
import { EGRESS_REFUSED, EgressPolicy, errorClass, parseCidr, publicError, type Resolver } from './egress.js';

// ---- the policy ------------------------------------------------------------------------------------

const REFUSED = [
  // loopback, unspecified, "this network"
  '127.0.0.1', '127.255.255.254', '0.0.0.0', '0.1.2.3', '::1', '::',
  // private (RFC 1918) and shared (CGNAT)
  '10.0.0.1', '10.255.255.255', '172.16.0.1', '172.31.255.254', '192.168.1.1', '100.64.0.1', '100.127.255.254',
  // link-local, the cloud metadata address
  '169.254.0.1', '169.254.169.254', 'fe80::1', 'febf::1',
  // unique-local IPv6, multicast, broadcast, reserved, documentation, benchmarking
  'fc00::1', 'fd12:3456::1', 'ff02::1', '224.0.0.1', '239.255.255.250', '255.255.255.255', '240.0.0.1', '192.0.2.10', '198.18.0.1', '2001:db8::1',
  // the same inside IPv6 forms that carry an IPv4 address
  '::ffff:127.0.0.1', '::ffff:7f00:1', '::ffff:169.254.169.254', '::ffff:10.1.2.3', '::ffff:192.168.0.1',
  '::127.0.0.1', '64:ff9b::127.0.0.1', '64:ff9b::a9fe:a9fe', '2002:7f00:1::1', '2002:a00:1::', '64:ff9b:1::1',
];
const PERMITTED = [
  '8.8.8.8', '1.1.1.1', '93.184.216.34', '172.32.0.1', '172.15.255.255', '100.128.0.1', '100.63.255.255', '169.253.255.255', '11.0.0.1', '223.255.255.255',
  '2606:4700:4700::1111', '2a00:1450:4001::200e', '::ffff:8.8.8.8', '64:ff9b::808:808', '2002:808:808::1',
];

test('egress: loopback, private, CGNAT, link-local (metadata), unique-local, unspecified, multicast and their IPv6 forms are refused; public addresses are not', () => {
  const p = new EgressPolicy();
  for (const a of REFUSED) assert.equal(p.permits(a), false, `${a} must be refused`);
  for (const a of PERMITTED) assert.equal(p.permits(a), true, `${a} must be permitted`);
  assert.equal(p.permits('not-an-ip'), false);
});

test('egress: the allow-list opens exactly its networks (an IPv4 entry covers its IPv4-mapped form too)', () => {
  const p = new EgressPolicy(['127.0.0.1/32', '10.0.0.0/8', 'fd00:1::/32', '169.254.169.254']);
  for (const a of ['127.0.0.1', '::ffff:127.0.0.1', '10.0.0.1', '10.200.3.4', 'fd00:1::5', '169.254.169.254']) assert.equal(p.permits(a), true, a);
  for (const a of ['127.0.0.2', '::1', '172.16.0.1', 'fd00:2::5', '169.254.169.253']) assert.equal(p.permits(a), false, a);
  assert.deepEqual(p.allow, ['127.0.0.1/32', '10.0.0.0/8', 'fd00:1::/32', '169.254.169.254/32']);
  assert.throws(() => new EgressPolicy(['10.0.0.0/33']), /not a CIDR/);
});

test('egress: CIDR parsing', () => {
  assert.deepEqual(parseCidr('10.0.0.0/8'), { address: '10.0.0.0', prefix: 8, family: 'ipv4' });
  assert.deepEqual(parseCidr('::1'), { address: '::1', prefix: 128, family: 'ipv6' });
  assert.deepEqual(parseCidr('127.0.0.1'), { address: '127.0.0.1', prefix: 32, family: 'ipv4' });
  for (const bad of ['', '10.0.0.0/', '10.0.0.0/33', '::/129', 'localhost', '10.0.0/8', '10.0.0.0/-1', '10.0.0.0/8/8']) assert.equal(parseCidr(bad), null, bad);
});

test('egress: the lookup checks every answer when the socket connects, and hands on only what it checked (no rebinding window)', async () => {
  // A name whose answers change from one resolution to the next: public, then loopback.
  const answers: LookupAddress[][] = [[{ address: '93.184.216.34', family: 4 }], [{ address: '127.0.0.1', family: 4 }], [{ address: '93.184.216.34', family: 4 }, { address: '10.0.0.7', family: 4 }]];
  let calls = 0;
  const resolver: Resolver = (_host, _opts, cb) => cb(null, answers[calls++]!);
  const p = new EgressPolicy([], resolver);
  const look = (all: boolean) =>
    new Promise<{ err: NodeJS.ErrnoException | null; address: unknown }>((resolve) =>
      (p.lookup as unknown as (h: string, o: object, cb: (err: NodeJS.ErrnoException | null, address: unknown) => void) => void)('rebind.test', { all }, (err, address) => resolve({ err, address })),
    );
  assert.deepEqual(await look(true), { err: null, address: [{ address: '93.184.216.34', family: 4 }] });
  const second = await look(false);
  assert.equal(second.err?.code, EGRESS_REFUSED, 'the answer of this connection is the one checked');
  // A mixed answer: only the permitted address is handed to the socket.
  assert.deepEqual(await look(true), { err: null, address: [{ address: '93.184.216.34', family: 4 }] });
  assert.equal(calls, 3, 'one resolution per connection, no separate check');
});

test('egress: what an admin sees of a failure is its class, never a reply or an address (also for errors an older version stored)', () => {
  assert.equal(errorClass({ code: EGRESS_REFUSED }), 'egress refused');
  assert.equal(errorClass({ code: 'ECONNREFUSED', message: 'connect ECONNREFUSED 10.0.0.5:6379' }), 'connection refused');
  assert.equal(errorClass({ code: 'ENOTFOUND' }), 'DNS failure');
  assert.equal(errorClass({ code: 'DEPTH_ZERO_SELF_SIGNED_CERT' }), 'TLS error');
  assert.equal(errorClass({ code: 'ERR_TLS_CERT_ALTNAME_INVALID' }), 'TLS error');
  assert.equal(errorClass({ code: 'ECONNRESET' }), 'connection reset');
  assert.equal(errorClass(new Error('anything at 10.0.0.5:22')), 'connection failed');
  assert.equal(publicError('HTTP 500: {"internal":"redis at 10.0.0.5:6379"}'), 'HTTP 500');
  assert.equal(publicError('ECONNREFUSED: connect ECONNREFUSED 127.0.0.1:5432'), 'connection refused');
  assert.equal(publicError('no reply within 2000 ms'), 'timeout');
  assert.equal(publicError('fetch failed at 192.168.0.3'), 'connection failed');
  assert.equal(publicError('egress refused'), 'egress refused');
  assert.equal(publicError(''), '');
});
