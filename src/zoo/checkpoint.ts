/**
 * Checkpoint files: full state_dicts (`base.safetensors`), stacks of collected or generated
 * subsets (`ckpts-<mode>.safetensors`, `generated-<mode>.safetensors`; docs/zoo.md#checkpoint-files) and the
 * JSON manifest that describes a zoo. Every file is written atomically.
 */
import { readFileSync } from 'node:fs';
import type { Config } from '../config/index.js';
import type { Module } from '../nn/module.js';
import type { Tensor } from '../tensor/tensor.js';
import { writeFileAtomic } from '../util/atomic.js';
import { FormatError, ShapeError } from '../util/errors.js';
import { type LayoutJSON, type NormalizerJSON, type SubsetMode, Normalizer, ParamLayout } from './layout.js';
import { readSafetensors, writeSafetensors, type TensorToWrite } from './safetensors.js';

/** PyTorch's BN step counter: an int64 buffer pdiff neither has nor writes. */
const isStepCounter = (name: string): boolean => name === 'num_batches_tracked' || name.endsWith('.num_batches_tracked');

/** The values of a tensor as float32 (the live array where the backend keeps float32 on the host, else a copy). */
function f32(t: Tensor): Float32Array {
  const be = t.backend;
  const live = be.hostView(t.storage);
  if (live instanceof Float32Array) return live;
  const v = be.read(t.storage);
  return v instanceof Float32Array ? v : Float32Array.from(v);
}

/**
 * Write the model's full state_dict (parameters and buffers, PyTorch names and order, F32,
 * without num_batches_tracked) to `path`. `metadata` is stored in the header (plus
 * format "pt", so PyTorch's safetensors loader accepts the file, unless given).
 */
export function saveStateDict(path: string, model: Module, metadata: Record<string, string> = {}): void {
  const tensors = model.stateDict()
    .filter(([name]) => !isStepCounter(name))
    .map(([name, t]) => ({ name, shape: t.shape, data: f32(t) }));
  writeSafetensors(path, tensors, { format: 'pt', ...metadata });
}

/**
 * Load a state_dict file (F32, F16 or BF16, e.g. written by PyTorch) into `model`: every tensor
 * of the model must be present with its shape, and nothing else (num_batches_tracked is ignored).
 * @returns the file's metadata.
 * @throws FormatError for a malformed file or an integer tensor, ShapeError naming the file and
 *   tensor for missing, unexpected or mis-shaped tensors.
 */
export function loadStateDict(path: string, model: Module): Record<string, string> {
  const file = readSafetensors(path);
  const entries: Array<[string, { shape: number[]; data: Float32Array }]> = [];
  for (const [name, t] of file.tensors) {
    if (isStepCounter(name)) continue;
    if (!(t.data instanceof Float32Array)) throw new FormatError(path, `tensor "${name}" has dtype ${t.dtype}, expected a float tensor (F32, F16 or BF16)`);
    entries.push([name, { shape: t.shape, data: t.data }]);
  }
  model.loadStateDict(entries, { strict: true, source: path });
  return file.metadata ?? {};
}

/**
 * Write a stack of subset vectors ckpts [K, total] as one tensor per layout name with a leading
 * dimension K (e.g. bn2.weight [200, 32]), in layout order (docs/zoo.md#checkpoint-files).
 */
export function saveCheckpointStack(path: string, layout: ParamLayout, ckpts: Float32Array, metadata: Record<string, string> = {}): void {
  const total = layout.total;
  if (ckpts.length === 0 || ckpts.length % total !== 0) {
    throw new ShapeError(`saveCheckpointStack(${path}): expected checkpoints [K, ${total}] with K >= 1, got ${ckpts.length} floats`);
  }
  const K = ckpts.length / total;
  const tensors: Array<{ name: string } & TensorToWrite> = layout.names.map((name, i) => {
    const off = layout.offsets[i]!, size = layout.sizes[i]!;
    const data = new Float32Array(K * size);
    for (let r = 0; r < K; r++) data.set(ckpts.subarray(r * total + off, r * total + off + size), r * size);
    return { name, shape: [K, ...layout.shapes[i]!], data };
  });
  writeSafetensors(path, tensors, { k: String(K), ...metadata });
}

/** A checkpoint stack read back. */
export interface CheckpointStack {
  /** The subset layout (file order; shapes without the leading K). */
  layout: ParamLayout;
  /** [K, total]. */
  ckpts: Float32Array;
  k: number;
  metadata: Record<string, string>;
}

/**
 * Read a file written by saveCheckpointStack (or any safetensors file whose float tensors all
 * share a leading dimension K).
 * @throws FormatError naming the file and tensor when the leading dimensions differ, a tensor
 *   has no leading dimension, or is not a float tensor.
 */
export function loadCheckpointStack(path: string): CheckpointStack {
  const file = readSafetensors(path);
  if (file.tensors.size === 0) throw new FormatError(path, 'expected a checkpoint stack (tensors [K, ...]), found no tensors');
  const names: string[] = [], shapes: number[][] = [], datas: Float32Array[] = [];
  let K = -1, first = '';
  for (const [name, t] of file.tensors) {
    if (!(t.data instanceof Float32Array)) throw new FormatError(path, `tensor "${name}" has dtype ${t.dtype}, expected a float tensor`);
    if (t.shape.length === 0) throw new FormatError(path, `tensor "${name}" is a scalar, expected a leading checkpoint dimension K`);
    const k = t.shape[0]!;
    if (K < 0) {
      K = k;
      first = name;
    } else if (k !== K) {
      throw new FormatError(path, `tensor "${name}" has leading dimension ${k} but "${first}" has ${K}: every tensor of a checkpoint stack is [K, ...] with the same K`);
    }
    names.push(name);
    shapes.push(t.shape.slice(1));
    datas.push(t.data);
  }
  if (K < 1) throw new FormatError(path, `expected at least one checkpoint, found K = ${K}`);
  const layout = new ParamLayout(names, shapes);
  const total = layout.total;
  const ckpts = new Float32Array(K * total);
  datas.forEach((data, i) => {
    const off = layout.offsets[i]!, size = layout.sizes[i]!;
    for (let r = 0; r < K; r++) ckpts.set(data.subarray(r * size, (r + 1) * size), r * total + off);
  });
  return { layout, ckpts, k: K, metadata: file.metadata ?? {} };
}

/** The JSON description of a checkpoint zoo (`manifest.json` beside the checkpoint stack). */
export interface Manifest {
  /** Format version of this file. */
  version: 1;
  /** Classifier architecture. */
  arch: string;
  /** Subset mode. */
  mode: SubsetMode;
  /** Number of checkpoints. */
  k: number;
  /** Parameter names, shapes and offsets in the flat vector. */
  layout: LayoutJSON;
  /** Normalisation statistics (per-tensor mu, sd; padded length L), or null before fitting. */
  normalizer: NormalizerJSON | null;
  /** The resolved configuration of the run. */
  config: Config;
  /** Seeds of the run's random streams (e.g. { run: 0, base: ..., collect: ... }). */
  seeds: Record<string, number>;
  /**
   * A zoo of several independently trained networks (docs/seeds.md): how its rows were aligned,
   * its base models, and the base model (index into members) of every row.
   */
  multiSeed?: {
    align: 'none' | 'weight-matching';
    members: Array<{ index: number; runSeed: number; source: string; file: string }>;
    rowSeed: number[];
  };
  /** Accuracy (%) of each checkpoint, in row order, on val and test (filled by the caller). */
  accuracies: { val: number[]; test: number[] } | null;
  /** Accuracy (%) of the base model. */
  base?: { valAcc: number; testAcc: number };
  /** Files of the zoo, relative to the manifest (e.g. { base: "base.safetensors", ckpts: "ckpts-bn.safetensors" }). */
  files?: Record<string, string>;
  /** Seconds the collection took (training the subset for K checkpoints). */
  collectSeconds?: number;
  /** ISO time of writing. */
  createdAt?: string;
}

/** Write a manifest as indented JSON, atomically. */
export function writeManifest(path: string, m: Manifest): void {
  writeFileAtomic(path, `${JSON.stringify(m, null, 2)}\n`);
}

/**
 * Read and check a manifest: version, layout (offsets consistent with the shapes), normalizer
 * (same layout), accuracies (K values each).
 * @throws FormatError naming the file and the field.
 */
export function readManifest(path: string): Manifest {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new FormatError(path, `cannot read the manifest (${(e as Error).message})`);
  }
  let j: Partial<Manifest>;
  try {
    j = JSON.parse(text) as Partial<Manifest>;
  } catch (e) {
    throw new FormatError(path, `not valid JSON (${(e as Error).message})`);
  }
  if (typeof j !== 'object' || j === null || Array.isArray(j)) throw new FormatError(path, 'expected a JSON object');
  if (j.version !== 1) throw new FormatError(path, `version: expected 1, found ${JSON.stringify(j.version)}`);
  for (const key of ['arch', 'mode'] as const) {
    if (typeof j[key] !== 'string') throw new FormatError(path, `${key}: expected a string, found ${JSON.stringify(j[key])}`);
  }
  if (!Number.isInteger(j.k) || j.k! < 1) throw new FormatError(path, `k: expected a positive integer, found ${JSON.stringify(j.k)}`);
  if (typeof j.config !== 'object' || j.config === null) throw new FormatError(path, 'config: expected the resolved configuration object');
  if (typeof j.seeds !== 'object' || j.seeds === null) throw new FormatError(path, 'seeds: expected an object of named seeds');
  const layout = ParamLayout.fromJSON(j.layout, `${path} (layout)`);
  if (j.normalizer === undefined) throw new FormatError(path, 'normalizer: expected the statistics object or null');
  if (j.normalizer !== null) {
    const norm = Normalizer.fromJSON(j.normalizer, `${path} (normalizer)`);
    if (!norm.layout.equals(layout)) throw new FormatError(path, 'normalizer.layout does not match layout');
  }
  if (j.accuracies === undefined) throw new FormatError(path, 'accuracies: expected { val, test } or null');
  if (j.accuracies !== null) {
    for (const split of ['val', 'test'] as const) {
      const a = j.accuracies[split];
      if (!Array.isArray(a) || a.length !== j.k || !a.every((v) => typeof v === 'number')) {
        throw new FormatError(path, `accuracies.${split}: expected ${j.k} numbers, found ${Array.isArray(a) ? `${a.length} entries` : JSON.stringify(a)}`);
      }
    }
  }
  return j as Manifest;
}
