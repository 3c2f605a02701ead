/**
 * Two small MLPs trained from different seeds on a Fashion-MNIST slice: the midpoint of their
 * weights is a worse network than either, and much less so once the second is aligned to the first
 * by weight matching (docs/seeds.md#interpolation).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { applyPermutations, weightMatching } from '../../src/align/index.js';
import { jsBackend } from '../../src/backend/index.js';
import { defaultConfig } from '../../src/config/index.js';
import { loadFashionMnist } from '../../src/data/dataset.js';
import { interpolationCurve, lossBarrier } from '../../src/eval/interpolation.js';
import { Mlp } from '../../src/models/index.js';
import { Rng } from '../../src/tensor/random.js';
import { ParamLayout } from '../../src/zoo/layout.js';
import { trainClassifier } from '../../src/zoo/train.js';
import { skipWithoutFashionMnist } from '../helpers/data.js';

describe('interpolation between two seeds', { skip: skipWithoutFashionMnist }, () => {
  it('the aligned midpoint has a lower test loss than the naive midpoint', () => {
    const be = jsBackend();
    const { train, test } = loadFashionMnist({ limitTrain: 3000, limitTest: 500, valSize: 500 });
    const cfg = { ...defaultConfig().base, epochs: 3, batchSize: 50 };
    const nets = [1, 2].map((seed) => {
      const m = new Mlp({ rng: new Rng(seed), backend: be, inFeatures: 784, hidden: [48] });
      trainClassifier(m, train, cfg, { rng: new Rng(100 + seed), progress: false });
      return m.eval();
    });
    const [a, b] = nets as [Mlp, Mlp];
    const layout = ParamLayout.fromModel(a, a.namedParameters().map(([n]) => n));
    const spec = a.permutationSpec();
    const tensors = (m: Mlp) => new Map(m.namedParameters().map(([n, t]) => [n, { shape: t.shape, data: Float32Array.from(t.toArray()) }]));
    const ta = tensors(a), tb = tensors(b);
    const { perms } = weightMatching({ spec, reference: ta, other: tb, rng: new Rng(0) });
    const va = layout.read(a), vb = layout.read(b);
    const aligned = applyPermutations(spec, tb, perms);
    const vAligned = new Float32Array(layout.total);
    layout.names.forEach((n, i) => vAligned.set(aligned.get(n)!.data, layout.offsets[i]!));
    const naive = interpolationCurve({ model: a, layout, a: va, b: vb, data: test, points: 3 });
    const matched = interpolationCurve({ model: a, layout, a: va, b: vAligned, data: test, points: 3 });
    // the ends are the two networks (B's function does not change by being permuted)
    assert.equal(naive.loss[0], matched.loss[0]);
    assert.ok(Math.abs(naive.loss[2]! - matched.loss[2]!) < 1e-4, `${naive.loss[2]} vs ${matched.loss[2]}`);
    assert.ok(matched.loss[1]! < naive.loss[1]!, `aligned midpoint loss ${matched.loss[1]} should be below the naive ${naive.loss[1]}`);
    assert.ok(lossBarrier(matched).barrier < lossBarrier(naive).barrier);
    // the model is restored
    assert.deepEqual(layout.read(a), va);
  });
});
