import { test } from 'node:test';
import assert from 'node:assert/strict';
import { argmaxFirst, fractionAtLeast, groupStats, meanFinite, testAtBestVal } from '../../src/eval/stats.js';

test('groupStats on an odd-sized group', () => {
  const s = groupStats([3, 1, 2, 5, 4]);
  assert.equal(s.n, 5);
  assert.equal(s.best, 5);
  assert.equal(s.min, 1);
  assert.equal(s.mean, 3);
  assert.equal(s.median, 3);
  assert.ok(Math.abs(s.std - Math.sqrt(2.5)) < 1e-12); // sample std: sum sq dev 10 / 4
});

test('groupStats median of an even-sized group averages the middle pair', () => {
  const s = groupStats([88.5, 88.1, 89.0, 87.9]);
  assert.ok(Math.abs(s.median - 88.3) < 1e-12);
  assert.equal(s.best, 89.0);
  assert.equal(s.min, 87.9);
});

test('groupStats of one value has std 0; empty or NaN input throws', () => {
  const s = groupStats([88.47]);
  assert.deepEqual(s, { n: 1, best: 88.47, mean: 88.47, median: 88.47, min: 88.47, std: 0 });
  assert.throws(() => groupStats([]), /empty group/);
  assert.throws(() => groupStats([1, NaN]), /value 1 is NaN/);
});

test('testAtBestVal takes the first maximum on ties', () => {
  assert.equal(testAtBestVal([88, 89, 89, 87], [1, 2, 3, 4]), 2);
  assert.equal(argmaxFirst([NaN, 1, 1]), 1);
  assert.throws(() => testAtBestVal([1, 2], [1]), /val has 2 values, test has 1/);
});

test('fractionAtLeast counts values at or above the threshold', () => {
  assert.equal(fractionAtLeast([88.58, 88.6, 88.5, 88.7], 88.58), 0.75);
  assert.equal(fractionAtLeast([1, 2], 3), 0);
  assert.ok(Number.isNaN(fractionAtLeast([], 0)));
  assert.equal(meanFinite([1, NaN, 3]), 2);
});
