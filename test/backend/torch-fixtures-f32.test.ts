/**
 * The PyTorch fixtures of the EfficientNet / ViT ops (test/fixtures/torch-ops.json, float64) on the
 * float32 backends: js, blas (the C kernels: depthwise convolutions, activations, broadcasting
 * mul) and webgpu (the WGSL kernels), forward and backward, to float32 accuracy. The float64
 * checks of every case are in test/tensor/torch-ops.test.ts. blas and webgpu are skipped, with the
 * reason, where they are unavailable.
 */
import { describe, it } from 'node:test';
import type { Backend } from '../../src/backend/backend.js';
import { blasBackend, jsBackend } from '../../src/backend/index.js';
import { loadWebgpu } from '../../src/backend/webgpu.js';
import * as ops from '../../src/tensor/ops.js';
import { Tensor, backward } from '../../src/tensor/tensor.js';
import { assertClose, relToMax } from '../helpers/assert.js';
import { fx, run, type Case } from '../helpers/torch-cases.js';

/** The cases checked here: every op an EfficientNet or a ViT block runs. */
const NAMES = [
  'conv2d_groups2_k3_s1_p1', 'conv2d_depthwise_k3_s1_p1', 'conv2d_depthwise_k5_s2_p2', 'conv2d_depthwise_k3_s2_p1_multiplier2',
  'matmul_batched_transB', 'matmul_batched_transA', 'silu_4d', 'gelu_4d', 'sigmoid_4d', 'softmax_scaled', 'layer_norm_btd',
  'mul_gating_nchw_nc11', 'layer_norm', 'silu', 'gelu', 'sigmoid', 'softmax',
];
const cases = (fx.cases as Case[]).filter((c) => NAMES.includes(c.name));

const blas = blasBackend();
const gpu = loadWebgpu();
const backends: Array<[string, Backend | string]> = [
  ['js', jsBackend('float32')],
  ['blas', typeof blas === 'string' ? `blas backend unavailable: ${blas}` : blas],
  ['webgpu', gpu.ok ? gpu.backend : `webgpu backend unavailable: ${gpu.reason}`],
];

describe('EfficientNet / ViT ops match PyTorch on the float32 backends', () => {
  it('finds every case it names in the fixture file', () => {
    const missing = NAMES.filter((n) => !cases.some((c) => c.name === n));
    if (missing.length) throw new Error(`torch-ops.json has no case ${missing.join(', ')}: regenerate it with scripts/torch/make_fixtures.py`);
  });
  for (const [bn, be] of backends) {
    describe(bn, { skip: typeof be === 'string' ? be : false }, () => {
      for (const c of cases) {
        it(c.name, () => {
          const b = be as Backend;
          const t: Record<string, Tensor> = {};
          for (const [k, v] of Object.entries(c.inputs)) t[k] = new Tensor(b.fromArray(v.data), v.shape, b, (c.requires_grad ?? []).includes(k));
          const y = run(c, t);
          const tol = relToMax(2e-5, 1e-6);
          assertClose(y.toArray(), c.output.data, tol, `${bn} ${c.name} output`);
          const up = new Tensor(b.fromArray(c.upstream!.data), y.shape, b);
          backward(ops.sum(ops.mul(y, up)));
          for (const [k, g] of Object.entries(c.grads ?? {})) assertClose(t[k]!.grad!.toArray(), g.data, tol, `${bn} ${c.name} grad ${k}`);
        });
      }
    });
  }
});
