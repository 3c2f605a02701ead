/**
 * The webgpu conv kernels come in variants (specialised to the geometry or generic; all samples in
 * one product or one product per sample) that must compute the same sums in the same order: each
 * variant, in its own process (the worker reads the switches when it starts), prints a hash of
 * the outputs of test/helpers/webgpu-conv-bits.ts, and the hashes must be equal.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { loadWebgpu } from '../../src/backend/webgpu.js';

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
  it('specialised + merged (the default), generic, per sample', () => {
    const dflt = bits({});
    assert.equal(bits({ PDIFF_WEBGPU_CONV_SPECIALIZE: '0' }), dflt, 'generic kernels');
    assert.equal(bits({ PDIFF_WEBGPU_CONV_MERGE: '0' }), dflt, 'one product per sample');
    assert.equal(bits({ PDIFF_WEBGPU_CONV_SPECIALIZE: '0', PDIFF_WEBGPU_CONV_MERGE: '0' }), dflt, 'generic, per sample');
  });
});
