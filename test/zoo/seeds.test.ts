/**
 * Folding BatchNorm running statistics into the BN weight and bias (docs/seeds.md#batchnorm): the
 * network computes the same logits in eval mode, with mean 0 and variance 1 in every layer.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { jsBackend } from '../../src/backend/index.js';
import { CnnS, ResNetCifar, type Classifier } from '../../src/models/index.js';
import { Rng } from '../../src/tensor/random.js';
import { Tensor, noGrad } from '../../src/tensor/tensor.js';
import { ParamLayout } from '../../src/zoo/layout.js';
import { foldBatchNorm, foldableNorms, zooTensorNames } from '../../src/zoo/seeds.js';
import { assertClose } from '../helpers/assert.js';

const be = jsBackend();

describe('foldBatchNorm', () => {
  for (const [name, make, side] of [
    ['cnn-s', () => new CnnS({ rng: new Rng(1), backend: be, widths: [4, 6, 8] }), 8],
    ['resnet20', () => new ResNetCifar({ rng: new Rng(1), backend: be, inChannels: 1 }), 8],
  ] as Array<[string, () => Classifier, number]>) {
    it(`leaves ${name}'s eval-mode logits unchanged and its running statistics at 0 and 1`, () => {
      const m = make().eval();
      const rng = new Rng(2);
      for (const [n, t] of m.stateDict()) {
        if (!/running_mean|running_var|bn\d\.(weight|bias)|downsample\.1\.(weight|bias)/.test(n)) continue;
        const v = new Float32Array(t.size);
        if (/running_var|weight/.test(n)) rng.fillUniform(v, 0.3, 2); else rng.fillNormal(v, 0, 0.5);
        t.backend.write(t.storage, v);
      }
      const x = new Tensor(be.fromArray(new Rng(3).fillNormal(new Float32Array(2 * side * side))), [2, 1, side, side], be);
      const before = noGrad(() => Array.from(m.forward(x).toArray()));
      const layout = ParamLayout.fromModel(m, zooTensorNames(m));
      const vec = layout.read(m);
      const norms = foldableNorms(m);
      assert.ok(norms.length >= 3);
      foldBatchNorm(layout, vec, norms);
      layout.write(m, vec);
      assertClose(noGrad(() => Array.from(m.forward(x).toArray())), before, { atol: 1e-5, rtol: 1e-5, relativeTo: 'max' }, `${name} logits`);
      for (const [n, t] of m.namedBuffers()) assert.ok(t.toArray().every((v) => v === (n.endsWith('running_var') ? 1 : 0)), n);
    });
  }

  it('names a BN tensor the layout lacks', () => {
    const m = new CnnS({ rng: new Rng(1), backend: be, widths: [4, 6, 8] });
    const layout = ParamLayout.fromModel(m, m.namedParameters().map(([n]) => n));
    assert.throws(() => foldBatchNorm(layout, layout.read(m), foldableNorms(m)), /"bn1\.running_mean" is not in the layout/);
  });
});
