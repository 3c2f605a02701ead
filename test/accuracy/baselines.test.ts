/**
 * Baselines of accuracy control: nearest label (what memorisation gives), its mean, and the ridge
 * map from the normalised accuracy to the parameters, checked against rows built to be exactly
 * linear or cubic in a'.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { accuracyRidgePredict, fitAccuracyRidge, nearestLabel, nearestLabelMean } from '../../src/accuracy/baselines.js';
import { ConfigError, NumericError } from '../../src/util/errors.js';

const T = 3;
const rowsOf = (vals: number[][]): Float32Array => Float32Array.from(vals.flat());

describe('nearestLabel / nearestLabelMean', () => {
  const zoo = { rows: rowsOf([[0, 0, 0], [1, 1, 1], [2, 2, 2], [3, 3, 3], [4, 4, 4]]), labels: [50, 10, 52, 48, 90], total: T };

  it('returns the rows nearest in label, the lower row first on ties', () => {
    const n = nearestLabel(zoo, 50, 3);
    assert.deepEqual(n.indices, [0, 2, 3]);
    assert.deepEqual(n.labels, [50, 52, 48]);
    assert.deepEqual([...n.rows], [0, 0, 0, 2, 2, 2, 3, 3, 3]);
    assert.deepEqual(nearestLabel(zoo, 49, 2).indices, [0, 3]);
  });

  it('returns the best checkpoint above the best label, the worst below the worst', () => {
    assert.deepEqual(nearestLabel(zoo, 99).indices, [4]);
    assert.deepEqual(nearestLabel(zoo, 0).indices, [1]);
  });

  it('averages the nearest rows', () => {
    assert.deepEqual([...nearestLabelMean(zoo, 50, 3)], [5 / 3, 5 / 3, 5 / 3].map(Math.fround));
    assert.throws(() => nearestLabel(zoo, 50, 6), ConfigError);
    assert.throws(() => nearestLabel(zoo, NaN), ConfigError);
  });
});

describe('fitAccuracyRidge / accuracyRidgePredict', () => {
  const scale = { lo: 10, hi: 90 };
  const labels = [10, 30, 50, 70, 90, 30]; // a' = -1, -0.5, 0, 0.5, 1, -0.5
  const aOf = (acc: number): number => (2 * (acc - 10)) / 80 - 1;
  const u = [1, -2, 0.5], v = [0.25, 3, -1], w = [2, 0, 1];
  const linear = rowsOf(labels.map((l) => u.map((x, c) => x + aOf(l) * v[c]!)));
  const cubic = rowsOf(labels.map((l) => u.map((x, c) => x + aOf(l) * v[c]! + aOf(l) ** 3 * w[c]!)));
  const close = (a: ArrayLike<number>, b: ArrayLike<number>, tol = 1e-5): void => {
    for (let i = 0; i < b.length; i++) assert.ok(Math.abs(a[i]! - b[i]!) <= tol, `[${i}] ${a[i]} vs ${b[i]}`);
  };

  it('recovers an exactly linear zoo with degree 1, between and beyond its labels', () => {
    const m = fitAccuracyRidge({ zoo: { rows: linear, labels, total: T }, scale });
    assert.equal(m.degree, 1);
    close(accuracyRidgePredict(m, 40), u.map((x, c) => x - 0.25 * v[c]!));
    close(accuracyRidgePredict(m, 130), u.map((x, c) => x + 2 * v[c]!));
  });

  it('needs degree 3 for a cubic zoo', () => {
    const z = { rows: cubic, labels, total: T };
    const at = (acc: number): number[] => u.map((x, c) => x + aOf(acc) * v[c]! + aOf(acc) ** 3 * w[c]!);
    close(accuracyRidgePredict(fitAccuracyRidge({ zoo: z, scale, degree: 3 }), 40), at(40));
    const lin = accuracyRidgePredict(fitAccuracyRidge({ zoo: z, scale, degree: 1 }), 90);
    assert.ok(Math.abs(lin[0]! - at(90)[0]!) > 0.1);
  });

  it('becomes the zoo mean as lambda grows, and refuses singular or bad settings', () => {
    const mean = u.map((_, c) => labels.reduce((s, _l, r) => s + linear[r * T + c]!, 0) / labels.length);
    close(accuracyRidgePredict(fitAccuracyRidge({ zoo: { rows: linear, labels, total: T }, scale, lambda: 1e9 }), 90), mean, 1e-6);
    const two = { rows: rowsOf([[0, 0, 0], [1, 1, 1], [1, 1, 1]]), labels: [10, 90, 90], total: T };
    assert.throws(() => fitAccuracyRidge({ zoo: two, scale, degree: 2 }), NumericError);
    assert.doesNotThrow(() => fitAccuracyRidge({ zoo: two, scale, degree: 2, lambda: 1e-3 }));
    assert.throws(() => fitAccuracyRidge({ zoo: two, scale, degree: 0 }), ConfigError);
    assert.throws(() => fitAccuracyRidge({ zoo: two, scale, lambda: -1 }), ConfigError);
    assert.throws(() => fitAccuracyRidge({ zoo: { ...two, labels: [10, 90] }, scale }), /rows \[N, 3\] and N labels/);
  });
});
