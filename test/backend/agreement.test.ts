/**
 * The js and blas backends agree to 1e-4 (relative to the tensor's scale) on every op, forward and
 * backward, in float32. Skipped, with the reason, when the OpenBLAS addon is not built.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Backend } from '../../src/backend/backend.js';
import { blasBackend, jsBackend } from '../../src/backend/index.js';
import * as ops from '../../src/tensor/ops.js';
import { Tensor } from '../../src/tensor/tensor.js';
import { BASE_CASES, runOn, type Case } from '../helpers/op-cases.js';
import { assertClose, relToMax } from '../helpers/assert.js';

const blas = blasBackend();
const js = jsBackend('float32');

const CASES: Case[] = [
  ...BASE_CASES,
  // Sizes and geometries the blas backend's C kernels (native/*.c) special-case: elementwise
  // ops from 256 elements, several pool chunks from 64K, 2x2/s2 pooling fast path and general windows,
  // same-width (stride 1, "same" padding) im2col, strided and 1x1 convolutions, batched GEMM chunks.
  ['relu large', [[64, 1100]], ([x]) => ops.relu(x!)],
  ['leakyRelu large', [[7, 300]], ([x]) => ops.leakyRelu(x!, 0.2)],
  ['elu large', [[64, 1100]], ([x]) => ops.elu(x!, 0.7)],
  ['silu large', [[7, 300]], ([x]) => ops.silu(x!)],
  ['affine large', [[7, 300]], ([x]) => ops.affine(x!, -1.3, 0.25)],
  ['neg large', [[7, 300]], ([x]) => ops.neg(x!)],
  ['add broadcast large', [[8, 16, 40], [16, 1]], ([a, b]) => ops.add(a!, b!)],
  ['sub broadcast large', [[8, 16, 40], [8, 1, 40]], ([a, b]) => ops.sub(a!, b!)],
  ['mul broadcast large', [[8, 16, 40], [40]], ([a, b]) => ops.mul(a!, b!)],
  ['div broadcast large', [[8, 16, 40], [16, 40]], ([a, b]) => ops.div(a!, ops.addScalar(ops.square(b!), 1))],
  ['broadcast both large', [[8, 1, 40], [1, 16, 1]], ([a, b]) => ops.mul(a!, b!)],
  ['sum axes large', [[8, 16, 40]], ([x]) => ops.sum(x!, [0, 2])],
  ['sum inner large', [[16, 8, 7, 7]], ([x]) => ops.sum(x!, [2, 3])],
  ['sum outer large', [[128, 10]], ([x]) => ops.sum(x!, [0])],
  ['maxPool2d 2x2 s2 odd', [[3, 4, 15, 13]], ([x]) => ops.maxPool2d(x!, { kernel: 2 })],
  ['maxPool2d 2x2 s2 large', [[16, 16, 28, 28]], ([x]) => ops.maxPool2d(x!, { kernel: 2 })],
  ['maxPool2d 3x3 s2 p1', [[2, 3, 14, 13]], ([x]) => ops.maxPool2d(x!, { kernel: 3, stride: 2, padding: 1 })],
  ['maxPool2d 2x2 s1', [[2, 3, 9, 8]], ([x]) => ops.maxPool2d(x!, { kernel: 2, stride: 1 })],
  ['maxPool2d 3x2 s(2,1) p(1,0)', [[2, 3, 9, 8]], ([x]) => ops.maxPool2d(x!, { kernel: [3, 2], stride: [2, 1], padding: [1, 0] })],
  ['conv2d k3 s1 p1 big batch', [[40, 16, 14, 14], [32, 16, 3, 3]], ([x, w]) => ops.conv2d(x!, w!, null, { padding: 1 })],
  ['conv2d k3 s1 p1 c1', [[24, 1, 28, 28], [16, 1, 3, 3]], ([x, w]) => ops.conv2d(x!, w!, null, { padding: 1 })],
  ['conv2d k3 s2 p1', [[5, 3, 13, 12], [6, 3, 3, 3], [6]], ([x, w, b]) => ops.conv2d(x!, w!, b!, { stride: 2, padding: 1 })],
  ['conv2d k3 s1 p0', [[5, 3, 11, 10], [6, 3, 3, 3]], ([x, w]) => ops.conv2d(x!, w!, null)],
  ['conv2d k5 s1 p2', [[3, 4, 9, 11], [5, 4, 5, 5]], ([x, w]) => ops.conv2d(x!, w!, null, { padding: 2 })],
  ['conv2d k3x1 s(1,2) p(1,0)', [[3, 4, 9, 11], [5, 4, 3, 1]], ([x, w]) => ops.conv2d(x!, w!, null, { stride: [1, 2], padding: [1, 0] })],
  ['conv2d k4 s3 p2', [[3, 2, 10, 11], [3, 2, 4, 4]], ([x, w]) => ops.conv2d(x!, w!, null, { stride: 3, padding: 2 })],
  ['conv2d 1x1', [[4, 8, 9, 9], [12, 8, 1, 1], [12]], ([x, w, b]) => ops.conv2d(x!, w!, b!)],
  ['conv2d 1x1 small plane', [[4, 8, 3, 3], [12, 8, 1, 1]], ([x, w]) => ops.conv2d(x!, w!, null)],
  ['conv2d 1x1 s2', [[4, 8, 9, 9], [12, 8, 1, 1]], ([x, w]) => ops.conv2d(x!, w!, null, { stride: 2 })],
  ['conv1d k7 s1 p3', [[50, 16, 64], [32, 16, 7], [32]], ([x, w, b]) => ops.conv1d(x!, w!, b!, { stride: 1, padding: 3 })],
  ['conv1d k7 s2 p3 odd', [[7, 5, 67], [9, 5, 7]], ([x, w]) => ops.conv1d(x!, w!, null, { stride: 2, padding: 3 })],
  ['conv1d k7 s2 p3 big', [[50, 16, 192], [32, 16, 7], [32]], ([x, w, b]) => ops.conv1d(x!, w!, b!, { stride: 2, padding: 3 })],
  ['convTranspose1d big', [[50, 32, 48], [32, 16, 7], [16]], ([x, w, b]) => ops.convTranspose1d(x!, w!, b!, { stride: 2, padding: 3, outputPadding: 1 })],
  ['convTranspose1d s1', [[6, 8, 16], [8, 4, 5]], ([x, w]) => ops.convTranspose1d(x!, w!, null, { stride: 1, padding: 2 })],
  ['depthwise k3 s1 p1 large (threads)', [[16, 32, 28, 28], [32, 1, 3, 3], [32]], ([x, w, b]) => ops.conv2d(x!, w!, b!, { padding: 1, groups: 32 })],
  ['depthwise k5 s2 p2 large (threads)', [[16, 24, 28, 28], [24, 1, 5, 5]], ([x, w]) => ops.conv2d(x!, w!, null, { stride: 2, padding: 2, groups: 24 })],
  ['conv2d groups 4 large', [[8, 16, 14, 14], [32, 4, 3, 3]], ([x, w]) => ops.conv2d(x!, w!, null, { padding: 1, groups: 4 })],
  ['batchNorm2d train large', [[32, 16, 14, 14], [16], [16]], ([x, g, b]) => ops.batchNorm(x!, g!, b!, null, null, { training: true })],
  ['batchNorm train no affine', [[16, 6, 9, 9]], ([x]) => ops.batchNorm(x!, null, null, null, null, { training: true })],
  ['batchNorm [N, C] train', [[33, 20], [20], [20]], ([x, g, b]) => ops.batchNorm(x!, g!, b!, null, null, { training: true })],
  ['batchNorm train shifted', [[16, 6, 9, 9], [6], [6]], ([x, g, b]) => ops.batchNorm(ops.addScalar(x!, 50), g!, b!, null, null, { training: true })],
  ['batchNorm eval', [[16, 6, 9, 9], [6], [6]], ([x, g, b]) => {
    const be = x!.backend;
    const rm = new Tensor(be.fromArray([0.1, -0.2, 0.3, 0, 0.5, -1]), [6], be);
    const rv = new Tensor(be.fromArray([1, 0.5, 2, 0.25, 1.5, 3]), [6], be);
    return ops.batchNorm(x!, g!, b!, rm, rv, { training: false });
  }],
];

describe('js and blas backends agree to 1e-4', { skip: typeof blas === 'string' ? `blas backend unavailable: ${blas}` : false }, () => {
  for (const c of CASES) {
    it(c[0], () => {
      const a = runOn(blas as Backend, c, 7), b = runOn(js, c, 7);
      assert.equal(a.length, b.length);
      a.forEach((arr, i) => assertClose(arr, b[i]!, relToMax(1e-4, 1e-10), `${c[0]} ${i === 0 ? 'output' : `grad ${i - 1}`}`));
    });
  }
});
