/**
 * Backend.empty skips the zero-fill of alloc, so every op that uses it must write each element of
 * its output. With poisonEmpty every `empty` storage starts as NaN: an element a kernel leaves
 * unwritten then shows up as NaN (or a changed value) instead of as stale memory. Every op case,
 * forward and backward, and training steps of the three networks of the pipeline must give the
 * same bits with and without the poison, on both CPU backends.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { blasBackend, jsBackend } from '../../src/backend/index.js';
import type { CpuBackend } from '../../src/backend/cpu.js';
import { CnnS } from '../../src/models/cnn-s.js';
import { AdamW } from '../../src/nn/optim.js';
import { ParamAutoencoder } from '../../src/pdiff/autoencoder.js';
import { LatentDenoiser } from '../../src/pdiff/denoiser.js';
import * as ops from '../../src/tensor/ops.js';
import { Rng } from '../../src/tensor/random.js';
import { Tensor, backward } from '../../src/tensor/tensor.js';
import { BASE_CASES, runOn } from '../helpers/op-cases.js';

function withPoison<T>(be: CpuBackend, on: boolean, f: () => T): T {
  const was = be.poisonEmpty;
  be.poisonEmpty = on;
  try { return f(); } finally { be.poisonEmpty = was; }
}

function sameBits(a: Float32Array[], b: Float32Array[], what: string): void {
  assert.equal(a.length, b.length, what);
  a.forEach((x, i) => {
    const y = b[i]!;
    assert.equal(x.length, y.length, `${what} #${i}`);
    const bad = x.findIndex((v, j) => !Object.is(v, y[j]));
    assert.equal(bad, -1, `${what}: output ${i} element ${bad} is ${y[bad]} with poisoned empty storages, ${x[bad]} without`);
  });
}

/** Three training steps of the pipeline's three networks; their parameters afterwards. */
function trainSteps(be: CpuBackend): Float32Array[] {
  const rng = new Rng(7);
  const rand = (shape: number[]): Tensor => new Tensor(be.fromArray(rng.fillNormal(new Float32Array(shape.reduce((p, d) => p * d, 1)))), shape, be);
  const cnn = new CnnS({ rng, backend: be }).train();
  const ae = new ParamAutoencoder({ L: 128, channels: [4, 8, 8, 8, 4], latentDim: 16, kernel: 7, rng, backend: be }).train();
  const den = new LatentDenoiser({ d: 16, channels: [1, 4, 8, 8, 8, 8, 8, 4, 1], kernel: 7, rng, backend: be }).train();
  const nets = [cnn, ae, den];
  const x = rand([64, 1, 28, 28]); // conv1's output is 64 x 16 x 784 floats: the recycled-buffer path
  const y = Int32Array.from({ length: 64 }, (_, i) => i % 10);
  const p = rand([8, 128]), z = rand([8, 16]), eps = rand([8, 16]);
  const t = Int32Array.from({ length: 8 }, (_, i) => 10 * i);
  const opts = nets.map((m) => new AdamW(m.parameters(), { lr: 1e-3 }));
  for (let s = 0; s < 3; s++) {
    const losses = [() => ops.crossEntropy(cnn.forward(x), y), () => ops.mseLoss(ae.forward(p), p), () => ops.mseLoss(den.forward(z, t), eps)];
    losses.forEach((loss, i) => { opts[i]!.zeroGrad(); backward(loss()); opts[i]!.step(); });
  }
  return nets.flatMap((m) => m.parameters().map((q) => Float32Array.from(q.toArray())));
}

for (const [name, make] of [['js', jsBackend], ['blas', blasBackend]] as const) {
  describe(`Backend.empty on ${name}: every output element is written`, () => {
    // blasBackend() returns the reason (a string) when the addon does not load: skip with it.
    const made: CpuBackend | string = make();
    const be = typeof made === 'string' ? null : made;
    const skip = typeof made === 'string' ? `${name} backend unavailable: ${made}` : false;
    it('every op case, forward and backward, is the same with poisoned empty storages', { skip }, () => {
      for (const c of BASE_CASES) {
        sameBits(withPoison(be!, false, () => runOn(be!, c, 3)), withPoison(be!, true, () => runOn(be!, c, 3)), `${name} ${c[0]}`);
      }
    });
    it('training steps of cnn-s, the autoencoder and the denoiser are the same with poisoned empty storages', { skip }, () => {
      sameBits(withPoison(be!, false, () => trainSteps(be!)), withPoison(be!, true, () => trainSteps(be!)), `${name} training`);
    });
    it('poison is really applied (an empty storage reads NaN)', { skip }, () => {
      withPoison(be!, true, () => assert.ok(Number.isNaN(be!.read(be!.empty(5))[3]!)));
      assert.equal(be!.read(be!.alloc(5))[3], 0);
    });
  });
}
