/**
 * The C kernels of the OpenBLAS addon (native/*.c) against the TypeScript kernels they
 * replace in the blas backend: same results to float32 rounding (bit-exact where the arithmetic is
 * the same), whatever the number of kernel threads; and argument checking that throws instead of
 * reading or writing out of bounds. Skipped, with the reason, when the addon is not built.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { after, describe, it } from 'node:test';
import { UNARY_OP_CODES } from '../../src/backend/blas.js';
import type { UnaryOp } from '../../src/backend/backend.js';
import { conv2dBackwardData, conv2dBackwardWeight, conv2dForward } from '../../src/backend/cpu/conv.js';
import { depthwiseBackwardData, depthwiseBackwardWeight, depthwiseForward } from '../../src/backend/cpu/depthwise.js';
import { unaryBackwardKernel, unaryKernel } from '../../src/backend/cpu/elementwise.js';
import {
  batchNormEvalBackward, batchNormEvalForward, batchNormTrainBackward, batchNormTrainForward,
} from '../../src/backend/cpu/norm.js';
import { adamKernel } from '../../src/backend/cpu/optim.js';
import { maxPool2dBackward, maxPool2dForward } from '../../src/backend/cpu/pool.js';
import { jsGemm } from '../../src/backend/gemm.js';
import type { Conv2dGeom, FloatArray, Pool2dGeom, Workspace } from '../../src/backend/kernels.js';
import { convOutSize } from '../../src/backend/kernels.js';
import { loadBlas, type BlasKernels } from '../../src/backend/native.js';
import { Rng } from '../../src/tensor/random.js';
import { assertClose, relToMax } from '../helpers/assert.js';

const lib = loadBlas();
const skip = lib.ok ? false : `OpenBLAS addon unavailable: ${lib.reason}`;
const K = (lib.ok ? lib.kernels : null) as BlasKernels;
const THREADS = [1, 2, 3];
const defaultThreads = lib.ok ? lib.kernels.kernelThreads() : 1;
after(() => { if (lib.ok) lib.kernels.setKernelThreads(defaultThreads); });

function randn(n: number, seed: number, scale = 1): Float32Array {
  const a = new Rng(seed).fillNormal(new Float32Array(n)) as Float32Array;
  if (scale !== 1) for (let i = 0; i < n; i++) a[i] = a[i]! * scale;
  return a;
}

class Ws implements Workspace {
  private readonly b = new Map<number, FloatArray>();
  get(n: number, slot = 0): FloatArray {
    let a = this.b.get(slot);
    if (!a || a.length < n) { a = new Float32Array(n); this.b.set(slot, a); }
    return a;
  }
}

function cgeom(n: number, c: number, h: number, w: number, o: number, kh: number, kw: number,
  sh: number, sw: number, ph: number, pw: number): Conv2dGeom {
  return { n, c, h, w, o, kh, kw, sh, sw, ph, pw, oh: convOutSize(h, kh, sh, ph), ow: convOutSize(w, kw, sw, pw) };
}
const gArgs = (g: Conv2dGeom) => [g.n, g.c, g.h, g.w, g.o, g.kh, g.kw, g.sh, g.sw, g.ph, g.pw, g.oh, g.ow] as const;
const pArgs = (g: Pool2dGeom) => [g.n, g.c, g.h, g.w, g.kh, g.kw, g.sh, g.sw, g.ph, g.pw, g.oh, g.ow] as const;

describe('C kernels of the OpenBLAS addon', { skip }, () => {
  it('unary and unaryBackward match the TS kernels (special values, in place, every thread count)', () => {
    const n = 70_001;
    const x = randn(n, 1, 3);
    const specials = [0, -0, 1e-7, -1e-7, 30, -30, 90, -90, 1e30, -1e30, Infinity, -Infinity, NaN];
    x.set(specials, 0);
    const gy = randn(n, 2);
    for (const t of THREADS) {
      K.setKernelThreads(t);
      for (const [op, code] of Object.entries(UNARY_OP_CODES) as [UnaryOp, number][]) {
        for (const alpha of op === 'affine' ? [-1.3] : op === 'leaky_relu' ? [0.01, 0.2] : op === 'elu' ? [1, 0.7] : [0]) {
          const beta = op === 'affine' ? 0.25 : 0;
          const yT = new Float32Array(n), yC = new Float32Array(n);
          unaryKernel(op, x, yT, alpha, beta);
          K.unary(code, x, yC, alpha, beta);
          // elu / silu use a float32 exp (~1 ulp); the others do the TS arithmetic exactly.
          const exact = op !== 'elu' && op !== 'silu';
          // silu(-inf) is NaN in TS (-inf / inf) and -inf... either way not a number to compare
          const skipIdx = op === 'silu' ? new Set([specials.indexOf(-Infinity)]) : new Set<number>();
          const fy = (a: Float32Array) => Array.from(a, (v, i) => (skipIdx.has(i) ? 0 : v));
          if (exact) assert.deepEqual(fy(yC), fy(yT), `${op} forward`);
          else assertClose(fy(yC), fy(yT), { rtol: 1e-6, atol: 1e-6, equalNaN: true }, `${op} forward`);
          const gT = new Float32Array(n), gC = new Float32Array(n);
          unaryBackwardKernel(op, x, yT, gy, gT, alpha, beta);
          K.unaryBackward(code, x, yT, gy, gC, alpha);
          if (exact) assert.deepEqual(fy(gC), fy(gT), `${op} backward`);
          else assertClose(fy(gC), fy(gT), { rtol: 1e-6, atol: 1e-6, equalNaN: true }, `${op} backward`);
          // in place (y === x)
          const z = x.slice();
          K.unary(code, z, z, alpha, beta);
          assert.deepEqual(Array.from(z), Array.from(yC), `${op} in place`);
        }
      }
    }
  });

  it('axpy and adamStep match the TS kernels', () => {
    const n = 50_000;
    for (const t of THREADS) {
      K.setKernelThreads(t);
      for (const alpha of [1, -0.37]) {
        const x = randn(n, 3), y0 = randn(n, 4);
        const yT = y0.slice(), yC = y0.slice();
        for (let i = 0; i < n; i++) yT[i] = alpha === 1 ? yT[i]! + x[i]! : yT[i]! + alpha * x[i]!;
        K.axpy(alpha, x, yC);
        assert.deepEqual(Array.from(yC), Array.from(yT), `axpy ${alpha}`);
      }
      for (const decoupled of [true, false]) {
        const p0 = randn(n, 5), g = randn(n, 6), m0 = randn(n, 7, 0.1), v0 = randn(n, 8, 0.1).map(Math.abs);
        const [pT, mT, vT] = [p0.slice(), m0.slice(), v0.slice()];
        const [pC, mC, vC] = [p0.slice(), m0.slice(), v0.slice()];
        adamKernel(pT, g, mT, vT, 1e-3, 0.9, 0.999, 1e-8, 0.01, 7, decoupled);
        K.adamStep(pC, g, mC, vC, 1e-3, 0.9, 0.999, 1e-8, 0.01, 7, decoupled);
        assertClose(pC, pT, { rtol: 1e-7, atol: 1e-7, equalNaN: true }, 'adam p');
        assertClose(mC, mT, { rtol: 1e-7, atol: 1e-7, equalNaN: true }, 'adam m');
        assertClose(vC, vT, { rtol: 1e-7, atol: 1e-7, equalNaN: true }, 'adam v');
      }
    }
  });

  it('batch norm (train / eval, forward / backward) matches the TS kernels', () => {
    const shapes: [number, number, number][] = [[32, 16, 196], [5, 3, 1], [7, 6, 13], [50, 64, 12], [2, 4, 300]];
    for (const t of THREADS) {
      K.setKernelThreads(t);
      for (const [n, c, s] of shapes) {
        const len = n * c * s;
        const x = randn(len, 10 + n, 2);
        for (let i = 0; i < len; i++) x[i] = x[i]! + 5 * ((Math.floor(i / s) % c) - 1); // per-channel offsets
        const gy = randn(len, 11 + n);
        for (const affine of [true, false]) {
          const gamma = affine ? randn(c, 12) : null, beta = affine ? randn(c, 13) : null;
          const T = { y: new Float32Array(len), mean: new Float32Array(c), inv: new Float32Array(c), v: new Float32Array(c) };
          const C = { y: new Float32Array(len), mean: new Float32Array(c), inv: new Float32Array(c), v: new Float32Array(c) };
          batchNormTrainForward(x, gamma, beta, n, c, s, 1e-5, T.y, T.mean, T.inv, T.v);
          K.bnTrainForward(x, gamma, beta, n, c, s, 1e-5, C.y, C.mean, C.inv, C.v);
          assertClose(C.mean, T.mean, { rtol: 1e-6, atol: 1e-6, equalNaN: true }, 'bn mean');
          assertClose(C.inv, T.inv, { rtol: 1e-6, atol: 1e-6, equalNaN: true }, 'bn invstd');
          assertClose(C.v, T.v, { rtol: 1e-6, atol: 1e-6, equalNaN: true }, 'bn var');
          assertClose(C.y, T.y, { rtol: 1e-5, atol: 1e-5, equalNaN: true }, 'bn y');
          for (const withGx of [true, false]) {
            const gxT = new Float32Array(len), gxC = new Float32Array(len);
            const ggT = new Float32Array(c), ggC = new Float32Array(c), gbT = new Float32Array(c), gbC = new Float32Array(c);
            batchNormTrainBackward(gy, x, gamma, T.mean, T.inv, n, c, s, gxT, affine ? ggT : null, affine ? gbT : null);
            K.bnTrainBackward(gy, x, gamma, T.mean, T.inv, n, c, s, withGx ? gxC : null, affine ? ggC : null, affine ? gbC : null);
            if (withGx) assertClose(gxC, gxT, { rtol: 1e-5, atol: 1e-5, equalNaN: true }, 'bn gx');
            else assert.ok(gxC.every((v) => v === 0));
            assertClose(ggC, ggT, { rtol: 1e-5, atol: 1e-5, equalNaN: true }, 'bn ggamma');
            assertClose(gbC, gbT, { rtol: 1e-5, atol: 1e-5, equalNaN: true }, 'bn gbeta');
          }
          const rm = randn(c, 14), rv = randn(c, 15).map((v) => v * v + 0.1);
          const yT = new Float32Array(len), yC = new Float32Array(len);
          batchNormEvalForward(x, gamma, beta, rm, rv, n, c, s, 1e-5, yT);
          K.bnEvalForward(x, gamma, beta, rm, rv, n, c, s, 1e-5, yC);
          assertClose(yC, yT, { rtol: 1e-6, atol: 1e-6, equalNaN: true }, 'bn eval y');
          const gxT = new Float32Array(len), gxC = new Float32Array(len);
          const ggT = new Float32Array(c), ggC = new Float32Array(c), gbT = new Float32Array(c), gbC = new Float32Array(c);
          batchNormEvalBackward(gy, x, gamma, rm, rv, n, c, s, 1e-5, gxT, ggT, gbT);
          K.bnEvalBackward(gy, x, gamma, rm, rv, n, c, s, 1e-5, gxC, ggC, gbC);
          assertClose(gxC, gxT, { rtol: 1e-6, atol: 1e-6, equalNaN: true }, 'bn eval gx');
          assertClose(ggC, ggT, { rtol: 1e-5, atol: 1e-5, equalNaN: true }, 'bn eval ggamma');
          assertClose(gbC, gbT, { rtol: 1e-5, atol: 1e-5, equalNaN: true }, 'bn eval gbeta');
          K.bnEvalBackward(gy, x, gamma, rm, rv, n, c, s, 1e-5, null, null, gbC); // any gradient may be null
        }
      }
    }
  });

  it('max pooling matches the TS kernels exactly (argmax, ties, NaN, odd sizes, general windows)', () => {
    const cases: [number, number, number, number, number, number, number, number, number, number][] = [
      // n, c, h, w, kh, kw, sh, sw, ph, pw
      [8, 16, 28, 28, 2, 2, 2, 2, 0, 0], [3, 4, 15, 13, 2, 2, 2, 2, 0, 0], [2, 3, 14, 13, 3, 3, 2, 2, 1, 1],
      [2, 3, 9, 8, 2, 2, 1, 1, 0, 0], [2, 3, 9, 8, 3, 2, 2, 1, 1, 0], [1, 2, 5, 5, 5, 5, 1, 1, 2, 2],
    ];
    for (const t of THREADS) {
      K.setKernelThreads(t);
      for (const [n, c, h, w, kh, kw, sh, sw, ph, pw] of cases) {
        const g: Pool2dGeom = { n, c, h, w, kh, kw, sh, sw, ph, pw, oh: convOutSize(h, kh, sh, ph), ow: convOutSize(w, kw, sw, pw) };
        const x = randn(n * c * h * w, 20 + h);
        for (let i = 0; i < x.length; i += 7) x[i] = Math.round(x[i]!); // ties
        x[3] = NaN;
        x[x.length - 2] = -Infinity;
        const outN = n * c * g.oh * g.ow;
        const yT = new Float32Array(outN), yC = new Float32Array(outN);
        const aT = new Int32Array(outN), aC = new Int32Array(outN);
        maxPool2dForward(x, yT, aT, g);
        K.maxPool2dForward(x, yC, aC, ...pArgs(g));
        assert.deepEqual(Array.from(yC), Array.from(yT), `pool y ${JSON.stringify(g)}`);
        assert.deepEqual(Array.from(aC), Array.from(aT), `pool argmax ${JSON.stringify(g)}`);
        const gy = randn(outN, 21);
        const gxT = new Float32Array(x.length), gxC = new Float32Array(x.length).fill(NaN);
        maxPool2dBackward(gy, aT, gxT, g);
        K.maxPool2dBackward(gy, aC, gxC, ...pArgs(g));
        assert.deepEqual(Array.from(gxC), Array.from(gxT), `pool gx ${JSON.stringify(g)}`);
      }
    }
  });

  it('convolutions match the TS kernels (strides, padding, 1x1, 1-D, transposed roles, thread counts)', () => {
    const geoms = [
      cgeom(40, 16, 14, 14, 32, 3, 3, 1, 1, 1, 1), cgeom(24, 1, 28, 28, 16, 3, 3, 1, 1, 1, 1),
      cgeom(9, 32, 7, 7, 64, 3, 3, 1, 1, 1, 1), cgeom(5, 3, 13, 12, 6, 3, 3, 2, 2, 1, 1),
      cgeom(5, 3, 11, 10, 6, 3, 3, 1, 1, 0, 0), cgeom(3, 4, 9, 11, 5, 5, 5, 1, 1, 2, 2),
      cgeom(3, 4, 9, 11, 5, 3, 1, 1, 2, 1, 0), cgeom(3, 2, 10, 11, 3, 4, 4, 3, 3, 2, 2),
      cgeom(4, 8, 9, 9, 12, 1, 1, 1, 1, 0, 0), cgeom(4, 8, 3, 3, 12, 1, 1, 1, 1, 0, 0),
      cgeom(4, 8, 9, 9, 12, 1, 1, 2, 2, 0, 0), cgeom(3, 2, 4, 4, 3, 3, 3, 1, 1, 3, 3),
      // small "same" planes (conv.c's im2col_small): widths 4, 8, 9 and 16, and 3 (the generic loop)
      cgeom(3, 2, 5, 4, 3, 3, 3, 1, 1, 1, 1), cgeom(3, 2, 6, 8, 3, 3, 3, 1, 1, 1, 1), cgeom(3, 2, 2, 9, 3, 3, 3, 1, 1, 1, 1),
      cgeom(2, 3, 16, 16, 4, 3, 3, 1, 1, 1, 1), cgeom(3, 2, 3, 3, 3, 3, 3, 1, 1, 1, 1),
      // conv1d (h = kh = 1): the autoencoder and the denoiser
      cgeom(50, 16, 1, 192, 32, 1, 7, 1, 2, 0, 3), cgeom(7, 5, 1, 67, 9, 1, 7, 1, 2, 0, 3),
      cgeom(50, 64, 1, 64, 128, 1, 7, 1, 1, 0, 3), cgeom(6, 4, 1, 16, 8, 1, 7, 1, 1, 0, 3),
      cgeom(1, 3, 1, 5, 2, 1, 7, 1, 1, 0, 3),
    ];
    const ws = new Ws();
    for (const g of geoms) {
      const K2 = g.c * g.kh * g.kw, P = g.oh * g.ow;
      const x = randn(g.n * g.c * g.h * g.w, 30), w = randn(g.o * K2, 31), bias = randn(g.o, 32);
      const gy = randn(g.n * g.o * P, 33);
      const yT = new Float32Array(g.n * g.o * P), gxT = new Float32Array(x.length), gwT = new Float32Array(w.length);
      conv2dForward(x, w, bias, yT, g, jsGemm, ws);
      conv2dBackwardData(gy, w, gxT, g, jsGemm, ws);
      conv2dBackwardWeight(gy, x, gwT, g, jsGemm, ws);
      for (const t of THREADS) {
        K.setKernelThreads(t);
        const yC = new Float32Array(yT.length).fill(NaN), gxC = new Float32Array(gxT.length).fill(NaN), gwC = new Float32Array(gwT.length).fill(NaN);
        K.conv2dForward(x, w, bias, yC, ...gArgs(g));
        K.conv2dBackwardData(gy, w, gxC, ...gArgs(g));
        K.conv2dBackwardWeight(gy, x, gwC, ...gArgs(g));
        const tag = `${JSON.stringify(g)} threads ${t}`;
        assertClose(yC, yT, { ...relToMax(1e-5, 1e-5), equalNaN: true }, `conv y ${tag}`);
        assertClose(gxC, gxT, { ...relToMax(1e-5, 1e-5), equalNaN: true }, `conv gx ${tag}`);
        assertClose(gwC, gwT, { ...relToMax(1e-5, 1e-5), equalNaN: true }, `conv gw ${tag}`);
        const yN = new Float32Array(yT.length).fill(NaN);
        K.conv2dForward(x, w, null, yN, ...gArgs(g));
        for (let i = 0; i < yN.length; i++) yN[i] = yN[i]! + bias[Math.floor(i / P) % g.o]!;
        assertClose(yN, yT, { ...relToMax(1e-5, 1e-5), equalNaN: true }, `conv y no bias ${tag}`);
      }
    }
  });

  it('depthwise convolutions match the TS kernels (k3 / k5, strides 1 and 2, multiplier 2, thread counts)', () => {
    // [n, c, h, w, m, k, s, p]: o = c m output channels, groups = c
    const shapes = [[16, 32, 28, 28, 1, 3, 1, 1], [16, 24, 28, 28, 1, 5, 2, 2], [3, 5, 13, 12, 2, 3, 2, 1],
      [2, 4, 9, 11, 1, 5, 1, 2], [2, 3, 7, 8, 1, 3, 2, 0], [1, 2, 3, 3, 1, 3, 1, 3]] as const;
    for (const [n, c, h, w0, m, k, s, p] of shapes) {
      const g: Conv2dGeom = { ...cgeom(n, c, h, w0, c * m, k, k, s, s, p, p), groups: c };
      const P = g.oh * g.ow;
      const x = randn(n * c * h * w0, 40), w = randn(g.o * k * k, 41), bias = randn(g.o, 42), gy = randn(n * g.o * P, 43);
      const yT = new Float32Array(n * g.o * P), gxT = new Float32Array(x.length), gwT = new Float32Array(w.length);
      depthwiseForward(x, w, bias, yT, g);
      depthwiseBackwardData(gy, w, gxT, g);
      depthwiseBackwardWeight(gy, x, gwT, g);
      for (const t of THREADS) {
        K.setKernelThreads(t);
        const yC = new Float32Array(yT.length).fill(NaN), gxC = new Float32Array(gxT.length).fill(NaN), gwC = new Float32Array(gwT.length).fill(NaN);
        K.depthwiseForward(x, w, bias, yC, ...gArgs(g));
        K.depthwiseBackwardData(gy, w, gxC, ...gArgs(g));
        K.depthwiseBackwardWeight(gy, x, gwC, ...gArgs(g));
        const tag = `${JSON.stringify(g)} threads ${t}`;
        assertClose(yC, yT, { ...relToMax(1e-6, 1e-6), equalNaN: true }, `depthwise y ${tag}`);
        assertClose(gxC, gxT, { ...relToMax(1e-6, 1e-6), equalNaN: true }, `depthwise gx ${tag}`);
        assertClose(gwC, gwT, { ...relToMax(1e-6, 1e-6), equalNaN: true }, `depthwise gw ${tag}`);
      }
    }
    const k = K as unknown as Record<string, (...a: unknown[]) => void>;
    const f = new Float32Array(64);
    // o not a multiple of c, an output larger than the convolution gives, arrays too short
    assert.throws(() => k.depthwiseForward!(f, f, null, f, 1, 2, 4, 4, 3, 3, 3, 1, 1, 1, 1, 4, 4), /multiple of c/);
    assert.throws(() => k.depthwiseForward!(f, f, null, f, 1, 2, 4, 4, 2, 3, 3, 1, 1, 1, 1, 5, 4), /does not fit/);
    assert.throws(() => k.depthwiseBackwardData!(f, new Float32Array(17), f, 1, 2, 4, 4, 2, 3, 3, 1, 1, 1, 1, 4, 4), RangeError);
    assert.throws(() => k.depthwiseBackwardWeight!(f, new Float32Array(31), f, 1, 2, 4, 4, 2, 3, 3, 1, 1, 1, 1, 4, 4), RangeError);
  });

  it('checks its arguments: wrong types throw TypeError, sizes beyond an array RangeError', () => {
    const f = new Float32Array(16), i32 = new Int32Array(16);
    const k = K as unknown as Record<string, (...a: unknown[]) => void>;
    assert.throws(() => k.unary!(3, new Float64Array(4), f, 0, 0), TypeError);
    assert.throws(() => k.unary!(3, f, new Float32Array(8), 0, 0), RangeError);
    assert.throws(() => k.unary!(99, f, f, 0, 0), RangeError);
    assert.throws(() => k.unary!(3, f, f, 0), TypeError);
    assert.throws(() => k.unaryBackward!(5, f, new Float32Array(2), f, f, 1), RangeError);
    assert.throws(() => k.axpy!(1, new Float32Array(3), f), RangeError);
    assert.throws(() => k.adamStep!(f, f, f, new Float32Array(3), 1e-3, 0.9, 0.999, 1e-8, 0, 1, true), RangeError);
    assert.throws(() => k.bnTrainForward!(f, null, null, 2, 2, 5, 1e-5, f, f, f, f), RangeError);
    assert.throws(() => k.bnTrainForward!(f, new Float32Array(1), null, 2, 2, 4, 1e-5, f, f, f, f), RangeError);
    assert.throws(() => k.bnTrainForward!(f, 'x', null, 2, 2, 4, 1e-5, f, f, f, f), TypeError);
    assert.throws(() => k.bnTrainBackward!(f, f, null, f, f, 2, 2, 4, new Float32Array(3), null, null), RangeError);
    assert.throws(() => k.bnTrainForward!(f, null, null, 2.5, 2, 4, 1e-5, f, f, f, f), RangeError);
    assert.throws(() => k.bnTrainForward!(f, null, null, 1e9, 1e9, 4, 1e-5, f, f, f, f), RangeError);
    assert.throws(() => k.maxPool2dForward!(f, new Float32Array(8), i32, 1, 1, 4, 4, 2, 2, 2, 2, 0, 0, 3, 3), RangeError);
    assert.throws(() => k.maxPool2dForward!(f, f, f, 1, 1, 4, 4, 2, 2, 2, 2, 0, 0, 2, 2), TypeError);
    assert.throws(() => k.maxPool2dForward!(f, f, i32, 1, 1, 4, 4, 2, 2, 0, 2, 0, 0, 2, 2), RangeError);
    const am = new Int32Array(4).fill(100);
    assert.throws(() => k.maxPool2dBackward!(new Float32Array(4), am, f, 1, 1, 4, 4, 2, 2, 2, 2, 0, 0, 2, 2), RangeError);
    assert.throws(() => k.maxPool2dBackward!(new Float32Array(4), am.fill(-1), f, 1, 1, 4, 4, 3, 3, 1, 1, 0, 0, 2, 2), RangeError);
    const g = [2, 2, 4, 4, 3, 3, 3, 1, 1, 1, 1, 4, 4] as const;
    assert.throws(() => k.conv2dForward!(new Float32Array(63), new Float32Array(54), null, new Float32Array(96), ...g), RangeError);
    assert.throws(() => k.conv2dForward!(new Float32Array(64), new Float32Array(53), null, new Float32Array(96), ...g), RangeError);
    assert.throws(() => k.conv2dForward!(new Float32Array(64), new Float32Array(54), new Float32Array(2), new Float32Array(96), ...g), RangeError);
    assert.throws(() => k.conv2dForward!(new Float32Array(64), new Float32Array(54), null, new Float32Array(95), ...g), RangeError);
    assert.throws(() => k.conv2dBackwardData!(new Float32Array(96), new Float32Array(54), new Float32Array(63), ...g), RangeError);
    assert.throws(() => k.conv2dBackwardWeight!(new Float32Array(96), new Float32Array(64), new Float32Array(53), ...g), RangeError);
    assert.throws(() => k.conv2dForward!(new Float32Array(64), new Float32Array(54), null, new Float32Array(96), 2, 2, 4, 4, 3, 3, 3, 0, 1, 1, 1, 4, 4), RangeError);
    assert.throws(() => k.conv2dForward!(new Float32Array(64), new Float32Array(54), null, new Float32Array(96), 2, 2, 4, 4, 3, 3, 3, 1, 1, 1, 1, 4), TypeError);
    assert.throws(() => k.conv2dForward!(new Float32Array(64), new Float32Array(54), null, new Float32Array(96), 1e5, 1e5, 4, 4, 3, 3, 3, 1, 1, 1, 1, 4, 4), RangeError);
    assert.throws(() => k.binary!(0, f, f, f, new Int32Array([1, 17, 1, 1])), RangeError);
    assert.throws(() => k.binary!(0, f, f, f, new Int32Array([2, 4, 4, 5, 1, 4, 1])), RangeError); // a too short for strides (5, 1)
    assert.throws(() => k.binary!(7, f, f, f, new Int32Array([1, 16, 1, 1])), RangeError);
    assert.throws(() => k.binary!(0, f, f, f, [1, 16, 1, 1]), TypeError);
    assert.throws(() => k.sumTo!(f, new Float32Array(3), new Int32Array([2, 4, 4, 1, 0])), RangeError);
    assert.throws(() => k.setKernelThreads!(0), RangeError);
    // geometries whose windows reach far outside the input read nothing out of bounds
    const gFar = cgeom(1, 1, 3, 3, 1, 3, 3, 1, 1, 3, 3);
    const yFar = new Float32Array(gFar.oh * gFar.ow);
    K.conv2dForward(new Float32Array(9).fill(1), new Float32Array(9).fill(1), null, yFar, ...gArgs(gFar));
    assert.equal(yFar[0], 0);
  });
});

describe('OpenBLAS worker threads', { skip }, () => {
  it('sleep at once after a GEMM (OPENBLAS_THREAD_TIMEOUT 4 unless the user set it), and userEnv() leaves it out', () => {
    const script = [
      "import { loadBlas, userEnv } from './src/backend/native.js';",
      'const ok = loadBlas().ok;',
      'console.log(JSON.stringify({ ok, set: process.env.OPENBLAS_THREAD_TIMEOUT ?? null, child: userEnv().OPENBLAS_THREAD_TIMEOUT ?? null }));',
    ].join('\n');
    const run = (extra: Record<string, string>): { ok: boolean; set: string | null; child: string | null } => {
      const env: NodeJS.ProcessEnv = { ...process.env, ...extra };
      if (!('OPENBLAS_THREAD_TIMEOUT' in extra)) delete env.OPENBLAS_THREAD_TIMEOUT;
      const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { encoding: 'utf8', env, cwd: new URL('../..', import.meta.url) });
      assert.equal(r.status, 0, r.stderr);
      return JSON.parse(r.stdout.trim().split('\n').at(-1)!) as { ok: boolean; set: string | null; child: string | null };
    };
    assert.deepEqual(run({}), { ok: true, set: '4', child: null });
    assert.deepEqual(run({ OPENBLAS_THREAD_TIMEOUT: '12' }), { ok: true, set: '12', child: '12' });
  });
});
