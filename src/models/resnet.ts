import { batchNormAxes, type PermutationGroup, type PermutationSpec } from '../align/spec.js';
import type { Backend } from '../backend/backend.js';
import { BatchNorm2d, Conv2d, Linear } from '../nn/layers.js';
import { Module } from '../nn/module.js';
import * as ops from '../tensor/ops.js';
import type { Rng } from '../tensor/random.js';
import type { Tensor } from '../tensor/tensor.js';
import type { Classifier } from './classifier.js';

/** ResNet basic block (He et al. 2016) with a 1x1 conv + BN shortcut when the shape changes (torchvision names). */
export class BasicBlock extends Module {
  readonly conv1: Conv2d;
  readonly bn1: BatchNorm2d;
  readonly conv2: Conv2d;
  readonly bn2: BatchNorm2d;
  readonly down: [Conv2d, BatchNorm2d] | null = null;
  constructor(cin: number, cout: number, stride: number, rng: Rng, be: Backend) {
    super(be);
    this.conv1 = this.registerModule('conv1', new Conv2d(cin, cout, 3, { rng, backend: be, stride, padding: 1, bias: false }));
    this.bn1 = this.registerModule('bn1', new BatchNorm2d(cout, { backend: be }));
    this.conv2 = this.registerModule('conv2', new Conv2d(cout, cout, 3, { rng, backend: be, padding: 1, bias: false }));
    this.bn2 = this.registerModule('bn2', new BatchNorm2d(cout, { backend: be }));
    if (stride !== 1 || cin !== cout) {
      const seq = this.registerModule('downsample', new DownSample(cin, cout, stride, rng, be));
      this.down = [seq.conv, seq.bn];
    }
  }
  forward(x: Tensor): Tensor {
    let h = ops.relu(this.bn1.forward(this.conv1.forward(x)));
    h = this.bn2.forward(this.conv2.forward(h));
    const sc = this.down ? this.down[1].forward(this.down[0].forward(x)) : x;
    return ops.relu(ops.add(h, sc));
  }
}

/** torchvision's `downsample` Sequential: children "0" (conv 1x1) and "1" (BN). */
export class DownSample extends Module {
  readonly conv: Conv2d;
  readonly bn: BatchNorm2d;
  constructor(cin: number, cout: number, stride: number, rng: Rng, be: Backend) {
    super(be);
    this.conv = this.registerModule('0', new Conv2d(cin, cout, 1, { rng, backend: be, stride, bias: false }));
    this.bn = this.registerModule('1', new BatchNorm2d(cout, { backend: be }));
  }
}

class Stage extends Module {
  readonly blocks: BasicBlock[] = [];
  constructor(cin: number, cout: number, n: number, stride: number, rng: Rng, be: Backend) {
    super(be);
    for (let i = 0; i < n; i++) this.blocks.push(this.registerModule(String(i), new BasicBlock(i === 0 ? cin : cout, cout, i === 0 ? stride : 1, rng, be)));
  }
}

/**
 * CIFAR ResNet (6n+2 layers; n = 3 gives ResNet-20): conv 3x3 (16) + BN + ReLU, three stages of n
 * basic blocks (16, 32, 64 channels; strides 1, 2, 2), global average pool, linear head.
 * Stages for split evaluation are the stem, each block ("layer3.2"), and the head; a block
 * without a downsample also has a boundary after its conv1 ("layer3.2.conv1", whose output is
 * conv1's output and the block input concatenated on the channel axis), so that generating the
 * last block's bn1/bn2 (P-Diff's choice) reruns one convolution per parameter set, not two.
 */
export class ResNetCifar extends Module implements Classifier {
  readonly arch: string;
  readonly conv1: Conv2d;
  readonly bn1: BatchNorm2d;
  readonly blocks: BasicBlock[] = [];
  readonly fc: Linear;
  readonly stages: string[];
  private readonly blockOf = new Map<string, BasicBlock>();
  /** Blocks with a stage boundary after conv1 (those without a downsample). */
  private readonly split = new Set<string>();

  constructor(opts: { rng: Rng; backend?: Backend; depthN?: number; numClasses?: number; inChannels?: number }) {
    super(opts.backend);
    const be = this.backend, rng = opts.rng, n = opts.depthN ?? 3;
    this.arch = `resnet${6 * n + 2}`;
    this.conv1 = this.registerModule('conv1', new Conv2d(opts.inChannels ?? 3, 16, 3, { rng, backend: be, padding: 1, bias: false }));
    this.bn1 = this.registerModule('bn1', new BatchNorm2d(16, { backend: be }));
    const names: string[] = ['input', 'stem'];
    [[16, 16, 1], [16, 32, 2], [32, 64, 2]].forEach(([cin, cout, s], li) => {
      const st = this.registerModule(`layer${li + 1}`, new Stage(cin!, cout!, n, s!, rng, be));
      st.blocks.forEach((b, bi) => {
        const name = `layer${li + 1}.${bi}`;
        this.blocks.push(b);
        this.blockOf.set(name, b);
        // a block without a downsample splits after conv1: a generated bn1/bn2 then reruns conv2 only
        if (!b.down) { this.split.add(name); names.push(`${name}.conv1`); }
        names.push(name);
      });
    });
    this.fc = this.registerModule('fc', new Linear(64, opts.numClasses ?? 10, { rng, backend: be }));
    names.push('fc');
    this.stages = names;
  }

  /** The whole network, block by block (training and latency; the stage split below is for evaluation). */
  forward(x: Tensor): Tensor {
    let h = ops.relu(this.bn1.forward(this.conv1.forward(x)));
    for (const b of this.blocks) h = b.forward(h);
    return this.fc.forward(ops.globalAvgPool2d(h));
  }

  /** One step of the stage chain: stage `s` (1-based index into stages) applied to h. */
  private stage(s: number, h: Tensor): Tensor {
    const name = this.stages[s]!;
    if (name === 'stem') return ops.relu(this.bn1.forward(this.conv1.forward(h)));
    if (name === 'fc') return this.fc.forward(ops.globalAvgPool2d(h));
    const b = this.blockOf.get(name.replace(/\.conv1$/, ''))!;
    if (name.endsWith('.conv1')) return ops.concat([b.conv1.forward(h), h], 1); // conv1's output and the shortcut, side by side
    if (!this.split.has(name)) return b.forward(h);
    const c = h.shape[1]! / 2;
    const a = ops.slice(h, 1, 0, c), x = ops.slice(h, 1, c, 2 * c);
    const y = b.bn2.forward(b.conv2.forward(ops.relu(b.bn1.forward(a))));
    return ops.relu(ops.add(y, x));
  }

  forwardTo(x: Tensor, end: number): Tensor {
    let h = x;
    for (let s = 1; s <= end && s < this.stages.length; s++) h = this.stage(s, h);
    return h;
  }

  forwardFrom(h: Tensor, start: number): Tensor {
    for (let s = Math.max(1, start + 1); s < this.stages.length; s++) h = this.stage(s, h);
    return h;
  }

  /**
   * The residual stream of each stage is one permutation: the stem (stage 1) or the downsample
   * shortcut (stages 2, 3) writes it, every block's conv2/bn2 adds to it and every block's conv1
   * (and the next stage's downsample conv) reads it, so all of them must agree; the head reads
   * the last one. Each block adds one inner permutation: conv1's output channels, bn1, and
   * conv2's input channels. ResNet-20: 3 stream groups (16, 32, 64) and 9 inner groups.
   */
  permutationSpec(): PermutationSpec {
    const n = this.blocks.length / 3;
    const streams: PermutationGroup[] = [];
    const inner: PermutationGroup[] = [];
    let stream: PermutationGroup = { name: 'P_layer1', size: this.conv1.outChannels, axes: [{ tensor: 'conv1.weight', axis: 0 }, ...batchNormAxes('bn1')] };
    this.blocks.forEach((b, k) => {
      const layer = `layer${Math.floor(k / n) + 1}`, p = `${layer}.${k % n}`;
      // the block reads the incoming stream (for a downsampling block, the previous stage's)
      stream.axes.push({ tensor: `${p}.conv1.weight`, axis: 1 });
      if (b.down) {
        stream.axes.push({ tensor: `${p}.downsample.0.weight`, axis: 1 });
        streams.push(stream);
        stream = { name: `P_${layer}`, size: b.down[0].outChannels, axes: [{ tensor: `${p}.downsample.0.weight`, axis: 0 }, ...batchNormAxes(`${p}.downsample.1`)] };
      }
      stream.axes.push({ tensor: `${p}.conv2.weight`, axis: 0 }, ...batchNormAxes(`${p}.bn2`));
      inner.push({
        name: `P_${p}`, size: b.conv1.outChannels,
        axes: [{ tensor: `${p}.conv1.weight`, axis: 0 }, ...batchNormAxes(`${p}.bn1`), { tensor: `${p}.conv2.weight`, axis: 1 }],
      });
    });
    stream.axes.push({ tensor: 'fc.weight', axis: 1 });
    streams.push(stream);
    return { groups: [...streams, ...inner] };
  }

  firstStageOf(names: readonly string[]): number {
    let first = this.stages.length - 1;
    for (const nm of names) {
      const parts = nm.split('.');
      let key = parts[0]!.startsWith('layer') ? `${parts[0]}.${parts[1]}` : parts[0] === 'fc' ? 'fc' : 'stem';
      if (this.split.has(key) && parts[2] === 'conv1') key = `${key}.conv1`;
      const idx = this.stages.indexOf(key);
      if (idx > 0 && idx - 1 < first) first = idx - 1;
    }
    return first;
  }
}
