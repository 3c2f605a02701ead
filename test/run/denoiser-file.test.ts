import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { getBackend } from '../../src/backend/index.js';
import { resolveConfig } from '../../src/config/index.js';
import { LatentDenoiser } from '../../src/pdiff/denoiser.js';
import { COND_DIM_META, denoiserMeta, loadDenoiser, saveModule } from '../../src/run/artifacts.js';
import { Rng } from '../../src/tensor/random.js';
import { FormatError } from '../../src/util/errors.js';
import { readSafetensors, writeSafetensors } from '../../src/zoo/safetensors.js';

const be = getBackend();
const CH = [1, 4, 8, 8, 16, 8, 8, 4, 1];
const cfg = resolveConfig({});
const bits = (a: ArrayLike<number>): Buffer => Buffer.from(Float32Array.from(a).buffer);

function sameWeights(a: LatentDenoiser, b: LatentDenoiser): void {
  const sa = a.stateDict(), sb = b.stateDict();
  assert.deepEqual(sa.map(([n]) => n), sb.map(([n]) => n));
  sa.forEach(([n, t], i) => assert.ok(bits(t.toArray()).equals(bits(sb[i]![1].toArray())), `${n} differs`));
}

test('diffusion.safetensors records cond_dim for a conditional denoiser only; loadDenoiser rebuilds either', () => {
  const dir = mkdtempSync(join(tmpdir(), 'pdiff-den-'));
  try {
    const plain = new LatentDenoiser({ d: 16, channels: CH, rng: new Rng(1), backend: be });
    const cond = new LatentDenoiser({ d: 16, channels: CH, condDim: 10, rng: new Rng(2), backend: be });
    assert.deepEqual(denoiserMeta(plain), {});
    assert.deepEqual(denoiserMeta(cond), { cond_dim: '10' });
    const pPath = join(dir, 'plain.safetensors'), cPath = join(dir, 'cond.safetensors');
    saveModule(pPath, plain, cfg, 'diffusion', { latentScale: '1', ...denoiserMeta(plain) });
    saveModule(cPath, cond, cfg, 'diffusion', { latentScale: '2.5', ...denoiserMeta(cond) });
    assert.equal(readSafetensors(pPath).metadata?.[COND_DIM_META], undefined, 'an unconditional file stays as before');
    const p = loadDenoiser(pPath, { d: 16, channels: CH, backend: be });
    assert.equal(p.model.condDim, 0);
    assert.equal(p.model.training, false);
    assert.equal(p.meta.latentScale, '1');
    sameWeights(p.model, plain);
    const c = loadDenoiser(cPath, { d: 16, channels: CH, backend: be });
    assert.equal(c.model.condDim, 10);
    assert.equal(c.meta.latentScale, '2.5');
    sameWeights(c.model, cond);
    // a conditional file that lost its cond_dim, or a bad cond_dim, is refused naming the file
    const f = readSafetensors(cPath);
    const tensors = [...f.tensors].map(([name, t]) => ({ name, shape: [...t.shape], data: t.data as Float32Array }));
    const bad = join(dir, 'bad.safetensors');
    const { [COND_DIM_META]: _dropped, ...noDim } = f.metadata ?? {};
    writeSafetensors(bad, tensors, noDim);
    assert.throws(() => loadDenoiser(bad, { d: 16, channels: CH, backend: be }), /bad\.safetensors: unexpected tensor "cond_embed\.0\.weight"/);
    writeSafetensors(bad, tensors, { ...noDim, [COND_DIM_META]: 'ten' });
    assert.throws(() => loadDenoiser(bad, { d: 16, channels: CH, backend: be }), (e: unknown) => e instanceof FormatError && /metadata "cond_dim": expected a positive integer, got "ten"/.test(e.message));
    writeSafetensors(bad, tensors, { ...noDim, [COND_DIM_META]: '3' });
    assert.throws(() => loadDenoiser(bad, { d: 16, channels: CH, backend: be }), /cond_embed\.0\.weight" has shape \[16, 10\] but the model expects \[16, 3\]/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
