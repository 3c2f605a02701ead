import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { jsBackend } from '../../src/backend/index.js';
import { type BaseConfig, resolveConfig } from '../../src/config/index.js';
import type { Dataset } from '../../src/data/dataset.js';
import { CnnS } from '../../src/models/index.js';
import { Rng } from '../../src/tensor/random.js';
import { ConfigError } from '../../src/util/errors.js';
import { JsonlLog, readJsonl } from '../../src/util/jsonl.js';
import { baseSchedule, evaluateClassifier, trainClassifier } from '../../src/zoo/train.js';

const be = jsBackend();
const dir = mkdtempSync(join(tmpdir(), 'pdiff-train-'));
process.on('exit', () => rmSync(dir, { recursive: true, force: true }));

/** n images 1x8x8 of `classes` classes: a fixed random +-1 template per class plus N(0, noise^2). */
function synthetic(n: number, seed: number, classes = 4, noise = 0.6): Dataset {
  const tRng = new Rng(12345);
  const templates = Array.from({ length: classes }, () => Float32Array.from({ length: 64 }, () => (tRng.uniform() < 0.5 ? -1 : 1)));
  const rng = new Rng(seed);
  const images = new Float32Array(n * 64);
  const labels = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const c = rng.int(classes);
    labels[i] = c;
    for (let j = 0; j < 64; j++) images[i * 64 + j] = templates[c]![j]! + noise * rng.normal();
  }
  return { name: `synthetic-${seed}`, images, labels, n, c: 1, h: 8, w: 8, numClasses: classes };
}

const model = (seed: number): CnnS => new CnnS({ rng: new Rng(seed), backend: be, numClasses: 4, widths: [8, 16, 16] });
const cfg = (over: Partial<BaseConfig> = {}): BaseConfig => ({ ...resolveConfig({ preset: 'fmnist-tiny' }).base, epochs: 3, batchSize: 32, lr: 1e-2, ...over });

describe('trainClassifier', () => {
  const train = synthetic(512, 1);
  const val = synthetic(200, 2);

  it('drives the training loss down by more than 3x in 48 steps and reaches > 90 % val accuracy', () => {
    const m = model(0);
    const before = evaluateClassifier(m, train).loss;
    const log = new JsonlLog(join(dir, 'train.jsonl'));
    const epochs: number[] = [];
    const { history } = trainClassifier(m, train, cfg(), { rng: new Rng(7), val, log, progress: false, logEvery: 10, onEpoch: (e) => epochs.push(e.epoch) });
    const after = evaluateClassifier(m, train).loss;
    assert.ok(after < before / 3, `loss ${before.toFixed(3)} -> ${after.toFixed(3)}`);
    assert.equal(history.length, 3);
    assert.deepEqual(epochs, [1, 2, 3]);
    assert.ok(history[2]!.trainLoss < history[0]!.trainLoss);
    assert.ok(history[2]!.valAcc! > 90, `val acc ${history[2]!.valAcc}`);
    assert.ok(history.every((h) => h.seconds > 0 && h.trainAcc >= 0 && h.trainAcc <= 100));
    assert.ok(m.training, 'left in train mode');
    const lines = readJsonl<{ event: string; iter?: number }>(join(dir, 'train.jsonl'));
    assert.deepEqual(lines.filter((l) => l.event === 'step').map((l) => l.iter), [10, 20, 30, 40]);
    assert.equal(lines.filter((l) => l.event === 'epoch').length, 3);
  });

  it('is deterministic under the seed and supports SGD and augmentation', () => {
    const run = (over: Partial<BaseConfig>, augment = false): Float32Array[] => {
      const m = model(0);
      trainClassifier(m, train, cfg({ epochs: 1, ...over }), { rng: new Rng(7), progress: false, augment });
      return m.stateDict().map(([, t]) => t.toArray() as Float32Array);
    };
    assert.deepEqual(run({}), run({}));
    const sgd = run({ optimizer: 'sgd', lr: 0.05 });
    assert.ok(sgd.every((a) => a.every(Number.isFinite)));
    assert.notDeepEqual(run({}, true), run({}));
  });

  it('rejects a batch larger than the dataset', () => {
    assert.throws(() => trainClassifier(model(0), synthetic(10, 3), cfg(), { rng: new Rng(0), progress: false }), ConfigError);
  });

  it('schedules: cosine(T, 0) per iteration, warm-up, constant', () => {
    const c = baseSchedule(cfg({ lr: 1 }), 100);
    assert.equal(c(0), 1);
    assert.ok(Math.abs(c(50) - 0.5) < 1e-12);
    assert.ok(c(99) < 0.001);
    const w = baseSchedule(cfg({ lr: 1, warmupSteps: 10 }), 110);
    assert.ok(Math.abs(w(0) - 0.1) < 1e-12);
    assert.equal(w(10), 1);
    assert.equal(baseSchedule(cfg({ lr: 0.3, schedule: 'constant' }), 10)(9), 0.3);
  });
});

describe('evaluateClassifier', () => {
  it('gives the same predictions for any batch size, restores the mode, and reports accuracy in percent', () => {
    const ds = synthetic(100, 5);
    const m = model(1);
    const a = evaluateClassifier(m, ds, { batch: 100 });
    const b = evaluateClassifier(m, ds, { batch: 32 });
    assert.deepEqual(a.preds, b.preds);
    assert.ok(Math.abs(a.loss - b.loss) < 1e-5);
    let ok = 0;
    for (let i = 0; i < ds.n; i++) if (a.preds[i] === ds.labels[i]) ok++;
    assert.equal(a.acc, ok);
    assert.ok(m.training);
    m.eval();
    evaluateClassifier(m, ds);
    assert.ok(!m.training);
  });
});
