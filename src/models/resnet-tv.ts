/**
 * torchvision's ResNet (He et al. 2016) for resnet18 and resnet50, with torchvision's state_dict
 * names: conv1, bn1, layer1..layer4 of BasicBlock / Bottleneck (`downsample.0/1` where the shape
 * changes), fc. The small stem (P-Diff's CIFAR setting) replaces the 7x7 stride-2 conv and the max
 * pool by a 3x3 stride-1 conv; in PyTorch that is `model.conv1 = nn.Conv2d(c, 64, 3, 1, 1,
 * bias=False); model.maxpool = nn.Identity()` (scripts/torch/arch_models.py).
 */
import type { Backend } from '../backend/backend.js';
import { BatchNorm2d, Conv2d, Linear } from '../nn/layers.js';
import { Module } from '../nn/module.js';
import * as ops from '../tensor/ops.js';
import type { Rng } from '../tensor/random.js';
import type { Tensor } from '../tensor/tensor.js';
import { BasicBlock, DownSample } from './resnet.js';
import { StagedClassifier, type StageSpec } from './staged.js';

/** torchvision's Bottleneck (expansion 4; the stride sits on the 3x3 conv, "ResNet v1.5"). */
export class Bottleneck extends Module {
  readonly conv1: Conv2d;
  readonly bn1: BatchNorm2d;
  readonly conv2: Conv2d;
  readonly bn2: BatchNorm2d;
  readonly conv3: Conv2d;
  readonly bn3: BatchNorm2d;
  readonly down: DownSample | null = null;
  constructor(cin: number, planes: number, stride: number, rng: Rng, be: Backend) {
    super(be);
    const cout = planes * 4;
    this.conv1 = this.registerModule('conv1', new Conv2d(cin, planes, 1, { rng, backend: be, bias: false }));
    this.bn1 = this.registerModule('bn1', new BatchNorm2d(planes, { backend: be }));
    this.conv2 = this.registerModule('conv2', new Conv2d(planes, planes, 3, { rng, backend: be, stride, padding: 1, bias: false }));
    this.bn2 = this.registerModule('bn2', new BatchNorm2d(planes, { backend: be }));
    this.conv3 = this.registerModule('conv3', new Conv2d(planes, cout, 1, { rng, backend: be, bias: false }));
    this.bn3 = this.registerModule('bn3', new BatchNorm2d(cout, { backend: be }));
    if (stride !== 1 || cin !== cout) this.down = this.registerModule('downsample', new DownSample(cin, cout, stride, rng, be));
  }
  forward(x: Tensor): Tensor {
    let h = ops.relu(this.bn1.forward(this.conv1.forward(x)));
    h = ops.relu(this.bn2.forward(this.conv2.forward(h)));
    h = this.bn3.forward(this.conv3.forward(h));
    const sc = this.down ? this.down.bn.forward(this.down.conv.forward(x)) : x;
    return ops.relu(ops.add(h, sc));
  }
}

/** A `layerN` Sequential of blocks named "0", "1", ... */
class Layer extends Module {
  readonly blocks: Array<{ forward(x: Tensor): Tensor }> = [];
  add<M extends Module & { forward(x: Tensor): Tensor }>(name: string, m: M): void { this.blocks.push(this.registerModule(name, m)); }
}

export interface ResNetTvOptions {
  rng: Rng;
  backend?: Backend;
  /** 18 (BasicBlock x [2, 2, 2, 2]) or 50 (Bottleneck x [3, 4, 6, 3]). */
  depth: 18 | 50;
  inChannels: number;
  numClasses: number;
  /** 3x3 stride-1 stem without max pool (for small images). */
  smallStem: boolean;
}

/** torchvision resnet18 / resnet50. Stages: stem, each block ("layer4.1"), head (pool + fc). */
export class ResNetTv extends StagedClassifier {
  readonly arch: string;
  readonly conv1: Conv2d;
  readonly bn1: BatchNorm2d;
  readonly fc: Linear;
  /** 3x3 stride-1 stem without max pool (ResNetTvOptions.smallStem). */
  readonly smallStem: boolean;

  constructor(o: ResNetTvOptions) {
    super(o.backend);
    const be = this.backend, rng = o.rng;
    this.arch = `resnet${o.depth}`;
    this.smallStem = o.smallStem;
    this.conv1 = this.registerModule('conv1', o.smallStem
      ? new Conv2d(o.inChannels, 64, 3, { rng, backend: be, padding: 1, bias: false })
      : new Conv2d(o.inChannels, 64, 7, { rng, backend: be, stride: 2, padding: 3, bias: false }));
    this.bn1 = this.registerModule('bn1', new BatchNorm2d(64, { backend: be }));
    const specs: StageSpec[] = [{
      name: 'stem', prefixes: ['conv1', 'bn1'],
      run: (x) => {
        const h = ops.relu(this.bn1.forward(this.conv1.forward(x)));
        return o.smallStem ? h : ops.maxPool2d(h, { kernel: 3, stride: 2, padding: 1 });
      },
    }];
    const counts = o.depth === 18 ? [2, 2, 2, 2] : [3, 4, 6, 3];
    const expansion = o.depth === 18 ? 1 : 4;
    let cin = 64;
    [64, 128, 256, 512].forEach((planes, li) => {
      const layer = this.registerModule(`layer${li + 1}`, new Layer(be));
      for (let bi = 0; bi < counts[li]!; bi++) {
        const stride = bi === 0 && li > 0 ? 2 : 1;
        const block = o.depth === 18 ? new BasicBlock(cin, planes, stride, rng, be) : new Bottleneck(cin, planes, stride, rng, be);
        layer.add(String(bi), block);
        cin = planes * expansion;
        const name = `layer${li + 1}.${bi}`;
        specs.push({ name, prefixes: [name], run: (h) => block.forward(h) });
      }
    });
    this.fc = this.registerModule('fc', new Linear(512 * expansion, o.numClasses, { rng, backend: be }));
    specs.push({ name: 'fc', prefixes: ['fc'], run: (h) => this.fc.forward(ops.globalAvgPool2d(h)) });
    this.setStages(specs);
  }
}
