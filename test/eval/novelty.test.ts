import { test } from 'node:test';
import assert from 'node:assert/strict';
import { iou, iouMax, nearestL2, packMask } from '../../src/eval/novelty.js';
import { Rng } from '../../src/tensor/random.js';

const mask = (bits: string): Uint8Array => Uint8Array.from(bits, (c) => (c === '1' ? 1 : 0));

test('packMask sets bit i of word i>>5', () => {
  const m = new Uint8Array(40);
  m[0] = 1;
  m[31] = 1;
  m[33] = 7; // non-zero counts as set
  assert.deepEqual([...packMask(m)], [0x80000001, 2]);
});

test('iou of constructed sets, with 0/0 = 1', () => {
  assert.equal(iou(mask('1100'), mask('0110')), 1 / 3);
  assert.equal(iou(mask('0000'), mask('0000')), 1);
  assert.equal(iou(mask('1000'), mask('0000')), 0);
});

test('iouMax against references, with and without excluding self', () => {
  const refs = [mask('11000000'), mask('11100000'), mask('00001111')];
  const self = iouMax(refs, refs, true);
  // 0 vs 1: 2/3; 0 vs 2: 0 -> 2/3 at 1. 1 vs 0: 2/3. 2 vs 0/1: 0 -> first index 0.
  assert.deepEqual(self.value, [2 / 3, 2 / 3, 0]);
  assert.deepEqual(self.nearest, [1, 0, 0]);
  const incl = iouMax(refs, refs, false);
  assert.deepEqual(incl.value, [1, 1, 1]);
  assert.deepEqual(incl.nearest, [0, 1, 2]);
  const other = iouMax([mask('00000111')], refs, false);
  assert.deepEqual(other.value, [3 / 4]); // with ref 2: |{5,6,7}| / |{4,5,6,7}|
  assert.deepEqual(other.nearest, [2]);
});

test('iouMax equals the naive max over iou() on random masks longer than a word', () => {
  const rng = new Rng(7);
  const n = 1000;
  const make = (): Uint8Array => {
    const m = new Uint8Array(n);
    for (let i = 0; i < n; i++) m[i] = rng.uniform() < 0.12 ? 1 : 0;
    return m;
  };
  const refs = Array.from({ length: 9 }, make);
  const models = Array.from({ length: 5 }, make);
  const r = iouMax(models, refs, false);
  for (let i = 0; i < models.length; i++) {
    let best = -1;
    let arg = -1;
    for (let j = 0; j < refs.length; j++) {
      const v = iou(models[i]!, refs[j]!);
      if (v > best) {
        best = v;
        arg = j;
      }
    }
    assert.ok(Math.abs(r.value[i]! - best) < 1e-15);
    assert.equal(r.nearest[i], arg);
  }
});

test('iouMax with excludeSelf and a single reference gives NaN / -1', () => {
  const r = iouMax([mask('1')], [mask('1')], true);
  assert.ok(Number.isNaN(r.value[0]!));
  assert.equal(r.nearest[0], -1);
  assert.throws(() => iouMax([mask('1')], [mask('1'), mask('0')], true), /same count/);
});

test('nearestL2 finds the closest reference, excluding self when asked', () => {
  const refs = [new Float32Array([0, 0]), new Float32Array([3, 4]), new Float32Array([0, 1])];
  const self = nearestL2(refs, refs, true);
  assert.deepEqual(self.value, [1, Math.sqrt(9 + 9), 1]);
  assert.deepEqual(self.nearest, [2, 2, 0]);
  const incl = nearestL2(refs, refs, false);
  assert.deepEqual(incl.value, [0, 0, 0]);
  const q = nearestL2([new Float32Array([3, 0])], refs, false);
  assert.deepEqual(q.value, [3]);
  assert.deepEqual(q.nearest, [0]);
  assert.throws(() => nearestL2([new Float32Array(3)], refs, false), /vectors\[0\] has length 3, expected 2/);
});

test('nearestL2 resolves tiny distances between large vectors', () => {
  const a = new Float32Array(192).fill(1000);
  const b = Float32Array.from(a);
  b[5] = 1000.001; // float32 spacing near 1000 is 6.1e-5
  const r = nearestL2([b], [a], false);
  assert.ok(Math.abs(r.value[0]! - (b[5]! - 1000)) < 1e-12);
});
