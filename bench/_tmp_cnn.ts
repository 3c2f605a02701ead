import { jsBackend, blasBackend } from '../src/backend/index.js';
import { CnnS } from '../src/models/cnn-s.js';
import { AdamW } from '../src/nn/optim.js';
import * as ops from '../src/tensor/ops.js';
import { Rng } from '../src/tensor/random.js';
import { Tensor, backward } from '../src/tensor/tensor.js';
import { medianMs } from './util.js';
import type { Backend } from '../src/backend/backend.js';
function cnnStepMs(be: Backend, steps = 20): number {
  const rng = new Rng(0);
  const model = new CnnS({ rng, backend: be }).train();
  const opt = new AdamW(model.parameters(), { lr: 3e-3, weightDecay: 5e-3 });
  const x = new Tensor(be.fromArray(rng.fillNormal(new Float32Array(128*784))), [128, 1, 28, 28], be);
  const y = Int32Array.from({ length: 128 }, () => rng.int(10));
  return medianMs(() => {
    const loss = ops.crossEntropy(model.forward(x), y);
    opt.zeroGrad();
    backward(loss);
    opt.step();
  }, steps, 3);
}
const b = blasBackend();
console.log('js', cnnStepMs(jsBackend(), 5));
if (typeof b !== 'string') console.log('blas', cnnStepMs(b, 10)); else console.log(b);
