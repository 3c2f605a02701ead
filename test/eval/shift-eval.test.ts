import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Dataset } from '../../src/data/dataset.js';
import { ParamSetEvaluator } from '../../src/eval/evaluate.js';
import { evaluateOnDataset, evaluateUnderShift } from '../../src/eval/shift-eval.js';
import { CnnS } from '../../src/models/index.js';
import { Rng } from '../../src/tensor/random.js';
import { ParamLayout, selectParams } from '../../src/zoo/layout.js';
import { jsBackend } from '../../src/backend/index.js';
import { ConfigError } from '../../src/util/errors.js';

const be = jsBackend();

/** n images [n, 1, 12, 12] of bright squares whose position gives the label (0..3), in normalised units. */
function squares(name: string, n: number, rng: Rng): Dataset {
  const h = 12;
  const images = new Float32Array(n * h * h).fill((0 - 0.286) / 0.353);
  const labels = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    const y = rng.int(4);
    labels[i] = y;
    const oy = (y >> 1) * 6 + 1, ox = (y & 1) * 6 + 1;
    for (let a = 0; a < 4; a++) for (let b = 0; b < 4; b++) images[i * h * h + (oy + a) * h + ox + b] = (0.9 - 0.286) / 0.353;
  }
  return { name, images, labels, n, c: 1, h, w: h, numClasses: 4, norm: { mean: [0.286], std: [0.353] } };
}

test('shift smoke test: rows per kind x severity x group, evenly spaced members, deterministic, clean rows match a plain evaluator', () => {
  const model = new CnnS({ rng: new Rng(1), backend: be, widths: [4, 6, 8], numClasses: 4 });
  const layout = ParamLayout.fromModel(model, selectParams(model, 'bn'));
  const testSet = squares('squares/test', 40, new Rng(2));
  const base = layout.read(model);
  const rng = new Rng(3);
  const noisy = new Float32Array(4 * layout.total);
  // members 1 and 3 are wrecked (BN scales scrambled), 0 and 2 close to the base model
  for (let i = 0; i < noisy.length; i++) {
    const member = Math.floor(i / layout.total);
    noisy[i] = base[i % layout.total]! + (member % 2 === 1 ? 5 : 0.05) * rng.normal();
  }
  const groups = { original: { vecs: noisy, P: 4 }, ensemble: { vecs: base, P: 1 } };

  const rows = evaluateUnderShift({ model, layout }, groups, testSet, ['gaussian_noise', 'rotation'], [1, 5], new Rng(4), { models: 2, includeClean: true, batch: 16 });
  assert.equal(rows.length, (1 + 2 * 2) * 2);
  for (const r of rows) {
    assert.equal(r.accs.length, r.group === 'original' ? 2 : 1);
    assert.ok(Math.abs(r.meanAcc - r.accs.reduce((s, v) => s + v, 0) / r.accs.length) < 1e-12);
    for (const a of r.accs) assert.ok(a >= 0 && a <= 100);
  }
  assert.deepEqual(rows.map((r) => `${r.kind}:${r.severity}:${r.group}`).slice(0, 4),
    ['clean:0:original', 'clean:0:ensemble', 'gaussian_noise:1:original', 'gaussian_noise:1:ensemble']);
  const again = evaluateUnderShift({ model, layout }, groups, testSet, ['gaussian_noise', 'rotation'], [1, 5], new Rng(4), { models: 2, includeClean: true, batch: 16 });
  assert.deepEqual(again, rows);

  // models: 2 of P = 4 takes members 0 and 2 (evenly spaced), not the first two
  const T = layout.total;
  const picked = new Float32Array(2 * T);
  picked.set(noisy.subarray(0, T), 0);
  picked.set(noisy.subarray(2 * T, 3 * T), T);
  const plainEv = new ParamSetEvaluator({ model, layout, datasets: { test: testSet } });
  const plain = plainEv.evaluate(picked, 2);
  assert.deepEqual(rows[0]!.accs, plain.map((r) => r.test.acc));
  const firstTwo = plainEv.evaluate(noisy.subarray(0, 2 * T), 2).map((r) => r.test.acc);
  assert.notDeepEqual(firstTwo, rows[0]!.accs, 'the fixture must tell members 0, 1 from 0, 2');

  // A second dataset with the same shape.
  const other = squares('squares/other', 24, new Rng(5));
  const od = evaluateOnDataset({ model, layout }, groups, other);
  assert.deepEqual(od.map((r) => [r.dataset, r.group, r.accs.length]), [['squares/other', 'original', 4], ['squares/other', 'ensemble', 1]]);
});

test('unknown kinds and bad severities are config errors', () => {
  const model = new CnnS({ rng: new Rng(1), backend: be, widths: [4, 6, 8], numClasses: 4 });
  const layout = ParamLayout.fromModel(model, selectParams(model, 'bn'));
  const ds = squares('s', 8, new Rng(1));
  const groups = { g: { vecs: layout.read(model), P: 1 } };
  assert.throws(() => evaluateUnderShift({ model, layout }, groups, ds, ['fog'], [1], new Rng(1)), ConfigError);
  assert.throws(() => evaluateUnderShift({ model, layout }, groups, ds, ['contrast'], [6], new Rng(1)), ConfigError);
});
