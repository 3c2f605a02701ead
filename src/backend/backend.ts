import type { Conv2dGeom, GroupNormGeom, LayerNormGeom, NormGeom, Pool2dGeom } from './kernels.js';

/**
 * Opaque handle to a tensor's memory. Only the backend that made it may look inside: on the CPU
 * backends it is a typed array, on a GPU backend a device buffer. Most storages hold floats of the
 * backend's dtype; an index storage (from `allocIndex`) holds exact int32 indices (argmax results)
 * and is read back with `readIndex`.
 */
export interface Storage {
  readonly length: number;
}

export type UnaryOp =
  | 'identity' | 'neg' | 'affine' // affine: y = alpha x + beta
  | 'relu' | 'leaky_relu' | 'elu' | 'silu' | 'gelu' | 'gelu_tanh' | 'tanh' | 'sigmoid' | 'softplus'
  | 'exp' | 'log' | 'sqrt' | 'square' | 'abs';

export type BinaryOp = 'add' | 'sub' | 'mul' | 'div';

/** Float type of a backend's storage. float64 exists for gradient checks on the CPU. */
export type DType = 'float32' | 'float64';

// ---- named arguments ----
// A method with more than a handful of arguments takes them by name: the storages it reads and
// writes, and the sizes and options it needs, as one `*Args` object; sizes that several methods
// share travel as a geometry beside the storages (Conv2dGeom, Pool2dGeom, NormGeom, ...). The
// storage type is a parameter so that the WebGPU worker protocol can reuse these shapes with
// device ids in place of storages (webgpu/protocol.ts).

/** Batched matrix product: for each of `batch` items, C = op(A) op(B) (+ C when accumulate). */
export interface MatmulArgs<S = Storage> {
  /** Left factor: `batch` items of [m, k] ([k, m] when transA), or one item shared by all when aBatched is false. */
  a: S;
  /** Right factor: `batch` items of [k, n] ([n, k] when transB), or one item shared by all when bBatched is false. */
  b: S;
  /** Product [batch, m, n] (overwritten, or added to when accumulate). */
  c: S;
  /** Number of products. */
  batch: number;
  /** Rows of each product. */
  m: number;
  /** Columns of each product. */
  n: number;
  /** Reduction length (columns of op(A), rows of op(B)). */
  k: number;
  /** Use A transposed: each A item is stored [k, m]. Default false. */
  transA?: boolean;
  /** Use B transposed: each B item is stored [n, k]. Default false. */
  transB?: boolean;
  /** A holds `batch` items (stride m k); false: one A for every item (stride 0). Default false. */
  aBatched?: boolean;
  /** B holds `batch` items (stride k n); false: one B for every item (stride 0). Default false. */
  bBatched?: boolean;
  /** C += op(A) op(B) instead of C = op(A) op(B). Default false. */
  accumulate?: boolean;
}

/**
 * Storages of a normalisation's forward pass with statistics computed from x (batch norm in
 * training mode, group norm, layer norm). gamma / beta have one value per channel: [c], or [d]
 * for layer norm.
 */
export interface NormForwardArgs<S = Storage> {
  /** Input: [n, c, s] (batch and group norm) or [rows, d] (layer norm). */
  x: S;
  /** Scale per channel; null means 1. */
  gamma: S | null;
  /** Shift per channel; null means 0. */
  beta: S | null;
  /** Output, shaped like x (overwritten). */
  y: S;
  /** Mean of each statistics group (written): [c] for batch norm, [n * groups] for group norm, [rows] for layer norm. */
  mean: S;
  /** 1 / sqrt(biased variance + eps) of each statistics group (written), shaped like mean. */
  invstd: S;
}

/** Storages of batch norm's training-mode forward pass. */
export interface BatchNormTrainForwardArgs<S = Storage> extends NormForwardArgs<S> {
  /** Biased batch variance per channel [c] (written), for the running statistics. */
  varBiased: S;
}

/**
 * Storages of the backward pass of a NormForwardArgs forward, through the statistics. Gradients
 * are overwritten; a null gradient is not computed.
 */
export interface NormBackwardArgs<S = Storage> {
  /** Gradient of the output, shaped like x. */
  gy: S;
  /** The forward input. */
  x: S;
  /** The forward scale; null means 1. */
  gamma: S | null;
  /** The mean the forward pass wrote. */
  mean: S;
  /** The invstd the forward pass wrote. */
  invstd: S;
  /** Gradient of x, or null. */
  gx: S | null;
  /** Gradient of gamma, or null. */
  ggamma: S | null;
  /** Gradient of beta, or null. */
  gbeta: S | null;
}

/** Storages of batch norm's eval-mode forward pass (running statistics, per channel [c]). */
export interface BatchNormEvalForwardArgs<S = Storage> {
  /** Input [n, c, s]. */
  x: S;
  /** Scale per channel; null means 1. */
  gamma: S | null;
  /** Shift per channel; null means 0. */
  beta: S | null;
  /** Running mean per channel. */
  runMean: S;
  /** Running variance per channel. */
  runVar: S;
  /** Output [n, c, s] (overwritten). */
  y: S;
}

/** Storages of batch norm's eval-mode backward pass (the statistics are constants). A null gradient is not computed. */
export interface BatchNormEvalBackwardArgs<S = Storage> {
  /** Gradient of the output [n, c, s]. */
  gy: S;
  /** The forward input. */
  x: S;
  /** The forward scale; null means 1. */
  gamma: S | null;
  /** Running mean per channel. */
  runMean: S;
  /** Running variance per channel. */
  runVar: S;
  /** Gradient of x, or null. */
  gx: S | null;
  /** Gradient of gamma, or null. */
  ggamma: S | null;
  /** Gradient of beta, or null. */
  gbeta: S | null;
}

/**
 * Running-statistics update of batch norm: running = (1 - momentum) running + momentum batch;
 * the running variance takes the unbiased batch variance varBiased * m / (m - 1).
 */
export interface BatchNormRunningArgs<S = Storage> {
  /** Running mean per channel (updated in place). */
  runMean: S;
  /** Running variance per channel (updated in place). */
  runVar: S;
  /** Batch mean per channel, as batchNormTrainForward wrote it. */
  mean: S;
  /** Biased batch variance per channel, as batchNormTrainForward wrote it. */
  varBiased: S;
  /** Weight of the batch statistics (PyTorch convention). */
  momentum: number;
  /** Values per channel in the batch (n s), for the unbiasing factor. */
  m: number;
}

/** Shape and mode of a softmax over the last axis of [rows, cols]. */
export interface SoftmaxArgs {
  /** Independent rows. */
  rows: number;
  /** Length of the axis the softmax runs over. */
  cols: number;
  /** Log-softmax instead of softmax. */
  log: boolean;
}

/** Mean softmax cross-entropy of logits [rows, cols] against integer labels. */
export interface CrossEntropyArgs<S = Storage> {
  /** Logits [rows, cols]. */
  logits: S;
  /** Class index per row [rows] (host array), each in [0, cols). */
  labels: Int32Array;
  /** Rows (examples). */
  rows: number;
  /** Columns (classes). */
  cols: number;
  /** Label smoothing eps: the target is (1 - eps) onehot + eps / cols (PyTorch); 0 for none. */
  smoothing: number;
  /** d(loss)/d(logits) [rows, cols] (overwritten), or null when no gradient is needed. */
  grad: S | null;
  /** The one-element loss (written; it stays on the backend: nothing waits for it). */
  loss: S;
}

/** One Adam / AdamW update of one tensor, in place (PyTorch's update order). */
export interface AdamStepArgs<S = Storage> {
  /** Parameter (updated). */
  p: S;
  /** Its gradient. */
  g: S;
  /** First-moment estimate (updated). */
  m: S;
  /** Second-moment estimate (updated). */
  v: S;
  /** Learning rate. */
  lr: number;
  /** Decay of the first moment. */
  beta1: number;
  /** Decay of the second moment. */
  beta2: number;
  /** Added to sqrt(v_hat) in the denominator. */
  eps: number;
  /** Weight decay: L2 added to the gradient (Adam) or decoupled (AdamW). */
  weightDecay: number;
  /** 1-based step number, for the bias corrections. */
  step: number;
  /** AdamW: p -= lr weightDecay p, apart from the gradient. */
  decoupled: boolean;
}

/** One SGD update of one tensor, in place (PyTorch semantics: buf = momentum buf + (1 - dampening) g, first step buf = g). */
export interface SgdStepArgs<S = Storage> {
  /** Parameter (updated). */
  p: S;
  /** Its gradient. */
  g: S;
  /** Momentum buffer (updated), or null without momentum. */
  buf: S | null;
  /** Learning rate. */
  lr: number;
  /** Momentum factor (0: plain SGD). */
  momentum: number;
  /** Dampening of the gradient in the momentum buffer. */
  dampening: number;
  /** L2 weight decay added to the gradient. */
  weightDecay: number;
  /** Nesterov momentum. */
  nesterov: boolean;
  /** The first step: the momentum buffer starts as the gradient. */
  first: boolean;
}

/**
 * The kernels every backend provides. Shapes are passed explicitly; storages are dense,
 * row-major. Output storages are allocated by the caller with `alloc` (`allocIndex` for
 * indices) and fully overwritten by the kernel unless the doc says "accumulates".
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
   * Zero-filled index storage of n exact int32 values, for the integer results of a kernel
   * (maxPool2dForward's argmax, argmaxRows). Only kernels write it (write and fill are for float
   * storages); read it back with `readIndex`; `release` frees it.
   */
  allocIndex(n: number): Storage;
  /**
   * Give s's memory back for reuse now instead of when s is garbage-collected. The caller
   * guarantees that nothing uses s afterwards (backward() releases the gradients it passes between
   * ops); a backend may make a released storage unusable. A no-op where there is nothing to gain,
   * and for a storage released before.
   */
  release(s: Storage): void;
  fromArray(data: ArrayLike<number>): Storage;
  /** Copy out to the host (always a new array). Not for index storages. */
  read(s: Storage): Float32Array | Float64Array;
  /** Copy an index storage out to the host (always a new array). */
  readIndex(s: Storage): Int32Array;
  /** Copy `data` into s starting at element `offset`. */
  write(s: Storage, data: ArrayLike<number>, offset?: number): void;
  fill(s: Storage, value: number): void;
  clone(s: Storage): Storage;
  /**
   * The live host array behind s where this backend keeps storages in host memory (the CPU
   * backends: the storage is that array), so a caller can read it, or fill it before a kernel
   * reads it, without a copy; null where s lives on a device (then use read / write). Not for
   * index storages.
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
  /** Batched matmul (see MatmulArgs). */
  matmul(args: MatmulArgs): void;

  // ---- convolution (im2col + GEMM on the CPU) ----
  conv2dForward(x: Storage, w: Storage, bias: Storage | null, y: Storage, g: Conv2dGeom): void;
  conv2dBackwardData(gy: Storage, w: Storage, gx: Storage, g: Conv2dGeom): void;
  conv2dBackwardWeight(gy: Storage, x: Storage, gw: Storage, g: Conv2dGeom): void;

  // ---- pooling ----
  /**
   * Max pooling x -> y; writes into the index storage `argmax` [n, c, oh, ow] (from allocIndex)
   * the flat index of each window's winner within its (sample, channel) plane of x.
   */
  maxPool2dForward(x: Storage, y: Storage, argmax: Storage, g: Pool2dGeom): void;
  /** gx (overwritten) = each gy routed to the argmax that maxPool2dForward wrote. */
  maxPool2dBackward(gy: Storage, argmax: Storage, gx: Storage, g: Pool2dGeom): void;
  avgPool2dForward(x: Storage, y: Storage, g: Pool2dGeom): void;
  avgPool2dBackward(gy: Storage, gx: Storage, g: Pool2dGeom): void;

  // ---- normalisation (x viewed as [n, c, s]; layer norm: [rows, d]) ----
  batchNormTrainForward(a: BatchNormTrainForwardArgs, g: NormGeom): void;
  /** Through the batch statistics (g.eps is not used: invstd carries it). */
  batchNormTrainBackward(a: NormBackwardArgs, g: NormGeom): void;
  batchNormEvalForward(a: BatchNormEvalForwardArgs, g: NormGeom): void;
  batchNormEvalBackward(a: BatchNormEvalBackwardArgs, g: NormGeom): void;
  batchNormUpdateRunning(a: BatchNormRunningArgs): void;
  groupNormForward(a: NormForwardArgs, g: GroupNormGeom): void;
  groupNormBackward(a: NormBackwardArgs, g: GroupNormGeom): void;
  layerNormForward(a: NormForwardArgs, g: LayerNormGeom): void;
  layerNormBackward(a: NormBackwardArgs, g: LayerNormGeom): void;

  // ---- softmax and losses (over the last axis of [rows, cols]) ----
  softmax(x: Storage, y: Storage, a: SoftmaxArgs): void;
  /** softmax: gx = y (gy - sum(gy y)); log-softmax: gx = gy - softmax sum(gy); y is the forward output. */
  softmaxBackward(y: Storage, gy: Storage, gx: Storage, a: SoftmaxArgs): void;
  /** Mean cross-entropy with label smoothing (see CrossEntropyArgs). */
  crossEntropy(a: CrossEntropyArgs): void;
  /** Row-wise argmax of x [rows, cols] (first index on ties) into the index storage `out` [rows] (from allocIndex). */
  argmaxRows(x: Storage, rows: number, cols: number, out: Storage): void;

  // ---- layout ----
  permute(x: Storage, shape: readonly number[], perm: readonly number[], y: Storage): void;
  /**
   * Copy a box `region` from src (at srcStart) into dst (at dstStart); the rank of all shapes is equal.
   * Serves slice, concat, pad and their gradients.
   */
  copyRegion(src: Storage, srcShape: readonly number[], srcStart: readonly number[],
    dst: Storage, dstShape: readonly number[], dstStart: readonly number[], region: readonly number[]): void;

  // ---- optimisers (in place) ----
  /** Adam / AdamW update for one tensor (see AdamStepArgs). */
  adamStep(a: AdamStepArgs): void;
  /** SGD with momentum for one tensor (see SgdStepArgs). */
  sgdStep(a: SgdStepArgs): void;
  /** y = decay y + (1 - decay) x. */
  emaUpdate(y: Storage, x: Storage, decay: number): void;
}

/**
 * Storages of FusedEvalKernels.bnReluSelect: batchNormEvalForward's, with a second input read
 * for the channels whose BN scale gamma / sqrt(runVar + eps) is negative.
 */
export interface BnReluSelectArgs<S = Storage> extends BatchNormEvalForwardArgs<S> {
  /** Input [n, c, s] read for the channels with a negative scale (x is read for the others). */
  xNeg: S;
}

/** Geometry of FusedEvalKernels.bnReluMaxPool2: the pool (2x2, stride 2, no padding, inside x) and the batch norm's eps. */
export interface BnPoolGeom extends Pool2dGeom {
  /** Added to the running variance before its square root. */
  eps: number;
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
  /** y [g.n, g.c, g.oh, g.ow] = maxPool2dForward(relu(batchNormEvalForward(x))) for x [g.n, g.c, g.h, g.w]. */
  bnReluMaxPool2(a: BatchNormEvalForwardArgs, g: BnPoolGeom): void;
  /**
   * y [g.n, g.c] = mean over g.s of relu(batchNormEvalForward(x)) for x [g.n, g.c, g.s]: the sum
   * as sumTo computes it, then times 1 / s as the unary affine does.
   */
  bnReluMean(a: BatchNormEvalForwardArgs, g: NormGeom): void;
  /**
   * y = relu(batchNormEvalForward(x or xNeg)) [g.n, g.c, g.s]: x for the channels whose BN scale is
   * >= 0, xNeg for the others. With x / xNeg the max / min pool of some z, this is the max pool of
   * relu(bn(z)): relu(bn(.)) is monotone per channel and float rounding is monotone.
   */
  bnReluSelect(a: BnReluSelectArgs, g: NormGeom): void;
  /**
   * y [g.n, g.o] = bnReluMean of conv2dForward(x, w) without bias (the mean over g.oh * g.ow of
   * relu(batchNormEvalForward(.)), with bn's eps), bit for bit those two calls, without writing
   * the convolution's output: each of its GEMM blocks is reduced while in cache. Only where a
   * backend has it (blas); false when it cannot take these storages or this geometry (the caller
   * then makes the two calls).
   */
  convBnReluMean?(x: Storage, w: Storage, bn: Omit<BatchNormEvalForwardArgs, 'x'>, g: Conv2dGeom, eps: number): boolean;
  /**
   * y = act(batchNormEvalForward(conv2dForward(x, w, bias))) [g.n, g.o, g.oh, g.ow], act 'identity'
   * 'relu' or 'elu' (the unary op with `alpha`), bit for bit those calls, each block of the output
   * normalised and activated while in cache. Only where a backend has it (blas); false when it
   * cannot take these storages or would not run the separate ops' kernels on them (the caller
   * then makes the separate calls).
   */
  convBnAct?(x: Storage, w: Storage, bias: Storage | null, bn: Omit<BatchNormEvalForwardArgs, 'x'>, g: Conv2dGeom, eps: number,
    act: 'identity' | 'relu' | 'elu', alpha: number): boolean;
  /** y [rows] = sum over s of relu(x [rows, s]): the unary relu, then sumTo over the last axis. */
  reluRowSums(x: Storage, y: Storage, rows: number, s: number): void;
  /** maxPool2dForward without an argmax (nothing to allocate or release per call). */
  maxPool2d(x: Storage, y: Storage, g: Pool2dGeom): void;
}

/**
 * Row-wise argmax of x [rows, cols] into the host array `out` (first `rows` entries), through an
 * index storage released at once. On a device backend this waits for the device.
 */
export function readArgmaxRows(be: Backend, x: Storage, rows: number, cols: number, out: Int32Array): void {
  const idx = be.allocIndex(rows);
  be.argmaxRows(x, rows, cols, idx);
  out.set(be.readIndex(idx).subarray(0, rows));
  be.release(idx);
}
