/**
 * GEMM: jsGemm (pure TS, float32 and float64) and the OpenBLAS addon against a naive float64
 * triple loop, over every transpose case, odd sizes (crossing the 4x4 micro-tile and the
 * KC = 256 / MC = 128 blocks), offsets, padded leading dimensions, alpha/beta, and beta = 0
 * over NaN. Elements of the arrays outside the matrices must come back untouched.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRequire } from 'node:module';
import { jsGemm, checkGemmArgs } from '../../src/backend/gemm.js';
import { loadBlas, packageRoot } from '../../src/backend/native.js';
import type { FloatArray, Gemm } from '../../src/backend/kernels.js';
import { Rng } from '../../src/tensor/random.js';
import { ShapeError } from '../../src/util/errors.js';

type Ctor = Float32ArrayConstructor | Float64ArrayConstructor;

interface Case {
  ta: boolean; tb: boolean; m: number; n: number; k: number;
  alpha: number; beta: number;
  aOff: number; lda: number; bOff: number; ldb: number; cOff: number; ldc: number;
  /** Fill C's matrix with NaN (only meaningful with beta = 0). */
  nanC: boolean;
}

/** Naive reference in float64: returns the whole expected C array and per-element error bounds. */
function reference(cs: Case, a: FloatArray, b: FloatArray, c: FloatArray): { want: Float64Array; bound: Float64Array } {
  const want = Float64Array.from(c);
  const bound = new Float64Array(c.length);
  const { ta, tb, m, n, k, alpha, beta, aOff, lda, bOff, ldb, cOff, ldc } = cs;
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let s = 0, sAbs = 0;
      if (alpha !== 0) {
        for (let p = 0; p < k; p++) {
          const av = ta ? a[aOff + p * lda + i]! : a[aOff + i * lda + p]!;
          const bv = tb ? b[bOff + j * ldb + p]! : b[bOff + p * ldb + j]!;
          s += av * bv;
          sAbs += Math.abs(av * bv);
        }
      }
      const ci = cOff + i * ldc + j;
      const old = c[ci]!;
      want[ci] = beta === 0 ? alpha * s : alpha * s + beta * old;
      bound[ci] = Math.abs(alpha) * sAbs + (beta === 0 ? 0 : Math.abs(beta * old));
    }
  }
  return { want, bound };
}

/** Random operands for a case: matrices in [-1, 1], padding filled with a sentinel. */
function operands(cs: Case, F: Ctor, rng: Rng): { a: FloatArray; b: FloatArray; c: FloatArray } {
  const { ta, tb, m, n, k, aOff, lda, bOff, ldb, cOff, ldc } = cs;
  const rowsA = ta ? k : m, rowsB = tb ? n : k;
  const a = new F(aOff + rowsA * lda + 3), b = new F(bOff + rowsB * ldb + 3), c = new F(cOff + m * ldc + 3);
  rng.fillUniform(a, -1, 1);
  rng.fillUniform(b, -1, 1);
  c.fill(7.25); // sentinel outside C's matrix: must survive
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) c[cOff + i * ldc + j] = cs.nanC ? NaN : rng.uniform() * 2 - 1;
  }
  return { a, b, c };
}

/**
 * Runs `gemm` on a case and compares every element of C's array with the reference, within the
 * standard bound |error| <= gamma * (|alpha| sum |a b| + |beta c|), gamma ~ (k + 3) u.
 */
function check(gemm: Gemm, cs: Case, F: Ctor, rng: Rng, label: string): void {
  const { a, b, c } = operands(cs, F, rng);
  const { want, bound } = reference(cs, a, b, c);
  gemm(cs.ta, cs.tb, cs.m, cs.n, cs.k, cs.alpha, a, cs.aOff, cs.lda, b, cs.bOff, cs.ldb, cs.beta, c, cs.cOff, cs.ldc);
  const u = F === Float32Array ? 2 ** -24 : 2 ** -53;
  const gamma = 2 * (cs.k + 3) * u;
  for (let i = 0; i < c.length; i++) {
    const got = c[i]!, w = want[i]!;
    // Float32 storage rounds the reference too: allow half an ulp of the result on top.
    const tol = gamma * bound[i]! + u * Math.abs(w);
    if (!(Math.abs(got - w) <= tol)) {
      assert.fail(
        `${label} ${JSON.stringify(cs)}: C[${i}] = ${got}, expected ${w} (tolerance ${tol.toExponential(2)})`,
      );
    }
  }
}

function randomCase(rng: Rng, ta: boolean, tb: boolean, m: number, n: number, k: number): Case {
  const alphas = [1, -0.5, 2.5, 0];
  const betas = [0, 1, -0.75];
  const alpha = alphas[rng.int(alphas.length)]!;
  const beta = betas[rng.int(betas.length)]!;
  const widthA = ta ? m : k, widthB = tb ? k : n;
  return {
    ta, tb, m, n, k, alpha, beta,
    aOff: rng.int(6), lda: Math.max(1, widthA) + rng.int(4),
    bOff: rng.int(6), ldb: Math.max(1, widthB) + rng.int(4),
    cOff: rng.int(6), ldc: Math.max(1, n) + rng.int(4),
    nanC: beta === 0 && rng.int(2) === 0,
  };
}

/** Shapes that cross every code path: vectors (small path), tiles, fringes, KC/MC/NC blocks. */
const SHAPES: Array<[number, number, number]> = [
  [1, 1, 1], [1, 37, 5], [37, 1, 5], [1, 1, 70], [2, 2, 2], [3, 5, 7], [4, 4, 4], [5, 4, 3],
  [7, 9, 1], [13, 11, 17], [33, 31, 29], [64, 64, 64], [130, 7, 19], [9, 6, 300], [131, 13, 257],
  [5, 1030, 3], [6, 2, 9],
];

function runAll(gemm: Gemm, F: Ctor, seed: number, label: string): void {
  const rng = new Rng(seed);
  for (const [m, n, k] of SHAPES) {
    for (const ta of [false, true]) {
      for (const tb of [false, true]) check(gemm, randomCase(rng, ta, tb, m, n, k), F, rng, label);
    }
  }
  // Random odd sizes.
  for (let t = 0; t < 24; t++) {
    const m = 1 + rng.int(45), n = 1 + rng.int(45), k = 1 + rng.int(45);
    check(gemm, randomCase(rng, rng.int(2) === 1, rng.int(2) === 1, m, n, k), F, rng, label);
  }
}

test('jsGemm matches a float64 triple loop on Float32Array (all transposes, odd sizes, offsets, padded ld, alpha/beta)', () => {
  runAll(jsGemm, Float32Array, 1, 'jsGemm f32');
});

test('jsGemm matches a float64 triple loop on Float64Array to double precision', () => {
  runAll(jsGemm, Float64Array, 2, 'jsGemm f64');
});

test('jsGemm accepts mixed Float32Array/Float64Array operands', () => {
  const a = new Float32Array([1, 2, 3, 4, 5, 6]); // [2 x 3]
  const b = new Float64Array([1, 0, 0, 1, 1, 1]); // [3 x 2]
  const c = new Float64Array(4);
  jsGemm(false, false, 2, 2, 3, 1, a, 0, 3, b, 0, 2, 0, c, 0, 2);
  assert.deepEqual(Array.from(c), [4, 5, 10, 11]);
});

test('jsGemm with beta = 0 overwrites NaN and Inf in C', () => {
  const c = new Float32Array([NaN, Infinity, -Infinity, NaN]);
  jsGemm(false, false, 2, 2, 2, 1, new Float32Array([1, 2, 3, 4]), 0, 2, new Float32Array([5, 6, 7, 8]), 0, 2, 0, c, 0, 2);
  assert.deepEqual(Array.from(c), [19, 22, 43, 50]);
});

test('jsGemm with k = 0 or alpha = 0 scales C by beta and reads neither A nor B', () => {
  const nanA = new Float32Array([NaN, NaN, NaN, NaN]);
  let c = new Float32Array([1, 2, 3, 4]);
  jsGemm(false, false, 2, 2, 2, 0, nanA, 0, 2, nanA, 0, 2, 2, c, 0, 2);
  assert.deepEqual(Array.from(c), [2, 4, 6, 8]);
  c = new Float32Array([NaN, 2, 3, 4]);
  jsGemm(false, false, 2, 2, 0, 1, new Float32Array(0), 0, 1, new Float32Array(0), 0, 2, 0, c, 0, 2);
  assert.deepEqual(Array.from(c), [0, 0, 0, 0]);
  c = new Float32Array([1, 2, 3, 4]);
  jsGemm(true, true, 2, 2, 0, 1, new Float32Array(0), 0, 2, new Float32Array(0), 0, 1, 1, c, 0, 2);
  assert.deepEqual(Array.from(c), [1, 2, 3, 4]);
});

test('jsGemm with m = 0 or n = 0 writes nothing', () => {
  const c = new Float32Array([NaN, 5]);
  jsGemm(false, false, 0, 2, 3, 1, new Float32Array(0), 0, 3, new Float32Array(6), 0, 2, 0, c, 0, 2);
  jsGemm(false, false, 2, 0, 3, 1, new Float32Array(6), 0, 3, new Float32Array(0), 0, 1, 0, c, 0, 1);
  assert.ok(Number.isNaN(c[0]!));
  assert.equal(c[1], 5);
});

test('jsGemm keeps giving right answers as its packing buffers grow and are reused', () => {
  const rng = new Rng(3);
  for (const [m, n, k] of [[4, 4, 4], [140, 60, 270], [4, 4, 4], [20, 1100, 5], [8, 8, 8]] as const) {
    check(jsGemm, randomCase(rng, false, false, m, n, k), Float32Array, rng, 'reuse');
  }
});

test('jsGemm throws ShapeError for bad sizes, short arrays and small leading dimensions', () => {
  const a = new Float32Array(6), b = new Float32Array(6), c = new Float32Array(4);
  assert.throws(() => jsGemm(false, false, 2, 2, 3, 1, a, 0, 2, b, 0, 2, 0, c, 0, 2), (e: unknown) =>
    e instanceof ShapeError && /lda = 2 is smaller than the row length of A/.test(e.message));
  assert.throws(() => jsGemm(false, false, 2, 2, 3, 1, a, 1, 3, b, 0, 2, 0, c, 0, 2), (e: unknown) =>
    e instanceof ShapeError && /A stored as \[m x k\] = \[2 x 3\] at offset 1 with lda = 3 needs 7 elements, but its array has 6/.test(e.message));
  assert.throws(() => jsGemm(false, true, 2, 2, 3, 1, a, 0, 3, b, 0, 3, 0, c, 1, 2), (e: unknown) =>
    e instanceof ShapeError && /C stored as \[m x n\]/.test(e.message));
  assert.throws(() => jsGemm(false, false, -1, 2, 3, 1, a, 0, 3, b, 0, 2, 0, c, 0, 2), ShapeError);
  assert.throws(() => jsGemm(false, false, 1.5, 2, 3, 1, a, 0, 3, b, 0, 2, 0, c, 0, 2), ShapeError);
  assert.throws(() => jsGemm(true, false, 2, 2, 3, 1, a, 0, 1, b, 0, 2, 0, c, 0, 2), /lda = 1 is smaller than the row length of A stored as \[k x m\]/);
  // Transposed B of [n x k] = [2 x 3] with ldb 3 fits in 6 elements.
  assert.doesNotThrow(() => checkGemmArgs('t', false, true, 2, 2, 3, 6, 0, 3, 6, 0, 3, 4, 0, 2));
});

// ---------------------------------------------------------------- OpenBLAS addon

const blas = loadBlas();
const skip = blas.ok ? false : `OpenBLAS addon unavailable: ${blas.reason}`;

interface Addon {
  sgemm(...args: unknown[]): void;
  numThreads(): number;
  setNumThreads(n: unknown): void;
  config(): string;
}
const addon: Addon | undefined = blas.ok ? (createRequire(import.meta.url)(blas.path) as Addon) : undefined;

test('OpenBLAS gemm matches a float64 triple loop (all transposes, odd sizes, offsets, padded ld, alpha/beta)', { skip }, () => {
  assert.ok(blas.ok);
  runAll(blas.gemm, Float32Array, 4, 'blas');
});

test('OpenBLAS gemm with beta = 0 overwrites NaN in C, and alpha = 0 does not read A or B', { skip }, () => {
  assert.ok(blas.ok);
  let c = new Float32Array(9).fill(NaN);
  blas.gemm(true, true, 3, 3, 3, 1, new Float32Array(9).fill(1), 0, 3, new Float32Array(9).fill(2), 0, 3, 0, c, 0, 3);
  assert.deepEqual(Array.from(c), new Array(9).fill(6));
  c = new Float32Array([1, 2, 3, 4]);
  const nan = new Float32Array(4).fill(NaN);
  blas.gemm(false, false, 2, 2, 2, 0, nan, 0, 2, nan, 0, 2, 2, c, 0, 2);
  assert.deepEqual(Array.from(c), [2, 4, 6, 8]);
  c = new Float32Array([NaN, 2, 3, 4]);
  blas.gemm(false, false, 2, 2, 0, 1, new Float32Array(0), 0, 1, new Float32Array(0), 0, 2, 0, c, 0, 2);
  assert.deepEqual(Array.from(c), [0, 0, 0, 0]);
});

test('OpenBLAS gemm and jsGemm agree on a 96x80x200 product', { skip }, () => {
  assert.ok(blas.ok);
  const rng = new Rng(5);
  const a = rng.fillUniform(new Float32Array(96 * 200), -1, 1);
  const b = rng.fillUniform(new Float32Array(200 * 80), -1, 1);
  const c1 = new Float32Array(96 * 80), c2 = new Float32Array(96 * 80);
  blas.gemm(false, false, 96, 80, 200, 1, a, 0, 200, b, 0, 80, 0, c1, 0, 80);
  jsGemm(false, false, 96, 80, 200, 1, a, 0, 200, b, 0, 80, 0, c2, 0, 80);
  for (let i = 0; i < c1.length; i++) assert.ok(Math.abs(c1[i]! - c2[i]!) < 1e-4, `element ${i}: ${c1[i]} vs ${c2[i]}`);
});

test('the OpenBLAS gemm wrapper rejects Float64Array with a TypeError and bad extents with ShapeError', { skip }, () => {
  assert.ok(blas.ok);
  const f32 = new Float32Array(4), f64 = new Float64Array(4);
  assert.throws(() => blas.gemm(false, false, 2, 2, 2, 1, f64, 0, 2, f32, 0, 2, 0, f32, 0, 2), (e: unknown) =>
    e instanceof TypeError && /a must be a Float32Array .*got Float64Array/.test(e.message));
  assert.throws(() => blas.gemm(false, false, 2, 2, 2, 1, f32, 0, 2, f32, 0, 2, 0, f64, 0, 2), (e: unknown) =>
    e instanceof TypeError && /c must be a Float32Array/.test(e.message));
  assert.throws(() => blas.gemm(false, false, 2, 2, 2, 1, f32, 1, 2, f32, 0, 2, 0, f32, 0, 2), ShapeError);
});

test('the addon validates its arguments with TypeError / RangeError instead of crashing', { skip }, () => {
  assert.ok(addon);
  const f = (n: number) => new Float32Array(n);
  const ok: unknown[] = [false, false, 2, 2, 2, 1, f(4), 0, 2, f(4), 0, 2, 0, f(4), 0, 2];
  const withArg = (i: number, v: unknown): unknown[] => ok.map((x, j) => (j === i ? v : x));
  assert.doesNotThrow(() => addon.sgemm(...ok));
  const cases: Array<[unknown[], ErrorConstructor, RegExp]> = [
    [ok.slice(0, 4), TypeError, /expected 16 arguments/],
    [withArg(0, 0), TypeError, /transA must be a boolean, got number/],
    [withArg(1, 'yes'), TypeError, /transB must be a boolean, got string/],
    [withArg(2, '2'), TypeError, /m must be a number, got string/],
    [withArg(2, -1), RangeError, /m must be an integer in \[0, \d+\], got -1/],
    [withArg(3, 2.5), RangeError, /n must be an integer/],
    [withArg(4, NaN), RangeError, /k must be an integer/],
    [withArg(2, 2 ** 40), RangeError, /m must be an integer/],
    [withArg(5, null), TypeError, /alpha must be a number, got null/],
    [withArg(6, new Float64Array(4)), TypeError, /a must be a Float32Array, got Float64Array/],
    [withArg(9, [1, 2, 3, 4]), TypeError, /b must be a Float32Array, got object/],
    [withArg(13, new Int32Array(4)), TypeError, /c must be a Float32Array, got Int32Array/],
    [withArg(8, 1), RangeError, /lda = 1 is smaller than the row length of A/],
    [withArg(8, 0), RangeError, /lda must be an integer in \[1,/],
    [withArg(7, 1), RangeError, /A stored as \[m x k\] = \[2 x 2\] at offset 1 with leading dimension 2 needs 5 elements, but the Float32Array has 4/],
    [withArg(10, 9), RangeError, /B stored as/],
    [withArg(15, 3), RangeError, /C stored as \[m x n\] = \[2 x 2\] at offset 0 with leading dimension 3 needs 5 elements/],
    [withArg(13, f(3)), RangeError, /C stored as .* but the Float32Array has 3/],
  ];
  for (const [args, E, re] of cases) {
    assert.throws(() => addon.sgemm(...args), (e: unknown) => e instanceof E && re.test((e as Error).message),
      `args ${String(args.slice(0, 6))}... should throw ${E.name} ${re}`);
  }
  // A transposed A of [k x m] = [3 x 2] needs lda >= 2 and 6 elements.
  assert.doesNotThrow(() => addon.sgemm(true, false, 2, 2, 3, 1, f(6), 0, 2, f(6), 0, 2, 0, f(4), 0, 2));
  assert.throws(() => addon.sgemm(true, false, 2, 2, 3, 1, f(5), 0, 2, f(6), 0, 2, 0, f(4), 0, 2), RangeError);
});

test('the addon reports and sets OpenBLAS threads and its configuration', { skip }, () => {
  assert.ok(blas.ok && addon);
  assert.match(blas.config, /OpenBLAS/);
  const before = blas.numThreads();
  assert.ok(Number.isInteger(before) && before >= 1);
  try {
    blas.setNumThreads(1);
    assert.equal(blas.numThreads(), 1);
  } finally {
    blas.setNumThreads(before);
  }
  assert.throws(() => addon.setNumThreads(0), RangeError);
  assert.throws(() => addon.setNumThreads('2'), TypeError);
});

test('loadBlas never throws: a missing or broken addon gives ok: false with the reason', () => {
  const dir = mkdtempSync(join(tmpdir(), 'pdiff-blas-'));
  try {
    const missing = loadBlas(join(dir, 'nope.node'));
    assert.equal(missing.ok, false);
    assert.ok(!missing.ok && missing.reason.includes('nope.node') && /does not exist/.test(missing.reason));
    const junk = join(dir, 'junk.node');
    writeFileSync(junk, 'this is not a shared object');
    const broken = loadBlas(junk);
    assert.ok(!broken.ok && /failed to load/.test(broken.reason), broken.ok ? 'loaded junk' : broken.reason);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('packageRoot finds the folder holding pdiff package.json', () => {
  assert.ok(existsSync(join(packageRoot(), 'package.json')));
  assert.ok(existsSync(join(packageRoot(), 'native', 'binding.gyp')));
});
