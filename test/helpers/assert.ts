/**
 * Approximate comparison of numbers and arrays, shared by the tests.
 *
 * An element passes when |actual - expected| <= max(atol, rtol * ref), where ref is |expected|
 * of that element, or (relativeTo 'max') the largest finite |expected| of the array: for results
 * of sums whose terms are much larger than the result, where an element-wise relative tolerance
 * would ask more than float arithmetic gives. Equal values always pass (infinities included); a
 * NaN passes only against a NaN and only with `equalNaN`.
 */
import assert from 'node:assert/strict';

export interface Tolerance {
  /** Absolute floor of the allowed difference; default 0. */
  atol?: number;
  /** Allowed difference relative to `relativeTo`; default 0. */
  rtol?: number;
  /** 'element' (default): relative to each |expected|; 'max': to the largest finite |expected|. */
  relativeTo?: 'element' | 'max';
  /** An expected NaN asks for a NaN (default false: any NaN fails). */
  equalNaN?: boolean;
}

/**
 * Assert that `actual` is within `tol` of `expected` (two numbers, or two arrays of equal length);
 * the message names `what`, the first failing index and both values.
 */
export function assertClose(actual: number | ArrayLike<number>, expected: number | ArrayLike<number>, tol: Tolerance, what: string): void {
  const scalar = typeof actual === 'number';
  if (scalar !== (typeof expected === 'number')) assert.fail(`${what}: cannot compare a number with an array`);
  const a: ArrayLike<number> = typeof actual === 'number' ? [actual] : actual;
  const e: ArrayLike<number> = typeof expected === 'number' ? [expected] : expected;
  assert.equal(a.length, e.length, `${what}: length`);
  const atol = tol.atol ?? 0, rtol = tol.rtol ?? 0;
  let scale = 0;
  if (tol.relativeTo === 'max') for (let i = 0; i < e.length; i++) if (Number.isFinite(e[i]!)) scale = Math.max(scale, Math.abs(e[i]!));
  for (let i = 0; i < a.length; i++) {
    const x = a[i]!, y = e[i]!;
    if (x === y) continue;
    if (Number.isNaN(y) && tol.equalNaN) {
      if (!Number.isNaN(x)) assert.fail(`${what}${scalar ? '' : `[${i}]`}: got ${x}, expected NaN`);
      continue;
    }
    if (Number.isNaN(x) || Number.isNaN(y)) assert.fail(`${what}${scalar ? '' : `[${i}]`}: got ${x}, expected ${y}`);
    const allowed = Math.max(atol, rtol * (tol.relativeTo === 'max' ? scale : Math.abs(y)));
    const d = Math.abs(x - y);
    if (!(d <= allowed)) {
      assert.fail(`${what}${scalar ? '' : `[${i}]`}: got ${x}, expected ${y} (|diff| ${d} > ${allowed}${tol.relativeTo === 'max' ? `, largest |expected| ${scale}` : ''})`);
    }
  }
}

/**
 * A tolerance relative to the largest |expected| (kernels whose outputs are sums of larger
 * terms), with an absolute floor for all-zero references.
 */
export function relToMax(rtol: number, atol = 1e-12): Tolerance {
  return { rtol, atol, relativeTo: 'max' };
}
