/**
 * torchvision's EfficientNet (Tan & Le 2019) built from its MBConvConfig list, with torchvision's
 * state_dict names: `features.0` (stem Conv2dNormActivation: `0` conv, `1` BN), `features.i.j`
 * MBConv blocks (`block.k`: expand 1x1, depthwise kxk, squeeze-excitation `fc1`/`fc2`, project
 * 1x1), the last 1x1 conv `features.8`, `classifier.1`. SiLU everywhere, sigmoid gating in SE,
 * stochastic depth on residual blocks (linearly rising to model.stochasticDepth), dropout before
 * the classifier. B0 is `_efficientnet_conf("efficientnet_b0", width_mult=1.0, depth_mult=1.0)`;
 * the small variant is width 0.5, depth 0.5 (scripts/torch/arch_models.py builds both).
 * The small stem (images of side <= 64) is the same stem with stride 1.
 */
import type { Backend } from '../backend/backend.js';
import { BatchNorm2d, Conv2d, Linear } from '../nn/layers.js';
import { Module } from '../nn/module.js';
import * as ops from '../tensor/ops.js';
import type { Rng } from '../tensor/random.js';
import type { Tensor } from '../tensor/tensor.js';
import { StagedClassifier, type StageSpec } from './staged.js';
import { ShapeError } from '../util/errors.js';

/** torchvision's _make_divisible(v, 8): round to a multiple of 8, never down by more than 10%. */
export function makeDivisible(v: number, divisor = 8): number {
  let nv = Math.max(divisor, Math.floor((v + divisor / 2) / divisor) * divisor);
  if (nv < 0.9 * v) nv += divisor;
  return nv;
}

/** One row of torchvision's MBConvConfig list, before width/depth scaling. */
export interface MbConvRow { expand: number; kernel: number; stride: number; cin: number; cout: number; layers: number }

/** EfficientNet-B0's rows (torchvision _efficientnet_conf). */
export const B0_ROWS: readonly MbConvRow[] = [
  { expand: 1, kernel: 3, stride: 1, cin: 32, cout: 16, layers: 1 },
  { expand: 6, kernel: 3, stride: 2, cin: 16, cout: 24, layers: 2 },
  { expand: 6, kernel: 5, stride: 2, cin: 24, cout: 40, layers: 2 },
  { expand: 6, kernel: 3, stride: 2, cin: 40, cout: 80, layers: 3 },
  { expand: 6, kernel: 5, stride: 1, cin: 80, cout: 112, layers: 3 },
  { expand: 6, kernel: 5, stride: 2, cin: 112, cout: 192, layers: 4 },
  { expand: 6, kernel: 3, stride: 1, cin: 192, cout: 320, layers: 1 },
];

/** Conv2dNormActivation: `0` conv (no bias), `1` BN, then SiLU unless `act` is false. */
export class ConvNormAct extends Module {
  readonly conv: Conv2d;
  readonly bn: BatchNorm2d;
  constructor(cin: number, cout: number, k: number, o: { stride?: number; groups?: number; act: boolean; rng: Rng; be: Backend }) {
    super(o.be);
    this.conv = this.registerModule('0', new Conv2d(cin, cout, k, { rng: o.rng, backend: o.be, stride: o.stride ?? 1, padding: (k - 1) >> 1, groups: o.groups ?? 1, bias: false }));
    this.bn = this.registerModule('1', new BatchNorm2d(cout, { backend: o.be }));
    this.act = o.act;
  }
  /** Whether SiLU follows the BN. */
  readonly act: boolean;
  forward(x: Tensor): Tensor {
    const h = this.bn.forward(this.conv.forward(x));
    return this.act ? ops.silu(h) : h;
  }
}

/** SqueezeExcitation: x * sigmoid(fc2(silu(fc1(avgpool(x))))), fc1/fc2 1x1 convs with bias. */
export class SqueezeExcitation extends Module {
  readonly fc1: Conv2d;
  readonly fc2: Conv2d;
  constructor(c: number, squeeze: number, rng: Rng, be: Backend) {
    super(be);
    this.fc1 = this.registerModule('fc1', new Conv2d(c, squeeze, 1, { rng, backend: be }));
    this.fc2 = this.registerModule('fc2', new Conv2d(squeeze, c, 1, { rng, backend: be }));
  }
  forward(x: Tensor): Tensor {
    const [n, c] = x.shape as [number, number];
    const s = ops.reshape(ops.globalAvgPool2d(x), [n, c, 1, 1]);
    return ops.mul(x, ops.sigmoid(this.fc2.forward(ops.silu(this.fc1.forward(s)))));
  }
}

class Seq extends Module {
  add<M extends Module>(name: string, m: M): M { return this.registerModule(name, m); }
}

/** MBConv: [expand 1x1] -> depthwise kxk -> SE -> project 1x1; residual (with stochastic depth) when shapes match. */
export class MbConv extends Module {
  /** The blocks of `block`, in order: [expand ConvNormAct], depthwise ConvNormAct, SqueezeExcitation, project ConvNormAct. */
  readonly parts: Array<ConvNormAct | SqueezeExcitation> = [];
  /** Whether the input is added back (stride 1, same channels). */
  readonly residual: boolean;
  constructor(cin: number, cout: number, expand: number, k: number, stride: number, private readonly sdProb: number, private readonly rng: Rng, be: Backend) {
    super(be);
    this.residual = stride === 1 && cin === cout;
    const mid = makeDivisible(cin * expand);
    const block = this.registerModule('block', new Seq(be));
    let i = 0;
    if (mid !== cin) this.parts.push(block.add(String(i++), new ConvNormAct(cin, mid, 1, { act: true, rng, be })));
    this.parts.push(block.add(String(i++), new ConvNormAct(mid, mid, k, { stride, groups: mid, act: true, rng, be })));
    this.parts.push(block.add(String(i++), new SqueezeExcitation(mid, Math.max(1, Math.floor(cin / 4)), rng, be)));
    this.parts.push(block.add(String(i++), new ConvNormAct(mid, cout, 1, { act: false, rng, be })));
  }
  forward(x: Tensor): Tensor {
    let h = x;
    for (const p of this.parts) h = p.forward(h);
    if (!this.residual) return h;
    return ops.add(ops.stochasticDepth(h, this.sdProb, this.rng, this.training), x);
  }
  /** The project ConvNormAct (the last of `parts`). */
  get projection(): ConvNormAct { return this.parts[this.parts.length - 1] as ConvNormAct; }
  /** A block without residual up to its project conv's output, before that conv's BatchNorm (forward = projection.bn of this). */
  forwardToProjectionNorm(x: Tensor): Tensor {
    if (this.residual) throw new ShapeError('MbConv.forwardToProjectionNorm: a residual block adds its input after the BatchNorm; use forward');
    let h = x;
    for (let i = 0; i < this.parts.length - 1; i++) h = this.parts[i]!.forward(h);
    return this.projection.conv.forward(h);
  }
}

export interface EfficientNetOptions {
  rng: Rng;
  backend?: Backend;
  arch: string;
  rows: readonly MbConvRow[];
  widthMult: number;
  depthMult: number;
  inChannels: number;
  numClasses: number;
  /** Stride-1 stem for small images. */
  smallStem: boolean;
  dropout: number;
  stochasticDepth: number;
}

/**
 * Stages: the stem, each MBConv block ("features.3.1"; a block without residual as two, the second
 * its project conv's BatchNorm, "features.7.0.block.3.1"), the last 1x1 conv ("features.8"),
 * head (pool, dropout, classifier).
 */
export class EfficientNet extends StagedClassifier {
  readonly arch: string;
  readonly classifier: Linear;

  constructor(o: EfficientNetOptions) {
    super(o.backend);
    const be = this.backend, rng = o.rng;
    this.arch = o.arch;
    const rows = o.rows.map((r) => ({ ...r, cin: makeDivisible(r.cin * o.widthMult), cout: makeDivisible(r.cout * o.widthMult), layers: Math.ceil(r.layers * o.depthMult) }));
    const features = this.registerModule('features', new Seq(be));
    const stem = features.add('0', new ConvNormAct(o.inChannels, rows[0]!.cin, 3, { stride: o.smallStem ? 1 : 2, act: true, rng, be }));
    const specs: StageSpec[] = [{ name: 'features.0', prefixes: ['features.0'], run: (x) => stem.forward(x) }];
    const total = rows.reduce((s, r) => s + r.layers, 0);
    let id = 0;
    rows.forEach((r, si) => {
      const stage = features.add(String(si + 1), new Seq(be));
      for (let j = 0; j < r.layers; j++) {
        const sd = o.stochasticDepth * id / total;
        const block = stage.add(String(j), new MbConv(j === 0 ? r.cin : r.cout, r.cout, r.expand, r.kernel, j === 0 ? r.stride : 1, sd, rng, be));
        id++;
        const name = `features.${si + 1}.${j}`;
        if (block.residual) {
          specs.push({ name, prefixes: [name], run: (h) => block.forward(h) });
        } else {
          // Without a residual the project conv's BatchNorm can start a stage of its own: a tail
          // that generates it (the presets' features.7.0.block.3.1) then skips the block's convs
          const proj = `${name}.block.${block.parts.length - 1}`;
          const before = block.parts.slice(0, -1).map((_, k) => `${name}.block.${k}`);
          specs.push({ name, prefixes: [...before, `${proj}.0`], run: (h) => block.forwardToProjectionNorm(h) });
          specs.push({ name: `${proj}.1`, prefixes: [`${proj}.1`], run: (h) => block.projection.bn.forward(h) });
        }
      }
    });
    const lastIn = rows[rows.length - 1]!.cout, lastOut = 4 * lastIn;
    const lastName = `features.${rows.length + 1}`;
    const last = features.add(String(rows.length + 1), new ConvNormAct(lastIn, lastOut, 1, { act: true, rng, be }));
    specs.push({ name: lastName, prefixes: [lastName], run: (h) => last.forward(h) });
    const head = this.registerModule('classifier', new Seq(be));
    this.classifier = head.add('1', new Linear(lastOut, o.numClasses, { rng, backend: be }));
    specs.push({
      name: 'classifier', prefixes: ['classifier'],
      run: (h) => this.classifier.forward(ops.dropout(ops.globalAvgPool2d(h), o.dropout, rng, this.training)),
    });
    this.setStages(specs);
  }
}
