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
 * Stages for split evaluation are the stem, each block ("layer3.2"), and the head.
 */
export class ResNetCifar extends Module implements Classifier {
  readonly arch: string;
  readonly conv1: Conv2d;
  readonly bn1: BatchNorm2d;
  readonly blocks: BasicBlock[] = [];
  readonly fc: Linear;
  readonly stages: string[];

  constructor(opts: { rng: Rng; backend?: Backend; depthN?: number; numClasses?: number; inChannels?: number }) {
    super(opts.backend);
    const be = this.backend, rng = opts.rng, n = opts.depthN ?? 3;
    this.arch = `resnet${6 * n + 2}`;
    this.conv1 = this.registerModule('conv1', new Conv2d(opts.inChannels ?? 3, 16, 3, { rng, backend: be, padding: 1, bias: false }));
    this.bn1 = this.registerModule('bn1', new BatchNorm2d(16, { backend: be }));
    const names: string[] = ['input', 'stem'];
    [[16, 16, 1], [16, 32, 2], [32, 64, 2]].forEach(([cin, cout, s], li) => {
      const st = this.registerModule(`layer${li + 1}`, new Stage(cin!, cout!, n, s!, rng, be));
      st.blocks.forEach((b, bi) => { this.blocks.push(b); names.push(`layer${li + 1}.${bi}`); });
    });
    this.fc = this.registerModule('fc', new Linear(64, opts.numClasses ?? 10, { rng, backend: be }));
    names.push('fc');
    this.stages = names;
  }

  forward(x: Tensor): Tensor { return this.forwardFrom(x, 0); }

  forwardTo(x: Tensor, end: number): Tensor {
    let h = x;
    if (end >= 1) h = ops.relu(this.bn1.forward(this.conv1.forward(h)));
    for (let i = 0; i < this.blocks.length && i + 2 <= end; i++) h = this.blocks[i]!.forward(h);
    return h;
  }

  forwardFrom(h: Tensor, start: number): Tensor {
    if (start < 1) h = ops.relu(this.bn1.forward(this.conv1.forward(h)));
    for (let i = Math.max(0, start - 1); i < this.blocks.length; i++) h = this.blocks[i]!.forward(h);
    return this.fc.forward(ops.globalAvgPool2d(h));
  }

  firstStageOf(names: readonly string[]): number {
    let first = this.stages.length - 1;
    for (const nm of names) {
      const parts = nm.split('.');
      const key = parts[0]!.startsWith('layer') ? `${parts[0]}.${parts[1]}` : parts[0] === 'fc' ? 'fc' : 'stem';
      const idx = this.stages.indexOf(key);
      if (idx > 0 && idx - 1 < first) first = idx - 1;
    }
    return first;
  }
}
