/**
 * Evaluating many parameter sets fast (SPEC section 8).
 *
 * A parameter set is a flat vector in the order of a parameter layout (src/zoo/layout.ts). It is
 * evaluated by writing it into the base model (the subset only: every other tensor, running
 * statistics included, stays the base model's), BN in eval mode, and taking the top-1 accuracy
 * on each split (val and test).
 *
 * The sets of a run differ only in the subset, so everything before the first stage that uses a
 * subset tensor is the same for all of them: {@link ParamSetEvaluator} computes it once per image
 * (s = model.firstStageOf(layout.names); the output of model.forwardTo(images, s)) and runs only
 * the tail model.forwardFrom(cache, s) per set. The loop over parameter sets sits INSIDE the loop
 * over cached-feature chunks, so one chunk of features serves every set while it is hot in cache.
 *
 * cnn-s has a planned tail: buffers allocated once per chunk size instead of fresh tensors per
 * op, and the backend kernels the ops call, so the numbers are the same. When the first subset
 * layer is a BatchNorm followed by ReLU and 2x2 max-pool (bn mode: bn2), the cache holds the
 * max-pool AND min-pool of the conv output instead of the conv output itself. relu(bn(.)) is a
 * monotone function per channel (non-decreasing when the channel's BN scale gamma/sqrt(var+eps)
 * is >= 0, non-increasing when it is < 0), and float rounding is monotone, so
 *   maxpool(relu(bn(x))) = relu(bn(maxpool(x)))    (scale >= 0)
 *                        = relu(bn(minpool(x)))    (scale <  0)
 * holds exactly, bit for bit: the tail then normalises a quarter of the elements and skips the
 * pooling, and the cache is half the size.
 *
 * On CPU backends some BN + ReLU + pooling blocks also run as single JS passes with the same
 * per-element arithmetic as the kernels they replace: all of them on the TypeScript backend
 * ('fused'), only the last one (BN + ReLU + global average pool, the largest activation of the
 * bn-mode tail) on blas, whose C kernels beat JS passes ('planned'). Whichever variant is chosen
 * must reproduce model.forwardFrom bit for bit on a few images at construction; otherwise the
 * next, more literal variant is tried, and finally the generic path, with a warning.
 *
 * Everything else (mlp, resnet20, custom selections) runs model.forwardFrom through the ops.
 */
import { readArgmaxRows, type Backend, type Storage } from '../backend/backend.js';
import { CpuBackend } from '../backend/cpu.js';
import { maxPool2dForward as maxPool2dKernel } from '../backend/cpu/pool.js';
import { convOutSize, type Conv2dGeom, type FloatArray, type Pool2dGeom } from '../backend/kernels.js';
import type { Dataset } from '../data/dataset.js';
import type { Classifier } from '../models/classifier.js';
import { CnnS } from '../models/cnn-s.js';
import type { BatchNorm, Conv2d } from '../nn/layers.js';
import type { Module } from '../nn/module.js';
import * as ops from '../tensor/ops.js';
import { Tensor, dispose, noGrad, scope } from '../tensor/tensor.js';
import { NumericError, ShapeError } from '../util/errors.js';
import { accuracy, classificationMetrics, type ClassificationMetrics, type Labels } from './metrics.js';

/**
 * The part of a ParamLayout (src/zoo/layout.ts) the evaluator needs: where each subset tensor
 * lives in a flat vector, and how to copy a vector into a model and back.
 */
export interface ParamLayoutLike {
  readonly names: readonly string[];
  readonly shapes: ReadonlyArray<readonly number[]>;
  readonly offsets: readonly number[];
  readonly sizes: readonly number[];
  /** Floats per parameter set. */
  readonly total: number;
  /** Copy a vector [total] into the model's subset tensors. */
  write(model: Module, vec: Float32Array): void;
  /** The model's subset as a new vector [total]. */
  read(model: Module): Float32Array;
}

/** One split's outcome for one parameter set. */
export interface SplitResult {
  /** Top-1 accuracy in percent. */
  acc: number;
  /** Predicted class per example [n] (argmax of the logits, first index on ties). */
  preds: Int32Array;
}

/** Default split names: the SPEC's val and test. */
export type DefaultSplits = 'val' | 'test';

export interface ParamSetEvaluatorOptions<S extends string = DefaultSplits> {
  /**
   * The base model. The evaluator writes parameter sets into its subset tensors and restores the
   * base values after every call; its other tensors must not change while the evaluator is used
   * (the cached features depend on them).
   */
  model: Classifier;
  /** Layout of the parameter vectors (a ParamLayout). */
  layout: ParamLayoutLike;
  /** The splits to evaluate on, e.g. { val, test } (or { test } for a shifted test set). */
  datasets: Record<S, Dataset>;
  /** Images per chunk (forward batch). Default 1000. */
  batch?: number;
  /** Cache the features before the first subset stage. Default true. */
  cacheFeatures?: boolean;
  /** Largest feature cache allowed, in bytes; above it the evaluator warns and runs without a cache. Default 1 GiB. */
  maxCacheBytes?: number;
  /**
   * Which cnn-s plan to try first; each candidate is used only where it applies and reproduces
   * the generic forward bit for bit, else the next one is tried:
   * 'auto' (default) = fused on a CPU backend with the TypeScript kernels, unfused on blas (whose
   * C kernels beat the fused JS passes); 'fused' = fused on any CPU backend; 'unfused' = backend kernels with the
   * last block (BN + ReLU + global average pool) as one JS pass on CPU backends; 'kernels' =
   * backend kernels only; 'generic' = always model.forwardFrom through the ops.
   */
  plan?: EvaluatorPlan;
  /** Where warnings go (cache fallback, plan fallback). Default: one line on stderr. */
  onWarning?: (message: string) => void;
}

export interface EvaluateOptions {
  /** Called after each chunk with the (chunk x parameter set) passes done and the total. */
  onProgress?: (done: number, total: number) => void;
  /**
   * Continue an interrupted {@link ParamSetEvaluator.evaluate}: the predictions of its first
   * `chunksDone` chunks, as `onChunk` gave them. Only evaluate (the cached path) takes it.
   */
  resume?: EvalPartial;
  /**
   * Called after each chunk of evaluate with the number of chunks done and a function that copies
   * out the predictions so far (an {@link EvalPartial}); call it only when saving.
   */
  onChunk?: (chunksDone: number, snapshot: () => EvalPartial) => void;
}

/**
 * Predictions of an unfinished evaluate: preds [P, rows of every split, in split order] (int32
 * class indices), of which the rows of the first `chunksDone` chunks are filled. Chunks run in
 * split order, so that is a prefix of each set's rows.
 */
export interface EvalPartial {
  chunksDone: number;
  preds: Int32Array;
}

/**
 * How the tail is computed: 'fused' (cnn-s plan with fused BN + ReLU + pooling passes, CPU
 * backends), 'planned' (cnn-s plan calling the ops' kernels on reused buffers) or 'generic'
 * (model.forwardFrom through the ops).
 */
export type EvaluatorPath = 'fused' | 'planned' | 'generic';

/** The plan choice of ParamSetEvaluatorOptions.plan. */
export type EvaluatorPlan = 'auto' | 'fused' | 'unfused' | 'kernels' | 'generic';

/** Default cache limit: 1 GiB. */
export const DEFAULT_MAX_CACHE_BYTES = 1024 * 1024 * 1024;

/**
 * Images per pass of the fused cnn-s forward: small enough that a block's buffers (conv3's
 * column matrix: 288 x 49 floats per image) stay in a 2 MiB L2 cache, large enough for GEMMs
 * of a few hundred columns.
 */
const FUSED_SUB_BATCH = 32;

const convSize = (g: Conv2dGeom): number => g.o * g.oh * g.ow;
const poolSize = (g: Pool2dGeom): number => g.c * g.oh * g.ow;

/** Images checked when comparing the planned forward with the generic one at construction. */
const PLAN_CHECK_IMAGES = 16;

interface Chunk {
  split: number;
  start: number;
  rows: number;
  /** Cached features (the runner's format), or null when they are made from the images on the fly. */
  feats: Tensor[] | null;
}

/** Computes features of an image chunk and the logits of the tail from them. */
interface Runner {
  readonly start: number;
  readonly kind: EvaluatorPath;
  /** Features of images x [b, c, h, w] at stage `start` (what run() consumes). */
  features(x: Tensor): Tensor[];
  /** Logits [rows, classes] of the tail for one chunk's features. Valid until the next call. */
  run(feats: readonly Tensor[], rows: number): Storage;
  /** Floats per image in features(). */
  featureFloats(): number;
}

/** Generic runner: model.forwardTo / model.forwardFrom through the ops. */
class GenericRunner implements Runner {
  readonly kind = 'generic';
  private floats = -1;
  constructor(private readonly model: Classifier, readonly start: number, private readonly probe: () => Tensor) {}
  features(x: Tensor): Tensor[] {
    return [this.model.forwardTo(x, this.start)];
  }
  run(feats: readonly Tensor[], rows: number): Storage {
    const y = this.model.forwardFrom(feats[0]!, this.start);
    if (y.rank !== 2 || y.shape[0] !== rows) {
      throw new ShapeError(`ParamSetEvaluator: ${this.model.arch}.forwardFrom returned [${y.shape.join(', ')}], expected logits [${rows}, classes]`);
    }
    return y.storage;
  }
  featureFloats(): number {
    if (this.floats < 0) {
      const h = this.model.forwardTo(this.probe(), this.start);
      this.floats = h.size / h.shape[0]!;
    }
    return this.floats;
  }
}

interface PlanBuffers {
  c1: Storage | null; t1: Storage | null; p1: Storage | null;
  c2: Storage | null; t2: Storage | null; p2: Storage | null;
  neg: Storage | null;
  c3: Storage | null; t3: Storage | null; gap: Storage; logits: Storage;
  argmax: Int32Array | null;
}

/** Geometry of one conv + BN + ReLU (+ 2x2 max-pool) block of cnn-s. */
interface BlockGeom {
  conv: Conv2dGeom;
  /** 2x2/2 max-pool after BN + ReLU (null for the last block: global average pool instead). */
  pool: Pool2dGeom | null;
}

/** Eval-mode BN as one scale and shift per channel, in float64, as batchNormEvalForward computes them. */
function bnScaleShift(bn: BatchNorm, host: (s: Storage) => Float32Array | Float64Array, scale: Float64Array, shift: Float64Array): void {
  const gamma = bn.weight ? host(bn.weight.storage) : null;
  const beta = bn.bias ? host(bn.bias.storage) : null;
  const rm = host(bn.runningMean!.storage), rv = host(bn.runningVar!.storage);
  for (let ch = 0; ch < bn.numFeatures; ch++) {
    const a = (gamma === null ? 1 : gamma[ch]!) / Math.sqrt(rv[ch]! + bn.eps);
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
 * Fused relu(bn(.)) from the pooled features: channel ch reads pmax when its scale is >= 0 and
 * pmin otherwise (module comment). Per element the same float64 expression as the BN kernel,
 * rounded to float32 like its output, then relu.
 */
function pooledBnReluKernel(pmax: FloatArray, pmin: FloatArray, rows: number, c: number, plane: number,
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
 * Fused maxpool2x2(relu(bn(x))) for x [rows, c, h, w] -> y [rows, c, oh, ow] (windows fully
 * inside). relu comes before the max as in the reference, so a NaN entry (relu -> 0) cannot win.
 */
function bnReluPoolKernel(x: FloatArray, rows: number, c: number, h: number, w: number, oh: number, ow: number,
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
 * Fused global average pool of relu(bn(x)) for x [rows, c, plane] -> y [rows, c]: the sum in
 * float64 over the plane in order and rounded once (sumTo), then times 1/plane (affine).
 */
function bnReluGapKernel(x: FloatArray, rows: number, c: number, plane: number, scale: Float64Array, shift: Float64Array, y: FloatArray): void {
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
function reluSumKernel(x: FloatArray, rows: number, plane: number, y: FloatArray): void {
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

/**
 * cnn-s forward from stage `start` on preallocated buffers. Unfused, it calls the kernels the
 * ops call (conv2dForward, batchNormEvalForward, unary relu, maxPool2dForward, sumTo + affine for
 * the global average pool, matmul + broadcast add for the linear head). Fused (CPU backends
 * only), BN + ReLU + pooling run as one pass per block with the same per-element arithmetic;
 * convolutions and the head still go through the backend. Either way the constructor of
 * ParamSetEvaluator checks the result bit for bit against the generic forward.
 */
class CnnSPlan implements Runner {
  readonly kind: EvaluatorPath;
  /** Whether the features are [maxpool, minpool] of the conv output feeding the first subset BN. */
  readonly poolTrick: boolean;
  private readonly be: Backend;
  private readonly cpu: CpuBackend | null;
  private readonly jsPool: boolean;
  private readonly blocks: [BlockGeom, BlockGeom, BlockGeom];
  private readonly bufs = new Map<number, PlanBuffers>();
  private readonly scale: Float64Array;
  private readonly shift: Float64Array;

  /**
   * @param fused all BN + ReLU + pooling blocks as fused JS passes (CPU backends)
   * @param jsGap (unfused) the last block, BN + ReLU + global average pool, as one fused JS pass (CPU backends)
   */
  constructor(private readonly m: CnnS, readonly start: number, inShape: readonly [number, number, number], readonly fused: boolean, readonly jsGap: boolean) {
    this.be = m.backend;
    this.kind = fused ? 'fused' : 'planned';
    this.cpu = this.be instanceof CpuBackend ? this.be : null;
    // The backend's max-pool is the TypeScript kernel: call it directly with a reused argmax buffer.
    this.jsPool = this.cpu !== null && this.be.maxPool2dForward === CpuBackend.prototype.maxPool2dForward;
    if ((fused || jsGap) && !this.cpu) throw new ShapeError('cnn-s plan: the fused kernels need a CPU backend');
    const [c, h, w] = inShape;
    const b1 = blockGeom(m.conv1, c, h, w, true);
    const b2 = blockGeom(m.conv2, m.conv1.outChannels, b1.pool!.oh, b1.pool!.ow, true);
    const b3 = blockGeom(m.conv3, m.conv2.outChannels, b2.pool!.oh, b2.pool!.ow, false);
    this.blocks = [b1, b2, b3];
    this.poolTrick = start === 1 || start === 3;
    const cmax = Math.max(m.conv1.outChannels, m.conv2.outChannels, m.conv3.outChannels);
    this.scale = new Float64Array(cmax);
    this.shift = new Float64Array(cmax);
  }

  /** Whether the plan can stand in for CnnS.forwardFrom (eval-mode BN needs running statistics). */
  static applicable(m: CnnS): boolean {
    return [m.bn1, m.bn2, m.bn3].every((bn) => bn.runningMean !== null && bn.runningVar !== null);
  }

  features(x: Tensor): Tensor[] {
    const h = this.m.forwardTo(x, this.start);
    if (!this.poolTrick) return [h];
    return [ops.maxPool2d(h, { kernel: 2 }), ops.neg(ops.maxPool2d(ops.neg(h), { kernel: 2 }))];
  }

  featureFloats(): number {
    const [b1, b2, b3] = this.blocks;
    const planeOf = (g: Conv2dGeom): number => g.o * g.oh * g.ow;
    const pooled = (g: Pool2dGeom): number => g.c * g.oh * g.ow;
    switch (this.start) {
      case 0: return b1.conv.c * b1.conv.h * b1.conv.w;
      case 1: return 2 * pooled(b1.pool!);
      case 2: return pooled(b1.pool!);
      case 3: return 2 * pooled(b2.pool!);
      case 4: return pooled(b2.pool!);
      case 5: return planeOf(b3.conv);
      default: return b3.conv.o;
    }
  }

  private buffers(rows: number): PlanBuffers {
    let b = this.bufs.get(rows);
    if (b) return b;
    if (this.bufs.size >= 4) this.bufs.clear(); // chunk sizes: the batch and the last chunk of each split
    const be = this.be, s = this.start;
    const [b1, b2, b3] = this.blocks;
    const convOut = (g: Conv2dGeom): number => rows * g.o * g.oh * g.ow;
    const poolOut = (g: Pool2dGeom): number => rows * g.c * g.oh * g.ow;
    const alloc = (need: boolean, n: number): Storage | null => (need ? be.alloc(n) : null);
    b = {
      c1: alloc(s < 1, convOut(b1.conv)),
      t1: alloc(s < 1 || (s === 1 && !this.poolTrick), convOut(b1.conv)),
      p1: alloc(s < 2, poolOut(b1.pool!)),
      c2: alloc(s < 3, convOut(b2.conv)),
      t2: alloc(s < 3 || (s === 3 && !this.poolTrick), convOut(b2.conv)),
      p2: alloc(s < 4, poolOut(b2.pool!)),
      // relu(bn(minpool)) for the channels with a negative BN scale.
      neg: alloc(this.poolTrick, s === 1 ? poolOut(b1.pool!) : poolOut(b2.pool!)),
      c3: alloc(s < 5, convOut(b3.conv)),
      t3: alloc(s < 6 && !this.jsGap, convOut(b3.conv)),
      gap: be.alloc(rows * b3.conv.o),
      logits: be.alloc(rows * this.m.fc.outFeatures),
      argmax: this.jsPool && s < 4 ? new Int32Array(Math.max(s < 2 ? poolOut(b1.pool!) : 0, poolOut(b2.pool!))) : null,
    };
    this.bufs.set(rows, b);
    return b;
  }

  run(feats: readonly Tensor[], rows: number): Storage {
    if (this.fused) return this.runFused(feats, rows);
    const m = this.m, be = this.be, s = this.start;
    const [b1, b2, b3] = this.blocks;
    const buf = this.buffers(rows);
    let x: Storage = feats[0]!.storage;
    if (s < 1) x = this.conv(m.conv1, x, buf.c1!, b1.conv, rows);
    if (s < 2) {
      x = s === 1 && this.poolTrick
        ? this.pooledBlock(m.bn1, x, feats[1]!.storage, buf.p1!, buf.neg, b1.pool!, rows)
        : this.block(m.bn1, x, buf.t1, buf.p1!, b1.conv, b1.pool!, rows, buf.argmax);
    }
    if (s < 3) x = this.conv(m.conv2, x, buf.c2!, b2.conv, rows);
    if (s < 4) {
      x = s === 3 && this.poolTrick
        ? this.pooledBlock(m.bn2, x, feats[1]!.storage, buf.p2!, buf.neg, b2.pool!, rows)
        : this.block(m.bn2, x, buf.t2, buf.p2!, b2.conv, b2.pool!, rows, buf.argmax);
    }
    if (s < 5) x = this.conv(m.conv3, x, buf.c3!, b3.conv, rows);
    if (s < 6) {
      // ops.globalAvgPool2d(ops.relu(bn3(x))) = mean over [2, 3] = sumTo, then affine(1 / (h w)).
      const g = b3.conv, plane = g.oh * g.ow;
      if (this.jsGap) {
        // One pass instead of BN, relu and sum passes over the largest activation of the tail.
        bnScaleShift(m.bn3, this.hostFn, this.scale, this.shift);
        bnReluGapKernel(this.cpu!.view(x), rows, g.o, plane, this.scale, this.shift, this.cpu!.view(buf.gap));
      } else {
        this.bnEval(m.bn3, x, buf.t3!, rows, g.o, plane);
        if (this.cpu) {
          reluSumKernel(this.cpu.view(buf.t3!), rows * g.o, plane, this.cpu.view(buf.gap)); // relu + sumTo in one pass
        } else {
          be.unary('relu', buf.t3!, buf.t3!, 0, 0);
          be.sumTo(buf.t3!, [rows, g.o, g.oh, g.ow], buf.gap, [rows, g.o, 1, 1]);
        }
        be.unary('affine', buf.gap, buf.gap, 1 / plane, 0);
      }
      x = buf.gap;
    }
    // ops.linear: x W^T, then the bias broadcast over rows.
    const fc = m.fc, out = fc.outFeatures, inF = fc.inFeatures;
    be.matmul({ a: x, b: fc.weight.storage, c: buf.logits, batch: 1, m: rows, n: out, k: inF, transB: true });
    if (fc.bias) be.binary('add', buf.logits, [rows, out], fc.bias.storage, [1, out], buf.logits, [rows, out]);
    return buf.logits;
  }

  /**
   * The fused forward, FUSED_SUB_BATCH images at a time so that each block's buffers (the
   * convolution's column matrix above all) stay in cache; the head runs once on all rows.
   */
  private runFused(feats: readonly Tensor[], rows: number): Storage {
    const m = this.m, cpu = this.cpu!, s = this.start;
    const [b1, b2, b3] = this.blocks;
    const fb = this.fusedBuffers(rows);
    let head: Storage = fb.gap;
    if (s >= 6) head = feats[0]!.storage;
    else {
      const f0 = cpu.view(feats[0]!.storage), f1 = feats[1] ? cpu.view(feats[1].storage) : null;
      const per = f0.length / rows;
      const gap = cpu.view(fb.gap), c3o = b3.conv.o;
      for (let r0 = 0; r0 < rows; r0 += FUSED_SUB_BATCH) {
        const n = Math.min(FUSED_SUB_BATCH, rows - r0);
        const part = (a: FloatArray, size: number): FloatArray => a.subarray(0, n * size);
        let x: FloatArray = f0.subarray(r0 * per, (r0 + n) * per);
        if (s < 1) x = this.convView(m.conv1, x, part(fb.c1!, convSize(b1.conv)), b1.conv, n);
        if (s < 2) {
          const y = part(fb.p1!, poolSize(b1.pool!));
          if (s === 1) this.pooledFused(m.bn1, x, f1!.subarray(r0 * per, (r0 + n) * per), y, b1.pool!, n);
          else this.blockFused(m.bn1, x, y, b1.conv, b1.pool!, n);
          x = y;
        }
        if (s < 3) x = this.convView(m.conv2, x, part(fb.c2!, convSize(b2.conv)), b2.conv, n);
        if (s < 4) {
          const y = part(fb.p2!, poolSize(b2.pool!));
          if (s === 3) this.pooledFused(m.bn2, x, f1!.subarray(r0 * per, (r0 + n) * per), y, b2.pool!, n);
          else this.blockFused(m.bn2, x, y, b2.conv, b2.pool!, n);
          x = y;
        }
        if (s < 5) x = this.convView(m.conv3, x, part(fb.c3!, convSize(b3.conv)), b3.conv, n);
        bnScaleShift(m.bn3, this.hostFn, this.scale, this.shift);
        bnReluGapKernel(x, n, c3o, b3.conv.oh * b3.conv.ow, this.scale, this.shift, gap.subarray(r0 * c3o, (r0 + n) * c3o));
      }
    }
    const fc = m.fc, out = fc.outFeatures, inF = fc.inFeatures, be = this.be;
    be.matmul({ a: head, b: fc.weight.storage, c: fb.logits, batch: 1, m: rows, n: out, k: inF, transB: true });
    if (fc.bias) be.binary('add', fb.logits, [rows, out], fc.bias.storage, [1, out], fb.logits, [rows, out]);
    return fb.logits;
  }

  /** Sub-batch buffers (c1, p1, c2, p2, c3 for FUSED_SUB_BATCH images) and gap / logits for `rows`. */
  private fusedBuffers(rows: number): { c1: FloatArray | null; p1: FloatArray | null; c2: FloatArray | null; p2: FloatArray | null; c3: FloatArray | null; gap: Storage; logits: Storage } {
    const sub = Math.min(FUSED_SUB_BATCH, rows);
    if (!this.fusedSub || this.fusedSub.sub < sub) {
      const s = this.start, [b1, b2, b3] = this.blocks;
      const mk = (need: boolean, size: number): FloatArray | null => (need ? this.cpu!.view(this.be.alloc(sub * size)) : null);
      this.fusedSub = {
        sub,
        c1: mk(s < 1, convSize(b1.conv)), p1: mk(s < 2, poolSize(b1.pool!)),
        c2: mk(s < 3, convSize(b2.conv)), p2: mk(s < 4, poolSize(b2.pool!)),
        c3: mk(s < 5, convSize(b3.conv)),
      };
    }
    let io = this.fusedIo.get(rows);
    if (!io) {
      if (this.fusedIo.size >= 4) this.fusedIo.clear();
      io = { gap: this.be.alloc(rows * this.blocks[2].conv.o), logits: this.be.alloc(rows * this.m.fc.outFeatures) };
      this.fusedIo.set(rows, io);
    }
    return { ...this.fusedSub, ...io };
  }

  private fusedSub: { sub: number; c1: FloatArray | null; p1: FloatArray | null; c2: FloatArray | null; p2: FloatArray | null; c3: FloatArray | null } | null = null;
  private readonly fusedIo = new Map<number, { gap: Storage; logits: Storage }>();

  private convView(layer: Conv2d, x: FloatArray, y: FloatArray, g: Conv2dGeom, n: number): FloatArray {
    this.be.conv2dForward(x, layer.weight.storage, layer.bias ? layer.bias.storage : null, y, { ...g, n });
    return y;
  }

  private blockFused(bn: BatchNorm, x: FloatArray, y: FloatArray, g: Conv2dGeom, pg: Pool2dGeom, n: number): void {
    bnScaleShift(bn, this.hostFn, this.scale, this.shift);
    bnReluPoolKernel(x, n, g.o, g.oh, g.ow, pg.oh, pg.ow, this.scale, this.shift, y);
  }

  private pooledFused(bn: BatchNorm, pmax: FloatArray, pmin: FloatArray, y: FloatArray, pg: Pool2dGeom, n: number): void {
    this.scaleShiftChecked(bn);
    pooledBnReluKernel(pmax, pmin, n, pg.c, pg.oh * pg.ow, this.scale, this.shift, y);
  }

  /** bnScaleShift, refusing a non-finite scale (the pooled identity needs a finite, signed scale). */
  private scaleShiftChecked(bn: BatchNorm): void {
    bnScaleShift(bn, this.hostFn, this.scale, this.shift);
    for (let ch = 0; ch < bn.numFeatures; ch++) {
      const a = this.scale[ch]!;
      if (!Number.isFinite(a)) {
        throw new NumericError(`ParamSetEvaluator: the BN scale weight / sqrt(running_var + eps) of channel ${ch} is ${a}, expected a finite number`);
      }
    }
  }

  private conv(layer: Conv2d, x: Storage, y: Storage, g: Conv2dGeom, rows: number): Storage {
    this.be.conv2dForward(x, layer.weight.storage, layer.bias ? layer.bias.storage : null, y, { ...g, n: rows });
    return y;
  }

  private bnEval(bn: BatchNorm, x: Storage, y: Storage, rows: number, c: number, plane: number): void {
    this.be.batchNormEvalForward({ x, gamma: bn.weight ? bn.weight.storage : null, beta: bn.bias ? bn.bias.storage : null,
      runMean: bn.runningMean!.storage, runVar: bn.runningVar!.storage, y }, { n: rows, c, s: plane, eps: bn.eps });
  }

  /** bn -> relu -> 2x2 max-pool on the conv output x. */
  private block(bn: BatchNorm, x: Storage, t: Storage | null, p: Storage, g: Conv2dGeom, pg: Pool2dGeom, rows: number, argmax: Int32Array | null): Storage {
    this.bnEval(bn, x, t!, rows, g.o, g.oh * g.ow);
    this.be.unary('relu', t!, t!, 0, 0);
    const geom = { ...pg, n: rows };
    if (this.jsPool && argmax) maxPool2dKernel(this.cpu!.view(t!), this.cpu!.view(p), argmax, geom); // no argmax allocation per call
    else {
      const am = this.be.allocIndex(geom.n * geom.c * geom.oh * geom.ow);
      this.be.maxPool2dForward(t!, p, am, geom);
      this.be.release(am);
    }
    return p;
  }

  /**
   * The same block from the pooled features: relu(bn(maxpool)) for channels whose BN scale is
   * >= 0, relu(bn(minpool)) for the others (see the module comment).
   */
  private pooledBlock(bn: BatchNorm, pmax: Storage, pmin: Storage, y: Storage, tmp: Storage | null, pg: Pool2dGeom, rows: number): Storage {
    const be = this.be, c = pg.c, plane = pg.oh * pg.ow;
    this.scaleShiftChecked(bn);
    this.bnEval(bn, pmax, y, rows, c, plane);
    let negDone = false;
    for (let ch = 0; ch < c; ch++) {
      if (this.scale[ch]! >= 0) continue;
      if (!negDone) {
        this.bnEval(bn, pmin, tmp!, rows, c, plane);
        negDone = true;
      }
      be.copyRegion(tmp!, [rows, c, plane], [0, ch, 0], y, [rows, c, plane], [0, ch, 0], [rows, 1, plane]);
    }
    be.unary('relu', y, y, 0, 0);
    return y;
  }

  private readonly hostFn = (s: Storage): Float32Array | Float64Array => (this.cpu ? this.cpu.view(s) : this.be.read(s));
}

function blockGeom(conv: Conv2d, c: number, h: number, w: number, pooled: boolean): BlockGeom {
  const k = conv.kernel, st = conv.stride, pd = conv.padding;
  const oh = convOutSize(h, k, st, pd), ow = convOutSize(w, k, st, pd);
  const g: Conv2dGeom = { n: 0, c, h, w, o: conv.outChannels, kh: k, kw: k, sh: st, sw: st, ph: pd, pw: pd, oh, ow };
  const pool: Pool2dGeom | null = pooled
    ? { n: 0, c: conv.outChannels, h: oh, w: ow, kh: 2, kw: 2, sh: 2, sw: 2, ph: 0, pw: 0, oh: convOutSize(oh, 2, 2, 0), ow: convOutSize(ow, 2, 2, 0) }
    : null;
  if (oh <= 0 || ow <= 0 || (pool && (pool.oh <= 0 || pool.ow <= 0))) {
    throw new ShapeError(`cnn-s plan: input [${c}, ${h}, ${w}] is too small for ${conv.kernel}x${conv.kernel} conv + 2x2 pool`);
  }
  return { conv: g, pool };
}

/** A chunk of a dataset's images as a tensor [rows, c, h, w] on `be`. */
function imageChunk(ds: Dataset, start: number, rows: number, be: Backend): Tensor {
  const sz = ds.c * ds.h * ds.w;
  return new Tensor(be.fromArray(ds.images.subarray(start * sz, (start + rows) * sz)), [rows, ds.c, ds.h, ds.w], be);
}

/** Top-1 / top-5 / macro-F1 / per-class accuracy / confusion of predictions (metrics.ts). */
export function fullMetrics(preds: Int32Array, labels: Labels, numClasses: number, logits?: Float32Array): ClassificationMetrics {
  return classificationMetrics(preds, labels, numClasses, logits ? { logits } : {});
}

/**
 * Evaluates many parameter sets of one base model on fixed datasets (SPEC section 8), caching
 * the features before the first stage that uses the subset. See the module comment.
 */
export class ParamSetEvaluator<S extends string = DefaultSplits> {
  readonly model: Classifier;
  readonly layout: ParamLayoutLike;
  readonly splits: readonly S[];
  readonly datasets: Readonly<Record<S, Dataset>>;
  readonly batch: number;
  /** The stage whose output is cached (model.firstStageOf(layout.names)); 0 = nothing cached. */
  readonly stage: number;
  /** Bytes held by the feature cache (0 without one). */
  readonly cacheBytes: number;
  /** How the tail is computed (see EvaluatorPath). */
  readonly path: EvaluatorPath;
  /** Number of classes (columns of the logits). */
  readonly numClasses: number;
  /** Why the evaluator runs without a cache or without the plan, when it does. */
  readonly notes: string[] = [];

  private readonly be: Backend;
  private readonly runner: Runner;
  private readonly chunks: Chunk[] = [];
  private readonly base: Float32Array;

  constructor(opts: ParamSetEvaluatorOptions<S>) {
    const { model, layout } = opts;
    this.model = model;
    this.layout = layout;
    this.datasets = opts.datasets;
    this.splits = Object.keys(opts.datasets) as S[];
    this.be = model.backend;
    this.batch = opts.batch ?? 1000;
    const warn = opts.onWarning ?? ((msg: string) => { process.stderr.write(`pdiff: ${msg}\n`); });
    if (!(Number.isInteger(this.batch) && this.batch >= 1)) throw new ShapeError(`ParamSetEvaluator: batch must be a positive integer, got ${opts.batch}`);
    if (this.splits.length === 0) throw new ShapeError('ParamSetEvaluator: expected at least one dataset, got none');
    const first = this.datasets[this.splits[0]!];
    for (const sp of this.splits) {
      const ds = this.datasets[sp];
      if (ds.n < 1) throw new ShapeError(`ParamSetEvaluator: dataset "${sp}" (${ds.name}) is empty`);
      if (ds.images.length !== ds.n * ds.c * ds.h * ds.w || ds.labels.length !== ds.n) {
        throw new ShapeError(`ParamSetEvaluator: dataset "${sp}" (${ds.name}) has ${ds.images.length} image floats and ${ds.labels.length} labels, expected ${ds.n} x ${ds.c}x${ds.h}x${ds.w} and ${ds.n}`);
      }
    }
    this.base = layout.read(model);
    if (this.base.length !== layout.total) throw new ShapeError(`ParamSetEvaluator: layout.read gave ${this.base.length} floats, layout.total is ${layout.total}`);

    const wasTraining = model.training;
    model.eval();
    try {
      const built = noGrad(() => {
        const probe = (): Tensor => imageChunk(first, 0, 1, this.be);
        const numClasses = model.forward(probe()).shape[1]!;
        let stage = opts.cacheFeatures === false ? 0 : model.firstStageOf(layout.names);
        let runner = this.pickRunner(opts.plan ?? 'auto', stage, first, probe, warn);
        const floats = stage === 0 ? 0 : runner.featureFloats();
        const bytesPer = this.be.dtype === 'float64' ? 8 : 4;
        let bytes = 0;
        for (const sp of this.splits) bytes += this.datasets[sp].n * floats * bytesPer;
        const limit = opts.maxCacheBytes ?? DEFAULT_MAX_CACHE_BYTES;
        if (bytes > limit) {
          const msg = `ParamSetEvaluator: the feature cache at stage ${stage} (${model.stages[stage]}) would take ${(bytes / 2 ** 20).toFixed(0)} MiB, ` +
            `more than maxCacheBytes = ${(limit / 2 ** 20).toFixed(0)} MiB; evaluating without a cache (full forward per parameter set)`;
          this.notes.push(msg);
          warn(msg);
          stage = 0;
          bytes = 0;
          runner = this.pickRunner(opts.plan ?? 'auto', 0, first, probe, warn);
        }
        return { numClasses, stage, runner, bytes };
      });
      this.numClasses = built.numClasses;
      this.stage = built.stage;
      this.runner = built.runner;
      this.path = built.runner.kind;
      this.cacheBytes = built.bytes;
      noGrad(() => this.buildChunks());
    } finally {
      model.train(wasTraining);
    }
  }

  /**
   * The first cnn-s plan candidate (see EvaluatorPlan) that applies and reproduces the generic
   * forward bit for bit on a few images with the base parameters; else the generic runner.
   */
  private pickRunner(plan: EvaluatorPlan, stage: number, first: Dataset, probe: () => Tensor, warn: (m: string) => void): Runner {
    const generic = new GenericRunner(this.model, stage, probe);
    if (plan === 'generic' || !(this.model instanceof CnnS) || !CnnSPlan.applicable(this.model)) return generic;
    const rows = Math.min(PLAN_CHECK_IMAGES, first.n);
    const x = imageChunk(first, 0, rows, this.be);
    const ref = this.be.read(generic.run(generic.features(x), rows));
    const tried: string[] = [];
    // Candidates, best first. The fused JS passes beat separate TypeScript kernels but not the
    // addon's C kernels (blas), except for the last block (see CnnSPlan). Each later candidate
    // replicates fewer kernels, so one of them survives a change of an engine kernel.
    const cpu = this.be instanceof CpuBackend;
    const candidates: Array<[boolean, boolean]> = [];
    // The TypeScript kernels are the ones CpuBackend has itself; a subclass (blas) overrides them with C.
    const tsKernels = cpu && this.be.batchNormEvalForward === CpuBackend.prototype.batchNormEvalForward;
    if (cpu && (plan === 'fused' || (plan === 'auto' && tsKernels))) candidates.push([true, true]);
    if (cpu && plan !== 'kernels') candidates.push([false, true]);
    candidates.push([false, false]);
    for (const [fused, jsGap] of candidates) {
      const planned = new CnnSPlan(this.model, stage, [first.c, first.h, first.w], fused, jsGap);
      const got = this.be.read(planned.run(planned.features(x), rows));
      let differ = got.length === ref.length ? 0 : ref.length;
      let worst = 0;
      for (let i = 0; i < ref.length && i < got.length; i++) {
        const a = ref[i]!, b = got[i]!;
        if (a === b || (a !== a && b !== b)) continue;
        differ++;
        const d = Math.abs(a - b) / (1 + Math.abs(a));
        if (!(d <= worst)) worst = d; // NaN counts
      }
      if (differ === 0) {
        if (tried.length) this.notes.push(`ParamSetEvaluator: cnn-s plan candidates skipped (${tried.join('; ')})`);
        return planned;
      }
      tried.push(`${fused ? 'fused' : jsGap ? 'unfused with fused last block' : 'unfused'}: ${differ} of ${ref.length} logits differ, max relative difference ${worst}`);
    }
    const msg = `ParamSetEvaluator: the planned cnn-s forward from stage ${stage} does not reproduce ${this.model.arch}.forwardFrom bit for bit ` +
      `on ${rows} images (${tried.join('; ')}); using the generic forward (an engine kernel may have changed: see CnnSPlan in src/eval/evaluate.ts)`;
    this.notes.push(msg);
    warn(msg);
    return generic;
  }

  private buildChunks(): void {
    this.splits.forEach((sp, si) => {
      const ds = this.datasets[sp];
      for (let start = 0; start < ds.n; start += this.batch) {
        const rows = Math.min(this.batch, ds.n - start);
        const feats = this.stage === 0 ? null : this.runner.features(imageChunk(ds, start, rows, this.be));
        this.chunks.push({ split: si, start, rows, feats });
      }
    });
  }

  /**
   * Call fn with the chunk's features: the cached ones, or ones computed from its images now and
   * released (with the images' device copy) when fn returns.
   */
  private withFeatures(ch: Chunk, fn: (feats: readonly Tensor[]) => void): void {
    if (ch.feats) { fn(ch.feats); return; }
    const x = imageChunk(this.datasets[this.splits[ch.split]!], ch.start, ch.rows, this.be);
    scope(() => fn(this.runner.features(x)));
    dispose(x);
  }

  private checkVecs(vecs: Float32Array, P: number, where: string): void {
    if (!(Number.isInteger(P) && P >= 0) || vecs.length !== P * this.layout.total) {
      throw new ShapeError(`ParamSetEvaluator.${where}: expected vecs [P=${P}, ${this.layout.total}] (${P * this.layout.total} floats), got ${vecs.length}`);
    }
  }

  private vec(vecs: Float32Array, p: number): Float32Array {
    const t = this.layout.total;
    return vecs.subarray(p * t, (p + 1) * t);
  }

  /** Run `fn` in eval mode without the tape, restoring the base subset and the training flag after. */
  private guarded<T>(fn: () => T): T {
    const wasTraining = this.model.training;
    this.model.eval();
    try {
      return noGrad(fn);
    } finally {
      this.layout.write(this.model, this.base);
      this.model.train(wasTraining);
    }
  }

  private emptyPreds(P: number): Int32Array[][] {
    return Array.from({ length: P }, () => this.splits.map((sp) => new Int32Array(this.datasets[sp].n)));
  }

  private results(preds: Int32Array[][]): Array<Record<S, SplitResult>> {
    return preds.map((perSplit) => {
      const r = {} as Record<S, SplitResult>;
      this.splits.forEach((sp, si) => {
        const p = perSplit[si]!;
        r[sp] = { acc: accuracy(p, this.datasets[sp].labels), preds: p };
      });
      return r;
    });
  }

  /**
   * Top-1 accuracy and predictions of P parameter sets vecs [P, total] on every split, by the
   * cached tail: for each chunk of cached features, every set in turn.
   * @throws NumericError (from layout.write) for a set with a NaN or infinite value.
   */
  evaluate(vecs: Float32Array, P: number, opts: EvaluateOptions = {}): Array<Record<S, SplitResult>> {
    this.checkVecs(vecs, P, 'evaluate');
    const preds = this.emptyPreds(P);
    const total = this.chunks.length * P;
    const first = opts.resume ? this.restore(opts.resume, preds) : 0;
    let done = first * P;
    const snapshot = (chunksDone: number) => (): EvalPartial => {
      const rows = this.rowCount;
      const flat = new Int32Array(P * rows);
      preds.forEach((perSplit, p) => {
        let o = p * rows;
        for (const sp of perSplit) { flat.set(sp, o); o += sp.length; }
      });
      return { chunksDone, preds: flat };
    };
    if (first > 0) opts.onProgress?.(done, total);
    this.guarded(() => {
      for (let c = first; c < this.chunks.length; c++) {
        const ch = this.chunks[c]!;
        this.withFeatures(ch, (feats) => {
          for (let p = 0; p < P; p++) {
            this.layout.write(this.model, this.vec(vecs, p));
            scope(() => readArgmaxRows(this.be, this.runner.run(feats, ch.rows), ch.rows, this.numClasses, preds[p]![ch.split]!.subarray(ch.start, ch.start + ch.rows)));
          }
        });
        done += P;
        opts.onProgress?.(done, total);
        opts.onChunk?.(c + 1, snapshot(c + 1));
      }
    });
    return this.results(preds);
  }

  /** Number of image chunks one parameter set takes (over every split). */
  get chunkCount(): number {
    return this.chunks.length;
  }

  /** Rows (images) of all splits together. */
  get rowCount(): number {
    let n = 0;
    for (const sp of this.splits) n += this.datasets[sp].n;
    return n;
  }

  /** Copy a partial result's filled rows into preds; returns the chunk to go on from. */
  private restore(partial: EvalPartial, preds: Int32Array[][]): number {
    const P = preds.length, rows = this.rowCount;
    const c = partial.chunksDone;
    if (!(Number.isInteger(c) && c >= 0 && c <= this.chunks.length) || partial.preds.length !== P * rows) {
      throw new ShapeError(`ParamSetEvaluator.evaluate: resume state has ${partial.preds.length} predictions after ${c} chunks; ` +
        `expected [P=${P}, ${rows}] after 0..${this.chunks.length} chunks`);
    }
    preds.forEach((perSplit, p) => {
      let o = p * rows;
      for (const sp of perSplit) { sp.set(partial.preds.subarray(o, o + sp.length)); o += sp.length; }
    });
    return c;
  }

  /**
   * The straightforward evaluation: for each set, model.forward on every image chunk through the
   * ops (no cache, no plan). The reference for the equivalence test and the benchmark.
   */
  evaluateFull(vecs: Float32Array, P: number, opts: EvaluateOptions = {}): Array<Record<S, SplitResult>> {
    this.checkVecs(vecs, P, 'evaluateFull');
    const preds = this.emptyPreds(P);
    const total = this.chunks.length * P;
    let done = 0;
    this.guarded(() => {
      for (let p = 0; p < P; p++) {
        this.layout.write(this.model, this.vec(vecs, p));
        for (const ch of this.chunks) {
          const x = imageChunk(this.datasets[this.splits[ch.split]!], ch.start, ch.rows, this.be);
          scope(() => readArgmaxRows(this.be, this.model.forward(x).storage, ch.rows, this.numClasses, preds[p]![ch.split]!.subarray(ch.start, ch.start + ch.rows)));
          dispose(x);
          opts.onProgress?.(++done, total);
        }
      }
    });
    return this.results(preds);
  }

  /** Logits [n, classes] of one parameter set on every split (by the cached tail). */
  logits(vec: Float32Array): Record<S, Float32Array> {
    this.checkVecs(vec, 1, 'logits');
    const out = {} as Record<S, Float32Array>;
    for (const sp of this.splits) out[sp] = new Float32Array(this.datasets[sp].n * this.numClasses);
    this.guarded(() => {
      this.layout.write(this.model, vec);
      for (const ch of this.chunks) {
        const sp = this.splits[ch.split]!;
        this.withFeatures(ch, (feats) => scope(() => out[sp].set(this.be.read(this.runner.run(feats, ch.rows)), ch.start * this.numClasses)));
      }
    });
    return out;
  }

  /** Full metrics (top-1, top-5 from the logits, macro-F1, per-class accuracy, confusion) of one set, e.g. the best. */
  evaluateDetailed(vec: Float32Array): Record<S, ClassificationMetrics> {
    const logits = this.logits(vec);
    const out = {} as Record<S, ClassificationMetrics>;
    for (const sp of this.splits) {
      const ds = this.datasets[sp];
      const preds = new Int32Array(ds.n);
      const l = logits[sp];
      for (let i = 0; i < ds.n; i++) {
        let arg = 0;
        let best = l[i * this.numClasses]!;
        for (let c = 1; c < this.numClasses; c++) {
          const v = l[i * this.numClasses + c]!;
          if (v > best) { best = v; arg = c; }
        }
        preds[i] = arg;
      }
      out[sp] = fullMetrics(preds, ds.labels, this.numClasses, l);
    }
    return out;
  }

  /** The base model's subset vector (what the model holds between calls). */
  baseVector(): Float32Array {
    return this.base.slice();
  }
}

/** Accuracies of a result list for one split, in set order. */
export function accuraciesOf<S extends string>(results: ReadonlyArray<Record<S, SplitResult>>, split: S): number[] {
  return results.map((r) => r[split].acc);
}
