import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { jsBackend } from '../../src/backend/index.js';
import { type CollectConfig, resolveConfig } from '../../src/config/index.js';
import { CnnS } from '../../src/models/index.js';
import { Rng } from '../../src/tensor/random.js';
import { ConfigError } from '../../src/util/errors.js';
import { type CollectResume, collectCheckpoints } from '../../src/zoo/collect.js';
import { ParamLayout, selectParams } from '../../src/zoo/layout.js';
import { trainClassifier } from '../../src/zoo/train.js';
import type { Dataset } from '../../src/data/dataset.js';

const be = jsBackend();

/** n images 1x8x8 of 4 classes: a fixed random +-1 template per class plus N(0, 0.36) noise. */
function synthetic(n: number, seed: number): Dataset {
  const tRng = new Rng(12345);
  const templates = Array.from({ length: 4 }, () => Float32Array.from({ length: 64 }, () => (tRng.uniform() < 0.5 ? -1 : 1)));
  const rng = new Rng(seed);
  const images = new Float32Array(n * 64);
  const labels = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const c = rng.int(4);
    labels[i] = c;
    for (let j = 0; j < 64; j++) images[i * 64 + j] = templates[c]![j]! + 0.6 * rng.normal();
  }
  return { name: `synthetic-${seed}`, images, labels, n, c: 1, h: 8, w: 8, numClasses: 4 };
}

const train = synthetic(256, 11);
const fresh = (): CnnS => new CnnS({ rng: new Rng(0), backend: be, numClasses: 4, widths: [8, 16, 16] });

// A briefly trained base model and its full state.
const base = fresh();
trainClassifier(base, train, { ...resolveConfig({ preset: 'fmnist-tiny' }).base, epochs: 1, batchSize: 32, lr: 1e-2 }, { rng: new Rng(1), progress: false });
base.eval();
const baseState = base.stateDict().map(([n, t]) => [n, t.toArray()] as const);
const fromBase = (): CnnS => {
  const m = fresh();
  m.loadStateDict(baseState.map(([n, d]) => [n, { shape: m.stateDict().find(([k]) => k === n)![1].shape, data: d }]));
  return m;
};
const cfg = (over: Partial<CollectConfig> = {}): CollectConfig => ({ ...resolveConfig({ preset: 'fmnist-tiny' }).collect, k: 6, batchSize: 32, ...over });
const layoutOf = (m: CnnS): ParamLayout => ParamLayout.fromModel(m, selectParams(m, 'bn'));
/** Floats per checkpoint: bn2 and bn3 weight + bias of widths [8, 16, 16]. */
const T = 2 * 16 + 2 * 16;

describe('collectCheckpoints', () => {
  it('writes K rows; only the subset changes (frozen tensors and running stats stay bit-identical); the model is restored', () => {
    const m = fromBase();
    const layout = layoutOf(m);
    const sub = new Set(layout.names);
    const seen: number[] = [];
    const { ckpts, seconds } = collectCheckpoints(m, train, layout, cfg(), {
      rng: new Rng(5),
      progress: false,
      onCheckpoint: (k, vec) => {
        seen.push(k);
        assert.deepEqual(layout.read(m), vec);
        for (const [i, [name, t]] of m.stateDict().entries()) {
          if (!sub.has(name)) assert.deepEqual(t.toArray(), baseState[i]![1], `${name} changed at checkpoint ${k}`);
        }
        assert.ok(!m.training, 'bnMode eval runs the model in eval mode');
      },
    });
    assert.deepEqual(seen, [0, 1, 2, 3, 4, 5]);
    assert.equal(ckpts.length, 6 * layout.total);
    assert.ok(seconds > 0);
    const start = ParamLayout.fromModel(base, layout.names).read(base);
    for (let k = 0; k < 6; k++) {
      const row = ckpts.subarray(k * T, (k + 1) * T);
      const prev = k === 0 ? start : ckpts.subarray((k - 1) * T, k * T);
      assert.notDeepEqual(row, prev, `row ${k} equals the one before`);
      assert.ok(row.every(Number.isFinite));
    }
    // Restored: values, flags, mode.
    m.stateDict().forEach(([name, t], i) => assert.deepEqual(t.toArray(), baseState[i]![1], `${name} not restored`));
    assert.ok(m.parameters().every((p) => p.requiresGrad && p.grad === null));
    assert.ok(m.training);
  });

  it('saveEvery n keeps every n-th iterate of the same trajectory', () => {
    const all = collectCheckpoints(fromBase(), train, layoutOf(base), cfg({ k: 6 }), { rng: new Rng(5), progress: false }).ckpts;
    const every2 = collectCheckpoints(fromBase(), train, layoutOf(base), cfg({ k: 3, saveEvery: 2 }), { rng: new Rng(5), progress: false }).ckpts;
    for (let r = 0; r < 3; r++) assert.deepEqual(every2.subarray(r * T, (r + 1) * T), all.subarray((2 * r + 1) * T, (2 * r + 2) * T));
  });

  it('a resumed collection is bit-identical to an uninterrupted one', () => {
    const layout = layoutOf(base);
    const full = collectCheckpoints(fromBase(), train, layout, cfg(), { rng: new Rng(9), progress: false }).ckpts;

    // Interrupted after checkpoint index 2: persist the snapshot as JSON, as a run folder would.
    let saved = '';
    const rows: number[] = [];
    assert.throws(() => collectCheckpoints(fromBase(), train, layout, cfg(), {
      rng: new Rng(9),
      progress: false,
      onCheckpoint: (k, vec, snapshot) => {
        rows.push(...vec);
        const s = snapshot();
        saved = JSON.stringify({ ...s, vec: [...s.vec], optimizerState: { step: s.optimizerState.step, buffers: s.optimizerState.buffers.map((b) => [...Array.from(b)]) } });
        if (k === 2) throw new Error('simulated crash');
      },
    }), /simulated crash/);
    const j = JSON.parse(saved) as { k: number; vec: number[]; optimizerState: { step: number; buffers: number[][] }; rngState: number[] };
    assert.equal(j.k, 3);
    const startFrom: CollectResume = { ...j, vec: Float32Array.from(j.vec), ckpts: Float32Array.from(rows) };
    // A new process: a fresh model loaded from the base state and a generator with another seed.
    const resumed = collectCheckpoints(fromBase(), train, layout, cfg(), { rng: new Rng(12345), progress: false, startFrom }).ckpts;
    assert.deepEqual(resumed, full);
  });

  it('bnMode train uses batch statistics, and the base running statistics are still restored', () => {
    const m = fromBase();
    const layout = layoutOf(m);
    const ev = collectCheckpoints(m, train, layout, cfg({ k: 2 }), { rng: new Rng(5), progress: false }).ckpts;
    const tr = collectCheckpoints(m, train, layout, cfg({ k: 2, bnMode: 'train' }), { rng: new Rng(5), progress: false }).ckpts;
    assert.notDeepEqual(ev, tr);
    m.stateDict().forEach(([name, t], i) => assert.deepEqual(t.toArray(), baseState[i]![1], `${name} not restored`));
  });

  it('refuses buffers in the layout', () => {
    const m = fromBase();
    assert.throws(() => collectCheckpoints(m, train, ParamLayout.fromModel(m, ['bn3.running_mean']), cfg(), { rng: new Rng(0), progress: false }),
      (e: unknown) => e instanceof ConfigError && e.message.includes('"bn3.running_mean" is not a learnable parameter'));
  });
});
