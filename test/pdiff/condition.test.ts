import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  ACCURACY_COND_DIM, conditionRows, encodeAccuracy, encodeCode, fitAccuracyScale, isNullCondition, nullCondition,
} from '../../src/pdiff/condition.js';
import { ConfigError, ShapeError } from '../../src/util/errors.js';

test('encodeCode: bits 1 / 0 become +1 / -1, from a string or an array; never the null condition', () => {
  assert.deepEqual([...encodeCode('0110010011')], [-1, 1, 1, -1, -1, 1, -1, -1, 1, 1]);
  assert.deepEqual([...encodeCode([1, 0, 1])], [1, -1, 1]);
  // the all-zero code is a real code (all -1), distinct from the null condition
  assert.equal(isNullCondition(encodeCode('0000000000')), false);
  assert.deepEqual([...encodeCode('1111', { bits: 4 })], [1, 1, 1, 1]);
});

test('encodeCode: a wrong length or another character is a ConfigError naming the input', () => {
  assert.throws(() => encodeCode('011', { bits: 10, where: '--task' }), (e: unknown) => e instanceof ConfigError && /^--task: expected a code of 10 bits, got 3/.test(e.message));
  assert.throws(() => encodeCode('01a1', { where: '--task' }), (e: unknown) => e instanceof ConfigError && /--task: expected only 0s and 1s, got "a" at position 2/.test(e.message));
  assert.throws(() => encodeCode([0, 2]), /got 2 at position 1/);
  assert.throws(() => encodeCode(''), /empty code/);
});

test('encodeAccuracy: [1, a\'] with the zoo range on [-1, 1], extrapolating beyond it', () => {
  const scale = fitAccuracyScale([70, 82.5, 90, 75]);
  assert.deepEqual(scale, { lo: 70, hi: 90 });
  assert.deepEqual([...encodeAccuracy(70, scale)], [1, -1]);
  assert.deepEqual([...encodeAccuracy(90, scale)], [1, 1]);
  assert.deepEqual([...encodeAccuracy(80, scale)], [1, 0]); // mid-range: still not the null condition
  assert.equal(isNullCondition(encodeAccuracy(80, scale)), false);
  assert.deepEqual([...encodeAccuracy(95, scale)], [1, 1.5]);
  assert.equal(encodeAccuracy(80, scale).length, ACCURACY_COND_DIM);
  assert.throws(() => fitAccuracyScale([80, 80]), /every accuracy is 80/);
  assert.throws(() => fitAccuracyScale([]), ShapeError);
  assert.throws(() => fitAccuracyScale([1, NaN]), /finite accuracies, got NaN at index 1/);
  assert.throws(() => encodeAccuracy(Infinity, scale, '--target-acc'), /--target-acc: expected a finite accuracy/);
  assert.throws(() => encodeAccuracy(50, { lo: 1, hi: 1 }), /lo < hi/);
});

test('nullCondition is zeros; conditionRows repeats one condition or passes one per row through', () => {
  assert.deepEqual([...nullCondition(3, 2)], [0, 0, 0, 0, 0, 0]);
  assert.equal(isNullCondition(nullCondition(4)), true);
  assert.equal(isNullCondition(Float32Array.of(0, 0, 1e-30)), false);
  assert.throws(() => nullCondition(0), ShapeError);
  const one = Float32Array.of(1, -1);
  assert.deepEqual([...conditionRows(one, 2, 3, 'x')], [1, -1, 1, -1, 1, -1]);
  const per = Float32Array.of(1, 2, 3, 4);
  assert.equal(conditionRows(per, 2, 2, 'x'), per);
  assert.throws(() => conditionRows(Float32Array.of(1, 2, 3), 2, 2, 'gen'), /gen: expected one condition of 2 values or 2 x 2 = 4 values \(one per row\), got 3/);
});
