import type { FloatArray } from '../kernels.js';
import type { BinaryOp, UnaryOp } from '../backend.js';
import { broadcastStrides, coalesce, denseStrides } from '../shapes.js';

const SQRT1_2 = Math.SQRT1_2;
const INV_SQRT_2PI = 1 / Math.sqrt(2 * Math.PI);
const GELU_C = Math.sqrt(2 / Math.PI);

/** erf to ~1e-15 (series with positive terms below 3, continued fraction for erfc above). */
export function erf(x: number): number {
  const ax = Math.abs(x);
  let r: number;
  if (ax < 3) {
    // erf(x) = 2/sqrt(pi) exp(-x^2) sum_n 2^n x^(2n+1) / (1*3*...*(2n+1))
    const x2 = ax * ax;
    let term = ax;
    let sum = ax;
    for (let n = 1; n < 200; n++) {
      term *= (2 * x2) / (2 * n + 1);
      sum += term;
      if (term < sum * 1e-17) break;
    }
    r = (2 / Math.sqrt(Math.PI)) * Math.exp(-x2) * sum;
  } else {
    // erfc(x) = exp(-x^2)/sqrt(pi) * 1/(x + 1/2/(x + 1/(x + 3/2/(x + ...)))) (Lentz)
    let f = ax, c = ax, d = 0;
    for (let n = 1; n < 300; n++) {
      const an = n / 2;
      d = ax + an * d;
      d = 1 / d;
      c = ax + an / c;
      const delta = c * d;
      f *= delta;
      if (Math.abs(delta - 1) < 1e-16) break;
    }
    r = 1 - Math.exp(-ax * ax) / Math.sqrt(Math.PI) / f;
  }
  return x < 0 ? -r : r;
}

export function unaryKernel(op: UnaryOp, x: FloatArray, y: FloatArray, alpha: number, beta: number): void {
  const n = x.length;
  switch (op) {
    case 'identity': y.set(x); return;
    case 'neg': for (let i = 0; i < n; i++) y[i] = -x[i]!; return;
    case 'affine': for (let i = 0; i < n; i++) y[i] = alpha * x[i]! + beta; return;
    case 'relu': for (let i = 0; i < n; i++) { const v = x[i]!; y[i] = v > 0 ? v : 0; } return;
    case 'leaky_relu': for (let i = 0; i < n; i++) { const v = x[i]!; y[i] = v > 0 ? v : alpha * v; } return;
    case 'elu': for (let i = 0; i < n; i++) { const v = x[i]!; y[i] = v > 0 ? v : alpha * (Math.exp(v) - 1); } return;
    case 'silu': for (let i = 0; i < n; i++) { const v = x[i]!; y[i] = v / (1 + Math.exp(-v)); } return;
    case 'gelu': for (let i = 0; i < n; i++) { const v = x[i]!; y[i] = 0.5 * v * (1 + erf(v * SQRT1_2)); } return;
    case 'gelu_tanh': for (let i = 0; i < n; i++) { const v = x[i]!; y[i] = 0.5 * v * (1 + Math.tanh(GELU_C * (v + 0.044715 * v * v * v))); } return;
    case 'tanh': for (let i = 0; i < n; i++) y[i] = Math.tanh(x[i]!); return;
    case 'sigmoid': for (let i = 0; i < n; i++) y[i] = 1 / (1 + Math.exp(-x[i]!)); return;
    // log(1 + e^x) = max(x, 0) + log(1 + e^-|x|): no overflow for large x, no cancellation for small
    case 'softplus': for (let i = 0; i < n; i++) { const v = x[i]!; y[i] = Math.max(v, 0) + Math.log1p(Math.exp(-Math.abs(v))); } return;
    case 'exp': for (let i = 0; i < n; i++) y[i] = Math.exp(x[i]!); return;
    case 'log': for (let i = 0; i < n; i++) y[i] = Math.log(x[i]!); return;
    case 'sqrt': for (let i = 0; i < n; i++) y[i] = Math.sqrt(x[i]!); return;
    case 'square': for (let i = 0; i < n; i++) { const v = x[i]!; y[i] = v * v; } return;
    case 'abs': for (let i = 0; i < n; i++) y[i] = Math.abs(x[i]!); return;
  }
}

export function unaryBackwardKernel(op: UnaryOp, x: FloatArray, y: FloatArray, gy: FloatArray, gx: FloatArray, alpha: number, _beta: number): void {
  const n = x.length;
  switch (op) {
    case 'identity': gx.set(gy); return;
    case 'neg': for (let i = 0; i < n; i++) gx[i] = -gy[i]!; return;
    case 'affine': for (let i = 0; i < n; i++) gx[i] = alpha * gy[i]!; return;
    case 'relu': for (let i = 0; i < n; i++) gx[i] = x[i]! > 0 ? gy[i]! : 0; return;
    case 'leaky_relu': for (let i = 0; i < n; i++) gx[i] = x[i]! > 0 ? gy[i]! : alpha * gy[i]!; return;
    // d/dx alpha (e^x - 1) = alpha e^x = y + alpha
    case 'elu': for (let i = 0; i < n; i++) gx[i] = x[i]! > 0 ? gy[i]! : gy[i]! * (y[i]! + alpha); return;
    case 'silu': for (let i = 0; i < n; i++) { const v = x[i]!; const s = 1 / (1 + Math.exp(-v)); gx[i] = gy[i]! * s * (1 + v * (1 - s)); } return;
    case 'gelu': for (let i = 0; i < n; i++) { const v = x[i]!; const cdf = 0.5 * (1 + erf(v * SQRT1_2)); gx[i] = gy[i]! * (cdf + v * INV_SQRT_2PI * Math.exp(-0.5 * v * v)); } return;
    case 'gelu_tanh': for (let i = 0; i < n; i++) {
      const v = x[i]!; const u = GELU_C * (v + 0.044715 * v * v * v); const t = Math.tanh(u);
      gx[i] = gy[i]! * (0.5 * (1 + t) + 0.5 * v * (1 - t * t) * GELU_C * (1 + 3 * 0.044715 * v * v));
    } return;
    case 'tanh': for (let i = 0; i < n; i++) { const t = y[i]!; gx[i] = gy[i]! * (1 - t * t); } return;
    case 'sigmoid': for (let i = 0; i < n; i++) { const s = y[i]!; gx[i] = gy[i]! * s * (1 - s); } return;
    case 'softplus': for (let i = 0; i < n; i++) gx[i] = gy[i]! / (1 + Math.exp(-x[i]!)); return; // d/dx = sigmoid(x)
    case 'exp': for (let i = 0; i < n; i++) gx[i] = gy[i]! * y[i]!; return;
    case 'log': for (let i = 0; i < n; i++) gx[i] = gy[i]! / x[i]!; return;
    case 'sqrt': for (let i = 0; i < n; i++) gx[i] = gy[i]! * 0.5 / y[i]!; return;
    case 'square': for (let i = 0; i < n; i++) gx[i] = gy[i]! * 2 * x[i]!; return;
    case 'abs': for (let i = 0; i < n; i++) { const v = x[i]!; gx[i] = v > 0 ? gy[i]! : v < 0 ? -gy[i]! : 0; } return;
  }
}

function binaryRun(op: BinaryOp, a: FloatArray, ia: number, sa: number, b: FloatArray, ib: number, sb: number, y: FloatArray, iy: number, n: number): void {
  switch (op) {
    case 'add':
      if (sa === 1 && sb === 1) { for (let j = 0; j < n; j++) y[iy + j] = a[ia + j]! + b[ib + j]!; }
      else if (sb === 0) { const bv = b[ib]!; for (let j = 0; j < n; j++) y[iy + j] = a[ia + j * sa]! + bv; }
      else if (sa === 0) { const av = a[ia]!; for (let j = 0; j < n; j++) y[iy + j] = av + b[ib + j * sb]!; }
      else for (let j = 0; j < n; j++) y[iy + j] = a[ia + j * sa]! + b[ib + j * sb]!;
      return;
    case 'sub':
      if (sa === 1 && sb === 1) { for (let j = 0; j < n; j++) y[iy + j] = a[ia + j]! - b[ib + j]!; }
      else if (sb === 0) { const bv = b[ib]!; for (let j = 0; j < n; j++) y[iy + j] = a[ia + j * sa]! - bv; }
      else for (let j = 0; j < n; j++) y[iy + j] = a[ia + j * sa]! - b[ib + j * sb]!;
      return;
    case 'mul':
      if (sa === 1 && sb === 1) { for (let j = 0; j < n; j++) y[iy + j] = a[ia + j]! * b[ib + j]!; }
      else if (sb === 0) { const bv = b[ib]!; for (let j = 0; j < n; j++) y[iy + j] = a[ia + j * sa]! * bv; }
      else if (sa === 0) { const av = a[ia]!; for (let j = 0; j < n; j++) y[iy + j] = av * b[ib + j * sb]!; }
      else for (let j = 0; j < n; j++) y[iy + j] = a[ia + j * sa]! * b[ib + j * sb]!;
      return;
    case 'div':
      if (sa === 1 && sb === 1) { for (let j = 0; j < n; j++) y[iy + j] = a[ia + j]! / b[ib + j]!; }
      else for (let j = 0; j < n; j++) y[iy + j] = a[ia + j * sa]! / b[ib + j * sb]!;
      return;
  }
}

/** y = a (op) b with broadcasting; all shapes have the same rank. */
export function binaryKernel(op: BinaryOp, a: FloatArray, aShape: readonly number[], b: FloatArray, bShape: readonly number[], y: FloatArray, yShape: readonly number[]): void {
  const c = coalesce(yShape, [broadcastStrides(aShape, yShape), broadcastStrides(bShape, yShape)]);
  const shape = c.shape;
  const sA = c.strides[0]!, sB = c.strides[1]!;
  const rank = shape.length;
  const inner = shape[rank - 1]!;
  const ia = sA[rank - 1]!, ib = sB[rank - 1]!;
  const outer = y.length / inner;
  const idx = new Array<number>(rank).fill(0);
  let offA = 0, offB = 0;
  for (let o = 0; o < outer; o++) {
    binaryRun(op, a, offA, ia, b, offB, ib, y, o * inner, inner);
    // odometer over the outer dims
    for (let d = rank - 2; d >= 0; d--) {
      idx[d]!++;
      offA += sA[d]!;
      offB += sB[d]!;
      if (idx[d]! < shape[d]!) break;
      offA -= sA[d]! * shape[d]!;
      offB -= sB[d]! * shape[d]!;
      idx[d] = 0;
    }
  }
}

/** y = sum of x over the axes where yShape is 1 (same rank). */
export function sumToKernel(x: FloatArray, xShape: readonly number[], y: FloatArray, yShape: readonly number[]): void {
  y.fill(0);
  const c = coalesce(xShape, [denseStrides(xShape), broadcastStrides(yShape, xShape)]);
  const shape = c.shape;
  const sY = c.strides[1]!;
  const rank = shape.length;
  const inner = shape[rank - 1]!;
  const iy = sY[rank - 1]!;
  const outer = x.length / inner;
  const idx = new Array<number>(rank).fill(0);
  let offY = 0;
  for (let o = 0; o < outer; o++) {
    const base = o * inner;
    if (iy === 0) {
      let s = 0;
      for (let j = 0; j < inner; j++) s += x[base + j]!;
      y[offY] = y[offY]! + s;
    } else {
      for (let j = 0; j < inner; j++) y[offY + j * iy] = y[offY + j * iy]! + x[base + j]!;
    }
    for (let d = rank - 2; d >= 0; d--) {
      idx[d]!++;
      offY += sY[d]!;
      if (idx[d]! < shape[d]!) break;
      offY -= sY[d]! * shape[d]!;
      idx[d] = 0;
    }
  }
}

export function permuteKernel(x: FloatArray, shape: readonly number[], perm: readonly number[], y: FloatArray): void {
  const rank = shape.length;
  const xs = denseStrides(shape);
  const outShape = perm.map((p) => shape[p]!);
  const srcStrides = perm.map((p) => xs[p]!);
  const c = coalesce(outShape, [denseStrides(outShape), srcStrides]);
  const cs = c.shape, sx = c.strides[1]!;
  const r = cs.length;
  const inner = cs[r - 1]!, ix = sx[r - 1]!;
  const outer = y.length / inner;
  const idx = new Array<number>(r).fill(0);
  let off = 0;
  void rank;
  for (let o = 0; o < outer; o++) {
    const base = o * inner;
    if (ix === 1) y.set(x.subarray(off, off + inner), base);
    else for (let j = 0; j < inner; j++) y[base + j] = x[off + j * ix]!;
    for (let d = r - 2; d >= 0; d--) {
      idx[d]!++;
      off += sx[d]!;
      if (idx[d]! < cs[d]!) break;
      off -= sx[d]! * cs[d]!;
      idx[d] = 0;
    }
  }
}

export function copyRegionKernel(src: FloatArray, srcShape: readonly number[], srcStart: readonly number[],
  dst: FloatArray, dstShape: readonly number[], dstStart: readonly number[], region: readonly number[]): void {
  const rank = region.length;
  for (let d = 0; d < rank; d++) if (region[d]! === 0) return;
  const ss = denseStrides(srcShape), ds = denseStrides(dstShape);
  let so = 0, dO = 0;
  for (let d = 0; d < rank; d++) { so += srcStart[d]! * ss[d]!; dO += dstStart[d]! * ds[d]!; }
  const inner = region[rank - 1]!;
  let outer = 1;
  for (let d = 0; d < rank - 1; d++) outer *= region[d]!;
  const idx = new Array<number>(rank).fill(0);
  for (let o = 0; o < outer; o++) {
    dst.set(src.subarray(so, so + inner), dO);
    for (let d = rank - 2; d >= 0; d--) {
      idx[d]!++;
      so += ss[d]!;
      dO += ds[d]!;
      if (idx[d]! < region[d]!) break;
      so -= ss[d]! * region[d]!;
      dO -= ds[d]! * region[d]!;
      idx[d] = 0;
    }
  }
}
