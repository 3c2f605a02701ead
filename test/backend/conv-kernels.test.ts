import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Conv2dGeom, FloatArray, Gemm, Workspace } from '../../src/backend/kernels.js';
import { convOutSize } from '../../src/backend/kernels.js';
import {
  conv2dBackwardBias, conv2dBackwardData, conv2dBackwardWeight, conv2dForward,
} from '../../src/backend/cpu/conv.js';
import { Rng } from '../../src/tensor/random.js';
import { assertClose, relToMax } from '../helpers/assert.js';
import { dot, fdGrad, randn } from '../helpers/gradcheck.js';

/** Reference GEMM (independent of src/backend/gemm.ts): plain triple loop, beta = 0 ignores C. */
const naiveGemm: Gemm = (transA, transB, m, n, k, alpha, a, aOff, lda, b, bOff, ldb, beta, c, cOff, ldc) => {
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let acc = 0;
      for (let p = 0; p < k; p++) {
        const av = transA ? a[aOff + p * lda + i]! : a[aOff + i * lda + p]!;
        const bv = transB ? b[bOff + j * ldb + p]! : b[bOff + p * ldb + j]!;
        acc += av * bv;
      }
      const ci = cOff + i * ldc + j;
      c[ci] = beta === 0 ? alpha * acc : alpha * acc + beta * c[ci]!;
    }
  }
};

/** Workspace whose buffers come back full of NaN on every get, so a kernel reading stale scratch fails. */
class NanWorkspace implements Workspace {
  private readonly bufs = new Map<number, FloatArray>();
  constructor(private readonly f64: boolean) {}
  get(n: number, slot = 0): FloatArray {
    let b = this.bufs.get(slot);
    if (b === undefined || b.length < n) {
      b = this.f64 ? new Float64Array(n) : new Float32Array(n);
      this.bufs.set(slot, b);
    }
    b.fill(NaN);
    return b;
  }
}

function geom(n: number, c: number, h: number, w: number, o: number, kh: number, kw: number,
  sh: number, sw: number, ph: number, pw: number): Conv2dGeom {
  return { n, c, h, w, o, kh, kw, sh, sw, ph, pw, oh: convOutSize(h, kh, sh, ph), ow: convOutSize(w, kw, sw, pw) };
}

/** Direct 7-deep loop convolution. */
function naiveConv(x: Float64Array, w: Float64Array, bias: Float64Array | null, g: Conv2dGeom): Float64Array {
  const y = new Float64Array(g.n * g.o * g.oh * g.ow);
  for (let s = 0; s < g.n; s++) {
    for (let r = 0; r < g.o; r++) {
      for (let oy = 0; oy < g.oh; oy++) {
        for (let ox = 0; ox < g.ow; ox++) {
          let acc = bias === null ? 0 : bias[r]!;
          for (let ci = 0; ci < g.c; ci++) {
            for (let ki = 0; ki < g.kh; ki++) {
              for (let kj = 0; kj < g.kw; kj++) {
                const iy = oy * g.sh - g.ph + ki;
                const ix = ox * g.sw - g.pw + kj;
                if (iy < 0 || iy >= g.h || ix < 0 || ix >= g.w) continue;
                acc += x[((s * g.c + ci) * g.h + iy) * g.w + ix]! * w[((r * g.c + ci) * g.kh + ki) * g.kw + kj]!;
              }
            }
          }
          y[((s * g.o + r) * g.oh + oy) * g.ow + ox] = acc;
        }
      }
    }
  }
  return y;
}

interface Case { name: string; g: Conv2dGeom; bias: boolean; maxChunk?: number }

const cases: Case[] = [
  { name: 'square 3x3 pad 1', g: geom(2, 3, 5, 5, 4, 3, 3, 1, 1, 1, 1), bias: true },
  { name: 'h != w, non-square kernel, stride 2x3, pad 2x0', g: geom(2, 2, 7, 6, 3, 3, 2, 2, 3, 2, 0), bias: false },
  { name: 'stride 3, pad 2, kernel 2x4', g: geom(3, 2, 8, 9, 2, 2, 4, 3, 2, 1, 2), bias: true, maxChunk: 2 },
  { name: 'kernel larger than padded span leaves rows uncovered', g: geom(2, 2, 7, 8, 2, 3, 3, 2, 2, 0, 1), bias: false, maxChunk: 1 },
  { name: '1x1 stride 1 on a small plane (im2col path)', g: geom(3, 3, 4, 5, 2, 1, 1, 1, 1, 0, 0), bias: true },
  { name: '1x1 stride 1 on a large plane (direct path)', g: geom(2, 3, 8, 9, 4, 1, 1, 1, 1, 0, 0), bias: true },
  { name: '1x1 stride 2 pad 1', g: geom(2, 2, 5, 6, 3, 1, 1, 2, 2, 1, 1), bias: false },
  { name: 'conv1d k7 s2 p3', g: geom(3, 2, 1, 25, 3, 1, 7, 1, 2, 0, 3), bias: true, maxChunk: 2 },
  { name: 'conv1d k7 s1 p3', g: geom(2, 3, 1, 16, 2, 1, 7, 1, 1, 0, 3), bias: false },
  { name: 'conv1d long rows (memcpy runs, several chunks)', g: geom(3, 2, 1, 70, 2, 1, 7, 1, 1, 0, 3), bias: true, maxChunk: 2 },
  { name: 'conv1d k7 s2 p3 odd length', g: geom(2, 2, 1, 23, 2, 1, 7, 1, 2, 0, 3), bias: false },
  // o > 4c: backward data by col2im instead of phases.
  { name: 'o >> c, 3x3 pad 1 (col2im, same width)', g: geom(3, 1, 6, 5, 6, 3, 3, 1, 1, 1, 1), bias: true, maxChunk: 2 },
  { name: 'o >> c, stride 2x3, pad 1x2, kernel 3x4 (col2im)', g: geom(2, 1, 7, 9, 5, 3, 4, 2, 3, 1, 2), bias: false },
  { name: 'o >> c, conv1d k7 s2 p3 (col2im)', g: geom(3, 1, 1, 25, 6, 1, 7, 1, 2, 0, 3), bias: true, maxChunk: 2 },
];

for (const { name, g, bias, maxChunk } of cases) {
  test(`conv2d ${name}: forward matches the direct loop`, () => {
    const rng = new Rng(11);
    const x = randn(rng, g.n * g.c * g.h * g.w);
    const w = randn(rng, g.o * g.c * g.kh * g.kw);
    const b = bias ? randn(rng, g.o) : null;
    const y = new Float64Array(g.n * g.o * g.oh * g.ow).fill(NaN);
    conv2dForward(x, w, b, y, g, naiveGemm, new NanWorkspace(true), maxChunk);
    assertClose(y, naiveConv(x, w, b, g), relToMax(1e-12), 'y');
  });

  test(`conv2d ${name}: backward kernels match finite differences of sum(y * r)`, () => {
    const rng = new Rng(12);
    const x = randn(rng, g.n * g.c * g.h * g.w);
    const w = randn(rng, g.o * g.c * g.kh * g.kw);
    const b = randn(rng, g.o);
    const r = randn(rng, g.n * g.o * g.oh * g.ow);
    const loss = (): number => dot(naiveConv(x, w, bias ? b : null, g), r);
    const ws = new NanWorkspace(true);

    const gx = new Float64Array(x.length).fill(NaN);
    conv2dBackwardData(r, w, gx, g, naiveGemm, ws, maxChunk);
    assertClose(gx, fdGrad(loss, x), relToMax(1e-6), 'gx');

    const gw = new Float64Array(w.length).fill(NaN);
    conv2dBackwardWeight(r, x, gw, g, naiveGemm, ws, maxChunk);
    assertClose(gw, fdGrad(loss, w), relToMax(1e-6), 'gw');

    if (bias) {
      const gb = new Float64Array(g.o).fill(NaN);
      conv2dBackwardBias(r, gb, g);
      assertClose(gb, fdGrad(loss, b), relToMax(1e-6), 'gb');
    }
  });

  test(`conv2d ${name}: Float32Array agrees with Float64Array`, () => {
    const rng = new Rng(13);
    // Inputs rounded to float32 once, so both precisions see identical values.
    const x32 = new Float32Array(randn(rng, g.n * g.c * g.h * g.w));
    const w32 = new Float32Array(randn(rng, g.o * g.c * g.kh * g.kw));
    const b32 = new Float32Array(randn(rng, g.o));
    const r32 = new Float32Array(randn(rng, g.n * g.o * g.oh * g.ow));
    const [x64, w64, b64, r64] = [x32, w32, b32, r32].map((a) => new Float64Array(a)) as [Float64Array, Float64Array, Float64Array, Float64Array];
    const run = (x: FloatArray, w: FloatArray, b: FloatArray, r: FloatArray, f64: boolean): FloatArray[] => {
      const mk = (n: number): FloatArray => (f64 ? new Float64Array(n) : new Float32Array(n)).fill(NaN);
      const ws = new NanWorkspace(f64);
      const y = mk(r.length);
      const gx = mk(x.length);
      const gw = mk(w.length);
      conv2dForward(x, w, bias ? b : null, y, g, naiveGemm, ws, maxChunk);
      conv2dBackwardData(r, w, gx, g, naiveGemm, ws, maxChunk);
      conv2dBackwardWeight(r, x, gw, g, naiveGemm, ws, maxChunk);
      return [y, gx, gw];
    };
    const lo = run(x32, w32, b32, r32, false);
    const hi = run(x64, w64, b64, r64, true);
    for (let i = 0; i < 3; i++) assertClose(lo[i]!, hi[i]!, relToMax(1e-4), ['y', 'gx', 'gw'][i]!);
  });
}

test('conv2dBackwardWeight and conv2dForward handle an empty batch', () => {
  const g = geom(0, 2, 5, 5, 3, 3, 3, 1, 1, 1, 1);
  const gw = new Float64Array(3 * 2 * 9).fill(NaN);
  conv2dBackwardWeight(new Float64Array(0), new Float64Array(0), gw, g, naiveGemm, new NanWorkspace(true));
  assert.ok(gw.every((v) => v === 0));
  conv2dForward(new Float64Array(0), new Float64Array(54), null, new Float64Array(0), g, naiveGemm, new NanWorkspace(true));
});
