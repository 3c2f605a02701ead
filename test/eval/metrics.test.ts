import { test } from 'node:test';
import assert from 'node:assert/strict';
import { accuracy, argmaxRows, classificationMetrics, topkRows, wrongSet } from '../../src/eval/metrics.js';
import { ShapeError } from '../../src/util/errors.js';

test('argmaxRows takes the first index on ties', () => {
  const logits = new Float32Array([
    1, 3, 3, 0, // tie between 1 and 2 -> 1
    5, 5, 5, 5, // all equal -> 0
    -1, -2, -0.5, -3,
  ]);
  const out = argmaxRows(logits, 3, 4, new Int32Array(3));
  assert.deepEqual([...out], [1, 0, 2]);
});

test('topkRows orders by value, lower index first on ties, and agrees with argmax', () => {
  const logits = new Float32Array([
    0.1, 0.9, 0.5, 0.9, 0.2, 0.0,
    6, 5, 4, 3, 2, 1,
  ]);
  const out = topkRows(logits, 2, 6, 3, new Int32Array(6));
  assert.deepEqual([...out], [1, 3, 2, 0, 1, 2]);
  const am = argmaxRows(logits, 2, 6, new Int32Array(2));
  assert.equal(out[0], am[0]);
  assert.equal(out[3], am[1]);
  assert.throws(() => topkRows(logits, 2, 6, 7, new Int32Array(14)), ShapeError);
});

test('wrongSet marks exactly the misclassified examples', () => {
  const preds = new Int32Array([0, 1, 2, 2]);
  const labels = new Uint8Array([0, 2, 2, 1]);
  assert.deepEqual([...wrongSet(preds, labels)], [0, 1, 0, 1]);
  assert.equal(accuracy(preds, labels), 50);
  assert.throws(() => wrongSet(preds, new Uint8Array(3)), ShapeError);
});

test('classificationMetrics matches a hand-computed case with an absent class', () => {
  // 4 classes; class 3 never occurs in labels or predictions -> excluded from macro-F1.
  // class 2 occurs in labels but is never predicted -> F1 = 0.
  const labels = new Int32Array([0, 0, 0, 1, 1, 2]);
  const preds = new Int32Array([0, 0, 1, 1, 0, 1]);
  const m = classificationMetrics(preds, labels, 4);
  assert.equal(m.n, 6);
  assert.equal(m.top1, 50); // 3 of 6
  assert.deepEqual(m.confusion, [
    [2, 1, 0, 0],
    [1, 1, 0, 0],
    [0, 1, 0, 0],
    [0, 0, 0, 0],
  ]);
  // class 0: TP 2, FP 1, FN 1 -> F1 = 4/6; class 1: TP 1, FP 2, FN 1 -> 2/5; class 2: 0.
  assert.ok(Math.abs(m.macroF1 - (4 / 6 + 2 / 5 + 0) / 3) < 1e-12);
  assert.equal(m.perClassAccuracy.length, 4);
  assert.ok(Math.abs(m.perClassAccuracy[0]! - 200 / 3) < 1e-12);
  assert.equal(m.perClassAccuracy[1], 50);
  assert.equal(m.perClassAccuracy[2], 0);
  assert.ok(Number.isNaN(m.perClassAccuracy[3]!));
  assert.equal(m.top5, undefined);
});

test('a class predicted but never present has F1 0 and counts in the macro average', () => {
  const labels = new Int32Array([0, 0]);
  const preds = new Int32Array([0, 1]);
  const m = classificationMetrics(preds, labels, 3);
  // class 0: TP 1, FN 1 -> 2/3; class 1: FP 1 -> 0; class 2 absent -> excluded.
  assert.ok(Math.abs(m.macroF1 - (2 / 3) / 2) < 1e-12);
});

test('top-5 accuracy from logits and from given indices agree', () => {
  const rows = 3;
  const cols = 7;
  const logits = new Float32Array([
    7, 6, 5, 4, 3, 2, 1, // label 4 in top-5 (rank 5)
    7, 6, 5, 4, 3, 2, 1, // label 5 not in top-5
    1, 2, 3, 4, 5, 6, 7, // label 6 is top-1
  ]);
  const labels = new Int32Array([4, 5, 6]);
  const preds = argmaxRows(logits, rows, cols, new Int32Array(rows));
  const a = classificationMetrics(preds, labels, cols, { logits });
  assert.ok(Math.abs(a.top5! - 200 / 3) < 1e-12);
  assert.ok(Math.abs(a.top1 - 100 / 3) < 1e-12);
  const top5 = topkRows(logits, rows, cols, 5, new Int32Array(rows * 5));
  const b = classificationMetrics(preds, labels, cols, { top5 });
  assert.equal(b.top5, a.top5);
});

test('classificationMetrics rejects labels outside the class range', () => {
  assert.throws(() => classificationMetrics(new Int32Array([0]), new Int32Array([5]), 3), /label 5 at index 0/);
  assert.throws(() => classificationMetrics(new Int32Array([0, 1]), new Int32Array([0]), 3), ShapeError);
});
