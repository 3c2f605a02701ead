import type { Conv2dGeom, Pool2dGeom } from './kernels.js';

/**
 * Opaque handle to a tensor's memory. Only the backend that made it may look inside: on the CPU
 * backends it is a typed array, on a GPU backend a device buffer.
 */
export interface Storage {
  readonly length: number;
}

export type UnaryOp =
  | 'identity' | 'neg' | 'affine' // affine: y = alpha x + beta
  | 'relu' | 'leaky_relu' | 'elu' | 'silu' | 'gelu' | 'gelu_tanh' | 'tanh' | 'sigmoid'
  | 'exp' | 'log' | 'sqrt' | 'square' | 'abs';

export type BinaryOp = 'add' | 'sub' | 'mul' | 'div';

/** Float type of a backend's storage. float64 exists for gradient checks on the CPU. */
export type DType = 'float32' | 'float64';

/**
 * The kernels every backend provides. Shapes are passed explicitly; storages are dense,
 * row-major. Output storages are allocated by the caller with `alloc` and fully overwritten
 * by the kernel unless the doc says "accumulates".
 */
export interface Backend {
  readonly name: string;
  readonly dtype: DType;
  /** One line on what this backend runs on (for logs and benchmark output). */
  readonly description: string;

  // ---- memory ----
  /** Zero-filled storage of n elements. */
  alloc(n: number): Storage;
  /**
   * Storage of n elements with unspecified contents (it may hold a dead storage's values), for
   * the output of a kernel that overwrites every element; saves the zero-fill of `alloc`.
   */
  empty(n: number): Storage;
  /**
   * Give s's memory back for reuse now instead of when s is garbage-collected. The caller
   * guarantees that nothing uses s afterwards (backward() releases the gradients it passes between
   * ops); a backend may make a released storage unusable. A no-op where there is nothing to gain,
   * and for a storage released before.
   */
  release(s: Storage): void;
  fromArray(data: ArrayLike<number>): Storage;
  /** Copy out to the host (always a new array). */
  read(s: Storage): Float32Array | Float64Array;
  /** Copy `data` into s starting at element `offset`. */
  write(s: Storage, data: ArrayLike<number>, offset?: number): void;
  fill(s: Storage, value: number): void;
  clone(s: Storage): Storage;
  /**
   * The live host array behind s where this backend keeps storages in host memory (the CPU
   * backends: the storage is that array), so a caller can read it, or fill it before a kernel
   * reads it, without a copy; null where s lives on a device (then use read / write).
   */
  hostView(s: Storage): Float32Array | Float64Array | null;
  /**
   * A storage that is the host array `a` itself (no copy), where this backend's storages are
   * host arrays of a's type (a float32 CPU backend takes a Float32Array, a float64 one a
   * Float64Array); null otherwise (then use fromArray). Kernels that write the storage write a.
   */
  wrapHost(a: Float32Array | Float64Array): Storage | null;
  /**
   * Fused inference kernels (see FusedEvalKernels), or null where the backend has none (callers
   * then use the separate kernels).
   */
  readonly fusedEval: FusedEvalKernels | null;

  // ---- elementwise ----
  unary(op: UnaryOp, x: Storage, y: Storage, alpha: number, beta: number): void;
  /** gx = gy * dy/dx for y = op(x); `y` is the forward output (used by tanh, sigmoid, exp, sqrt, elu). */
  unaryBackward(op: UnaryOp, x: Storage, y: Storage, gy: Storage, gx: Storage, alpha: number, beta: number): void;
  /** y = a (op) b with numpy broadcasting; shapes are already left-padded to yShape's rank. */
  binary(op: BinaryOp, a: Storage, aShape: readonly number[], b: Storage, bShape: readonly number[], y: Storage, yShape: readonly number[]): void;
  /** y = sum of x over the axes where yShape is 1 and xShape is not (same rank). */
  sumTo(x: Storage, xShape: readonly number[], y: Storage, yShape: readonly number[]): void;
  /** y += alpha x (accumulates). */
  axpy(alpha: number, x: Storage, y: Storage): void;
  /** Sum of squares of all elements (float64 accumulation). */
  sumSquares(x: Storage): number;
  /** Number of NaN or infinite entries. */
  countNonFinite(x: Storage): number;

  // ---- linear algebra ----
  /**
   * Batched matmul: for each of `batch` items, C = op(A) op(B) (+ C when accumulate).
   * A item [m, k] (or [k, m] when transA), B item [k, n] (or [n, k] when transB), C item [m, n].
   * A stride 0 between items when aBatched is false (same for B).
   */
  matmul(a: Storage, b: Storage, c: Storage, batch: number, m: number, n: number, k: number,
    transA: boolean, transB: boolean, aBatched: boolean, bBatched: boolean, accumulate: boolean): void;

  // ---- convolution (im2col + GEMM on the CPU) ----
  conv2dForward(x: Storage, w: Storage, bias: Storage | null, y: Storage, g: Conv2dGeom): void;
  conv2dBackwardData(gy: Storage, w: Storage, gx: Storage, g: Conv2dGeom): void;
  conv2dBackwardWeight(gy: Storage, x: Storage, gw: Storage, g: Conv2dGeom): void;

  // ---- pooling ----
  maxPool2dForward(x: Storage, y: Storage, g: Pool2dGeom): Int32Array;
  /** Like release(), for an argmax that maxPool2dForward returned (a device backend keeps it on the device). */
  releaseArgmax(argmax: Int32Array): void;
  maxPool2dBackward(gy: Storage, argmax: Int32Array, gx: Storage, g: Pool2dGeom): void;
  avgPool2dForward(x: Storage, y: Storage, g: Pool2dGeom): void;
  avgPool2dBackward(gy: Storage, gx: Storage, g: Pool2dGeom): void;

  // ---- normalisation (x viewed as [n, c, s]) ----
  batchNormTrainForward(x: Storage, gamma: Storage | null, beta: Storage | null, n: number, c: number, s: number, eps: number,
    y: Storage, mean: Storage, invstd: Storage, varBiased: Storage): void;
  batchNormTrainBackward(gy: Storage, x: Storage, gamma: Storage | null, mean: Storage, invstd: Storage, n: number, c: number, s: number,
    gx: Storage | null, ggamma: Storage | null, gbeta: Storage | null): void;
  batchNormEvalForward(x: Storage, gamma: Storage | null, beta: Storage | null, runMean: Storage, runVar: Storage,
    n: number, c: number, s: number, eps: number, y: Storage): void;
  batchNormEvalBackward(gy: Storage, x: Storage, gamma: Storage | null, runMean: Storage, runVar: Storage, n: number, c: number, s: number, eps: number,
    gx: Storage | null, ggamma: Storage | null, gbeta: Storage | null): void;
  /** running = (1 - momentum) running + momentum batch; running var takes the unbiased batch variance var * m / (m - 1). */
  batchNormUpdateRunning(runMean: Storage, runVar: Storage, mean: Storage, varBiased: Storage, momentum: number, m: number): void;
  groupNormForward(x: Storage, gamma: Storage | null, beta: Storage | null, n: number, c: number, s: number, groups: number, eps: number,
    y: Storage, mean: Storage, invstd: Storage): void;
  groupNormBackward(gy: Storage, x: Storage, gamma: Storage | null, mean: Storage, invstd: Storage, n: number, c: number, s: number, groups: number,
    gx: Storage | null, ggamma: Storage | null, gbeta: Storage | null): void;
  layerNormForward(x: Storage, gamma: Storage | null, beta: Storage | null, rows: number, d: number, eps: number, y: Storage, mean: Storage, invstd: Storage): void;
  layerNormBackward(gy: Storage, x: Storage, gamma: Storage | null, mean: Storage, invstd: Storage, rows: number, d: number,
    gx: Storage | null, ggamma: Storage | null, gbeta: Storage | null): void;

  // ---- softmax and losses (over the last axis of [rows, cols]) ----
  softmax(x: Storage, y: Storage, rows: number, cols: number, log: boolean): void;
  softmaxBackward(y: Storage, gy: Storage, gx: Storage, rows: number, cols: number, log: boolean): void;
  /**
   * Mean cross-entropy of logits [rows, cols] against integer labels, with label smoothing, into
   * the one-element `loss` (it stays on the backend: nothing waits for it). Writes
   * d(loss)/d(logits) into `grad` when given.
   */
  crossEntropy(logits: Storage, labels: Int32Array, rows: number, cols: number, smoothing: number, grad: Storage | null, loss: Storage): void;
  /** Row-wise argmax of [rows, cols] (first index on ties). */
  argmaxRows(x: Storage, rows: number, cols: number, out: Int32Array): void;

  // ---- layout ----
  permute(x: Storage, shape: readonly number[], perm: readonly number[], y: Storage): void;
  /**
   * Copy a box `region` from src (at srcStart) into dst (at dstStart); the rank of all shapes is equal.
   * Serves slice, concat, pad and their gradients.
   */
  copyRegion(src: Storage, srcShape: readonly number[], srcStart: readonly number[],
    dst: Storage, dstShape: readonly number[], dstStart: readonly number[], region: readonly number[]): void;

  // ---- optimisers (in place) ----
  /** Adam / AdamW update for one tensor; `step` is 1-based. decoupled = AdamW (p -= lr wd p). */
  adamStep(p: Storage, g: Storage, m: Storage, v: Storage, lr: number, beta1: number, beta2: number, eps: number,
    weightDecay: number, step: number, decoupled: boolean): void;
  /** SGD with momentum (PyTorch semantics: buf = momentum buf + (1 - dampening) g, first step buf = g). */
  sgdStep(p: Storage, g: Storage, buf: Storage | null, lr: number, momentum: number, dampening: number,
    weightDecay: number, nesterov: boolean, first: boolean): void;
  /** y = decay y + (1 - decay) x. */
  emaUpdate(y: Storage, x: Storage, decay: number): void;
}

/** Eval-mode batch norm of c channels, as batchNormEvalForward takes it: y = (x - runMean) / sqrt(runVar + eps) * gamma + beta. */
export interface EvalNormParams {
  /** Per-channel weight [c], or null for 1. */
  gamma: Storage | null;
  /** Per-channel bias [c], or null for 0. */
  beta: Storage | null;
  /** Running mean [c]. */
  runMean: Storage;
  /** Running (unbiased) variance [c]. */
  runVar: Storage;
  /** Added to the variance before the square root. */
  eps: number;
}

/** Arguments of FusedEvalKernels.bnReluMaxPool2. */
export interface BnReluMaxPoolArgs {
  /** Input [g.n, g.c, g.h, g.w]. */
  x: Storage;
  /** The batch norm applied to x. */
  norm: EvalNormParams;
  /** A 2x2, stride 2, unpadded pool whose windows lie inside x (2 oh <= h, 2 ow <= w). */
  g: Pool2dGeom;
  /** Output [g.n, g.c, g.oh, g.ow]. */
  y: Storage;
}

/** Arguments of FusedEvalKernels.bnReluMean. */
export interface BnReluMeanArgs {
  /** Input [n, c, s] (s = h w of an image plane). */
  x: Storage;
  /** The batch norm applied to x. */
  norm: EvalNormParams;
  n: number;
  c: number;
  s: number;
  /** Output [n, c]: the mean over s. */
  y: Storage;
}

/** Arguments of FusedEvalKernels.bnReluSelect. */
export interface BnReluSelectArgs {
  /** Input read for the channels whose BN scale gamma / sqrt(runVar + eps) is >= 0 [n, c, s]. */
  pmax: Storage;
  /** Input read for the other channels [n, c, s]. */
  pmin: Storage;
  /** The batch norm applied to the input. */
  norm: EvalNormParams;
  n: number;
  c: number;
  s: number;
  /** Output [n, c, s]. */
  y: Storage;
}

/** Arguments of FusedEvalKernels.reluRowSums. */
export interface ReluRowSumsArgs {
  /** Input [rows, s]. */
  x: Storage;
  rows: number;
  s: number;
  /** Output [rows]. */
  y: Storage;
}

/** Arguments of FusedEvalKernels.maxPool2d. */
export interface MaxPoolEvalArgs {
  /** Input [g.n, g.c, g.h, g.w]. */
  x: Storage;
  g: Pool2dGeom;
  /** Output [g.n, g.c, g.oh, g.ow]. */
  y: Storage;
}

/**
 * Inference kernels that fuse what would be separate passes (eval-mode batch norm, ReLU,
 * pooling). Each gives bit for bit what the separate kernels give: the same per-element float
 * expressions, rounded where they round, summed in the same order. A caller that relies on that
 * should still check it on its own data (an engine kernel may change): see src/models/tail.ts.
 */
export interface FusedEvalKernels {
  /**
   * Whether every fused pass beats the separate kernels on this backend. True where those are
   * TypeScript (js); false on blas, whose C kernels are faster than a JS pass, except for
   * bnReluMean (one pass instead of three over the largest activation of a tail).
   */
  readonly preferred: boolean;
  /** y = maxPool2d(relu(batchNormEvalForward(x))), 2x2 windows with stride 2. */
  bnReluMaxPool2(args: BnReluMaxPoolArgs): void;
  /**
   * y [n, c] = mean over s of relu(batchNormEvalForward(x)): the sum as sumTo computes it, then
   * times 1 / s as the unary affine does.
   */
  bnReluMean(args: BnReluMeanArgs): void;
  /**
   * y = relu(batchNormEvalForward(pmax or pmin)), per channel pmax where the BN scale is >= 0 and
   * pmin where it is < 0. With pmax / pmin the max / min pool of some x, this is the max pool of
   * relu(bn(x)): relu(bn(.)) is monotone per channel and float rounding is monotone.
   */
  bnReluSelect(args: BnReluSelectArgs): void;
  /** y[r] = sum over s of relu(x[r, :]): the unary relu, then sumTo over the last axis. */
  reluRowSums(args: ReluRowSumsArgs): void;
  /** maxPool2dForward without an argmax (nothing to allocate or release per call). */
  maxPool2d(args: MaxPoolEvalArgs): void;
}
