import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import { ClientAddresses, plainAddress } from './client-address.js';

const req = (peer: string, headers: Record<string, string> = {}) => ({ socket: { remoteAddress: peer }, headers }) as unknown as IncomingMessage;

test('without trusted proxies the TCP peer is the client, whatever the headers say', () => {
  const c = new ClientAddresses([]);
  assert.equal(c.of(req('203.0.113.7', { 'x-forwarded-for': '1.2.3.4' })), '203.0.113.7');
  assert.equal(c.of(req('::ffff:203.0.113.7')), '203.0.113.7');
  assert.equal(plainAddress('::ffff:10.0.0.1'), '10.0.0.1');
  assert.equal(plainAddress('::1'), '::1');
});

test('behind a trusted proxy: the rightmost X-Forwarded-For entry that is not a trusted proxy; a spoofed left part is ignored', () => {
  const c = new ClientAddresses(['10.0.0.0/8', '::1']);
  assert.equal(c.of(req('10.0.0.2', { 'x-forwarded-for': '198.51.100.9' })), '198.51.100.9');
  // The client wrote "1.1.1.1" itself; its real address was appended by the proxy.
  assert.equal(c.of(req('10.0.0.2', { 'x-forwarded-for': '1.1.1.1, 198.51.100.9' })), '198.51.100.9');
  // Two trusted hops: skip both.
  assert.equal(c.of(req('10.0.0.2', { 'x-forwarded-for': '198.51.100.9, 10.0.0.5' })), '198.51.100.9');
  // A peer that is not trusted cannot name anyone.
  assert.equal(c.of(req('192.0.2.44', { 'x-forwarded-for': '198.51.100.9' })), '192.0.2.44');
  // No header: the proxy itself.
  assert.equal(c.of(req('10.0.0.2')), '10.0.0.2');
  // A garbage entry stops the walk at the last good hop.
  assert.equal(c.of(req('10.0.0.2', { 'x-forwarded-for': 'nonsense' })), '10.0.0.2');
  assert.equal(c.of(req('::1', { 'x-forwarded-for': '[2001:db8::1]:443' })), '2001:db8::1');
});

test('behind a trusted proxy: RFC 7239 Forwarded wins over X-Forwarded-For, with ports, quotes and IPv6 brackets', () => {
  const c = new ClientAddresses(['10.0.0.0/8']);
  assert.equal(c.of(req('10.1.2.3', { forwarded: 'for=198.51.100.9;proto=https', 'x-forwarded-for': '1.1.1.1' })), '198.51.100.9');
  assert.equal(c.of(req('10.1.2.3', { forwarded: 'for=1.1.1.1, for="[2001:db8::7]:4711"' })), '2001:db8::7');
  assert.equal(c.of(req('10.1.2.3', { forwarded: 'for=198.51.100.9:8080, for=10.0.0.9' })), '198.51.100.9');
  assert.equal(c.of(req('10.1.2.3', { forwarded: 'for=unknown' })), '10.1.2.3');
});
