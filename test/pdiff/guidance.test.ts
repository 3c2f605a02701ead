import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { getBackend } from '../../src/backend/index.js';
import { resolveConfig } from '../../src/config/index.js';
import { Rng } from '../../src/tensor/random.js';
import { Tensor, noGrad } from '../../src/tensor/tensor.js';
import { LatentDenoiser } from '../../src/pdiff/denoiser.js';
import {
  ddimSampleLoop, deserializeTrainState, encodeCode, generateLatents, guidedEpsModel, makeSchedule, nullCondition, pSampleLoop,
  serializeTrainState, trainDiffusion, type DiffusionTrainState, type EpsModel,
} from '../../src/pdiff/index.js';
import { readSafetensors, writeSafetensors } from '../../src/zoo/safetensors.js';
import { ConfigError, ShapeError } from '../../src/util/errors.js';

const be = getBackend();
const CH = [1, 4, 8, 8, 16, 8, 8, 4, 1];
const base = resolveConfig({ preset: 'fmnist-tiny' });
const gen = { ...base.generate, n: 5, batchSize: 5, ddimSteps: 10 };
const sched = makeSchedule('linear', 100, { betaStart: 1e-4, betaEnd: 0.02 });

const bits = (a: ArrayLike<number>): Buffer => Buffer.from(Float32Array.from(a).buffer);

/** A conditional denoiser with moved running statistics, and an unconditional one holding its shared weights. */
function pair(c: number, seed: number): { cond: LatentDenoiser; plain: LatentDenoiser } {
  const d = 16, rng = new Rng(seed);
  const cond = new LatentDenoiser({ d, channels: CH, condDim: c, rng, backend: be });
  const x = new Tensor(be.fromArray(rng.fillNormal(new Float32Array(8 * d))), [8, d], be);
  const cc = new Tensor(be.fromArray(rng.fillNormal(new Float32Array(8 * c))), [8, c], be);
  noGrad(() => cond.forward(x, Int32Array.from([1, 2, 3, 4, 5, 6, 7, 8]), cc)); // move the running stats
  // the cond embedding changes a bit more than at init, so guidance has something to amplify
  const plain = new LatentDenoiser({ d, channels: CH, rng: new Rng(seed + 1), backend: be });
  plain.loadStateDict(cond.stateDict().filter(([n]) => !n.startsWith('cond_embed.')).map(([n, t]) => [n, { shape: [...t.shape], data: t.toArray() }] as [string, { shape: number[]; data: ArrayLike<number> }]));
  return { cond: cond.eval(), plain: plain.eval() };
}

function forwardHost(net: LatentDenoiser, x: Float32Array, t: number, cond?: Float32Array): Float32Array {
  const n = x.length / net.d;
  const xt = new Tensor(be.fromArray(x), [n, net.d], be);
  const ct = cond ? new Tensor(be.fromArray(cond), [n, net.condDim], be) : undefined;
  return Float32Array.from(noGrad(() => net.forward(xt, t, ct)).toArray());
}

test('guidedEpsModel: w = 1 is the conditional model, w = 0 the null-conditioned (= unconditional) one, bit for bit', () => {
  const c = 10, { cond: net, plain } = pair(c, 3);
  const rng = new Rng(4);
  const x = rng.fillNormal(new Float32Array(3 * 16)) as Float32Array;
  const codes = new Float32Array(3 * c);
  ['0110010011', '1000000001', '0000011111'].forEach((s, i) => codes.set(encodeCode(s), i * c));
  const w1 = guidedEpsModel(net, codes, 1)(x, 37, 3, 16).slice();
  assert.ok(bits(w1).equals(bits(forwardHost(net, x, 37, codes))));
  const w0 = guidedEpsModel(net, codes, 0)(x, 37, 3, 16).slice();
  assert.ok(bits(w0).equals(bits(forwardHost(net, x, 37, nullCondition(c, 3)))));
  assert.ok(bits(w0).equals(bits(forwardHost(plain, x, 37))), 'the null branch is the unconditional denoiser');
  assert.ok(!bits(w0).equals(bits(w1)));
  // Other w: both branches in one batch of 2n rows, combined in float64.
  for (const w of [0.5, 2.5]) {
    const got = guidedEpsModel(net, codes, w)(x, 37, 3, 16);
    const ec = forwardHost(net, x, 37, codes), en = forwardHost(net, x, 37, nullCondition(c, 3));
    // (GEMM blocking depends on the batch size: allow float32 rounding of the two branches.)
    got.forEach((v, i) => assert.ok(Math.abs(v - (en[i]! + w * (ec[i]! - en[i]!))) < 1e-5 * (1 + w), `w ${w}, value ${i}: ${v}`));
  }
});

test('guidedEpsModel and generateLatents refuse what does not fit', () => {
  const c = 4, { cond: net, plain } = pair(c, 5);
  const code = encodeCode('0110');
  assert.throws(() => guidedEpsModel(plain, code, 1), (e: unknown) => e instanceof ConfigError && /unconditional/.test(e.message));
  assert.throws(() => guidedEpsModel(net, code, -1), /generate\.guidance: expected a finite number >= 0, got -1/);
  assert.throws(() => guidedEpsModel(net, code, NaN), ConfigError);
  assert.throws(() => guidedEpsModel(net, new Float32Array(6), 1), /expected conditions \[n, 4\]/);
  const eps = guidedEpsModel(net, code, 2);
  assert.throws(() => eps(new Float32Array(32), 1, 2, 16), (e: unknown) => e instanceof ShapeError && /expected x \[1, 16\]/.test(e.message));
  assert.throws(() => generateLatents(plain, sched, 5, 16, gen, new Rng(1), 1, { cond: code }), /a condition was given, but the denoiser is unconditional/);
  assert.throws(() => generateLatents(net, sched, 5, 16, gen, new Rng(1)), /the denoiser is conditional \(condDim 4\); expected a condition/);
  assert.throws(() => generateLatents(net, sched, 5, 16, gen, new Rng(1), 1, { cond: new Float32Array(8) }), /generateLatents: cond: expected one condition of 4 values or 5 x 4 = 20/);
});

test('generateLatents with conditions: guidance 0 samples what the unconditional denoiser samples; w = 1 is the conditional model in the samplers', () => {
  const c = 10, { cond: net, plain } = pair(c, 7);
  const code = encodeCode('0110010011');
  for (const sampler of ['ddpm', 'ddim'] as const) {
    const g = { ...gen, sampler, eta: 0.5, batchSize: 3 };
    const want = generateLatents(plain, sched, 5, 16, g, new Rng(9));
    const got = generateLatents(net, sched, 5, 16, { ...g, guidance: 0 }, new Rng(9), 1, { cond: code });
    assert.ok(bits(got).equals(bits(want)), `${sampler}: guidance 0 = unconditional`);
    const cond1 = generateLatents(net, sched, 5, 16, { ...g, guidance: 1 }, new Rng(9), 1, { cond: code });
    assert.ok(!bits(cond1).equals(bits(want)), `${sampler}: the code changes the samples`);
    // one condition for all rows = the same condition given per row
    const perRow = new Float32Array(5 * c);
    for (let r = 0; r < 5; r++) perRow.set(code, r * c);
    assert.ok(bits(generateLatents(net, sched, 5, 16, { ...g, guidance: 1 }, new Rng(9), 1, { cond: perRow })).equals(bits(cond1)));
    // guidance 2.5 is deterministic under a seed and differs from plain conditional sampling
    const g25 = generateLatents(net, sched, 5, 16, { ...g, guidance: 2.5 }, new Rng(9), 1, { cond: code });
    assert.ok(bits(generateLatents(net, sched, 5, 16, { ...g, guidance: 2.5 }, new Rng(9), 1, { cond: code })).equals(bits(g25)));
    assert.ok(!bits(g25).equals(bits(cond1)));
    assert.ok(g25.every(Number.isFinite));
  }
  // per-row conditions across batches: batch b samples under its own rows' conditions
  const five = new Float32Array(5 * c);
  ['0110010011', '1000000001', '0000011111', '1111100000', '0101010101'].forEach((s, i) => five.set(encodeCode(s), i * c));
  const g3 = { ...gen, batchSize: 3, guidance: 2 };
  const all = generateLatents(net, sched, 5, 16, g3, new Rng(4), 1, { cond: five });
  const rng = new Rng(4);
  const first = generateLatents(net, sched, 3, 16, g3, rng, 1, { cond: five.subarray(0, 3 * c) });
  const rest = generateLatents(net, sched, 2, 16, g3, rng, 1, { cond: five.subarray(3 * c) });
  assert.ok(bits(all).equals(Buffer.concat([bits(first), bits(rest)])));
  // The sampler loops with a guided model at w = 1 equal the loops with the plain conditional forward.
  const condRows = new Float32Array(4 * c);
  for (let r = 0; r < 4; r++) condRows.set(encodeCode(r % 2 ? '1000000001' : '0110010011'), r * c);
  const direct: EpsModel = (x, t) => forwardHost(net, x, t, condRows);
  assert.ok(bits(pSampleLoop(sched, guidedEpsModel(net, condRows, 1), 4, 16, new Rng(2))).equals(bits(pSampleLoop(sched, direct, 4, 16, new Rng(2)))));
  assert.ok(bits(ddimSampleLoop(sched, guidedEpsModel(net, condRows, 1), 4, 16, new Rng(2), { steps: 10, eta: 0.3 }))
    .equals(bits(ddimSampleLoop(sched, direct, 4, 16, new Rng(2), { steps: 10, eta: 0.3 }))));
});

// ---------------------------------------------------------------- training

const diffCfg = { ...base.diffusion, channels: CH, timesteps: 100, steps: 150, batchSize: 32, lr: 3e-3 };

/** K latents in two clusters (+2 and -2 in every coordinate, small noise), conditioned on a 1-bit code. */
function clusters(K: number, d: number, seed: number): { lat: Float32Array; cond: Float32Array } {
  const rng = new Rng(seed);
  const lat = new Float32Array(K * d), cond = new Float32Array(K);
  for (let k = 0; k < K; k++) {
    const s = k % 2 ? 1 : -1;
    cond[k] = s;
    for (let j = 0; j < d; j++) lat[k * d + j] = 2 * s + 0.1 * rng.normal();
  }
  return { lat, cond };
}

const mean = (a: Float32Array): number => a.reduce((s, v) => s + v, 0) / a.length;

test('a conditional diffusion run learns its condition; guidance pushes the samples further', () => {
  const K = 40, d = 16;
  const { lat, cond } = clusters(K, d, 1);
  const cfg = { ...diffCfg, timesteps: 1000, steps: 600, latentScale: 'std' as const };
  const r = trainDiffusion(lat, K, d, cfg, { rng: new Rng(2), cond: { data: cond, dim: 1 } });
  assert.equal(r.model.condDim, 1);
  assert.deepEqual(r.model.stateDict().slice(-2).map(([n, t]) => [n, t.shape]), [['cond_embed.0.weight', [d, 1]], ['cond_embed.2.weight', [d, d]]]);
  const g = { ...gen, n: 8, batchSize: 8, sampler: 'ddim' as const, ddimSteps: 50 };
  const sample = (w: number, c: number): number => mean(generateLatents(r.model, r.schedule, 8, d, { ...g, guidance: w }, new Rng(3), r.latentScale, { cond: Float32Array.of(c) }));
  const pos = sample(1, 1), neg = sample(1, -1);
  assert.ok(pos > 1 && neg < -1, `samples for +1 average ${pos}, for -1 ${neg} (the clusters sit at +2 and -2)`);
  const pos3 = sample(3, 1), neg3 = sample(3, -1);
  assert.ok(pos3 > pos && neg3 < neg, `guidance 3 gives ${pos3} and ${neg3}, guidance 1 ${pos} and ${neg}`);
});

test('conditional training: resumed from a checkpoint (through a file) equals the uninterrupted run; dropout matters; bad conditions are refused', () => {
  const K = 12, d = 16;
  const { lat, cond } = clusters(K, d, 4);
  const cfg = { ...diffCfg, steps: 6, batchSize: 4, ema: 0.9, condDropout: 0.5 };
  const states: DiffusionTrainState[] = [];
  const full = trainDiffusion(lat, K, d, cfg, { rng: new Rng(6), cond: { data: cond, dim: 1 }, checkpointEvery: 3, onCheckpoint: (s) => states.push(s) });
  assert.deepEqual(states.map((s) => s.step), [3]);
  assert.match(states[0]!.config, /"condDim":1/);
  assert.match(states[0]!.config, /"condDropout":0\.5/);
  const dir = mkdtempSync(join(tmpdir(), 'pdiff-cond-state-'));
  let state: DiffusionTrainState;
  try {
    const path = join(dir, 'state.safetensors');
    const { tensors, meta } = serializeTrainState(states[0]!);
    writeSafetensors(path, tensors, meta);
    const f = readSafetensors(path);
    state = deserializeTrainState(f.tensors, f.metadata, path) as DiffusionTrainState;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const resumed = trainDiffusion(lat, K, d, cfg, { rng: new Rng(123), cond: { data: cond, dim: 1 }, resume: state });
  assert.deepEqual(resumed.lossCurve, full.lossCurve);
  const sa = full.model.stateDict(), sb = resumed.model.stateDict();
  sa.forEach(([n, t], i) => assert.ok(bits(t.toArray()).equals(bits(sb[i]![1].toArray())), `${n} differs after resuming`));
  // condition dropout changes the run (and draws from the same generator)
  const noDrop = trainDiffusion(lat, K, d, { ...cfg, condDropout: 0 }, { rng: new Rng(6), cond: { data: cond, dim: 1 } });
  assert.notDeepEqual(noDrop.lossCurve, full.lossCurve);
  // a conditional state does not resume an unconditional run, nor one with another dropout
  assert.throws(() => trainDiffusion(lat, K, d, cfg, { rng: new Rng(6), resume: state }), /different config/);
  assert.throws(() => trainDiffusion(lat, K, d, { ...cfg, condDropout: 0.2 }, { rng: new Rng(6), cond: { data: cond, dim: 1 }, resume: state }), /different config/);
  assert.throws(() => trainDiffusion(lat, K, d, cfg, { rng: new Rng(6), cond: { data: new Float32Array(K + 1), dim: 1 } }), /trainDiffusion: conditions: expected 12 x 1 = 12 values, got 13/);
  assert.throws(() => trainDiffusion(lat, K, d, cfg, { rng: new Rng(6), cond: { data: cond, dim: 0 } }), ShapeError);
});

test('unconditional training ignores diffusion.condDropout and keeps its training-state string', () => {
  const K = 12, d = 16;
  const { lat } = clusters(K, d, 4);
  const cfg = { ...diffCfg, steps: 4, batchSize: 4 };
  const states: DiffusionTrainState[] = [];
  const a = trainDiffusion(lat, K, d, cfg, { rng: new Rng(6), checkpointEvery: 2, onCheckpoint: (s) => states.push(s) });
  const b = trainDiffusion(lat, K, d, { ...cfg, condDropout: 0.7 }, { rng: new Rng(6) });
  assert.deepEqual(a.lossCurve, b.lossCurve);
  assert.equal(a.model.condDim, 0);
  assert.doesNotMatch(states[0]!.config, /condDropout|condDim/);
});
