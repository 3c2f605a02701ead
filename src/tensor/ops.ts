/**
 * Differentiable ops. Each computes its forward with backend kernels and, when an input requires
 * grad, records a backward closure on the tape. Shapes are checked up front with ShapeError.
 */
import type { Backend, BinaryOp, Storage, UnaryOp } from '../backend/backend.js';
import { convOutSize, type Conv2dGeom, type GroupNormGeom, type LayerNormGeom, type NormGeom, type Pool2dGeom } from '../backend/kernels.js';
import { ShapeError } from '../util/errors.js';
import type { Rng } from './random.js';
import { Tensor, graphConstant, needsGrad, record, shapeSize, scalar, track, type BackwardFn } from './tensor.js';

const fmt = (s: readonly number[]): string => `[${s.join(', ')}]`;

/** A zero-filled output (for kernels that write only part of it: pad, slice's gradient). */
function out(be: Backend, shape: readonly number[]): Tensor {
  return track(new Tensor(be.alloc(shapeSize(shape)), shape, be));
}

/** An output whose every element the next kernel writes: no zero-fill (see Backend.empty). */
function outFull(be: Backend, shape: readonly number[]): Tensor {
  return track(new Tensor(be.empty(shapeSize(shape)), shape, be));
}

function sameBackend(op: string, ...ts: Array<Tensor | null | undefined>): Backend {
  let be: Backend | null = null;
  for (const t of ts) {
    if (!t) continue;
    if (be && t.backend !== be) throw new Error(`${op}: inputs live on different backends (${be.name}, ${t.backend.name})`);
    be = t.backend;
  }
  return be!;
}

// ---------------------------------------------------------------- elementwise unary

function unaryOp(op: UnaryOp, x: Tensor, alpha = 0, beta = 0): Tensor {
  const be = x.backend;
  const y = outFull(be, x.shape);
  be.unary(op, x.storage, y.storage, alpha, beta);
  if (needsGrad(x)) {
    record(y, [x], (gy) => {
      const gx = be.empty(x.size);
      be.unaryBackward(op, x.storage, y.storage, gy, gx, alpha, beta);
      return [gx];
    });
  }
  return y;
}

export const relu = (x: Tensor): Tensor => unaryOp('relu', x);
export const leakyRelu = (x: Tensor, slope = 0.01): Tensor => unaryOp('leaky_relu', x, slope);
export const elu = (x: Tensor, alpha = 1): Tensor => unaryOp('elu', x, alpha);
export const silu = (x: Tensor): Tensor => unaryOp('silu', x);
/** GELU; `approximate: 'tanh'` uses the tanh form. */
export const gelu = (x: Tensor, approximate: 'none' | 'tanh' = 'none'): Tensor => unaryOp(approximate === 'tanh' ? 'gelu_tanh' : 'gelu', x);
export const tanh = (x: Tensor): Tensor => unaryOp('tanh', x);
export const sigmoid = (x: Tensor): Tensor => unaryOp('sigmoid', x);
/** log(1 + exp(x)), a smooth relu (PyTorch's softplus with beta 1 and no threshold). */
export const softplus = (x: Tensor): Tensor => unaryOp('softplus', x);
export const exp = (x: Tensor): Tensor => unaryOp('exp', x);
export const log = (x: Tensor): Tensor => unaryOp('log', x);
export const sqrt = (x: Tensor): Tensor => unaryOp('sqrt', x);
export const square = (x: Tensor): Tensor => unaryOp('square', x);
export const abs = (x: Tensor): Tensor => unaryOp('abs', x);
export const neg = (x: Tensor): Tensor => unaryOp('neg', x);
/** alpha * x + beta */
export const affine = (x: Tensor, alpha: number, beta = 0): Tensor => unaryOp('affine', x, alpha, beta);
export const mulScalar = (x: Tensor, s: number): Tensor => unaryOp('affine', x, s, 0);
export const addScalar = (x: Tensor, s: number): Tensor => unaryOp('affine', x, 1, s);

// ---------------------------------------------------------------- elementwise binary (broadcasting)

export function broadcastShapes(a: readonly number[], b: readonly number[]): number[] {
  const r = Math.max(a.length, b.length);
  const s: number[] = [];
  for (let i = 0; i < r; i++) {
    const da = a[a.length - r + i] ?? 1;
    const db = b[b.length - r + i] ?? 1;
    if (da !== db && da !== 1 && db !== 1) throw new ShapeError(`cannot broadcast shapes ${fmt(a)} and ${fmt(b)}`);
    s.push(da === 1 ? db : da);
  }
  return s;
}

function padShape(s: readonly number[], rank: number): number[] {
  return [...new Array<number>(rank - s.length).fill(1), ...s];
}

/**
 * Record `backward` for y when an input needs grad, and release `saved` (storages that only the
 * backward reads: saved statistics, constants the op made) once it has run, or at once when
 * nothing is recorded. A tape's backward runs once.
 */
function recordReleasing(be: Backend, y: Tensor, inputs: ReadonlyArray<Tensor | null>, saved: readonly Storage[], backward: BackwardFn): void {
  if (!needsGrad(...inputs)) {
    for (const s of saved) be.release(s);
    return;
  }
  record(y, inputs, (gy) => {
    const gs = backward(gy);
    for (const s of saved) be.release(s);
    return gs;
  });
}

/** Sum a gradient of shape `from` down to shape `to` (undoing broadcasting). */
function reduceGrad(be: Backend, g: Storage, from: readonly number[], to: readonly number[]): Storage {
  const toP = padShape(to, from.length);
  let same = true;
  for (let i = 0; i < from.length; i++) if (from[i] !== toP[i]) { same = false; break; }
  if (same) return g;
  const r = be.alloc(shapeSize(to));
  be.sumTo(g, from, r, toP);
  return r;
}

/** reduceGrad of a temporary gradient `t`, which is released when the result is another storage. */
function reduceTemp(be: Backend, t: Storage, from: readonly number[], to: readonly number[]): Storage {
  const r = reduceGrad(be, t, from, to);
  if (r !== t) be.release(t);
  return r;
}

function binaryOp(op: BinaryOp, a: Tensor | number, b: Tensor | number): Tensor {
  const be = sameBackend(op, typeof a === 'number' ? null : a, typeof b === 'number' ? null : b);
  const A = typeof a === 'number' ? scalar(a, be) : a;
  const B = typeof b === 'number' ? scalar(b, be) : b;
  const shape = broadcastShapes(A.shape, B.shape);
  const aS = padShape(A.shape, shape.length), bS = padShape(B.shape, shape.length);
  const y = outFull(be, shape);
  be.binary(op, A.storage, aS, B.storage, bS, y.storage, shape);
  const made: Storage[] = []; // the scalar tensors made for number operands are this op's alone
  if (A !== a) made.push(A.storage);
  if (B !== b) made.push(B.storage);
  recordReleasing(be, y, [A, B], made, (gy) => {
    let ga: Storage | null = null, gb: Storage | null = null;
    const n = shapeSize(shape);
    switch (op) {
      case 'add':
        if (A.requiresGrad) ga = reduceGrad(be, gy, shape, A.shape);
        if (B.requiresGrad) gb = reduceGrad(be, gy, shape, B.shape);
        break;
      case 'sub':
        if (A.requiresGrad) ga = reduceGrad(be, gy, shape, A.shape);
        if (B.requiresGrad) {
          const t = be.alloc(n);
          be.unary('neg', gy, t, 0, 0);
          gb = reduceTemp(be, t, shape, B.shape);
        }
        break;
      case 'mul':
      case 'div':
        if (A.requiresGrad) {
          // d(a b)/da = b, d(a/b)/da = 1/b: gy (op) b
          const t = be.alloc(n);
          be.binary(op, gy, shape, B.storage, bS, t, shape);
          ga = reduceTemp(be, t, shape, A.shape);
        }
        if (B.requiresGrad) {
          const t = be.alloc(n);
          if (op === 'mul') be.binary('mul', gy, shape, A.storage, aS, t, shape);
          else {
            // d(a/b)/db = -y / b
            be.binary('mul', gy, shape, y.storage, shape, t, shape);
            be.binary('div', t, shape, B.storage, bS, t, shape);
            be.unary('neg', t, t, 0, 0);
          }
          gb = reduceTemp(be, t, shape, B.shape);
        }
        break;
    }
    return [ga, gb];
  });
  return y;
}

export const add = (a: Tensor | number, b: Tensor | number): Tensor => binaryOp('add', a, b);
export const sub = (a: Tensor | number, b: Tensor | number): Tensor => binaryOp('sub', a, b);
export const mul = (a: Tensor | number, b: Tensor | number): Tensor => binaryOp('mul', a, b);
export const div = (a: Tensor | number, b: Tensor | number): Tensor => binaryOp('div', a, b);

// ---------------------------------------------------------------- reductions

function normAxes(axes: number | readonly number[] | undefined, rank: number): number[] {
  if (axes === undefined) return Array.from({ length: rank }, (_, i) => i);
  const list = typeof axes === 'number' ? [axes] : [...axes];
  return list.map((a) => {
    const r = a < 0 ? a + rank : a;
    if (r < 0 || r >= rank) throw new ShapeError(`axis ${a} out of range for rank ${rank}`);
    return r;
  });
}

/** Broadcast g (shape `small`, same rank as `big`) up to `big`. */
function expandTo(be: Backend, g: Storage, small: readonly number[], big: readonly number[]): Storage {
  const r = be.alloc(shapeSize(big));
  const zero = be.alloc(1);
  be.binary('add', g, small, zero, big.map(() => 1), r, big);
  be.release(zero);
  return r;
}

/** Sum over `axes` (all when omitted). */
export function sum(x: Tensor, axes?: number | readonly number[], keepdim = false): Tensor {
  const be = x.backend;
  const ax = normAxes(axes, x.rank);
  const keep = x.shape.map((d, i) => (ax.includes(i) ? 1 : d));
  const final = keepdim ? keep : x.shape.filter((_, i) => !ax.includes(i));
  const y = outFull(be, final);
  be.sumTo(x.storage, x.shape, y.storage, keep);
  if (needsGrad(x)) record(y, [x], (gy) => [expandTo(be, gy, keep, x.shape)]);
  return y;
}

export function mean(x: Tensor, axes?: number | readonly number[], keepdim = false): Tensor {
  const ax = normAxes(axes, x.rank);
  let n = 1;
  for (const a of ax) n *= x.shape[a]!;
  return mulScalar(sum(x, ax, keepdim), 1 / n);
}

// ---------------------------------------------------------------- linear algebra

/** Matrix product: [m, k] @ [k, n], or batched [B, m, k] @ [B, k, n] / [k, n]. */
export function matmul(a: Tensor, b: Tensor): Tensor {
  const be = sameBackend('matmul', a, b);
  if (a.rank < 2 || a.rank > 3 || b.rank < 2 || b.rank > 3) throw new ShapeError(`matmul: expected 2-D or 3-D tensors, got ${fmt(a.shape)} and ${fmt(b.shape)}`);
  const m = a.shape[a.rank - 2]!, k = a.shape[a.rank - 1]!;
  const k2 = b.shape[b.rank - 2]!, n = b.shape[b.rank - 1]!;
  if (k !== k2) throw new ShapeError(`matmul: inner dimensions differ: ${fmt(a.shape)} @ ${fmt(b.shape)}`);
  const batchA = a.rank === 3 ? a.shape[0]! : 1;
  const batchB = b.rank === 3 ? b.shape[0]! : 1;
  if (a.rank === 3 && b.rank === 3 && batchA !== batchB) throw new ShapeError(`matmul: batch sizes differ: ${fmt(a.shape)} @ ${fmt(b.shape)}`);
  if (a.rank === 2 && b.rank === 3) throw new ShapeError(`matmul: [m, k] @ [B, k, n] is not supported; got ${fmt(a.shape)} @ ${fmt(b.shape)}`);
  const batch = Math.max(batchA, batchB);
  const shape = a.rank === 3 ? [batch, m, n] : [m, n];
  const y = outFull(be, shape);
  be.matmul({ a: a.storage, b: b.storage, c: y.storage, batch, m, n, k, aBatched: a.rank === 3, bBatched: b.rank === 3 });
  if (needsGrad(a, b)) {
    record(y, [a, b], (gy) => {
      let ga: Storage | null = null, gb: Storage | null = null;
      if (a.requiresGrad) {
        ga = be.empty(a.size);
        // dA = dY B^T
        be.matmul({ a: gy, b: b.storage, c: ga, batch, m, n: k, k: n, transB: true, aBatched: true, bBatched: b.rank === 3 });
      }
      if (b.requiresGrad) {
        gb = be.empty(b.size);
        if (b.rank === 3) be.matmul({ a: a.storage, b: gy, c: gb, batch, m: k, n, k: m, transA: true, aBatched: true, bBatched: true });
        // shared B: dB = sum_i A_i^T dY_i = A_flat^T dY_flat
        else be.matmul({ a: a.storage, b: gy, c: gb, batch: 1, m: k, n, k: batch * m, transA: true });
      }
      return [ga, gb];
    });
  }
  return y;
}

/** y = x W^T + b over the last axis: x [..., in], W [out, in], b [out]. */
export function linear(x: Tensor, w: Tensor, b: Tensor | null): Tensor {
  const be = sameBackend('linear', x, w, b);
  const inF = x.shape[x.rank - 1]!;
  if (w.rank !== 2 || w.shape[1] !== inF) throw new ShapeError(`linear: weight ${fmt(w.shape)} does not fit input ${fmt(x.shape)} (expected [out, ${inF}])`);
  const outF = w.shape[0]!;
  if (b && (b.rank !== 1 || b.shape[0] !== outF)) throw new ShapeError(`linear: bias ${fmt(b.shape)} does not fit ${outF} outputs`);
  const rows = x.size / inF;
  const shape = [...x.shape.slice(0, -1), outF];
  const y = outFull(be, shape);
  be.matmul({ a: x.storage, b: w.storage, c: y.storage, batch: 1, m: rows, n: outF, k: inF, transB: true });
  if (b) be.binary('add', y.storage, [rows, outF], b.storage, [1, outF], y.storage, [rows, outF]);
  if (needsGrad(x, w, b)) {
    record(y, [x, w, b], (gy) => {
      let gx: Storage | null = null, gw: Storage | null = null, gb: Storage | null = null;
      if (x.requiresGrad) { gx = be.empty(x.size); be.matmul({ a: gy, b: w.storage, c: gx, batch: 1, m: rows, n: inF, k: outF }); }
      if (w.requiresGrad) { gw = be.empty(w.size); be.matmul({ a: gy, b: x.storage, c: gw, batch: 1, m: outF, n: inF, k: rows, transA: true }); }
      if (b && b.requiresGrad) { gb = be.alloc(outF); be.sumTo(gy, [rows, outF], gb, [1, outF]); }
      return [gx, gw, gb];
    });
  }
  return y;
}

// ---------------------------------------------------------------- convolution

export interface Conv2dArgs {
  /** Stride (same for both axes when a number). */
  stride?: number | [number, number];
  /** Zero padding on each side (same for both axes when a number). */
  padding?: number | [number, number];
}

const pair = (v: number | [number, number] | undefined, d: number): [number, number] =>
  v === undefined ? [d, d] : typeof v === 'number' ? [v, v] : v;

function convCore(x: Tensor, w: Tensor, b: Tensor | null, g: Conv2dGeom, yShape: number[], biasShape: number[]): Tensor {
  const be = sameBackend('conv', x, w, b);
  const y = outFull(be, yShape);
  be.conv2dForward(x.storage, w.storage, b ? b.storage : null, y.storage, g);
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

/** 2-D convolution: x [N, C, H, W], w [O, C, kh, kw], b [O]. */
export function conv2d(x: Tensor, w: Tensor, b: Tensor | null, args: Conv2dArgs = {}): Tensor {
  if (x.rank !== 4 || w.rank !== 4 || w.shape[1] !== x.shape[1]) throw new ShapeError(`conv2d: weight ${fmt(w.shape)} does not fit input ${fmt(x.shape)} (expected x [N, C, H, W], w [O, C, kh, kw])`);
  const [sh, sw] = pair(args.stride, 1), [ph, pw] = pair(args.padding, 0);
  const [n, c, h, wd] = x.shape as [number, number, number, number];
  const [o, , kh, kw] = w.shape as [number, number, number, number];
  if (b && b.size !== o) throw new ShapeError(`conv2d: bias ${fmt(b.shape)} does not fit ${o} output channels`);
  const oh = convOutSize(h, kh, sh, ph), ow = convOutSize(wd, kw, sw, pw);
  if (oh <= 0 || ow <= 0) throw new ShapeError(`conv2d: input ${fmt(x.shape)} is smaller than kernel ${kh}x${kw} with padding ${ph},${pw}`);
  const g: Conv2dGeom = { n, c, h, w: wd, o, kh, kw, sh, sw, ph, pw, oh, ow };
  return convCore(x, w, b, g, [n, o, oh, ow], [1, o, 1, 1]);
}

/** 1-D convolution: x [N, C, L], w [O, C, k], b [O]. */
export function conv1d(x: Tensor, w: Tensor, b: Tensor | null, args: { stride?: number; padding?: number } = {}): Tensor {
  if (x.rank !== 3 || w.rank !== 3 || w.shape[1] !== x.shape[1]) throw new ShapeError(`conv1d: weight ${fmt(w.shape)} does not fit input ${fmt(x.shape)} (expected x [N, C, L], w [O, C, k])`);
  const s = args.stride ?? 1, p = args.padding ?? 0;
  const [n, c, l] = x.shape as [number, number, number];
  const [o, , k] = w.shape as [number, number, number];
  if (b && b.size !== o) throw new ShapeError(`conv1d: bias ${fmt(b.shape)} does not fit ${o} output channels`);
  const ol = convOutSize(l, k, s, p);
  if (ol <= 0) throw new ShapeError(`conv1d: input ${fmt(x.shape)} is shorter than kernel ${k} with padding ${p}`);
  const g: Conv2dGeom = { n, c, h: 1, w: l, o, kh: 1, kw: k, sh: 1, sw: s, ph: 0, pw: p, oh: 1, ow: ol };
  return convCore(x, w, b, g, [n, o, ol], [1, o, 1]);
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
  if (needsGrad(x)) record(y, [x], (gy) => { const gx = be.empty(x.size); be.avgPool2dBackward(gy, gx, g); return [gx]; });
  return y;
}

/** Global average pool: [N, C, H, W] -> [N, C]. */
export function globalAvgPool2d(x: Tensor): Tensor {
  if (x.rank !== 4) throw new ShapeError(`globalAvgPool2d: expected x [N, C, H, W], got ${fmt(x.shape)}`);
  return mean(x, [2, 3]);
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
  recordReleasing(be, y, [x, gamma, beta], [mean, invstd], (gy) => {
    const gx = x.requiresGrad ? be.empty(x.size) : null;
    const gg = gamma && gamma.requiresGrad ? be.alloc(c) : null;
    const gb = beta && beta.requiresGrad ? be.alloc(c) : null;
    be.groupNormBackward({ gy, x: x.storage, gamma: gs, mean, invstd, gx, ggamma: gg, gbeta: gb }, g);
    return [gx, gg, gb];
  });
  return y;
}

// ---------------------------------------------------------------- layout

/** Same values, new shape (one dimension may be -1). Shares storage. */
export function reshape(x: Tensor, shape: readonly number[]): Tensor {
  const s = [...shape];
  const neg = s.indexOf(-1);
  if (neg >= 0) {
    const rest = s.reduce((p, d, i) => (i === neg ? p : p * d), 1);
    s[neg] = rest === 0 ? 0 : x.size / rest;
  }
  if (shapeSize(s) !== x.size) throw new ShapeError(`reshape: cannot view ${fmt(x.shape)} (${x.size} values) as ${fmt(shape)}`);
  const y = new Tensor(x.storage, s, x.backend);
  if (needsGrad(x)) record(y, [x], (gy) => [gy]);
  return y;
}

export const flatten = (x: Tensor, startDim = 1): Tensor => reshape(x, [...x.shape.slice(0, startDim), -1]);

export function permute(x: Tensor, perm: readonly number[]): Tensor {
  if (perm.length !== x.rank || [...perm].sort((a, b) => a - b).some((p, i) => p !== i)) throw new ShapeError(`permute: ${fmt(perm)} is not a permutation of the axes of ${fmt(x.shape)}`);
  const be = x.backend;
  const shape = perm.map((p) => x.shape[p]!);
  const y = outFull(be, shape);
  be.permute(x.storage, x.shape, perm, y.storage);
  if (needsGrad(x)) {
    const inv = new Array<number>(perm.length);
    perm.forEach((p, i) => { inv[p] = i; });
    record(y, [x], (gy) => { const gx = be.empty(x.size); be.permute(gy, shape, inv, gx); return [gx]; });
  }
  return y;
}

/** Transpose of a 2-D tensor. */
export const transpose = (x: Tensor): Tensor => permute(x, [1, 0]);

export function concat(xs: readonly Tensor[], axis = 0): Tensor {
  if (xs.length === 0) throw new ShapeError('concat: no tensors');
  const be = sameBackend('concat', ...xs);
  const first = xs[0]!;
  const ax = axis < 0 ? axis + first.rank : axis;
  for (const t of xs) {
    if (t.rank !== first.rank || t.shape.some((d, i) => i !== ax && d !== first.shape[i])) throw new ShapeError(`concat: shapes ${xs.map((t2) => fmt(t2.shape)).join(', ')} differ outside axis ${ax}`);
  }
  const shape = [...first.shape];
  shape[ax] = xs.reduce((p, t) => p + t.shape[ax]!, 0);
  const y = out(be, shape);
  const zero = shape.map(() => 0);
  let off = 0;
  for (const t of xs) {
    const start = [...zero]; start[ax] = off;
    be.copyRegion(t.storage, t.shape, zero, y.storage, shape, start, t.shape);
    off += t.shape[ax]!;
  }
  if (needsGrad(...xs)) {
    record(y, xs, (gy) => {
      let o = 0;
      return xs.map((t) => {
        const start = [...zero]; start[ax] = o;
        o += t.shape[ax]!;
        if (!t.requiresGrad) return null;
        const g = be.alloc(t.size);
        be.copyRegion(gy, shape, start, g, t.shape, zero, t.shape);
        return g;
      });
    });
  }
  return y;
}

/** x[..., start:end, ...] along `axis`. */
export function slice(x: Tensor, axis: number, start: number, end: number): Tensor {
  const be = x.backend;
  const ax = axis < 0 ? axis + x.rank : axis;
  const d = x.shape[ax];
  if (d === undefined || start < 0 || end > d || start > end) throw new ShapeError(`slice: [${start}, ${end}) is outside axis ${axis} of ${fmt(x.shape)}`);
  const shape = [...x.shape]; shape[ax] = end - start;
  const zero = shape.map(() => 0);
  const st = [...zero]; st[ax] = start;
  const y = out(be, shape);
  be.copyRegion(x.storage, x.shape, st, y.storage, shape, zero, shape);
  if (needsGrad(x)) record(y, [x], (gy) => { const gx = be.alloc(x.size); be.copyRegion(gy, shape, zero, gx, x.shape, st, shape); return [gx]; });
  return y;
}

/** Constant padding: pads[i] = [before, after] for axis i (missing leading axes are not padded). */
export function pad(x: Tensor, pads: ReadonlyArray<readonly [number, number]>, value = 0): Tensor {
  const be = x.backend;
  const full = [...new Array<[number, number]>(x.rank - pads.length).fill([0, 0]), ...pads];
  const shape = x.shape.map((d, i) => d + full[i]![0] + full[i]![1]);
  const y = out(be, shape);
  if (value !== 0) be.fill(y.storage, value);
  const st = full.map((p) => p[0]);
  const zero = shape.map(() => 0);
  be.copyRegion(x.storage, x.shape, zero, y.storage, shape, st, x.shape);
  if (needsGrad(x)) record(y, [x], (gy) => { const gx = be.alloc(x.size); be.copyRegion(gy, shape, st, gx, x.shape, zero, x.shape); return [gx]; });
  return y;
}

// ---------------------------------------------------------------- softmax and losses

function lastAxis(x: Tensor): [number, number] {
  const cols = x.shape[x.rank - 1]!;
  return [x.size / cols, cols];
}

function softmaxImpl(x: Tensor, logMode: boolean): Tensor {
  const be = x.backend;
  const [rows, cols] = lastAxis(x);
  const y = outFull(be, x.shape);
  const a = { rows, cols, log: logMode };
  be.softmax(x.storage, y.storage, a);
  if (needsGrad(x)) record(y, [x], (gy) => { const gx = be.empty(x.size); be.softmaxBackward(y.storage, gy, gx, a); return [gx]; });
  return y;
}

export const softmax = (x: Tensor): Tensor => softmaxImpl(x, false);
export const logSoftmax = (x: Tensor): Tensor => softmaxImpl(x, true);

/** Mean softmax cross-entropy of logits [N, C] against integer labels, with optional label smoothing. */
export function crossEntropy(logits: Tensor, labels: Int32Array, opts: { labelSmoothing?: number } = {}): Tensor {
  const be = logits.backend;
  if (logits.rank !== 2 || labels.length !== logits.shape[0]) throw new ShapeError(`crossEntropy: logits ${fmt(logits.shape)} and ${labels.length} labels do not match`);
  const [rows, cols] = [logits.shape[0]!, logits.shape[1]!];
  const grad = needsGrad(logits) ? be.alloc(logits.size) : null;
  const y = outFull(be, []);
  be.crossEntropy({ logits: logits.storage, labels, rows, cols, smoothing: opts.labelSmoothing ?? 0, grad, loss: y.storage });
  if (grad) {
    record(y, [logits], (gy) => {
      // scaled by gy on the backend (reading gy would make a device backend wait)
      const gx = be.empty(logits.size);
      be.binary('mul', grad, [rows, cols], gy, [1, 1], gx, [rows, cols]);
      be.release(grad);
      return [gx];
    });
  }
  return y;
}

/** Mean squared error over all elements. */
export function mseLoss(a: Tensor, b: Tensor): Tensor {
  if (a.size !== b.size) throw new ShapeError(`mseLoss: shapes ${fmt(a.shape)} and ${fmt(b.shape)} differ`);
  const d = sub(a, reshape(b, a.shape));
  return mean(square(d));
}

/** Inverted dropout: zero each element with probability p and scale the rest by 1/(1-p). */
export function dropout(x: Tensor, p: number, rng: Rng, training: boolean): Tensor {
  if (!training || p === 0) return x;
  if (!(p >= 0 && p < 1)) throw new RangeError(`dropout: p must be in [0, 1), got ${p}`);
  const mask = new Float32Array(x.size);
  const scale = 1 / (1 - p);
  for (let i = 0; i < mask.length; i++) mask[i] = rng.uniform() < p ? 0 : scale;
  return mul(x, graphConstant(new Tensor(x.backend.fromArray(mask), x.shape, x.backend)));
}

/**
 * Sinusoidal timestep embedding (docs/diffusion.md#denoiser): f_i = exp(-ln(10000) i / half), i < half,
 * output [cos(t f), sin(t f)] of width `dim` per timestep. Not differentiable (t are integers).
 */
export function timestepEmbedding(ts: ArrayLike<number>, dim: number, backend: Backend): Tensor {
  const half = Math.floor(dim / 2);
  const data = new Float64Array(ts.length * dim);
  for (let r = 0; r < ts.length; r++) {
    const t = ts[r]!;
    for (let i = 0; i < half; i++) {
      const a = t * Math.exp((-Math.log(10000) * i) / half);
      data[r * dim + i] = Math.cos(a);
      data[r * dim + half + i] = Math.sin(a);
    }
  }
  return new Tensor(backend.fromArray(data), [ts.length, dim], backend);
}
