/**
 * Zoos of several independently trained networks (docs/seeds.md#collection): which tensors such a
 * zoo holds, loading a user's base-model file with an error that names the config key, and the
 * per-seed file of a run folder (seeds/seed-<s>.safetensors: the seed's base model and its raw,
 * unaligned checkpoints), which makes collection resumable seed by seed and lets a change of
 * collect.align or of the number of seeds reuse the seeds already trained.
 */
import { existsSync } from 'node:fs';
import { BatchNorm } from '../nn/layers.js';
import type { Module } from '../nn/module.js';
import { ConfigError, FormatError, ShapeError } from '../util/errors.js';
import { loadStateDict } from './checkpoint.js';
import type { ParamLayout } from './layout.js';
import { readSafetensors, writeSafetensors } from './safetensors.js';

/**
 * The tensors of a multi-seed zoo: the whole state_dict, running statistics included. Within one
 * seed they are the base model's (collect.bnMode "eval"), but they differ between seeds, so each
 * checkpoint must carry its own.
 */
export function zooTensorNames(model: Module): string[] {
  return model.stateDict().map(([n]) => n);
}

/**
 * Load a user's base-model file (a state_dict in safetensors: F32, F16 or BF16, PyTorch's
 * num_batches_tracked ignored) into `model`, the configured architecture.
 * @throws ConfigError naming `key` and the file when it is missing, malformed, or holds another
 *   architecture or shape.
 */
export function loadBaseModelFile(model: Module & { arch: string }, path: string, key: string, what: string): void {
  if (!existsSync(path)) throw new ConfigError(`config: ${key}: base-model file "${path}" does not exist`);
  try {
    loadStateDict(path, model);
  } catch (e) {
    if (!(e instanceof ShapeError || e instanceof FormatError)) throw e;
    const detail = e.message.startsWith(`${path}: `) ? e.message.slice(path.length + 2) : e.message;
    throw new ConfigError(`config: ${key}: "${path}" does not hold a ${model.arch} state_dict for ${what}: ${detail}`);
  }
}

/** A BatchNorm layer whose running statistics can be folded into its weight and bias. */
export interface FoldableNorm {
  /** state_dict prefix, e.g. `bn2`, `layer2.0.downsample.1`. */
  prefix: string;
  eps: number;
}

/** The affine BatchNorm layers with running statistics of `model`. */
export function foldableNorms(model: Module): FoldableNorm[] {
  return model.namedModules()
    .filter(([, m]) => m instanceof BatchNorm && m.weight !== null && m.bias !== null && m.runningMean !== null && m.runningVar !== null)
    .map(([name, m]) => ({ prefix: name, eps: (m as BatchNorm).eps }));
}

/**
 * Fold the running statistics of eval-mode BatchNorm into its weight and bias, in place in a flat
 * vector holding all four tensors of each layer (docs/seeds.md#batchnorm):
 *
 *   gamma' = gamma sqrt(1 + eps) / sqrt(var + eps),  beta' = beta - mean gamma / sqrt(var + eps),  mean' = 0,  var' = 1
 *
 * so that gamma' (x - 0) / sqrt(1 + eps) + beta' = gamma (x - mean) / sqrt(var + eps) + beta: the
 * same function (up to float rounding) with the statistics of a freshly initialised layer. Every
 * checkpoint of every seed then shares the same statistics, and a generated or averaged network
 * never carries a mixed (or negative) running variance.
 * @throws ShapeError when a layer's tensors are not all in the layout.
 */
export function foldBatchNorm(layout: ParamLayout, vec: Float32Array, norms: readonly FoldableNorm[]): void {
  for (const { prefix, eps } of norms) {
    const at = (t: string): { off: number; n: number } => {
      const i = layout.indexOf(`${prefix}.${t}`);
      if (i < 0) throw new ShapeError(`foldBatchNorm: "${prefix}.${t}" is not in the layout`);
      return { off: layout.offsets[i]!, n: layout.sizes[i]! };
    };
    const w = at('weight'), b = at('bias'), m = at('running_mean'), v = at('running_var');
    const keep = Math.sqrt(1 + eps);
    for (let c = 0; c < w.n; c++) {
      const inv = 1 / Math.sqrt(vec[v.off + c]! + eps);
      const g = vec[w.off + c]!;
      vec[w.off + c] = g * keep * inv;
      vec[b.off + c] = vec[b.off + c]! - vec[m.off + c]! * g * inv;
      vec[m.off + c] = 0;
      vec[v.off + c] = 1;
    }
  }
}

/** What the per-seed file records about its seed besides tensors. */
export interface SeedFileMeta {
  /** The hash of everything the seed's results depend on (see the collect stage). */
  key: string;
  /** The run seed of the seed's streams (init, base, collect). */
  runSeed: number;
  /** "trained" or the base-model file it was loaded from. */
  source: string;
  /** Accuracy (%) of the base model on val and test. */
  val: number;
  test: number;
  /** Seconds spent training the base model (0 for a file or the run's own base model). */
  trainSeconds: number;
  /** Seconds spent collecting the checkpoints (absent until they are collected). */
  collectSeconds?: number;
}

/** A per-seed file read back: the base model's values in `layout` order, and the checkpoints when collected. */
export interface SeedFile {
  meta: SeedFileMeta;
  /** The base model [layout.total] (every tensor of the layout, running statistics included). */
  base: Float32Array;
  /** The raw checkpoints [K, layout.total], or null when the seed's collection has not finished. */
  ckpts: Float32Array | null;
}

/** Write a seed's file: its base model and, once collected, its checkpoints [K, layout.total]. */
export function writeSeedFile(path: string, layout: ParamLayout, file: SeedFile): void {
  const tensors = [
    { name: 'base', shape: [layout.total], data: file.base },
    ...(file.ckpts ? [{ name: 'ckpts', shape: [file.ckpts.length / layout.total, layout.total], data: file.ckpts }] : []),
  ];
  const m = file.meta;
  writeSafetensors(path, tensors, {
    pdiff_seed_key: m.key, runSeed: String(m.runSeed), source: m.source, val: String(m.val), test: String(m.test),
    trainSeconds: String(m.trainSeconds), ...(m.collectSeconds !== undefined ? { collectSeconds: String(m.collectSeconds) } : {}),
    layout: JSON.stringify(layout.names),
  });
}

/**
 * A seed's file, when it exists and was written under `key` for this layout and K; null
 * otherwise (absent, made under another config, or damaged: the seed is then redone).
 */
export function readSeedFile(path: string, key: string, layout: ParamLayout, K: number): SeedFile | null {
  if (!existsSync(path)) return null;
  try {
    const f = readSafetensors(path);
    const m = f.metadata ?? {};
    if (m.pdiff_seed_key !== key || m.layout !== JSON.stringify(layout.names)) return null;
    const base = f.tensors.get('base'), ck = f.tensors.get('ckpts');
    if (!base || !(base.data instanceof Float32Array) || base.data.length !== layout.total) return null;
    const ckpts = ck && ck.data instanceof Float32Array && ck.data.length === K * layout.total ? ck.data : null;
    const num = (s: string | undefined): number => Number(s);
    return {
      meta: {
        key, runSeed: num(m.runSeed), source: m.source ?? 'trained', val: num(m.val), test: num(m.test), trainSeconds: num(m.trainSeconds),
        ...(m.collectSeconds !== undefined ? { collectSeconds: num(m.collectSeconds) } : {}),
      },
      base: base.data,
      ckpts,
    };
  } catch {
    return null;
  }
}
