import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { blasBackend, jsBackend } from '../../src/backend/index.js';
import { CnnS, Mlp, ResNetCifar, buildClassifier } from '../../src/models/index.js';
import { Rng } from '../../src/tensor/random.js';
import { Tensor, noGrad } from '../../src/tensor/tensor.js';

const be = jsBackend();
const input = (shape: number[], seed = 1): Tensor => new Tensor(be.fromArray(new Rng(seed).fillNormal(new Float32Array(shape.reduce((a, b) => a * b, 1)))), shape, be);
const maxDiff = (a: ArrayLike<number>, b: ArrayLike<number>): number => { let m = 0; for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!)); return m; };

describe('classifiers', () => {
  it('cnn-s has the documented state_dict (names, order, shapes) and 24,058 learnable parameters', () => {
    const m = new CnnS({ rng: new Rng(0), backend: be });
    assert.deepEqual(m.stateDict().map(([n, t]) => `${n}:${t.shape.join('x')}`), [
      'conv1.weight:16x1x3x3', 'bn1.weight:16', 'bn1.bias:16', 'bn1.running_mean:16', 'bn1.running_var:16',
      'conv2.weight:32x16x3x3', 'bn2.weight:32', 'bn2.bias:32', 'bn2.running_mean:32', 'bn2.running_var:32',
      'conv3.weight:64x32x3x3', 'bn3.weight:64', 'bn3.bias:64', 'bn3.running_mean:64', 'bn3.running_var:64',
      'fc.weight:10x64', 'fc.bias:10',
    ]);
    assert.equal(m.numParameters(), 24058);
  });

  it('cnn-s split forward (forwardTo + forwardFrom) equals the full forward at every stage', () => {
    const m = new CnnS({ rng: new Rng(0), backend: be }).eval();
    const x = input([3, 1, 28, 28]);
    noGrad(() => {
      const full = m.forward(x).toArray();
      for (let s = 0; s < m.stages.length - 1; s++) assert.ok(maxDiff(m.forwardFrom(m.forwardTo(x, s), s).toArray(), full) < 1e-5, `stage ${s}`);
    });
    assert.equal(m.firstStageOf(['bn2.weight', 'bn3.bias']), 3);
    assert.equal(m.firstStageOf(['fc.weight']), 6);
    assert.equal(m.firstStageOf(['conv1.weight', 'fc.bias']), 0);
  });

  it('resnet20 has 0.27 M parameters, torchvision-style names, and a consistent split forward', () => {
    const m = new ResNetCifar({ rng: new Rng(0), backend: be }).eval();
    assert.equal(m.numParameters(), 272474);
    const names = m.stateDict().map(([n]) => n);
    for (const n of ['conv1.weight', 'bn1.running_var', 'layer1.0.conv1.weight', 'layer2.0.downsample.0.weight', 'layer2.0.downsample.1.running_mean', 'layer3.2.bn2.bias', 'fc.weight']) assert.ok(names.includes(n), n);
    const x = input([2, 3, 32, 32]);
    noGrad(() => {
      const full = m.forward(x);
      assert.deepEqual(full.shape, [2, 10]);
      const s = m.firstStageOf(['layer3.2.bn1.weight', 'layer3.2.bn2.bias']);
      assert.equal(m.stages[s + 1], 'layer3.2');
      assert.ok(maxDiff(m.forwardFrom(m.forwardTo(x, s), s).toArray(), full.toArray()) < 1e-5);
    });
  });

  it('mlp builds from the registry and splits consistently', () => {
    const m = buildClassifier('mlp', { rng: new Rng(0), backend: be, inShape: [1, 28, 28], numClasses: 10, model: { mlpHidden: [32, 16] } });
    assert.ok(m instanceof Mlp);
    assert.equal(m.numParameters(), 784 * 32 + 32 + 32 * 16 + 16 + 16 * 10 + 10);
    const x = input([4, 1, 28, 28]);
    noGrad(() => {
      const full = m.forward(x).toArray();
      for (let s = 0; s < m.stages.length - 1; s++) assert.ok(maxDiff(m.forwardFrom(m.forwardTo(x, s), s).toArray(), full) < 1e-5, `stage ${s}`);
    });
  });
});

it('cnn-s in inference: the fused conv + BN + ReLU passes (blas) give the bits of the separate ops', () => {
  const blas = blasBackend();
  if (typeof blas === 'string') return; // no addon: nothing fused to compare
  const rng = new Rng(5);
  const m = buildClassifier('cnn-s', { rng, backend: blas, inShape: [1, 28, 28], numClasses: 10 }) as CnnS;
  for (const [name, t] of m.namedBuffers()) {
    if (name.endsWith('running_var')) blas.write(t.storage, rng.fillUniform(new Float32Array(t.size), 0.3, 2));
    else if (name.endsWith('running_mean')) blas.write(t.storage, rng.fillNormal(new Float32Array(t.size), 0, 0.2));
  }
  for (const [name, p] of m.namedParameters()) if (/^bn/.test(name)) blas.write(p.storage, rng.fillNormal(new Float32Array(p.size), 0.3, 0.8));
  m.eval();
  const x = new Tensor(blas.fromArray(rng.fillNormal(new Float32Array(12 * 784))), [12, 1, 28, 28], blas);
  const plain = blas.read(m.forward(x).storage); // the parameters need gradients: the separate ops
  assert.deepEqual(blas.read(noGrad(() => m.forward(x)).storage), plain, 'forward');
  for (let s = 0; s <= 6; s++) {
    assert.deepEqual(blas.read(noGrad(() => m.forwardFrom(m.forwardTo(x, s), s)).storage), plain, `forwardTo / forwardFrom at stage ${s}`);
  }
  m.train();
  const t1 = blas.read(noGrad(() => m.forward(x)).storage), t2 = blas.read(m.forward(x).storage);
  assert.deepEqual(t1, t2, 'train mode: batch statistics, never fused');
});
