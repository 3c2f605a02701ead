/**
 * The worker-side implementation of every device operation: turns each command into kernel
 * dispatches on the GpuContext (see protocol.ts for the command list and cpu/*.ts for the
 * semantics each kernel reproduces).
 */
import type {
  AdamStepArgs, BatchNormEvalBackwardArgs, BatchNormEvalForwardArgs, BatchNormRunningArgs, BatchNormTrainForwardArgs, BinaryOp,
  CrossEntropyArgs, MatmulArgs, NormBackwardArgs, NormForwardArgs, SgdStepArgs, SoftmaxArgs, UnaryOp,
} from '../backend.js';
import { isDepthwise, type Conv2dGeom, type GroupNormGeom, type NormGeom, type Pool2dGeom } from '../kernels.js';
import { depthwiseBackwardDataKernel, depthwiseBackwardWeightKernel, depthwiseForwardKernel } from './k-depthwise.js';
import { type Buf, type GpuContext, type Kernel, type Param, f, grid } from './context.js';
import {
  adamKernel, axpyKernel, binaryKernel, bnRunningKernel, emaKernel, fillKernel, sgdKernel, unaryBackwardKernel, unaryKernel,
} from './k-elementwise.js';
import { convBackwardDataSpec, convBackwardWeightSpec, convForwardSpec, gemmKernel, matmulSpec, pickTile, type GemmSpec } from './k-gemm.js';
import {
  argmaxRowsKernel, avgPoolBackwardKernel, avgPoolForwardKernel, copyRegionKernel, crossEntropyKernel, gatherKernel,
  maxPoolBackwardKernel, maxPoolForwardKernel, softmaxBackwardKernel, softmaxKernel,
} from './k-misc.js';
import {
  bnApplyKernel, bnEvalGxKernel, bnParamGradKernel, bnStatsKernel, bnSumsKernel, bnTrainGxKernel,
  gnApplyKernel, gnGroupSumsKernel, gnGxKernel, gnPairSumsKernel, gnParamGradKernel, rowStatsKernel,
} from './k-norm.js';
import {
  REDUCE_GROUPS_MAX, REDUCE_WG, reducePass1, reducePass2, splitFinishKernel, sumToGroupKernel, sumToThreadKernel, type FullReduce,
} from './k-reduce.js';
import type { DeviceOps } from './protocol.js';
import { MAX_RANK, broadcastStrides, coalesce, denseStrides, prod } from './shapes.js';
import { WG } from './wgsl.js';

type Shape = readonly number[];

const groupsFor = (n: number): [number, number] => grid(Math.ceil(n / WG));

function pad8(a: readonly number[]): number[] {
  if (a.length > MAX_RANK) throw new Error(`webgpu: rank ${a.length} exceeds ${MAX_RANK} after coalescing`);
  const r = [...a];
  while (r.length < MAX_RANK) r.push(0);
  return r;
}

const REDUCERS = new Map<FullReduce, Kernel>();
function reducer1(kind: FullReduce): Kernel {
  let k = REDUCERS.get(kind);
  if (!k) { k = reducePass1(kind); REDUCERS.set(kind, k); }
  return k;
}

const SPLIT_FINISH = [splitFinishKernel(false), splitFinishKernel(true)] as const;

export class Executor implements DeviceOps {
  private readonly lens = new Map<number, number>();

  constructor(private readonly g: GpuContext) {}

  private buf(id: number): Buf { return this.g.get(id); }
  private opt(id: number | null): Buf[] { return id === null ? [] : [this.g.get(id)]; }
  private len(id: number): number {
    const n = this.lens.get(id);
    if (n === undefined) throw new Error(`webgpu: no device buffer with id ${id}`);
    return n;
  }

  // ------------------------------------------------------------------ memory

  alloc(id: number, n: number, zero = true): void { this.g.alloc(id, n, zero); this.lens.set(id, n); }
  upload(id: number, data: Float32Array | Int32Array): void {
    const b = this.g.alloc(id, data.length, false);
    this.lens.set(id, data.length);
    this.g.upload(b, 0, data);
  }
  write(id: number, offset: number, data: Float32Array): void {
    if (offset + data.length > this.len(id)) throw new RangeError(`webgpu write: ${data.length} values at ${offset} overflow a storage of ${this.len(id)}`);
    this.g.upload(this.buf(id), offset * 4, data);
  }
  free(id: number): void { this.g.free(id); this.lens.delete(id); }
  fill(id: number, value: number): void {
    const n = this.len(id);
    if (value === 0 && !Object.is(value, -0)) { this.g.clear(this.buf(id), 0, Math.max(4, n * 4)); return; }
    this.g.dispatch(fillKernel, [this.buf(id)], groupsFor(n), [n, f(value)]);
  }
  clone(src: number, id: number): void {
    const n = this.len(src);
    const b = this.g.alloc(id, n, false);
    this.lens.set(id, n);
    this.g.copy(this.buf(src), 0, b, 0, n * 4);
  }
  setData(): void { /* handled by the worker loop */ }
  stats(out: number): void { this.g.upload(this.buf(out), 0, Float64Array.from(this.g.stats())); }
  read(): void { /* handled by the worker loop */ }

  /** The first n 4-byte values of a buffer. */
  readBytes(id: number, n: number): Promise<ArrayBuffer> { return this.g.read(this.buf(id), n * 4); }

  // ------------------------------------------------------------------ elementwise

  unary(op: UnaryOp, x: number, y: number, alpha: number, beta: number): void {
    const n = this.len(x);
    this.g.dispatch(unaryKernel(op), [this.buf(x), this.buf(y)], groupsFor(n), [n, f(alpha), f(beta)]);
  }
  unaryBackward(op: UnaryOp, x: number, y: number, gy: number, gx: number, alpha: number, beta: number): void {
    const n = this.len(x);
    this.g.dispatch(unaryBackwardKernel(op), [this.buf(x), this.buf(y), this.buf(gy), this.buf(gx)], groupsFor(n), [n, f(alpha), f(beta)]);
  }
  binary(op: BinaryOp, a: number, aShape: Shape, b: number, bShape: Shape, y: number, yShape: Shape): void {
    const n = prod(yShape);
    if (n === 0) return;
    const c = coalesce(yShape, [broadcastStrides(aShape, yShape), broadcastStrides(bShape, yShape)]);
    const rank = c.shape.length;
    this.g.dispatch(binaryKernel(op, rank), [this.buf(a), this.buf(b), this.buf(y)], groupsFor(n),
      [n, rank, 0, 0, ...pad8(c.shape), ...pad8(c.strides[0]!), ...pad8(c.strides[1]!)]);
  }
  sumTo(x: number, xShape: Shape, y: number, yShape: Shape): void {
    const nOut = prod(yShape), nx = prod(xShape);
    if (nOut === 0) return;
    const Y = this.buf(y);
    if (nx === 0) { this.g.clear(Y, 0, nOut * 4); return; }
    if (nx === nOut) { this.g.copy(this.buf(x), 0, Y, 0, nOut * 4); return; }
    const c = coalesce(xShape, [denseStrides(xShape), broadcastStrides(yShape, xShape)]);
    const kShape: number[] = [], kSx: number[] = [], kSy: number[] = [], rShape: number[] = [], rSx: number[] = [];
    c.shape.forEach((d, i) => {
      const sx = c.strides[0]![i]!, sy = c.strides[1]![i]!;
      if (sy !== 0) { kShape.push(d); kSx.push(sx); kSy.push(sy); } else { rShape.push(d); rSx.push(sx); }
    });
    const R = nx / nOut;
    const params = [nOut, R, kShape.length, rShape.length, ...pad8(kShape), ...pad8(kSx), ...pad8(kSy), ...pad8(rShape), ...pad8(rSx)];
    if (R >= 128) this.g.dispatch(sumToGroupKernel, [this.buf(x), Y], grid(nOut), params);
    else this.g.dispatch(sumToThreadKernel, [this.buf(x), Y], groupsFor(nOut), params);
  }
  axpy(alpha: number, x: number, y: number): void {
    const n = this.len(y);
    this.g.dispatch(axpyKernel, [this.buf(x), this.buf(y)], groupsFor(n), [n, f(alpha)]);
  }

  private reduceFull(kind: FullReduce, x: Buf, n: number, out: Buf, scale: number): void {
    const groups = Math.max(1, Math.min(REDUCE_GROUPS_MAX, Math.ceil(n / (REDUCE_WG * 4))));
    const part = this.g.temp(groups);
    this.g.dispatch(reducer1(kind), [x, part], grid(groups), [n, groups]);
    this.g.dispatch(reducePass2, [part, out], [1], [groups, f(scale)]);
    this.g.releaseBuf(part);
  }
  sumSquares(x: number, out: number): void { this.reduceFull('sumsq', this.buf(x), this.len(x), this.buf(out), 1); }
  countNonFinite(x: number, out: number): void { this.reduceFull('nonfinite', this.buf(x), this.len(x), this.buf(out), 1); }

  // ------------------------------------------------------------------ GEMM and convolution

  /**
   * Run a GEMM-shaped kernel: M x N outputs per batch item, reduction K. Batch-1 products with few
   * output tiles and a long K are split along K (partials summed by a second kernel, in order).
   */
  private gemm(spec: GemmSpec, inputs: Buf[], output: Buf, M: number, N: number, K: number, batch: number,
    extra: readonly Param[], accumulate: boolean, allowSplit = true): void {
    if (M === 0 || N === 0 || batch === 0) return;
    if (batch > 65535) throw new Error(`webgpu: batch ${batch} exceeds 65535`);
    const [T, TM, TN] = this.g.gemmTile ?? pickTile(M, N, batch, this.g.minWorkgroups, this.g.gemmShapes, this.g.gemmThreads);
    const BM = TM * T, BN = TN * T;
    const tx = Math.ceil(N / BN), ty = Math.ceil(M / BM);
    // Split-K where few output tiles meet a long K. The split points depend on the problem (and
    // the device's thread limit) only, never on the tile picked, so every tile gives the same bits.
    const S = this.g.gemmThreads === 16 && M > 32 && N > 32 ? 64 : 32;
    const tiles = Math.ceil(N / S) * Math.ceil(M / S);
    let splits = 1;
    if (allowSplit && batch === 1 && tiles < 32 && K >= 2048) splits = Math.min(64, Math.floor(K / 512), Math.ceil(128 / tiles));
    if (splits > 1) {
      const chunk = Math.ceil(Math.ceil(K / splits) / (S / 4)) * (S / 4);
      splits = Math.ceil(K / chunk);
      const part = this.g.temp(splits * M * N);
      this.g.dispatch(gemmKernel(spec, T, true, TM, TN), [...inputs, part], [tx, ty, splits], [M, N, K, chunk, 0, 0, 0, 0, ...extra]);
      this.g.dispatch(SPLIT_FINISH[accumulate ? 1 : 0], [part, output], groupsFor(M * N), [M * N, splits]);
      this.g.releaseBuf(part);
      return;
    }
    this.g.dispatch(gemmKernel(spec, T, false, TM, TN), [...inputs, output], [tx, ty, batch], [M, N, K, 0, 0, 0, 0, 0, ...extra]);
  }

  matmul({ a, b, c, batch, m, n, k, transA = false, transB = false, aBatched = false, bBatched = false, accumulate = false }: MatmulArgs<number>): void {
    this.gemm(matmulSpec(transA, transB, accumulate), [this.buf(a), this.buf(b)], this.buf(c), m, n, k, batch,
      [aBatched ? m * k : 0, bBatched ? k * n : 0, m * n], accumulate);
  }

  /** The geometry to specialise conv kernels to, or null (PDIFF_WEBGPU_CONV_SPECIALIZE=0: one kernel for all). */
  private spec(g: Conv2dGeom): number[] | null {
    return this.g.convSpecialize ? Executor.geom(g) : null;
  }

  private static geom(g: Conv2dGeom): number[] {
    return [g.n, g.c, g.h, g.w, g.o, g.kh, g.kw, g.sh, g.sw, g.ph, g.pw, g.oh, g.ow];
  }
  /**
   * Whether a convolution's samples go side by side into one product (N = n x positions; see
   * convForwardSpec) rather than one product per sample: when the grid's x size allows it for
   * the narrowest tile (32 columns), whichever tile gemm() then picks.
   * The split-K path is not taken for merged products (its partials are laid out [M, N]).
   */
  private merge(n: number, positions: number): boolean {
    return this.g.convMerge && Math.ceil((n * positions) / 32) <= 65535;
  }
  /** Depthwise params: the thread (or weight-element) count, then the geometry. */
  private static dwParams(count: number, g: Conv2dGeom): number[] {
    return [count, ...Executor.geom(g)];
  }
  // A geometry with groups > 1 reaching the worker is depthwise (WebgpuBackend runs other groups
  // as dense convolutions per group): direct kernels, no implicit GEMM.
  conv2dForward(x: number, w: number, bias: number | null, y: number, g: Conv2dGeom): void {
    if (isDepthwise(g)) {
      const total = g.n * g.o * g.oh * g.ow;
      if (total > 0) this.g.dispatch(depthwiseForwardKernel(bias !== null), [this.buf(x), this.buf(w), ...this.opt(bias), this.buf(y)], groupsFor(total), Executor.dwParams(total, g));
      return;
    }
    const P = g.oh * g.ow, m = this.merge(g.n, P);
    this.gemm(convForwardSpec(bias !== null, this.spec(g), m), [this.buf(x), this.buf(w), ...this.opt(bias)], this.buf(y),
      g.o, m ? g.n * P : P, g.c * g.kh * g.kw, m ? 1 : g.n, Executor.geom(g), false, !m);
  }
  conv2dBackwardData(gy: number, w: number, gx: number, g: Conv2dGeom): void {
    if (isDepthwise(g)) {
      const total = g.n * g.c * g.h * g.w;
      if (total > 0) this.g.dispatch(depthwiseBackwardDataKernel, [this.buf(gy), this.buf(w), this.buf(gx)], groupsFor(total), Executor.dwParams(total, g));
      return;
    }
    const HW = g.h * g.w, m = this.merge(g.n, HW);
    this.gemm(convBackwardDataSpec(this.spec(g), m), [this.buf(gy), this.buf(w)], this.buf(gx),
      g.c, m ? g.n * HW : HW, g.o * g.kh * g.kw, m ? 1 : g.n, Executor.geom(g), false, !m);
  }
  conv2dBackwardWeight(gy: number, x: number, gw: number, g: Conv2dGeom): void {
    if (isDepthwise(g)) {
      const count = g.o * g.kh * g.kw;
      if (count > 0) this.g.dispatch(depthwiseBackwardWeightKernel, [this.buf(gy), this.buf(x), this.buf(gw)], grid(count), Executor.dwParams(count, g));
      return;
    }
    this.gemm(convBackwardWeightSpec(this.spec(g)), [this.buf(gy), this.buf(x)], this.buf(gw),
      g.o, g.c * g.kh * g.kw, g.n * g.oh * g.ow, 1, Executor.geom(g), false);
  }

  // ------------------------------------------------------------------ pooling

  private static pool(total: number, g: Pool2dGeom): number[] {
    return [total, g.h, g.w, g.kh, g.kw, g.sh, g.sw, g.ph, g.pw, g.oh, g.ow];
  }
  maxPool2dForward(x: number, y: number, argmax: number, g: Pool2dGeom): void {
    const total = g.n * g.c * g.oh * g.ow;
    this.g.dispatch(maxPoolForwardKernel, [this.buf(x), this.buf(y), this.buf(argmax)], groupsFor(total), Executor.pool(total, g));
  }
  maxPool2dBackward(gy: number, argmax: number, gx: number, g: Pool2dGeom): void {
    const total = g.n * g.c * g.h * g.w;
    this.g.dispatch(maxPoolBackwardKernel, [this.buf(gy), this.buf(argmax), this.buf(gx)], groupsFor(total), Executor.pool(total, g));
  }
  avgPool2dForward(x: number, y: number, g: Pool2dGeom): void {
    const total = g.n * g.c * g.oh * g.ow;
    this.g.dispatch(avgPoolForwardKernel, [this.buf(x), this.buf(y)], groupsFor(total), Executor.pool(total, g));
  }
  avgPool2dBackward(gy: number, gx: number, g: Pool2dGeom): void {
    const total = g.n * g.c * g.h * g.w;
    this.g.dispatch(avgPoolBackwardKernel, [this.buf(gy), this.buf(gx)], groupsFor(total), Executor.pool(total, g));
  }

  // ------------------------------------------------------------------ normalisation

  batchNormTrainForward({ x, gamma, beta, y, mean, invstd, varBiased }: BatchNormTrainForwardArgs<number>, { n, c, s, eps }: NormGeom): void {
    if (c === 0) return;
    const X = this.buf(x), MEAN = this.buf(mean), INV = this.buf(invstd);
    this.g.dispatch(bnStatsKernel, [X, MEAN, INV, this.buf(varBiased)], grid(c), [n, c, s, f(eps)]);
    const total = n * c * s;
    this.g.dispatch(bnApplyKernel(false, gamma !== null, beta !== null), [X, MEAN, INV, ...this.opt(gamma), ...this.opt(beta), this.buf(y)],
      groupsFor(total), [total, c, s, f(eps)]);
  }
  batchNormTrainBackward({ gy, x, gamma, mean, invstd, gx, ggamma, gbeta }: NormBackwardArgs<number>, { n, c, s }: NormGeom): void {
    if (c === 0) return;
    const GY = this.buf(gy), X = this.buf(x), MEAN = this.buf(mean), INV = this.buf(invstd);
    const sums = this.g.temp(2 * c);
    this.g.dispatch(bnSumsKernel, [GY, X, MEAN, sums], grid(c), [n, c, s]);
    if (ggamma !== null || gbeta !== null) {
      this.g.dispatch(bnParamGradKernel(false, ggamma !== null, gbeta !== null), [sums, INV, ...this.opt(ggamma), ...this.opt(gbeta)],
        groupsFor(c), [c, f(0)]);
    }
    if (gx !== null) {
      const total = n * c * s;
      this.g.dispatch(bnTrainGxKernel(gamma !== null), [GY, X, MEAN, INV, ...this.opt(gamma), sums, this.buf(gx)],
        groupsFor(total), [total, c, s, f(n * s)]);
    }
    this.g.releaseBuf(sums);
  }
  batchNormEvalForward({ x, gamma, beta, runMean, runVar, y }: BatchNormEvalForwardArgs<number>, { n, c, s, eps }: NormGeom): void {
    const total = n * c * s;
    this.g.dispatch(bnApplyKernel(true, gamma !== null, beta !== null),
      [this.buf(x), this.buf(runMean), this.buf(runVar), ...this.opt(gamma), ...this.opt(beta), this.buf(y)],
      groupsFor(total), [total, c, s, f(eps)]);
  }
  batchNormEvalBackward({ gy, x, gamma, runMean, runVar, gx, ggamma, gbeta }: BatchNormEvalBackwardArgs<number>, { n, c, s, eps }: NormGeom): void {
    const total = n * c * s;
    if (gx !== null) {
      this.g.dispatch(bnEvalGxKernel(gamma !== null), [this.buf(gy), this.buf(runVar), ...this.opt(gamma), this.buf(gx)],
        groupsFor(total), [total, c, s, f(eps)]);
    }
    if ((ggamma !== null || gbeta !== null) && c > 0) {
      const sums = this.g.temp(2 * c);
      this.g.dispatch(bnSumsKernel, [this.buf(gy), this.buf(x), this.buf(runMean), sums], grid(c), [n, c, s]);
      this.g.dispatch(bnParamGradKernel(true, ggamma !== null, gbeta !== null),
        [sums, this.buf(runVar), ...this.opt(ggamma), ...this.opt(gbeta)], groupsFor(c), [c, f(eps)]);
      this.g.releaseBuf(sums);
    }
  }
  batchNormUpdateRunning({ runMean, runVar, mean, varBiased, momentum, m }: BatchNormRunningArgs<number>): void {
    const c = this.len(runMean);
    const unbias = m > 1 ? m / (m - 1) : 1;
    this.g.dispatch(bnRunningKernel, [this.buf(runMean), this.buf(runVar), this.buf(mean), this.buf(varBiased)], groupsFor(c),
      [c, f(momentum), f(1 - momentum), f(unbias)]);
  }
  groupNormForward({ x, gamma, beta, y, mean, invstd }: NormForwardArgs<number>, { n, c, s, groups, eps }: GroupNormGeom): void {
    const cg = c / groups;
    const M = cg * s, rows = n * groups, total = n * c * s;
    if (rows === 0) return;
    const X = this.buf(x), MEAN = this.buf(mean), INV = this.buf(invstd);
    this.g.dispatch(rowStatsKernel, [X, MEAN, INV], grid(rows), [rows, M, f(eps)]);
    this.g.dispatch(gnApplyKernel(gamma !== null, beta !== null), [X, MEAN, INV, ...this.opt(gamma), ...this.opt(beta), this.buf(y)],
      groupsFor(total), [total, c, s, M]);
  }
  groupNormBackward({ gy, x, gamma, mean, invstd, gx, ggamma, gbeta }: NormBackwardArgs<number>, { n, c, s, groups }: GroupNormGeom): void {
    const cg = c / groups;
    const M = cg * s, pairs = n * c, total = n * c * s;
    if (pairs === 0) return;
    const GY = this.buf(gy), X = this.buf(x), MEAN = this.buf(mean), INV = this.buf(invstd);
    const ab = this.g.temp(2 * pairs);
    const wide = s >= 64;
    this.g.dispatch(gnPairSumsKernel(wide), [GY, X, MEAN, ab], wide ? grid(pairs) : groupsFor(pairs), [pairs, s, c, groups, cg]);
    if (gx !== null) {
      const gs = this.g.temp(2 * n * groups);
      this.g.dispatch(gnGroupSumsKernel(gamma !== null), [ab, ...this.opt(gamma), gs], groupsFor(n * groups), [n * groups, c, groups, cg]);
      this.g.dispatch(gnGxKernel(gamma !== null), [GY, X, MEAN, INV, ...this.opt(gamma), gs, this.buf(gx)], groupsFor(total),
        [total, c, s, f(M), groups, cg]);
      this.g.releaseBuf(gs);
    }
    if (ggamma !== null || gbeta !== null) {
      this.g.dispatch(gnParamGradKernel(ggamma !== null, gbeta !== null), [ab, INV, ...this.opt(ggamma), ...this.opt(gbeta)],
        groupsFor(c), [c, n, groups, cg]);
    }
    this.g.releaseBuf(ab);
  }

  // ------------------------------------------------------------------ softmax and losses

  softmax(x: number, y: number, { rows, cols, log }: SoftmaxArgs): void {
    if (cols === 0) return;
    this.g.dispatch(softmaxKernel(log), [this.buf(x), this.buf(y)], groupsFor(rows), [rows, cols]);
  }
  softmaxBackward(y: number, gy: number, gx: number, { rows, cols, log }: SoftmaxArgs): void {
    if (cols === 0) return;
    this.g.dispatch(softmaxBackwardKernel(log), [this.buf(y), this.buf(gy), this.buf(gx)], groupsFor(rows), [rows, cols]);
  }
  crossEntropy({ logits, labels, rows, cols, smoothing, grad, loss: out }: CrossEntropyArgs<number>): void {
    if (rows === 0) { this.g.clear(this.buf(out), 0, 4); return; }
    const lab = this.g.temp(rows);
    this.g.upload(lab, 0, labels.subarray(0, rows));
    const loss = this.g.temp(rows);
    const off = smoothing / cols;
    this.g.dispatch(crossEntropyKernel(grad !== null), [this.buf(logits), lab, ...this.opt(grad), loss], groupsFor(rows),
      [rows, cols, f(off), f(1 - smoothing + off), f(1 / rows), smoothing !== 0]);
    this.reduceFull('sum', loss, rows, this.buf(out), 1 / rows);
    this.g.releaseBuf(lab);
    this.g.releaseBuf(loss);
  }
  argmaxRows(x: number, rows: number, cols: number, out: number): void {
    this.g.dispatch(argmaxRowsKernel, [this.buf(x), this.buf(out)], groupsFor(rows), [rows, cols]);
  }

  // ------------------------------------------------------------------ layout

  permute(x: number, shape: Shape, perm: Shape, y: number): void {
    const n = prod(shape);
    if (n === 0) return;
    const xs = denseStrides(shape);
    const outShape = perm.map((p) => shape[p]!);
    const c = coalesce(outShape, [denseStrides(outShape), perm.map((p) => xs[p]!)]);
    const rank = c.shape.length;
    const sx = c.strides[1]!;
    if (rank === 1 && sx[0] === 1 && x !== y) { this.g.copy(this.buf(x), 0, this.buf(y), 0, n * 4); return; }
    this.g.dispatch(gatherKernel(rank), [this.buf(x), this.buf(y)], groupsFor(n), [n, rank, 0, 0, ...pad8(c.shape), ...pad8(sx)]);
  }
  copyRegion(src: number, srcShape: Shape, srcStart: Shape, dst: number, dstShape: Shape, dstStart: Shape, region: Shape): void {
    const n = prod(region);
    if (n === 0) return;
    const ss = denseStrides(srcShape), ds = denseStrides(dstShape);
    let so = 0, dO = 0;
    for (let d = 0; d < region.length; d++) { so += srcStart[d]! * ss[d]!; dO += dstStart[d]! * ds[d]!; }
    const c = coalesce(region, [ss, ds]);
    const rank = c.shape.length;
    if (rank === 1 && c.strides[0]![0] === 1 && c.strides[1]![0] === 1 && src !== dst) {
      this.g.copy(this.buf(src), so * 4, this.buf(dst), dO * 4, n * 4);
      return;
    }
    if (rank === 1 && n === 1 && src !== dst) { this.g.copy(this.buf(src), so * 4, this.buf(dst), dO * 4, 4); return; }
    this.g.dispatch(copyRegionKernel(rank), [this.buf(src), this.buf(dst)], groupsFor(n),
      [n, 0, so, dO, ...pad8(c.shape), ...pad8(c.strides[0]!), ...pad8(c.strides[1]!)]);
  }

  // ------------------------------------------------------------------ optimisers

  adamStep({ p, g, m, v, lr, beta1, beta2, eps, weightDecay, step, decoupled }: AdamStepArgs<number>): void {
    const n = this.len(p);
    const bc1 = 1 - Math.pow(beta1, step);
    const bc2 = 1 - Math.pow(beta2, step);
    this.g.dispatch(adamKernel, [this.buf(p), this.buf(g), this.buf(m), this.buf(v)], groupsFor(n), [
      n, f(beta1), f(beta2), f(eps), f(lr / bc1), f(Math.sqrt(bc2)), f(decoupled ? 1 - lr * weightDecay : 1),
      f(decoupled ? 0 : weightDecay), f(1 - beta1), f(1 - beta2),
    ]);
  }
  sgdStep({ p, g, buf, lr, momentum, dampening, weightDecay, nesterov, first }: SgdStepArgs<number>): void {
    const n = this.len(p);
    const withBuf = buf !== null && momentum !== 0;
    this.g.dispatch(sgdKernel(withBuf), [this.buf(p), this.buf(g), ...(withBuf ? [this.buf(buf)] : [])], groupsFor(n),
      [n, f(lr), f(momentum), f(1 - dampening), f(weightDecay), nesterov, first]);
  }
  emaUpdate(y: number, x: number, decay: number): void {
    const n = this.len(y);
    this.g.dispatch(emaKernel, [this.buf(y), this.buf(x)], groupsFor(n), [n, f(decay), f(1 - decay)]);
  }
}
