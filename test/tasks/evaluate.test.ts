/**
 * Per-task evaluation and the baselines: accuracies equal an independent full forward pass
 * scored against the code's labels; nearest-seen keeps ties in zoo order; mean-seen is the mean;
 * the Cholesky solver and the ridge map recover known linear maps.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readArgmaxRows } from '../../src/backend/backend.js';
import { Rng } from '../../src/tensor/random.js';
import { Tensor, noGrad } from '../../src/tensor/tensor.js';
import { meanSeen, nearestSeen } from '../../src/tasks/baselines.js';
import { allTaskCodes, codeSigns } from '../../src/tasks/codes.js';
import { bestByVal, binaryAccuracy, meanAccuracy, TaskEvaluator } from '../../src/tasks/evaluate.js';
import { binaryLabels } from '../../src/tasks/labels.js';
import { choleskySolve, fitRidge, ridgePredict } from '../../src/tasks/ridge.js';
import { taskInit } from '../../src/tasks/task-model.js';
import type { TaskZoo } from '../../src/tasks/zoo.js';
import { NumericError } from '../../src/util/errors.js';
import { ParamLayout } from '../../src/zoo/layout.js';
import { be, setup } from './fixture.js';

/** A zoo of the given codes with random checkpoints (layout of one tensor of `total` floats). */
function fakeZoo(codes: string[], k: number, total: number, fill: (t: number, j: number, c: number) => number): TaskZoo {
  const ckpts = new Float32Array(codes.length * k * total);
  for (let t = 0; t < codes.length; t++) for (let j = 0; j < k; j++) for (let c = 0; c < total; c++) ckpts[(t * k + j) * total + c] = fill(t, j, c);
  return { codes, k, layout: new ParamLayout(['w'], [[total]]), ckpts, recipe: { steps: 2, saveEvery: 1, k, lr: 1, batchSize: 1, weightDecay: 0 }, seed: 0, heldOut: [], plan: '' };
}

describe('TaskEvaluator', () => {
  const S = setup();
  const ev = new TaskEvaluator({ task: S.task, val: S.val, test: S.test, batch: 32 });

  it('scores a vector as the full forward pass of the task model against the code\'s labels', () => {
    const codes = ['0110010011', '1111100000'];
    const vecs = new Float32Array(2 * S.task.layout.total);
    vecs.set(taskInit(S.task, codes[0]!, 0), 0);
    vecs.set(taskInit(S.task, codes[1]!, 7), S.task.layout.total);
    const preds = ev.predict(vecs, 2);
    for (let p = 0; p < 2; p++) {
      const vec = vecs.subarray(p * S.task.layout.total, (p + 1) * S.task.layout.total);
      S.task.layout.write(S.task.model, vec);
      for (const [split, ds] of [['val', S.val], ['test', S.test]] as const) {
        const x = new Tensor(be.fromArray(ds.images), [ds.n, 1, ds.h, ds.w], be);
        const ref = new Int32Array(ds.n);
        noGrad(() => readArgmaxRows(be, S.task.model.forward(x).storage, ds.n, 2, ref));
        assert.deepEqual(preds[p]![split], ref, split);
        for (const code of codes) {
          const y = binaryLabels(ds.labels, code);
          let ok = 0;
          for (let i = 0; i < ds.n; i++) if (ref[i] === y[i]) ok++;
          assert.equal(ev.score(preds[p]!, code)[split], (100 * ok) / ds.n);
        }
      }
      S.task.layout.write(S.task.model, S.task.baseVec);
    }
    assert.deepEqual(ev.evaluate(vecs, 2, codes[1]!), preds.map((p) => ev.score(p, codes[1]!)));
  });

  it('binaryAccuracy, meanAccuracy and bestByVal', () => {
    assert.equal(binaryAccuracy(new Int32Array([1, 0, 1, 1]), new Uint8Array([1, 2, 3, 0]), '0100000000'), 50);
    assert.throws(() => binaryAccuracy(new Int32Array(2), new Uint8Array(3), '01'), /2 predictions for 3 labels/);
    assert.deepEqual(meanAccuracy([{ val: 50, test: 60 }, { val: 70, test: 80 }]), { val: 60, test: 70 });
    assert.deepEqual(bestByVal([{ val: 50, test: 1 }, { val: 70, test: 2 }, { val: 70, test: 3 }]), { val: 70, test: 2 });
  });
});

describe('nearestSeen / meanSeen', () => {
  const zoo = fakeZoo(['0000000011', '0000001100', '1100000000', '0000000111'], 2, 3, (t, j, c) => 100 * t + 10 * j + c);

  it('returns every task at the smallest Hamming distance, in zoo order', () => {
    const a = nearestSeen(zoo, '0000000001');
    assert.equal(a.distance, 1);
    assert.deepEqual(a.codes, ['0000000011']);
    assert.deepEqual([...a.ckpts], [0, 1, 2, 10, 11, 12]);
    const b = nearestSeen(zoo, '0000001111'); // 0000000111 at 1; 0000000011 and 0000001100 at 2
    assert.equal(b.distance, 1);
    assert.deepEqual(b.codes, ['0000000111']);
    const c = nearestSeen(zoo, '0000001110'); // 0000001100 at 1
    assert.deepEqual([c.distance, c.codes], [1, ['0000001100']]);
    const tie = nearestSeen(zoo, '0000001010'); // 0000000011: 2, 0000001100: 2, 0000000111: 3
    assert.deepEqual([tie.distance, tie.codes], [2, ['0000000011', '0000001100']]);
    assert.deepEqual([...tie.ckpts], [0, 1, 2, 10, 11, 12, 100, 101, 102, 110, 111, 112]);
  });

  it('meanSeen is the mean of every checkpoint', () => {
    assert.deepEqual([...meanSeen(zoo)], [155, 156, 157]);
  });
});

describe('choleskySolve', () => {
  it('solves a symmetric positive definite system', () => {
    const n = 11, m = 4, rng = new Rng(3);
    const M = rng.fillNormal(new Float64Array(n * n)) as Float64Array;
    const A = new Float64Array(n * n);
    for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) {
      let s = i === j ? 1 : 0;
      for (let p = 0; p < n; p++) s += M[i * n + p]! * M[j * n + p]!;
      A[i * n + j] = s;
    }
    const X = rng.fillNormal(new Float64Array(n * m)) as Float64Array;
    const B = new Float64Array(n * m);
    for (let i = 0; i < n; i++) for (let c = 0; c < m; c++) {
      let s = 0;
      for (let p = 0; p < n; p++) s += A[i * n + p]! * X[p * m + c]!;
      B[i * m + c] = s;
    }
    const got = choleskySolve(A, n, B, m);
    for (let i = 0; i < n * m; i++) assert.ok(Math.abs(got[i]! - X[i]!) < 1e-9, `${i}: ${got[i]} vs ${X[i]}`);
  });

  it('refuses a matrix that is not positive definite', () => {
    assert.throws(() => choleskySolve(new Float64Array([1, 2, 2, 1]), 2, new Float64Array([1, 1]), 1), NumericError);
  });
});

describe('ridge', () => {
  const total = 5, rng = new Rng(11);
  const W = rng.fillNormal(new Float64Array(11 * total)) as Float64Array;
  const linear = (code: string, c: number): number => {
    const s = codeSigns(code);
    let v = W[c]!;
    for (let i = 0; i < 10; i++) v += s[i]! * W[(i + 1) * total + c]!;
    return v;
  };
  const all = allTaskCodes();
  const seen = Array.from(new Rng(2).choiceWithoutReplacement(all.length, 40)).sort((a, b) => a - b).map((i) => all[i]!);
  const zoo = fakeZoo(seen, 3, total, (t, _j, c) => linear(seen[t]!, c));

  it('recovers an exact linear map (lambda 0) and predicts an unseen code with it', () => {
    const map = fitRidge({ zoo, lambda: 0 });
    for (let i = 0; i < W.length; i++) assert.ok(Math.abs(map.weights[i]! - W[i]!) < 1e-5, `weight ${i}`);
    const unseen = all.find((c) => !seen.includes(c))!;
    const pred = ridgePredict(map, unseen);
    for (let c = 0; c < total; c++) assert.ok(Math.abs(pred[c]! - linear(unseen, c)) < 1e-4);
  });

  it('shrinks to the mean of the zoo as lambda grows (the bias is not penalised)', () => {
    const map = fitRidge({ zoo, lambda: 1e12 });
    const mean = meanSeen(zoo);
    const pred = ridgePredict(map, '0110010011');
    for (let c = 0; c < total; c++) assert.ok(Math.abs(pred[c]! - mean[c]!) < 1e-5);
  });

  it('names a singular system', () => {
    assert.throws(() => fitRidge({ zoo: fakeZoo(seen.slice(0, 5), 2, total, () => 1), lambda: 0 }), /singular with lambda = 0/);
    assert.throws(() => ridgePredict(fitRidge({ zoo, lambda: 1 }), '0110'), /has 4 characters/);
  });
});
