/**
 * The webgpu GEMM and conv kernels come in variants (4 x 4 to 8 x 8 outputs per thread; conv
 * specialised to the geometry or generic; all samples in one product or one product per sample)
 * that must compute the same sums in the same order: each
 * variant, in its own process (the worker reads the switches when it starts), prints a hash of
 * the outputs of test/helpers/webgpu-conv-bits.ts, and the hashes must be equal.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { loadWebgpu } from '../../src/backend/webgpu.js';
import { gemmShapes, pickTile } from '../../src/backend/webgpu/k-gemm.js';

const root = new URL('../..', import.meta.url).pathname;
const loaded = loadWebgpu();
const skip = loaded.ok ? false : `webgpu backend unavailable: ${loaded.reason}`;

function bits(env: Record<string, string>): string {
  const r = spawnSync(process.execPath, ['--import', 'tsx', join(root, 'test/helpers/webgpu-conv-bits.ts')], {
    cwd: root, encoding: 'utf8', env: { ...process.env, PDIFF_QUIET_BACKEND: '1', ...env }, timeout: 120_000,
  });
  assert.equal(r.status, 0, r.stderr);
  const line = r.stdout.trim().split('\n').at(-1) ?? '';
  assert.match(line, /^[0-9a-f]{64}$/, `${JSON.stringify(env)}: ${r.stdout}${r.stderr}`);
  return line;
}

describe('webgpu conv kernel variants give identical bits', { skip }, () => {
  it('specialised + merged + tile by size (the default), generic, per sample, every GEMM tile', () => {
    const dflt = bits({});
    assert.equal(bits({ PDIFF_WEBGPU_GEMM_TILE: '16x4x4' }), dflt, '16 x 16 threads, 4 x 4 outputs each');
    assert.equal(bits({ PDIFF_WEBGPU_CONV_SPECIALIZE: '0', PDIFF_WEBGPU_GEMM_TILE: '16x8x8' }), dflt, 'generic kernels, 16 x 16 threads, 8 x 8');
    assert.equal(bits({ PDIFF_WEBGPU_CONV_MERGE: '0', PDIFF_WEBGPU_GEMM_TILE: '8x4x8' }), dflt, 'one product per sample, 8 x 8 threads, 4 x 8');
    assert.equal(bits({ PDIFF_WEBGPU_CONV_SPECIALIZE: '0', PDIFF_WEBGPU_CONV_MERGE: '0', PDIFF_WEBGPU_GEMM_TILE: '16x8x4' }), dflt, 'generic, per sample, 8 x 4');
    assert.equal(bits({ PDIFF_WEBGPU_GEMM_TILE: '8x4x4' }), dflt, '8 x 8 threads, 4 x 4 outputs each');
  });
});

describe('pickTile', () => {
  it('takes the largest tile that fits and leaves enough workgroups', () => {
    assert.deepEqual(pickTile(512, 512, 1, 2), [16, 8, 8]);
    assert.deepEqual(pickTile(512, 512, 1, 128), [16, 4, 4]); // 16 workgroups of 128 x 128 would idle a GPU
    assert.deepEqual(pickTile(2048, 2048, 1, 128), [16, 8, 8]);
    assert.deepEqual(pickTile(64, 49000, 1, 128), [16, 4, 8]); // the evaluation's conv3 (64 output channels) on a GPU
    assert.deepEqual(pickTile(200, 100, 1, 2), [16, 8, 4]);
    assert.deepEqual(pickTile(100, 100, 1, 2), [16, 4, 4]);
    assert.deepEqual(pickTile(40, 100, 1, 2), [16, 4, 4]);
    assert.deepEqual(pickTile(16, 3200, 1, 2), [8, 4, 4]);
    const small = gemmShapes(8, false); // a device without 256 threads a workgroup
    assert.deepEqual(pickTile(512, 512, 1, 2, small, 8), [8, 8, 8]);
    assert.deepEqual(pickTile(40, 100, 1, 2, small, 8), [8, 4, 8]);
    assert.deepEqual(pickTile(40, 40, 1, 2, small, 8), [8, 4, 4]);
    const soft = gemmShapes(16, true); // llvmpipe
    assert.deepEqual(pickTile(512, 512, 1, 2, soft), [16, 8, 8]);
    assert.deepEqual(pickTile(64, 49000, 1, 2, soft), [8, 8, 8]);
    assert.deepEqual(pickTile(100, 100, 1, 2, soft), [8, 8, 8]);
    assert.deepEqual(pickTile(40, 100, 1, 2, soft), [16, 4, 4]);
  });
});
