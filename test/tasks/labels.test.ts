/** Binary task labels: exact for every class, the class balance, and the binary dataset view. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Dataset } from '../../src/data/dataset.js';
import { binaryLabels, classBalance, taskDataset } from '../../src/tasks/labels.js';
import { ShapeError } from '../../src/util/errors.js';

describe('binaryLabels', () => {
  it('labels class y positive exactly where code[y] = 1', () => {
    const labels = new Uint8Array([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 1, 0]);
    assert.deepEqual([...binaryLabels(labels, '0110010011')], [0, 1, 1, 0, 0, 1, 0, 0, 1, 1, 1, 1, 0]);
    assert.deepEqual([...binaryLabels(labels, '1000000000')], [1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
  });

  it('refuses a label the code has no character for, naming the data', () => {
    assert.throws(() => binaryLabels(new Int32Array([0, 10]), '0110010011', 'fashion-mnist/val'),
      (e: unknown) => e instanceof ShapeError && /fashion-mnist\/val: label 10 at index 1 is outside \[0, 10\)/.test(e.message));
  });
});

describe('classBalance', () => {
  it('counts positives and negatives and the majority accuracy', () => {
    const b = classBalance(binaryLabels(new Uint8Array([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]), '0110010011'));
    assert.deepEqual(b, { n: 10, positives: 5, negatives: 5, positiveFraction: 0.5, majorityAcc: 50 });
    const c = classBalance(new Int32Array([1, 0, 0, 0]));
    assert.deepEqual(c, { n: 4, positives: 1, negatives: 3, positiveFraction: 0.25, majorityAcc: 75 });
  });
});

describe('taskDataset', () => {
  it('shares the images and relabels to 2 classes', () => {
    const ds: Dataset = { name: 'toy/val', images: new Float32Array(3 * 4), labels: new Uint8Array([2, 3, 9]), n: 3, c: 1, h: 2, w: 2, numClasses: 10 };
    const t = taskDataset(ds, '0010000001');
    assert.equal(t.images, ds.images);
    assert.deepEqual([...t.labels], [1, 0, 1]);
    assert.equal(t.numClasses, 2);
    assert.equal(t.name, 'toy/val@0010000001');
    assert.throws(() => taskDataset(ds, '0110'), /has 4 characters, the dataset has 10 classes/);
  });
});
