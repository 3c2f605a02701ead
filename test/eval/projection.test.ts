import { test } from 'node:test';
import assert from 'node:assert/strict';
import { pca2, topEigen, tsne2 } from '../../src/eval/projection.js';
import { Rng } from '../../src/tensor/random.js';

function unit(dim: number, rng: Rng): Float64Array {
  const v = rng.fillNormal(new Float64Array(dim)) as Float64Array;
  let s = 0;
  for (const x of v) s += x * x;
  const n = Math.sqrt(s);
  for (let i = 0; i < dim; i++) v[i]! /= n;
  return v;
}

/** Points offset + s_i u + t_i w with orthonormal u, w and centred, uncorrelated (s, t). */
function plane(n: number, dim: number, sigS: number, sigT: number, seed: number): { pts: Float32Array[]; s: number[]; t: number[] } {
  const rng = new Rng(seed);
  const u = unit(dim, rng);
  const w0 = unit(dim, rng);
  let d = 0;
  for (let i = 0; i < dim; i++) d += u[i]! * w0[i]!;
  const w = new Float64Array(dim);
  let nn = 0;
  for (let i = 0; i < dim; i++) {
    w[i] = w0[i]! - d * u[i]!;
    nn += w[i]! * w[i]!;
  }
  for (let i = 0; i < dim; i++) w[i]! /= Math.sqrt(nn);
  const offset = Float64Array.from({ length: dim }, () => 1 + rng.normal());
  const s: number[] = [];
  const t: number[] = [];
  for (let i = 0; i < n; i++) {
    s.push(sigS * rng.normal());
    t.push(sigT * rng.normal());
  }
  const ms = s.reduce((a, b) => a + b, 0) / n;
  const mt = t.reduce((a, b) => a + b, 0) / n;
  for (let i = 0; i < n; i++) {
    s[i]! -= ms;
    t[i]! -= mt;
  }
  // Make (s, t) exactly uncorrelated, so the principal axes are exactly u and w.
  const st = s.reduce((a, si, i) => a + si * t[i]!, 0) / s.reduce((a, si) => a + si * si, 0);
  for (let i = 0; i < n; i++) t[i]! -= st * s[i]!;
  const pts = s.map((si, i) => Float32Array.from({ length: dim }, (_, k) => offset[k]! + si * u[k]! + t[i]! * w[k]!));
  return { pts, s, t };
}

/** Max |a_i - sign * b_i| for the better sign. */
function maxDiffUpToSign(a: number[], b: number[]): number {
  let p = 0;
  let m = 0;
  for (let i = 0; i < a.length; i++) {
    p = Math.max(p, Math.abs(a[i]! - b[i]!));
    m = Math.max(m, Math.abs(a[i]! + b[i]!));
  }
  return Math.min(p, m);
}

for (const [label, n, dim] of [
  ['covariance path, Jacobi (N > D, D small)', 40, 5],
  ['covariance path, Lanczos (N > D > 64)', 150, 100],
  ['Gram path, Jacobi (N <= D, N small)', 30, 200],
  ['Gram path, Lanczos (N <= D, N > 64)', 100, 2000],
] as const) {
  test(`pca2 recovers points on a plane: ${label}`, () => {
    const { pts, s, t } = plane(n, dim, 3, 1, 11);
    const r = pca2(pts);
    assert.equal(r.coords.length, n);
    const x = r.coords.map((c) => c[0]);
    const y = r.coords.map((c) => c[1]);
    // Float32 storage of values around 1..4 limits agreement to ~1e-5.
    assert.ok(maxDiffUpToSign(x, s) < 2e-4, `PC1 off by ${maxDiffUpToSign(x, s)}`);
    assert.ok(maxDiffUpToSign(y, t) < 2e-4, `PC2 off by ${maxDiffUpToSign(y, t)}`);
    const vs = s.reduce((a, b) => a + b * b, 0);
    const vt = t.reduce((a, b) => a + b * b, 0);
    assert.ok(Math.abs(r.explained[0] - vs / (vs + vt)) < 1e-5);
    assert.ok(Math.abs(r.explained[1] - vt / (vs + vt)) < 1e-5);
  });
}

test('pca2 on a line: one component explains everything; output is deterministic with a fixed sign', () => {
  const n = 20;
  // positions i^2 along (1, 2, -1): the farthest point from the mean is the last one, so its coordinate is positive
  const pts = Array.from({ length: n }, (_, i) => Float32Array.from([i * i, 2 * i * i, -i * i]));
  const meanT = pts.reduce((a, _, i) => a + i * i, 0) / n;
  const r = pca2(pts);
  const scale = Math.sqrt(6);
  for (let i = 0; i < n; i++) {
    const want = (i * i - meanT) * scale;
    assert.ok(Math.abs(r.coords[i]![0] - want) < 1e-6 * Math.abs(meanT * scale), `point ${i}: ${r.coords[i]![0]} vs ${want}`);
    assert.ok(Math.abs(r.coords[i]![1]) < 1e-6, `point ${i} off the line by ${r.coords[i]![1]}`);
  }
  assert.ok(r.explained[0] > 1 - 1e-9 && r.explained[0] <= 1);
  assert.deepEqual(pca2(pts), r);
});

test('Lanczos and Jacobi agree on a full-rank matrix with a gapped spectrum', () => {
  // A = sum_i lambda_i v_i v_i^T with lambda = 10, 5, then values in [0, 1).
  const m = 150;
  const rng = new Rng(5);
  const a = new Float64Array(m * m);
  const lambdas = Array.from({ length: m }, (_, i) => (i === 0 ? 10 : i === 1 ? 5 : rng.uniform()));
  // random orthonormal basis by Gram-Schmidt
  const basis: Float64Array[] = [];
  for (let i = 0; i < m; i++) {
    const v = unit(m, rng);
    for (const b of basis) {
      let d = 0;
      for (let k = 0; k < m; k++) d += v[k]! * b[k]!;
      for (let k = 0; k < m; k++) v[k]! -= d * b[k]!;
    }
    let nn = 0;
    for (let k = 0; k < m; k++) nn += v[k]! * v[k]!;
    for (let k = 0; k < m; k++) v[k]! /= Math.sqrt(nn);
    basis.push(v);
    for (let r = 0; r < m; r++) for (let c = 0; c < m; c++) a[r * m + c]! += lambdas[i]! * v[r]! * v[c]!;
  }
  const j = topEigen(a, m, 2, 'jacobi');
  const l = topEigen(a, m, 2, 'lanczos');
  for (let k = 0; k < 2; k++) {
    assert.ok(Math.abs(j.values[k]! - lambdas[k]!) < 1e-9);
    assert.ok(Math.abs(l.values[k]! - lambdas[k]!) < 1e-9);
    let d = 0;
    for (let i = 0; i < m; i++) d += j.vectors[k]![i]! * l.vectors[k]![i]!;
    assert.ok(Math.abs(Math.abs(d) - 1) < 1e-9, `eigenvector ${k}: |cos| = ${Math.abs(d)}`);
  }
});

test('pca2 handles degenerate inputs', () => {
  assert.deepEqual(pca2([]), { coords: [], explained: [0, 0] });
  assert.deepEqual(pca2([new Float32Array([1, 2])]), { coords: [[0, 0]], explained: [0, 0] });
  const same = [new Float32Array([1, 2, 3]), new Float32Array([1, 2, 3])];
  assert.deepEqual(pca2(same), { coords: [[0, 0], [0, 0]], explained: [0, 0] });
  assert.throws(() => pca2([new Float32Array(2), new Float32Array(3)]), /point 1 has length 3, expected 2/);
});

test('tsne2 separates two clusters and is reproducible from the seed', () => {
  const rng = new Rng(3);
  const pts: Float32Array[] = [];
  for (let i = 0; i < 40; i++) {
    const c = i < 20 ? 0 : 10;
    pts.push(Float32Array.from({ length: 8 }, () => c + rng.normal()));
  }
  const a = tsne2(pts, { perplexity: 8, iterations: 300, rng: new Rng(1) });
  const b = tsne2(pts, { perplexity: 8, iterations: 300, rng: new Rng(1) });
  assert.deepEqual(a, b);
  assert.ok(Number.isFinite(a.kl) && a.kl >= 0);
  // every point's nearest neighbour in the embedding is in its own cluster
  for (let i = 0; i < 40; i++) {
    let best = Infinity;
    let arg = -1;
    for (let j = 0; j < 40; j++) {
      if (j === i) continue;
      const d = (a.coords[i]![0] - a.coords[j]![0]) ** 2 + (a.coords[i]![1] - a.coords[j]![1]) ** 2;
      if (d < best) {
        best = d;
        arg = j;
      }
    }
    assert.equal(arg < 20, i < 20, `point ${i} has its nearest neighbour ${arg} in the other cluster`);
  }
});
