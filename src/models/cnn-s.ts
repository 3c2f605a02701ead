import { batchNormAxes, type PermutationSpec } from '../align/spec.js';
import type { Backend } from '../backend/backend.js';
import { BatchNorm2d, Conv2d, Linear } from '../nn/layers.js';
import { Module } from '../nn/module.js';
import * as ops from '../tensor/ops.js';
import type { Rng } from '../tensor/random.js';
import type { Tensor } from '../tensor/tensor.js';
import type { Classifier, EvalTailRequest, TailRunner } from './classifier.js';
import { cnnSEvalTail } from './cnn-s-tail.js';

/**
 * cnn-s (docs/zoo.md#classifiers): three 3x3 conv + BN + ReLU blocks (max-pool after the first two,
 * global average pool after the third) and a linear head. 24,058 learnable parameters for 1x28x28.
 */
export class CnnS extends Module implements Classifier {
  readonly conv1: Conv2d;
  readonly bn1: BatchNorm2d;
  readonly conv2: Conv2d;
  readonly bn2: BatchNorm2d;
  readonly conv3: Conv2d;
  readonly bn3: BatchNorm2d;
  readonly fc: Linear;
  readonly arch = 'cnn-s';

  constructor(opts: { rng: Rng; backend?: Backend; inChannels?: number; numClasses?: number; widths?: [number, number, number] }) {
    super(opts.backend);
    const be = this.backend;
    const [w1, w2, w3] = opts.widths ?? [16, 32, 64];
    const cin = opts.inChannels ?? 1;
    const rng = opts.rng;
    this.conv1 = this.registerModule('conv1', new Conv2d(cin, w1, 3, { rng, backend: be, padding: 1, bias: false }));
    this.bn1 = this.registerModule('bn1', new BatchNorm2d(w1, { backend: be }));
    this.conv2 = this.registerModule('conv2', new Conv2d(w1, w2, 3, { rng, backend: be, padding: 1, bias: false }));
    this.bn2 = this.registerModule('bn2', new BatchNorm2d(w2, { backend: be }));
    this.conv3 = this.registerModule('conv3', new Conv2d(w2, w3, 3, { rng, backend: be, padding: 1, bias: false }));
    this.bn3 = this.registerModule('bn3', new BatchNorm2d(w3, { backend: be }));
    this.fc = this.registerModule('fc', new Linear(w3, opts.numClasses ?? 10, { rng, backend: be }));
  }

  /** x [N, C, 28, 28] -> logits [N, classes] */
  forward(x: Tensor): Tensor {
    return this.forwardFrom(x, 0);
  }

  /** Stage boundaries where the forward pass can be split (see `forwardFrom`). */
  readonly stages = ['input', 'conv1', 'bn1', 'conv2', 'bn2', 'conv3', 'bn3', 'fc'] as const;

  /**
   * Run the network from stage `start`: 0 = from the input; k = from the output of stages[k]
   * (e.g. 3 = from conv2's output). Lets evaluation cache everything before the first generated layer.
   */
  forwardFrom(h: Tensor, start: number): Tensor {
    if (start < 1) h = ops.maxPool2d(this.block(h, this.conv1, this.bn1), { kernel: 2 });
    else if (start < 2) h = ops.maxPool2d(ops.relu(this.bn1.forward(h)), { kernel: 2 });
    if (start < 3) h = ops.maxPool2d(this.block(h, this.conv2, this.bn2), { kernel: 2 });
    else if (start < 4) h = ops.maxPool2d(ops.relu(this.bn2.forward(h)), { kernel: 2 });
    if (start < 5) h = ops.globalAvgPool2d(this.block(h, this.conv3, this.bn3));
    else if (start < 6) h = ops.globalAvgPool2d(ops.relu(this.bn3.forward(h)));
    return this.fc.forward(h);
  }

  /** Run stages [0, end) and return that stage's output (the cache for forwardFrom(·, end)). */
  forwardTo(x: Tensor, end: number): Tensor {
    let h = x;
    if (end >= 2) h = ops.maxPool2d(this.block(h, this.conv1, this.bn1), { kernel: 2 });
    else if (end >= 1) h = this.conv1.forward(h);
    if (end >= 4) h = ops.maxPool2d(this.block(h, this.conv2, this.bn2), { kernel: 2 });
    else if (end >= 3) h = this.conv2.forward(h);
    if (end >= 6) h = ops.globalAvgPool2d(this.block(h, this.conv3, this.bn3));
    else if (end >= 5) h = this.conv3.forward(h);
    return h;
  }

  /**
   * relu(bn(conv(h))): in inference (BN in eval mode, nothing needing a gradient) one backend pass
   * where the backend has it (ops.conv2dBnActEval, the same bits), else the three ops.
   */
  private block(h: Tensor, conv: Conv2d, bn: BatchNorm2d): Tensor {
    if (!bn.training && bn.runningMean && bn.runningVar) {
      const y = ops.conv2dBnActEval(h, conv.weight, conv.bias, { stride: conv.stride, padding: conv.padding },
        { weight: bn.weight, bias: bn.bias, runningMean: bn.runningMean, runningVar: bn.runningVar, eps: bn.eps }, 'relu');
      if (y) return y;
    }
    return ops.relu(bn.forward(conv.forward(h)));
  }

  /** The planned tail (src/models/cnn-s-tail.ts): reused buffers, fused backend passes, pooled features for bn mode. */
  evalTail(req: EvalTailRequest): TailRunner | null {
    return cnnSEvalTail(this, req);
  }

  /**
   * One permutation per conv block: the output channels of conv<i> (weight axis 0), all four
   * tensors of bn<i>, and the input channels of the next layer (conv<i+1>.weight axis 1, or
   * fc.weight axis 1 after the last block). BN, ReLU, max-pool and global average pool act per
   * channel, so they commute with the permutation.
   */
  permutationSpec(): PermutationSpec {
    const convs = [this.conv1, this.conv2, this.conv3];
    return {
      groups: convs.map((c, i) => ({
        name: `P_conv${i + 1}`,
        size: c.outChannels,
        axes: [
          { tensor: `conv${i + 1}.weight`, axis: 0 },
          ...batchNormAxes(`bn${i + 1}`),
          { tensor: i < 2 ? `conv${i + 2}.weight` : 'fc.weight', axis: 1 },
        ],
      })),
    };
  }

  /** The stage index of the first layer that owns one of `names` (parameters before it are frozen). */
  firstStageOf(names: readonly string[]): number {
    let first = this.stages.length;
    for (const n of names) {
      const mod = n.split('.')[0]!;
      const idx = this.stages.indexOf(mod as (typeof this.stages)[number]);
      if (idx > 0 && idx - 1 < first) first = idx - 1;
    }
    return first;
  }
}
