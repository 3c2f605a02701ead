/**
 * What a classifier and the P-Diff pipeline cost: parameters and multiply-adds per image (from
 * the layer list of the model, counted by flops.ts), measured latency, peak memory, and the
 * per-model seconds of generating parameters against collecting (training) them.
 *
 * Each layer carries the model stage it belongs to (Classifier.stages), so the cost of the tail
 * that the evaluator runs per parameter set, forwardFrom(cache, s), is the sum over stages > s.
 * The residual additions of resnet20 have no counting kind in flops.ts and are left out
 * (one add per element of each block output: < 0.2 % of its MACs).
 */
import type { Classifier } from '../models/classifier.js';
import { CnnS } from '../models/cnn-s.js';
import { Mlp } from '../models/mlp.js';
import { ResNetCifar } from '../models/resnet.js';
import type { BatchNorm, Conv2d, Linear } from '../nn/layers.js';
import { countOps, type OpWork } from '../tensor/count.js';
import { Tensor, noGrad, scope } from '../tensor/tensor.js';
import { Rng } from '../tensor/random.js';
import { convOutSize } from '../backend/kernels.js';
import { ConfigError, ShapeError } from '../util/errors.js';
import { countModel, type LayerCount, type LayerSpec } from './flops.js';

/**
 * A layer's counts and the classifier stage (index into Classifier.stages) it runs in. Counted
 * by running the model (architectures without a layer list), an entry is one kind of op within a
 * stage: kind 'op', name "<stage>:<op>", params 0 (the parameters are counted once, in total).
 */
export interface StagedLayerCount extends Omit<LayerCount, 'kind'> {
  kind: LayerCount['kind'] | 'op';
  stage: number;
}

export interface ClassifierCost {
  arch: string;
  /** Learnable parameters. */
  params: number;
  /** Multiply-adds per image (batch 1). */
  macs: number;
  /** Bias additions per image. */
  adds: number;
  /** Activation / pooling element operations per image. */
  elementOps: number;
  perLayer: StagedLayerCount[];
}

/** Builds the LayerSpec list of a model while tracking the activation shape. */
class Walker {
  readonly specs: LayerSpec[] = [];
  readonly stages: number[] = [];
  constructor(public c: number, public h: number, public w: number) {}

  private push(spec: LayerSpec, stage: number): void {
    this.specs.push(spec);
    this.stages.push(stage);
  }

  conv(name: string, layer: Conv2d, stage: number): void {
    if (layer.inChannels !== this.c) throw new ShapeError(`classifierCost: ${name} expects ${layer.inChannels} input channels, the activation has ${this.c}`);
    const k = layer.kernel;
    const hout = convOutSize(this.h, k, layer.stride, layer.padding), wout = convOutSize(this.w, k, layer.stride, layer.padding);
    if (hout <= 0 || wout <= 0) throw new ShapeError(`classifierCost: ${name} (${k}x${k}) does not fit an input of ${this.h}x${this.w}`);
    this.push({ kind: 'conv2d', name, cin: this.c, cout: layer.outChannels, kh: k, kw: k, hout, wout, bias: layer.bias !== null }, stage);
    this.c = layer.outChannels;
    this.h = hout;
    this.w = wout;
  }

  bn(name: string, layer: BatchNorm, stage: number): void {
    if (layer.numFeatures !== this.c) throw new ShapeError(`classifierCost: ${name} has ${layer.numFeatures} channels, the activation has ${this.c}`);
    this.push({ kind: 'batchnorm', name, c: this.c, spatial: this.h * this.w }, stage);
  }

  relu(name: string, stage: number): void {
    this.push({ kind: 'relu', name, elements: this.c * this.h * this.w }, stage);
  }

  maxPool2(name: string, stage: number): void {
    const hout = convOutSize(this.h, 2, 2, 0), wout = convOutSize(this.w, 2, 2, 0);
    this.push({ kind: 'maxpool', name, c: this.c, hout, wout, kh: 2, kw: 2 }, stage);
    this.h = hout;
    this.w = wout;
  }

  gap(name: string, stage: number): void {
    this.push({ kind: 'gap', name, c: this.c, spatial: this.h * this.w }, stage);
    this.h = 1;
    this.w = 1;
  }

  linear(name: string, layer: Linear, stage: number): void {
    const inF = this.c * this.h * this.w;
    if (layer.inFeatures !== inF) throw new ShapeError(`classifierCost: ${name} expects ${layer.inFeatures} inputs, the activation has ${inF}`);
    this.push({ kind: 'linear', name, in: inF, out: layer.outFeatures, bias: layer.bias !== null }, stage);
    this.c = layer.outFeatures;
    this.h = 1;
    this.w = 1;
  }
}

function walkCnnS(m: CnnS, wk: Walker): void {
  wk.conv('conv1', m.conv1, 1);
  wk.bn('bn1', m.bn1, 2); wk.relu('bn1.relu', 2); wk.maxPool2('bn1.pool', 2);
  wk.conv('conv2', m.conv2, 3);
  wk.bn('bn2', m.bn2, 4); wk.relu('bn2.relu', 4); wk.maxPool2('bn2.pool', 4);
  wk.conv('conv3', m.conv3, 5);
  wk.bn('bn3', m.bn3, 6); wk.relu('bn3.relu', 6); wk.gap('bn3.gap', 6);
  wk.linear('fc', m.fc, 7);
}

function walkMlp(m: Mlp, wk: Walker): void {
  const last = m.layers.length - 1;
  m.layers.forEach((layer, i) => {
    const name = m.stages[i + 1]!;
    wk.linear(name, layer, i + 1);
    if (i < last) wk.relu(`${name}.relu`, i + 1);
  });
}

function walkResNet(m: ResNetCifar, wk: Walker): void {
  wk.conv('conv1', m.conv1, 1); wk.bn('bn1', m.bn1, 1); wk.relu('relu', 1);
  let bi = 0;
  for (let stage = 2; stage < m.stages.length - 1; stage++) {
    const name = m.stages[stage]!;
    if (name.endsWith('.conv1')) continue; // counted with its block below
    const b = m.blocks[bi++]!;
    const first = m.stages[stage - 1] === `${name}.conv1` ? stage - 1 : stage; // the stage conv1 runs in
    const { c, h, w } = wk;
    wk.conv(`${name}.conv1`, b.conv1, first); wk.bn(`${name}.bn1`, b.bn1, stage); wk.relu(`${name}.relu1`, stage);
    wk.conv(`${name}.conv2`, b.conv2, stage); wk.bn(`${name}.bn2`, b.bn2, stage);
    if (b.down) {
      const after = { c: wk.c, h: wk.h, w: wk.w };
      wk.c = c; wk.h = h; wk.w = w;
      wk.conv(`${name}.downsample.0`, b.down[0], stage); wk.bn(`${name}.downsample.1`, b.down[1], stage);
      if (wk.c !== after.c || wk.h !== after.h || wk.w !== after.w) throw new ShapeError(`classifierCost: ${name} shortcut and main path shapes differ`);
    }
    wk.relu(`${name}.relu2`, stage);
  }
  const last = m.stages.length - 1;
  wk.gap('gap', last);
  wk.linear('fc', m.fc, last);
}

/** Work per op kind of fn's ops. */
function workByOp(fn: () => unknown): Map<string, OpWork> {
  const by = new Map<string, OpWork>();
  countOps(fn, (w) => {
    const t = by.get(w.op) ?? { op: w.op, macs: 0, adds: 0, elementOps: 0 };
    t.macs += w.macs; t.adds += w.adds; t.elementOps += w.elementOps;
    by.set(w.op, t);
  });
  return by;
}

/**
 * The cost of any classifier, counted by running it on one image (src/tensor/count.ts): the work
 * of stage s is that of forwardTo(x, s) less that of forwardTo(x, s - 1), per op kind. Exact
 * for every model whose ops depend on shapes only (all of pdiff's).
 */
export function countedCost(model: Classifier, inShape: readonly [number, number, number]): ClassifierCost {
  const be = model.backend;
  const [c, h, w] = inShape;
  const x = new Tensor(be.fromArray(new Rng(0).fillNormal(new Float32Array(c * h * w))), [1, c, h, w], be);
  const wasTraining = model.training;
  model.eval();
  const S = model.stages.length - 1;
  const perLayer: StagedLayerCount[] = [];
  try {
    noGrad(() => {
      let prev = new Map<string, OpWork>();
      for (let s = 1; s <= S; s++) {
        const cur = workByOp(() => scope(() => { (s === S ? model.forward(x) : model.forwardTo(x, s)).toArray(); }));
        for (const [op, t] of cur) {
          const p = prev.get(op);
          const macs = t.macs - (p?.macs ?? 0), adds = t.adds - (p?.adds ?? 0), elementOps = t.elementOps - (p?.elementOps ?? 0);
          if (macs || adds || elementOps) perLayer.push({ name: `${model.stages[s]}:${op}`, kind: 'op', params: 0, macs, adds, elementOps, stage: s });
        }
        prev = cur;
      }
    });
  } finally {
    model.train(wasTraining);
  }
  const total = (k: 'macs' | 'adds' | 'elementOps') => perLayer.reduce((a, l) => a + l[k], 0);
  return { arch: model.arch, params: model.numParameters(), macs: total('macs'), adds: total('adds'), elementOps: total('elementOps'), perLayer };
}

/**
 * Parameters and multiply-adds per image of a classifier on inputs [c, h, w], layer by layer
 * (flops.ts conventions), each layer tagged with its stage: from the layer list of cnn-s, the MLP
 * and the CIFAR ResNets, and for every other architecture by counting a forward pass (countedCost).
 */
export function classifierCost(model: Classifier, inShape: readonly [number, number, number]): ClassifierCost {
  const wk = new Walker(inShape[0], inShape[1], inShape[2]);
  if (model instanceof CnnS) walkCnnS(model, wk);
  else if (model instanceof Mlp) walkMlp(model, wk);
  else if (model instanceof ResNetCifar) walkResNet(model, wk);
  else return countedCost(model, inShape);
  const count = countModel(wk.specs);
  return {
    arch: model.arch,
    params: count.params,
    macs: count.macs,
    adds: count.adds,
    elementOps: count.elementOps,
    perLayer: count.perLayer.map((l, i) => ({ ...l, stage: wk.stages[i]! })),
  };
}

/** Multiply-adds per image of the stages after `start` (what forwardFrom(h, start) runs). */
export function tailMacs(cost: ClassifierCost, start: number): number {
  let s = 0;
  for (const l of cost.perLayer) if (l.stage > start) s += l.macs;
  return s;
}

export interface LatencyOptions {
  /** Timed forward passes. Default 20. */
  repeats?: number;
  /** Untimed passes first (JIT, buffer growth). Default 3. */
  warmup?: number;
}

export interface Latency {
  /** Median wall time of one forward pass of `batch` images, ms. */
  medianMs: number;
  /** 90th percentile (nearest rank), ms. */
  p90Ms: number;
  batch: number;
  repeats: number;
}

/**
 * Wall time of model.forward on a batch of `batch` inputs [c, h, w] (fixed N(0, 1) values, already
 * on the backend) until its logits are on the host, in eval mode without the tape, after `warmup`
 * untimed passes. Reading the logits back is what makes a device backend (webgpu, which only
 * queues the work) finish the pass before the clock stops. The training flag is restored.
 */
export function measureLatency(model: Classifier, inShape: readonly [number, number, number], batch: number, opts: LatencyOptions = {}): Latency {
  const repeats = opts.repeats ?? 20, warmup = opts.warmup ?? 3;
  if (!(Number.isInteger(batch) && batch >= 1)) throw new ConfigError(`measureLatency: batch must be a positive integer, got ${batch}`);
  if (!(Number.isInteger(repeats) && repeats >= 1)) throw new ConfigError(`measureLatency: repeats must be a positive integer, got ${repeats}`);
  const be = model.backend;
  const [c, h, w] = inShape;
  const x = new Tensor(be.fromArray(new Rng(0).fillNormal(new Float32Array(batch * c * h * w))), [batch, c, h, w], be);
  const wasTraining = model.training;
  model.eval();
  const times: number[] = [];
  try {
    noGrad(() => {
      // each pass's tensors are released as it ends (scope), as a serving loop would
      for (let i = 0; i < warmup; i++) scope(() => { model.forward(x).toArray(); });
      for (let i = 0; i < repeats; i++) {
        const t0 = performance.now();
        scope(() => { model.forward(x).toArray(); });
        times.push(performance.now() - t0);
      }
    });
  } finally {
    model.train(wasTraining);
  }
  times.sort((a, b) => a - b);
  const mid = times.length >>> 1;
  const median = times.length % 2 === 1 ? times[mid]! : (times[mid - 1]! + times[mid]!) / 2;
  return { medianMs: median, p90Ms: times[Math.ceil(0.9 * times.length) - 1]!, batch, repeats };
}

/** Peak resident set size of this process so far, MiB (getrusage maxrss). */
export function peakRssMb(): number {
  return process.resourceUsage().maxRSS / 1024;
}

export interface CostInputs {
  /** Wall time of sampling + decoding the generated sets, s. */
  generateSeconds: number;
  /** Number of parameter sets generated in that time. */
  nGenerated: number;
  /** Wall time of checkpoint collection (training the subset), s. */
  collectSeconds: number;
  /** Checkpoints collected in that time. */
  K: number;
  /** Wall time of training the base model, s. */
  baseTrainSeconds: number;
  /** Wall time of training the autoencoder and the diffusion model, s (optional: amortised over the generated sets). */
  pdiffTrainSeconds?: number;
}

export interface CostSummary {
  /** Seconds per generated set (sampling + decoding only). */
  generatePerModelS: number;
  /** Seconds per generated set including the AE + diffusion training, amortised (when given). */
  generatePerModelWithTrainingS: number | null;
  /** Seconds per collected checkpoint. */
  collectPerModelS: number;
  /** Seconds per collected checkpoint with the base model's training amortised over the K checkpoints. */
  collectPerModelWithBaseS: number;
  /** Seconds to train one independent model from scratch (the base model's training). */
  trainFromScratchS: number;
  /** collectPerModelS / generatePerModelS (> 1: generating is cheaper than collecting). */
  collectOverGenerate: number;
  /** trainFromScratchS / generatePerModelS. */
  trainOverGenerate: number;
}

/** Per-model seconds of generating parameter sets against collecting or training them. */
export function costSummary(inp: CostInputs): CostSummary {
  const pos = (v: number, what: string): void => {
    if (!(Number.isFinite(v) && v > 0)) throw new ConfigError(`costSummary: ${what} must be a positive number, got ${v}`);
  };
  pos(inp.nGenerated, 'nGenerated');
  pos(inp.K, 'K');
  for (const [k, v] of [['generateSeconds', inp.generateSeconds], ['collectSeconds', inp.collectSeconds], ['baseTrainSeconds', inp.baseTrainSeconds]] as const) {
    if (!(Number.isFinite(v) && v >= 0)) throw new ConfigError(`costSummary: ${k} must be a number >= 0, got ${v}`);
  }
  const gen = inp.generateSeconds / inp.nGenerated;
  const collect = inp.collectSeconds / inp.K;
  return {
    generatePerModelS: gen,
    generatePerModelWithTrainingS: inp.pdiffTrainSeconds === undefined ? null : (inp.generateSeconds + inp.pdiffTrainSeconds) / inp.nGenerated,
    collectPerModelS: collect,
    collectPerModelWithBaseS: (inp.collectSeconds + inp.baseTrainSeconds) / inp.K,
    trainFromScratchS: inp.baseTrainSeconds,
    collectOverGenerate: gen > 0 ? collect / gen : Infinity,
    trainOverGenerate: gen > 0 ? inp.baseTrainSeconds / gen : Infinity,
  };
}
