/** Results reproduce exactly from a seed on the same backend, threads included. */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { getBackend } from '../../src/backend/index.js';
import { CnnS } from '../../src/models/cnn-s.js';
import { AdamW } from '../../src/nn/optim.js';
import * as ops from '../../src/tensor/ops.js';
import { Rng } from '../../src/tensor/random.js';
import { Tensor, backward } from '../../src/tensor/tensor.js';

function train(seed: number): Float32Array[] {
  const be = getBackend();
  const rng = new Rng(seed);
  const model = new CnnS({ rng, backend: be }).train();
  const opt = new AdamW(model.parameters(), { lr: 3e-3, weightDecay: 5e-3 });
  for (let s = 0; s < 4; s++) {
    const x = new Tensor(be.fromArray(rng.fillNormal(new Float32Array(96 * 784))), [96, 1, 28, 28], be);
    const y = Int32Array.from({ length: 96 }, () => rng.int(10));
    const loss = ops.crossEntropy(model.forward(x), y);
    opt.zeroGrad();
    backward(loss);
    opt.step();
  }
  return model.stateDict().map(([, t]) => Float32Array.from(t.toArray()));
}

it('two training runs from the same seed give bit-identical weights and running stats', () => {
  const a = train(11), b = train(11);
  a.forEach((arr, i) => assert.deepEqual(arr, b[i]!, `tensor ${i} differs`));
});
