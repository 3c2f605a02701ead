/**
 * The `blas` backend: the CPU backend with OpenBLAS GEMM and, for the layers that dominate a
 * training step, the C kernels of the addon (native/*.c): activations (relu,
 * leaky_relu, elu, silu and the affine family), batch norm, max pooling, the three
 * convolution passes (im2col / col2im in C, cblas_sgemm called from C, split over samples on
 * the addon's thread pool), depthwise convolutions (direct loops), AdamW and axpy. Everything else, and any call whose storages are not
 * Float32Arrays, runs the TypeScript kernels of CpuBackend. The C kernels reproduce the
 * TypeScript ones to float32 rounding (test/backend/agreement.test.ts checks every op).
 */
import { broadcastStrides, coalesce, denseStrides } from './shapes.js';
import type {
  AdamStepArgs, BatchNormEvalBackwardArgs, BatchNormEvalForwardArgs, BatchNormTrainForwardArgs, BinaryOp, BnReluSelectArgs, FusedEvalKernels, NormBackwardArgs, Storage, UnaryOp,
} from './backend.js';
import { CpuBackend } from './cpu.js';
import { CpuFusedEval } from './cpu/fused.js';
import { maxPool2dForward as maxPool2dTs } from './cpu/pool.js';
import { convGroups, isDepthwise, type Conv2dGeom, type Gemm, type NormGeom, type Pool2dGeom } from './kernels.js';
import type { BlasKernels } from './blas-kernels.js';

/** Op codes of the addon's unary / unaryBackward (enum in native/elementwise.c). */
export const UNARY_OP_CODES: Partial<Record<UnaryOp, number>> = {
  identity: 0, neg: 1, affine: 2, relu: 3, leaky_relu: 4, elu: 5, silu: 6,
};

/** Op codes of the addon's binary. */
const BINARY_OP_CODES: Record<BinaryOp, number> = { add: 0, sub: 1, mul: 2, div: 3 };

/** Below this many elements an elementwise op stays in JS (a native call costs about as much). */
const NATIVE_MIN_ELEMS = 256;

/** Most axes a coalesced layout may have for the addon (MAX_RANK in native/elementwise.c). */
const MAX_RANK = 16;

/**
 * The addon's layout for a loop over `shape` (dense in the output / input it walks) reading
 * with `strides`: [r, shape, ...strides] after dropping size-1 axes and merging axes that are
 * contiguous in every operand (see coalesce() in shapes.ts). null when an axis is empty
 * or the rank is beyond the addon's limit.
 */
function layout(shape: readonly number[], strides: number[][]): Int32Array | null {
  if (shape.some((d) => d === 0)) return null;
  const { shape: outShape, strides: outStrides } = coalesce(shape, strides);
  const r = outShape.length;
  if (r > MAX_RANK) return null;
  const out = new Int32Array(1 + r * (1 + strides.length));
  out[0] = r;
  out.set(outShape, 1);
  for (let k = 0; k < strides.length; k++) out.set(outStrides[k]!, 1 + r * (k + 1));
  return out;
}

const isF32 = (s: Storage | null): s is Storage & Float32Array => s instanceof Float32Array;
const f32n = (s: Storage | null): Float32Array | null => (s === null ? null : (s as unknown as Float32Array));

export class BlasBackend extends CpuBackend {
  /**
   * The fused passes, not preferred as a whole (the C kernels of the separate passes beat the
   * TypeScript ones); bnReluSelect and bnReluMean run in C on the kernel threads (native/fused.c),
   * convBnReluMean folds a convolution into the latter (native/conv.c), the argmax-free max pool
   * runs the C kernel, like maxPool2dForward.
   */
  override readonly fusedEval: FusedEvalKernels;

  constructor(gemm: Gemm, readonly kernels: BlasKernels, description: string) {
    super('blas', 'float32', gemm, description);
    this.fusedEval = new BlasFusedEval(kernels, (x, y, argmax, g) => {
      if (isF32(x) && isF32(y)) kernels.maxPool2dForward(x, y, argmax, g.n, g.c, g.h, g.w, g.kh, g.kw, g.sh, g.sw, g.ph, g.pw, g.oh, g.ow);
      else maxPool2dTs(x, y, argmax, g);
    });
  }

  override unary(op: UnaryOp, x: Storage, y: Storage, alpha: number, beta: number): void {
    const code = UNARY_OP_CODES[op];
    if (code !== undefined && isF32(x) && isF32(y) && x.length >= NATIVE_MIN_ELEMS) this.kernels.unary(code, x, y, alpha, beta);
    else super.unary(op, x, y, alpha, beta);
  }

  override unaryBackward(op: UnaryOp, x: Storage, y: Storage, gy: Storage, gx: Storage, alpha: number, beta: number): void {
    const code = UNARY_OP_CODES[op];
    if (code !== undefined && isF32(x) && isF32(y) && isF32(gy) && isF32(gx) && x.length >= NATIVE_MIN_ELEMS) {
      this.kernels.unaryBackward(code, x, y, gy, gx, alpha);
    } else super.unaryBackward(op, x, y, gy, gx, alpha, beta);
  }

  override binary(op: BinaryOp, a: Storage, aShape: readonly number[], b: Storage, bShape: readonly number[], y: Storage, yShape: readonly number[]): void {
    if (isF32(a) && isF32(b) && isF32(y) && y.length >= NATIVE_MIN_ELEMS) {
      const lay = layout(yShape, [denseStrides(yShape), broadcastStrides(aShape, yShape), broadcastStrides(bShape, yShape)]);
      if (lay !== null) {
        // drop the dense y strides (the addon walks y densely): [r, shape, sY, sA, sB] -> [r, shape, sA, sB]
        const r = lay[0]!;
        const l2 = new Int32Array(1 + 3 * r);
        l2.set(lay.subarray(0, 1 + r), 0);
        l2.set(lay.subarray(1 + 2 * r), 1 + r);
        this.kernels.binary(BINARY_OP_CODES[op], a, b, y, l2);
        return;
      }
    }
    super.binary(op, a, aShape, b, bShape, y, yShape);
  }

  override sumTo(x: Storage, xShape: readonly number[], y: Storage, yShape: readonly number[]): void {
    if (isF32(x) && isF32(y) && x.length >= NATIVE_MIN_ELEMS) {
      const lay = layout(xShape, [denseStrides(xShape), broadcastStrides(yShape, xShape)]);
      if (lay !== null) {
        const r = lay[0]!;
        const l2 = new Int32Array(1 + 2 * r);
        l2.set(lay.subarray(0, 1 + r), 0);
        l2.set(lay.subarray(1 + 2 * r), 1 + r);
        this.kernels.sumTo(x, y, l2);
        return;
      }
    }
    super.sumTo(x, xShape, y, yShape);
  }

  override axpy(alpha: number, x: Storage, y: Storage): void {
    if (isF32(x) && isF32(y) && y.length >= NATIVE_MIN_ELEMS) this.kernels.axpy(alpha, x, y);
    else super.axpy(alpha, x, y);
  }

  override adamStep(a: AdamStepArgs): void {
    const { p, g, m, v } = a;
    if (isF32(p) && isF32(g) && isF32(m) && isF32(v) && p.length >= NATIVE_MIN_ELEMS) {
      this.kernels.adamStep(p, g, m, v, a.lr, a.beta1, a.beta2, a.eps, a.weightDecay, a.step, a.decoupled);
    } else super.adamStep(a);
  }

  // Depthwise geometries go to native/depthwise.c; other groups > 1 to CpuBackend, which runs them
  // per group through these same overrides (grouped.ts).
  override conv2dForward(x: Storage, w: Storage, bias: Storage | null, y: Storage, g: Conv2dGeom): void {
    if (convGroups(g) !== 1) {
      if (isDepthwise(g) && isF32(x) && isF32(w) && isF32(y) && (bias === null || isF32(bias))) {
        this.kernels.depthwiseForward(x, w, f32n(bias), y, g.n, g.c, g.h, g.w, g.o, g.kh, g.kw, g.sh, g.sw, g.ph, g.pw, g.oh, g.ow);
      } else super.conv2dForward(x, w, bias, y, g);
    } else if (isF32(x) && isF32(w) && isF32(y) && (bias === null || isF32(bias))) {
      this.kernels.conv2dForward(x, w, f32n(bias), y, g.n, g.c, g.h, g.w, g.o, g.kh, g.kw, g.sh, g.sw, g.ph, g.pw, g.oh, g.ow);
    } else super.conv2dForward(x, w, bias, y, g);
  }

  override conv2dBackwardData(gy: Storage, w: Storage, gx: Storage, g: Conv2dGeom): void {
    if (convGroups(g) !== 1) {
      if (isDepthwise(g) && isF32(gy) && isF32(w) && isF32(gx)) {
        this.kernels.depthwiseBackwardData(gy, w, gx, g.n, g.c, g.h, g.w, g.o, g.kh, g.kw, g.sh, g.sw, g.ph, g.pw, g.oh, g.ow);
      } else super.conv2dBackwardData(gy, w, gx, g);
    } else if (isF32(gy) && isF32(w) && isF32(gx)) {
      this.kernels.conv2dBackwardData(gy, w, gx, g.n, g.c, g.h, g.w, g.o, g.kh, g.kw, g.sh, g.sw, g.ph, g.pw, g.oh, g.ow);
    } else super.conv2dBackwardData(gy, w, gx, g);
  }

  override conv2dBackwardWeight(gy: Storage, x: Storage, gw: Storage, g: Conv2dGeom): void {
    if (convGroups(g) !== 1) {
      if (isDepthwise(g) && isF32(gy) && isF32(x) && isF32(gw)) {
        this.kernels.depthwiseBackwardWeight(gy, x, gw, g.n, g.c, g.h, g.w, g.o, g.kh, g.kw, g.sh, g.sw, g.ph, g.pw, g.oh, g.ow);
      } else super.conv2dBackwardWeight(gy, x, gw, g);
    } else if (isF32(gy) && isF32(x) && isF32(gw)) {
      this.kernels.conv2dBackwardWeight(gy, x, gw, g.n, g.c, g.h, g.w, g.o, g.kh, g.kw, g.sh, g.sw, g.ph, g.pw, g.oh, g.ow);
    } else super.conv2dBackwardWeight(gy, x, gw, g);
  }

  override maxPool2dForward(x: Storage, y: Storage, argmax: Storage, g: Pool2dGeom): void {
    if (isF32(x) && isF32(y) && argmax instanceof Int32Array) {
      this.kernels.maxPool2dForward(x, y, argmax, g.n, g.c, g.h, g.w, g.kh, g.kw, g.sh, g.sw, g.ph, g.pw, g.oh, g.ow);
    } else super.maxPool2dForward(x, y, argmax, g);
  }

  override maxPool2dBackward(gy: Storage, argmax: Storage, gx: Storage, g: Pool2dGeom): void {
    if (isF32(gy) && isF32(gx) && argmax instanceof Int32Array) {
      this.kernels.maxPool2dBackward(gy, argmax, gx, g.n, g.c, g.h, g.w, g.kh, g.kw, g.sh, g.sw, g.ph, g.pw, g.oh, g.ow);
    } else super.maxPool2dBackward(gy, argmax, gx, g);
  }

  override batchNormTrainForward(a: BatchNormTrainForwardArgs, g: NormGeom): void {
    const { x, gamma, beta, y, mean, invstd, varBiased } = a;
    if (isF32(x) && isF32(y) && isF32(mean) && isF32(invstd) && isF32(varBiased) && (gamma === null || isF32(gamma)) && (beta === null || isF32(beta))) {
      this.kernels.bnTrainForward(x, f32n(gamma), f32n(beta), g.n, g.c, g.s, g.eps, y, mean, invstd, varBiased);
    } else super.batchNormTrainForward(a, g);
  }

  override batchNormTrainBackward(a: NormBackwardArgs, g: NormGeom): void {
    const { gy, x, gamma, mean, invstd, gx, ggamma, gbeta } = a;
    if (isF32(gy) && isF32(x) && isF32(mean) && isF32(invstd) && allF32OrNull(gamma, gx, ggamma, gbeta)) {
      this.kernels.bnTrainBackward(gy, x, f32n(gamma), mean, invstd, g.n, g.c, g.s, f32n(gx), f32n(ggamma), f32n(gbeta));
    } else super.batchNormTrainBackward(a, g);
  }

  override batchNormEvalForward(a: BatchNormEvalForwardArgs, g: NormGeom): void {
    const { x, gamma, beta, runMean, runVar, y } = a;
    if (isF32(x) && isF32(y) && isF32(runMean) && isF32(runVar) && allF32OrNull(gamma, beta)) {
      this.kernels.bnEvalForward(x, f32n(gamma), f32n(beta), runMean, runVar, g.n, g.c, g.s, g.eps, y);
    } else super.batchNormEvalForward(a, g);
  }

  override batchNormEvalBackward(a: BatchNormEvalBackwardArgs, g: NormGeom): void {
    const { gy, x, gamma, runMean, runVar, gx, ggamma, gbeta } = a;
    if (isF32(gy) && isF32(x) && isF32(runMean) && isF32(runVar) && allF32OrNull(gamma, gx, ggamma, gbeta)) {
      this.kernels.bnEvalBackward(gy, x, f32n(gamma), runMean, runVar, g.n, g.c, g.s, g.eps, f32n(gx), f32n(ggamma), f32n(gbeta));
    } else super.batchNormEvalBackward(a, g);
  }
}

function allF32OrNull(...a: (Storage | null)[]): boolean {
  for (const s of a) if (s !== null && !(s instanceof Float32Array)) return false;
  return true;
}

/**
 * CpuFusedEval with the two passes of the planned cnn-s tail in C (native/fused.c): the same
 * arithmetic as this backend's separate BN, relu, sumTo and affine kernels, on its threads. Other
 * dtypes fall back to the TypeScript passes. convBnReluMean (native/conv.c) also folds the
 * convolution before the last of them into it.
 */
class BlasFusedEval extends CpuFusedEval {
  constructor(private readonly k: BlasKernels, maxPool: ConstructorParameters<typeof CpuFusedEval>[1]) {
    super(false, maxPool);
  }

  override bnReluSelect(a: BnReluSelectArgs, g: NormGeom): void {
    const { x, xNeg, gamma, beta, runMean, runVar, y } = a;
    if (isF32(x) && isF32(xNeg) && isF32(y) && isF32(runMean) && isF32(runVar) && allF32OrNull(gamma, beta)) {
      this.k.bnReluSelect(x, xNeg, f32n(gamma), f32n(beta), runMean, runVar, g.n, g.c, g.s, g.eps, y);
    } else super.bnReluSelect(a, g);
  }

  override bnReluMean(a: BatchNormEvalForwardArgs, g: NormGeom): void {
    const { x, gamma, beta, runMean, runVar, y } = a;
    if (isF32(x) && isF32(y) && isF32(runMean) && isF32(runVar) && allF32OrNull(gamma, beta)) {
      this.k.bnReluMean(x, f32n(gamma), f32n(beta), runMean, runVar, g.n, g.c, g.s, g.eps, y);
    } else super.bnReluMean(a, g);
  }

  convBnReluMean(x: Storage, w: Storage, bn: Omit<BatchNormEvalForwardArgs, 'x'>, g: Conv2dGeom, eps: number): boolean {
    const { gamma, beta, runMean, runVar, y } = bn;
    if (convGroups(g) !== 1 || !(isF32(x) && isF32(w) && isF32(y) && isF32(runMean) && isF32(runVar) && allF32OrNull(gamma, beta))) return false;
    if (g.oh * g.ow === 0 || g.c * g.kh * g.kw === 0) return false;
    this.k.conv2dBnReluMean(x, w, f32n(gamma), f32n(beta), runMean, runVar, eps, y, g.n, g.c, g.h, g.w, g.o, g.kh, g.kw, g.sh, g.sw, g.ph, g.pw, g.oh, g.ow);
    return true;
  }

  convBnAct(x: Storage, w: Storage, bias: Storage | null, bn: Omit<BatchNormEvalForwardArgs, 'x'>, g: Conv2dGeom, eps: number,
    act: 'identity' | 'relu' | 'elu', alpha: number): boolean {
    const { gamma, beta, runMean, runVar, y } = bn;
    if (convGroups(g) !== 1 || !(isF32(x) && isF32(w) && isF32(y) && isF32(runMean) && isF32(runVar) && allF32OrNull(bias, gamma, beta))) return false;
    // the separate unary elu runs its C kernel only from NATIVE_MIN_ELEMS elements (the TS one below differs in its exp)
    if (act === 'elu' && y.length < NATIVE_MIN_ELEMS) return false;
    this.k.conv2dBnAct(x, w, f32n(bias), f32n(gamma), f32n(beta), runMean, runVar, eps, act === 'elu' ? 1 : act === 'relu' ? 2 : 0, alpha, y,
      g.n, g.c, g.h, g.w, g.o, g.kh, g.kw, g.sh, g.sw, g.ph, g.pw, g.oh, g.ow);
    return true;
  }
}
