/**
 * Checkpoint collection (docs/zoo.md#collection): starting from the trained base model, train only the
 * subset (everything else frozen) with AdamW at a constant learning rate on batches drawn
 * uniformly with replacement, and save the flattened subset after every `saveEvery` iterations
 * until K rows [K, total] are collected.
 *
 * Resuming: `onCheckpoint` hands out a snapshot (rows done, current subset, optimiser moments,
 * generator state); passing it back as `startFrom` continues the run bit-identically.
 */
import type { CollectConfig } from '../config/index.js';
import { type Dataset, sampleWithReplacement } from '../data/dataset.js';
import type { Classifier } from '../models/classifier.js';
import { AdamW } from '../nn/optim.js';
import * as ops from '../tensor/ops.js';
import type { Rng } from '../tensor/random.js';
import { type Tensor, backward, dispose, noGrad, scope } from '../tensor/tensor.js';
import { ConfigError, NumericError, ShapeError } from '../util/errors.js';
import type { JsonlLog } from '../util/jsonl.js';
import { Progress } from '../util/progress.js';
import type { ParamLayout } from './layout.js';
import { BatchBuffer } from './train.js';

/** Everything needed to continue a collection exactly where it stopped. */
export interface CollectResume {
  /** Checkpoints already saved (rows 0..k-1). */
  k: number;
  /** The subset's current values [total] (= row k-1). */
  vec: Float32Array;
  /** AdamW step count and moments (Optimizer.state()). */
  optimizerState: { step: number; buffers: ArrayLike<number>[] };
  /** Rng.getState() of the batch sampler. */
  rngState: number[];
  /** The rows already saved, [k, total] or more (only the first k rows are used). Without it
   * the first k rows of the result are zero and the caller merges them. */
  ckpts?: Float32Array;
}

export interface CollectOptions {
  /** Draws the batches; its state is part of the resume snapshot. */
  rng: Rng;
  /** Show progress on stderr (default true). */
  progress?: boolean;
  /** JSONL log: one line per saved checkpoint. */
  log?: JsonlLog;
  /**
   * Called after row `k` (0-based) is saved, with a view of that row (copy it to keep it) and a
   * function returning the resume snapshot (call it only when persisting: it copies the state).
   */
  onCheckpoint?(k: number, vec: Float32Array, snapshot: () => CollectResume): void;
  /** Continue from a snapshot taken by onCheckpoint. */
  startFrom?: CollectResume;
  /** Allow buffers (BN running statistics) in the layout: recorded with each checkpoint, never trained (default false: refused). */
  recordBuffers?: boolean;
}

export interface CollectResult {
  /** [K, total], row k = the subset after (k + 1) * saveEvery iterations. */
  ckpts: Float32Array;
  /** Wall time of the iterations run by this call. */
  seconds: number;
}

/**
 * Collect cfg.k checkpoints of the `layout` subset of `model` (the trained base) on `train`.
 * The subset's parameters are trained with AdamW (cfg.lr, cfg.weightDecay, constant lr), all other
 * tensors frozen; BN in eval mode (running statistics of the base model) or train mode per
 * cfg.bnMode. With opts.recordBuffers, buffers in the layout (a multi-seed zoo's running
 * statistics) are recorded with every checkpoint as they are.
 * The model is restored afterwards (values, requiresGrad flags, train/eval mode), so it is
 * still the base model when this returns or throws.
 * @throws ConfigError for a layout name that is not a parameter of the model (nor, with
 *   recordBuffers, a buffer), NumericError when
 *   the loss diverges, ShapeError for a startFrom that does not fit.
 */
export function collectCheckpoints(model: Classifier, train: Dataset, layout: ParamLayout, cfg: CollectConfig, opts: CollectOptions): CollectResult {
  const K = cfg.k, total = layout.total, B = cfg.batchSize, every = cfg.saveEvery;
  const paramNames = new Set(model.namedParameters().map(([n]) => n));
  const bufferNames = new Set(model.namedBuffers().map(([n]) => n));
  for (const n of layout.names) {
    if (paramNames.has(n) || (opts.recordBuffers && bufferNames.has(n))) continue;
    throw new ConfigError(`collect: "${n}" is not a learnable parameter of ${model.arch} (${bufferNames.has(n) ? 'buffers cannot be trained; recordBuffers records them' : 'no such parameter'})`);
  }
  const ckpts = new Float32Array(K * total);
  let k0 = 0;
  if (opts.startFrom) {
    const st = opts.startFrom;
    if (!Number.isInteger(st.k) || st.k < 0 || st.k > K) throw new ShapeError(`collect: startFrom.k must be an integer in [0, ${K}], got ${st.k}`);
    if (st.vec.length !== total) throw new ShapeError(`collect: startFrom.vec has ${st.vec.length} floats, the layout needs ${total}`);
    if (st.ckpts) {
      if (st.ckpts.length < st.k * total) throw new ShapeError(`collect: startFrom.ckpts has ${st.ckpts.length} floats, ${st.k} rows need ${st.k * total}`);
      ckpts.set(st.ckpts.subarray(0, st.k * total));
    }
    k0 = st.k;
  }

  // Saved to restore the model afterwards.
  const wasTraining = model.training;
  const flags = model.parameters().map((p) => p.requiresGrad);
  const saved = model.stateDict().map(([, t]) => t.backend.clone(t.storage));

  const t0 = performance.now();
  const progress = new Progress({ label: 'collect', total: K, unit: 'ckpt', enabled: opts.progress !== false, start: opts.startFrom ? k0 : 0 });
  try {
    model.requiresGrad(false);
    // Buffers in the layout (running statistics) are recorded with each checkpoint, not trained.
    const subset: Tensor[] = layout.tensors(model).filter((_, i) => paramNames.has(layout.names[i]!));
    for (const t of subset) t.requiresGrad = true;
    model.train(cfg.bnMode === 'train');
    const opt = new AdamW(subset, { lr: cfg.lr, weightDecay: cfg.weightDecay });
    if (opts.startFrom) {
      layout.write(model, opts.startFrom.vec);
      opt.loadState(opts.startFrom.optimizerState);
      opts.rng.setState(opts.startFrom.rngState);
    }
    // Stages before the first subset tensor need no gradient: run them outside the tape.
    const split = model.firstStageOf(layout.names);
    const buf = new BatchBuffer(model.backend, B, train.c, train.h, train.w);
    const idx = new Int32Array(B);
    let row = k0;
    for (let iter = k0 * every; row < K; iter++) {
      sampleWithReplacement(train.n, B, opts.rng, idx);
      buf.gather(train, idx);
      buf.commit();
      opt.zeroGrad();
      const h = split > 0 ? scope(() => noGrad(() => model.forwardTo(buf.x, split))) : buf.x;
      const loss = ops.crossEntropy(model.forwardFrom(h, split), buf.labels);
      backward(loss, { freeGraph: true });
      opt.step();
      const l = loss.item(); // once the step is queued (a device backend waits here)
      if (!Number.isFinite(l)) throw new NumericError(`collect: loss ${l} at iteration ${iter + 1} (checkpoint ${row + 1}/${K}, lr ${cfg.lr})`);
      dispose(loss);
      if (h.storage !== buf.x.storage) dispose(h); // the frozen stages' output (off the tape)
      if ((iter + 1) % every !== 0) continue;
      const off = row * total;
      layout.readInto(model, ckpts, off);
      const vec = ckpts.subarray(off, off + total);
      const k = row++;
      opts.log?.write({ stage: 'collect', k, iter: iter + 1, loss: l });
      progress.tick(1, { loss: l });
      opts.onCheckpoint?.(k, vec, () => ({
        k: k + 1,
        vec: vec.slice(),
        optimizerState: opt.state(),
        rngState: opts.rng.getState(),
      }));
    }
  } finally {
    model.stateDict().forEach(([, t], i) => t.backend.write(t.storage, t.backend.read(saved[i]!)));
    model.parameters().forEach((p, i) => { p.requiresGrad = flags[i]!; p.grad = null; });
    model.train(wasTraining);
  }
  const seconds = (performance.now() - t0) / 1000;
  progress.done(`${K} checkpoints of ${total} floats`);
  return { ckpts, seconds };
}

/**
 * The resume snapshot as tensors and string metadata, for a safetensors state file. `rows` holds
 * the checkpoints collected so far ([snapshot.k, total] or more; the first k rows are stored).
 */
export function serializeCollectState(s: CollectResume, rows: Float32Array, total: number): { tensors: Array<{ name: string; shape: number[]; data: Float32Array }>; meta: Record<string, string> } {
  const done = rows.subarray(0, s.k * total);
  return {
    tensors: [
      { name: 'vec', shape: [s.vec.length], data: Float32Array.from(s.vec) },
      { name: 'ckpts', shape: [done.length], data: done },
      ...s.optimizerState.buffers.map((b, i) => ({ name: `optim.${i}`, shape: [b.length], data: Float32Array.from(b) })),
    ],
    meta: {
      k: String(s.k), rng: JSON.stringify(s.rngState.map((x) => (Number.isNaN(x) ? null : x))),
      optStep: String(s.optimizerState.step), buffers: String(s.optimizerState.buffers.length),
    },
  };
}

/** The snapshot written by {@link serializeCollectState}. @throws on a file that does not hold one. */
export function deserializeCollectState(tensors: ReadonlyMap<string, { data: Float32Array | BigInt64Array }>, meta: Record<string, string>, source: string): CollectResume {
  const get = (name: string): Float32Array => {
    const t = tensors.get(name);
    if (!t || !(t.data instanceof Float32Array)) throw new ShapeError(`${source}: collect state has no float tensor "${name}"`);
    return t.data;
  };
  const k = Number(meta.k), nb = Number(meta.buffers);
  if (!Number.isInteger(k) || !Number.isInteger(nb) || meta.rng === undefined) throw new ShapeError(`${source}: collect state metadata is incomplete`);
  return {
    k, vec: get('vec'), ckpts: get('ckpts'),
    rngState: JSON.parse(meta.rng) as number[],
    optimizerState: { step: Number(meta.optStep), buffers: Array.from({ length: nb }, (_, i) => get(`optim.${i}`)) },
  };
}
