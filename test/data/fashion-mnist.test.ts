import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { DEFAULT_FASHION_MNIST_DIR, loadFashionMnist } from '../../src/data/dataset.js';

const present = existsSync(DEFAULT_FASHION_MNIST_DIR);

test(
  'loads the real Fashion-MNIST with the 55,000 / 5,000 / 10,000 splits',
  { skip: present ? false : `${DEFAULT_FASHION_MNIST_DIR} not found (apt-get install dataset-fashion-mnist)` },
  (t) => {
    const t0 = performance.now();
    const { train, val, test: te } = loadFashionMnist();
    t.diagnostic(`full Fashion-MNIST load: ${(performance.now() - t0).toFixed(0)} ms`);

    assert.equal(train.n, 55000);
    assert.equal(val.n, 5000);
    assert.equal(te.n, 10000);
    assert.equal(train.images.length, 55000 * 784);
    assert.deepEqual([train.c, train.h, train.w], [1, 28, 28]);

    // The constants are the dataset's own statistics: over all 60,000 training images the
    // normalised pixels have mean ~0 and std ~1.
    let sum = 0, sq = 0;
    for (const ds of [train, val]) {
      const x = ds.images;
      for (let i = 0; i < x.length; i++) {
        const v = x[i]!;
        sum += v;
        sq += v * v;
      }
    }
    const count = 60000 * 784;
    const mean = sum / count;
    const std = Math.sqrt(sq / count - mean * mean);
    assert.ok(Math.abs(mean) < 0.002, `mean ${mean}`);
    assert.ok(Math.abs(std - 1) < 0.002, `std ${std}`);

    // Fashion-MNIST is balanced: 6,000 per class in training, 1,000 per class in test.
    const perClass = new Array<number>(10).fill(0);
    for (const ds of [train, val]) for (let i = 0; i < ds.n; i++) perClass[ds.labels[i]!]!++;
    assert.deepEqual(perClass, new Array<number>(10).fill(6000));
    const testPerClass = new Array<number>(10).fill(0);
    for (let i = 0; i < te.n; i++) testPerClass[te.labels[i]!]!++;
    assert.deepEqual(testPerClass, new Array<number>(10).fill(1000));
    // Known first labels of the training and test files.
    assert.deepEqual([...train.labels.subarray(0, 5)], [9, 0, 0, 3, 0]);
    assert.deepEqual([...te.labels.subarray(0, 5)], [9, 2, 1, 1, 6]);
  },
);
