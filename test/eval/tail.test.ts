/**
 * Cached-feature evaluation of many parameter sets through one code path for every classifier:
 * ParamSetEvaluator caches the features at the first stage the subset touches and runs the
 * model's tail (its own, or the generic forwardFrom) per set. Its predictions must equal those
 * of the full forward pass (model.forward on the images, argmax), computed here independently.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Backend } from '../../src/backend/backend.js';
import { blasBackend, jsBackend } from '../../src/backend/index.js';
import type { Dataset } from '../../src/data/dataset.js';
import { ParamSetEvaluator, type EvaluatorPath } from '../../src/eval/evaluate.js';
import { CnnS, Mlp, ResNetCifar, VisionTransformer, buildClassifier, type Classifier } from '../../src/models/index.js';
import { resolveConfig } from '../../src/config/index.js';
import { Rng } from '../../src/tensor/random.js';
import { Tensor, noGrad } from '../../src/tensor/tensor.js';
import { ParamLayout, selectParams } from '../../src/zoo/layout.js';

const js = jsBackend();
const blas = blasBackend();
const backends: Backend[] = typeof blas === 'string' ? [js] : [js, blas];

/** n random images [n, c, h, h] with random labels in [0, 10). */
function dataset(name: string, n: number, c: number, h: number, rng: Rng): Dataset {
  const images = rng.fillNormal(new Float32Array(n * c * h * h)) as Float32Array;
  const labels = new Uint8Array(n);
  for (let i = 0; i < n; i++) labels[i] = rng.int(10);
  return { name, images, labels, n, c, h, w: h, numClasses: 10, norm: { mean: new Array(c).fill(0), std: new Array(c).fill(1) } };
}

/**
 * Random BN affine parameters and a larger head, then BN running statistics from train-mode
 * passes over `calib`, so that eval-mode activations stay in range and predictions vary.
 */
function prepare<M extends Classifier>(m: M, calib: Dataset, rng: Rng, headStd: number): M {
  const be = m.backend;
  const sd = m.stateDict();
  const isNorm = (name: string) => /(^|\.)ln(_2)?\.(weight|bias)$/.test(name) || sd.some(([n]) => n === name.replace(/(weight|bias)$/, 'running_mean'));
  for (const [name, t] of sd) {
    const v = new Float32Array(t.size);
    if (isNorm(name) && name.endsWith('.weight')) rng.fillUniform(v, 0.5, 1.5);
    else if (isNorm(name) && name.endsWith('.bias')) rng.fillNormal(v, 0, 0.2);
    else if (/^(fc|head|heads\.head|classifier\.1)\.weight$/.test(name)) rng.fillNormal(v, 0, headStd);
    else continue;
    be.write(t.storage, v);
  }
  const x = new Tensor(be.fromArray(calib.images), [calib.n, calib.c, calib.h, calib.w], be);
  m.train();
  noGrad(() => { for (let i = 0; i < 10; i++) m.forward(x); });
  m.eval();
  // Centre the logits on calib: otherwise the component all images share can pick one class for nearly all.
  const [, bias] = m.stateDict().find(([n]) => /^(fc|head|heads\.head|classifier\.1)\.bias$/.test(n))!;
  const logits = noGrad(() => m.forward(x).toArray());
  const b = Float32Array.from(bias.toArray());
  for (let i = 0; i < calib.n; i++) for (let k = 0; k < 10; k++) b[k] = b[k]! - logits[i * 10 + k]! / calib.n;
  be.write(bias.storage, b);
  return m;
}

/** P sets around the model's subset (every third with some weights' signs flipped). */
function sets(model: Classifier, layout: ParamLayout, P: number, rng: Rng): Float32Array {
  const base = layout.read(model);
  const out = new Float32Array(P * layout.total);
  for (let p = 0; p < P; p++) {
    for (let j = 0; j < layout.total; j++) {
      const v = base[j]! * (1 + 0.2 * rng.normal()) + 0.01 * rng.normal();
      out[p * layout.total + j] = p % 3 === 2 && j % 2 === 0 ? -v : v;
    }
  }
  return out;
}

/** Predictions of the full forward pass with set `vec` written into the model (then the base restored). */
function fullForwardPreds(model: Classifier, layout: ParamLayout, vec: Float32Array, ds: Dataset): Int32Array {
  const be = model.backend, base = layout.read(model);
  layout.write(model, vec);
  const x = new Tensor(be.fromArray(ds.images), [ds.n, ds.c, ds.h, ds.w], be);
  const preds = new Int32Array(ds.n);
  noGrad(() => be.argmaxRows(model.forward(x).storage, ds.n, 10, preds));
  layout.write(model, base);
  return preds;
}

/**
 * Evaluates P sets of `names` through the cached tail and checks every prediction against the
 * full forward; also that a feature cache is used (stage > 0) where the subset allows one.
 */
function checkModel(model: Classifier, names: readonly string[], data: { val: Dataset; test: Dataset }, path: EvaluatorPath, seed: number): void {
  const layout = ParamLayout.fromModel(model, names);
  const ev = new ParamSetEvaluator({ model, layout, datasets: data, batch: 16, onWarning: (m) => assert.fail(m) });
  const what = `${model.arch} on ${model.backend.name}, ${names.length > 4 ? `${names.length} tensors` : names.join(',')}`;
  assert.equal(ev.stage, model.firstStageOf(names), what);
  assert.equal(ev.path, path, what);
  const P = 4;
  const vecs = sets(model, layout, P, new Rng(seed));
  const got = ev.evaluate(vecs, P);
  const classes = new Set<number>();
  for (let p = 0; p < P; p++) {
    const vec = vecs.subarray(p * layout.total, (p + 1) * layout.total);
    for (const sp of ['val', 'test'] as const) {
      const want = fullForwardPreds(model, layout, vec, data[sp]);
      assert.deepEqual(got[p]![sp].preds, want, `${what}: set ${p}, ${sp}`);
      for (const c of want) classes.add(c);
    }
  }
  assert.ok(classes.size >= 3, `${what}: predictions use ${classes.size} classes (the test would be vacuous)`);
  assert.notDeepEqual(got[0]!.test.preds, got[1]!.test.preds, `${what}: sets give the same predictions`);
}

test('mlp: cached-tail predictions of many parameter sets equal the full forward', () => {
  const rng = new Rng(101);
  const data = { val: dataset('val', 21, 1, 8, rng), test: dataset('test', 35, 1, 8, rng) };
  const calib = dataset('calib', 32, 1, 8, rng);
  for (const be of backends) {
    const model = prepare(new Mlp({ rng: new Rng(102), backend: be, inFeatures: 64, hidden: [24, 16] }), calib, new Rng(103), 1.5);
    checkModel(model, ['head.weight', 'head.bias'], data, 'generic', 104);
    checkModel(model, ['fc2.weight'], data, 'generic', 105);
    checkModel(model, selectParams(model, 'whole'), data, 'generic', 106);
  }
});

test('cnn-s: cached-tail predictions (bn mode and custom selections) equal the full forward', () => {
  const rng = new Rng(201);
  const data = { val: dataset('val', 21, 1, 12, rng), test: dataset('test', 35, 1, 12, rng) };
  const calib = dataset('calib', 32, 1, 12, rng);
  for (const be of backends) {
    const model = prepare(new CnnS({ rng: new Rng(202), backend: be, widths: [4, 6, 8] }), calib, new Rng(203), 3);
    const own = be.fusedEval?.preferred ? 'fused' : 'planned';
    checkModel(model, selectParams(model, 'bn'), data, own, 204);
    checkModel(model, selectParams(model, 'custom', ['conv3.*', 'bn3.*']), data, own, 205);
    checkModel(model, ['bn1.weight', 'fc.bias'], data, own, 206);
  }
});

test('resnet20: cached-tail predictions (bn mode and custom selections) equal the full forward', () => {
  const rng = new Rng(301);
  const data = { val: dataset('val', 13, 3, 8, rng), test: dataset('test', 19, 3, 8, rng) };
  const calib = dataset('calib', 24, 3, 8, rng);
  for (const be of backends) {
    const model = prepare(new ResNetCifar({ rng: new Rng(302), backend: be }), calib, new Rng(303), 4);
    checkModel(model, selectParams(model, 'bn'), data, 'generic', 304);
    checkModel(model, model.namedParameters().map(([n]) => n).filter((n) => n.startsWith('layer2.0.')), data, 'generic', 305);
    checkModel(model, ['fc.weight', 'fc.bias'], data, 'generic', 306);
  }
});

test('vit: the class-token tail (ln_2 of the last block, encoder.ln) and the generic one equal the full forward', () => {
  const rng = new Rng(401);
  const data = { val: dataset('val', 13, 1, 8, rng), test: dataset('test', 19, 1, 8, rng) };
  const calib = dataset('calib', 24, 1, 8, rng);
  for (const be of backends) {
    const vit = new VisionTransformer({ rng: new Rng(402), backend: be, inShape: [1, 8, 8], numClasses: 10, patchSize: 4, layers: 2, heads: 2, hidden: 8, mlp: 16, dropout: 0 });
    const model = prepare(vit, calib, new Rng(403), 4);
    const last = 'encoder.layers.encoder_layer_1';
    checkModel(model, [`${last}.ln_2.weight`, `${last}.ln_2.bias`, 'encoder.ln.weight', 'encoder.ln.bias'], data, 'planned', 404);
    checkModel(model, ['heads.head.weight'], data, 'planned', 405);
    // the attention half mixes tokens: its tail runs the whole sequence
    checkModel(model, [`${last}.self_attention.in_proj_weight`], data, 'generic', 406);
  }
});

test('efficientnet-s: the tail from the last block\'s project BatchNorm equals the full forward', () => {
  const rng = new Rng(501);
  const data = { val: dataset('val', 13, 1, 8, rng), test: dataset('test', 19, 1, 8, rng) };
  const calib = dataset('calib', 24, 1, 8, rng);
  const cfg = resolveConfig({ preset: 'fmnist-effnet-bn' });
  for (const be of backends) {
    const model = prepare(buildClassifier(cfg.model.arch, { rng: new Rng(502), backend: be, inShape: [1, 8, 8], numClasses: 10, model: cfg.model }), calib, new Rng(503), 4);
    const names = selectParams(model, 'bn');
    assert.equal(model.stages[model.firstStageOf(names)], 'features.7.0');
    checkModel(model, names, data, 'generic', 504);
    checkModel(model, model.namedParameters().map(([n]) => n).filter((n) => n.startsWith('features.7.0.')), data, 'generic', 505);
  }
});
