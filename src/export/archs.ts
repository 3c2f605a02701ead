/**
 * One ONNX graph function per architecture of the registry (src/models/registry.ts), each the
 * model's eval-mode forward written out op by op: dropout and stochastic depth are identities,
 * BatchNorm uses its running statistics. The table is keyed by the registry's names and checked
 * against them by the compiler, so adding an architecture means adding its function here
 * (docs/export.md#adding-an-architecture).
 */
import type { Classifier } from '../models/classifier.js';
import { CnnS } from '../models/cnn-s.js';
import { ConvNormAct, EfficientNet, MbConv, SqueezeExcitation } from '../models/efficientnet.js';
import { Mlp } from '../models/mlp.js';
import type { Arch } from '../models/registry.js';
import { BasicBlock, ResNetCifar } from '../models/resnet.js';
import { Bottleneck, ResNetTv } from '../models/resnet-tv.js';
import { VisionTransformer } from '../models/vit.js';
import type { Linear } from '../nn/layers.js';
import type { Module } from '../nn/module.js';
import { ShapeError } from '../util/errors.js';
import { int, ints, type OnnxGraph } from './graph.js';

/** What an architecture's graph function gets. */
export interface ArchGraphArgs {
  g: OnnxGraph;
  model: Classifier;
  /** The graph input: images [N, C, H, W]. */
  x: string;
  /** One image [C, H, W]. */
  inShape: readonly [number, number, number];
}

/** Builds the graph from input `x` to the logits [N, classes] and returns the logits' value name. */
export type ArchGraph = (a: ArchGraphArgs) => string;

/** `model` as an instance of `cls`, or a ShapeError naming both. */
function as<T>(model: Module, cls: abstract new (...args: never[]) => T, arch: string): T {
  if (!(model instanceof cls)) throw new ShapeError(`ONNX export of "${arch}": expected a ${cls.name}, got a ${model.constructor.name}`);
  return model;
}

/** torchvision's BasicBlock: relu(bn2(conv2(relu(bn1(conv1(x))))) + shortcut(x)). */
function basicBlock(g: OnnxGraph, b: BasicBlock, x: string): string {
  const p = g.path(b);
  let h = g.relu(g.batchNorm(g.conv(x, b.conv1), b.bn1), `${p}.relu1`);
  h = g.batchNorm(g.conv(h, b.conv2), b.bn2);
  const sc = b.down ? g.batchNorm(g.conv(x, b.down[0]), b.down[1]) : x;
  return g.relu(g.add(h, sc, `${p}.add`), `${p}.relu2`);
}

/** torchvision's Bottleneck: 1x1, 3x3 (stride), 1x1 x4, plus the shortcut. */
function bottleneck(g: OnnxGraph, b: Bottleneck, x: string): string {
  const p = g.path(b);
  let h = g.relu(g.batchNorm(g.conv(x, b.conv1), b.bn1), `${p}.relu1`);
  h = g.relu(g.batchNorm(g.conv(h, b.conv2), b.bn2), `${p}.relu2`);
  h = g.batchNorm(g.conv(h, b.conv3), b.bn3);
  const sc = b.down ? g.batchNorm(g.conv(x, b.down.conv), b.down.bn) : x;
  return g.relu(g.add(h, sc, `${p}.add`), `${p}.relu3`);
}

/** The global average pool and linear head shared by the CNNs: [N, C, H, W] -> [N, classes]. */
function poolHead(g: OnnxGraph, x: string, fc: Linear): string {
  return g.linear(g.flatten(g.globalAvgPool(x, 'avgpool'), 'flatten'), fc);
}

const mlp: ArchGraph = ({ g, model, x }) => {
  const m = as(model, Mlp, 'mlp');
  let h = g.flatten(x, 'flatten');
  m.layers.forEach((l, i) => {
    h = g.linear(h, l);
    if (i < m.layers.length - 1) h = g.relu(h, `${g.path(l)}.relu`);
  });
  return h;
};

const cnnS: ArchGraph = ({ g, model, x }) => {
  const m = as(model, CnnS, 'cnn-s');
  let h = g.maxPool(g.relu(g.batchNorm(g.conv(x, m.conv1), m.bn1), 'relu1'), 'pool1', 2);
  h = g.maxPool(g.relu(g.batchNorm(g.conv(h, m.conv2), m.bn2), 'relu2'), 'pool2', 2);
  h = g.relu(g.batchNorm(g.conv(h, m.conv3), m.bn3), 'relu3');
  return poolHead(g, h, m.fc);
};

/** CIFAR ResNet-(6n+2): ResNetCifar.forward (the stage split is an evaluation device, not a different network). */
const cifarResNet = (arch: Arch): ArchGraph => ({ g, model, x }) => {
  const m = as(model, ResNetCifar, arch);
  let h = g.relu(g.batchNorm(g.conv(x, m.conv1), m.bn1), 'relu');
  for (const b of m.blocks) h = basicBlock(g, b, h);
  return poolHead(g, h, m.fc);
};

/** torchvision resnet18 / resnet50: stem (with max pool unless small), layer1..4, pool, fc. */
const tvResNet = (arch: Arch): ArchGraph => ({ g, model, x }) => {
  const m = as(model, ResNetTv, arch);
  let h = g.relu(g.batchNorm(g.conv(x, m.conv1), m.bn1), 'relu');
  if (!m.smallStem) h = g.maxPool(h, 'maxpool', 3, 2, 1);
  for (const [, mod] of m.namedModules()) {
    if (mod instanceof BasicBlock) h = basicBlock(g, mod, h);
    else if (mod instanceof Bottleneck) h = bottleneck(g, mod, h);
  }
  return poolHead(g, h, m.fc);
};

/** Conv2dNormActivation: conv, BN, SiLU unless it is the projection. */
function convNormAct(g: OnnxGraph, c: ConvNormAct, x: string): string {
  const h = g.batchNorm(g.conv(x, c.conv), c.bn);
  return c.act ? g.silu(h, `${g.path(c)}.silu`) : h;
}

/** SqueezeExcitation: x * sigmoid(fc2(silu(fc1(avgpool(x))))). */
function squeezeExcitation(g: OnnxGraph, se: SqueezeExcitation, x: string): string {
  const p = g.path(se);
  const s = g.conv(g.silu(g.conv(g.globalAvgPool(x, `${p}.avgpool`), se.fc1), `${p}.silu`), se.fc2);
  return g.op('Mul', [x, g.op('Sigmoid', [s], `${p}.sigmoid`)], `${p}.scale`);
}

/** MBConv in eval mode: stochastic depth is the identity. */
function mbConv(g: OnnxGraph, b: MbConv, x: string): string {
  let h = x;
  for (const part of b.parts) h = part instanceof SqueezeExcitation ? squeezeExcitation(g, part, h) : convNormAct(g, part, h);
  return b.residual ? g.add(h, x, `${g.path(b)}.add`) : h;
}

/** torchvision EfficientNet: features (stem, MBConv stages, last 1x1), pool, dropout (identity), classifier.1. */
const efficientNet = (arch: Arch): ArchGraph => ({ g, model, x }) => {
  const m = as(model, EfficientNet, arch);
  let h = x;
  // namedModules lists the stem, the blocks and the last conv in forward order; the ConvNormActs
  // inside a block are reached through the block.
  for (const [path, mod] of m.namedModules()) {
    if (mod instanceof MbConv) h = mbConv(g, mod, h);
    else if (mod instanceof ConvNormAct && /^features\.\d+$/.test(path)) h = convNormAct(g, mod, h);
  }
  return poolHead(g, h, m.classifier);
};

/** torchvision VisionTransformer in eval mode (dropout off): embed, pre-norm encoder blocks, encoder.ln, class token -> head. */
const vit: ArchGraph = ({ g, model, x, inShape }) => {
  const m = as(model, VisionTransformer, 'vit');
  const d = m.convProj.outChannels, patch = m.convProj.kernel;
  const grid = inShape[1] / patch, seq = grid * grid + 1;
  // patches: conv_proj [N, d, grid, grid] -> [N, d, grid^2] -> [N, grid^2, d]
  const proj = g.conv(x, m.convProj);
  const flat = g.op('Reshape', [proj, g.int64s('patches_shape', [0, d, grid * grid])], 'patches_flat');
  const patches = g.op('Transpose', [flat], 'patches', { perm: ints([0, 2, 1]) });
  // the class token broadcast to [N, 1, d]: its shape is (N from the input, 1, d)
  const n = g.op('Gather', [g.op('Shape', [x], 'input_shape'), g.int64s('batch_axis', [0])], 'batch');
  const clsShape = g.op('Concat', [n, g.int64s('class_token_tail', [1, d])], 'class_token_shape', { axis: int(0) });
  const cls = g.op('Expand', [g.param(m.classToken, 'class_token'), clsShape], 'class_tokens');
  let h = g.op('Concat', [cls, patches], 'tokens', { axis: int(1) });
  h = g.add(h, g.param(m.encoder.posEmbedding, 'encoder.pos_embedding'), 'embed');
  for (const b of m.encoder.blocks) {
    const p = g.path(b);
    const a = b.attn, heads = a.heads, hd = a.d / heads, ap = g.path(a);
    // SelfAttention.forward: packed q, k, v projection, heads split, softmax(q k^T / sqrt(hd)) v, out_proj
    const qkv = g.linearNd(g.layerNorm(h, b.ln1), a.inProjWeight, a.inProjBias, `${ap}.in_proj`);
    const split = g.op('Transpose', [g.op('Reshape', [qkv, g.int64s(`${ap}.qkv_shape`, [0, seq, 3, heads, hd])], `${ap}.qkv_heads`)], `${ap}.qkv_split`, { perm: ints([2, 0, 3, 1, 4]) }); // [3, N, h, t, hd]
    const part = (i: number, nm: string): string => g.op('Gather', [split, g.int64s(`${ap}.${nm}_index`, [i], [])], `${ap}.${nm}`, { axis: int(0) });
    const q = part(0, 'q'), k = part(1, 'k'), v = part(2, 'v');
    const kt = g.op('Transpose', [k], `${ap}.k_t`, { perm: ints([0, 1, 3, 2]) });
    const scores = g.op('Mul', [g.op('MatMul', [q, kt], `${ap}.qk`), g.floats(`${ap}.scale`, [], [1 / Math.sqrt(hd)])], `${ap}.scores`);
    const att = g.op('MatMul', [g.op('Softmax', [scores], `${ap}.softmax`, { axis: int(-1) }), v], `${ap}.att`); // [N, h, t, hd]
    const merged = g.op('Reshape', [g.op('Transpose', [att], `${ap}.att_t`, { perm: ints([0, 2, 1, 3]) }), g.int64s(`${ap}.merged_shape`, [0, seq, a.d])], `${ap}.merged`);
    const attnOut = g.linearNd(merged, a.outProj.weight, a.outProj.bias, g.path(a.outProj));
    h = g.add(h, attnOut, `${p}.add1`);
    const mlpH = g.gelu(g.linearNd(g.layerNorm(h, b.ln2), b.mlp.fc1.weight, b.mlp.fc1.bias, g.path(b.mlp.fc1)), `${g.path(b.mlp)}.gelu`);
    h = g.add(h, g.linearNd(mlpH, b.mlp.fc2.weight, b.mlp.fc2.bias, g.path(b.mlp.fc2)), `${p}.add2`);
  }
  const cls0 = g.op('Gather', [g.layerNorm(h, m.encoder.ln), g.int64s('class_token_index', [0], [])], 'class_token_out', { axis: int(1) }); // [N, d]
  return g.linear(cls0, m.heads.head);
};

/** The graph function of every architecture, by registry name. */
export const ARCH_GRAPHS = {
  'cnn-s': cnnS,
  mlp,
  resnet20: cifarResNet('resnet20'),
  resnet32: cifarResNet('resnet32'),
  resnet56: cifarResNet('resnet56'),
  resnet18: tvResNet('resnet18'),
  resnet50: tvResNet('resnet50'),
  'efficientnet-b0': efficientNet('efficientnet-b0'),
  'efficientnet-s': efficientNet('efficientnet-s'),
  vit,
} satisfies Record<Arch, ArchGraph>;
