import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConnectionCounter, FailureWindow } from './guards.js';

test('FailureWindow blocks a key after max failures in the window, and frees it when they slide out', () => {
  const w = new FailureWindow(3, 1000);
  for (let i = 0; i < 3; i++) {
    assert.equal(w.blocked('ip', 100 + i), false);
    w.fail('ip', 100 + i);
  }
  assert.equal(w.blocked('ip', 200), true);
  assert.equal(w.blocked('other', 200), false, 'keys are independent');
  assert.equal(w.blocked('ip', 1099), true, 'all three are still inside the window');
  assert.equal(w.blocked('ip', 1100), false, 'the oldest slid out');
  w.prune(5000);
  assert.equal(w.size, 0, 'prune forgets old keys');
});

test('FailureWindow with max 0 is off', () => {
  const w = new FailureWindow(0, 1000);
  for (let i = 0; i < 100; i++) w.fail('ip', i);
  assert.equal(w.blocked('ip', 100), false);
  assert.equal(w.size, 0);
});

test('FailureWindow keeps at most max entries per key', () => {
  const w = new FailureWindow(2, 10_000);
  for (let i = 0; i < 1000; i++) w.fail('ip', i);
  assert.equal(w.blocked('ip', 1000), true);
  assert.equal(w.blocked('ip', 10_997), true);
  assert.equal(w.blocked('ip', 10_998), false);
});

test('ConnectionCounter admits up to max per key and frees slots on release', () => {
  const c = new ConnectionCounter(2);
  assert.equal(c.acquire('a'), true);
  assert.equal(c.acquire('a'), true);
  assert.equal(c.acquire('a'), false);
  assert.equal(c.acquire('b'), true);
  c.release('a');
  assert.equal(c.acquire('a'), true);
  assert.equal(c.count('a'), 2);
  const off = new ConnectionCounter(0);
  for (let i = 0; i < 50; i++) assert.equal(off.acquire('x'), true);
});
