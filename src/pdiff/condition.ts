/**
 * Condition vectors for the conditional denoiser (docs/conditioning.md#encoding).
 *
 * The denoiser embeds its condition with bias-free layers, so the all-zero vector embeds to
 * exactly zero and the conditional denoiser then computes the unconditional one. That makes zero
 * the "null" condition of classifier-free guidance, and every real condition must stay away from
 * it: a binary code's bits become -1 / +1 (never 0), and a target accuracy travels with a
 * "present" flag of 1 beside its normalised value.
 */
import { ConfigError, ShapeError } from '../util/errors.js';

/** Condition width of a target accuracy: [present = 1, normalised accuracy]. */
export const ACCURACY_COND_DIM = 2;

/**
 * A binary code (a string of '0' and '1', or an array of 0 / 1) as a condition vector: bit 1 ->
 * +1, bit 0 -> -1, so no real code encodes to the null condition. With `bits` given, the code must
 * have exactly that many bits. `where` names the input in errors (a flag or config key).
 */
export function encodeCode(code: string | ArrayLike<number>, opts: { bits?: number; where?: string } = {}): Float32Array {
  const where = opts.where ?? 'encodeCode';
  const show = typeof code === 'string' ? JSON.stringify(code) : `[${Array.from(code).join(', ')}]`;
  if (opts.bits !== undefined && code.length !== opts.bits) throw new ConfigError(`${where}: expected a code of ${opts.bits} bits, got ${code.length} (${show})`);
  if (code.length === 0) throw new ConfigError(`${where}: expected a code of at least one bit, got an empty code`);
  const out = new Float32Array(code.length);
  for (let i = 0; i < code.length; i++) {
    const b = typeof code === 'string' ? code[i] : code[i];
    if (b === '1' || b === 1) out[i] = 1;
    else if (b === '0' || b === 0) out[i] = -1;
    else throw new ConfigError(`${where}: expected only 0s and 1s, got ${JSON.stringify(b)} at position ${i} of ${show}`);
  }
  return out;
}

/** The affine map that sends the zoo's accuracy range [lo, hi] onto [-1, 1] (docs/conditioning.md#accuracy). */
export interface AccuracyScale {
  /** Lowest accuracy in the zoo (maps to -1). */
  lo: number;
  /** Highest accuracy in the zoo (maps to +1). */
  hi: number;
}

/** The scale of a zoo's accuracy labels: their min and max (at least two distinct finite values). */
export function fitAccuracyScale(accs: ArrayLike<number>, where = 'fitAccuracyScale'): AccuracyScale {
  if (accs.length === 0) throw new ShapeError(`${where}: expected at least one accuracy, got none`);
  let lo = Infinity, hi = -Infinity;
  for (let i = 0; i < accs.length; i++) {
    const a = accs[i]!;
    if (!Number.isFinite(a)) throw new ConfigError(`${where}: expected finite accuracies, got ${a} at index ${i}`);
    if (a < lo) lo = a;
    if (a > hi) hi = a;
  }
  if (!(hi > lo)) throw new ConfigError(`${where}: every accuracy is ${lo}; conditioning on accuracy needs a zoo whose accuracies differ`);
  return { lo, hi };
}

/**
 * A target accuracy as a condition vector [1, a'] with a' = 2 (acc - lo) / (hi - lo) - 1: the
 * zoo's range maps onto [-1, 1] and a prompt above the best checkpoint lands above 1. The leading
 * 1 ("present") keeps every real target away from the null condition [0, 0], mid-range included.
 */
export function encodeAccuracy(acc: number, scale: AccuracyScale, where = 'encodeAccuracy'): Float32Array {
  if (!Number.isFinite(acc)) throw new ConfigError(`${where}: expected a finite accuracy, got ${acc}`);
  if (!(Number.isFinite(scale.lo) && Number.isFinite(scale.hi) && scale.hi > scale.lo)) {
    throw new ConfigError(`${where}: expected an accuracy scale with finite lo < hi, got lo ${scale.lo}, hi ${scale.hi}`);
  }
  return Float32Array.of(1, (2 * (acc - scale.lo)) / (scale.hi - scale.lo) - 1);
}

/** The null condition: n rows of `dim` zeros (what condition dropout trains and guidance subtracts). */
export function nullCondition(dim: number, n = 1): Float32Array {
  if (!Number.isInteger(dim) || dim < 1 || !Number.isInteger(n) || n < 1) throw new ShapeError(`nullCondition: expected positive integer sizes, got dim ${dim}, n ${n}`);
  return new Float32Array(n * dim);
}

/** Whether `row` is the null condition (every entry zero). */
export function isNullCondition(row: ArrayLike<number>): boolean {
  for (let i = 0; i < row.length; i++) if (row[i] !== 0) return false;
  return true;
}

/**
 * Conditions for n rows [n, dim]: `cond` is either one condition [dim] (repeated for every row)
 * or one per row [n, dim] (returned as is). `where` names the caller in errors.
 */
export function conditionRows(cond: Float32Array, dim: number, n: number, where: string): Float32Array {
  if (cond.length === n * dim) return cond;
  if (cond.length === dim) {
    const out = new Float32Array(n * dim);
    for (let r = 0; r < n; r++) out.set(cond, r * dim);
    return out;
  }
  throw new ShapeError(`${where}: expected one condition of ${dim} values or ${n} x ${dim} = ${n * dim} values (one per row), got ${cond.length}`);
}
