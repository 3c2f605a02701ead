import type { FloatArray } from '../kernels.js';

/** Row-wise (log-)softmax over [rows, cols], max-subtracted for stability. */
export function softmaxKernel(x: FloatArray, y: FloatArray, rows: number, cols: number, log: boolean): void {
  for (let r = 0; r < rows; r++) {
    const o = r * cols;
    let mx = -Infinity;
    for (let j = 0; j < cols; j++) { const v = x[o + j]!; if (v > mx) mx = v; }
    let s = 0;
    for (let j = 0; j < cols; j++) s += Math.exp(x[o + j]! - mx);
    if (log) {
      const lse = mx + Math.log(s);
      for (let j = 0; j < cols; j++) y[o + j] = x[o + j]! - lse;
    } else {
      const inv = 1 / s;
      for (let j = 0; j < cols; j++) y[o + j] = Math.exp(x[o + j]! - mx) * inv;
    }
  }
}

/** softmax: gx = y (gy - sum(gy y)); log-softmax: gx = gy - softmax * sum(gy). */
export function softmaxBackwardKernel(y: FloatArray, gy: FloatArray, gx: FloatArray, rows: number, cols: number, log: boolean): void {
  for (let r = 0; r < rows; r++) {
    const o = r * cols;
    if (log) {
      let s = 0;
      for (let j = 0; j < cols; j++) s += gy[o + j]!;
      for (let j = 0; j < cols; j++) gx[o + j] = gy[o + j]! - Math.exp(y[o + j]!) * s;
    } else {
      let s = 0;
      for (let j = 0; j < cols; j++) s += gy[o + j]! * y[o + j]!;
      for (let j = 0; j < cols; j++) gx[o + j] = y[o + j]! * (gy[o + j]! - s);
    }
  }
}

/**
 * Mean cross-entropy with label smoothing eps (PyTorch): target q = (1 - eps) onehot + eps / C,
 * loss_r = -sum_j q_j log p_j. d loss / d logits = (p - q) / rows.
 */
export function crossEntropyKernel(logits: FloatArray, labels: Int32Array, rows: number, cols: number, smoothing: number, grad: FloatArray | null): number {
  let total = 0;
  const off = smoothing / cols;
  const on = 1 - smoothing + off;
  const invRows = 1 / rows;
  for (let r = 0; r < rows; r++) {
    const o = r * cols;
    const label = labels[r]!;
    if (!(label >= 0 && label < cols)) throw new RangeError(`crossEntropy: label ${label} of row ${r} is outside [0, ${cols})`);
    let mx = -Infinity;
    for (let j = 0; j < cols; j++) { const v = logits[o + j]!; if (v > mx) mx = v; }
    let s = 0;
    for (let j = 0; j < cols; j++) s += Math.exp(logits[o + j]! - mx);
    const lse = mx + Math.log(s);
    let loss = 0;
    if (smoothing === 0) loss = lse - logits[o + label]!;
    else {
      for (let j = 0; j < cols; j++) loss += (j === label ? on : off) * (lse - logits[o + j]!);
    }
    total += loss;
    if (grad) {
      const inv = 1 / s;
      for (let j = 0; j < cols; j++) {
        const p = Math.exp(logits[o + j]! - mx) * inv;
        grad[o + j] = (p - (j === label ? on : off)) * invRows;
      }
    }
  }
  return total * invRows;
}

export function argmaxRowsKernel(x: FloatArray, rows: number, cols: number, out: Int32Array): void {
  for (let r = 0; r < rows; r++) {
    const o = r * cols;
    let best = 0, bv = x[o]!;
    for (let j = 1; j < cols; j++) { const v = x[o + j]!; if (v > bv) { bv = v; best = j; } }
    out[r] = best;
  }
}
