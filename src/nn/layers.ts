import type { Backend } from '../backend/backend.js';
import { getBackend } from '../backend/index.js';
import * as ops from '../tensor/ops.js';
import type { Rng } from '../tensor/random.js';
import { Tensor, full, zeros } from '../tensor/tensor.js';
import { defaultInitBound, uniformTensor } from './init.js';
import { Layer, Module } from './module.js';
import { ShapeError } from '../util/errors.js';

/** Options shared by layers with parameters. */
export interface LayerOpts {
  /** Generator for the initial weights (PyTorch's default initialisation). */
  rng: Rng;
  backend?: Backend;
  /** Whether to learn an additive bias (default true). */
  bias?: boolean;
}

export class Linear extends Layer {
  readonly weight: Tensor; // [out, in]
  readonly bias: Tensor | null; // [out]
  constructor(readonly inFeatures: number, readonly outFeatures: number, opts: LayerOpts) {
    super(opts.backend ?? getBackend());
    const b = defaultInitBound(inFeatures);
    this.weight = this.registerParameter('weight', uniformTensor([outFeatures, inFeatures], -b, b, opts.rng, this.backend));
    this.bias = opts.bias === false ? null : this.registerParameter('bias', uniformTensor([outFeatures], -b, b, opts.rng, this.backend));
  }
  forward(x: Tensor): Tensor { return ops.linear(x, this.weight, this.bias); }
}

export interface ConvOpts extends LayerOpts { stride?: number; padding?: number }

/** Options of Conv2d. */
export interface Conv2dOpts extends ConvOpts {
  /** Channel groups, dividing in and out channels (PyTorch's `groups`; in = groups: depthwise). Default 1. */
  groups?: number;
}

export class Conv2d extends Layer {
  readonly weight: Tensor; // [out, in / groups, k, k]
  readonly bias: Tensor | null;
  readonly stride: number;
  readonly padding: number;
  readonly groups: number;
  constructor(readonly inChannels: number, readonly outChannels: number, readonly kernel: number, opts: Conv2dOpts) {
    super(opts.backend ?? getBackend());
    this.stride = opts.stride ?? 1;
    this.padding = opts.padding ?? 0;
    this.groups = opts.groups ?? 1;
    if (!Number.isInteger(this.groups) || this.groups < 1 || inChannels % this.groups !== 0 || outChannels % this.groups !== 0) {
      throw new ShapeError(`Conv2d: groups ${this.groups} must divide in channels ${inChannels} and out channels ${outChannels}`);
    }
    const perGroup = inChannels / this.groups;
    const b = defaultInitBound(perGroup * kernel * kernel); // PyTorch's fan-in: in / groups * k * k
    this.weight = this.registerParameter('weight', uniformTensor([outChannels, perGroup, kernel, kernel], -b, b, opts.rng, this.backend));
    this.bias = opts.bias === false ? null : this.registerParameter('bias', uniformTensor([outChannels], -b, b, opts.rng, this.backend));
  }
  forward(x: Tensor): Tensor {
    const args: ops.Conv2dArgs = { stride: this.stride, padding: this.padding };
    if (this.groups !== 1) args.groups = this.groups;
    return ops.conv2d(x, this.weight, this.bias, args);
  }
}

export class Conv1d extends Layer {
  readonly weight: Tensor; // [out, in, k]
  readonly bias: Tensor | null;
  readonly stride: number;
  readonly padding: number;
  constructor(readonly inChannels: number, readonly outChannels: number, readonly kernel: number, opts: ConvOpts) {
    super(opts.backend ?? getBackend());
    this.stride = opts.stride ?? 1;
    this.padding = opts.padding ?? 0;
    const b = defaultInitBound(inChannels * kernel);
    this.weight = this.registerParameter('weight', uniformTensor([outChannels, inChannels, kernel], -b, b, opts.rng, this.backend));
    this.bias = opts.bias === false ? null : this.registerParameter('bias', uniformTensor([outChannels], -b, b, opts.rng, this.backend));
  }
  forward(x: Tensor): Tensor { return ops.conv1d(x, this.weight, this.bias, { stride: this.stride, padding: this.padding }); }
}

export class ConvTranspose1d extends Layer {
  readonly weight: Tensor; // [in, out, k] (PyTorch layout)
  readonly bias: Tensor | null;
  readonly stride: number;
  readonly padding: number;
  readonly outputPadding: number;
  constructor(readonly inChannels: number, readonly outChannels: number, readonly kernel: number, opts: ConvOpts & { outputPadding?: number }) {
    super(opts.backend ?? getBackend());
    this.stride = opts.stride ?? 1;
    this.padding = opts.padding ?? 0;
    this.outputPadding = opts.outputPadding ?? 0;
    // PyTorch computes fan_in from weight.size(1) * k = out_channels * k for transposed convs.
    const b = defaultInitBound(outChannels * kernel);
    this.weight = this.registerParameter('weight', uniformTensor([inChannels, outChannels, kernel], -b, b, opts.rng, this.backend));
    this.bias = opts.bias === false ? null : this.registerParameter('bias', uniformTensor([outChannels], -b, b, opts.rng, this.backend));
  }
  forward(x: Tensor): Tensor {
    return ops.convTranspose1d(x, this.weight, this.bias, { stride: this.stride, padding: this.padding, outputPadding: this.outputPadding });
  }
}

export interface NormOpts { backend?: Backend; eps?: number; momentum?: number; affine?: boolean; trackRunningStats?: boolean }

/** BatchNorm over axis 1 of [N, C, ...] (BatchNorm1d and BatchNorm2d are the same computation). */
export class BatchNorm extends Layer {
  readonly weight: Tensor | null;
  readonly bias: Tensor | null;
  readonly runningMean: Tensor | null;
  readonly runningVar: Tensor | null;
  readonly eps: number;
  readonly momentum: number;
  constructor(readonly numFeatures: number, opts: NormOpts = {}) {
    super(opts.backend ?? getBackend());
    this.eps = opts.eps ?? 1e-5;
    this.momentum = opts.momentum ?? 0.1;
    const affine = opts.affine ?? true;
    this.weight = affine ? this.registerParameter('weight', full([numFeatures], 1, this.backend)) : null;
    this.bias = affine ? this.registerParameter('bias', zeros([numFeatures], this.backend)) : null;
    const track = opts.trackRunningStats ?? true;
    this.runningMean = track ? this.registerBuffer('running_mean', zeros([numFeatures], this.backend)) : null;
    this.runningVar = track ? this.registerBuffer('running_var', full([numFeatures], 1, this.backend)) : null;
  }
  forward(x: Tensor): Tensor {
    const useBatch = this.training || !this.runningMean;
    return ops.batchNorm(x, this.weight, this.bias, this.runningMean, this.runningVar, { training: useBatch, momentum: this.momentum, eps: this.eps });
  }
}
export class BatchNorm1d extends BatchNorm {}
export class BatchNorm2d extends BatchNorm {}

export class LayerNorm extends Layer {
  readonly weight: Tensor | null;
  readonly bias: Tensor | null;
  readonly eps: number;
  constructor(readonly normalizedShape: number, opts: NormOpts = {}) {
    super(opts.backend ?? getBackend());
    this.eps = opts.eps ?? 1e-5;
    const affine = opts.affine ?? true;
    this.weight = affine ? this.registerParameter('weight', full([normalizedShape], 1, this.backend)) : null;
    this.bias = affine ? this.registerParameter('bias', zeros([normalizedShape], this.backend)) : null;
  }
  forward(x: Tensor): Tensor { return ops.layerNorm(x, this.weight, this.bias, this.eps); }
}

export class GroupNorm extends Layer {
  readonly weight: Tensor | null;
  readonly bias: Tensor | null;
  readonly eps: number;
  constructor(readonly numGroups: number, readonly numChannels: number, opts: NormOpts = {}) {
    super(opts.backend ?? getBackend());
    this.eps = opts.eps ?? 1e-5;
    const affine = opts.affine ?? true;
    this.weight = affine ? this.registerParameter('weight', full([numChannels], 1, this.backend)) : null;
    this.bias = affine ? this.registerParameter('bias', zeros([numChannels], this.backend)) : null;
  }
  forward(x: Tensor): Tensor { return ops.groupNorm(x, this.numGroups, this.weight, this.bias, this.eps); }
}

/** InstanceNorm1d (PyTorch defaults: affine false, no running stats). */
export class InstanceNorm1d extends Layer {
  readonly weight: Tensor | null;
  readonly bias: Tensor | null;
  readonly eps: number;
  constructor(readonly numFeatures: number, opts: NormOpts = {}) {
    super(opts.backend ?? getBackend());
    this.eps = opts.eps ?? 1e-5;
    const affine = opts.affine ?? false;
    this.weight = affine ? this.registerParameter('weight', full([numFeatures], 1, this.backend)) : null;
    this.bias = affine ? this.registerParameter('bias', zeros([numFeatures], this.backend)) : null;
  }
  forward(x: Tensor): Tensor { return ops.groupNorm(x, this.numFeatures, this.weight, this.bias, this.eps); }
}

/** A parameter-free layer wrapping an op. */
export class Fn extends Layer {
  constructor(readonly fn: (x: Tensor) => Tensor, readonly label: string) { super(); }
  forward(x: Tensor): Tensor { return this.fn(x); }
}

export const ReLU = (): Fn => new Fn(ops.relu, 'ReLU');
export const LeakyReLU = (slope = 0.01): Fn => new Fn((x) => ops.leakyRelu(x, slope), 'LeakyReLU');
export const ELU = (alpha = 1): Fn => new Fn((x) => ops.elu(x, alpha), 'ELU');
export const SiLU = (): Fn => new Fn(ops.silu, 'SiLU');
export const GELU = (approximate: 'none' | 'tanh' = 'none'): Fn => new Fn((x) => ops.gelu(x, approximate), 'GELU');
export const Tanh = (): Fn => new Fn(ops.tanh, 'Tanh');
export const Sigmoid = (): Fn => new Fn(ops.sigmoid, 'Sigmoid');
export const Flatten = (startDim = 1): Fn => new Fn((x) => ops.flatten(x, startDim), 'Flatten');
export const MaxPool2d = (kernel: number, stride?: number, padding = 0): Fn =>
  new Fn((x) => ops.maxPool2d(x, { kernel, stride: stride ?? kernel, padding }), 'MaxPool2d');
export const AvgPool2d = (kernel: number, stride?: number, padding = 0): Fn =>
  new Fn((x) => ops.avgPool2d(x, { kernel, stride: stride ?? kernel, padding }), 'AvgPool2d');
export const GlobalAvgPool2d = (): Fn => new Fn(ops.globalAvgPool2d, 'GlobalAvgPool2d');

export class Dropout extends Layer {
  constructor(readonly p: number, readonly rng: Rng) { super(); }
  forward(x: Tensor): Tensor { return ops.dropout(x, this.p, this.rng, this.training); }
}

/** Layers applied in order; children are named "0", "1", ... as in PyTorch. */
export class Sequential extends Layer {
  readonly layers: Layer[];
  constructor(...layers: Layer[]) {
    super(layers[0]?.backend ?? getBackend());
    this.layers = layers;
    layers.forEach((l, i) => this.registerModule(String(i), l));
  }
  forward(x: Tensor): Tensor {
    let h = x;
    for (const l of this.layers) h = l.forward(h);
    return h;
  }
}

export { Module, Layer };
