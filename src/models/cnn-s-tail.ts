/**
 * The planned tail of cnn-s (Classifier.evalTail), for evaluating many parameter sets on cached
 * features: buffers allocated once per chunk size instead of fresh tensors per op, and the
 * backend kernels the ops call, so the numbers are the same as CnnS.forwardFrom's.
 *
 * When the first subset layer is a BatchNorm followed by ReLU and 2x2 max-pool (bn mode: bn2),
 * the features are the max-pool AND min-pool of the conv output instead of the conv output
 * itself. relu(bn(.)) is a monotone function per channel (non-decreasing when the channel's BN
 * scale gamma/sqrt(var+eps) is >= 0, non-increasing when it is < 0), and float rounding is
 * monotone, so
 *   maxpool(relu(bn(x))) = relu(bn(maxpool(x)))    (scale >= 0)
 *                        = relu(bn(minpool(x)))    (scale <  0)
 * holds exactly, bit for bit: the tail then normalises a quarter of the elements and skips the
 * pooling, and the cache is half the size.
 *
 * Where the backend has fused inference passes (Backend.fusedEval), BN + ReLU + pooling blocks
 * run as one pass each with the same per-element arithmetic: all of them ('fused', where the
 * backend prefers them: js), or only the last one, BN + ReLU + global average pool, the largest
 * activation of the bn-mode tail ('planned': blas, whose C kernels beat the fused JS passes
 * elsewhere; on blas the 'planned' variant also runs the pooled BN + ReLU block as one fused
 * pass, bnReluSelect, in C, and tries first to fold conv3 into the last pass,
 * convBnReluMean, so that conv3's output is never written). Whichever variant is chosen must reproduce forwardFrom bit for bit on a few images
 * (firstExactTail); otherwise the next, more literal variant is tried, and finally the generic
 * tail, with a warning. On a backend without fused passes (webgpu) the tail calls its kernels.
 */
import type { Backend, BatchNormEvalForwardArgs, FusedEvalKernels, Storage } from '../backend/backend.js';
import { convOutSize, type Conv2dGeom, type FloatArray, type NormGeom, type Pool2dGeom } from '../backend/kernels.js';
import type { BatchNorm, Conv2d, Linear } from '../nn/layers.js';
import * as ops from '../tensor/ops.js';
import type { Tensor } from '../tensor/tensor.js';
import { NumericError, ShapeError } from '../util/errors.js';
import type { Classifier, EvalTailRequest, TailKind, TailRunner } from './classifier.js';
import { firstExactTail, type TailCandidate } from './tail.js';

/** The layers of cnn-s the tail runs (CnnS in cnn-s.ts; named here so that file and this one do not import each other). */
export interface CnnSLayers extends Classifier {
  readonly conv1: Conv2d;
  readonly bn1: BatchNorm;
  readonly conv2: Conv2d;
  readonly bn2: BatchNorm;
  readonly conv3: Conv2d;
  readonly bn3: BatchNorm;
  readonly fc: Linear;
}

/**
 * Images per pass of the fused tail: small enough that a block's buffers (conv3's column
 * matrix: 288 x 49 floats per image) stay in a 2 MiB L2 cache, large enough for GEMMs of a few
 * hundred columns.
 */
const FUSED_SUB_BATCH = 32;

const convSize = (g: Conv2dGeom): number => g.o * g.oh * g.ow;
const poolSize = (g: Pool2dGeom): number => g.c * g.oh * g.ow;

/**
 * CnnS.evalTail: the first variant (see TailChoice) that the backend supports and that
 * reproduces forwardFrom bit for bit; null when none does or the plan does not apply.
 */
export function cnnSEvalTail(m: CnnSLayers, req: EvalTailRequest): TailRunner | null {
  if (req.choice === 'generic' || !CnnSTail.applicable(m)) return null;
  const be = m.backend, fe = be.fusedEval, choice = req.choice;
  // Best first; each later one replicates fewer kernels, so one of them survives a change of an
  // engine kernel. The fused tail works on host views of sub-batches.
  const host = fe !== null && be.hostView(be.empty(0)) !== null;
  const candidates: TailCandidate[] = [];
  const add = (label: string, fused: boolean, fusedGap: boolean, convGap = false): void => {
    candidates.push({ label, make: () => new CnnSTail(m, req.start, req.inShape, fused, fusedGap, convGap) });
  };
  if (fe !== null && host && (choice === 'fused' || (choice === 'auto' && fe.preferred))) add('fused', true, true);
  if (fe?.convBnReluMean && choice !== 'kernels' && m.conv3.bias === null && req.start < 5) add('unfused with conv3 in the fused last block', false, true, true);
  if (fe !== null && choice !== 'kernels') add('unfused with fused last block', false, true);
  add('unfused', false, false);
  return firstExactTail(m, req, candidates, 'src/models/cnn-s-tail.ts');
}

interface PlanBuffers {
  c1: Storage | null; t1: Storage | null; p1: Storage | null;
  c2: Storage | null; t2: Storage | null; p2: Storage | null;
  neg: Storage | null;
  c3: Storage | null; t3: Storage | null; gap: Storage; logits: Storage;
}

interface FusedSub {
  sub: number;
  c1: FloatArray | null; p1: FloatArray | null; c2: FloatArray | null; p2: FloatArray | null; c3: FloatArray | null;
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

/** An eval-mode BatchNorm's storages as batchNormEvalForward takes them, reading x and writing y. */
function bnArgs(bn: BatchNorm, x: Storage, y: Storage): BatchNormEvalForwardArgs {
  return { x, gamma: bn.weight ? bn.weight.storage : null, beta: bn.bias ? bn.bias.storage : null, runMean: bn.runningMean!.storage, runVar: bn.runningVar!.storage, y };
}

/** The geometry of a batch norm over [n, c, s]. */
const normGeom = (bn: BatchNorm, n: number, c: number, s: number): NormGeom => ({ n, c, s, eps: bn.eps });

/**
 * cnn-s forward from stage `start` on preallocated buffers. Unfused, it calls the kernels the
 * ops call (conv2dForward, batchNormEvalForward, unary relu, maxPool2dForward, sumTo + affine for
 * the global average pool, matmul + broadcast add for the linear head). Fused, BN + ReLU +
 * pooling run as one backend pass per block; convolutions and the head go through the backend
 * as before.
 */
export class CnnSTail implements TailRunner {
  readonly kind: TailKind;
  /** Whether the features are [maxpool, minpool] of the conv output feeding the first subset BN. */
  readonly poolTrick: boolean;
  private readonly be: Backend;
  private readonly fe: FusedEvalKernels | null;
  private readonly blocks: [BlockGeom, BlockGeom, BlockGeom];
  private readonly bufs = new Map<number, PlanBuffers>();
  private readonly scale: Float64Array;
  private readonly shift: Float64Array;
  private fusedSub: FusedSub | null = null;
  private readonly fusedIo = new Map<number, { gap: Storage; logits: Storage }>();

  /**
   * @param fused all BN + ReLU + pooling blocks as fused backend passes, on host views of sub-batches
   * @param fusedGap (unfused) the last block, BN + ReLU + global average pool, as one fused pass
   * @param convGap (with fusedGap) conv3 too, in the same pass (FusedEvalKernels.convBnReluMean:
   *   conv3's output is never written), where the backend has it and conv3 has no bias
   */
  constructor(private readonly m: CnnSLayers, readonly start: number, inShape: readonly [number, number, number], readonly fused: boolean, readonly fusedGap: boolean,
    readonly convGap = false) {
    this.be = m.backend;
    this.kind = fused ? 'fused' : 'planned';
    this.fe = this.be.fusedEval;
    if ((fused || fusedGap) && !this.fe) throw new ShapeError(`cnn-s tail: the fused variant needs a backend with fused passes, ${this.be.name} has none`);
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
  static applicable(m: CnnSLayers): boolean {
    return [m.bn1, m.bn2, m.bn3].every((bn) => bn.runningMean !== null && bn.runningVar !== null);
  }

  features(x: Tensor): Tensor[] {
    const h = this.m.forwardTo(x, this.start);
    if (!this.poolTrick) return [h];
    return [ops.maxPool2d(h, { kernel: 2 }), ops.neg(ops.maxPool2d(ops.neg(h), { kernel: 2 }))];
  }

  featureFloats(): number {
    const [b1, b2, b3] = this.blocks;
    switch (this.start) {
      case 0: return b1.conv.c * b1.conv.h * b1.conv.w;
      case 1: return 2 * poolSize(b1.pool!);
      case 2: return poolSize(b1.pool!);
      case 3: return 2 * poolSize(b2.pool!);
      case 4: return poolSize(b2.pool!);
      case 5: return convSize(b3.conv);
      default: return b3.conv.o;
    }
  }

  private buffers(rows: number): PlanBuffers {
    let b = this.bufs.get(rows);
    if (b) return b;
    if (this.bufs.size >= 4) this.bufs.clear(); // chunk sizes: the batch and the last chunk of each split
    const be = this.be, s = this.start;
    const [b1, b2, b3] = this.blocks;
    const convOut = (g: Conv2dGeom): number => rows * convSize(g);
    const poolOut = (g: Pool2dGeom): number => rows * poolSize(g);
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
      t3: alloc(s < 6 && !this.fusedGap, convOut(b3.conv)),
      gap: be.alloc(rows * b3.conv.o),
      logits: be.alloc(rows * this.m.fc.outFeatures),
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
        : this.block(m.bn1, x, buf.t1, buf.p1!, b1.conv, b1.pool!, rows);
    }
    if (s < 3) x = this.conv(m.conv2, x, buf.c2!, b2.conv, rows);
    if (s < 4) {
      x = s === 3 && this.poolTrick
        ? this.pooledBlock(m.bn2, x, feats[1]!.storage, buf.p2!, buf.neg, b2.pool!, rows)
        : this.block(m.bn2, x, buf.t2, buf.p2!, b2.conv, b2.pool!, rows);
    }
    if (s < 5 && this.convGap && this.convGapPass(x, buf.gap, rows)) return this.head(buf.gap, buf.logits, rows);
    if (s < 5) x = this.conv(m.conv3, x, buf.c3!, b3.conv, rows);
    if (s < 6) {
      // ops.globalAvgPool2d(ops.relu(bn3(x))) = mean over [2, 3] = sumTo, then affine(1 / (h w)).
      const g = b3.conv, plane = g.oh * g.ow;
      if (this.fusedGap) {
        // One pass instead of BN, relu and sum passes over the largest activation of the tail.
        this.fe!.bnReluMean(bnArgs(m.bn3, x, buf.gap), normGeom(m.bn3, rows, g.o, plane));
      } else {
        this.bnEval(m.bn3, x, buf.t3!, rows, g.o, plane);
        if (this.fe) {
          this.fe.reluRowSums(buf.t3!, buf.gap, rows * g.o, plane); // relu + sumTo in one pass
        } else {
          be.unary('relu', buf.t3!, buf.t3!, 0, 0);
          be.sumTo(buf.t3!, [rows, g.o, g.oh, g.ow], buf.gap, [rows, g.o, 1, 1]);
        }
        be.unary('affine', buf.gap, buf.gap, 1 / plane, 0);
      }
      x = buf.gap;
    }
    return this.head(x, buf.logits, rows);
  }

  /** conv3 + BN + ReLU + global mean in one backend pass; false where the backend cannot take it (then the separate calls run). */
  private convGapPass(x: Storage, gap: Storage, rows: number): boolean {
    const m = this.m, bn = bnArgs(m.bn3, x, gap);
    return this.fe!.convBnReluMean!(x, m.conv3.weight.storage, { gamma: bn.gamma, beta: bn.beta, runMean: bn.runMean, runVar: bn.runVar, y: gap },
      { ...this.blocks[2].conv, n: rows }, m.bn3.eps);
  }

  /** ops.linear: x W^T, then the bias broadcast over rows. */
  private head(x: Storage, logits: Storage, rows: number): Storage {
    const fc = this.m.fc, out = fc.outFeatures, be = this.be;
    be.matmul({ a: x, b: fc.weight.storage, c: logits, batch: 1, m: rows, n: out, k: fc.inFeatures, transB: true });
    if (fc.bias) be.binary('add', logits, [rows, out], fc.bias.storage, [1, out], logits, [rows, out]);
    return logits;
  }

  /** A storage over a host view (the fused tail works on sub-batches of its host arrays). */
  private wrap(a: FloatArray): Storage {
    const s = this.be.wrapHost(a);
    if (s === null) throw new ShapeError(`cnn-s tail: backend ${this.be.name} cannot take a host array as a storage (the fused variant needs host memory)`);
    return s;
  }

  private host(s: Storage): FloatArray {
    const a = this.be.hostView(s);
    if (a === null) throw new ShapeError(`cnn-s tail: backend ${this.be.name} has no host view of its storages (the fused variant needs host memory)`);
    return a;
  }

  /**
   * The fused forward, FUSED_SUB_BATCH images at a time so that each block's buffers (the
   * convolution's column matrix above all) stay in cache; the head runs once on all rows.
   */
  private runFused(feats: readonly Tensor[], rows: number): Storage {
    const m = this.m, fe = this.fe!, s = this.start;
    const [b1, b2, b3] = this.blocks;
    const fb = this.fusedBuffers(rows);
    let head: Storage = fb.gap;
    if (s >= 6) head = feats[0]!.storage;
    else {
      const f0 = this.host(feats[0]!.storage), f1 = feats[1] ? this.host(feats[1].storage) : null;
      const per = f0.length / rows;
      const gap = this.host(fb.gap), c3o = b3.conv.o;
      for (let r0 = 0; r0 < rows; r0 += FUSED_SUB_BATCH) {
        const n = Math.min(FUSED_SUB_BATCH, rows - r0);
        const part = (a: FloatArray, size: number): FloatArray => a.subarray(0, n * size);
        let x: FloatArray = f0.subarray(r0 * per, (r0 + n) * per);
        if (s < 1) x = this.convView(m.conv1, x, part(fb.c1!, convSize(b1.conv)), b1.conv, n);
        if (s < 2) {
          const y = part(fb.p1!, poolSize(b1.pool!));
          if (s === 1) this.pooledFused(m.bn1, x, f1!.subarray(r0 * per, (r0 + n) * per), y, b1.pool!, n);
          else fe.bnReluMaxPool2(bnArgs(m.bn1, this.wrap(x), this.wrap(y)), { ...b1.pool!, n, eps: m.bn1.eps });
          x = y;
        }
        if (s < 3) x = this.convView(m.conv2, x, part(fb.c2!, convSize(b2.conv)), b2.conv, n);
        if (s < 4) {
          const y = part(fb.p2!, poolSize(b2.pool!));
          if (s === 3) this.pooledFused(m.bn2, x, f1!.subarray(r0 * per, (r0 + n) * per), y, b2.pool!, n);
          else fe.bnReluMaxPool2(bnArgs(m.bn2, this.wrap(x), this.wrap(y)), { ...b2.pool!, n, eps: m.bn2.eps });
          x = y;
        }
        if (s < 5) x = this.convView(m.conv3, x, part(fb.c3!, convSize(b3.conv)), b3.conv, n);
        fe.bnReluMean(bnArgs(m.bn3, this.wrap(x), this.wrap(gap.subarray(r0 * c3o, (r0 + n) * c3o))), normGeom(m.bn3, n, c3o, b3.conv.oh * b3.conv.ow));
      }
    }
    return this.head(head, fb.logits, rows);
  }

  /** Sub-batch buffers (c1, p1, c2, p2, c3 for FUSED_SUB_BATCH images) and gap / logits for `rows`. */
  private fusedBuffers(rows: number): FusedSub & { gap: Storage; logits: Storage } {
    const sub = Math.min(FUSED_SUB_BATCH, rows);
    if (!this.fusedSub || this.fusedSub.sub < sub) {
      const s = this.start, [b1, b2, b3] = this.blocks;
      const mk = (need: boolean, size: number): FloatArray | null => (need ? this.host(this.be.alloc(sub * size)) : null);
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

  private convView(layer: Conv2d, x: FloatArray, y: FloatArray, g: Conv2dGeom, n: number): FloatArray {
    this.be.conv2dForward(this.wrap(x), layer.weight.storage, layer.bias ? layer.bias.storage : null, this.wrap(y), { ...g, n });
    return y;
  }

  private pooledFused(bn: BatchNorm, pmax: FloatArray, pmin: FloatArray, y: FloatArray, pg: Pool2dGeom, n: number): void {
    this.scaleShiftChecked(bn);
    this.fe!.bnReluSelect({ ...bnArgs(bn, this.wrap(pmax), this.wrap(y)), xNeg: this.wrap(pmin) }, normGeom(bn, n, pg.c, pg.oh * pg.ow));
  }

  /** bnScaleShift, refusing a non-finite scale (the pooled identity needs a finite, signed scale). */
  private scaleShiftChecked(bn: BatchNorm): void {
    bnScaleShift(bn, this.hostFn, this.scale, this.shift);
    for (let ch = 0; ch < bn.numFeatures; ch++) {
      const a = this.scale[ch]!;
      if (!Number.isFinite(a)) {
        throw new NumericError(`cnn-s tail: the BN scale weight / sqrt(running_var + eps) of channel ${ch} is ${a}, expected a finite number`);
      }
    }
  }

  private conv(layer: Conv2d, x: Storage, y: Storage, g: Conv2dGeom, rows: number): Storage {
    this.be.conv2dForward(x, layer.weight.storage, layer.bias ? layer.bias.storage : null, y, { ...g, n: rows });
    return y;
  }

  private bnEval(bn: BatchNorm, x: Storage, y: Storage, rows: number, c: number, plane: number): void {
    this.be.batchNormEvalForward(bnArgs(bn, x, y), normGeom(bn, rows, c, plane));
  }

  /** bn -> relu -> 2x2 max-pool on the conv output x. */
  private block(bn: BatchNorm, x: Storage, t: Storage | null, p: Storage, g: Conv2dGeom, pg: Pool2dGeom, rows: number): Storage {
    this.bnEval(bn, x, t!, rows, g.o, g.oh * g.ow);
    this.be.unary('relu', t!, t!, 0, 0);
    const geom = { ...pg, n: rows };
    if (this.fe) this.fe.maxPool2d(t!, p, geom); // no argmax allocation per call
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
    if (this.fusedGap) {
      // the variant with fused passes: BN, the choice of input and relu in one pass (blas: in C, on the kernel threads)
      this.fe!.bnReluSelect({ ...bnArgs(bn, pmax, y), xNeg: pmin }, normGeom(bn, rows, c, plane));
      return y;
    }
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

  /** BN parameters on the host: the live arrays where the backend has them, else copies. */
  private readonly hostFn = (s: Storage): Float32Array | Float64Array => this.be.hostView(s) ?? this.be.read(s);
}

function blockGeom(conv: Conv2d, c: number, h: number, w: number, pooled: boolean): BlockGeom {
  const k = conv.kernel, st = conv.stride, pd = conv.padding;
  const oh = convOutSize(h, k, st, pd), ow = convOutSize(w, k, st, pd);
  const g: Conv2dGeom = { n: 0, c, h, w, o: conv.outChannels, kh: k, kw: k, sh: st, sw: st, ph: pd, pw: pd, oh, ow };
  const pool: Pool2dGeom | null = pooled
    ? { n: 0, c: conv.outChannels, h: oh, w: ow, kh: 2, kw: 2, sh: 2, sw: 2, ph: 0, pw: 0, oh: convOutSize(oh, 2, 2, 0), ow: convOutSize(ow, 2, 2, 0) }
    : null;
  if (oh <= 0 || ow <= 0 || (pool && (pool.oh <= 0 || pool.ow <= 0))) {
    throw new ShapeError(`cnn-s tail: input [${c}, ${h}, ${w}] is too small for ${conv.kernel}x${conv.kernel} conv + 2x2 pool`);
  }
  return { conv: g, pool };
}
