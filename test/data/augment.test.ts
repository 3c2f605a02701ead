import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomCropFlip } from '../../src/data/augment.js';
import { Rng } from '../../src/tensor/random.js';
import { ShapeError } from '../../src/util/errors.js';

/** Reference: pad each channel with `fill`, crop h x w at (oy, ox), then mirror if flipped. */
function reference(img: Float32Array, c: number, h: number, w: number, pad: number, oy: number, ox: number, flip: boolean, fill: number[]): number[] {
  const ph = h + 2 * pad, pw = w + 2 * pad;
  const out: number[] = [];
  for (let ch = 0; ch < c; ch++) {
    const padded: number[][] = [];
    for (let y = 0; y < ph; y++) {
      const row: number[] = [];
      for (let x = 0; x < pw; x++) {
        const iy = y - pad, ix = x - pad;
        row.push(iy >= 0 && iy < h && ix >= 0 && ix < w ? img[ch * h * w + iy * w + ix]! : fill[ch]!);
      }
      padded.push(row);
    }
    for (let y = 0; y < h; y++) {
      const row = padded[oy + y]!.slice(ox, ox + w);
      if (flip) row.reverse();
      out.push(...row);
    }
  }
  return out;
}

test('random crop with padding and flip matches an explicit pad-crop-flip reference', () => {
  const n = 16, c = 3, h = 6, w = 5, pad = 2;
  const sz = c * h * w;
  const images = new Float32Array(n * sz);
  for (let i = 0; i < images.length; i++) images[i] = i + 1;
  const orig = images.slice();
  const fill = [-1, -2, -3];
  randomCropFlip(images, { n, c, h, w }, new Rng(42), new Float32Array(sz), { pad, fill });
  // The documented draw order per image: int(2 pad + 1) rows, int(2 pad + 1) cols, uniform() flip.
  const rng = new Rng(42);
  let flips = 0, moved = 0;
  for (let b = 0; b < n; b++) {
    const oy = rng.int(2 * pad + 1), ox = rng.int(2 * pad + 1);
    const flip = rng.uniform() < 0.5;
    flips += flip ? 1 : 0;
    moved += oy !== pad || ox !== pad ? 1 : 0;
    const expected = reference(orig.subarray(b * sz, (b + 1) * sz), c, h, w, pad, oy, ox, flip, fill);
    assert.deepEqual([...images.subarray(b * sz, (b + 1) * sz)], expected, `image ${b}`);
  }
  assert.ok(flips > 0 && flips < n && moved > 0, 'the seed exercises flips and shifts');
});

test('is deterministic under the seed and pads with 0 by default', () => {
  const shape = { n: 8, c: 1, h: 32, w: 32 };
  const a = new Float32Array(8 * 1024).fill(1);
  const b = a.slice();
  const scratch = new Float32Array(1024);
  randomCropFlip(a, shape, new Rng(7), scratch);
  randomCropFlip(b, shape, new Rng(7), scratch);
  assert.deepEqual(a, b);
  const zeros = a.reduce((k, v) => k + (v === 0 ? 1 : 0), 0);
  assert.ok(zeros > 0, 'some border pixels come from the padding');
  assert.ok(a.every((v) => v === 0 || v === 1));
});

test('pad 0 without flip leaves the batch unchanged; flip only mirrors rows', () => {
  const images = Float32Array.of(1, 2, 3, 4, 5, 6);
  randomCropFlip(images, { n: 1, c: 1, h: 2, w: 3 }, new Rng(1), new Float32Array(6), { pad: 0, flip: false });
  assert.deepEqual([...images], [1, 2, 3, 4, 5, 6]);
  const rng = new Rng(3);
  const two = Float32Array.of(1, 2, 3, 4, 5, 6, 1, 2, 3, 4, 5, 6);
  randomCropFlip(two, { n: 2, c: 1, h: 2, w: 3 }, rng, new Float32Array(6), { pad: 0 });
  const check = new Rng(3);
  for (let b = 0; b < 2; b++) {
    const row = [...two.subarray(b * 6, b * 6 + 6)];
    assert.deepEqual(row, check.uniform() < 0.5 ? [3, 2, 1, 6, 5, 4] : [1, 2, 3, 4, 5, 6]);
  }
});

test('only the first n images of a larger buffer are touched', () => {
  const buf = new Float32Array(3 * 4).fill(9);
  randomCropFlip(buf, { n: 1, c: 1, h: 2, w: 2 }, new Rng(0), new Float32Array(4), { pad: 1 });
  assert.deepEqual([...buf.subarray(4)], [9, 9, 9, 9, 9, 9, 9, 9]);
});

test('throws on buffers that are too small', () => {
  const shape = { n: 2, c: 1, h: 4, w: 4 };
  assert.throws(() => randomCropFlip(new Float32Array(31), shape, new Rng(0), new Float32Array(16)), ShapeError);
  assert.throws(() => randomCropFlip(new Float32Array(32), shape, new Rng(0), new Float32Array(15)), /scratch holds 15 floats, need 16/);
  assert.throws(() => randomCropFlip(new Float32Array(32), shape, new Rng(0), new Float32Array(16), { fill: [0, 0] }), /fill has 2 values for 1 channels/);
});

test('padding wider than the image yields whole-padding rows and columns without writing outside', () => {
  const buf = new Float32Array(2 * 4).fill(5);
  for (let seed = 0; seed < 20; seed++) {
    buf.fill(5, 0, 4);
    randomCropFlip(buf, { n: 1, c: 1, h: 2, w: 2 }, new Rng(seed), new Float32Array(4), { pad: 3, fill: 0 });
    assert.ok(buf.subarray(0, 4).every((v) => v === 0 || v === 5));
    assert.deepEqual([...buf.subarray(4)], [5, 5, 5, 5]);
  }
});
