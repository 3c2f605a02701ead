import { test } from 'node:test';
import assert from 'node:assert/strict';
import { averageBaseline, coordinateMoments, ensembleAverage, gaussFitBaseline, noiseBaseline } from '../../src/eval/baselines.js';
import { Rng } from '../../src/tensor/random.js';
import { ParamLayout } from '../../src/zoo/layout.js';
import { ConfigError, ShapeError } from '../../src/util/errors.js';

/** K checkpoints of a layout with tensors a [2, 3], b [4], c [1]: row k has distinct, k-dependent values. */
const layout = new ParamLayout(['a', 'b', 'c'], [[2, 3], [4], [1]]);
const K = 12;
const total = layout.total; // 11
function stack(): Float32Array {
  const rng = new Rng(3);
  const ck = new Float32Array(K * total);
  for (let k = 0; k < K; k++) {
    for (let j = 0; j < total; j++) ck[k * total + j] = j * 0.5 + k * 0.25 + 0.1 * rng.normal();
  }
  return ck;
}
const ck = stack();
const row = (a: Float32Array, r: number): Float32Array => a.subarray(r * total, (r + 1) * total);

test('ensembleAverage is the exact per-coordinate mean of all K', () => {
  const e = ensembleAverage(ck, K, total);
  assert.equal(e.length, total);
  for (let j = 0; j < total; j++) {
    let s = 0;
    for (let k = 0; k < K; k++) s += ck[k * total + j]!;
    assert.equal(e[j], Math.fround(s / K));
  }
});

test('noise scale 0 returns a checkpoint (up to float rounding); scale s perturbs each tensor by s of its own std', () => {
  const out = noiseBaseline(ck, K, layout, 0, 20, new Rng(1));
  for (let r = 0; r < 20; r++) {
    const v = row(out, r);
    let hit = -1;
    for (let k = 0; k < K && hit < 0; k++) {
      const c = row(ck, k);
      if (c.every((x, j) => Math.abs(x - v[j]!) <= 1e-6 * (1 + Math.abs(x)))) hit = k;
    }
    assert.ok(hit >= 0, `set ${r} is not a checkpoint`);
  }
  // Deterministic under the seed.
  assert.deepEqual(noiseBaseline(ck, K, layout, 0.05, 7, new Rng(9)), noiseBaseline(ck, K, layout, 0.05, 7, new Rng(9)));
  // With a single checkpoint the source is known: the residual / (tensor std) has std ~ scale.
  const one = ck.slice(0, total);
  const n = 4000;
  const noisy = noiseBaseline(one, 1, layout, 0.15, n, new Rng(2));
  const sdA = (() => {
    const a = one.subarray(0, 6);
    const m = a.reduce((s, x) => s + x, 0) / 6;
    return Math.sqrt(a.reduce((s, x) => s + (x - m) ** 2, 0) / 5);
  })();
  let ss = 0;
  for (let r = 0; r < n; r++) for (let j = 0; j < 6; j++) ss += ((noisy[r * total + j]! - one[j]!) / sdA) ** 2;
  assert.ok(Math.abs(Math.sqrt(ss / (6 * n)) - 0.15) < 0.005, `relative noise std ${Math.sqrt(ss / (6 * n))}`);
  // The one-element tensor c has no spread: sd = 1, so it moves by scale N(0, 1).
  let sc = 0;
  for (let r = 0; r < n; r++) sc += (noisy[r * total + 10]! - one[10]!) ** 2;
  assert.ok(Math.abs(Math.sqrt(sc / n) - 0.15) < 0.01);
});

test('avg16 averages distinct checkpoints', () => {
  // Checkpoints that are one-hot in their own coordinate: the average reveals which were used.
  const KK = 20;
  const eye = new Float32Array(KK * KK);
  for (let k = 0; k < KK; k++) eye[k * KK + k] = 1;
  const out = averageBaseline(eye, KK, KK, 16, 30, new Rng(4));
  for (let r = 0; r < 30; r++) {
    const v = out.subarray(r * KK, (r + 1) * KK);
    const used = [...v].filter((x) => x > 0);
    assert.equal(used.length, 16, `set ${r} uses ${used.length} distinct checkpoints`);
    for (const x of used) assert.equal(x, Math.fround(1 / 16));
  }
  assert.deepEqual(averageBaseline(ck, K, total, K, 1, new Rng(5)), ensembleAverage(ck, K, total));
  assert.throws(() => averageBaseline(ck, K, total, K + 1, 1, new Rng(5)), ConfigError);
});

test('gauss_fit matches the per-coordinate moments over many draws', () => {
  const { mean, std } = coordinateMoments(ck, K, total);
  const n = 20000;
  const out = gaussFitBaseline(ck, K, total, n, new Rng(6));
  for (let j = 0; j < total; j++) {
    let s = 0, ss = 0;
    for (let r = 0; r < n; r++) s += out[r * total + j]!;
    const m = s / n;
    for (let r = 0; r < n; r++) ss += (out[r * total + j]! - m) ** 2;
    const sd = Math.sqrt(ss / (n - 1));
    // Standard errors: std / sqrt(n) for the mean, about std / sqrt(2n) for the std.
    assert.ok(Math.abs(m - mean[j]!) < 5 * std[j]! / Math.sqrt(n), `coordinate ${j}: mean ${m} vs ${mean[j]}`);
    assert.ok(Math.abs(sd - std[j]!) < 5 * std[j]! / Math.sqrt(2 * n), `coordinate ${j}: std ${sd} vs ${std[j]}`);
  }
  // Unbiased std (n - 1) on a hand example: values 1, 2, 3, 4 -> std sqrt(5/3).
  const m4 = coordinateMoments(Float32Array.of(1, 2, 3, 4), 4, 1);
  assert.equal(m4.mean[0], 2.5);
  assert.ok(Math.abs(m4.std[0]! - Math.sqrt(5 / 3)) < 1e-12);
  assert.throws(() => gaussFitBaseline(ck.subarray(0, total), 1, total, 1, new Rng(1)), ConfigError);
});

test('stack shape is checked', () => {
  assert.throws(() => ensembleAverage(ck, K + 1, total), ShapeError);
  assert.throws(() => noiseBaseline(ck, K, new ParamLayout(['a'], [[3]]), 0.1, 1, new Rng(1)), ShapeError);
});
