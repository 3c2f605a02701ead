import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Rng, deriveSeed } from '../../src/tensor/random.js';

describe('Rng (xoshiro128** seeded by splitmix32)', () => {
  it('produces the pinned sequence for seed 42', () => {
    const r = new Rng(42);
    assert.deepEqual(Array.from({ length: 5 }, () => r.nextU32()), [2837322924, 544945897, 479756282, 3500138142, 339756180]);
    assert.deepEqual(Array.from({ length: 3 }, () => r.uniform()), [0.026350207740137188, 0.2589688441208532, 0.32498531180153045]);
    assert.deepEqual(Array.from({ length: 3 }, () => r.normal()), [1.1388319575528345, -0.4399976863780522, -0.12930482110034675]);
    assert.deepEqual(Array.from({ length: 5 }, () => r.int(10)), [1, 8, 0, 9, 3]);
    assert.deepEqual(Array.from(new Rng(7).permutation(8)), [2, 1, 7, 4, 3, 5, 6, 0]);
    assert.equal(deriveSeed(0, 'base'), 61330032);
  });

  it('matches an independent BigInt implementation of xoshiro128**', () => {
    const M = 0xffffffffn;
    const rotl = (x: bigint, k: bigint): bigint => ((x << k) | (x >> (32n - k))) & M;
    const r = new Rng(123);
    // recover the initial state through getState and step both generators together
    let [s0, s1, s2, s3] = r.getState().slice(0, 4).map((v) => BigInt(v)) as [bigint, bigint, bigint, bigint];
    for (let i = 0; i < 100; i++) {
      const want = (rotl((s1 * 5n) & M, 7n) * 9n) & M;
      const t = (s1 << 9n) & M;
      s2 ^= s0; s3 ^= s1; s1 ^= s2; s0 ^= s3; s2 ^= t; s3 = rotl(s3, 11n);
      assert.equal(r.nextU32(), Number(want));
    }
  });

  it('draws have the right moments and ranges', () => {
    const r = new Rng(1);
    const n = 200_000;
    let s = 0, s2 = 0, u = 0;
    for (let i = 0; i < n; i++) { const v = r.normal(); s += v; s2 += v * v; u += r.uniform(); }
    assert.ok(Math.abs(s / n) < 0.01);
    assert.ok(Math.abs(s2 / n - 1) < 0.02);
    assert.ok(Math.abs(u / n - 0.5) < 0.005);
    const counts = new Array<number>(7).fill(0);
    for (let i = 0; i < 70_000; i++) counts[r.int(7)]!++;
    for (const c of counts) assert.ok(Math.abs(c - 10_000) < 500);
  });

  it('state round-trips for exact resume, including the cached normal', () => {
    const a = new Rng(9);
    a.normal(); // leaves a spare value cached
    const st = a.getState();
    const b = new Rng(0);
    b.setState(st);
    for (let i = 0; i < 10; i++) assert.equal(a.normal(), b.normal());
  });

  it('choiceWithoutReplacement gives distinct indices', () => {
    const c = new Rng(5).choiceWithoutReplacement(200, 16);
    assert.equal(new Set(c).size, 16);
    for (const v of c) assert.ok(v >= 0 && v < 200);
  });
});
