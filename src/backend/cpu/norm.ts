/**
 * Normalisation kernels on the CPU: batch norm (train / eval), layer norm, group norm.
 * Tensors are viewed as x [n, c, s] with s the product of the spatial dims (s = 1 for [n, c]).
 * Statistics are accumulated in float64 (JS numbers) whatever the storage type, as sums of
 * x - k with k a sample of the same group (so var = (sum d^2 - (sum d)^2 / m) / m does not
 * cancel when |mean| >> std) in a single pass over x. Backward kernels overwrite every
 * gradient they are given; a null gradient is not computed. gamma / beta null mean 1 / 0.
 *
 * With xhat = (x - mean) * invstd over a group of m elements and g' = gy * gamma, the input
 * gradient through the batch statistics is
 *   gx = invstd * (g' - sum(g') / m - xhat * sum(g' * xhat) / m).
 */
import { ShapeError } from '../../util/errors.js';
import type { FloatArray } from '../kernels.js';

/**
 * Training-mode batch norm: statistics per channel over n*s elements.
 * Writes y [n, c, s], mean [c], invstd [c] = 1 / sqrt(var + eps) and varBiased [c] (the biased
 * batch variance; running_var uses var * m / (m - 1), m = n*s, which the caller applies).
 */
export function batchNormTrainForward(
  x: FloatArray, gamma: FloatArray | null, beta: FloatArray | null,
  n: number, c: number, s: number, eps: number,
  y: FloatArray, mean: FloatArray, invstd: FloatArray, varBiased: FloatArray,
): void {
  const m = n * s;
  // One pass of shifted sums (shift = the channel's first element, so the variance formula does
  // not cancel catastrophically when |mean| >> std; sums are float64).
  const sh = new Float64Array(c);
  const mu = new Float64Array(c);
  const sq = new Float64Array(c);
  if (m > 0) for (let ch = 0; ch < c; ch++) sh[ch] = x[ch * s]!;
  for (let i = 0; i < n; i++) {
    for (let ch = 0; ch < c; ch++) {
      const k = sh[ch]!;
      let a = 0;
      let b = 0;
      for (let j = (i * c + ch) * s, e = j + s; j < e; j++) {
        const d = x[j]! - k;
        a += d;
        b += d * d;
      }
      mu[ch] = mu[ch]! + a;
      sq[ch] = sq[ch]! + b;
    }
  }
  for (let ch = 0; ch < c; ch++) {
    const a = mu[ch]!;
    mu[ch] = sh[ch]! + a / m;
    sq[ch] = Math.max(0, sq[ch]! - a * a / m);
  }
  // Reuse sq as the per-channel scale and mu as the shift: y = x * scale + shift.
  for (let ch = 0; ch < c; ch++) {
    const v = sq[ch]! / m;
    const is = 1 / Math.sqrt(v + eps);
    const mc = mu[ch]!;
    mean[ch] = mc;
    invstd[ch] = is;
    varBiased[ch] = v;
    const scale = (gamma === null ? 1 : gamma[ch]!) * is;
    sq[ch] = scale;
    mu[ch] = (beta === null ? 0 : beta[ch]!) - mc * scale;
  }
  affine(x, n, c, s, sq, mu, y);
}

/** y[i, ch, :] = x[i, ch, :] * scale[ch] + shift[ch]. */
function affine(x: FloatArray, n: number, c: number, s: number, scale: Float64Array, shift: Float64Array, y: FloatArray): void {
  for (let i = 0; i < n; i++) {
    for (let ch = 0; ch < c; ch++) {
      const a = scale[ch]!;
      const b = shift[ch]!;
      for (let j = (i * c + ch) * s, e = j + s; j < e; j++) y[j] = x[j]! * a + b;
    }
  }
}

/**
 * Backward of training-mode batch norm, through the batch statistics.
 * mean / invstd are those written by batchNormTrainForward. gx [n, c, s], ggamma [c], gbeta [c].
 */
export function batchNormTrainBackward(
  gy: FloatArray, x: FloatArray, gamma: FloatArray | null, mean: FloatArray, invstd: FloatArray,
  n: number, c: number, s: number,
  gx: FloatArray, ggamma: FloatArray | null, gbeta: FloatArray | null,
): void {
  const m = n * s;
  const sg = new Float64Array(c); // sum gy
  const sgd = new Float64Array(c); // sum gy * (x - mean)
  for (let i = 0; i < n; i++) {
    for (let ch = 0; ch < c; ch++) {
      const mc = mean[ch]!;
      let a = 0;
      let b = 0;
      for (let j = (i * c + ch) * s, e = j + s; j < e; j++) {
        const g = gy[j]!;
        a += g;
        b += g * (x[j]! - mc);
      }
      sg[ch] = sg[ch]! + a;
      sgd[ch] = sgd[ch]! + b;
    }
  }
  // gx = ka * gy + kd * (x - mean) + k0 per channel (the formula in the header, expanded;
  // x - mean is kept as a difference to avoid cancellation when |mean| >> std).
  const kd = new Float64Array(c);
  const k0 = new Float64Array(c);
  for (let ch = 0; ch < c; ch++) {
    const is = invstd[ch]!;
    const gi = (gamma === null ? 1 : gamma[ch]!) * is;
    if (ggamma !== null) ggamma[ch] = sgd[ch]! * is;
    if (gbeta !== null) gbeta[ch] = sg[ch]!;
    kd[ch] = -gi * is * is * sgd[ch]! / m;
    k0[ch] = -gi * sg[ch]! / m;
    sg[ch] = gi;
  }
  for (let i = 0; i < n; i++) {
    for (let ch = 0; ch < c; ch++) {
      const ka = sg[ch]!;
      const b = kd[ch]!;
      const d = k0[ch]!;
      const mc = mean[ch]!;
      for (let j = (i * c + ch) * s, e = j + s; j < e; j++) gx[j] = ka * gy[j]! + b * (x[j]! - mc) + d;
    }
  }
}

/** Eval-mode batch norm with running statistics: y = (x - runMean) / sqrt(runVar + eps) * gamma + beta. */
export function batchNormEvalForward(
  x: FloatArray, gamma: FloatArray | null, beta: FloatArray | null,
  runMean: FloatArray, runVar: FloatArray,
  n: number, c: number, s: number, eps: number, y: FloatArray,
): void {
  const scale = new Float64Array(c);
  const shift = new Float64Array(c);
  for (let ch = 0; ch < c; ch++) {
    const a = (gamma === null ? 1 : gamma[ch]!) / Math.sqrt(runVar[ch]! + eps);
    scale[ch] = a;
    shift[ch] = (beta === null ? 0 : beta[ch]!) - runMean[ch]! * a;
  }
  affine(x, n, c, s, scale, shift, y);
}

/** Backward of eval-mode batch norm (the statistics are constants). Any gradient may be null. */
export function batchNormEvalBackward(
  gy: FloatArray, x: FloatArray, gamma: FloatArray | null,
  runMean: FloatArray, runVar: FloatArray,
  n: number, c: number, s: number, eps: number,
  gx: FloatArray | null, ggamma: FloatArray | null, gbeta: FloatArray | null,
): void {
  if (gx !== null) {
    const scale = new Float64Array(c);
    for (let ch = 0; ch < c; ch++) scale[ch] = (gamma === null ? 1 : gamma[ch]!) / Math.sqrt(runVar[ch]! + eps);
    for (let i = 0; i < n; i++) {
      for (let ch = 0; ch < c; ch++) {
        const a = scale[ch]!;
        for (let j = (i * c + ch) * s, e = j + s; j < e; j++) gx[j] = gy[j]! * a;
      }
    }
  }
  if (ggamma === null && gbeta === null) return;
  const sg = new Float64Array(c);
  const sgd = new Float64Array(c);
  for (let i = 0; i < n; i++) {
    for (let ch = 0; ch < c; ch++) {
      const mc = runMean[ch]!;
      let a = 0;
      let b = 0;
      for (let j = (i * c + ch) * s, e = j + s; j < e; j++) {
        const g = gy[j]!;
        a += g;
        b += g * (x[j]! - mc);
      }
      sg[ch] = sg[ch]! + a;
      sgd[ch] = sgd[ch]! + b;
    }
  }
  for (let ch = 0; ch < c; ch++) {
    if (ggamma !== null) ggamma[ch] = sgd[ch]! / Math.sqrt(runVar[ch]! + eps);
    if (gbeta !== null) gbeta[ch] = sg[ch]!;
  }
}

/**
 * Layer norm over the last dimension: x [rows, d] -> y [rows, d], stats per row
 * (mean [rows], invstd [rows]); gamma / beta [d].
 */
export function layerNormForward(
  x: FloatArray, gamma: FloatArray | null, beta: FloatArray | null,
  rows: number, d: number, eps: number,
  y: FloatArray, mean: FloatArray, invstd: FloatArray,
): void {
  for (let r = 0; r < rows; r++) {
    const base = r * d;
    stats(x, base, base + d, eps);
    const mu = st[0]!;
    const is = st[1]!;
    mean[r] = mu;
    invstd[r] = is;
    for (let j = 0; j < d; j++) {
      const v = (x[base + j]! - mu) * is;
      y[base + j] = (gamma === null ? v : v * gamma[j]!) + (beta === null ? 0 : beta[j]!);
    }
  }
}

/** stats() results: [mean, invstd] (a module buffer, so the per-row call allocates nothing). */
const st = new Float64Array(2);

/** st = [mean, 1 / sqrt(biased var + eps)] of x[lo, hi), by one pass of sums shifted by x[lo]. */
function stats(x: FloatArray, lo: number, hi: number, eps: number): void {
  const cnt = hi - lo;
  const k = x[lo]!;
  let a = 0;
  let b = 0;
  for (let j = lo; j < hi; j++) {
    const d = x[j]! - k;
    a += d;
    b += d * d;
  }
  st[0] = k + a / cnt;
  st[1] = 1 / Math.sqrt(Math.max(0, b - a * a / cnt) / cnt + eps);
}

/** Backward of layer norm. gx [rows, d] (required), ggamma / gbeta [d] (null = not needed). */
export function layerNormBackward(
  gy: FloatArray, x: FloatArray, gamma: FloatArray | null, mean: FloatArray, invstd: FloatArray,
  rows: number, d: number,
  gx: FloatArray, ggamma: FloatArray | null, gbeta: FloatArray | null,
): void {
  const accG = ggamma === null ? null : new Float64Array(d);
  const accB = gbeta === null ? null : new Float64Array(d);
  for (let r = 0; r < rows; r++) {
    const base = r * d;
    const mu = mean[r]!;
    const is = invstd[r]!;
    let sg = 0;
    let sgx = 0;
    for (let j = 0; j < d; j++) {
      const g = gy[base + j]! * (gamma === null ? 1 : gamma[j]!);
      sg += g;
      sgx += g * (x[base + j]! - mu);
    }
    const a = sg / d;
    const b = sgx * is * is / d;
    for (let j = 0; j < d; j++) {
      const g = gy[base + j]!;
      const xm = x[base + j]! - mu;
      gx[base + j] = is * (g * (gamma === null ? 1 : gamma[j]!) - a - xm * b);
      if (accG !== null) accG[j] = accG[j]! + g * xm * is;
      if (accB !== null) accB[j] = accB[j]! + g;
    }
  }
  if (ggamma !== null && accG !== null) for (let j = 0; j < d; j++) ggamma[j] = accG[j]!;
  if (gbeta !== null && accB !== null) for (let j = 0; j < d; j++) gbeta[j] = accB[j]!;
}

/** Channels per group; throws unless groups divides c. */
function groupSize(c: number, groups: number, where: string): number {
  if (!(Number.isInteger(groups) && groups > 0 && c % groups === 0)) {
    throw new ShapeError(`${where}: groups must be a positive divisor of the channel count ${c}, got ${groups}`);
  }
  return c / groups;
}

/**
 * Group norm: x [n, c, s], channels split into `groups` contiguous groups; stats per
 * (sample, group) over (c / groups) * s elements, mean / invstd [n * groups];
 * gamma / beta per channel [c]. InstanceNorm is groups = c.
 */
export function groupNormForward(
  x: FloatArray, gamma: FloatArray | null, beta: FloatArray | null,
  n: number, c: number, s: number, groups: number, eps: number,
  y: FloatArray, mean: FloatArray, invstd: FloatArray,
): void {
  const cg = groupSize(c, groups, 'groupNormForward');
  for (let i = 0; i < n; i++) {
    for (let gi = 0; gi < groups; gi++) {
      const lo = (i * c + gi * cg) * s;
      stats(x, lo, lo + cg * s, eps);
      const mu = st[0]!;
      const is = st[1]!;
      mean[i * groups + gi] = mu;
      invstd[i * groups + gi] = is;
      for (let k = 0; k < cg; k++) {
        const ch = gi * cg + k;
        const a = (gamma === null ? 1 : gamma[ch]!) * is;
        const b = (beta === null ? 0 : beta[ch]!) - mu * a;
        for (let j = lo + k * s, e = j + s; j < e; j++) y[j] = x[j]! * a + b;
      }
    }
  }
}

/** Backward of group norm. gx [n, c, s] (required), ggamma / gbeta [c] (null = not needed). */
export function groupNormBackward(
  gy: FloatArray, x: FloatArray, gamma: FloatArray | null, mean: FloatArray, invstd: FloatArray,
  n: number, c: number, s: number, groups: number,
  gx: FloatArray, ggamma: FloatArray | null, gbeta: FloatArray | null,
): void {
  const cg = groupSize(c, groups, 'groupNormBackward');
  const M = cg * s;
  const accG = new Float64Array(c);
  const accB = new Float64Array(c);
  for (let i = 0; i < n; i++) {
    for (let gi = 0; gi < groups; gi++) {
      const lo = (i * c + gi * cg) * s;
      const mu = mean[i * groups + gi]!;
      const is = invstd[i * groups + gi]!;
      let sg = 0; // sum g'
      let sgd = 0; // sum g' * (x - mu)
      for (let k = 0; k < cg; k++) {
        const ch = gi * cg + k;
        let a = 0;
        let b = 0;
        for (let j = lo + k * s, e = j + s; j < e; j++) {
          const g = gy[j]!;
          a += g;
          b += g * (x[j]! - mu);
        }
        accB[ch] = accB[ch]! + a;
        accG[ch] = accG[ch]! + b * is;
        const gm = gamma === null ? 1 : gamma[ch]!;
        sg += a * gm;
        sgd += b * gm;
      }
      // gx = gamma * is * gy + kd * (x - mu) + k0 (the header formula, expanded).
      const kd = -is * is * is * sgd / M;
      const k0 = -is * sg / M;
      for (let k = 0; k < cg; k++) {
        const a = (gamma === null ? 1 : gamma[gi * cg + k]!) * is;
        for (let j = lo + k * s, e = j + s; j < e; j++) gx[j] = a * gy[j]! + kd * (x[j]! - mu) + k0;
      }
    }
  }
  if (ggamma !== null) for (let ch = 0; ch < c; ch++) ggamma[ch] = accG[ch]!;
  if (gbeta !== null) for (let ch = 0; ch < c; ch++) gbeta[ch] = accB[ch]!;
}
