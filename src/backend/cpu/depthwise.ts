/**
 * Depthwise 2-D convolution (groups = c, o = c m) on the CPU by direct loops over the kernel
 * taps, row-major NCHW. Output channel r reads input channel r / m only, through its own
 * kh x kw filter w[r, 0, :, :]. im2col + GEMM would run one product per channel with a reduction
 * of kh kw, which costs far more in data movement than the taps themselves; here each pass walks
 * a plane once per tap, along contiguous rows (strided by sw in x), which the JIT (and the C
 * compiler in native/depthwise.c, the same loops) keeps in registers.
 *
 * Summation order, shared with native/depthwise.c and the WGSL kernels: the forward sums the taps
 * in (ki, kj) order starting from 0, then adds the bias; the backward-data pass sums, for each
 * input, over the channel multiplier j, then the taps in (ki, kj) order; the weight gradient sums
 * over samples, then output positions in row-major order (float64 on the CPU).
 */
import type { Conv2dGeom, FloatArray } from '../kernels.js';

/** First t >= 0 with t * s + off >= 0. */
function firstInside(off: number, s: number): number {
  return off >= 0 ? 0 : Math.ceil(-off / s);
}

/** First t in [lo, count] with t * s + off >= limit. */
function firstPast(off: number, s: number, limit: number, lo: number, count: number): number {
  const t = limit - off <= 0 ? 0 : Math.ceil((limit - off) / s);
  return t < lo ? lo : t > count ? count : t;
}

/**
 * Output rows [oyLo, oyHi) and columns [oxLo, oxHi) whose input position for tap (ki, kj) lies
 * inside the input plane: iy = oy sh - ph + ki in [0, h), ix = ox sw - pw + kj in [0, w).
 */
function tapSpan(g: Conv2dGeom, ki: number, kj: number): [number, number, number, number] {
  const oyLo = Math.min(firstInside(ki - g.ph, g.sh), g.oh);
  const oyHi = firstPast(ki - g.ph, g.sh, g.h, oyLo, g.oh);
  const oxLo = Math.min(firstInside(kj - g.pw, g.sw), g.ow);
  const oxHi = firstPast(kj - g.pw, g.sw, g.w, oxLo, g.ow);
  return [oyLo, oyHi, oxLo, oxHi];
}

/**
 * y = depthwise conv(x, w) + bias. x [n, c, h, w], w [o, 1, kh, kw] with o = c m, bias [o] or
 * null, y [n, o, oh, ow] (overwritten).
 */
export function depthwiseForward(x: FloatArray, w: FloatArray, bias: FloatArray | null, y: FloatArray, g: Conv2dGeom): void {
  const { n, c, h, o, kh, kw, sh, sw, ph, pw, oh, ow } = g;
  const m = o / c;
  const plane = h * g.w, P = oh * ow, taps = kh * kw;
  for (let s = 0; s < n; s++) {
    for (let r = 0; r < o; r++) {
      const yb = (s * o + r) * P;
      const xb = (s * c + Math.floor(r / m)) * plane;
      y.fill(0, yb, yb + P);
      for (let ki = 0; ki < kh; ki++) {
        for (let kj = 0; kj < kw; kj++) {
          const wv = w[r * taps + ki * kw + kj]!;
          const [oyLo, oyHi, oxLo, oxHi] = tapSpan(g, ki, kj);
          for (let oy = oyLo; oy < oyHi; oy++) {
            const yr = yb + oy * ow;
            let xi = xb + (oy * sh - ph + ki) * g.w + oxLo * sw - pw + kj;
            for (let ox = oxLo; ox < oxHi; ox++, xi += sw) y[yr + ox] = y[yr + ox]! + wv * x[xi]!;
          }
        }
      }
      if (bias !== null) {
        const b = bias[r]!;
        for (let j = yb; j < yb + P; j++) y[j] = y[j]! + b;
      }
    }
  }
}

/**
 * gx = dL/dx of y = depthwise conv(x, w), given gy = dL/dy: each input plane gathers the
 * scatter of its m output channels' gradients through their filters. gy [n, o, oh, ow],
 * w [o, 1, kh, kw], gx [n, c, h, w] (overwritten).
 */
export function depthwiseBackwardData(gy: FloatArray, w: FloatArray, gx: FloatArray, g: Conv2dGeom): void {
  const { n, c, h, o, kh, kw, sh, sw, ph, pw, oh, ow } = g;
  const m = o / c;
  const plane = h * g.w, P = oh * ow, taps = kh * kw;
  for (let s = 0; s < n; s++) {
    for (let ci = 0; ci < c; ci++) {
      const xb = (s * c + ci) * plane;
      gx.fill(0, xb, xb + plane);
      for (let j = 0; j < m; j++) {
        const r = ci * m + j;
        const yb = (s * o + r) * P;
        for (let ki = 0; ki < kh; ki++) {
          for (let kj = 0; kj < kw; kj++) {
            const wv = w[r * taps + ki * kw + kj]!;
            const [oyLo, oyHi, oxLo, oxHi] = tapSpan(g, ki, kj);
            for (let oy = oyLo; oy < oyHi; oy++) {
              const yr = yb + oy * ow;
              let xi = xb + (oy * sh - ph + ki) * g.w + oxLo * sw - pw + kj;
              for (let ox = oxLo; ox < oxHi; ox++, xi += sw) gx[xi] = gx[xi]! + wv * gy[yr + ox]!;
            }
          }
        }
      }
    }
  }
}

/**
 * gw = dL/dw of y = depthwise conv(x, w), given gy = dL/dy: gw[r, 0, ki, kj] = sum over samples
 * and output positions of gy[s, r, oy, ox] x[s, r / m, oy sh - ph + ki, ox sw - pw + kj], summed
 * in float64. gy [n, o, oh, ow], x [n, c, h, w], gw [o, 1, kh, kw] (overwritten).
 */
export function depthwiseBackwardWeight(gy: FloatArray, x: FloatArray, gw: FloatArray, g: Conv2dGeom): void {
  const { n, c, h, o, kh, kw, sh, sw, ph, pw, oh, ow } = g;
  const m = o / c;
  const plane = h * g.w, P = oh * ow, taps = kh * kw;
  for (let r = 0; r < o; r++) {
    const ci = Math.floor(r / m);
    for (let ki = 0; ki < kh; ki++) {
      for (let kj = 0; kj < kw; kj++) {
        const [oyLo, oyHi, oxLo, oxHi] = tapSpan(g, ki, kj);
        let acc = 0;
        for (let s = 0; s < n; s++) {
          const yb = (s * o + r) * P;
          const xb = (s * c + ci) * plane;
          for (let oy = oyLo; oy < oyHi; oy++) {
            const yr = yb + oy * ow;
            let xi = xb + (oy * sh - ph + ki) * g.w + oxLo * sw - pw + kj;
            for (let ox = oxLo; ox < oxHi; ox++, xi += sw) acc += gy[yr + ox]! * x[xi]!;
          }
        }
        gw[r * taps + ki * kw + kj] = acc;
      }
    }
  }
}
