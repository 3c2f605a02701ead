/**
 * Index storages (Backend.allocIndex) on the CPU backends: maxPool2dForward and argmaxRows write
 * exact int32 indices into them, readIndex reads them back, and float and index storages are not
 * mistaken for each other. The WebGPU backend is checked in webgpu.test.ts.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { readArgmaxRows, type Backend } from '../../src/backend/backend.js';
import { maxPool2dForward as maxPoolKernel } from '../../src/backend/cpu/pool.js';
import { blasBackend, jsBackend } from '../../src/backend/index.js';
import { Rng } from '../../src/tensor/random.js';

const blas = blasBackend();
const backends: Array<[string, Backend | string]> = [['js', jsBackend('float32')], ['js float64', jsBackend('float64')], ['blas', blas]];

for (const [name, be] of backends) {
  describe(`index storages on ${name}`, { skip: typeof be === 'string' ? be : false }, () => {
    const b = be as Backend;

    it('maxPool2dForward writes the argmax the kernel computes, and the backward routes gy through it', () => {
      const g = { n: 2, c: 3, h: 7, w: 6, kh: 3, kw: 2, sh: 2, sw: 2, ph: 1, pw: 0, oh: 4, ow: 3 };
      const x = new Rng(1).fillNormal(new Float32Array(g.n * g.c * g.h * g.w));
      const outN = g.n * g.c * g.oh * g.ow;
      const want = new Int32Array(outN);
      maxPoolKernel(Float64Array.from(x), new Float64Array(outN), want, g);
      const am = b.allocIndex(outN);
      assert.deepEqual(b.readIndex(am), new Int32Array(outN), 'allocIndex is zero-filled');
      b.maxPool2dForward(b.fromArray(x), b.alloc(outN), am, g);
      assert.deepEqual(b.readIndex(am), want);
      // each gy of 1 lands on exactly one element of gx, so gx sums to the number of outputs
      const gx = b.alloc(x.length);
      b.maxPool2dBackward(b.fromArray(new Float32Array(outN).fill(1)), am, gx, g);
      const gxa = b.read(gx);
      let total = 0;
      for (const v of gxa) total += v;
      assert.equal(total, outN);
      b.release(am);
      b.release(am); // idempotent
    });

    it('argmaxRows writes into an index storage; readArgmaxRows fills a host array', () => {
      const x = b.fromArray([1, 5, 5, 0, -1, -2, -3, -4, 2, 9, 9, 9]);
      const out = b.allocIndex(3);
      b.argmaxRows(x, 3, 4, out);
      assert.deepEqual(Array.from(b.readIndex(out)), [1, 0, 1]);
      const host = new Int32Array(5).fill(-7);
      readArgmaxRows(b, x, 3, 4, host.subarray(1, 4));
      assert.deepEqual(Array.from(host), [-7, 1, 0, 1, -7]);
    });

    it('refuses a float storage where an index storage is expected, and the reverse', () => {
      const x = b.fromArray([1, 2, 3, 4]);
      const idx = b.allocIndex(2);
      assert.throws(() => b.read(idx), TypeError);
      assert.throws(() => b.readIndex(x), TypeError);
      assert.throws(() => b.argmaxRows(x, 2, 2, b.alloc(2)), TypeError);
      const g = { n: 1, c: 1, h: 2, w: 2, kh: 2, kw: 2, sh: 2, sw: 2, ph: 0, pw: 0, oh: 1, ow: 1 };
      assert.throws(() => b.maxPool2dForward(x, b.alloc(1), b.alloc(1), g), TypeError);
    });
  });
}
