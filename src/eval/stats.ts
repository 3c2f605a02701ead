/**
 * Group statistics for the result tables (docs/evaluation.md#statistics): best/mean/median/min/std of a group's
 * accuracies, test accuracy at the best validation accuracy, and fractions above a threshold.
 * All sums are in float64.
 */
import { PdiffError, ShapeError } from '../util/errors.js';

export interface GroupStats {
  /** Number of members. */
  n: number;
  /** Maximum. */
  best: number;
  mean: number;
  /** Middle value; the mean of the two middle values for even n. */
  median: number;
  min: number;
  /** Sample standard deviation (divides by n - 1); 0 for n = 1. */
  std: number;
}

/** best/mean/median/min/std of `values`; throws on an empty group or a non-finite value. */
export function groupStats(values: ArrayLike<number>): GroupStats {
  const n = values.length;
  if (n === 0) throw new PdiffError('groupStats: expected at least one value, got an empty group');
  const sorted = new Float64Array(n);
  let sum = 0;
  for (let i = 0; i < n; i++) {
    const v = values[i]!;
    if (!Number.isFinite(v)) throw new PdiffError(`groupStats: value ${i} is ${v}, expected a finite number`);
    sorted[i] = v;
    sum += v;
  }
  sorted.sort();
  const mean = sum / n;
  let ss = 0;
  for (let i = 0; i < n; i++) {
    const d = sorted[i]! - mean;
    ss += d * d;
  }
  const mid = n >>> 1;
  return {
    n,
    best: sorted[n - 1]!,
    mean,
    median: n % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2,
    min: sorted[0]!,
    std: n > 1 ? Math.sqrt(ss / (n - 1)) : 0,
  };
}

/** Index of the maximum (first on ties); -1 for an empty array. NaN entries never win. */
export function argmaxFirst(values: ArrayLike<number>): number {
  let arg = -1;
  let best = -Infinity;
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    if (v > best || (arg < 0 && v === -Infinity)) {
      best = v;
      arg = i;
    }
  }
  return arg;
}

/**
 * Test accuracy of the member with the highest validation accuracy (first such member on ties):
 * the selection rule (docs/data.md#selection-rule: choose on val, report test).
 */
export function testAtBestVal(val: ArrayLike<number>, test: ArrayLike<number>): number {
  if (val.length !== test.length) throw new ShapeError(`testAtBestVal: val has ${val.length} values, test has ${test.length}`);
  const i = argmaxFirst(val);
  if (i < 0) throw new PdiffError('testAtBestVal: expected at least one member with a comparable val accuracy');
  return test[i]!;
}

/** Fraction in [0, 1] of `values` that are >= `threshold`; NaN for an empty array. */
export function fractionAtLeast(values: ArrayLike<number>, threshold: number): number {
  if (values.length === 0) return NaN;
  let c = 0;
  for (let i = 0; i < values.length; i++) if (values[i]! >= threshold) c++;
  return c / values.length;
}

/** Mean of the finite entries (NaN when there are none); for averaging per-model novelty. */
export function meanFinite(values: ArrayLike<number>): number {
  let s = 0;
  let c = 0;
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    if (Number.isFinite(v)) {
      s += v;
      c++;
    }
  }
  return c > 0 ? s / c : NaN;
}
