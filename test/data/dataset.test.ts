import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import {
  DatasetNotFoundError, FASHION_MNIST_CLASSES, batchIterator, batchesPerEpoch, epochOrder, gatherBatch,
  loadFashionMnist, loadIdxDataset, sampleWithReplacement, sliceDataset, type Dataset,
} from '../../src/data/dataset.js';
import { Rng } from '../../src/tensor/random.js';
import { idxBytes } from '../helpers/data.js';
import { FormatError, ShapeError } from '../../src/util/errors.js';

const root = mkdtempSync(join(tmpdir(), 'pdiff-ds-'));
process.on('exit', () => rmSync(root, { recursive: true, force: true }));


/** Image i of the fake set has every pixel = (i * 7 + j) & 255 and label i % 10. */
function fakeImages(n: number, h: number, w: number, salt: number): { images: Uint8Array; labels: Uint8Array } {
  const images = new Uint8Array(n * h * w);
  for (let i = 0; i < n; i++) for (let j = 0; j < h * w; j++) images[i * h * w + j] = (i * 7 + j + salt) & 255;
  const labels = new Uint8Array(n);
  for (let i = 0; i < n; i++) labels[i] = (i + salt) % 10;
  return { images, labels };
}

/** A small MNIST-style directory: training files gzipped, test files raw (both names accepted). */
function makeIdxDir(name: string, nTrain: number, nTest: number, h = 4, w = 5): string {
  const d = join(root, name);
  mkdirSync(d, { recursive: true });
  const tr = fakeImages(nTrain, h, w, 0);
  const te = fakeImages(nTest, h, w, 3);
  writeFileSync(join(d, 'train-images-idx3-ubyte.gz'), gzipSync(idxBytes([nTrain, h, w], tr.images)));
  writeFileSync(join(d, 'train-labels-idx1-ubyte.gz'), gzipSync(idxBytes([nTrain], tr.labels)));
  writeFileSync(join(d, 't10k-images-idx3-ubyte'), idxBytes([nTest, h, w], te.images));
  writeFileSync(join(d, 't10k-labels-idx1-ubyte'), idxBytes([nTest], te.labels));
  return d;
}

const norm = (p: number): number => Math.fround((p / 255 - 0.286) / 0.353);

test('loadFashionMnist splits train/val/test and normalises (p/255 - 0.2860)/0.3530', () => {
  const dir = makeIdxDir('fm', 120, 30);
  const { train, val, test: te } = loadFashionMnist({ dir, valSize: 20 });
  assert.equal(train.n, 100);
  assert.equal(val.n, 20);
  assert.equal(te.n, 30);
  for (const ds of [train, val, te]) {
    assert.equal(ds.c, 1);
    assert.equal(ds.h, 4);
    assert.equal(ds.w, 5);
    assert.equal(ds.numClasses, 10);
    assert.equal(ds.images.length, ds.n * 20);
    assert.deepEqual(ds.classNames, [...FASHION_MNIST_CLASSES]);
    assert.deepEqual(ds.norm, { mean: [0.286], std: [0.353] });
  }
  assert.equal(train.name, 'fashion-mnist/train');
  // val is the last 20 training images: val image 0 is training image 100.
  assert.equal(val.images[0], norm((100 * 7) & 255));
  assert.equal(val.images[19 * 20 + 19], norm((119 * 7 + 19) & 255));
  assert.equal(val.labels[0], 0);
  assert.equal(train.images[5 * 20 + 3], norm(5 * 7 + 3));
  assert.equal(train.labels[13], 3);
  assert.equal(te.images[2 * 20 + 1], norm(2 * 7 + 1 + 3));
  assert.equal(te.labels[0], 3);
  assert.equal(norm(0), Math.fround(-0.286 / 0.353));
});

test('limitTrain keeps the 55:5 ratio, val the last part of the used subset', () => {
  const dir = makeIdxDir('fm-limit', 120, 30);
  const { train, val, test: te } = loadFashionMnist({ dir, limitTrain: 60, limitTest: 7 });
  assert.equal(val.n, 5);
  assert.equal(train.n, 55);
  assert.equal(te.n, 7);
  assert.equal(val.images[0], norm((55 * 7) & 255));
  assert.throws(() => loadFashionMnist({ dir, limitTrain: 60, valSize: 60 }), /valSize must be an integer in \[0, 60\)/);
  assert.throws(() => loadFashionMnist({ dir, limitTrain: 0 }), /limitTrain must be a positive integer, got 0/);
});

test('loadIdxDataset takes a name and MNIST-style constants', () => {
  const dir = makeIdxDir('mnist', 24, 6);
  const s = loadIdxDataset(dir, { name: 'mnist', mean: 0.1307, std: 0.3081, valSize: 4 });
  assert.equal(s.train.name, 'mnist/train');
  assert.equal(s.train.n, 20);
  assert.equal(s.val.n, 4);
  assert.equal(s.train.images[1], Math.fround((1 / 255 - 0.1307) / 0.3081));
  assert.equal(s.train.classNames, undefined);
});

test('a missing dataset says how to install it', () => {
  const missing = join(root, 'nope');
  assert.throws(() => loadFashionMnist({ dir: missing }), (e: unknown) => {
    assert.ok(e instanceof DatasetNotFoundError);
    assert.match(e.message, new RegExp(`^dataset not found in ${missing}: the directory does not exist\\. Install Debian's dataset-fashion-mnist package`));
    return true;
  });
  const partial = join(root, 'partial');
  mkdirSync(partial);
  writeFileSync(join(partial, 'train-images-idx3-ubyte'), idxBytes([1, 1, 1], Uint8Array.of(0)));
  assert.throws(() => loadFashionMnist({ dir: partial }), {
    message: /missing train-labels-idx1-ubyte\(\.gz\), t10k-images-idx3-ubyte\(\.gz\), t10k-labels-idx1-ubyte\(\.gz\)\. Install/,
  });
});

test('a malformed file inside the directory is a FormatError naming it', () => {
  const dir = makeIdxDir('fm-bad', 12, 3);
  const p = join(dir, 't10k-labels-idx1-ubyte');
  writeFileSync(p, idxBytes([2], Uint8Array.of(1, 2)));
  assert.throws(() => loadFashionMnist({ dir, valSize: 2 }), (e: unknown) => {
    assert.ok(e instanceof FormatError);
    assert.match(e.message, /holds 3 images but .*t10k-labels-idx1-ubyte holds 2 labels/);
    return true;
  });
});

function tinyDataset(n: number): Dataset {
  const images = new Float32Array(n * 2 * 3);
  for (let i = 0; i < images.length; i++) images[i] = i;
  const labels = new Uint8Array(n);
  for (let i = 0; i < n; i++) labels[i] = i % 4;
  return { name: 'tiny', images, labels, n, c: 2, h: 1, w: 3, numClasses: 4 };
}

test('gatherBatch copies the indexed images and labels into reusable buffers', () => {
  const ds = tinyDataset(10);
  const imgs = new Float32Array(3 * 6).fill(-1);
  const labs = new Int32Array(4).fill(-1);
  assert.equal(gatherBatch(ds, Int32Array.of(7, 0, 7), imgs, labs), 3);
  assert.deepEqual([...imgs.subarray(0, 6)], [42, 43, 44, 45, 46, 47]);
  assert.deepEqual([...imgs.subarray(6, 12)], [0, 1, 2, 3, 4, 5]);
  assert.deepEqual([...imgs.subarray(12, 18)], [42, 43, 44, 45, 46, 47]);
  assert.deepEqual([...labs], [3, 0, 3, -1]);
  assert.throws(() => gatherBatch(ds, Int32Array.of(1, 2, 3, 4), imgs, labs), ShapeError);
  assert.throws(() => gatherBatch(ds, Int32Array.of(10), imgs, labs), /index 10 at position 0 is outside \[0, 10\)/);
});

test('epochOrder is a seeded permutation; sampleWithReplacement stays in range', () => {
  const a = epochOrder(100, new Rng(5));
  const b = epochOrder(100, new Rng(5));
  assert.deepEqual(a, b);
  assert.deepEqual([...a].sort((x, y) => x - y), Array.from({ length: 100 }, (_, i) => i));
  const s = sampleWithReplacement(7, 1000, new Rng(1));
  assert.equal(s.length, 1000);
  const seen = new Set(s);
  assert.equal(seen.size, 7);
  assert.ok([...s].every((v) => v >= 0 && v < 7));
  const out = new Int32Array(5);
  assert.equal(sampleWithReplacement(7, 5, new Rng(1), out), out);
  assert.deepEqual(out, s.subarray(0, 5));
});

test('batchIterator drops the last partial batch and visits each index at most once', () => {
  const ds = tinyDataset(10);
  assert.equal(batchesPerEpoch(55000, 128), 429);
  const seen: number[] = [];
  let count = 0;
  for (const b of batchIterator(ds, 3, new Rng(2))) {
    assert.equal(b.size, 3);
    assert.equal(b.images.length, 18);
    assert.equal(b.index, count++);
    for (let k = 0; k < 3; k++) seen.push(b.images[k * 6]! / 6);
  }
  assert.equal(count, 3);
  assert.equal(new Set(seen).size, 9);
  const sizes = [...batchIterator(ds, 4, undefined, { dropLast: false })].map((b) => [b.size, b.labels.length]);
  assert.deepEqual(sizes, [[4, 4], [4, 4], [2, 2]]);
  const first = batchIterator(ds, 4).next().value!;
  assert.deepEqual([...first.labels], [0, 1, 2, 3]);
});

test('sliceDataset copies a range', () => {
  const ds = tinyDataset(10);
  const s = sliceDataset(ds, 2, 3, 'tiny/part');
  assert.equal(s.n, 3);
  assert.equal(s.name, 'tiny/part');
  assert.deepEqual([...s.labels], [2, 3, 0]);
  assert.equal(s.images[0], 12);
  s.images[0] = -5;
  assert.equal(ds.images[12], 12);
  assert.throws(() => sliceDataset(ds, 8, 3), ShapeError);
});
