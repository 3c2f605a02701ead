import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  CIFAR100_COARSE_CLASSES, CIFAR100_FINE_CLASSES, CIFAR10_CLASSES, CIFAR10_NORM, loadCifar10, loadCifar100,
} from '../../src/data/cifar.js';
import { DatasetNotFoundError } from '../../src/data/dataset.js';
import { FormatError } from '../../src/util/errors.js';

const root = mkdtempSync(join(tmpdir(), 'pdiff-cifar-'));
process.on('exit', () => rmSync(root, { recursive: true, force: true }));

/** Record g: label bytes `labels(g)`, pixel j = (g + j) & 255 (so channel c starts at g + 1024 c). */
function records(first: number, count: number, labels: (g: number) => number[]): Buffer {
  const parts: Buffer[] = [];
  for (let g = first; g < first + count; g++) {
    const lab = labels(g);
    const r = Buffer.alloc(lab.length + 3072);
    lab.forEach((l, i) => (r[i] = l));
    for (let j = 0; j < 3072; j++) r[lab.length + j] = (g + j) & 255;
    parts.push(r);
  }
  return Buffer.concat(parts);
}

/** CIFAR-10 layout inside the standard sub-folder: 5 batches of 3 records, test of 4. */
function makeCifar10(name: string): string {
  const d = join(root, name);
  const sub = join(d, 'cifar-10-batches-bin');
  mkdirSync(sub, { recursive: true });
  for (let b = 0; b < 5; b++) writeFileSync(join(sub, `data_batch_${b + 1}.bin`), records(3 * b, 3, (g) => [g % 10]));
  writeFileSync(join(sub, 'test_batch.bin'), records(100, 4, (g) => [(g + 1) % 10]));
  return d;
}

const px = (p: number, c: number): number => Math.fround((p / 255 - CIFAR10_NORM.mean[c]!) / CIFAR10_NORM.std[c]!);

test('loadCifar10 reads all batches, splits val from the end, normalises per channel', () => {
  const dir = makeCifar10('c10');
  const { train, val, test: te } = loadCifar10(dir, { valSize: 5 });
  assert.equal(train.n, 10);
  assert.equal(val.n, 5);
  assert.equal(te.n, 4);
  assert.deepEqual([train.c, train.h, train.w], [3, 32, 32]);
  assert.deepEqual(train.classNames, [...CIFAR10_CLASSES]);
  assert.deepEqual([...train.labels], [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  assert.deepEqual([...val.labels], [0, 1, 2, 3, 4]); // records 10..14
  assert.deepEqual([...te.labels], [1, 2, 3, 4]);
  // Image 7 of train, channel 2 (blue), pixel 5: byte (7 + 2048 + 5) & 255.
  assert.equal(train.images[7 * 3072 + 2048 + 5], px((7 + 2048 + 5) & 255, 2));
  assert.equal(val.images[1 * 3072 + 1024], px((11 + 1024) & 255, 1));
  assert.equal(te.images[0], px(100, 0));
  assert.deepEqual(train.norm, CIFAR10_NORM);
});

test('limitTrain reads only the first records', () => {
  const dir = makeCifar10('c10-limit');
  const { train, val, test: te } = loadCifar10(join(dir, 'cifar-10-batches-bin'), { limitTrain: 7, limitTest: 2 });
  assert.equal(val.n, 1); // round(7 / 10)
  assert.equal(train.n, 6);
  assert.equal(te.n, 2);
  assert.equal(val.labels[0], 6);
});

test('a file whose length is not a multiple of the record size is a FormatError', () => {
  const dir = makeCifar10('c10-bad');
  const p = join(dir, 'cifar-10-batches-bin', 'data_batch_3.bin');
  writeFileSync(p, Buffer.concat([records(0, 2, () => [1]), Buffer.alloc(100)]));
  assert.throws(() => loadCifar10(dir, { valSize: 5 }), (e: unknown) => {
    assert.ok(e instanceof FormatError);
    assert.equal(e.message, `${p}: length 6246 bytes is not a positive multiple of the record size 3073 (1 label byte(s) + 3072 pixel bytes)`);
    return true;
  });
});

test('a label out of range is a FormatError', () => {
  const dir = makeCifar10('c10-label');
  const p = join(dir, 'cifar-10-batches-bin', 'test_batch.bin');
  writeFileSync(p, records(0, 3, (g) => [g === 2 ? 10 : 0]));
  assert.throws(() => loadCifar10(dir, { valSize: 5 }), { message: `${p}: label 10 of record 2 is out of range [0, 10)` });
});

test('a missing directory says where to get CIFAR', () => {
  assert.throws(() => loadCifar10(join(root, 'none')), (e: unknown) => e instanceof DatasetNotFoundError && /cifar-10-binary\.tar\.gz/.test(e.message));
  const d = join(root, 'c10-incomplete');
  mkdirSync(d);
  writeFileSync(join(d, 'data_batch_1.bin'), records(0, 1, () => [0]));
  assert.throws(() => loadCifar10(d), /missing data_batch_2\.bin, data_batch_3\.bin, data_batch_4\.bin, data_batch_5\.bin, test_batch\.bin/);
});

test('loadCifar100 uses fine labels by default, coarse on request', () => {
  const d = join(root, 'c100');
  mkdirSync(d);
  writeFileSync(join(d, 'train.bin'), records(0, 6, (g) => [g % 20, 99 - g]));
  writeFileSync(join(d, 'test.bin'), records(50, 2, (g) => [19, g]));
  const fine = loadCifar100(d, { valSize: 2 });
  assert.equal(fine.train.numClasses, 100);
  assert.deepEqual([...fine.train.labels], [99, 98, 97, 96]);
  assert.deepEqual([...fine.val.labels], [95, 94]);
  assert.deepEqual([...fine.test.labels], [50, 51]);
  assert.equal(fine.train.images.length, 4 * 3072);
  const coarse = loadCifar100(d, { valSize: 2, labels: 'coarse' });
  assert.equal(coarse.train.numClasses, 20);
  assert.equal(coarse.train.name, 'cifar100-coarse/train');
  assert.deepEqual([...coarse.train.labels], [0, 1, 2, 3]);
  assert.deepEqual(coarse.train.classNames, [...CIFAR100_COARSE_CLASSES]);
  const bad = join(d, 'test.bin');
  writeFileSync(bad, Buffer.alloc(3073));
  assert.throws(() => loadCifar100(d, { valSize: 2 }), { message: `${bad}: length 3073 bytes is not a positive multiple of the record size 3074 (2 label byte(s) + 3072 pixel bytes)` });
});

test('CIFAR-100 class lists have 100 fine (sorted) and 20 coarse names', () => {
  assert.equal(CIFAR100_FINE_CLASSES.length, 100);
  assert.equal(new Set(CIFAR100_FINE_CLASSES).size, 100);
  assert.deepEqual([...CIFAR100_FINE_CLASSES].sort(), [...CIFAR100_FINE_CLASSES]);
  assert.equal(CIFAR100_COARSE_CLASSES.length, 20);
});
