/**
 * The accuracy zoo: the candidate schedule and the selection by label are pinned, a run is a
 * deterministic function of (seed, run index, init mode), the labels are the val accuracies a
 * direct evaluation gives, and an interrupted collection, resumed, writes the same bytes.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { candidateSteps, spreadByAccuracy } from '../../src/accuracy/schedule.js';
import {
  accuracyInit, accuracyLayout, checkAccuracyRecipe, collectAccuracyZoo, labelHistogram, readAccuracyZoo, trainAccuracyRun, zooRow,
  type AccuracyZooManifest,
} from '../../src/accuracy/zoo.js';
import { Rng } from '../../src/tensor/random.js';
import { ConfigError, FormatError } from '../../src/util/errors.js';
import { evaluateClassifier } from '../../src/zoo/train.js';
import { buildCnn, buildMlp, recipe, train, val } from './fixture.js';

const tmp = mkdtempSync(join(tmpdir(), 'pdiff-accuracy-'));
process.on('exit', () => rmSync(tmp, { recursive: true, force: true }));

const model = buildMlp(new Rng(5));
const layout = accuracyLayout(model, { mode: 'whole', bnMode: 'train' });

/** Every file of a folder, name -> bytes. */
const filesOf = (dir: string): Map<string, Buffer> => new Map(readdirSync(dir).sort().map((f) => [f, readFileSync(join(dir, f))]));

describe('candidateSteps / spreadByAccuracy', () => {
  it('puts step 0 and every early step first, then geometric steps ending at the last', () => {
    assert.deepEqual(candidateSteps(100, 10), [0, 1, 2, 3, 6, 10, 18, 32, 56, 100]);
    assert.deepEqual(candidateSteps(40, 14), [0, 1, 2, 3, 5, 6, 9, 12, 16, 22, 29, 40]);
    assert.deepEqual(candidateSteps(3, 10), [0, 1, 2, 3]);
    assert.equal(candidateSteps(4000, 100).length, 82);
    assert.throws(() => candidateSteps(0, 10), ConfigError);
    assert.throws(() => candidateSteps(10, 2), ConfigError);
  });

  it('fills k equal bins as evenly as their labels allow (water-filling), keeping lo and hi', () => {
    // bins of 20 points: {10, 12}, {30, 31}, {50}, {70, 71, 90}: one each, the first bin's lowest,
    // the last bin's highest, the others their middle (lower on an even count)
    assert.deepEqual([...spreadByAccuracy([10, 12, 30, 31, 50, 70, 71, 90], 4)], [0, 2, 4, 7]);
    assert.deepEqual([...spreadByAccuracy([0, 4, 6, 10], 3)], [0, 1, 3]);
    // an empty bin's slot goes to a bin that has labels left: bin 0 keeps its lowest and highest
    assert.deepEqual([...spreadByAccuracy([0, 1, 2, 3, 4, 100], 3)], [0, 4, 5]);
    // a partial round: 1 slot for 2 open bins {0, 1, 2} and {98, 99, 100} goes to floor(0.5 * 2 / 1) = the second
    assert.deepEqual([...spreadByAccuracy([0, 1, 2, 50, 98, 99, 100], 4)], [0, 3, 4, 6]);
    // ties within a bin are sorted by index: the middle of indices 0, 2, 3 (all 5) is 2
    assert.deepEqual([...spreadByAccuracy([5, 0, 5, 5, 10], 3)], [1, 2, 4]);
    assert.deepEqual([...spreadByAccuracy([3, 1, 2], 1)], [0]); // k = 1: the best
    assert.deepEqual([...spreadByAccuracy([7, 7, 7], 2)], [0, 2]); // one value: one bin, its ends
    assert.throws(() => spreadByAccuracy([1, 2], 3), ConfigError);
    assert.throws(() => spreadByAccuracy([1, NaN, 3], 2), ConfigError);
  });
});

describe('checkAccuracyRecipe / accuracyLayout', () => {
  it('names the key of a bad value', () => {
    const bad = (patch: object, key: RegExp): void => assert.throws(() => checkAccuracyRecipe({ ...recipe, ...patch }), (e: unknown) => e instanceof ConfigError && key.test(e.message));
    bad({ steps: 0 }, /accuracy\.recipe\.steps/);
    bad({ lr: -1 }, /accuracy\.recipe\.lr/);
    bad({ warmupSteps: 41 }, /accuracy\.recipe\.warmupSteps/);
    bad({ k: 13 }, /accuracy\.recipe\.k: 13 checkpoints cannot be chosen from 12 distinct candidate steps/);
    bad({ init: 'random' }, /accuracy\.recipe\.init/);
    bad({ bnMode: 'frozen' }, /accuracy\.recipe\.bnMode/);
  });

  it('adds every BN buffer in train mode, and refuses a train-mode layout without them', () => {
    const cnn = buildCnn(new Rng(1));
    const withStats = accuracyLayout(cnn, { mode: 'whole', bnMode: 'train' });
    assert.ok(withStats.names.includes('bn1.running_mean') && withStats.names.includes('bn3.running_var'));
    assert.deepEqual(withStats.names, cnn.stateDict().map(([n]) => n).filter((n) => withStats.names.includes(n)));
    const params = accuracyLayout(cnn, { mode: 'whole', bnMode: 'eval' });
    assert.ok(!params.names.some((n) => n.includes('running')));
    assert.throws(() => trainAccuracyRun({ model: cnn, layout: params, init: params.read(cnn), train, recipe, seed: 0, run: 0 }),
      (e: unknown) => e instanceof ConfigError && /bnMode "train" changes the running statistics.*bn1\.running_mean/.test(e.message));
  });
});

describe('trainAccuracyRun', () => {
  const init = accuracyInit(buildMlp, layout, 'shared', 0, 0);

  it('is deterministic per (seed, run), starts at init, and restores the holder', () => {
    const before = layout.read(model);
    const a = trainAccuracyRun({ model, layout, init, train, recipe, seed: 0, run: 0 });
    const b = trainAccuracyRun({ model, layout, init, train, recipe, seed: 0, run: 0 });
    assert.deepEqual(a.steps, candidateSteps(recipe.steps, recipe.candidates));
    assert.deepEqual(a.ckpts, b.ckpts);
    assert.deepEqual(a.ckpts.subarray(0, layout.total), init);
    assert.deepEqual(layout.read(model), before);
    assert.ok(model.parameters().every((p) => p.grad === null));
    const c = trainAccuracyRun({ model, layout, init, train, recipe, seed: 0, run: 1 });
    assert.deepEqual(c.ckpts.subarray(0, layout.total), init);
    assert.notDeepEqual(c.ckpts.subarray(layout.total), a.ckpts.subarray(layout.total)); // other minibatches
    // the last candidate is the end of the run: a run of 29 steps ends where this one's candidate 29 is
    const short = trainAccuracyRun({ model, layout, init, train, recipe: { ...recipe, steps: 29, candidates: 3, k: 1 }, seed: 0, run: 0 });
    const at29 = a.steps.indexOf(29);
    assert.deepEqual(short.ckpts.subarray(short.steps.length * layout.total - layout.total), a.ckpts.subarray(at29 * layout.total, (at29 + 1) * layout.total));
  });

  it('draws one init for every run when shared, one per run otherwise', () => {
    assert.deepEqual(accuracyInit(buildMlp, layout, 'shared', 0, 3), init);
    assert.notDeepEqual(accuracyInit(buildMlp, layout, 'per-run', 0, 3), init);
    assert.deepEqual(accuracyInit(buildMlp, layout, 'per-run', 0, 3), accuracyInit(buildMlp, layout, 'per-run', 0, 3));
    assert.notDeepEqual(accuracyInit(buildMlp, layout, 'shared', 1, 0), init);
  });

  it('warms the learning rate up linearly', () => {
    const warm = trainAccuracyRun({ model, layout, init, train, recipe: { ...recipe, warmupSteps: 10 }, seed: 0, run: 0 });
    const cold = trainAccuracyRun({ model, layout, init, train, recipe, seed: 0, run: 0 });
    assert.notDeepEqual(warm.ckpts.subarray(layout.total, 2 * layout.total), cold.ckpts.subarray(layout.total, 2 * layout.total));
    // the first step moves the weights by about lr / 10 (Adam's first step is lr * sign-like)
    let dw = 0, dc = 0;
    for (let i = 0; i < layout.total; i++) {
      dw = Math.max(dw, Math.abs(warm.ckpts[layout.total + i]! - init[i]!));
      dc = Math.max(dc, Math.abs(cold.ckpts[layout.total + i]! - init[i]!));
    }
    assert.ok(dw < dc / 5 && dw > 0, `first-step move ${dw} with warm-up, ${dc} without`);
  });
});

describe('collectAccuracyZoo', () => {
  const dir = join(tmp, 'full');
  const zoo = collectAccuracyZoo({ model, build: buildMlp, layout, train, val, recipe, seed: 0, runs: 3, dir, progress: false });

  it('keeps k rows per run, spread from chance to the run\'s best, labelled by their val accuracy', () => {
    assert.equal(zoo.rows.length, 3 * recipe.k * layout.total);
    assert.deepEqual([...zoo.run], [0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2]);
    for (const inf of zoo.info) {
      assert.equal(inf.candidateLabels.length, 12);
      const keep = spreadByAccuracy(inf.candidateLabels, recipe.k);
      const r = inf.run;
      assert.deepEqual([...zoo.step.subarray(r * 5, r * 5 + 5)], [...keep].map((c) => inf.candidateSteps[c]!));
      assert.deepEqual([...zoo.labels.subarray(r * 5, r * 5 + 5)], [...keep].map((c) => inf.candidateLabels[c]!));
    }
    assert.equal(zoo.step[0], 0);
    const lo = Math.min(...zoo.labels), hi = Math.max(...zoo.labels);
    assert.ok(lo < 30 && hi > 90, `labels ${lo}..${hi}`);
  });

  it('labels each row with the accuracy a direct evaluation gives', () => {
    const probe = buildMlp(new Rng(77));
    for (let i = 0; i < zoo.labels.length; i++) {
      layout.write(probe, zooRow(zoo, i));
      assert.equal(zoo.labels[i], evaluateClassifier(probe, val).acc, `row ${i}`);
    }
  });

  it('rows are the run\'s values at their steps (same seed, same bits)', () => {
    const init = accuracyInit(buildMlp, layout, 'shared', 0, 1);
    const run1 = trainAccuracyRun({ model, layout, init, train, recipe, seed: 0, run: 1 });
    for (let j = 0; j < recipe.k; j++) {
      const c = run1.steps.indexOf(zoo.step[5 + j]!);
      assert.deepEqual(zooRow(zoo, 5 + j), run1.ckpts.subarray(c * layout.total, (c + 1) * layout.total));
    }
  });

  it('reads back what it wrote', () => {
    const back = readAccuracyZoo(dir);
    assert.deepEqual(back.rows, zoo.rows);
    assert.deepEqual(back.labels, zoo.labels);
    assert.deepEqual(back.step, zoo.step);
    assert.deepEqual(back.run, zoo.run);
    assert.equal(back.plan, zoo.plan);
    assert.deepEqual(back.info.map((x) => x.candidateLabels), zoo.info.map((x) => x.candidateLabels));
    assert.deepEqual(back.layout.toJSON(), layout.toJSON());
    const m = JSON.parse(readFileSync(join(dir, 'zoo.json'), 'utf8')) as AccuracyZooManifest;
    assert.deepEqual(m.labelRange, { lo: Math.min(...zoo.labels), hi: Math.max(...zoo.labels) });
  });

  it('resumes an interrupted collection to the same bytes, and redoes a run whose file is stale', () => {
    const cut = join(tmp, 'cut');
    assert.throws(() => collectAccuracyZoo({
      model, build: buildMlp, layout, train, val, recipe, seed: 0, runs: 3, dir: cut, progress: false,
      onRun: (done) => { if (done === 2) throw new Error('killed'); },
    }), /killed/);
    assert.deepEqual([...filesOf(cut).keys()], ['run-0000.safetensors', 'run-0001.safetensors']);
    const resumed = collectAccuracyZoo({ model, build: buildMlp, layout, train, val, recipe, seed: 0, runs: 3, dir: cut, progress: false });
    assert.deepEqual(resumed.info.map((x) => x.reused), [true, true, false]);
    assert.deepEqual(filesOf(cut), filesOf(dir));
    // a run file of another seed is not reused: retrained, and the bytes come back
    const other = join(tmp, 'other');
    collectAccuracyZoo({ model, build: buildMlp, layout, train, val, recipe, seed: 1, runs: 1, dir: other, progress: false });
    writeFileSync(join(cut, 'run-0001.safetensors'), readFileSync(join(other, 'run-0000.safetensors')));
    const again = collectAccuracyZoo({ model, build: buildMlp, layout, train, val, recipe, seed: 0, runs: 3, dir: cut, progress: false });
    assert.deepEqual(again.info.map((x) => x.reused), [true, false, true]);
    assert.deepEqual(filesOf(cut), filesOf(dir));
  });

  it('refuses a run file of another collection on read', () => {
    const bad = join(tmp, 'bad');
    collectAccuracyZoo({ model, build: buildMlp, layout, train, val, recipe, seed: 0, runs: 1, dir: bad, progress: false });
    writeFileSync(join(bad, 'run-0000.safetensors'), readFileSync(join(tmp, 'other', 'run-0000.safetensors')));
    assert.throws(() => readAccuracyZoo(bad), (e: unknown) => e instanceof FormatError && /run-0000\.safetensors.*expected run 0/.test(e.message));
    assert.throws(() => readAccuracyZoo(join(tmp, 'nowhere')), FormatError);
  });

  it('records the running statistics of a cnn-s trained in train mode, so labels still match', () => {
    const cnn = buildCnn(new Rng(2));
    const cl = accuracyLayout(cnn, { mode: 'whole', bnMode: 'train' });
    const z = collectAccuracyZoo({ model: cnn, build: buildCnn, layout: cl, train, val, recipe: { ...recipe, steps: 6, candidates: 5, k: 3 }, seed: 0, runs: 1, dir: join(tmp, 'cnn'), progress: false });
    const probe = buildCnn(new Rng(3));
    const mean = cl.indexOf('bn1.running_mean');
    for (let i = 0; i < 3; i++) {
      cl.write(probe, zooRow(z, i));
      assert.equal(z.labels[i], evaluateClassifier(probe, val).acc, `row ${i}`);
    }
    // step 0 has the fresh statistics (mean 0); a later row has moved them
    const at = (i: number): number => zooRow(z, i)[cl.offsets[mean]!]!;
    assert.equal(z.step[0], 0);
    assert.equal(at(0), 0);
    assert.notEqual(at(2), 0);
  });
});

describe('labelHistogram', () => {
  it('counts labels in equal bins, the last one closed', () => {
    assert.deepEqual(labelHistogram([0, 1, 2, 5, 9.9, 10], 2), { edges: [0, 5, 10], counts: [3, 3] });
    assert.deepEqual(labelHistogram([0, 50, 100, 101], 4, { lo: 0, hi: 100 }).counts, [1, 0, 1, 1]);
  });
});

