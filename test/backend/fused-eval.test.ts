/**
 * The fused inference passes (Backend.fusedEval) against the separate kernels they stand for:
 * equal bit for bit, NaN and infinities included, on the float32 CPU backends.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Backend, Storage } from '../../src/backend/backend.js';
import type { BlasBackend } from '../../src/backend/blas.js';
import { blasBackend, jsBackend } from '../../src/backend/index.js';
import type { Pool2dGeom } from '../../src/backend/kernels.js';
import { Rng } from '../../src/tensor/random.js';

const blas = blasBackend();
const backends: Backend[] = [jsBackend(), ...(typeof blas === 'string' ? [] : [blas])];
const [N, C, H, W] = [8, 5, 6, 8];
const PLANE = H * W;

/** x [N, C, H, W] of normals times `scale`, with NaN, +-Infinity and huge values sprinkled in when `special`. */
function input(rng: Rng, scale: number, special: boolean): Float32Array {
  const x = rng.fillNormal(new Float32Array(N * C * PLANE), 0, scale) as Float32Array;
  if (special) {
    x[3] = NaN; x[PLANE + 7] = -Infinity; x[2 * PLANE + 1] = Infinity; x[3 * PLANE + 2] = Infinity; x[PLANE * C + 5] = 3e38; x[PLANE * C + 6] = -3e38;
  }
  return x;
}

/** BN parameters with both signs of gamma (channel 1 negative, channel 3 zero with a positive beta). */
interface Bn { gamma: Storage; beta: Storage; runMean: Storage; runVar: Storage }
const EPS = 1e-5;
function norm(be: Backend, rng: Rng): Bn {
  const gamma = rng.fillUniform(new Float32Array(C), 0.5, 2) as Float32Array;
  gamma[1] = -gamma[1]!;
  gamma[3] = 0;
  const beta = rng.fillNormal(new Float32Array(C), 0, 0.5) as Float32Array;
  beta[3] = 0.5; // channel 3 gives relu(0.5) from a finite input, 0 from an infinite one
  return {
    gamma: be.fromArray(gamma), beta: be.fromArray(beta),
    runMean: be.fromArray(rng.fillNormal(new Float32Array(C), 0, 0.3)), runVar: be.fromArray(rng.fillUniform(new Float32Array(C), 0.2, 3)),
  };
}

/** relu(bn(x)) by the separate kernels, x [n, C, s]. */
function bnRelu(be: Backend, x: Storage, nm: Bn, n: number, s: number): Storage {
  const t = be.alloc(n * C * s);
  be.batchNormEvalForward({ ...nm, x, y: t }, { n, c: C, s, eps: EPS });
  be.unary('relu', t, t, 0, 0);
  return t;
}

const pool: Pool2dGeom = { n: N, c: C, h: H, w: W, kh: 2, kw: 2, sh: 2, sw: 2, ph: 0, pw: 0, oh: H / 2, ow: W / 2 };
const pooled = N * C * pool.oh * pool.ow;

/** maxPool2dForward x -> y, its argmax released at once. */
function maxPool(be: Backend, x: Storage, y: Storage): void {
  const am = be.allocIndex(pooled);
  be.maxPool2dForward(x, y, am, pool);
  be.release(am);
}

function same(be: Backend, got: Storage, want: Storage, what: string): void {
  assert.deepEqual(be.read(got), be.read(want), `${what} on ${be.name}`);
}

test('fused BN + ReLU + pooling passes equal the separate kernels bit for bit', () => {
  for (const be of backends) {
    const fe = be.fusedEval;
    assert.ok(fe, `${be.name} has fused passes`);
    for (const special of [false, true]) {
      const rng = new Rng(special ? 2 : 1);
      const x = be.fromArray(input(rng, 3, special)), nm = norm(be, rng);
      const what = special ? 'with NaN / infinities' : 'finite';

      const ref = be.alloc(pooled);
      maxPool(be, bnRelu(be, x, nm, N, PLANE), ref);
      const y = be.alloc(pooled);
      fe.bnReluMaxPool2({ ...nm, x, y }, { ...pool, eps: EPS });
      same(be, y, ref, `bnReluMaxPool2 ${what}`);

      const sum = be.alloc(N * C);
      be.sumTo(bnRelu(be, x, nm, N, PLANE), [N, C, H, W], sum, [N, C, 1, 1]);
      be.unary('affine', sum, sum, 1 / PLANE, 0);
      const mean = be.alloc(N * C);
      fe.bnReluMean({ ...nm, x, y: mean }, { n: N, c: C, s: PLANE, eps: EPS });
      same(be, mean, sum, `bnReluMean ${what}`);

      const t = be.clone(x);
      be.unary('relu', t, t, 0, 0);
      const rows = be.alloc(N * C);
      be.sumTo(t, [N * C, PLANE], rows, [N * C, 1]);
      const rs = be.alloc(N * C);
      fe.reluRowSums(x, rs, N * C, PLANE);
      same(be, rs, rows, `reluRowSums ${what}`);

      const mp = be.alloc(pooled), mpRef = be.alloc(pooled);
      maxPool(be, x, mpRef);
      fe.maxPool2d(x, mp, pool);
      same(be, mp, mpRef, `maxPool2d ${what}`);

      // bnReluSelect reads x where the scale is >= 0 (gamma 0 included) and xNeg elsewhere.
      const xNeg = be.fromArray(input(rng, 3, false)); // finite: channel 3 (scale 0) reads Infinity only from x
      const sel = be.alloc(N * C * PLANE);
      fe.bnReluSelect({ ...nm, x, xNeg, y: sel }, { n: N, c: C, s: PLANE, eps: EPS });
      const fromMax = be.read(bnRelu(be, x, nm, N, PLANE)), fromMin = be.read(bnRelu(be, xNeg, nm, N, PLANE));
      const want = fromMax.slice();
      for (let n = 0; n < N; n++) want.set(fromMin.subarray((n * C + 1) * PLANE, (n * C + 2) * PLANE), (n * C + 1) * PLANE);
      assert.deepEqual(be.read(sel), want, `bnReluSelect ${what} on ${be.name}`);
    }
  }
});

test('bnReluSelect on max- and min-pooled inputs is the max pool of relu(bn(x))', () => {
  for (const be of backends) {
    const rng = new Rng(3);
    const x = be.fromArray(input(rng, 100, false)), nm = norm(be, rng);
    const pmax = be.alloc(pooled), pmin = be.alloc(pooled), neg = be.clone(x);
    maxPool(be, x, pmax);
    be.unary('neg', neg, neg, 0, 0);
    maxPool(be, neg, pmin);
    be.unary('neg', pmin, pmin, 0, 0);
    const y = be.alloc(pooled), ref = be.alloc(pooled);
    be.fusedEval!.bnReluSelect({ ...nm, x: pmax, xNeg: pmin, y }, { n: N, c: C, s: pool.oh * pool.ow, eps: EPS });
    maxPool(be, bnRelu(be, x, nm, N, PLANE), ref);
    same(be, y, ref, 'pooled BN');
  }
});

test('bnReluMaxPool2 rejects a pool that is not 2x2 with stride 2', () => {
  const be = jsBackend(), rng = new Rng(4);
  const x = be.fromArray(input(rng, 1, false));
  assert.throws(() => be.fusedEval!.bnReluMaxPool2({ ...norm(be, rng), x, y: be.alloc(N * C * PLANE) }, { ...pool, sh: 1, sw: 1, oh: H - 1, ow: W - 1, eps: EPS }), /2x2 stride-2/);
});

test('host access: CPU backends view and wrap host arrays of their own float type', () => {
  const js = jsBackend(), js64 = jsBackend('float64');
  const s = js.fromArray([1, 2, 3]);
  assert.equal(js.hostView(s), s);
  const a = new Float32Array([4, 5]);
  assert.equal(js.wrapHost(a), a);
  assert.equal(js64.wrapHost(a), null);
  assert.ok(js64.hostView(js64.alloc(2)) instanceof Float64Array);
  // The fused passes round like float32 kernels: the float64 backend has none.
  assert.equal(js64.fusedEval, null);
});

test('convBnReluMean (blas) equals conv2dForward then bnReluMean bit for bit (geometries, chunks, thread counts)', { skip: typeof blas === 'string' ? blas : false }, () => {
  const be = blas as Backend;
  const fe = be.fusedEval!;
  assert.ok(fe.convBnReluMean, 'blas has convBnReluMean');
  const native = (be as BlasBackend).kernels;
  const threads0 = native.kernelThreads();
  // [n, c, h, w, o, k, pad]: cnn-s's conv3 (7x7, 32 -> 64; enough images for several chunks on two
  // threads), an odd channel count (a 4-row group plus a remainder), 1x1, a wider plane, one image.
  const geoms = [[40, 32, 7, 7, 64, 3, 1], [9, 5, 6, 8, 7, 3, 1], [6, 4, 5, 5, 6, 1, 0], [3, 2, 20, 18, 5, 3, 0], [1, 3, 7, 7, 4, 3, 1]] as const;
  try {
    for (const threads of [1, 2]) {
      native.setKernelThreads(threads);
      for (const [n, c, h, w, o, k, p] of geoms) {
        const rng = new Rng(n * 31 + o);
        const oh = h + 2 * p - k + 1, ow = w + 2 * p - k + 1;
        const g = { n, c, h, w, o, kh: k, kw: k, sh: 1, sw: 1, ph: p, pw: p, oh, ow };
        const x = be.fromArray(rng.fillNormal(new Float32Array(n * c * h * w), 0, 1));
        const wt = be.fromArray(rng.fillNormal(new Float32Array(o * c * k * k), 0, 0.3));
        const gamma = rng.fillUniform(new Float32Array(o), 0.5, 2) as Float32Array;
        gamma[0] = -gamma[0]!;
        const bn = {
          gamma: be.fromArray(gamma), beta: be.fromArray(rng.fillNormal(new Float32Array(o), 0, 0.5)),
          runMean: be.fromArray(rng.fillNormal(new Float32Array(o), 0, 0.3)), runVar: be.fromArray(rng.fillUniform(new Float32Array(o), 0.2, 3)),
        };
        const conv = be.alloc(n * o * oh * ow), want = be.alloc(n * o), got = be.alloc(n * o);
        be.conv2dForward(x, wt, null, conv, g);
        fe.bnReluMean({ ...bn, x: conv, y: want }, { n, c: o, s: oh * ow, eps: EPS });
        assert.equal(fe.convBnReluMean(x, wt, { ...bn, y: got }, g, EPS), true);
        same(be, got, want, `convBnReluMean ${JSON.stringify(g)} threads ${threads}`);
      }
    }
  } finally {
    native.setKernelThreads(threads0);
  }
});
