/**
 * Differentiable convolution, pooling and normalisation ops (the rest are in ops.ts, which
 * re-exports these): forward with backend kernels, backward recorded on the tape.
 */
import type { Storage } from '../backend/backend.js';
import { convOutSize, type Conv2dGeom, type GroupNormGeom, type LayerNormGeom, type NormGeom, type Pool2dGeom } from '../backend/kernels.js';
import { ShapeError } from '../util/errors.js';
import { fmt, outFull, recordReleasing, sameBackend } from './op-util.js';
import { noteWork } from './count.js';
import { Tensor, needsGrad, record } from './tensor.js';

// ---------------------------------------------------------------- convolution

export interface Conv2dArgs {
  /** Stride (same for both axes when a number). */
  stride?: number | [number, number];
  /** Zero padding on each side (same for both axes when a number). */
  padding?: number | [number, number];
  /**
   * Channel groups (PyTorch's `groups`), dividing both the input and the output channels; the
   * weight is then [O, C / groups, kh, kw]. Default 1. groups = C is a depthwise convolution.
   */
  groups?: number;
}

const pair = (v: number | [number, number] | undefined, d: number): [number, number] =>
  v === undefined ? [d, d] : typeof v === 'number' ? [v, v] : v;

function convCore(x: Tensor, w: Tensor, b: Tensor | null, g: Conv2dGeom, yShape: number[], biasShape: number[]): Tensor {
  const be = sameBackend('conv', x, w, b);
  const y = outFull(be, yShape);
  be.conv2dForward(x.storage, w.storage, b ? b.storage : null, y.storage, g);
  noteWork('conv2d', g.n * g.o * g.oh * g.ow * (g.c / (g.groups ?? 1)) * g.kh * g.kw, b ? y.size : 0);
  if (needsGrad(x, w, b)) {
    record(y, [x, w, b], (gy) => {
      let gx: Storage | null = null, gw: Storage | null = null, gb: Storage | null = null;
      if (x.requiresGrad) { gx = be.empty(x.size); be.conv2dBackwardData(gy, w.storage, gx, g); }
      if (w.requiresGrad) { gw = be.empty(w.size); be.conv2dBackwardWeight(gy, x.storage, gw, g); }
      if (b && b.requiresGrad) { gb = be.alloc(b.size); be.sumTo(gy, yShape, gb, biasShape); }
      return [gx, gw, gb];
    });
  }
  return y;
}

/** 2-D convolution: x [N, C, H, W], w [O, C / groups, kh, kw], b [O]. */
export function conv2d(x: Tensor, w: Tensor, b: Tensor | null, args: Conv2dArgs = {}): Tensor {
  const g = conv2dGeom(x, w, b, args, 'conv2d');
  return convCore(x, w, b, g, [g.n, g.o, g.oh, g.ow], [1, g.o, 1, 1]);
}

function conv2dGeom(x: Tensor, w: Tensor, b: Tensor | null, args: Conv2dArgs, op: string): Conv2dGeom {
  const groups = args.groups ?? 1;
  if (!Number.isInteger(groups) || groups < 1) throw new RangeError(`${op}: groups must be a positive integer, got ${groups}`);
  if (x.rank !== 4 || w.rank !== 4) throw new ShapeError(`${op}: weight ${fmt(w.shape)} does not fit input ${fmt(x.shape)} (expected x [N, C, H, W], w [O, C / groups, kh, kw])`);
  const [n, c, h, wd] = x.shape as [number, number, number, number];
  const [o, , kh, kw] = w.shape as [number, number, number, number];
  if (c % groups !== 0 || o % groups !== 0) {
    throw new ShapeError(`${op}: ${groups} groups do not divide the ${c} input channels of ${fmt(x.shape)} and the ${o} output channels of weight ${fmt(w.shape)}`);
  }
  if (w.shape[1] !== c / groups) {
    throw new ShapeError(`${op}: weight ${fmt(w.shape)} does not fit input ${fmt(x.shape)} with groups ${groups} (expected w [O, ${c / groups}, kh, kw])`);
  }
  const [sh, sw] = pair(args.stride, 1), [ph, pw] = pair(args.padding, 0);
  if (b && b.size !== o) throw new ShapeError(`${op}: bias ${fmt(b.shape)} does not fit ${o} output channels`);
  const oh = convOutSize(h, kh, sh, ph), ow = convOutSize(wd, kw, sw, pw);
  if (oh <= 0 || ow <= 0) throw new ShapeError(`${op}: input ${fmt(x.shape)} is smaller than kernel ${kh}x${kw} with padding ${ph},${pw}`);
  // groups stays off the geometry of a dense convolution, which every backend runs as before
  return groups === 1 ? { n, c, h, w: wd, o, kh, kw, sh, sw, ph, pw, oh, ow } : { n, c, h, w: wd, o, kh, kw, sh, sw, ph, pw, oh, ow, groups };
}

/** 1-D convolution: x [N, C, L], w [O, C, k], b [O]. */
export function conv1d(x: Tensor, w: Tensor, b: Tensor | null, args: { stride?: number; padding?: number } = {}): Tensor {
  const g = conv1dGeom(x, w, b, args, 'conv1d');
  return convCore(x, w, b, g, [g.n, g.o, g.ow], [1, g.o, 1]);
}

function conv1dGeom(x: Tensor, w: Tensor, b: Tensor | null, args: { stride?: number; padding?: number }, op: string): Conv2dGeom {
  if (x.rank !== 3 || w.rank !== 3 || w.shape[1] !== x.shape[1]) throw new ShapeError(`${op}: weight ${fmt(w.shape)} does not fit input ${fmt(x.shape)} (expected x [N, C, L], w [O, C, k])`);
  const s = args.stride ?? 1, p = args.padding ?? 0;
  const [n, c, l] = x.shape as [number, number, number];
  const [o, , k] = w.shape as [number, number, number];
  if (b && b.size !== o) throw new ShapeError(`${op}: bias ${fmt(b.shape)} does not fit ${o} output channels`);
  const ol = convOutSize(l, k, s, p);
  if (ol <= 0) throw new ShapeError(`${op}: input ${fmt(x.shape)} is shorter than kernel ${k} with padding ${p}`);
  return { n, c, h: 1, w: l, o, kh: 1, kw: k, sh: 1, sw: s, ph: 0, pw: p, oh: 1, ow: ol };
}

/** An eval-mode batch norm's tensors (BatchNorm1d's weight, bias and running statistics) and eps. */
export interface EvalBatchNorm { weight: Tensor | null; bias: Tensor | null; runningMean: Tensor; runningVar: Tensor; eps: number }

/** The activations conv1dBnActEval / conv2dBnActEval apply after the batch norm. */
export type EvalAct = 'identity' | 'relu' | 'elu';

/**
 * Inference: act(batchNorm(conv1d(x, w, b))) with the running statistics, as one backend pass
 * where the backend has one (FusedEvalKernels.convBnAct), bit for bit what the three ops give;
 * null when a tensor needs a gradient or the backend has no such pass for these tensors (then
 * compose the ops). act: 'identity', 'relu' or 'elu' (with alpha, as ops.elu).
 */
export function conv1dBnActEval(x: Tensor, w: Tensor, b: Tensor | null, args: { stride?: number; padding?: number }, bn: EvalBatchNorm,
  act: EvalAct, alpha = 1): Tensor | null {
  if (!x.backend.fusedEval?.convBnAct || needsGrad(x, w, b, bn.weight, bn.bias)) return null;
  const g = conv1dGeom(x, w, b, args, 'conv1dBnActEval');
  return convBnActCore(x, w, b, g, [g.n, g.o, g.ow], bn, act, alpha);
}

/** conv1dBnActEval for conv2d (x [N, C, H, W]): act(batchNorm(conv2d(x, w, b))) in one pass, or null. */
export function conv2dBnActEval(x: Tensor, w: Tensor, b: Tensor | null, args: Conv2dArgs, bn: EvalBatchNorm, act: EvalAct, alpha = 1): Tensor | null {
  if (!x.backend.fusedEval?.convBnAct || needsGrad(x, w, b, bn.weight, bn.bias)) return null;
  const g = conv2dGeom(x, w, b, args, 'conv2dBnActEval');
  return convBnActCore(x, w, b, g, [g.n, g.o, g.oh, g.ow], bn, act, alpha);
}

function convBnActCore(x: Tensor, w: Tensor, b: Tensor | null, g: Conv2dGeom, yShape: number[], bn: EvalBatchNorm, act: EvalAct, alpha: number): Tensor | null {
  const be = sameBackend('convBnActEval', x, w, b, bn.weight, bn.bias, bn.runningMean, bn.runningVar);
  if (bn.runningMean.size !== g.o || bn.runningVar.size !== g.o || (bn.weight && bn.weight.size !== g.o) || (bn.bias && bn.bias.size !== g.o)) {
    throw new ShapeError(`convBnActEval: the batch norm's tensors do not fit ${g.o} channels`);
  }
  const y = outFull(be, yShape);
  const done = be.fusedEval!.convBnAct!(x.storage, w.storage, b ? b.storage : null, {
    gamma: bn.weight ? bn.weight.storage : null, beta: bn.bias ? bn.bias.storage : null, runMean: bn.runningMean.storage, runVar: bn.runningVar.storage, y: y.storage,
  }, g, bn.eps, act, alpha);
  if (!done) return null; // y goes back with the scope, or to the collector
  // the work the three ops would note
  noteWork('conv2d', g.n * g.o * g.oh * g.ow * (g.c / (g.groups ?? 1)) * g.kh * g.kw, b ? y.size : 0);
  noteWork('batch_norm', y.size);
  if (act !== 'identity') noteWork(act, 0, 0, y.size);
  return y;
}

/**
 * Transposed 1-D convolution (the gradient of conv1d with respect to its input):
 * x [N, Cin, Lin], w [Cin, Cout, k] (PyTorch layout), b [Cout];
 * Lout = (Lin - 1) stride - 2 padding + k + outputPadding.
 */
export function convTranspose1d(x: Tensor, w: Tensor, b: Tensor | null, args: { stride?: number; padding?: number; outputPadding?: number } = {}): Tensor {
  const be = sameBackend('convTranspose1d', x, w, b);
  if (x.rank !== 3 || w.rank !== 3 || w.shape[0] !== x.shape[1]) throw new ShapeError(`convTranspose1d: weight ${fmt(w.shape)} does not fit input ${fmt(x.shape)} (expected x [N, Cin, L], w [Cin, Cout, k])`);
  const s = args.stride ?? 1, p = args.padding ?? 0, op = args.outputPadding ?? 0;
  if (op >= s && op > 0) throw new ShapeError(`convTranspose1d: outputPadding ${op} must be smaller than stride ${s}`);
  const [n, cin, lin] = x.shape as [number, number, number];
  const [, cout, k] = w.shape as [number, number, number];
  if (b && b.size !== cout) throw new ShapeError(`convTranspose1d: bias ${fmt(b.shape)} does not fit ${cout} output channels`);
  const lout = (lin - 1) * s - 2 * p + k + op;
  // The conv that maps [N, Cout, Lout] -> [N, Cin, Lin] with weight [Cin, Cout, 1, k].
  const g: Conv2dGeom = { n, c: cout, h: 1, w: lout, o: cin, kh: 1, kw: k, sh: 1, sw: s, ph: 0, pw: p, oh: 1, ow: lin };
  const yShape = [n, cout, lout];
  const y = outFull(be, yShape);
  be.conv2dBackwardData(x.storage, w.storage, y.storage, g);
  if (b) be.binary('add', y.storage, yShape, b.storage, [1, cout, 1], y.storage, yShape);
  if (needsGrad(x, w, b)) {
    record(y, [x, w, b], (gy) => {
      let gx: Storage | null = null, gw: Storage | null = null, gb: Storage | null = null;
      if (x.requiresGrad) { gx = be.empty(x.size); be.conv2dForward(gy, w.storage, null, gx, g); }
      if (w.requiresGrad) { gw = be.empty(w.size); be.conv2dBackwardWeight(x.storage, gy, gw, g); }
      if (b && b.requiresGrad) { gb = be.alloc(cout); be.sumTo(gy, yShape, gb, [1, cout, 1]); }
      return [gx, gw, gb];
    });
  }
  return y;
}

// ---------------------------------------------------------------- pooling

export interface Pool2dArgs { kernel: number | [number, number]; stride?: number | [number, number]; padding?: number | [number, number] }

function poolGeom(x: Tensor, args: Pool2dArgs, op: string): Pool2dGeom {
  if (x.rank !== 4) throw new ShapeError(`${op}: expected x [N, C, H, W], got ${fmt(x.shape)}`);
  const [kh, kw] = pair(args.kernel, 1);
  const [sh, sw] = args.stride === undefined ? [kh, kw] : pair(args.stride, 1);
  const [ph, pw] = pair(args.padding, 0);
  const [n, c, h, w] = x.shape as [number, number, number, number];
  const oh = convOutSize(h, kh, sh, ph), ow = convOutSize(w, kw, sw, pw);
  if (oh <= 0 || ow <= 0) throw new ShapeError(`${op}: input ${fmt(x.shape)} is smaller than the ${kh}x${kw} window`);
  return { n, c, h, w, kh, kw, sh, sw, ph, pw, oh, ow };
}

export function maxPool2d(x: Tensor, args: Pool2dArgs): Tensor {
  const be = x.backend;
  const g = poolGeom(x, args, 'maxPool2d');
  const y = outFull(be, [g.n, g.c, g.oh, g.ow]);
  const argmax = be.allocIndex(y.size);
  be.maxPool2dForward(x.storage, y.storage, argmax, g);
  noteWork('max_pool2d', 0, 0, y.size * g.kh * g.kw);
  recordReleasing(be, y, [x], [argmax], (gy) => {
    const gx = be.empty(x.size);
    be.maxPool2dBackward(gy, argmax, gx, g);
    return [gx];
  });
  return y;
}

export function avgPool2d(x: Tensor, args: Pool2dArgs): Tensor {
  const be = x.backend;
  const g = poolGeom(x, args, 'avgPool2d');
  const y = outFull(be, [g.n, g.c, g.oh, g.ow]);
  be.avgPool2dForward(x.storage, y.storage, g);
  noteWork('avg_pool2d', 0, 0, y.size * g.kh * g.kw);
  if (needsGrad(x)) record(y, [x], (gy) => { const gx = be.empty(x.size); be.avgPool2dBackward(gy, gx, g); return [gx]; });
  return y;
}


// ---------------------------------------------------------------- normalisation

export interface BatchNormArgs {
  training: boolean;
  /** Running-statistics momentum (PyTorch convention: running = (1 - m) running + m batch). */
  momentum?: number;
  eps?: number;
}

/** Batch normalisation over channel axis 1 of x [N, C, ...]. Running stats are updated in place in training mode. */
export function batchNorm(x: Tensor, gamma: Tensor | null, beta: Tensor | null, runMean: Tensor | null, runVar: Tensor | null, args: BatchNormArgs): Tensor {
  const be = sameBackend('batchNorm', x, gamma, beta, runMean, runVar);
  if (x.rank < 2) throw new ShapeError(`batchNorm: expected x [N, C, ...], got ${fmt(x.shape)}`);
  const n = x.shape[0]!, c = x.shape[1]!, s = x.size / (n * c);
  for (const [nm, t] of [['weight', gamma], ['bias', beta], ['running_mean', runMean], ['running_var', runVar]] as const) {
    if (t && t.size !== c) throw new ShapeError(`batchNorm: ${nm} ${fmt(t.shape)} does not fit ${c} channels of input ${fmt(x.shape)}`);
  }
  const g: NormGeom = { n, c, s, eps: args.eps ?? 1e-5 };
  const y = outFull(be, x.shape);
  noteWork('batch_norm', x.size);
  const gs = gamma?.storage ?? null;
  if (args.training) {
    if (n * s <= 1) throw new ShapeError(`batchNorm: training mode needs more than one value per channel, got input ${fmt(x.shape)}`);
    const mean = be.alloc(c), invstd = be.alloc(c), varB = be.alloc(c);
    be.batchNormTrainForward({ x: x.storage, gamma: gs, beta: beta?.storage ?? null, y: y.storage, mean, invstd, varBiased: varB }, g);
    if (runMean && runVar) {
      be.batchNormUpdateRunning({ runMean: runMean.storage, runVar: runVar.storage, mean, varBiased: varB, momentum: args.momentum ?? 0.1, m: n * s });
    }
    be.release(varB);
    recordReleasing(be, y, [x, gamma, beta], [mean, invstd], (gy) => {
      const gx = x.requiresGrad ? be.empty(x.size) : null;
      const gg = gamma && gamma.requiresGrad ? be.alloc(c) : null;
      const gb = beta && beta.requiresGrad ? be.alloc(c) : null;
      be.batchNormTrainBackward({ gy, x: x.storage, gamma: gs, mean, invstd, gx, ggamma: gg, gbeta: gb }, g);
      return [gx, gg, gb];
    });
  } else {
    if (!runMean || !runVar) throw new ShapeError('batchNorm: eval mode needs running_mean and running_var');
    be.batchNormEvalForward({ x: x.storage, gamma: gs, beta: beta?.storage ?? null, runMean: runMean.storage, runVar: runVar.storage, y: y.storage }, g);
    if (needsGrad(x, gamma, beta)) {
      record(y, [x, gamma, beta], (gy) => {
        const gx = x.requiresGrad ? be.empty(x.size) : null;
        const gg = gamma && gamma.requiresGrad ? be.alloc(c) : null;
        const gb = beta && beta.requiresGrad ? be.alloc(c) : null;
        be.batchNormEvalBackward({ gy, x: x.storage, gamma: gs, runMean: runMean.storage, runVar: runVar.storage, gx, ggamma: gg, gbeta: gb }, g);
        return [gx, gg, gb];
      });
    }
  }
  return y;
}

/** Layer normalisation over the last axis (gamma, beta [d]). */
export function layerNorm(x: Tensor, gamma: Tensor | null, beta: Tensor | null, eps = 1e-5): Tensor {
  const be = sameBackend('layerNorm', x, gamma, beta);
  const d = x.shape[x.rank - 1]!;
  if (gamma && gamma.size !== d) throw new ShapeError(`layerNorm: weight ${fmt(gamma.shape)} does not fit last axis ${d} of ${fmt(x.shape)}`);
  const rows = x.size / d;
  const y = outFull(be, x.shape);
  const mean = be.alloc(rows), invstd = be.alloc(rows);
  const g: LayerNormGeom = { rows, d, eps };
  const gs = gamma?.storage ?? null;
  be.layerNormForward({ x: x.storage, gamma: gs, beta: beta?.storage ?? null, y: y.storage, mean, invstd }, g);
  noteWork('layer_norm', x.size, 0, 2 * x.size);
  recordReleasing(be, y, [x, gamma, beta], [mean, invstd], (gy) => {
    const gx = x.requiresGrad ? be.empty(x.size) : null;
    const gg = gamma && gamma.requiresGrad ? be.alloc(d) : null;
    const gb = beta && beta.requiresGrad ? be.alloc(d) : null;
    be.layerNormBackward({ gy, x: x.storage, gamma: gs, mean, invstd, gx, ggamma: gg, gbeta: gb }, g);
    return [gx, gg, gb];
  });
  return y;
}

/** Group normalisation of x [N, C, ...] in `groups` groups (instance norm: groups = C). */
export function groupNorm(x: Tensor, groups: number, gamma: Tensor | null, beta: Tensor | null, eps = 1e-5): Tensor {
  const be = sameBackend('groupNorm', x, gamma, beta);
  const n = x.shape[0]!, c = x.shape[1]!, s = x.size / (n * c);
  if (c % groups !== 0) throw new ShapeError(`groupNorm: ${c} channels do not split into ${groups} groups`);
  if (gamma && gamma.size !== c) throw new ShapeError(`groupNorm: weight ${fmt(gamma.shape)} does not fit ${c} channels`);
  const y = outFull(be, x.shape);
  const mean = be.alloc(n * groups), invstd = be.alloc(n * groups);
  const g: GroupNormGeom = { n, c, s, groups, eps };
  const gs = gamma?.storage ?? null;
  be.groupNormForward({ x: x.storage, gamma: gs, beta: beta?.storage ?? null, y: y.storage, mean, invstd }, g);
  noteWork('group_norm', x.size, 0, 2 * x.size);
  recordReleasing(be, y, [x, gamma, beta], [mean, invstd], (gy) => {
    const gx = x.requiresGrad ? be.empty(x.size) : null;
    const gg = gamma && gamma.requiresGrad ? be.alloc(c) : null;
    const gb = beta && beta.requiresGrad ? be.alloc(c) : null;
    be.groupNormBackward({ gy, x: x.storage, gamma: gs, mean, invstd, gx, ggamma: gg, gbeta: gb }, g);
    return [gx, gg, gb];
  });
  return y;
}
