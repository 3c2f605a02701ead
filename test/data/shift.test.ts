import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SHIFT_KINDS, SHIFT_SEVERITY, corrupt, corruptDataset } from '../../src/data/shift.js';
import type { Dataset } from '../../src/data/dataset.js';
import { Rng } from '../../src/tensor/random.js';
import { ConfigError } from '../../src/util/errors.js';
import { assertClose } from '../helpers/assert.js';

const NORM = { mean: [0.286], std: [0.353] };
const toNorm = (p: number): number => (p - 0.286) / 0.353;
const toPix = (x: number): number => x * 0.353 + 0.286;

/** n images h x w (one channel) in normalised units from pixel values f(b, y, x). */
function images(n: number, h: number, w: number, f: (b: number, y: number, x: number) => number): Float32Array {
  const a = new Float32Array(n * h * w);
  for (let b = 0; b < n; b++) for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) a[(b * h + y) * w + x] = toNorm(f(b, y, x));
  return a;
}

/** Centroid (x, y) of the pixel-space mass of image b. */
function centroid(a: Float32Array, b: number, h: number, w: number): [number, number] {
  let m = 0, mx = 0, my = 0;
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const v = toPix(a[(b * h + y) * w + x]!);
      m += v;
      mx += v * x;
      my += v * y;
    }
  }
  return [mx / m, my / m];
}

test('every kind and severity is deterministic, stays in [0, 1], and leaves the input alone', () => {
  assert.deepEqual([...SHIFT_KINDS], ['gaussian_noise', 'gaussian_blur', 'contrast', 'brightness', 'rotation', 'translation']);
  const shape = { n: 3, c: 1, h: 12, w: 12 };
  const x = images(3, 12, 12, (b, y, x) => ((b * 31 + y * 7 + x * 3) % 17) / 16);
  const before = x.slice();
  for (const kind of SHIFT_KINDS) {
    assert.equal(SHIFT_SEVERITY[kind].length, 5);
    for (let s = 1; s <= 5; s++) {
      const a = corrupt(x, shape, kind, s, new Rng(s), NORM);
      const b = corrupt(x, shape, kind, s, new Rng(s), NORM);
      assert.deepEqual(a, b, `${kind}-${s}`);
      assert.notDeepEqual(a, x, `${kind}-${s} changes the images`);
      for (const v of a) assert.ok(toPix(v) >= -1e-6 && toPix(v) <= 1 + 1e-6, `${kind}-${s}: pixel ${toPix(v)}`);
    }
  }
  assert.deepEqual(x, before);
});

test('brightness adds 0.1..0.5 in pixel space and clips at 1', () => {
  const x = images(1, 1, 3, (_, __, i) => [0.2, 0.55, 0.95][i]!);
  const out = corrupt(x, { n: 1, c: 1, h: 1, w: 3 }, 'brightness', 1, new Rng(0), NORM);
  assertClose(toPix(out[0]!), 0.3, { atol: 1e-6 }, 'p0');
  assertClose(toPix(out[1]!), 0.65, { atol: 1e-6 }, 'p1');
  assertClose(toPix(out[2]!), 1, { atol: 1e-6 }, 'p2 clipped');
  const out5 = corrupt(x, { n: 1, c: 1, h: 1, w: 3 }, 'brightness', 5, new Rng(0), NORM);
  assertClose(toPix(out5[0]!), 0.7, { atol: 1e-6 }, 'severity 5');
});

test('contrast scales deviations from the image mean by 0.7 .. 0.2', () => {
  const x = images(1, 1, 4, (_, __, i) => [0.2, 0.4, 0.6, 0.8][i]!);
  for (const [s, f] of [[1, 0.7], [5, 0.2]] as const) {
    const out = corrupt(x, { n: 1, c: 1, h: 1, w: 4 }, 'contrast', s, new Rng(0), NORM);
    [0.2, 0.4, 0.6, 0.8].forEach((p, i) => assertClose(toPix(out[i]!), 0.5 + (p - 0.5) * f, { atol: 1e-6 }, `s${s} p${i}`));
  }
});

test('gaussian noise has the tabled sigma', () => {
  const n = 20, h = 16, w = 16;
  const x = images(n, h, w, () => 0.5);
  const out = corrupt(x, { n, c: 1, h, w }, 'gaussian_noise', 2, new Rng(9), NORM);
  let sum = 0, sq = 0;
  for (const v of out) {
    const d = toPix(v) - 0.5;
    sum += d;
    sq += d * d;
  }
  const m = sum / out.length;
  assertClose(Math.sqrt(sq / out.length - m * m), 0.08, { atol: 0.004 }, 'noise std');
  assertClose(m, 0, { atol: 0.005 }, 'noise mean');
  assert.notDeepEqual(out, corrupt(x, { n, c: 1, h, w }, 'gaussian_noise', 2, new Rng(10), NORM));
});

test('gaussian blur keeps flat images flat and spreads a point by the normalised kernel', () => {
  const flat = images(1, 9, 9, () => 0.4);
  const outFlat = corrupt(flat, { n: 1, c: 1, h: 9, w: 9 }, 'gaussian_blur', 3, new Rng(0), NORM);
  for (const v of outFlat) assertClose(toPix(v), 0.4, { atol: 1e-6 }, 'flat');
  // A single bright pixel in the middle of a 15x15 black image, sigma 0.5 (radius 2).
  const dot = images(1, 15, 15, (_, y, x) => (y === 7 && x === 7 ? 1 : 0));
  const out = corrupt(dot, { n: 1, c: 1, h: 15, w: 15 }, 'gaussian_blur', 1, new Rng(0), NORM);
  const k = [-2, -1, 0, 1, 2].map((i) => Math.exp(-(i * i) / (2 * 0.25)));
  const ks = k.reduce((a, b) => a + b, 0);
  assertClose(toPix(out[7 * 15 + 7]!), (k[2]! / ks) ** 2, { atol: 1e-6 }, 'centre');
  assertClose(toPix(out[7 * 15 + 8]!), (k[2]! / ks) * (k[3]! / ks), { atol: 1e-6 }, 'right neighbour');
  let total = 0;
  for (const v of out) total += toPix(v);
  assertClose(total, 1, { atol: 1e-5 }, 'mass is preserved away from the edges');
});

test('translation moves a blob by the tabled distance; rotation turns it by the tabled angle', () => {
  const n = 8, h = 21, w = 21;
  // A small Gaussian blob at (14, 10): 4 px right of the centre (10, 10).
  const blob = images(n, h, w, (_, y, x) => Math.exp(-((x - 14) ** 2 + (y - 10) ** 2) / 2));
  const shape = { n, c: 1, h, w };
  const moved = corrupt(blob, shape, 'translation', 3, new Rng(4), NORM);
  const angles = new Set<number>();
  for (let b = 0; b < n; b++) {
    const [cx, cy] = centroid(moved, b, h, w);
    assertClose(Math.hypot(cx - 14, cy - 10), 3, { atol: 0.05 }, `image ${b} shift`);
    angles.add(Math.round(Math.atan2(cy - 10, cx - 14) * 10));
  }
  assert.ok(angles.size > 4, 'directions differ between images');

  const turned = corrupt(blob, shape, 'rotation', 5, new Rng(4), NORM);
  const signs = new Set<number>();
  for (let b = 0; b < n; b++) {
    const [cx, cy] = centroid(turned, b, h, w);
    assertClose(Math.hypot(cx - 10, cy - 10), 4, { atol: 0.05 }, `image ${b} radius`);
    const deg = (Math.atan2(cy - 10, cx - 10) * 180) / Math.PI;
    assertClose(Math.abs(deg), 25, { atol: 0.5 }, `image ${b} angle`);
    signs.add(Math.sign(deg));
  }
  assert.equal(signs.size, 2, 'both rotation directions occur');
});

test('multi-channel images use per-channel statistics', () => {
  const norm = { mean: [0.5, 0.4, 0.3], std: [0.2, 0.25, 0.3] };
  const x = new Float32Array(3 * 4);
  for (let c = 0; c < 3; c++) for (let i = 0; i < 4; i++) x[c * 4 + i] = (0.5 - norm.mean[c]!) / norm.std[c]!;
  const out = corrupt(x, { n: 1, c: 3, h: 2, w: 2 }, 'brightness', 2, new Rng(0), norm);
  for (let c = 0; c < 3; c++) assertClose(out[c * 4]! * norm.std[c]! + norm.mean[c]!, 0.7, { atol: 1e-6 }, `channel ${c}`);
  assert.throws(() => corrupt(x, { n: 1, c: 3, h: 2, w: 2 }, 'brightness', 2, new Rng(0), { mean: [0, 0], std: [1, 1] }), /norm.mean has 2 values for 3 channels/);
});

test('corruptDataset uses the recorded normalisation and renames the split', () => {
  const ds: Dataset = {
    name: 'fm/test', images: images(2, 2, 2, () => 0.3), labels: Uint8Array.of(1, 2), n: 2, c: 1, h: 2, w: 2,
    numClasses: 10, norm: NORM,
  };
  const shifted = corruptDataset(ds, 'brightness', 1, new Rng(0));
  assert.equal(shifted.name, 'fm/test@brightness-1');
  assert.equal(shifted.labels, ds.labels);
  assertClose(toPix(shifted.images[0]!), 0.4, { atol: 1e-6 }, 'brightened');
  const { norm: _, ...bare } = ds;
  assert.throws(() => corruptDataset(bare, 'contrast', 1, new Rng(0)), ConfigError);
});

test('rejects a bad severity or kind', () => {
  const x = new Float32Array(4);
  const shape = { n: 1, c: 1, h: 2, w: 2 };
  for (const s of [0, 6, 2.5]) {
    assert.throws(() => corrupt(x, shape, 'contrast', s, new Rng(0), NORM), { name: 'ConfigError', message: `shift severity must be an integer 1..5, got ${s}` });
  }
  assert.throws(() => corrupt(x, shape, 'fog' as never, 1, new Rng(0), NORM), /unknown shift kind "fog"/);
});
