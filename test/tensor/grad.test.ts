import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Rng } from '../../src/tensor/random.js';
import * as ops from '../../src/tensor/ops.js';
import { Tensor } from '../../src/tensor/tensor.js';
import { be64, gradcheck, randT } from '../helpers/gradcheck.js';

const rng = new Rng(1234);
const positive = (shape: number[]): Tensor => {
  const t = randT(shape, rng);
  const a = t.toArray().map((v) => Math.abs(v) + 0.5);
  return new Tensor(be64.fromArray(a), shape, be64, true);
};

describe('gradients match central finite differences in float64', () => {
  it('unary activations', () => {
    for (const [name, f] of [
      ['relu', ops.relu], ['leakyRelu', (x: Tensor) => ops.leakyRelu(x, 0.01)], ['elu', (x: Tensor) => ops.elu(x, 1)],
      ['silu', ops.silu], ['gelu', (x: Tensor) => ops.gelu(x)], ['gelu_tanh', (x: Tensor) => ops.gelu(x, 'tanh')],
      ['tanh', ops.tanh], ['sigmoid', ops.sigmoid], ['exp', ops.exp], ['square', ops.square], ['neg', ops.neg],
      ['affine', (x: Tensor) => ops.affine(x, -1.7, 0.3)],
    ] as const) {
      gradcheck(name, ([x]) => f(x!), [randT([3, 7], rng)]);
    }
    gradcheck('log', ([x]) => ops.log(x!), [positive([5, 3])]);
    gradcheck('sqrt', ([x]) => ops.sqrt(x!), [positive([5, 3])]);
  });

  it('softplus, over a range wide enough to reach both of its asymptotes', () => {
    const r = new Rng(99);
    const x = randT([4, 9], r);
    const xs = x.toArray().map((v) => v * 15); // x ~ N(0, 15^2): well into both tails, where e^-|x| is below float64's epsilon
    gradcheck('softplus', ([t]) => ops.softplus(t!), [new Tensor(be64.fromArray(xs), [4, 9], be64, true)]);
    // values: log(1 + e^x) in closed form at a few points, and exactly x (0) far right (left)
    const y = ops.softplus(new Tensor(be64.fromArray([0, 1, -1, 40, -800, 800]), [6], be64)).toArray();
    const want = [Math.LN2, Math.log(1 + Math.E), Math.log(1 + 1 / Math.E), 40 + Math.exp(-40), 0, 800];
    want.forEach((w, i) => assert.ok(Math.abs(y[i]! - w) <= 1e-15 * Math.max(1, Math.abs(w)), `softplus[${i}] = ${y[i]}, expected ${w}`));
  });

  it('broadcasting add/sub/mul/div', () => {
    const shapes: Array<[number[], number[]]> = [[[2, 3, 4], [2, 3, 4]], [[2, 3, 4], [3, 1]], [[4], [2, 3, 4]], [[2, 1, 4], [1, 3, 1]], [[3, 5], []]];
    for (const [sa, sb] of shapes) {
      gradcheck(`add ${sa}/${sb}`, ([a, b]) => ops.add(a!, b!), [randT(sa, rng), randT(sb, rng)]);
      gradcheck(`sub ${sa}/${sb}`, ([a, b]) => ops.sub(a!, b!), [randT(sa, rng), randT(sb, rng)]);
      gradcheck(`mul ${sa}/${sb}`, ([a, b]) => ops.mul(a!, b!), [randT(sa, rng), randT(sb, rng)]);
      gradcheck(`div ${sa}/${sb}`, ([a, b]) => ops.div(a!, b!), [randT(sa, rng), positive(sb)]);
    }
  });

  it('sum and mean over axes', () => {
    gradcheck('sum all', ([x]) => ops.sum(x!), [randT([3, 4, 5], rng)]);
    gradcheck('sum axis 1', ([x]) => ops.sum(x!, 1), [randT([3, 4, 5], rng)]);
    gradcheck('sum axes 0,2 keepdim', ([x]) => ops.sum(x!, [0, 2], true), [randT([3, 4, 5], rng)]);
    gradcheck('mean axis -1', ([x]) => ops.mean(x!, -1), [randT([3, 4, 5], rng)]);
  });

  it('matmul, batched matmul and linear', () => {
    gradcheck('matmul', ([a, b]) => ops.matmul(a!, b!), [randT([5, 7], rng), randT([7, 3], rng)]);
    gradcheck('bmm', ([a, b]) => ops.matmul(a!, b!), [randT([2, 5, 7], rng), randT([2, 7, 3], rng)]);
    gradcheck('bmm shared', ([a, b]) => ops.matmul(a!, b!), [randT([2, 5, 7], rng), randT([7, 3], rng)]);
    gradcheck('linear', ([x, w, b]) => ops.linear(x!, w!, b!), [randT([4, 6], rng), randT([5, 6], rng), randT([5], rng)]);
    gradcheck('linear 3-D no bias', ([x, w]) => ops.linear(x!, w!, null), [randT([2, 3, 6], rng), randT([5, 6], rng)]);
  });

  it('conv2d with odd sizes, strides and padding', () => {
    for (const [n, c, h, w, o, k, s, p] of [[2, 3, 7, 6, 4, 3, 1, 1], [1, 2, 9, 8, 3, 3, 2, 1], [2, 1, 6, 7, 2, 2, 3, 0], [1, 2, 5, 5, 3, 1, 1, 0]] as const) {
      gradcheck(`conv2d k${k} s${s} p${p}`, ([x, wt, b]) => ops.conv2d(x!, wt!, b!, { stride: s, padding: p }),
        [randT([n, c, h, w], rng), randT([o, c, k, k], rng), randT([o], rng)]);
    }
    gradcheck('conv2d no bias', ([x, wt]) => ops.conv2d(x!, wt!, null, { padding: 1 }), [randT([2, 2, 5, 4], rng), randT([3, 2, 3, 3], rng)]);
  });

  it('conv1d and convTranspose1d', () => {
    gradcheck('conv1d k7 s2 p3', ([x, w, b]) => ops.conv1d(x!, w!, b!, { stride: 2, padding: 3 }), [randT([2, 3, 17], rng), randT([4, 3, 7], rng), randT([4], rng)]);
    gradcheck('conv1d k3 s1 p1', ([x, w, b]) => ops.conv1d(x!, w!, b!, { stride: 1, padding: 1 }), [randT([2, 2, 9], rng), randT([3, 2, 3], rng), randT([3], rng)]);
    gradcheck('convT1d k7 s2 p3 op1', ([x, w, b]) => ops.convTranspose1d(x!, w!, b!, { stride: 2, padding: 3, outputPadding: 1 }),
      [randT([2, 3, 6], rng), randT([3, 4, 7], rng), randT([4], rng)]);
    gradcheck('convT1d k3 s1 p0', ([x, w]) => ops.convTranspose1d(x!, w!, null, { stride: 1, padding: 0 }), [randT([1, 2, 5], rng), randT([2, 3, 3], rng)]);
    gradcheck('convT1d k5 s3 p1 op2', ([x, w, b]) => ops.convTranspose1d(x!, w!, b!, { stride: 3, padding: 1, outputPadding: 2 }),
      [randT([2, 2, 4], rng), randT([2, 3, 5], rng), randT([3], rng)]);
  });

  it('pooling', () => {
    gradcheck('maxPool2d k2', ([x]) => ops.maxPool2d(x!, { kernel: 2 }), [randT([2, 3, 6, 7], rng)]);
    gradcheck('maxPool2d k3 s2 p1', ([x]) => ops.maxPool2d(x!, { kernel: 3, stride: 2, padding: 1 }), [randT([1, 2, 7, 6], rng)]);
    gradcheck('avgPool2d k2', ([x]) => ops.avgPool2d(x!, { kernel: 2 }), [randT([2, 2, 6, 5], rng)]);
    gradcheck('avgPool2d k3 s1 p1', ([x]) => ops.avgPool2d(x!, { kernel: 3, stride: 1, padding: 1 }), [randT([1, 2, 5, 6], rng)]);
    gradcheck('globalAvgPool2d', ([x]) => ops.globalAvgPool2d(x!), [randT([2, 3, 4, 5], rng)]);
  });

  it('batchNorm in training and eval mode, 1d and 2d', () => {
    const rm = () => randT([3], rng, be64, 0.3, false);
    const rv = () => positive([3]).detach();
    gradcheck('bn2d train', ([x, g, b]) => ops.batchNorm(x!, g!, b!, rm(), rv(), { training: true }), [randT([4, 3, 3, 2], rng), randT([3], rng), randT([3], rng)]);
    gradcheck('bn1d train [N,C]', ([x, g, b]) => ops.batchNorm(x!, g!, b!, null, null, { training: true }), [randT([5, 3], rng), randT([3], rng), randT([3], rng)]);
    gradcheck('bn1d train [N,C,L]', ([x, g, b]) => ops.batchNorm(x!, g!, b!, null, null, { training: true }), [randT([3, 3, 5], rng), randT([3], rng), randT([3], rng)]);
    const m = rm(), v = rv();
    gradcheck('bn2d eval', ([x, g, b]) => ops.batchNorm(x!, g!, b!, m, v, { training: false }), [randT([2, 3, 3, 2], rng), randT([3], rng), randT([3], rng)]);
    gradcheck('bn no affine', ([x]) => ops.batchNorm(x!, null, null, null, null, { training: true }), [randT([4, 3, 2], rng)]);
  });

  it('layerNorm, groupNorm, instanceNorm', () => {
    gradcheck('layerNorm', ([x, g, b]) => ops.layerNorm(x!, g!, b!), [randT([4, 6], rng), randT([6], rng), randT([6], rng)]);
    gradcheck('groupNorm 2', ([x, g, b]) => ops.groupNorm(x!, 2, g!, b!), [randT([2, 4, 5], rng), randT([4], rng), randT([4], rng)]);
    gradcheck('instanceNorm', ([x]) => ops.groupNorm(x!, 3, null, null), [randT([2, 3, 6], rng)]);
  });

  it('layout: reshape, permute, concat, slice, pad', () => {
    gradcheck('reshape', ([x]) => ops.mul(ops.reshape(x!, [6, -1]), ops.reshape(x!, [6, 4])), [randT([2, 3, 4], rng)]);
    gradcheck('permute', ([x]) => ops.permute(x!, [2, 0, 1]), [randT([2, 3, 4], rng)]);
    gradcheck('transpose', ([x]) => ops.transpose(x!), [randT([3, 5], rng)]);
    gradcheck('concat', ([a, b]) => ops.concat([a!, b!], 1), [randT([2, 3, 4], rng), randT([2, 2, 4], rng)]);
    gradcheck('slice', ([x]) => ops.slice(x!, 2, 1, 4), [randT([2, 3, 5], rng)]);
    gradcheck('pad', ([x]) => ops.pad(x!, [[2, 1]], 0.5), [randT([2, 3, 4], rng)]);
  });

  it('softmax, logSoftmax, crossEntropy, mse', () => {
    gradcheck('softmax', ([x]) => ops.softmax(x!), [randT([4, 5], rng)]);
    gradcheck('logSoftmax', ([x]) => ops.logSoftmax(x!), [randT([4, 5], rng)]);
    const labels = Int32Array.from([0, 3, 4, 1]);
    gradcheck('crossEntropy', ([x]) => ops.crossEntropy(x!, labels), [randT([4, 5], rng)]);
    gradcheck('crossEntropy smoothing', ([x]) => ops.crossEntropy(x!, labels, { labelSmoothing: 0.1 }), [randT([4, 5], rng)]);
    gradcheck('mse', ([a, b]) => ops.mseLoss(a!, b!), [randT([3, 4], rng), randT([3, 4], rng)]);
  });

  it('a small network end to end', () => {
    gradcheck('conv-bn-relu-pool-linear', ([x, w, g, b, fw]) => {
      let h = ops.conv2d(x!, w!, null, { padding: 1 });
      h = ops.relu(ops.batchNorm(h, g!, b!, null, null, { training: true }));
      h = ops.globalAvgPool2d(ops.maxPool2d(h, { kernel: 2 }));
      return ops.crossEntropy(ops.linear(h, fw!, null), Int32Array.from([1, 0, 2]));
    }, [randT([3, 2, 6, 6], rng), randT([4, 2, 3, 3], rng), randT([4], rng), randT([4], rng), randT([3, 4], rng)]);
  });
});
