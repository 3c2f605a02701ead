/**
 * Fused inference kernels on the CPU (FusedEvalKernels in ../backend.ts): eval-mode batch norm,
 * ReLU and pooling in one pass each, with the per-element arithmetic of the separate kernels
 * (batchNormEvalForward in norm.ts, the unary relu, maxPool2dForward in pool.ts, sumTo and the
 * unary affine in elementwise.ts), so the results are the same bit for bit.
 */
import type { BatchNormEvalForwardArgs, BnPoolGeom, BnReluSelectArgs, FusedEvalKernels, Storage } from '../backend.js';
import type { FloatArray, NormGeom, Pool2dGeom } from '../kernels.js';
import { ShapeError } from '../../util/errors.js';
import { maxPool2dForward } from './pool.js';

const f = (s: Storage): FloatArray => s as unknown as FloatArray;

/**
 * Eval-mode BN as one scale and shift per channel, in float64, as batchNormEvalForward computes
 * them: scale = gamma / sqrt(runVar + eps), shift = beta - runMean scale.
 */
export function evalNormScaleShift(bn: BatchNormEvalForwardArgs, c: number, eps: number, scale: Float64Array, shift: Float64Array): void {
  const gamma = bn.gamma === null ? null : f(bn.gamma), beta = bn.beta === null ? null : f(bn.beta);
  const rm = f(bn.runMean), rv = f(bn.runVar);
  for (let ch = 0; ch < c; ch++) {
    const a = (gamma === null ? 1 : gamma[ch]!) / Math.sqrt(rv[ch]! + eps);
    scale[ch] = a;
    shift[ch] = (beta === null ? 0 : beta[ch]!) - rm[ch]! * a;
  }
}

/**
 * relu of a float32 value v as the unary kernel computes it (v > 0 ? v : 0), branch-free:
 * (v + |v|) / 2 is exact in float64 for finite v (2v is exact, and -|v| + |v| is +0). It gives NaN
 * where relu gives 0 for v = NaN or -Infinity; the kernels below detect that per channel and
 * redo the channel with the branchy form, so results stay bit-identical.
 */
const reluFast = (v: number): number => (v + Math.abs(v)) * 0.5;

/**
 * relu(bn(.)) from pooled inputs: channel ch reads pmax when its scale is >= 0 and pmin
 * otherwise. Per element the same float64 expression as the BN kernel, rounded to float32 like
 * its output, then relu.
 */
export function bnReluSelectKernel(pmax: FloatArray, pmin: FloatArray, rows: number, c: number, plane: number,
  scale: Float64Array, shift: Float64Array, y: FloatArray): void {
  for (let n = 0; n < rows; n++) {
    for (let ch = 0; ch < c; ch++) {
      const a = scale[ch]!, b = shift[ch]!;
      const x = a >= 0 ? pmax : pmin;
      const j0 = (n * c + ch) * plane, e = j0 + plane;
      let check = 0;
      for (let j = j0; j < e; j++) {
        const r = reluFast(Math.fround(x[j]! * a + b));
        y[j] = r;
        check += r;
      }
      if (check !== check) {
        for (let j = j0; j < e; j++) {
          const v = Math.fround(x[j]! * a + b);
          y[j] = v > 0 ? v : 0;
        }
      }
    }
  }
}

/**
 * maxpool2x2(relu(bn(x))) for x [rows, c, h, w] -> y [rows, c, oh, ow] (windows fully inside).
 * relu comes before the max as in the separate kernels, so a NaN entry (relu -> 0) cannot win.
 */
export function bnReluMaxPool2Kernel(x: FloatArray, rows: number, c: number, h: number, w: number, oh: number, ow: number,
  scale: Float64Array, shift: Float64Array, y: FloatArray): void {
  const inPlane = h * w, outPlane = oh * ow;
  for (let n = 0; n < rows; n++) {
    for (let ch = 0; ch < c; ch++) {
      const a = scale[ch]!, b = shift[ch]!;
      const xb = (n * c + ch) * inPlane, ob = (n * c + ch) * outPlane;
      let check = 0;
      for (let oy = 0, o = ob; oy < oh; oy++) {
        const r0 = xb + 2 * oy * w, r1 = r0 + w;
        for (let ox = 0; ox < ow; ox++, o++) {
          const i0 = r0 + 2 * ox, i1 = r1 + 2 * ox;
          const m = Math.max(
            Math.max(reluFast(Math.fround(x[i0]! * a + b)), reluFast(Math.fround(x[i0 + 1]! * a + b))),
            Math.max(reluFast(Math.fround(x[i1]! * a + b)), reluFast(Math.fround(x[i1 + 1]! * a + b))));
          y[o] = m;
          check += m;
        }
      }
      if (check !== check) {
        for (let oy = 0, o = ob; oy < oh; oy++) {
          const r0 = xb + 2 * oy * w, r1 = r0 + w;
          for (let ox = 0; ox < ow; ox++, o++) {
            const i0 = r0 + 2 * ox, i1 = r1 + 2 * ox;
            let m = 0;
            for (let k = 0; k < 4; k++) {
              const v = Math.fround(x[k < 2 ? i0 + k : i1 + k - 2]! * a + b);
              const r = v > 0 ? v : 0;
              if (r > m) m = r;
            }
            y[o] = m;
          }
        }
      }
    }
  }
}

/**
 * Global average pool of relu(bn(x)) for x [rows, c, plane] -> y [rows, c]: the sum in float64
 * over the plane in order and rounded once (sumTo), then times 1/plane (affine).
 */
export function bnReluMeanKernel(x: FloatArray, rows: number, c: number, plane: number, scale: Float64Array, shift: Float64Array, y: FloatArray): void {
  const inv = 1 / plane;
  for (let n = 0; n < rows; n++) {
    for (let ch = 0; ch < c; ch++) {
      const a = scale[ch]!, b = shift[ch]!;
      const j0 = (n * c + ch) * plane, e = j0 + plane;
      let s = 0;
      for (let j = j0; j < e; j++) s += reluFast(Math.fround(x[j]! * a + b));
      if (s !== s) {
        s = 0;
        for (let j = j0; j < e; j++) {
          const v = Math.fround(x[j]! * a + b);
          s += v > 0 ? v : 0;
        }
      }
      y[n * c + ch] = inv * Math.fround(s) + 0;
    }
  }
}

/**
 * y[r] = sum over the plane of relu(x[r, :]) for x [rows, plane]: the unary relu followed by
 * sumTo (float64 sum in order, rounded once), in one pass.
 */
export function reluRowSumsKernel(x: FloatArray, rows: number, plane: number, y: FloatArray): void {
  for (let r = 0; r < rows; r++) {
    const j0 = r * plane, e = j0 + plane;
    let s = 0;
    for (let j = j0; j < e; j++) s += reluFast(x[j]!);
    if (s !== s) {
      s = 0;
      for (let j = j0; j < e; j++) {
        const v = x[j]!;
        s += v > 0 ? v : 0;
      }
    }
    y[r] = s;
  }
}

/** A max-pool kernel writing an argmax (pool.ts's, or the addon's on blas). */
export type MaxPoolKernel = (x: FloatArray, y: FloatArray, argmax: Int32Array, g: Pool2dGeom) => void;

/**
 * The CPU backends' FusedEvalKernels: the kernels above, with the BN folded into a scale and
 * shift per channel on every call (a few dozen channels: nothing next to the pass).
 */
export class CpuFusedEval implements FusedEvalKernels {
  private scale = new Float64Array(0);
  private shift = new Float64Array(0);
  /** The argmax maxPool2d gives the kernel and ignores, grown on demand. */
  private argmax = new Int32Array(0);

  /**
   * @param preferred see FusedEvalKernels.preferred
   * @param maxPool the backend's max-pool kernel (maxPool2d runs it with a reused argmax)
   */
  constructor(readonly preferred: boolean, private readonly maxPool: MaxPoolKernel = maxPool2dForward) {}

  private fold(bn: BatchNormEvalForwardArgs, c: number, eps: number): void {
    if (this.scale.length < c) {
      this.scale = new Float64Array(c);
      this.shift = new Float64Array(c);
    }
    evalNormScaleShift(bn, c, eps, this.scale, this.shift);
  }

  bnReluMaxPool2(a: BatchNormEvalForwardArgs, g: BnPoolGeom): void {
    if (!(g.kh === 2 && g.kw === 2 && g.sh === 2 && g.sw === 2 && g.ph === 0 && g.pw === 0 && 2 * g.oh <= g.h && 2 * g.ow <= g.w)) {
      throw new ShapeError(`bnReluMaxPool2: expected a 2x2 stride-2 unpadded pool inside [${g.h}, ${g.w}], got ${g.kh}x${g.kw} stride ${g.sh}x${g.sw} padding ${g.ph}x${g.pw} -> [${g.oh}, ${g.ow}]`);
    }
    this.fold(a, g.c, g.eps);
    bnReluMaxPool2Kernel(f(a.x), g.n, g.c, g.h, g.w, g.oh, g.ow, this.scale, this.shift, f(a.y));
  }

  bnReluMean(a: BatchNormEvalForwardArgs, g: NormGeom): void {
    this.fold(a, g.c, g.eps);
    bnReluMeanKernel(f(a.x), g.n, g.c, g.s, this.scale, this.shift, f(a.y));
  }

  bnReluSelect(a: BnReluSelectArgs, g: NormGeom): void {
    this.fold(a, g.c, g.eps);
    bnReluSelectKernel(f(a.x), f(a.xNeg), g.n, g.c, g.s, this.scale, this.shift, f(a.y));
  }

  reluRowSums(x: Storage, y: Storage, rows: number, s: number): void {
    reluRowSumsKernel(f(x), rows, s, f(y));
  }

  maxPool2d(x: Storage, y: Storage, g: Pool2dGeom): void {
    const need = g.n * g.c * g.oh * g.ow;
    if (this.argmax.length < need) this.argmax = new Int32Array(need);
    this.maxPool(f(x), f(y), this.argmax, g);
  }
}
