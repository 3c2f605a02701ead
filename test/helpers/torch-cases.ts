/**
 * The op cases of test/fixtures/torch-ops.json (numbers PyTorch computed in float64, written by
 * scripts/torch/make_fixtures.py) and how each maps onto pdiff's ops.
 */
import { readFileSync } from 'node:fs';
import * as ops from '../../src/tensor/ops.js';
import type { Tensor } from '../../src/tensor/tensor.js';

export interface Arr { shape: number[]; data: number[] }
export interface Case { name: string; op: string; attrs: Record<string, any>; inputs: Record<string, Arr>; upstream?: Arr; output: Arr; grads?: Record<string, Arr>; requires_grad?: string[]; running_mean_after?: Arr; running_var_after?: Arr }
/** The whole fixture file. */
export const fx = JSON.parse(readFileSync(new URL('../fixtures/torch-ops.json', import.meta.url), 'utf8'));

/** The case's op applied to its inputs (as tensors named like the case's inputs). */
export function run(c: Case, t: Record<string, Tensor>): Tensor {
  const a = c.attrs;
  switch (c.op) {
    case 'matmul': return ops.matmul(t.a!, t.b!, { transA: a.transA ?? false, transB: a.transB ?? false });
    case 'linear': return ops.linear(t.x!, t.w!, t.b!);
    case 'conv2d': return ops.conv2d(t.x!, t.w!, t.b ?? null, { stride: a.stride, padding: a.padding, groups: a.groups ?? 1 });
    case 'conv1d': return ops.conv1d(t.x!, t.w!, t.b ?? null, { stride: a.stride, padding: a.padding });
    case 'conv_transpose1d': return ops.convTranspose1d(t.x!, t.w!, t.b ?? null, { stride: a.stride, padding: a.padding, outputPadding: a.output_padding });
    case 'batch_norm': return ops.batchNorm(t.x!, t.w!, t.b!, t.running_mean!, t.running_var!, { training: a.training, momentum: a.momentum, eps: a.eps });
    case 'layer_norm': return ops.layerNorm(t.x!, t.w!, t.b!, a.eps);
    case 'group_norm': return ops.groupNorm(t.x!, a.num_groups, t.w!, t.b!, a.eps);
    case 'instance_norm': return ops.groupNorm(t.x!, t.x!.shape[1]!, t.w!, t.b!, a.eps);
    case 'relu': return ops.relu(t.x!);
    case 'leaky_relu': return ops.leakyRelu(t.x!, a.negative_slope);
    case 'elu': return ops.elu(t.x!, a.alpha);
    case 'silu': return ops.silu(t.x!);
    case 'gelu': return ops.gelu(t.x!, a.approximate);
    case 'tanh': return ops.tanh(t.x!);
    case 'sigmoid': return ops.sigmoid(t.x!);
    case 'max_pool2d': return ops.maxPool2d(t.x!, { kernel: a.kernel_size, stride: a.stride, padding: a.padding });
    case 'avg_pool2d': return ops.avgPool2d(t.x!, { kernel: a.kernel_size, stride: a.stride, padding: a.padding });
    case 'adaptive_avg_pool2d': return ops.reshape(ops.globalAvgPool2d(t.x!), c.output.shape);
    case 'add': return ops.add(t.a!, t.b!);
    case 'sub': return ops.sub(t.a!, t.b!);
    case 'mul': return ops.mul(t.a!, t.b!);
    case 'div': return ops.div(t.a!, t.b!);
    case 'sum': return ops.sum(t.x!, a.dim ?? undefined, a.keepdim);
    case 'mean': return ops.mean(t.x!, a.dim ?? undefined, a.keepdim);
    case 'reshape': return ops.reshape(t.x!, a.shape);
    case 'permute': return ops.permute(t.x!, a.dims);
    case 'cat': return ops.concat(((a.order as string[] | undefined) ?? Object.keys(c.inputs)).map((k) => t[k]!), a.dim);
    case 'narrow': return ops.slice(t.x!, a.dim, a.start, a.start + a.length);
    case 'pad': return ops.pad(t.x!, [[a.pad[0], a.pad[1]]], a.value);
    case 'softmax': return ops.softmax(t.x!);
    case 'softmax_scaled': return ops.softmax(ops.mulScalar(t.x!, a.scale));
    case 'log_softmax': return ops.logSoftmax(t.x!);
    case 'mse_loss': return ops.mseLoss(t.input!, t.target!);
    default: throw new Error(`no mapping for ${c.op}`);
  }
}
