import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Dataset } from '../../src/data/dataset.js';
import { ParamSetEvaluator, fullMetrics, type EvaluatorPath, type EvaluatorPlan } from '../../src/eval/evaluate.js';
import { CnnS, Mlp, type Classifier } from '../../src/models/index.js';
import { evalPieceRows } from '../../src/models/classifier.js';
import { evaluateClassifier } from '../../src/zoo/train.js';
import { Rng } from '../../src/tensor/random.js';
import { ParamLayout, selectParams } from '../../src/zoo/layout.js';
import { blasBackend, jsBackend, type CpuBackend } from '../../src/backend/index.js';
import { Tensor, noGrad } from '../../src/tensor/tensor.js';
import * as ops from '../../src/tensor/ops.js';
import { ShapeError } from '../../src/util/errors.js';

const be = jsBackend();
/** The equivalence tests also run on OpenBLAS when the addon loads (its GEMM blocking differs from jsGemm's). */
const blas = blasBackend();
const backends: CpuBackend[] = typeof blas === 'string' ? [be] : [be, blas];
const rng0 = new Rng(1);
const val = dataset('val', 45, 12, rng0);
const testSet = dataset('test', 70, 12, rng0);
const calib = dataset('calib', 64, 12, rng0);

/** n random images [n, 1, h, w] with random labels in [0, 10). */
function dataset(name: string, n: number, h: number, rng: Rng): Dataset {
  const images = rng.fillNormal(new Float32Array(n * h * h)) as Float32Array;
  const labels = new Uint8Array(n);
  for (let i = 0; i < n; i++) labels[i] = rng.int(10);
  return { name, images, labels, n, c: 1, h, w: h, numClasses: 10, norm: { mean: [0.286], std: [0.353] } };
}

/**
 * A small cnn-s with random BN affine parameters and running statistics calibrated on `calib`
 * (train-mode forward passes), so eval-mode BN keeps the activations in range and the
 * predictions vary between images.
 */
function randomCnn(seed: number, be: CpuBackend = jsBackend()): CnnS {
  const rng = new Rng(seed);
  const m = new CnnS({ rng, backend: be, widths: [4, 6, 8] });
  for (const [name, t] of m.stateDict()) {
    const v = new Float32Array(t.size);
    if (/^bn\d\.weight$/.test(name)) rng.fillUniform(v, 0.5, 1.5);
    else if (/^bn\d\.bias$/.test(name)) rng.fillNormal(v, 0, 0.2);
    else if (name === 'fc.weight') rng.fillNormal(v, 0, 3); // pooled features vary little between images
    else if (name !== 'fc.bias') continue;
    be.write(t.storage, v);
  }
  const x = new Tensor(be.fromArray(calib.images), [calib.n, 1, calib.h, calib.w], be);
  noGrad(() => { for (let i = 0; i < 30; i++) m.forward(x); });
  m.eval();
  return m;
}

/** P sets around the model's subset; every third set flips the sign of some BN weights. */
function sets(model: Classifier, layout: ParamLayout, P: number, rng: Rng): Float32Array {
  const base = layout.read(model);
  const out = new Float32Array(P * layout.total);
  for (let p = 0; p < P; p++) {
    for (let j = 0; j < layout.total; j++) out[p * layout.total + j] = base[j]! * (1 + 0.2 * rng.normal()) + 0.01 * rng.normal();
    if (p % 3 === 2) {
      layout.names.forEach((n, k) => {
        if (!n.endsWith('.weight') || !n.startsWith('bn')) return;
        const off = p * layout.total + layout.offsets[k]!;
        for (let j = 0; j < layout.sizes[k]!; j += 2) out[off + j] = -out[off + j]!;
      });
    }
  }
  return out;
}


function checkSame(model: Classifier, names: string[], expectStage: number, expectPath: EvaluatorPath, seed: number, plan: EvaluatorPlan = 'auto'): void {
  const layout = ParamLayout.fromModel(model, names);
  const before = layout.read(model);
  const ev = new ParamSetEvaluator({ model, layout, datasets: { val, test: testSet }, batch: 32, plan, onWarning: (m) => assert.fail(m) });
  assert.equal(ev.stage, expectStage, `stage for ${names.join(',')}`);
  assert.equal(ev.path, expectPath);
  assert.deepEqual(ev.notes, []);
  const P = 5;
  const vecs = sets(model, layout, P, new Rng(seed));
  const tail = ev.evaluate(vecs, P);
  const full = ev.evaluateFull(vecs, P);
  assert.equal(tail.length, P);
  for (let p = 0; p < P; p++) {
    for (const sp of ['val', 'test'] as const) {
      assert.deepEqual(tail[p]![sp].preds, full[p]![sp].preds, `set ${p} ${sp} (${names.join(',')})`);
      assert.equal(tail[p]![sp].acc, full[p]![sp].acc);
    }
  }
  // Predictions vary across images and sets (the test is not vacuous).
  const classes = new Set(tail.flatMap((r) => [...r.test.preds]));
  assert.ok(classes.size >= 3, `predictions (${names.join(',')}) use ${classes.size} classes`);
  assert.notDeepEqual(tail[0]!.test.preds, tail[1]!.test.preds);
  // The base subset is restored.
  assert.deepEqual(layout.read(model), before);
}

for (const b of backends) {
  for (const plan of ['fused', 'unfused', 'kernels'] as const) {
    const path = plan === 'fused' ? 'fused' : 'planned';
    test(`cnn-s bn mode: cached tail gives exactly the full-forward predictions (${b.name}, plan ${plan})`, () => {
      const model = randomCnn(2, b);
      checkSame(model, selectParams(model, 'bn'), 3, path, 3, plan);
    });

    test(`cnn-s custom selections and whole mode: tail equals full forward (${b.name}, plan ${plan})`, () => {
      const model = randomCnn(4, b);
      checkSame(model, ['bn1.weight', 'bn1.bias'], 1, path, 5, plan); // pooled trick on conv1's output
      checkSame(model, ['conv2.weight'], 2, path, 6, plan);
      checkSame(model, ['conv3.weight', 'bn3.bias'], 4, path, 7, plan);
      checkSame(model, ['bn3.weight'], 5, path, 8, plan);
      checkSame(model, ['fc.weight', 'fc.bias'], 6, path, 9, plan);
      checkSame(model, selectParams(model, 'whole'), 0, path, 10, plan);
    });
  }
}

test("plan 'auto' takes the fused passes on the TypeScript backend and the C kernels on blas", () => {
  for (const b of backends) {
    const model = randomCnn(25, b);
    const layout = ParamLayout.fromModel(model, selectParams(model, 'bn'));
    const ev = new ParamSetEvaluator({ model, layout, datasets: { test: testSet } });
    assert.equal(ev.path, b.name === 'blas' ? 'planned' : 'fused', b.name);
    // the first variant of its kind is exact: on blas the one with the fused passes in C (native/fused.c), not the unfused fallback
    assert.deepEqual(ev.notes.filter((n) => /skipped/.test(n)), [], b.name);
  }
});

test('generic path (plan off, and mlp) matches the full forward', () => {
  const model = randomCnn(11);
  const layout = ParamLayout.fromModel(model, selectParams(model, 'bn'));
  const ev = new ParamSetEvaluator({ model, layout, datasets: { val, test: testSet }, batch: 40, plan: 'generic' });
  assert.equal(ev.path, 'generic');
  const vecs = sets(model, layout, 3, new Rng(12));
  const a = ev.evaluate(vecs, 3), b = ev.evaluateFull(vecs, 3);
  for (let p = 0; p < 3; p++) assert.deepEqual(a[p]!.test.preds, b[p]!.test.preds);

  const mlp = new Mlp({ rng: new Rng(13), backend: be, inFeatures: 144, hidden: [16, 12] });
  be.write(mlp.layers[2]!.weight.storage, new Rng(20).fillNormal(new Float32Array(120), 0, 2));
  checkSame(mlp, ['head.weight', 'head.bias'], 2, 'generic', 14);
});

test('a cache over maxCacheBytes falls back to no cache, with a warning', () => {
  const model = randomCnn(15);
  const layout = ParamLayout.fromModel(model, selectParams(model, 'bn'));
  const warnings: string[] = [];
  const ev = new ParamSetEvaluator({ model, layout, datasets: { val, test: testSet }, maxCacheBytes: 1000, onWarning: (m) => warnings.push(m) });
  assert.equal(ev.stage, 0);
  assert.equal(ev.cacheBytes, 0);
  assert.equal(warnings.length, 1);
  assert.match(warnings[0]!, /maxCacheBytes/);
  const vecs = sets(model, layout, 2, new Rng(16));
  assert.deepEqual(ev.evaluate(vecs, 2)[1]!.val.preds, ev.evaluateFull(vecs, 2)[1]!.val.preds);
  const cached = new ParamSetEvaluator({ model, layout, datasets: { val, test: testSet } });
  // bn mode on cnn-s caches max- and min-pool of conv2's output: 2 x 6 x 3 x 3 floats per image.
  assert.equal(cached.cacheBytes, (45 + 70) * 2 * 6 * 3 * 3 * 4);
});

test('evaluateDetailed agrees with evaluate and reports top-5 and per-class metrics', () => {
  const model = randomCnn(17);
  const layout = ParamLayout.fromModel(model, selectParams(model, 'bn'));
  const ev = new ParamSetEvaluator({ model, layout, datasets: { test: testSet }, batch: 25 });
  const vecs = sets(model, layout, 1, new Rng(18));
  const r = ev.evaluate(vecs, 1)[0]!;
  const d = ev.evaluateDetailed(vecs);
  assert.equal(d.test.top1, r.test.acc);
  assert.ok(d.test.top5 !== undefined && d.test.top5 >= d.test.top1);
  assert.equal(d.test.perClassAccuracy.length, 10);
  assert.deepEqual(fullMetrics(r.test.preds, testSet.labels, 10).confusion, d.test.confusion);
  let progress = 0;
  ev.evaluate(vecs, 1, { onProgress: (done, total) => { progress = done / total; } });
  assert.equal(progress, 1);
});

test('rejects a stack of the wrong length', () => {
  const model = randomCnn(19);
  const layout = ParamLayout.fromModel(model, selectParams(model, 'bn'));
  const ev = new ParamSetEvaluator({ model, layout, datasets: { test: testSet } });
  assert.throws(() => ev.evaluate(new Float32Array(layout.total * 2 + 1), 2), ShapeError);
});

test('a cnn-s whose forward the plan does not reproduce falls back to the generic path with a warning', () => {
  /** cnn-s with a changed head: the plan (which knows only the standard cnn-s) must notice. */
  class ShiftedCnn extends CnnS {
    override forwardFrom(h: Tensor, start: number): Tensor {
      return ops.addScalar(super.forwardFrom(h, start), 1e-3);
    }
  }
  const model = new ShiftedCnn({ rng: new Rng(21), backend: be, widths: [4, 6, 8] });
  model.eval();
  const layout = ParamLayout.fromModel(model, selectParams(model, 'bn'));
  const warnings: string[] = [];
  const ev = new ParamSetEvaluator({ model, layout, datasets: { test: testSet }, onWarning: (m) => warnings.push(m) });
  assert.equal(ev.path, 'generic');
  assert.equal(warnings.length, 1);
  assert.match(warnings[0]!, /bit for bit/);
  const vecs = sets(model, layout, 2, new Rng(22));
  assert.deepEqual(ev.evaluate(vecs, 2)[1]!.test.preds, ev.evaluateFull(vecs, 2)[1]!.test.preds);
});

test('parameters that overflow float32 (BN outputs of +-Infinity) still give the full-forward predictions', () => {
  for (const b of backends) overflowCase(randomCnn(23, b));
});

function overflowCase(model: CnnS): void {
  for (const [names, tensor] of [[selectParams(model, 'bn'), 'bn2.weight'], [selectParams(model, 'whole'), 'bn1.weight']] as const) {
    const layout = ParamLayout.fromModel(model, names);
    const vecs = sets(model, layout, 3, new Rng(24));
    const k = layout.names.indexOf(tensor);
    vecs[layout.offsets[k]!] = 3e38; // set 0, channel 0: huge positive scale
    vecs[layout.total + layout.offsets[k]! + 1] = -3e38; // set 1, channel 1: huge negative scale
    const kb = layout.names.indexOf(tensor.replace('weight', 'bias'));
    vecs[layout.offsets[kb]!] = -3e38; // set 0, channel 0: and a huge shift, so most BN outputs are -Infinity
    vecs[layout.total + layout.offsets[kb]! + 1] = 3e38;
    for (const plan of ['fused', 'unfused', 'kernels'] as const) {
      const ev = new ParamSetEvaluator({ model, layout, datasets: { test: testSet }, batch: 32, plan });
      assert.equal(ev.path, plan === 'fused' ? 'fused' : 'planned');
      const a = ev.evaluate(vecs, 3), b = ev.evaluateFull(vecs, 3);
      for (let p = 0; p < 3; p++) assert.deepEqual(a[p]!.test.preds, b[p]!.test.preds, `${tensor}, set ${p}, ${plan}`);
    }
  }
}


test('evaluate resumes from a saved partial result at the chunk it reached, and rejects a partial of the wrong shape', () => {
  const model = randomCnn(31);
  const layout = ParamLayout.fromModel(model, selectParams(model, 'bn'));
  const ev = new ParamSetEvaluator({ model, layout, datasets: { val, test: testSet }, batch: 32, onWarning: (m) => assert.fail(m) });
  assert.equal(ev.chunkCount, 2 + 3); // 45 val rows and 70 test rows in chunks of 32
  assert.equal(ev.rowCount, 45 + 70);
  const P = 4;
  const vecs = sets(model, layout, P, new Rng(32));
  const saved: Array<{ chunksDone: number; preds: Int32Array }> = [];
  const whole = ev.evaluate(vecs, P, { onChunk: (c, snap) => { if (c === 3) saved.push(snap()); } });
  assert.equal(saved.length, 1);
  assert.equal(saved[0]!.chunksDone, 3);
  // rows of chunks 0..2 (all 45 val rows, the first 32 test rows) are the final predictions
  for (let p = 0; p < P; p++) {
    const got = saved[0]!.preds.subarray(p * 115, p * 115 + 77);
    assert.deepEqual(Array.from(got), [...whole[p]!.val.preds, ...whole[p]!.test.preds.subarray(0, 32)]);
  }
  const progress: number[] = [];
  const resumed = ev.evaluate(vecs, P, { resume: saved[0], onProgress: (d) => progress.push(d) });
  assert.deepEqual(progress, [3 * P, 4 * P, 5 * P]);
  for (let p = 0; p < P; p++) {
    assert.deepEqual(resumed[p]!.val.preds, whole[p]!.val.preds);
    assert.deepEqual(resumed[p]!.test.preds, whole[p]!.test.preds);
    assert.equal(resumed[p]!.test.acc, whole[p]!.test.acc);
  }
  // The saved rows are taken, not recomputed: a partial that says every chunk is done is returned as it is.
  const fake = { chunksDone: 5, preds: new Int32Array(P * 115).fill(7) };
  const r = ev.evaluate(vecs, P, { resume: fake });
  assert.ok(r.every((x) => x.val.preds.every((v) => v === 7) && x.test.preds.every((v) => v === 7)));
  assert.throws(() => ev.evaluate(vecs, P, { resume: { chunksDone: 2, preds: new Int32Array(P * 115 - 1) } }), ShapeError);
  assert.throws(() => ev.evaluate(vecs, P, { resume: { chunksDone: 6, preds: new Int32Array(P * 115) } }), ShapeError);
});

test('evaluate counts top-5 per set and split exactly as fullMetrics does from the logits, resumes with it, and refuses a partial without it', () => {
  const model = randomCnn(41);
  const layout = ParamLayout.fromModel(model, selectParams(model, 'bn'));
  const ev = new ParamSetEvaluator({ model, layout, datasets: { val, test: testSet }, batch: 32, onWarning: (m) => assert.fail(m) });
  const P = 4;
  const vecs = sets(model, layout, P, new Rng(42));
  const plain = ev.evaluate(vecs, P);
  const saved: Array<{ chunksDone: number; preds: Int32Array; top5Hits?: Int32Array }> = [];
  const got = ev.evaluate(vecs, P, { top5: true, onChunk: (c, snap) => { if (c === 3) saved.push(snap()); } });
  const full = ev.evaluateFull(vecs, P, { top5: true });
  let below100 = 0;
  for (let p = 0; p < P; p++) {
    const m = ev.evaluateDetailed(vecs.subarray(p * layout.total, (p + 1) * layout.total));
    for (const sp of ['val', 'test'] as const) {
      assert.equal(got[p]![sp].top5, m[sp].top5, `set ${p} ${sp}`);
      assert.equal(full[p]![sp].top5, m[sp].top5, `evaluateFull, set ${p} ${sp}`);
      // top-1 is untouched by counting top-5
      assert.equal(got[p]![sp].acc, plain[p]![sp].acc);
      assert.deepEqual(got[p]![sp].preds, plain[p]![sp].preds);
      assert.equal(plain[p]![sp].top5, undefined);
      if (m[sp].top5! < 100) below100++;
    }
  }
  assert.ok(below100 > 0, 'the check needs some top-5 misses');
  assert.equal(saved[0]!.top5Hits!.length, P * ev.chunkCount);
  const resumed = ev.evaluate(vecs, P, { top5: true, resume: saved[0] });
  for (let p = 0; p < P; p++) for (const sp of ['val', 'test'] as const) assert.equal(resumed[p]![sp].top5, got[p]![sp].top5);
  // The resumed numbers come from the saved hits: zeroing them shows up in the first chunks' splits.
  const zeroed = { ...saved[0]!, top5Hits: new Int32Array(P * ev.chunkCount) };
  assert.equal(ev.evaluate(vecs, P, { top5: true, resume: zeroed })[0]!.val.top5, 0);
  const old = { chunksDone: saved[0]!.chunksDone, preds: saved[0]!.preds };
  assert.throws(() => ev.evaluate(vecs, P, { top5: true, resume: old }), /no top-5 hit counts.*start the evaluation over/);
  assert.throws(() => ev.evaluate(vecs, P, { resume: saved[0] }), /top-5 is not counted/);
});

test('evaluate refuses top-5 for a model with fewer than 5 classes', () => {
  const rng = new Rng(5);
  const model = new Mlp({ rng, backend: be, inFeatures: 12 * 12, hidden: [8], numClasses: 3 });
  model.eval();
  const layout = ParamLayout.fromModel(model, selectParams(model, 'whole'));
  const ev = new ParamSetEvaluator({ model, layout, datasets: { test: { ...testSet, labels: testSet.labels.map((l) => l % 3), numClasses: 3 } }, batch: 32 });
  assert.throws(() => ev.evaluate(layout.read(model), 1, { top5: true }), /top-5 needs at least 5 classes, the model has 3/);
});

test('a chunk runs in pieces of evalPieceRows images: logits, predictions and top-5 equal one forward pass over the whole chunk (and evaluateClassifier agrees)', () => {
  const rng = new Rng(40);
  // 28x28 images: 100 rows a piece, so a 250-image chunk is three passes (100, 100, 50)
  assert.equal(evalPieceRows(28 * 28), 100);
  const big = dataset('big', 250, 28, rng);
  for (const b of backends) {
    const model = randomCnn(41, b);
    const layout = ParamLayout.fromModel(model, selectParams(model, 'bn'));
    const ev = new ParamSetEvaluator({ model, layout, datasets: { test: big }, batch: 1000 });
    assert.equal(ev.chunkCount, 1);
    const vec = layout.read(model);
    const whole = noGrad(() => b.read(model.forward(new Tensor(b.fromArray(big.images), [big.n, 1, 28, 28], b)).storage));
    const logits = ev.logits(vec).test;
    // the TypeScript kernels sum in the same order whatever the batch: the same bits; OpenBLAS picks
    // its blocking by matrix size (and the cached tail is its own kernels), so the last bits move
    if (b.name === 'js') assert.deepEqual(logits, Float32Array.from(whole));
    else for (let i = 0; i < logits.length; i++) assert.ok(Math.abs(logits[i]! - whole[i]!) <= 1e-5 * (1 + Math.abs(whole[i]!)), `${b.name} logit ${i}: ${logits[i]} vs ${whole[i]}`);
    const preds = new Int32Array(big.n);
    for (let i = 0; i < big.n; i++) {
      let arg = 0;
      for (let c = 1; c < 10; c++) if (whole[i * 10 + c]! > whole[i * 10 + arg]!) arg = c;
      preds[i] = arg;
    }
    const [r] = ev.evaluate(vec, 1, { top5: true });
    assert.deepEqual(r!.test.preds, preds, b.name);
    assert.equal(r!.test.top5, fullMetrics(preds, big.labels, 10, Float32Array.from(whole)).top5, b.name);
    assert.deepEqual(evaluateClassifier(model, big, { batch: 1000 }).preds, preds, b.name);
    assert.ok(new Set(preds).size >= 3, `${b.name}: predictions use ${new Set(preds).size} classes`);
  }
});
