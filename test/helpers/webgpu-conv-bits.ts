/**
 * Prints one SHA-256 over the outputs of the webgpu conv kernels (forward, backward data,
 * backward weight) on several geometries, and of a few matmuls: run by webgpu-variants.test.ts
 * once per kernel variant (PDIFF_WEBGPU_CONV_SPECIALIZE, PDIFF_WEBGPU_CONV_MERGE,
 * PDIFF_WEBGPU_GEMM_TILE), which must all print the same hash. Prints "unavailable: <reason>" when there is no adapter.
 */
import { createHash } from 'node:crypto';
import type { Conv2dGeom } from '../../src/backend/kernels.js';
import { loadWebgpu } from '../../src/backend/webgpu.js';
import { Rng } from '../../src/tensor/random.js';

const loaded = loadWebgpu();
if (!loaded.ok) {
  console.log(`unavailable: ${loaded.reason}`);
  process.exit(0);
}
const be = loaded.backend;
const rng = new Rng(3);
const h = createHash('sha256');
const rand = (n: number) => be.fromArray(rng.fillNormal(new Float32Array(n)) as Float32Array);
const take = (s: ReturnType<typeof be.alloc>): void => { h.update(new Uint8Array(be.read(s).buffer)); };

const geoms: Array<Omit<Conv2dGeom, 'oh' | 'ow'>> = [
  { n: 20, c: 8, h: 11, w: 11, o: 12, kh: 3, kw: 3, sh: 1, sw: 1, ph: 1, pw: 1 }, // same padding
  { n: 7, c: 3, h: 13, w: 10, o: 40, kh: 3, kw: 2, sh: 2, sw: 3, ph: 1, pw: 0 }, // strides, odd sizes
  { n: 9, c: 16, h: 1, w: 64, o: 33, kh: 1, kw: 7, sh: 1, sw: 1, ph: 0, pw: 3 }, // 1-D, as the autoencoder
  { n: 1, c: 4, h: 300, w: 100, o: 16, kh: 3, kw: 3, sh: 1, sw: 1, ph: 0, pw: 0 }, // one sample, split-K weight gradient
];
for (const g0 of geoms) {
  const g: Conv2dGeom = { ...g0, oh: Math.floor((g0.h + 2 * g0.ph - g0.kh) / g0.sh) + 1, ow: Math.floor((g0.w + 2 * g0.pw - g0.kw) / g0.sw) + 1 };
  const x = rand(g.n * g.c * g.h * g.w), w = rand(g.o * g.c * g.kh * g.kw), b = rand(g.o), gy = rand(g.n * g.o * g.oh * g.ow);
  const y = be.alloc(g.n * g.o * g.oh * g.ow), yb = be.alloc(g.n * g.o * g.oh * g.ow);
  const gx = be.alloc(g.n * g.c * g.h * g.w), gw = be.alloc(g.o * g.c * g.kh * g.kw);
  be.conv2dForward(x, w, null, y, g);
  be.conv2dForward(x, w, b, yb, g);
  be.conv2dBackwardData(gy, w, gx, g);
  be.conv2dBackwardWeight(gy, x, gw, g);
  for (const s of [y, yb, gx, gw]) take(s);
}
for (const [m, k, n] of [[70, 300, 90], [5, 3000, 7], [260, 50, 140], [130, 2100, 70]] as const) {
  const a = rand(m * k), b = rand(k * n), c = be.alloc(m * n);
  be.matmul({ a, b, c, batch: 1, m, n, k });
  take(c);
}
console.log(h.digest('hex'));
process.exit(0);
