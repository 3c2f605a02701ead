import { test } from 'node:test';
import assert from 'node:assert/strict';
import { classifierCost, costSummary, countedCost, measureLatency, peakRssMb, tailMacs } from '../../src/eval/cost.js';
import { blasBackend } from '../../src/backend/index.js';
import { buildClassifier } from '../../src/models/index.js';
import { Rng } from '../../src/tensor/random.js';
import { jsBackend } from '../../src/backend/index.js';
import { ConfigError } from '../../src/util/errors.js';

const be = jsBackend();

test('cnn-s: 24,058 learnable parameters and the hand-counted MACs', () => {
  const m = buildClassifier('cnn-s', { rng: new Rng(0), backend: be, inShape: [1, 28, 28], numClasses: 10 });
  const c = classifierCost(m, [1, 28, 28]);
  assert.equal(c.params, 24058);
  assert.equal(c.params, m.numParameters());
  const by = new Map(c.perLayer.map((l) => [l.name, l]));
  assert.equal(by.get('conv1')!.macs, 16 * 28 * 28 * 9);
  assert.equal(by.get('conv2')!.macs, 32 * 14 * 14 * 16 * 9);
  assert.equal(by.get('conv3')!.macs, 64 * 7 * 7 * 32 * 9);
  assert.equal(by.get('fc')!.macs, 640);
  const bnMacs = 16 * 28 * 28 + 32 * 14 * 14 + 64 * 7 * 7; // eval BN: one multiply-add per element
  assert.equal(c.macs, 112896 + 903168 + 903168 + 640 + bnMacs);
  assert.equal(c.adds, 10); // only fc has a bias
  // Stages: the bn-mode tail (from conv2's output, stage 3) is bn2 .. fc.
  assert.equal(by.get('bn2.pool')!.stage, 4);
  assert.equal(tailMacs(c, 3), 32 * 14 * 14 + 903168 + 64 * 7 * 7 + 640);
  assert.equal(tailMacs(c, 0), c.macs);
});

test('mlp and resnet20 layer lists agree with the models', () => {
  const mlp = buildClassifier('mlp', { rng: new Rng(1), backend: be, inShape: [1, 28, 28], numClasses: 10, model: { mlpHidden: [32, 16] } });
  const cm = classifierCost(mlp, [1, 28, 28]);
  assert.equal(cm.params, mlp.numParameters());
  assert.equal(cm.macs, 784 * 32 + 32 * 16 + 16 * 10);
  const rn = buildClassifier('resnet20', { rng: new Rng(2), backend: be, inShape: [3, 32, 32], numClasses: 10 });
  const cr = classifierCost(rn, [3, 32, 32]);
  assert.equal(cr.params, rn.numParameters());
  assert.equal(cr.perLayer.filter((l) => l.kind === 'conv2d').length, 1 + 9 * 2 + 2);
  assert.ok(cr.macs > 40e6 && cr.macs < 42e6, `resnet20 MACs ${cr.macs}`); // about 41 M multiply-adds
});

test('counting a forward pass gives the layer lists\' parameters, multiply-adds and stage split', () => {
  for (const [arch, inShape] of [['cnn-s', [1, 28, 28]], ['resnet20', [3, 32, 32]], ['mlp', [1, 28, 28]]] as const) {
    const m = buildClassifier(arch, { rng: new Rng(0), backend: be, inShape: [...inShape], numClasses: 10 });
    const listed = classifierCost(m, inShape), counted = countedCost(m, inShape);
    assert.equal(counted.params, listed.params, `${arch} params`);
    assert.equal(counted.macs, listed.macs, `${arch} MACs`);
    assert.equal(counted.adds, listed.adds, `${arch} bias additions`);
    for (let s = 0; s < m.stages.length; s++) assert.equal(tailMacs(counted, s), tailMacs(listed, s), `${arch} tail MACs from stage ${s}`);
  }
});

test('counted cost of torchvision architectures matches their published multiply-adds', () => {
  const blas = blasBackend();
  const fast = typeof blas === 'string' ? be : blas;
  // torchvision's documented GFLOPS (multiply-adds) at 3x224x224: resnet18 1.81, efficientnet_b0 0.39
  const rn = buildClassifier('resnet18', { rng: new Rng(0), backend: fast, inShape: [3, 224, 224], numClasses: 1000 });
  const cr = countedCost(rn, [3, 224, 224]);
  assert.equal(cr.params, 11689512);
  assert.ok(Math.abs(cr.macs / 1.82e9 - 1) < 0.01, `resnet18 ${cr.macs} MACs`);
  const ef = buildClassifier('efficientnet-b0', { rng: new Rng(0), backend: fast, inShape: [3, 224, 224], numClasses: 1000 });
  const ce = countedCost(ef, [3, 224, 224]);
  assert.equal(ce.params, 5288548);
  assert.ok(Math.abs(ce.macs / 0.39e9 - 1) < 0.03, `efficientnet-b0 ${ce.macs} MACs`);
  // a tail from the last block costs less than the whole
  assert.ok(tailMacs(cr, rn.stages.length - 3) < cr.macs / 5);
});

test('latency is positive and peak RSS is at least the current RSS, in MiB', () => {
  const m = buildClassifier('cnn-s', { rng: new Rng(0), backend: be, inShape: [1, 28, 28], numClasses: 10 });
  m.train();
  const l = measureLatency(m, [1, 28, 28], 4, { repeats: 3, warmup: 1 });
  assert.ok(l.medianMs > 0 && l.p90Ms >= l.medianMs);
  assert.equal(m.training, true); // restored
  // The peak can only be above what the process holds now, and this small test process has not
  // been much larger before: a wrong unit (KiB or bytes instead of MiB) fails one of the bounds.
  const now = process.memoryUsage().rss / 2 ** 20;
  const peak = peakRssMb();
  assert.ok(peak >= now && peak <= 4 * now, `peak RSS ${peak} MiB, current RSS ${now} MiB`);
});

test('costSummary: per-model seconds and ratios', () => {
  const s = costSummary({ generateSeconds: 20, nGenerated: 200, collectSeconds: 40, K: 200, baseTrainSeconds: 50, pdiffTrainSeconds: 180 });
  assert.equal(s.generatePerModelS, 0.1);
  assert.equal(s.collectPerModelS, 0.2);
  assert.equal(s.collectOverGenerate, 2);
  assert.equal(s.trainOverGenerate, 500);
  assert.equal(s.collectPerModelWithBaseS, 0.45);
  assert.equal(s.generatePerModelWithTrainingS, 1);
  assert.throws(() => costSummary({ generateSeconds: 1, nGenerated: 0, collectSeconds: 1, K: 1, baseTrainSeconds: 1 }), ConfigError);
});
