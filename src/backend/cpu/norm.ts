/**
 * Normalisation kernels on the CPU: batch norm (train / eval), layer norm, group norm.
 * Tensors are viewed as x [n, c, s] with s the product of the spatial dims (s = 1 for [n, c]).
 * Statistics are accumulated in float64 (JS numbers) whatever the storage type; the variance
 * is computed in two passes (mean first) for accuracy. Backward kernels overwrite every
 * gradient they are given; a null gradient is not computed. gamma / beta null mean 1 / 0.
 *
 * With xhat = (x - mean) * invstd over a group of m elements and g' = gy * gamma, the input
 * gradient through the batch statistics is
 *   gx = invstd * (g' - sum(g') / m - xhat * sum(g' * xhat) / m).
 */
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
  const mu = new Float64Array(c);
  const sq = new Float64Array(c);
  for (let i = 0; i < n; i++) {
    for (let ch = 0; ch < c; ch++) {
      let acc = 0;
      for (let j = (i * c + ch) * s, e = j + s; j < e; j++) acc += x[j]!;
      mu[ch] = mu[ch]! + acc;
    }
  }
  for (let ch = 0; ch < c; ch++) mu[ch] = mu[ch]! / m;
  for (let i = 0; i < n; i++) {
    for (let ch = 0; ch < c; ch++) {
      const mc = mu[ch]!;
      let acc = 0;
      for (let j = (i * c + ch) * s, e = j + s; j < e; j++) {
        const d = x[j]! - mc;
        acc += d * d;
      }
      sq[ch] = sq[ch]! + acc;
    }
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
    const { mu, is } = stats(x, base, base + d, eps);
    mean[r] = mu;
    invstd[r] = is;
    if (gamma === null && beta === null) {
      for (let j = 0; j < d; j++) y[base + j] = (x[base + j]! - mu) * is;
    } else if (beta === null) {
      for (let j = 0; j < d; j++) y[base + j] = (x[base + j]! - mu) * is * gamma![j]!;
    } else if (gamma === null) {
      for (let j = 0; j < d; j++) y[base + j] = (x[base + j]! - mu) * is + beta[j]!;
    } else {
      for (let j = 0; j < d; j++) y[base + j] = (x[base + j]! - mu) * is * gamma[j]! + beta[j]!;
    }
  }
}

/** Two-pass mean and 1 / sqrt(biased var + eps) of x[lo, hi). */
function stats(x: FloatArray, lo: number, hi: number, eps: number): { mu: number; is: number } {
  const cnt = hi - lo;
  let acc = 0;
  for (let j = lo; j < hi; j++) acc += x[j]!;
  const mu = acc / cnt;
  let sq = 0;
  for (let j = lo; j < hi; j++) {
    const t = x[j]! - mu;
    sq += t * t;
  }
  return { mu, is: 1 / Math.sqrt(sq / cnt + eps) };
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
  const cg = c / groups;
  for (let i = 0; i < n; i++) {
    for (let gi = 0; gi < groups; gi++) {
      const lo = (i * c + gi * cg) * s;
      const { mu, is } = stats(x, lo, lo + cg * s, eps);
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
  const cg = c / groups;
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
