import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { FloatArray } from '../../src/backend/kernels.js';
import {
  batchNormEvalBackward, batchNormEvalForward, batchNormTrainBackward, batchNormTrainForward,
  groupNormBackward, groupNormForward, layerNormBackward, layerNormForward,
} from '../../src/backend/cpu/norm.js';
import { Rng } from '../../src/tensor/random.js';
import { assertClose, relToMax } from '../helpers/assert.js';
import { dot, fdGrad, randn } from '../helpers/gradcheck.js';

const nanArr = (n: number): Float64Array => new Float64Array(n).fill(NaN);

/**
 * Reference normalisation of x [outer, c, s] where the statistic groups are given by a key
 * function of (i, ch, j); the affine parameter index is aff(i, ch, j).
 */
function naiveNorm(
  x: Float64Array, dims: [number, number, number], key: (i: number, ch: number, j: number) => number,
  nKeys: number, aff: (i: number, ch: number, j: number) => number,
  gamma: Float64Array | null, beta: Float64Array | null, eps: number,
): { y: Float64Array; mean: Float64Array; varB: Float64Array } {
  const [n, c, s] = dims;
  const sum = new Float64Array(nKeys);
  const cnt = new Float64Array(nKeys);
  const sq = new Float64Array(nKeys);
  const at = (i: number, ch: number, j: number): number => (i * c + ch) * s + j;
  for (let i = 0; i < n; i++) for (let ch = 0; ch < c; ch++) for (let j = 0; j < s; j++) {
    const k = key(i, ch, j);
    sum[k] = sum[k]! + x[at(i, ch, j)]!;
    cnt[k] = cnt[k]! + 1;
  }
  const mean = sum.map((v, k) => v / cnt[k]!);
  for (let i = 0; i < n; i++) for (let ch = 0; ch < c; ch++) for (let j = 0; j < s; j++) {
    const k = key(i, ch, j);
    sq[k] = sq[k]! + (x[at(i, ch, j)]! - mean[k]!) ** 2;
  }
  const varB = sq.map((v, k) => v / cnt[k]!);
  const y = new Float64Array(x.length);
  for (let i = 0; i < n; i++) for (let ch = 0; ch < c; ch++) for (let j = 0; j < s; j++) {
    const k = key(i, ch, j);
    const a = aff(i, ch, j);
    y[at(i, ch, j)] = (x[at(i, ch, j)]! - mean[k]!) / Math.sqrt(varB[k]! + eps) * (gamma ? gamma[a]! : 1) + (beta ? beta[a]! : 0);
  }
  return { y, mean, varB };
}

const eps = 1e-5;

for (const [n, c, s] of [[4, 3, 5], [7, 4, 1], [2, 3, 9]] as Array<[number, number, number]>) {
  for (const affine of [true, false]) {
    const tag = `[${n},${c},${s}]${affine ? '' : ' without affine'}`;

    test(`batchNormTrain ${tag}: forward matches the reference`, () => {
      const rng = new Rng(21);
      const x = randn(rng, n * c * s, 0.5, 2);
      const gamma = affine ? randn(rng, c) : null;
      const beta = affine ? randn(rng, c) : null;
      const y = nanArr(x.length), mean = nanArr(c), invstd = nanArr(c), varB = nanArr(c);
      batchNormTrainForward(x, gamma, beta, n, c, s, eps, y, mean, invstd, varB);
      const ref = naiveNorm(x, [n, c, s], (_i, ch) => ch, c, (_i, ch) => ch, gamma, beta, eps);
      assertClose(y, ref.y, relToMax(1e-12), 'y');
      assertClose(mean, ref.mean, relToMax(1e-12), 'mean');
      assertClose(varB, ref.varB, relToMax(1e-12), 'var');
      assertClose(invstd, ref.varB.map((v) => 1 / Math.sqrt(v + eps)), relToMax(1e-12), 'invstd');
    });

    test(`batchNormTrain ${tag}: backward matches finite differences`, () => {
      const rng = new Rng(22);
      const x = randn(rng, n * c * s, 0.5, 2);
      const gamma = randn(rng, c);
      const beta = randn(rng, c);
      const r = randn(rng, x.length);
      const y = nanArr(x.length), mean = nanArr(c), invstd = nanArr(c), varB = nanArr(c);
      const loss = (): number => {
        batchNormTrainForward(x, affine ? gamma : null, affine ? beta : null, n, c, s, eps, y, mean, invstd, varB);
        return dot(y, r);
      };
      loss();
      const gx = nanArr(x.length), gg = nanArr(c), gb = nanArr(c);
      batchNormTrainBackward(r, x, affine ? gamma : null, mean, invstd, n, c, s, gx, affine ? gg : null, affine ? gb : null);
      assertClose(gx, fdGrad(loss, x), relToMax(1e-6), 'gx');
      if (affine) {
        assertClose(gg, fdGrad(loss, gamma), relToMax(1e-6), 'ggamma');
        assertClose(gb, fdGrad(loss, beta), relToMax(1e-6), 'gbeta');
      }
    });

    test(`batchNormEval ${tag}: forward and backward`, () => {
      const rng = new Rng(23);
      const x = randn(rng, n * c * s);
      const gamma = randn(rng, c);
      const beta = randn(rng, c);
      const rm = randn(rng, c);
      const rv = new Float64Array(c).map(() => 0.5 + rng.uniform());
      const r = randn(rng, x.length);
      const g = affine ? gamma : null;
      const b = affine ? beta : null;
      const y = nanArr(x.length);
      batchNormEvalForward(x, g, b, rm, rv, n, c, s, eps, y);
      const ref = new Float64Array(x.length);
      for (let i = 0; i < x.length; i++) {
        const ch = Math.floor(i / s) % c;
        ref[i] = (x[i]! - rm[ch]!) / Math.sqrt(rv[ch]! + eps) * (g ? g[ch]! : 1) + (b ? b[ch]! : 0);
      }
      assertClose(y, ref, relToMax(1e-12), 'y');
      const loss = (): number => { batchNormEvalForward(x, g, b, rm, rv, n, c, s, eps, y); return dot(y, r); };
      const gx = nanArr(x.length), gg = nanArr(c), gb = nanArr(c);
      batchNormEvalBackward(r, x, g, rm, rv, n, c, s, eps, gx, affine ? gg : null, affine ? gb : null);
      assertClose(gx, fdGrad(loss, x), relToMax(1e-6), 'gx');
      if (affine) {
        assertClose(gg, fdGrad(loss, gamma), relToMax(1e-6), 'ggamma');
        assertClose(gb, fdGrad(loss, beta), relToMax(1e-6), 'gbeta');
        // Parameter gradients alone (gx not needed).
        const gg2 = nanArr(c), gb2 = nanArr(c);
        batchNormEvalBackward(r, x, g, rm, rv, n, c, s, eps, null, gg2, gb2);
        assert.deepEqual(Array.from(gg2), Array.from(gg));
        assert.deepEqual(Array.from(gb2), Array.from(gb));
      }
    });

    test(`layerNorm ${tag} as [${n * c}, ${s}]: forward and backward`, () => {
      const rows = n * c;
      const d = s + 2; // avoid d = 1 (degenerate: output is beta)
      const rng = new Rng(24);
      const x = randn(rng, rows * d, -1, 3);
      const gamma = randn(rng, d);
      const beta = randn(rng, d);
      const r = randn(rng, x.length);
      const g = affine ? gamma : null;
      const b = affine ? beta : null;
      const y = nanArr(x.length), mean = nanArr(rows), invstd = nanArr(rows);
      layerNormForward(x, g, b, rows, d, eps, y, mean, invstd);
      const ref = naiveNorm(x, [rows, 1, d], (i) => i, rows, (_i, _ch, j) => j, g, b, eps);
      assertClose(y, ref.y, relToMax(1e-12), 'y');
      assertClose(mean, ref.mean, relToMax(1e-12), 'mean');
      assertClose(invstd, ref.varB.map((v) => 1 / Math.sqrt(v + eps)), relToMax(1e-12), 'invstd');
      const loss = (): number => { layerNormForward(x, g, b, rows, d, eps, y, mean, invstd); return dot(y, r); };
      loss();
      const gx = nanArr(x.length), gg = nanArr(d), gb = nanArr(d);
      layerNormBackward(r, x, g, mean, invstd, rows, d, gx, affine ? gg : null, affine ? gb : null);
      assertClose(gx, fdGrad(loss, x), relToMax(1e-6), 'gx');
      if (affine) {
        assertClose(gg, fdGrad(loss, gamma), relToMax(1e-6), 'ggamma');
        assertClose(gb, fdGrad(loss, beta), relToMax(1e-6), 'gbeta');
      }
    });
  }
}

for (const [n, c, s, groups] of [[3, 6, 4, 2], [2, 4, 5, 4], [2, 3, 7, 1], [4, 4, 1, 2]] as Array<[number, number, number, number]>) {
  for (const affine of [true, false]) {
    test(`groupNorm [${n},${c},${s}] groups ${groups}${affine ? '' : ' without affine'}: forward and backward`, () => {
      const rng = new Rng(25);
      const x = randn(rng, n * c * s, 2, 1.5);
      const gamma = randn(rng, c);
      const beta = randn(rng, c);
      const r = randn(rng, x.length);
      const g = affine ? gamma : null;
      const b = affine ? beta : null;
      const cg = c / groups;
      const y = nanArr(x.length), mean = nanArr(n * groups), invstd = nanArr(n * groups);
      groupNormForward(x, g, b, n, c, s, groups, eps, y, mean, invstd);
      const ref = naiveNorm(x, [n, c, s], (i, ch) => i * groups + Math.floor(ch / cg), n * groups, (_i, ch) => ch, g, b, eps);
      assertClose(y, ref.y, relToMax(1e-12), 'y');
      assertClose(mean, ref.mean, relToMax(1e-12), 'mean');
      assertClose(invstd, ref.varB.map((v) => 1 / Math.sqrt(v + eps)), relToMax(1e-12), 'invstd');
      const loss = (): number => { groupNormForward(x, g, b, n, c, s, groups, eps, y, mean, invstd); return dot(y, r); };
      loss();
      const gx = nanArr(x.length), gg = nanArr(c), gb = nanArr(c);
      groupNormBackward(r, x, g, mean, invstd, n, c, s, groups, gx, affine ? gg : null, affine ? gb : null);
      assertClose(gx, fdGrad(loss, x), relToMax(1e-6), 'gx');
      if (affine) {
        assertClose(gg, fdGrad(loss, gamma), relToMax(1e-6), 'ggamma');
        assertClose(gb, fdGrad(loss, beta), relToMax(1e-6), 'gbeta');
      }
    });
  }
}

test('norm kernels: Float32Array agrees with Float64Array (offset data, mean 50 std 2)', () => {
  const [n, c, s, groups] = [6, 4, 10, 2];
  const rng = new Rng(26);
  const x32 = new Float32Array(randn(rng, n * c * s, 50, 2));
  const r32 = new Float32Array(randn(rng, n * c * s));
  const gamma32 = new Float32Array(randn(rng, c));
  const beta32 = new Float32Array(randn(rng, c));
  const gammaL32 = new Float32Array(randn(rng, s));
  const run = (x: FloatArray, r: FloatArray, gamma: FloatArray, beta: FloatArray, gammaL: FloatArray, f64: boolean): FloatArray[] => {
    const mk = (k: number): FloatArray => (f64 ? new Float64Array(k) : new Float32Array(k)).fill(NaN);
    const out: FloatArray[] = [];
    // batch norm (train)
    let y = mk(x.length), mean = mk(c), invstd = mk(c), gx = mk(x.length), gg = mk(c), gb = mk(c);
    batchNormTrainForward(x, gamma, beta, n, c, s, 1e-5, y, mean, invstd, mk(c));
    batchNormTrainBackward(r, x, gamma, mean, invstd, n, c, s, gx, gg, gb);
    out.push(y, gx, gg, gb);
    // layer norm over rows of s
    y = mk(x.length); mean = mk(n * c); invstd = mk(n * c); gx = mk(x.length);
    const gl = mk(s), bl = mk(s);
    layerNormForward(x, gammaL, null, n * c, s, 1e-5, y, mean, invstd);
    layerNormBackward(r, x, gammaL, mean, invstd, n * c, s, gx, gl, bl);
    out.push(y, gx, gl, bl);
    // group norm
    y = mk(x.length); mean = mk(n * groups); invstd = mk(n * groups); gx = mk(x.length); gg = mk(c); gb = mk(c);
    groupNormForward(x, gamma, beta, n, c, s, groups, 1e-5, y, mean, invstd);
    groupNormBackward(r, x, gamma, mean, invstd, n, c, s, groups, gx, gg, gb);
    out.push(y, gx, gg, gb);
    return out;
  };
  const lo = run(x32, r32, gamma32, beta32, gammaL32, false);
  const [x64, r64, gamma64, beta64, gammaL64] = [x32, r32, gamma32, beta32, gammaL32].map((a) => new Float64Array(a)) as
    [Float64Array, Float64Array, Float64Array, Float64Array, Float64Array];
  const hi = run(x64, r64, gamma64, beta64, gammaL64, true);
  assert.equal(lo.length, hi.length);
  for (let i = 0; i < lo.length; i++) assertClose(lo[i]!, hi[i]!, relToMax(1e-4), `output ${i}`);
});

test('norm statistics stay accurate when |mean| >> std (mean 1e4, std 1e-2)', () => {
  const [n, c, s] = [5, 3, 8];
  const x = randn(new Rng(27), n * c * s, 1e4, 1e-2);
  const ref = naiveNorm(x, [n, c, s], (_i, ch) => ch, c, (_i, ch) => ch, null, null, 0);
  const y = nanArr(x.length), mean = nanArr(c), invstd = nanArr(c), varB = nanArr(c);
  batchNormTrainForward(x, null, null, n, c, s, 0, y, mean, invstd, varB);
  assertClose(varB, ref.varB, relToMax(1e-9), 'batch norm var');
  assertClose(y, ref.y, relToMax(1e-8), 'batch norm y');
  const refG = naiveNorm(x, [n, c, s], (i) => i, n, (_i, ch) => ch, null, null, 0);
  const gm = nanArr(n), gi = nanArr(n);
  groupNormForward(x, null, null, n, c, s, 1, 0, y, gm, gi);
  assertClose(gi, refG.varB.map((v) => 1 / Math.sqrt(v)), relToMax(1e-9), 'group norm invstd');
  assertClose(y, refG.y, relToMax(1e-8), 'group norm y');
});

test('groupNorm throws when groups does not divide the channels', () => {
  const x = new Float64Array(2 * 6 * 3);
  assert.throws(() => groupNormForward(x, null, null, 2, 6, 3, 4, 1e-5, new Float64Array(x.length), new Float64Array(8), new Float64Array(8)),
    /positive divisor of the channel count 6, got 4/);
});
