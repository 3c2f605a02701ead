/** The op cases both backend-agreement suites run (js vs blas, js vs webgpu), forward and backward. */
import type { Backend } from '../../src/backend/backend.js';
import * as ops from '../../src/tensor/ops.js';
import { Rng } from '../../src/tensor/random.js';
import { Tensor, backward, shapeSize } from '../../src/tensor/tensor.js';

export type Case = [string, number[][], (t: Tensor[]) => Tensor];
export const labels = Int32Array.from([0, 3, 4, 1, 2, 2]);

export const BASE_CASES: Case[] = [
  ['relu', [[4, 33]], ([x]) => ops.relu(x!)],
  ['leakyRelu', [[4, 33]], ([x]) => ops.leakyRelu(x!, 0.01)],
  ['elu', [[4, 33]], ([x]) => ops.elu(x!)],
  ['silu', [[4, 33]], ([x]) => ops.silu(x!)],
  ['gelu', [[4, 33]], ([x]) => ops.gelu(x!)],
  ['tanh', [[4, 33]], ([x]) => ops.tanh(x!)],
  ['sigmoid', [[4, 33]], ([x]) => ops.sigmoid(x!)],
  ['softplus', [[4, 33]], ([x]) => ops.softplus(ops.mulScalar(x!, 8))],
  ['add broadcast', [[3, 5, 7], [5, 1]], ([a, b]) => ops.add(a!, b!)],
  ['mul broadcast', [[3, 5, 7], [7]], ([a, b]) => ops.mul(a!, b!)],
  ['div', [[3, 5], [3, 5]], ([a, b]) => ops.div(a!, ops.addScalar(ops.square(b!), 1))],
  ['sum axes', [[3, 5, 7]], ([x]) => ops.sum(x!, [0, 2])],
  ['matmul', [[37, 53], [53, 29]], ([a, b]) => ops.matmul(a!, b!)],
  ['bmm', [[3, 17, 23], [3, 23, 9]], ([a, b]) => ops.matmul(a!, b!)],
  ['linear', [[33, 64], [10, 64], [10]], ([x, w, b]) => ops.linear(x!, w!, b!)],
  ['conv2d k3 p1', [[8, 3, 15, 13], [16, 3, 3, 3], [16]], ([x, w, b]) => ops.conv2d(x!, w!, b!, { padding: 1 })],
  ['conv2d k3 s2', [[4, 5, 11, 12], [7, 5, 3, 3]], ([x, w]) => ops.conv2d(x!, w!, null, { stride: 2 })],
  ['conv1d k7 s2 p3', [[6, 4, 64], [8, 4, 7], [8]], ([x, w, b]) => ops.conv1d(x!, w!, b!, { stride: 2, padding: 3 })],
  ['convTranspose1d', [[6, 8, 16], [8, 4, 7], [4]], ([x, w, b]) => ops.convTranspose1d(x!, w!, b!, { stride: 2, padding: 3, outputPadding: 1 })],
  ['maxPool2d', [[4, 6, 14, 14]], ([x]) => ops.maxPool2d(x!, { kernel: 2 })],
  ['avgPool2d', [[4, 6, 13, 14]], ([x]) => ops.avgPool2d(x!, { kernel: 3, stride: 2, padding: 1 })],
  ['globalAvgPool', [[4, 6, 7, 7]], ([x]) => ops.globalAvgPool2d(x!)],
  ['batchNorm train', [[16, 6, 9, 9], [6], [6]], ([x, g, b]) => ops.batchNorm(x!, g!, b!, null, null, { training: true })],
  ['batchNorm1d train', [[16, 6, 40], [6], [6]], ([x, g, b]) => ops.batchNorm(x!, g!, b!, null, null, { training: true })],
  ['layerNorm', [[12, 40], [40], [40]], ([x, g, b]) => ops.layerNorm(x!, g!, b!)],
  ['groupNorm', [[4, 8, 30], [8], [8]], ([x, g, b]) => ops.groupNorm(x!, 4, g!, b!)],
  ['permute', [[3, 4, 5]], ([x]) => ops.permute(x!, [2, 0, 1])],
  ['concat+slice+pad', [[3, 4, 5], [3, 2, 5]], ([a, b]) => ops.pad(ops.slice(ops.concat([a!, b!], 1), 1, 1, 5), [[1, 2]])],
  ['logSoftmax', [[6, 10]], ([x]) => ops.logSoftmax(x!)],
  ['softmax', [[6, 10]], ([x]) => ops.softmax(x!)],
  ['crossEntropy', [[6, 5]], ([x]) => ops.crossEntropy(x!, labels, { labelSmoothing: 0.1 })],
  ['mse', [[6, 5], [6, 5]], ([a, b]) => ops.mseLoss(a!, b!)],
  // ---- EfficientNet / ViT ops
  ['conv2d groups 2', [[3, 4, 9, 8], [6, 2, 3, 3], [6]], ([x, w, b]) => ops.conv2d(x!, w!, b!, { padding: 1, groups: 2 })],
  ['depthwise k3 s1 p1', [[3, 8, 11, 10], [8, 1, 3, 3], [8]], ([x, w, b]) => ops.conv2d(x!, w!, b!, { padding: 1, groups: 8 })],
  ['depthwise k5 s2 p2', [[3, 6, 13, 12], [6, 1, 5, 5]], ([x, w]) => ops.conv2d(x!, w!, null, { stride: 2, padding: 2, groups: 6 })],
  ['depthwise k3 s2 p1 multiplier 2', [[2, 3, 9, 10], [6, 1, 3, 3], [6]], ([x, w, b]) => ops.conv2d(x!, w!, b!, { stride: 2, padding: 1, groups: 3 })],
  ['bmm transB (q k^T)', [[3, 17, 8], [3, 13, 8]], ([a, b]) => ops.matmul(a!, b!, { transB: true })],
  ['bmm transA', [[3, 8, 17], [3, 8, 13]], ([a, b]) => ops.matmul(a!, b!, { transA: true })],
  ['matmul transA transB shared B', [[3, 8, 17], [13, 8]], ([a, b]) => ops.matmul(a!, b!, { transA: true, transB: true })],
  ['silu 4d', [[2, 6, 5, 7]], ([x]) => ops.silu(ops.mulScalar(x!, 3))],
  ['gelu wide range', [[2, 6, 5, 7]], ([x]) => ops.gelu(ops.mulScalar(x!, 3))],
  ['sigmoid wide range', [[2, 6, 5, 7]], ([x]) => ops.sigmoid(ops.mulScalar(x!, 3))],
  ['softmax scaled (attention)', [[2, 3, 7, 7]], ([x]) => ops.softmax(ops.mulScalar(x!, 1 / Math.sqrt(8)))],
  ['layerNorm [B, T, D]', [[2, 5, 24], [24], [24]], ([x, g, b]) => ops.layerNorm(x!, g!, b!, 1e-6)],
  ['mul gating [N,C,H,W] * [N,C,1,1]', [[3, 8, 5, 6], [3, 8, 1, 1]], ([x, s]) => ops.mul(x!, ops.sigmoid(s!))],
  ['stochasticDepth', [[6, 4, 3, 3]], ([x]) => ops.stochasticDepth(x!, 0.5, new Rng(5), true)],
];

/**
 * Run a case on one backend with inputs drawn from `seed`: the output and the gradient of every
 * input under a random linear loss sum(y * r), all as host arrays.
 */
export function runOn(be: Backend, c: Case, seed: number): Float32Array[] {
  const rng = new Rng(seed);
  const inputs = c[1].map((s) => new Tensor(be.fromArray(rng.fillNormal(new Float32Array(shapeSize(s)))), s, be, true));
  const y = c[2](inputs);
  const r = new Tensor(be.fromArray(rng.fillNormal(new Float32Array(y.size))), y.shape, be);
  backward(ops.sum(ops.mul(y, r)));
  return [Float32Array.from(y.toArray()), ...inputs.map((t) => Float32Array.from(t.grad!.toArray()))];
}
