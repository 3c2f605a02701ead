import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { FloatArray, Pool2dGeom } from '../../src/backend/kernels.js';
import { convOutSize } from '../../src/backend/kernels.js';
import {
  avgPool2dBackward, avgPool2dForward, maxPool2dBackward, maxPool2dForward,
} from '../../src/backend/cpu/pool.js';
import { Rng } from '../../src/tensor/random.js';
import { assertClose, relToMax } from '../helpers/assert.js';
import { dot, fdGrad, randn } from '../helpers/gradcheck.js';

function geom(n: number, c: number, h: number, w: number, kh: number, kw: number,
  sh: number, sw: number, ph: number, pw: number): Pool2dGeom {
  return { n, c, h, w, kh, kw, sh, sw, ph, pw, oh: convOutSize(h, kh, sh, ph), ow: convOutSize(w, kw, sw, pw) };
}

/** Reference pooling over an explicitly padded copy of each plane (pad value -inf for max, 0 for avg). */
function naivePool(x: Float64Array, g: Pool2dGeom, kind: 'max' | 'avg'): { y: Float64Array; idx: Int32Array } {
  const H = g.h + 2 * g.ph;
  const W = g.w + 2 * g.pw;
  const y = new Float64Array(g.n * g.c * g.oh * g.ow);
  const idx = new Int32Array(y.length);
  for (let p = 0; p < g.n * g.c; p++) {
    const pad = new Float64Array(H * W).fill(kind === 'max' ? -Infinity : 0);
    for (let i = 0; i < g.h; i++) for (let j = 0; j < g.w; j++) pad[(i + g.ph) * W + j + g.pw] = x[(p * g.h + i) * g.w + j]!;
    for (let oy = 0; oy < g.oh; oy++) {
      for (let ox = 0; ox < g.ow; ox++) {
        let best = -Infinity;
        let bi = -1;
        let sum = 0;
        for (let i = 0; i < g.kh; i++) {
          for (let j = 0; j < g.kw; j++) {
            const Y = oy * g.sh + i;
            const X = ox * g.sw + j;
            const v = pad[Y * W + X]!;
            sum += v;
            if (v > best) { best = v; bi = (Y - g.ph) * g.w + (X - g.pw); }
          }
        }
        const o = (p * g.oh + oy) * g.ow + ox;
        y[o] = kind === 'max' ? best : sum / (g.kh * g.kw);
        idx[o] = bi;
      }
    }
  }
  return { y, idx };
}

/** Distinct values (a shuffled grid with spacing 0.01), so finite differences never flip a max. */
function distinct(rng: Rng, n: number): Float64Array {
  const perm = rng.permutation(n);
  const x = new Float64Array(n);
  for (let i = 0; i < n; i++) x[i] = (perm[i]! - n / 2) * 0.01;
  return x;
}

const cases: Array<{ name: string; g: Pool2dGeom }> = [
  { name: '2x2 stride 2 (fast path)', g: geom(2, 3, 6, 8, 2, 2, 2, 2, 0, 0) },
  { name: '2x2 stride 2 on odd sizes (fast path, dropped edge)', g: geom(2, 2, 7, 5, 2, 2, 2, 2, 0, 0) },
  { name: '3x3 stride 1 pad 1 (overlapping)', g: geom(2, 2, 5, 6, 3, 3, 1, 1, 1, 1) },
  { name: '3x2 kernel, stride 3x2, pad 1x1', g: geom(1, 3, 8, 7, 3, 2, 3, 2, 1, 1) },
  { name: '2x2 stride 2 pad 1', g: geom(2, 1, 6, 7, 2, 2, 2, 2, 1, 1) },
  { name: '1-d window 1x3 stride 2 pad 1', g: geom(3, 2, 1, 11, 1, 3, 1, 2, 0, 1) },
];

for (const { name, g } of cases) {
  const nx = g.n * g.c * g.h * g.w;
  const ny = g.n * g.c * g.oh * g.ow;

  test(`maxPool2d ${name}: forward and argmax match the padded reference`, () => {
    const x = randn(new Rng(1), nx);
    const y = new Float64Array(ny).fill(NaN);
    const idx = new Int32Array(ny).fill(-7);
    maxPool2dForward(x, y, idx, g);
    const ref = naivePool(x, g, 'max');
    assert.deepEqual(Array.from(y), Array.from(ref.y));
    assert.deepEqual(Array.from(idx), Array.from(ref.idx));
  });

  test(`maxPool2d ${name}: backward matches finite differences`, () => {
    const rng = new Rng(2);
    const x = distinct(rng, nx);
    const r = randn(rng, ny);
    const y = new Float64Array(ny);
    const idx = new Int32Array(ny);
    const loss = (): number => { maxPool2dForward(x, y, idx, g); return dot(y, r); };
    maxPool2dForward(x, y, idx, g);
    const gx = new Float64Array(nx).fill(NaN);
    maxPool2dBackward(r, idx, gx, g);
    assertClose(gx, fdGrad(loss, x), relToMax(1e-6), 'gx');
  });

  test(`avgPool2d ${name}: forward matches the padded reference`, () => {
    const x = randn(new Rng(3), nx);
    const y = new Float64Array(ny).fill(NaN);
    avgPool2dForward(x, y, g);
    assertClose(y, naivePool(x, g, 'avg').y, relToMax(1e-14), 'y');
  });

  test(`avgPool2d ${name}: backward matches finite differences`, () => {
    const rng = new Rng(4);
    const x = randn(rng, nx);
    const r = randn(rng, ny);
    const y = new Float64Array(ny);
    const loss = (): number => { avgPool2dForward(x, y, g); return dot(y, r); };
    const gx = new Float64Array(nx).fill(NaN);
    avgPool2dBackward(r, gx, g);
    assertClose(gx, fdGrad(loss, x), relToMax(1e-6), 'gx');
  });

  test(`pool2d ${name}: Float32Array agrees with Float64Array`, () => {
    const rng = new Rng(5);
    const x32 = new Float32Array(randn(rng, nx));
    const r32 = new Float32Array(randn(rng, ny));
    const run = (x: FloatArray, r: FloatArray, f64: boolean): FloatArray[] => {
      const mk = (n: number): FloatArray => (f64 ? new Float64Array(n) : new Float32Array(n)).fill(NaN);
      const ym = mk(ny), gm = mk(nx), ya = mk(ny), ga = mk(nx);
      const idx = new Int32Array(ny);
      maxPool2dForward(x, ym, idx, g);
      maxPool2dBackward(r, idx, gm, g);
      avgPool2dForward(x, ya, g);
      avgPool2dBackward(r, ga, g);
      return [ym, gm, ya, ga];
    };
    const lo = run(x32, r32, false);
    const hi = run(new Float64Array(x32), new Float64Array(r32), true);
    for (let i = 0; i < 4; i++) assertClose(lo[i]!, hi[i]!, relToMax(1e-4), ['max y', 'max gx', 'avg y', 'avg gx'][i]!);
  });
}

test('maxPool2d pins PyTorch values: 2x2/2 on a 4x4 ramp', () => {
  const x = new Float64Array(16).map((_, i) => i);
  const y = new Float64Array(4);
  const idx = new Int32Array(4);
  maxPool2dForward(x, y, idx, geom(1, 1, 4, 4, 2, 2, 2, 2, 0, 0));
  assert.deepEqual(Array.from(y), [5, 7, 13, 15]);
  assert.deepEqual(Array.from(idx), [5, 7, 13, 15]);
});

test('maxPool2d indices are per plane, and the first maximum wins ties', () => {
  for (const g of [geom(2, 2, 4, 4, 2, 2, 2, 2, 0, 0), geom(2, 2, 4, 4, 3, 3, 1, 1, 1, 1)]) {
    const x = new Float64Array(g.n * g.c * g.h * g.w).fill(3);
    const idx = new Int32Array(g.n * g.c * g.oh * g.ow);
    maxPool2dForward(x, new Float64Array(idx.length), idx, g);
    const ref = naivePool(x, g, 'max').idx;
    assert.deepEqual(Array.from(idx), Array.from(ref));
    assert.equal(idx[idx.length - 1], 10); // last window starts at (2, 2) of its own plane
  }
});

test('maxPool2d propagates NaN like PyTorch', () => {
  const x = new Float64Array([1, NaN, 5, 2]);
  const y = new Float64Array(1);
  const idx = new Int32Array(1);
  maxPool2dForward(x, y, idx, geom(1, 1, 2, 2, 2, 2, 2, 2, 0, 0));
  assert.ok(Number.isNaN(y[0]!));
  assert.equal(idx[0], 1);
  const y9 = new Float64Array(9);
  const idx9 = new Int32Array(9);
  maxPool2dForward(x, y9, idx9, geom(1, 1, 2, 2, 2, 2, 1, 1, 1, 1));
  assert.deepEqual(Array.from(y9), [1, NaN, NaN, 5, NaN, NaN, 5, 5, 2]);
  assert.deepEqual(Array.from(idx9), [0, 1, 1, 2, 1, 1, 2, 2, 3]);
});

test('avgPool2d pins PyTorch count_include_pad: avg_pool2d(ones(3x3), 3, 2, 1) = 4/9', () => {
  const y = new Float64Array(4);
  avgPool2dForward(new Float64Array(9).fill(1), y, geom(1, 1, 3, 3, 3, 3, 2, 2, 1, 1));
  for (const v of y) assert.ok(Math.abs(v - 4 / 9) < 1e-15);
});
