/**
 * Differentiable ops. Each computes its forward with backend kernels and, when an input requires
 * grad, records a backward closure on the tape. Shapes are checked up front with ShapeError.
 * Convolution, pooling and normalisation live in nn-ops.ts (re-exported here); helpers in op-util.ts.
 */
import type { Backend, BinaryOp, Storage, UnaryOp } from '../backend/backend.js';
import { ShapeError } from '../util/errors.js';
import type { Rng } from './random.js';
import { fmt, out, outFull, recordReleasing, sameBackend } from './op-util.js';
import { noteWork } from './count.js';
import { Tensor, graphConstant, needsGrad, record, shapeSize, scalar } from './tensor.js';

export * from './nn-ops.js';

// ---------------------------------------------------------------- elementwise unary

function unaryOp(op: UnaryOp, x: Tensor, alpha = 0, beta = 0): Tensor {
  const be = x.backend;
  const y = outFull(be, x.shape);
  be.unary(op, x.storage, y.storage, alpha, beta);
  noteWork(op, 0, 0, x.size);
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
  noteWork(op, 0, 0, y.size);
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
  noteWork('sum', 0, 0, x.size);
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

/** Options of matmul: operands used transposed, read in place (no permute copy). */
export interface MatmulOpts {
  /** Use a transposed: a is [k, m] (or [B, k, m]) and the product is a^T @ op(b). Default false. */
  transA?: boolean;
  /** Use b transposed: b is [n, k] (or [B, n, k]) and the product is op(a) @ b^T, e.g. q @ k^T in attention. Default false. */
  transB?: boolean;
}

/**
 * Matrix product: [m, k] @ [k, n], or batched [B, m, k] @ [B, k, n] / [k, n]; with `transA` /
 * `transB` an operand is stored transposed ([k, m] / [n, k] per item) and read as such.
 */
export function matmul(a: Tensor, b: Tensor, opts: MatmulOpts = {}): Tensor {
  const transA = opts.transA ?? false, transB = opts.transB ?? false;
  const be = sameBackend('matmul', a, b);
  if (a.rank < 2 || a.rank > 3 || b.rank < 2 || b.rank > 3) throw new ShapeError(`matmul: expected 2-D or 3-D tensors, got ${fmt(a.shape)} and ${fmt(b.shape)}`);
  const ar = a.shape[a.rank - 2]!, ac = a.shape[a.rank - 1]!, br = b.shape[b.rank - 2]!, bc = b.shape[b.rank - 1]!;
  const [m, k] = transA ? [ac, ar] : [ar, ac];
  const [k2, n] = transB ? [bc, br] : [br, bc];
  const what = `${fmt(a.shape)}${transA ? '^T' : ''} @ ${fmt(b.shape)}${transB ? '^T' : ''}`;
  if (k !== k2) throw new ShapeError(`matmul: inner dimensions differ: ${what}`);
  const batchA = a.rank === 3 ? a.shape[0]! : 1;
  const batchB = b.rank === 3 ? b.shape[0]! : 1;
  if (a.rank === 3 && b.rank === 3 && batchA !== batchB) throw new ShapeError(`matmul: batch sizes differ: ${what}`);
  if (a.rank === 2 && b.rank === 3) throw new ShapeError(`matmul: [m, k] @ [B, k, n] is not supported; got ${what}`);
  const batch = Math.max(batchA, batchB);
  const shape = a.rank === 3 ? [batch, m, n] : [m, n];
  const y = outFull(be, shape);
  const aB = a.rank === 3, bB = b.rank === 3;
  be.matmul({ a: a.storage, b: b.storage, c: y.storage, batch, m, n, k, transA, transB, aBatched: aB, bBatched: bB });
  noteWork('matmul', batch * m * n * k);
  if (needsGrad(a, b)) {
    // Y = A' B' with A' = op(A), B' = op(B): dA' = G B'^T, dB' = A'^T G; a transposed operand's
    // gradient is the transpose of that, written as a product in the operand's own layout.
    record(y, [a, b], (gy) => {
      let ga: Storage | null = null, gb: Storage | null = null;
      if (a.requiresGrad) {
        ga = be.empty(a.size);
        if (!transA) be.matmul({ a: gy, b: b.storage, c: ga, batch, m, n: k, k: n, transB: !transB, aBatched: true, bBatched: bB }); // dA = G op(B)^T
        else be.matmul({ a: b.storage, b: gy, c: ga, batch, m: k, n: m, k: n, transA: transB, transB: true, aBatched: bB, bBatched: true }); // dA = op(B) G^T
      }
      if (b.requiresGrad) {
        gb = be.empty(b.size);
        if (bB || batch === 1) {
          if (!transB) be.matmul({ a: a.storage, b: gy, c: gb, batch, m: k, n, k: m, transA: !transA, aBatched: aB, bBatched: true }); // dB = op(A)^T G
          else be.matmul({ a: gy, b: a.storage, c: gb, batch, m: n, n: k, k: m, transA: true, transB: transA, aBatched: true, bBatched: aB }); // dB = G^T op(A)
        } else if (!transA) {
          // shared B: the batch folds into the reduction, A_flat [batch m, k], G_flat [batch m, n]
          if (!transB) be.matmul({ a: a.storage, b: gy, c: gb, batch: 1, m: k, n, k: batch * m, transA: true });
          else be.matmul({ a: gy, b: a.storage, c: gb, batch: 1, m: n, n: k, k: batch * m, transA: true });
        } else {
          // shared B under a transposed batched A: per-item gradients, then their sum over the batch
          const per = transB ? [batch, n, k] : [batch, k, n];
          const t = be.empty(batch * k * n);
          if (!transB) be.matmul({ a: a.storage, b: gy, c: t, batch, m: k, n, k: m, aBatched: true, bBatched: true });
          else be.matmul({ a: gy, b: a.storage, c: t, batch, m: n, n: k, k: m, transA: true, transB: true, aBatched: true, bBatched: true });
          be.sumTo(t, per, gb, [1, per[1]!, per[2]!]);
          be.release(t);
        }
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
  noteWork('linear', rows * inF * outF, b ? rows * outF : 0);
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

/** Global average pool: [N, C, H, W] -> [N, C]. */
export function globalAvgPool2d(x: Tensor): Tensor {
  if (x.rank !== 4) throw new ShapeError(`globalAvgPool2d: expected x [N, C, H, W], got ${fmt(x.shape)}`);
  return mean(x, [2, 3]);
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
  noteWork(logMode ? 'log_softmax' : 'softmax', 0, 0, 3 * x.size);
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
 * Stochastic depth (Huang et al., 2016), torchvision's mode "row": each sample (index on the
 * first axis) keeps its whole row of x with probability 1 - p, scaled by 1 / (1 - p), or is
 * zeroed; x unchanged when not training or p = 0, and all zeros when p = 1. Applied to a residual
 * branch, it drops the branch for some samples of the batch.
 */
export function stochasticDepth(x: Tensor, p: number, rng: Rng, training: boolean): Tensor {
  if (!(p >= 0 && p <= 1)) throw new RangeError(`stochasticDepth: p must be in [0, 1], got ${p}`);
  if (!training || p === 0) return x;
  if (x.rank === 0) throw new ShapeError('stochasticDepth: expected x with a batch axis, got a scalar');
  const rows = x.shape[0]!;
  const keep = 1 - p;
  const mask = new Float64Array(rows); // the backend rounds it to its own float type
  // torchvision: bernoulli(1 - p), divided by 1 - p only when that is positive
  for (let i = 0; i < rows; i++) mask[i] = rng.uniform() < keep ? (keep > 0 ? 1 / keep : 1) : 0;
  const shape = x.shape.map((d, i) => (i === 0 ? d : 1));
  return mul(x, graphConstant(new Tensor(x.backend.fromArray(mask), shape, x.backend)));
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
