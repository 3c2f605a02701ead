import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { resolveConfig } from '../../src/config/index.js';
import { Rng } from '../../src/tensor/random.js';
import { noGrad, Tensor } from '../../src/tensor/tensor.js';
import type { Module } from '../../src/nn/index.js';
import { readSafetensors, writeSafetensors } from '../../src/zoo/safetensors.js';
import {
  decodeAll, deserializeTrainState, encodeAll, generateLatents, latentStats, serializeTrainState, trainAutoencoder, trainDiffusion,
  type AeTrainState, type DiffusionTrainState, type TrainState,
} from '../../src/pdiff/index.js';
import { ConfigError, FormatError } from '../../src/util/errors.js';

const base = resolveConfig({ preset: 'fmnist-tiny' });
const aeCfg = { ...base.ae, channels: [4, 8, 8, 8, 4], latentDim: 8, steps: 80, batchSize: 16, lr: 3e-3 };
const diffCfg = { ...base.diffusion, channels: [1, 4, 8, 8, 16, 8, 8, 4, 1], timesteps: 100, steps: 150, batchSize: 32, lr: 3e-3 };

/** K checkpoint-like vectors of length L on a 3-dimensional manifold (two waves and a ramp). */
function structured(K: number, L: number, seed: number): Float32Array {
  const rng = new Rng(seed);
  const z = new Float32Array(K * L);
  for (let k = 0; k < K; k++) {
    const a = rng.normal(), b = rng.normal(), c = rng.normal();
    for (let j = 0; j < L; j++) z[k * L + j] = a * Math.sin((2 * Math.PI * j) / 16) + b * Math.cos((2 * Math.PI * j) / 32) + c * (j / L - 0.5);
  }
  return z;
}

const meanLoss = (pts: Array<{ loss: number }>): number => pts.reduce((s, p) => s + p.loss, 0) / pts.length;

function mse(a: Float32Array, b: Float32Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += (a[i]! - b[i]!) ** 2;
  return s / a.length;
}

/** Every state_dict tensor of two modules, compared bit for bit. */
function assertSameWeights(a: Module, b: Module): void {
  const sa = a.stateDict(), sb = b.stateDict();
  assert.equal(sa.length, sb.length);
  sa.forEach(([name, t], i) => {
    const [nameB, u] = sb[i]!;
    assert.equal(name, nameB);
    const x = t.toArray(), y = u.toArray();
    assert.ok(Buffer.from(x.buffer).equals(Buffer.from(y.buffer)), `${name} differs between the resumed and the uninterrupted run`);
  });
}

/** Write a state with writeSafetensors and read it back, as a caller would. */
function throughFile(state: TrainState): TrainState {
  const dir = mkdtempSync(join(tmpdir(), 'pdiff-state-'));
  try {
    const path = join(dir, 'state.safetensors');
    const { tensors, meta } = serializeTrainState(state);
    writeSafetensors(path, tensors, meta);
    const f = readSafetensors(path);
    return deserializeTrainState(f.tensors, f.metadata, path);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test('latentStats: min, max, mean and unbiased std', () => {
  const s = latentStats(Float32Array.from([1, 2, 3, 4]));
  assert.deepEqual({ min: s.min, max: s.max, mean: s.mean }, { min: 1, max: 4, mean: 2.5 });
  assert.ok(Math.abs(s.std - Math.sqrt(5 / 3)) < 1e-15);
  assert.equal(latentStats([7]).std, 0);
  assert.throws(() => latentStats([]), /empty/);
});

test('a tiny autoencoder run reduces the reconstruction loss on structured data', () => {
  const K = 40, L = 64;
  const z = structured(K, L, 11);
  const records: Array<Record<string, unknown>> = [];
  const r = trainAutoencoder(z, K, L, aeCfg, { rng: new Rng(1), log: { write: (o) => records.push(o as Record<string, unknown>) }, logEvery: 20 });
  assert.equal(r.lossCurve.length, aeCfg.steps);
  assert.deepEqual(r.lossCurve.map((p) => p.step), Array.from({ length: aeCfg.steps }, (_, i) => i));
  const first = meanLoss(r.lossCurve.slice(0, 5)), last = meanLoss(r.lossCurve.slice(-5));
  assert.ok(last < 0.4 * first, `loss went from ${first} to ${last}`);
  assert.equal(r.model.training, false, 'the AE is returned in eval mode');
  // Noise-free eval-mode reconstruction beats predicting zero by far.
  const lat = encodeAll(r.model, z, K, L);
  assert.equal(lat.length, K * aeCfg.latentDim);
  const rec = decodeAll(r.model, lat, K, aeCfg.latentDim);
  assert.ok(mse(rec, z) < 0.25 * mse(new Float32Array(z.length), z), `reconstruction MSE ${mse(rec, z)}`);
  // encodeAll is encode() in eval mode, row by row.
  const direct = noGrad(() => r.model.encode(new Tensor(r.model.backend.fromArray(z.subarray(0, 2 * L)), [2, L], r.model.backend))).toArray();
  // (GEMM blocking depends on the batch size, so allow float32 rounding differences.)
  direct.forEach((v, i) => assert.ok(Math.abs(v - lat[i]!) < 1e-5, `latent ${i}: ${v} vs ${lat[i]}`));
  // Log records every 20 steps and at the end, with latent statistics.
  assert.deepEqual(records.map((o) => o.step), [0, 20, 40, 60, 79]);
  const rec0 = records[0]!;
  assert.equal(rec0.stage, 'ae');
  const latent = rec0.latent as { min: number; max: number; std: number };
  assert.ok(latent.max > latent.min && latent.std > 0);
});

test('a tiny diffusion run reduces its loss; generateLatents samples [n, d] with DDPM and DDIM', () => {
  const K = 40, d = 16;
  const lat = structured(K, d, 12);
  const records: Array<Record<string, unknown>> = [];
  const r = trainDiffusion(lat, K, d, diffCfg, { rng: new Rng(2), log: { write: (o) => records.push(o as Record<string, unknown>) } });
  const first = meanLoss(r.lossCurve.slice(0, 20)), last = meanLoss(r.lossCurve.slice(-20));
  assert.ok(last < 0.8 * first, `loss went from ${first} to ${last}`);
  assert.equal(r.model.training, false);
  assert.equal(r.latentScale, 1);
  assert.equal(r.ema, null);
  assert.equal(r.schedule.T, 100);
  assert.equal(records[0]!.event, 'latents');
  assert.ok(records.some((o) => o.step === 50 && typeof o.loss === 'number'));
  const gen = { ...base.generate, n: 5, batchSize: 3 };
  const ddpm = generateLatents(r.model, r.schedule, 5, d, gen, new Rng(3), 1);
  assert.equal(ddpm.length, 5 * d);
  assert.ok(ddpm.every(Number.isFinite));
  const ddim = generateLatents(r.model, r.schedule, 5, d, { ...gen, sampler: 'ddim', ddimSteps: 10 }, new Rng(3), 1);
  const ddim2 = generateLatents(r.model, r.schedule, 5, d, { ...gen, sampler: 'ddim', ddimSteps: 10 }, new Rng(3), 2);
  assert.deepEqual([...ddim2], [...ddim].map((v) => 2 * v), 'samples are multiplied by the latent scale');
  assert.notDeepEqual([...ddim], [...ddpm]);
});

test('trainDiffusion with latentScale "std" divides the latents by their std and records it', () => {
  const K = 20, d = 16;
  const lat = structured(K, d, 13).map((v) => 5 * v);
  const r = trainDiffusion(lat, K, d, { ...diffCfg, steps: 2, latentScale: 'std' }, { rng: new Rng(2) });
  assert.ok(Math.abs(r.latentScale - latentStats(lat).std) < 1e-12);
});

test('trainDiffusion builds its denoiser with diffusion.kernel; a state saved with another kernel is refused', () => {
  const K = 12, d = 16;
  const lat = structured(K, d, 23);
  const states: DiffusionTrainState[] = [];
  const r = trainDiffusion(lat, K, d, { ...diffCfg, steps: 2, batchSize: 4, kernel: 5 }, { rng: new Rng(2), checkpointEvery: 1, onCheckpoint: (s) => states.push(s) });
  assert.equal(r.model.kernel, 5);
  assert.deepEqual(new Map(r.model.stateDict()).get('blocks.0.conv.weight')!.shape, [diffCfg.channels[1], 1, 5]);
  assert.throws(() => trainDiffusion(lat, K, d, { ...diffCfg, steps: 2, batchSize: 4, kernel: 7 }, { rng: new Rng(2), resume: states[0]! }), /different config/);
});

test('autoencoder training resumed from a checkpoint equals the uninterrupted run bit for bit', () => {
  const K = 12, L = 64;
  const z = structured(K, L, 21);
  const cfg = { ...aeCfg, steps: 6, batchSize: 4 };
  const states: AeTrainState[] = [];
  const full = trainAutoencoder(z, K, L, cfg, { rng: new Rng(5), checkpointEvery: 2, onCheckpoint: (s) => states.push(s) });
  assert.deepEqual(states.map((s) => s.step), [2, 4]);
  // Resume from step 4 through a safetensors file, and from step 2 in memory.
  const fromFile = throughFile(states[1]!) as AeTrainState;
  assert.equal(fromFile.step, 4);
  const resumedA = trainAutoencoder(z, K, L, cfg, { rng: new Rng(999), resume: fromFile });
  const resumedB = trainAutoencoder(z, K, L, cfg, { rng: new Rng(5), resume: states[0]! });
  for (const r of [resumedA, resumedB]) {
    assert.deepEqual(r.lossCurve, full.lossCurve);
    assertSameWeights(r.model, full.model);
  }
  // A state from another config is refused.
  assert.throws(() => trainAutoencoder(z, K, L, { ...cfg, lr: 1e-2 }, { rng: new Rng(5), resume: states[0]! }), ConfigError);
});

test('diffusion training (with EMA and latent scaling) resumed from a checkpoint equals the uninterrupted run', () => {
  const K = 12, d = 16;
  const lat = structured(K, d, 22);
  const cfg = { ...diffCfg, steps: 6, batchSize: 4, ema: 0.9, latentScale: 'std' as const };
  const states: DiffusionTrainState[] = [];
  const full = trainDiffusion(lat, K, d, cfg, { rng: new Rng(6), checkpointEvery: 3, onCheckpoint: (s) => states.push(s) });
  assert.deepEqual(states.map((s) => s.step), [3]);
  const state = throughFile(states[0]!) as DiffusionTrainState;
  assert.equal(state.ema?.length, full.model.parameters().length);
  const resumed = trainDiffusion(lat, K, d, cfg, { rng: new Rng(6), resume: state });
  assert.deepEqual(resumed.lossCurve, full.lossCurve);
  assert.equal(resumed.latentScale, full.latentScale);
  assertSameWeights(resumed.model, full.model);
  // The EMA weights agree too.
  full.ema!.shadow.forEach((s, i) => {
    const a = full.model.backend.read(s), b = resumed.model.backend.read(resumed.ema!.shadow[i]!);
    assert.ok(Buffer.from(a.buffer).equals(Buffer.from(b.buffer)), `EMA tensor ${i} differs`);
  });
  assert.throws(() => trainAutoencoder(lat, K, d, { ...aeCfg, channels: [2, 2, 2, 2, 2] }, { rng: new Rng(1), resume: state as unknown as AeTrainState }), /kind "ae"/);
});

test('deserializeTrainState reports malformed states as FormatError', () => {
  const { tensors, meta } = serializeTrainState({
    kind: 'ae', step: 1, config: '{}', model: [{ name: 'w', shape: [2], data: Float32Array.from([1, 2]) }],
    optimizer: { step: 1, buffers: [new Float32Array(2), new Float32Array(2)] }, ema: null, rng: [1, 2, 3, 4, NaN],
    lossCurve: [{ step: 0, loss: 0.5 }], seconds: 0.25, latentScale: 1,
  });
  const back = deserializeTrainState(tensors, meta);
  assert.ok(Number.isNaN(back.rng[4]));
  assert.deepEqual(back.lossCurve, [{ step: 0, loss: 0.5 }]);
  assert.deepEqual([...back.model[0]!.data], [1, 2]);
  assert.throws(() => deserializeTrainState(tensors, null, 'x.safetensors'), (e: unknown) => e instanceof FormatError && /x\.safetensors: expected metadata format/.test(e.message));
  assert.throws(() => deserializeTrainState(tensors.filter((t) => t.name !== 'optim.1'), meta), /tensor "optim.1" is missing/);
  assert.throws(() => deserializeTrainState(tensors, { ...meta, step: 'two' }), /metadata "step": expected a non-negative integer/);
});
