import type { FloatArray } from '../kernels.js';
import type { BinaryOp, UnaryOp } from '../backend.js';
import { broadcastStrides, coalesce, denseStrides } from '../shapes.js';

const SQRT1_2 = Math.SQRT1_2;
const INV_SQRT_2PI = 1 / Math.sqrt(2 * Math.PI);
const GELU_C = Math.sqrt(2 / Math.PI);

/**
 * erf by its defining series (below 1.5) and the continued fraction of erfc (above): accurate to
 * an ulp or two, but slow, as either needs dozens to hundreds of terms. It builds {@link erf}'s
 * table. (Until the ninth session it was erf itself, with the series used up to 3, where it
 * loses up to 4 ulp.)
 */
export function erfSeries(x: number): number {
  const ax = Math.abs(x);
  let r: number;
  if (ax < 1.5) {
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
    for (let n = 1; n < 2000; n++) {
      const an = n / 2;
      d = ax + an * d;
      d = 1 / d;
      c = ax + an / c;
      const delta = c * d;
      f *= delta;
      if (delta === 1) break;
    }
    r = 1 - Math.exp(-ax * ax) / Math.sqrt(Math.PI) / f;
  }
  return x < 0 ? -r : r;
}

// erf as a degree-8 Taylor polynomial around the nearest point of a grid with step 1/64 on
// [0, 6]. The k-th derivative of erf is 2/sqrt(pi) (-1)^(k-1) H_(k-1)(x) exp(-x^2) (Hermite
// polynomials), so each grid point stores erf(x0) and the eight scaled derivatives. With |h| <=
// 1/128 the first omitted term is below 1e-20: the polynomial is as accurate as the series, at
// the cost of nine multiply-adds and no exp. Beyond 6, erf is 1 to double precision
// (erfc(6) = 2e-17).
const ERF_STEPS = 64;
const ERF_MAX = 6;
const ERF_TERMS = 9;
const ERF_TABLE = ((): Float64Array => {
  const points = ERF_MAX * ERF_STEPS + 1;
  const t = new Float64Array(points * ERF_TERMS);
  for (let j = 0; j < points; j++) {
    const x0 = j / ERF_STEPS;
    const g = (2 / Math.sqrt(Math.PI)) * Math.exp(-x0 * x0);
    t[j * ERF_TERMS] = erfSeries(x0);
    let hPrev = 0, h = 1; // H_(k-2), H_(k-1)
    let factorial = 1;
    for (let k = 1; k < ERF_TERMS; k++) {
      factorial *= k;
      t[j * ERF_TERMS + k] = (g * ((k - 1) % 2 === 0 ? h : -h)) / factorial;
      const next = 2 * x0 * h - 2 * (k - 1) * hPrev; // H_(n+1) = 2x H_n - 2n H_(n-1)
      hPrev = h;
      h = next;
    }
  }
  return t;
})();

/** erf to about 1e-16 (table of Taylor polynomials built from {@link erfSeries}). */
export function erf(x: number): number {
  const ax = Math.abs(x);
  if (!(ax < ERF_MAX)) return Number.isNaN(x) ? x : x < 0 ? -1 : 1;
  const j = Math.round(ax * ERF_STEPS);
  const h = ax - j / ERF_STEPS;
  const t = ERF_TABLE, o = j * ERF_TERMS;
  const r = t[o]! + h * (t[o + 1]! + h * (t[o + 2]! + h * (t[o + 3]! + h * (t[o + 4]! + h * (t[o + 5]! + h * (t[o + 6]! + h * (t[o + 7]! + h * t[o + 8]!)))))));
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
