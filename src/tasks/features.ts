/**
 * The frozen features of a task model (docs/tasks.md#zoo): the output of the stages before the
 * generated part, computed once per image (eval mode, no tape) and kept as float32 on the host.
 * Every task of the zoo trains on the same cache: a step then runs only the generated part.
 *
 * Size: cnn-s with the default generated part (bn3 + head) caches conv3's output, 64 x 7 x 7 =
 * 3,136 floats (12.5 KiB) per image: 10,000 images take 125 MiB.
 */
import type { Dataset } from '../data/dataset.js';
import type { Classifier } from '../models/classifier.js';
import { Tensor, dispose, noGrad, scope } from '../tensor/tensor.js';
import { FormatError, ShapeError } from '../util/errors.js';
import { readSafetensors, writeSafetensors } from '../zoo/safetensors.js';

/** Features of every image of a dataset at one stage of a model. */
export interface FeatureCache {
  /** The dataset's name. */
  name: string;
  /** The stage whose output is cached (the argument of forwardFrom). */
  stage: number;
  /** Shape of one image's features, e.g. [64, 7, 7]. */
  shape: number[];
  /** Floats per image (the product of shape). */
  floats: number;
  /** Images. */
  n: number;
  /** [n, ...shape] */
  data: Float32Array;
  /** The dataset's class labels [n] (a copy). */
  labels: Int32Array;
}

/** Arguments of {@link cacheFeatures}. */
export interface CacheFeaturesArgs {
  /** The task model (only the stages before `stage` are run). */
  model: Classifier;
  /** The stage to cache: TaskModel.stage. */
  stage: number;
  dataset: Dataset;
  /** Images per forward pass (default 500). */
  batch?: number;
}

/**
 * model.forwardTo(x, stage) for every image of the dataset, in eval mode without the tape; the
 * model's train/eval mode is restored afterwards.
 * @throws ShapeError for an empty dataset, a stage outside [1, stages), a bad batch.
 */
export function cacheFeatures(args: CacheFeaturesArgs): FeatureCache {
  const { model, stage, dataset: ds } = args;
  const B = args.batch ?? 500;
  if (!Number.isInteger(B) || B < 1) throw new ShapeError(`cacheFeatures: batch must be a positive integer, got ${B}`);
  if (!Number.isInteger(stage) || stage < 1 || stage >= model.stages.length) {
    throw new ShapeError(`cacheFeatures: stage must be in [1, ${model.stages.length - 1}] for ${model.arch}, got ${stage}`);
  }
  if (ds.n < 1) throw new ShapeError(`cacheFeatures: dataset ${ds.name} is empty`);
  const be = model.backend, sz = ds.c * ds.h * ds.w;
  const wasTraining = model.training;
  model.eval();
  let data: Float32Array | null = null;
  let shape: number[] = [];
  let floats = 0;
  try {
    noGrad(() => {
      for (let start = 0; start < ds.n; start += B) {
        const rows = Math.min(B, ds.n - start);
        const x = new Tensor(be.fromArray(ds.images.subarray(start * sz, (start + rows) * sz)), [rows, ds.c, ds.h, ds.w], be);
        scope(() => {
          const h = model.forwardTo(x, stage);
          if (data === null) {
            shape = h.shape.slice(1);
            floats = h.size / rows;
            data = new Float32Array(ds.n * floats);
          }
          if (h.size !== rows * floats) throw new ShapeError(`cacheFeatures: ${model.arch}.forwardTo gave [${h.shape.join(', ')}] for ${rows} images, expected ${floats} floats each`);
          data.set(be.read(h.storage), start * floats);
        });
        dispose(x);
      }
    });
  } finally {
    model.train(wasTraining);
  }
  return { name: ds.name, stage, shape, floats, n: ds.n, data: data!, labels: Int32Array.from(ds.labels) };
}

/**
 * Write a feature cache to a safetensors file, atomically: "features" [n, ...shape] and "labels"
 * [n] (as floats: class indices are exact), with the data set's name and the stage in the
 * metadata. A queue's task jobs read it instead of computing the features again
 * (docs/queue.md#task-zoos), so every job trains on the same bytes.
 */
export function writeFeatureCache(path: string, f: FeatureCache): void {
  writeSafetensors(path, [
    { name: 'features', shape: [f.n, ...f.shape], data: f.data },
    { name: 'labels', shape: [f.n], data: Float32Array.from(f.labels) },
  ], { name: f.name, stage: String(f.stage) });
}

/**
 * Read a file written by writeFeatureCache.
 * @throws FormatError naming the file when a tensor or the metadata is missing or inconsistent.
 */
export function readFeatureCache(path: string): FeatureCache {
  const file = readSafetensors(path);
  const meta = file.metadata ?? {};
  const feats = file.tensors.get('features'), labels = file.tensors.get('labels');
  const stage = Number(meta.stage);
  if (!feats || !(feats.data instanceof Float32Array) || feats.shape.length < 2) throw new FormatError(path, 'expected a float tensor "features" [n, ...shape]');
  const n = feats.shape[0]!;
  if (!labels || !(labels.data instanceof Float32Array) || labels.data.length !== n) throw new FormatError(path, `expected a float tensor "labels" [${n}]`);
  if (typeof meta.name !== 'string' || !(Number.isInteger(stage) && stage >= 1)) throw new FormatError(path, 'expected metadata "name" and "stage"');
  const shape = feats.shape.slice(1);
  return { name: meta.name, stage, shape, floats: shape.reduce((a, b) => a * b, 1), n, data: feats.data, labels: Int32Array.from(labels.data) };
}
