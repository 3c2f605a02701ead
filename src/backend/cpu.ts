import type {
  AdamStepArgs, Backend, BatchNormEvalBackwardArgs, BatchNormEvalForwardArgs, BatchNormRunningArgs, BatchNormTrainForwardArgs, BinaryOp,
  CrossEntropyArgs, DType, FusedEvalKernels, MatmulArgs, NormBackwardArgs, NormForwardArgs, SgdStepArgs, SoftmaxArgs, Storage, UnaryOp,
} from './backend.js';
import { makeRegistry, type Registry } from './finalize.js';
import { convGroups, isDepthwise, type Conv2dGeom, type FloatArray, type Gemm, type GroupNormGeom, type LayerNormGeom, type NormGeom, type Pool2dGeom, type Workspace } from './kernels.js';
import { groupedConv2dBackwardData, groupedConv2dBackwardWeight, groupedConv2dForward } from './grouped.js';
import { depthwiseBackwardData, depthwiseBackwardWeight, depthwiseForward } from './cpu/depthwise.js';
import { binaryKernel, copyRegionKernel, permuteKernel, sumToKernel, unaryBackwardKernel, unaryKernel } from './cpu/elementwise.js';
import { argmaxRowsKernel, crossEntropyKernel, softmaxBackwardKernel, softmaxKernel } from './cpu/softmax.js';
import { adamKernel, sgdKernel } from './cpu/optim.js';
import { conv2dBackwardData, conv2dBackwardWeight, conv2dForward } from './cpu/conv.js';
import { CpuFusedEval } from './cpu/fused.js';
import { avgPool2dBackward, avgPool2dForward, maxPool2dBackward, maxPool2dForward } from './cpu/pool.js';
import {
  batchNormEvalBackward, batchNormEvalForward, batchNormTrainBackward, batchNormTrainForward,
  groupNormBackward, groupNormForward, layerNormBackward, layerNormForward,
} from './cpu/norm.js';

/** Scratch buffers reused across kernel calls, one per slot, grown on demand. */
class CpuWorkspace implements Workspace {
  private slots: FloatArray[] = [];
  constructor(private readonly make: (n: number) => FloatArray) {}
  get(n: number, slot = 0): FloatArray {
    const cur = this.slots[slot];
    if (cur && cur.length >= n) return cur;
    const next = this.make(Math.max(n, cur ? Math.ceil(cur.length * 1.5) : 0));
    this.slots[slot] = next;
    return next;
  }
}

/**
 * Storages of at least this many bytes come from the pool (256 KiB: activations and their
 * gradients). At 1 MiB the denoiser's 16- and 32-channel activations at batch 200 (0.8 and 1.6 MB;
 * the first not pooled) were fresh arrays every sampling step, and V8, counting their external
 * memory, ran a full collection every 7 steps; at 256 KiB, 2 in 100 steps, and sampling was 4 to
 * 20 % faster in three alternating pairs.
 */
const POOL_MIN_BYTES = 1 << 18;
/** Pooled bytes kept at most; beyond, freed buffers are left to the allocator. A ResNet-20 step at batch 128 cycles about 300 MB of activations and gradients: at 128 MiB it took 350 ms, at 512 MiB 300 ms (bench/engine.ts). */
const POOL_MAX_BYTES = 512 << 20;
/**
 * A full garbage collection after this many bytes of pooled allocations not given back by
 * release(): V8 clears the targets of a FinalizationRegistry only in full collections, so without
 * it registered arrays would outlive the scavenges that free ordinary ones and the process would
 * grow until V8 chose a full GC. Bytes released explicitly (the tape frees a step's activations
 * and gradients that way) are back in the free list already and do not count: counting them forced
 * a full GC every five or six steps of bn-mode collection, about 15 % of its time.
 */
const POOL_GC_BYTES = 256 << 20;

/**
 * Recycles the memory of large storages. A training step allocates tens of MB of op outputs and
 * gradients that die within the step; fresh zeroed arrays of that size cost page faults and
 * mmap/munmap churn on every step. Each pooled array is registered with a FinalizationRegistry,
 * its ArrayBuffer as the held value; when the array is collected, the buffer returns to a free
 * list keyed by byte length, and the next allocation of that size takes it and zero-fills it
 * (alloc keeps its contract). Safe because a CPU storage is only ever reached through the array
 * object itself (CpuBackend.view returns that same object): once it is unreachable, nothing else
 * refers to its buffer. Active only where finalizers can run synchronously and a full GC can be
 * had (see finalize.ts); PDIFF_CPU_POOL=0 turns it off.
 */
class BufferPool {
  private readonly free = new Map<number, ArrayBuffer[]>();
  private bytes = 0;
  private sinceGc = 0;
  private readonly reg: Registry<ArrayBuffer>;

  private constructor(private readonly Arr: Float32ArrayConstructor | Float64ArrayConstructor) {
    this.reg = makeRegistry<ArrayBuffer>((buf) => this.give(buf), { gc: true });
  }

  /** A pool for arrays of type Arr, or null where it cannot work (or PDIFF_CPU_POOL=0). */
  static create(Arr: Float32ArrayConstructor | Float64ArrayConstructor): BufferPool | null {
    if (process.env.PDIFF_CPU_POOL === '0') return null;
    const pool = new BufferPool(Arr);
    return pool.reg.sync && pool.reg.gc ? pool : null;
  }

  private give(buf: ArrayBuffer): void {
    if (this.bytes + buf.byteLength > POOL_MAX_BYTES) return;
    let list = this.free.get(buf.byteLength);
    if (!list) this.free.set(buf.byteLength, (list = []));
    list.push(buf);
    this.bytes += buf.byteLength;
  }

  /** An array of `bytes` bytes, recycled when one of that size is free; zero-filled unless `zero` is false. */
  take(bytes: number, zero = true): FloatArray {
    this.sinceGc += bytes;
    if (this.sinceGc >= POOL_GC_BYTES) {
      this.sinceGc = 0;
      this.reg.gc!();
    }
    this.reg.cleanup();
    const buf = this.free.get(bytes)?.pop();
    let arr: FloatArray;
    if (buf) {
      this.bytes -= bytes;
      arr = new this.Arr(buf);
      if (zero) arr.fill(0);
    } else {
      arr = new this.Arr(bytes / this.Arr.BYTES_PER_ELEMENT);
    }
    this.reg.register(arr, arr.buffer as ArrayBuffer);
    return arr;
  }

  /**
   * Return a pooled array's buffer to the free list now. The array is detached (its length becomes
   * 0), so a use after release reads nothing instead of another storage's values. Arrays the
   * pool did not hand out are left alone.
   */
  release(arr: FloatArray): void {
    if (!this.reg.unregister(arr)) return;
    this.sinceGc = Math.max(0, this.sinceGc - arr.byteLength);
    this.give(structuredClone(arr.buffer as ArrayBuffer, { transfer: [arr.buffer as ArrayBuffer] }));
  }

  /** Bytes waiting in the free lists. */
  get pooledBytes(): number { return this.bytes; }
}

const f = (s: Storage): FloatArray => s as unknown as FloatArray;
const fn = (s: Storage | null): FloatArray | null => (s === null ? null : (s as unknown as FloatArray));
/** The Int32Array behind an index storage (see allocIndex); throws for a float storage. */
const ix = (s: Storage, where: string): Int32Array => {
  if (!(s instanceof Int32Array)) throw new TypeError(`${where}: expected an index storage (from allocIndex), got a float storage`);
  return s;
};

/**
 * The CPU backends: storage is a Float32Array (or Float64Array for gradient checks) and every kernel
 * runs in TypeScript, except GEMM, which is injected: the pure-TS one for `js`, OpenBLAS for `blas`.
 */
export class CpuBackend implements Backend {
  private readonly ws: CpuWorkspace;
  private readonly Arr: Float32ArrayConstructor | Float64ArrayConstructor;
  private readonly pool: BufferPool | null;

  constructor(readonly name: string, readonly dtype: DType, readonly gemm: Gemm, readonly description: string) {
    this.Arr = dtype === 'float64' ? Float64Array : Float32Array;
    this.ws = new CpuWorkspace((n) => new this.Arr(n));
    this.pool = BufferPool.create(this.Arr);
    this.fusedEval = dtype === 'float32' ? new CpuFusedEval(true) : null;
  }

  /** Zero-filled storage; large ones recycle the memory of collected storages (see BufferPool). */
  alloc(n: number): Storage { return this.take(n, true); }
  /** An array of n elements: recycled (zero-filled when `zero`) if large enough for the pool, else fresh (zeros). */
  private take(n: number, zero: boolean): FloatArray {
    const bytes = n * this.Arr.BYTES_PER_ELEMENT;
    return this.pool !== null && bytes >= POOL_MIN_BYTES ? this.pool.take(bytes, zero) : new this.Arr(n);
  }
  /**
   * Fill every `empty` storage with NaN (PDIFF_POISON_EMPTY=1, or set it in a test): a kernel that
   * leaves an element of its output unwritten then shows up as NaN instead of as stale values.
   */
  poisonEmpty = process.env.PDIFF_POISON_EMPTY === '1';
  /** Like alloc, without zero-filling a recycled buffer (a fresh one is zeros anyway). */
  empty(n: number): Storage {
    const a = this.take(n, false);
    if (this.poisonEmpty) a.fill(NaN);
    return a;
  }
  /** An Int32Array: indices stay exact whatever the float type. Not pooled (release leaves it to the collector). */
  allocIndex(n: number): Storage { return new Int32Array(n); }
  /** Large storages go back to the pool at once (detached: a later use sees an empty array). */
  release(s: Storage): void { this.pool?.release(f(s)); }
  /** Bytes of collected storages waiting for reuse (0 without a pool). */
  get pooledBytes(): number { return this.pool?.pooledBytes ?? 0; }
  fromArray(data: ArrayLike<number>): Storage { return this.Arr.from(data); }
  read(s: Storage): Float32Array | Float64Array {
    if (s instanceof Int32Array) throw new TypeError('read: this is an index storage; read it with readIndex');
    return f(s).slice();
  }
  readIndex(s: Storage): Int32Array { return ix(s, 'readIndex').slice(); }
  write(s: Storage, data: ArrayLike<number>, offset = 0): void { f(s).set(data, offset); }
  fill(s: Storage, value: number): void { f(s).fill(value); }
  /** A copy; large float ones come from the pool (a fresh 6 MB array costs page faults and, later, the collector). */
  clone(s: Storage): Storage {
    if (s instanceof Int32Array) return s.slice();
    const a = this.take(f(s).length, false);
    a.set(f(s));
    return a;
  }
  /** Direct view of a CPU storage's array (CPU backends only; for data loading and tests). */
  view(s: Storage): FloatArray { return f(s); }
  /** The storage is the host array. */
  hostView(s: Storage): FloatArray {
    if (s instanceof Int32Array) throw new TypeError('hostView: this is an index storage; read it with readIndex');
    return f(s);
  }
  /** An array of this backend's float type is a storage as it is. */
  wrapHost(a: Float32Array | Float64Array): Storage | null { return a instanceof this.Arr ? a : null; }
  /**
   * The fused passes in TypeScript, which beat the separate TypeScript kernels; float32 only (they
   * round like float32 kernels), none on the float64 backend.
   */
  readonly fusedEval: FusedEvalKernels | null;

  unary(op: UnaryOp, x: Storage, y: Storage, alpha: number, beta: number): void { unaryKernel(op, f(x), f(y), alpha, beta); }
  unaryBackward(op: UnaryOp, x: Storage, y: Storage, gy: Storage, gx: Storage, alpha: number, beta: number): void {
    unaryBackwardKernel(op, f(x), f(y), f(gy), f(gx), alpha, beta);
  }
  binary(op: BinaryOp, a: Storage, aShape: readonly number[], b: Storage, bShape: readonly number[], y: Storage, yShape: readonly number[]): void {
    binaryKernel(op, f(a), aShape, f(b), bShape, f(y), yShape);
  }
  sumTo(x: Storage, xShape: readonly number[], y: Storage, yShape: readonly number[]): void { sumToKernel(f(x), xShape, f(y), yShape); }
  axpy(alpha: number, x: Storage, y: Storage): void {
    const xa = f(x), ya = f(y);
    const n = ya.length;
    if (alpha === 1) for (let i = 0; i < n; i++) ya[i] = ya[i]! + xa[i]!;
    else for (let i = 0; i < n; i++) ya[i] = ya[i]! + alpha * xa[i]!;
  }
  sumSquares(x: Storage): number {
    const a = f(x);
    let s = 0;
    for (let i = 0; i < a.length; i++) { const v = a[i]!; s += v * v; }
    return s;
  }
  countNonFinite(x: Storage): number {
    const a = f(x);
    let c = 0;
    for (let i = 0; i < a.length; i++) if (!Number.isFinite(a[i]!)) c++;
    return c;
  }

  matmul({ a, b, c, batch, m, n, k, transA = false, transB = false, aBatched = false, bBatched = false, accumulate = false }: MatmulArgs): void {
    const A = f(a), B = f(b), C = f(c);
    const lda = transA ? m : k, ldb = transB ? k : n;
    if (bBatched === false && aBatched && !transA && batch > 1) {
      // [batch*m, k] @ B: one big GEMM
      this.gemm(false, transB, batch * m, n, k, 1, A, 0, k, B, 0, ldb, accumulate ? 1 : 0, C, 0, n);
      return;
    }
    for (let i = 0; i < batch; i++) {
      this.gemm(transA, transB, m, n, k, 1, A, aBatched ? i * m * k : 0, lda, B, bBatched ? i * k * n : 0, ldb, accumulate ? 1 : 0, C, i * m * n, n);
    }
  }

  // groups = 1: im2col + GEMM; depthwise: direct loops over the taps; other groups: one dense
  // convolution per group (grouped.ts)
  conv2dForward(x: Storage, w: Storage, bias: Storage | null, y: Storage, g: Conv2dGeom): void {
    if (convGroups(g) === 1) conv2dForward(f(x), f(w), fn(bias), f(y), g, this.gemm, this.ws);
    else if (isDepthwise(g)) depthwiseForward(f(x), f(w), fn(bias), f(y), g);
    else groupedConv2dForward(this, x, w, bias, y, g);
  }
  conv2dBackwardData(gy: Storage, w: Storage, gx: Storage, g: Conv2dGeom): void {
    if (convGroups(g) === 1) conv2dBackwardData(f(gy), f(w), f(gx), g, this.gemm, this.ws);
    else if (isDepthwise(g)) depthwiseBackwardData(f(gy), f(w), f(gx), g);
    else groupedConv2dBackwardData(this, gy, w, gx, g);
  }
  conv2dBackwardWeight(gy: Storage, x: Storage, gw: Storage, g: Conv2dGeom): void {
    if (convGroups(g) === 1) conv2dBackwardWeight(f(gy), f(x), f(gw), g, this.gemm, this.ws);
    else if (isDepthwise(g)) depthwiseBackwardWeight(f(gy), f(x), f(gw), g);
    else groupedConv2dBackwardWeight(this, gy, x, gw, g);
  }

  maxPool2dForward(x: Storage, y: Storage, argmax: Storage, g: Pool2dGeom): void { maxPool2dForward(f(x), f(y), ix(argmax, 'maxPool2dForward'), g); }
  maxPool2dBackward(gy: Storage, argmax: Storage, gx: Storage, g: Pool2dGeom): void { maxPool2dBackward(f(gy), ix(argmax, 'maxPool2dBackward'), f(gx), g); }
  avgPool2dForward(x: Storage, y: Storage, g: Pool2dGeom): void { avgPool2dForward(f(x), f(y), g); }
  avgPool2dBackward(gy: Storage, gx: Storage, g: Pool2dGeom): void { avgPool2dBackward(f(gy), f(gx), g); }

  batchNormTrainForward(a: BatchNormTrainForwardArgs, g: NormGeom): void {
    batchNormTrainForward(f(a.x), fn(a.gamma), fn(a.beta), g.n, g.c, g.s, g.eps, f(a.y), f(a.mean), f(a.invstd), f(a.varBiased));
  }
  batchNormTrainBackward(a: NormBackwardArgs, g: NormGeom): void {
    const { n, c, s } = g;
    if (a.gx === null) {
      // Only parameter gradients needed: they do not depend on the path through the batch statistics.
      const scratch = this.ws.get(n * c * s, 7).subarray(0, n * c * s);
      batchNormTrainBackward(f(a.gy), f(a.x), fn(a.gamma), f(a.mean), f(a.invstd), n, c, s, scratch, fn(a.ggamma), fn(a.gbeta));
      return;
    }
    batchNormTrainBackward(f(a.gy), f(a.x), fn(a.gamma), f(a.mean), f(a.invstd), n, c, s, f(a.gx), fn(a.ggamma), fn(a.gbeta));
  }
  batchNormEvalForward(a: BatchNormEvalForwardArgs, g: NormGeom): void {
    batchNormEvalForward(f(a.x), fn(a.gamma), fn(a.beta), f(a.runMean), f(a.runVar), g.n, g.c, g.s, g.eps, f(a.y));
  }
  batchNormEvalBackward(a: BatchNormEvalBackwardArgs, g: NormGeom): void {
    batchNormEvalBackward(f(a.gy), f(a.x), fn(a.gamma), f(a.runMean), f(a.runVar), g.n, g.c, g.s, g.eps, fn(a.gx), fn(a.ggamma), fn(a.gbeta));
  }
  batchNormUpdateRunning({ runMean, runVar, mean, varBiased, momentum, m }: BatchNormRunningArgs): void {
    const rm = f(runMean), rv = f(runVar), bm = f(mean), bv = f(varBiased);
    const unbias = m > 1 ? m / (m - 1) : 1;
    for (let i = 0; i < rm.length; i++) {
      rm[i] = (1 - momentum) * rm[i]! + momentum * bm[i]!;
      rv[i] = (1 - momentum) * rv[i]! + momentum * bv[i]! * unbias;
    }
  }
  groupNormForward(a: NormForwardArgs, g: GroupNormGeom): void {
    groupNormForward(f(a.x), fn(a.gamma), fn(a.beta), g.n, g.c, g.s, g.groups, g.eps, f(a.y), f(a.mean), f(a.invstd));
  }
  groupNormBackward(a: NormBackwardArgs, g: GroupNormGeom): void {
    const { n, c, s } = g;
    const gxa = a.gx === null ? this.ws.get(n * c * s, 7).subarray(0, n * c * s) : f(a.gx);
    groupNormBackward(f(a.gy), f(a.x), fn(a.gamma), f(a.mean), f(a.invstd), n, c, s, g.groups, gxa, fn(a.ggamma), fn(a.gbeta));
  }
  layerNormForward(a: NormForwardArgs, g: LayerNormGeom): void {
    layerNormForward(f(a.x), fn(a.gamma), fn(a.beta), g.rows, g.d, g.eps, f(a.y), f(a.mean), f(a.invstd));
  }
  layerNormBackward(a: NormBackwardArgs, g: LayerNormGeom): void {
    const { rows, d } = g;
    const gxa = a.gx === null ? this.ws.get(rows * d, 7).subarray(0, rows * d) : f(a.gx);
    layerNormBackward(f(a.gy), f(a.x), fn(a.gamma), f(a.mean), f(a.invstd), rows, d, gxa, fn(a.ggamma), fn(a.gbeta));
  }

  softmax(x: Storage, y: Storage, { rows, cols, log }: SoftmaxArgs): void { softmaxKernel(f(x), f(y), rows, cols, log); }
  softmaxBackward(y: Storage, gy: Storage, gx: Storage, { rows, cols, log }: SoftmaxArgs): void {
    softmaxBackwardKernel(f(y), f(gy), f(gx), rows, cols, log);
  }
  crossEntropy({ logits, labels, rows, cols, smoothing, grad, loss }: CrossEntropyArgs): void {
    f(loss)[0] = crossEntropyKernel(f(logits), labels, rows, cols, smoothing, fn(grad));
  }
  argmaxRows(x: Storage, rows: number, cols: number, out: Storage): void { argmaxRowsKernel(f(x), rows, cols, ix(out, 'argmaxRows')); }

  permute(x: Storage, shape: readonly number[], perm: readonly number[], y: Storage): void { permuteKernel(f(x), shape, perm, f(y)); }
  copyRegion(src: Storage, srcShape: readonly number[], srcStart: readonly number[],
    dst: Storage, dstShape: readonly number[], dstStart: readonly number[], region: readonly number[]): void {
    copyRegionKernel(f(src), srcShape, srcStart, f(dst), dstShape, dstStart, region);
  }

  adamStep(a: AdamStepArgs): void {
    adamKernel(f(a.p), f(a.g), f(a.m), f(a.v), a.lr, a.beta1, a.beta2, a.eps, a.weightDecay, a.step, a.decoupled);
  }
  sgdStep(a: SgdStepArgs): void {
    sgdKernel(f(a.p), f(a.g), fn(a.buf), a.lr, a.momentum, a.dampening, a.weightDecay, a.nesterov, a.first);
  }
  emaUpdate(y: Storage, x: Storage, decay: number): void {
    const ya = f(y), xa = f(x);
    const a = 1 - decay;
    for (let i = 0; i < ya.length; i++) ya[i] = decay * ya[i]! + a * xa[i]!;
  }
}
