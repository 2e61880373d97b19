import { test } from 'node:test';
import assert from 'node:assert/strict';
import { backoff } from './backoff.js';

const opts = { baseMs: 500, capMs: 30_000 };

test('backoff: the window doubles per attempt (random = 1 shows the window)', () => {
  const one = (): number => 1;
  assert.equal(backoff(0, opts, one), 500);
  assert.equal(backoff(1, opts, one), 1000);
  assert.equal(backoff(2, opts, one), 2000);
  assert.equal(backoff(5, opts, one), 16_000);
});

test('backoff: full jitter scales the whole window', () => {
  assert.equal(
    backoff(3, opts, () => 0),
    0,
  );
  assert.equal(
    backoff(3, opts, () => 0.5),
    2000,
  );
  assert.equal(
    backoff(3, opts, () => 0.25),
    1000,
  );
});

test('backoff: the cap bounds the window, even for huge attempts', () => {
  const one = (): number => 1;
  assert.equal(backoff(6, opts, one), 30_000); // 500 * 64 = 32000 > cap
  assert.equal(backoff(1000, opts, one), 30_000); // 2^1000 overflows to Infinity
  assert.equal(
    backoff(1000, opts, () => 0.5),
    15_000,
  );
});

test('backoff: negative or fractional attempts count as their floor, at least 0', () => {
  const one = (): number => 1;
  assert.equal(backoff(-3, opts, one), 500);
  assert.equal(backoff(2.9, opts, one), 2000);
  assert.equal(backoff(Number.NaN, opts, one), 500);
});

test('backoff: defaults to Math.random, staying inside [0, window)', () => {
  for (let attempt = 0; attempt < 20; attempt++) {
    const d = backoff(attempt, opts);
    assert.ok(d >= 0 && d < Math.min(30_000, 500 * 2 ** attempt), `attempt ${attempt}: ${d}`);
  }
});
