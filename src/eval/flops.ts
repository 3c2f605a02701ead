/**
 * Analytical cost of one forward pass of ONE example (batch 1), layer by layer.
 *
 * Counting convention (multiply-adds, "MACs"):
 * - conv2d:  MACs = cout * hout * wout * (cin / groups) * kh * kw; conv1d likewise with lout and k.
 * - convtranspose1d: every input element is scattered to k outputs per output channel:
 *            MACs = cin * lin * (cout / groups) * k (independent of padding / output_padding).
 * - linear:  MACs = in * out.
 *   Bias additions are not MACs; they are counted separately as `adds` (one per output element).
 * - batchnorm in eval mode folds into one scale and one shift per channel: 1 MAC per element
 *   (c * spatial); its 2c learnable parameters (weight, bias) count as params, the running
 *   statistics are buffers and do not.
 * - activations, pooling, global average pooling: 0 MACs, counted as `elementOps`
 *   (activations: one per element; max/avg pooling: one per window read, c * hout * wout * kh * kw;
 *   gap: one per input element, c * spatial).
 * FLOPs, if wanted, are usually quoted as 2 * MACs.
 */
import { ShapeError } from '../util/errors.js';

export interface Conv2dSpec {
  kind: 'conv2d';
  name?: string;
  cin: number;
  cout: number;
  kh: number;
  kw: number;
  /** Output height and width (after stride/padding). */
  hout: number;
  wout: number;
  bias: boolean;
  /** Channel groups; default 1. */
  groups?: number;
}

export interface Conv1dSpec {
  kind: 'conv1d';
  name?: string;
  cin: number;
  cout: number;
  k: number;
  /** Output length. */
  lout: number;
  bias: boolean;
  groups?: number;
}

export interface ConvTranspose1dSpec {
  kind: 'convtranspose1d';
  name?: string;
  cin: number;
  cout: number;
  k: number;
  /** Input length. */
  lin: number;
  /** Output length. */
  lout: number;
  bias: boolean;
  groups?: number;
}

export interface LinearSpec {
  kind: 'linear';
  name?: string;
  in: number;
  out: number;
  bias: boolean;
}

export interface BatchNormSpec {
  kind: 'batchnorm';
  name?: string;
  /** Channels. */
  c: number;
  /** Elements per channel (H * W for 2-D, L for 1-D, 1 after flattening). */
  spatial: number;
}

export interface ActivationSpec {
  kind: 'relu' | 'leakyrelu' | 'elu' | 'silu';
  name?: string;
  /** Elements the activation touches. */
  elements: number;
}

export interface PoolSpec {
  kind: 'maxpool' | 'avgpool';
  name?: string;
  c: number;
  hout: number;
  wout: number;
  kh: number;
  kw: number;
}

export interface GlobalAvgPoolSpec {
  kind: 'gap';
  name?: string;
  c: number;
  /** Input elements per channel. */
  spatial: number;
}

export type LayerSpec =
  | Conv2dSpec
  | Conv1dSpec
  | ConvTranspose1dSpec
  | LinearSpec
  | BatchNormSpec
  | ActivationSpec
  | PoolSpec
  | GlobalAvgPoolSpec;

export interface LayerCount {
  name: string;
  kind: LayerSpec['kind'];
  /** Learnable parameters. */
  params: number;
  /** Multiply-adds per example. */
  macs: number;
  /** Bias additions per example. */
  adds: number;
  /** Non-arithmetic element operations per example (activations, pooling reads). */
  elementOps: number;
}

export interface ModelCount {
  params: number;
  macs: number;
  adds: number;
  elementOps: number;
  perLayer: LayerCount[];
}

function groupsOf(spec: { groups?: number; cin: number; cout: number }): number {
  const g = spec.groups ?? 1;
  if (!(Number.isInteger(g) && g >= 1 && spec.cin % g === 0 && spec.cout % g === 0)) {
    throw new ShapeError(`flops: groups = ${g} must be a positive integer dividing cin = ${spec.cin} and cout = ${spec.cout}`);
  }
  return g;
}

/** Multiply-adds of one example through `spec` (see the module comment for the convention). */
export function layerMacs(spec: LayerSpec): number {
  switch (spec.kind) {
    case 'conv2d':
      return spec.cout * spec.hout * spec.wout * (spec.cin / groupsOf(spec)) * spec.kh * spec.kw;
    case 'conv1d':
      return spec.cout * spec.lout * (spec.cin / groupsOf(spec)) * spec.k;
    case 'convtranspose1d':
      return spec.cin * spec.lin * (spec.cout / groupsOf(spec)) * spec.k;
    case 'linear':
      return spec.in * spec.out;
    case 'batchnorm':
      return spec.c * spec.spatial;
    default:
      return 0;
  }
}

/** Learnable parameters of `spec` (BN running statistics are buffers, not counted). */
export function layerParams(spec: LayerSpec): number {
  switch (spec.kind) {
    case 'conv2d':
      return spec.cout * (spec.cin / groupsOf(spec)) * spec.kh * spec.kw + (spec.bias ? spec.cout : 0);
    case 'conv1d':
      return spec.cout * (spec.cin / groupsOf(spec)) * spec.k + (spec.bias ? spec.cout : 0);
    case 'convtranspose1d':
      return spec.cin * (spec.cout / groupsOf(spec)) * spec.k + (spec.bias ? spec.cout : 0);
    case 'linear':
      return spec.in * spec.out + (spec.bias ? spec.out : 0);
    case 'batchnorm':
      return 2 * spec.c;
    default:
      return 0;
  }
}

/** Bias additions of one example through `spec`. */
export function layerAdds(spec: LayerSpec): number {
  switch (spec.kind) {
    case 'conv2d':
      return spec.bias ? spec.cout * spec.hout * spec.wout : 0;
    case 'conv1d':
    case 'convtranspose1d':
      return spec.bias ? spec.cout * spec.lout : 0;
    case 'linear':
      return spec.bias ? spec.out : 0;
    default:
      return 0;
  }
}

/** Element operations (activations, pooling window reads, global-average-pool reads). */
export function layerElementOps(spec: LayerSpec): number {
  switch (spec.kind) {
    case 'relu':
    case 'leakyrelu':
    case 'elu':
    case 'silu':
      return spec.elements;
    case 'maxpool':
    case 'avgpool':
      return spec.c * spec.hout * spec.wout * spec.kh * spec.kw;
    case 'gap':
      return spec.c * spec.spatial;
    default:
      return 0;
  }
}

/** Totals and per-layer counts of a model given as its list of layers. */
export function countModel(specs: readonly LayerSpec[]): ModelCount {
  const perLayer: LayerCount[] = specs.map((s, i) => ({
    name: s.name ?? `${i}:${s.kind}`,
    kind: s.kind,
    params: layerParams(s),
    macs: layerMacs(s),
    adds: layerAdds(s),
    elementOps: layerElementOps(s),
  }));
  let params = 0;
  let macs = 0;
  let adds = 0;
  let elementOps = 0;
  for (const l of perLayer) {
    params += l.params;
    macs += l.macs;
    adds += l.adds;
    elementOps += l.elementOps;
  }
  return { params, macs, adds, elementOps, perLayer };
}
