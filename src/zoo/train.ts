/**
 * Base-model training and evaluation (docs/zoo.md#base-training).
 *
 * Recipe (cpu preset): AdamW lr 3e-3, wd 5e-3, batch 128, reshuffled each epoch, last partial
 * batch dropped (429 steps/epoch on 55,000 images), lr cosine(total steps, 0) per iteration,
 * BN in train mode. Batch buffers are allocated once; `backward` frees the tape every step.
 */
import { readArgmaxRows, type Backend } from '../backend/backend.js';
import type { BaseConfig } from '../config/index.js';
import { randomCropFlip } from '../data/augment.js';
import { type Dataset, epochOrder, gatherBatch } from '../data/dataset.js';
import { evalPieceRows, type Classifier } from '../models/classifier.js';
import { AdamW, SGD, type Optimizer } from '../nn/optim.js';
import { type LrSchedule, constantLr, cosineLr, stepLr, withWarmup } from '../nn/schedule.js';
import * as ops from '../tensor/ops.js';
import type { Rng } from '../tensor/random.js';
import { Tensor, backward, dispose, noGrad, scope } from '../tensor/tensor.js';
import { ConfigError, NumericError, ShapeError } from '../util/errors.js';
import type { JsonlLog } from '../util/jsonl.js';
import { Progress } from '../util/progress.js';

/**
 * A tensor over `data` [shape]: the array itself where the backend's storages are host
 * Float32Arrays (a float32 CPU backend; no copy, the tensor must only be read), otherwise a
 * device copy.
 */
export function hostTensor(data: Float32Array, shape: readonly number[], be: Backend): Tensor {
  return new Tensor(be.wrapHost(data) ?? be.fromArray(data), shape, be);
}

/**
 * A reusable minibatch: input tensor x [B, C, H, W] and labels [B], filled from a dataset by
 * index without allocating. On a float32 CPU backend the images are gathered straight into the
 * tensor's memory.
 */
export class BatchBuffer {
  readonly x: Tensor;
  readonly labels: Int32Array;
  /** Host images [B, C, H, W] (the tensor's own memory when shared). */
  readonly images: Float32Array;
  private readonly shared: boolean;

  constructor(readonly backend: Backend, readonly size: number, readonly c: number, readonly h: number, readonly w: number) {
    const n = size * c * h * w;
    const storage = backend.alloc(n);
    const live = backend.hostView(storage);
    this.shared = live instanceof Float32Array;
    this.images = live instanceof Float32Array ? live : new Float32Array(n);
    this.x = new Tensor(storage, [size, c, h, w], backend);
    this.labels = new Int32Array(size);
  }

  /** Fill the host images and labels with ds[indices] (indices.length must be the batch size). */
  gather(ds: Dataset, indices: Int32Array): void {
    if (indices.length !== this.size) throw new ShapeError(`BatchBuffer.gather: expected ${this.size} indices, got ${indices.length}`);
    gatherBatch(ds, indices, this.images, this.labels);
  }

  /** Make the tensor see the host images (a copy only when memory is not shared). */
  commit(): void {
    if (!this.shared) this.backend.write(this.x.storage, this.images);
  }
}

/** One epoch of base training. */
export interface EpochRecord {
  /** 1-based. */
  epoch: number;
  /** Mean minibatch loss over the epoch. */
  trainLoss: number;
  /** Minibatch accuracy over the epoch (%, BN in train mode). */
  trainAcc: number;
  /** Validation accuracy after the epoch (%, eval mode), when a val set is given. */
  valAcc?: number;
  /** Wall time of the epoch's training steps (validation excluded). */
  seconds: number;
  /** Learning rate of the epoch's last step. */
  lr: number;
}

export interface TrainOptions {
  /** Drives the epoch orders (and augmentation, through a fork). */
  rng: Rng;
  /** Evaluated after every epoch. */
  val?: Dataset;
  /** JSONL log: a line every `logEvery` steps and one per epoch. */
  log?: JsonlLog;
  /** Show progress on stderr (default true; see util/progress). */
  progress?: boolean;
  /** Random crop (pad 4, black border) + horizontal flip of every batch; default false. */
  augment?: boolean;
  /** Called after every epoch. */
  onEpoch?(e: EpochRecord): void;
  /** Images per forward pass when evaluating val; default 1000. */
  evalBatch?: number;
  /** Steps between JSONL step lines; default 50. */
  logEvery?: number;
}

/**
 * The per-iteration learning rate of `cfg`: cosine decays to 0 over all steps after the warm-up;
 * step multiplies by 0.1 after each third of them; constant keeps lr. Warm-up is linear.
 */
export function baseSchedule(cfg: BaseConfig, totalSteps: number): LrSchedule {
  const after = Math.max(1, totalSteps - cfg.warmupSteps);
  const main = cfg.schedule === 'cosine' ? cosineLr(cfg.lr, after, 0)
    : cfg.schedule === 'step' ? stepLr(cfg.lr, Math.max(1, Math.ceil(after / 3)), 0.1)
      : constantLr(cfg.lr);
  return cfg.warmupSteps > 0 ? withWarmup(main, cfg.lr, cfg.warmupSteps) : main;
}

/** The optimiser of `cfg` over `params`. */
export function makeOptimizer(params: readonly Tensor[], cfg: BaseConfig): Optimizer {
  return cfg.optimizer === 'sgd'
    ? new SGD(params, { lr: cfg.lr, momentum: cfg.momentum, weightDecay: cfg.weightDecay })
    : new AdamW(params, { lr: cfg.lr, weightDecay: cfg.weightDecay });
}

/** Number of correct predictions in logits [rows, cols] (argmax, first index on ties). */
function countCorrect(logits: Tensor, labels: Int32Array, preds: Int32Array): number {
  const rows = logits.shape[0]!, cols = logits.shape[1]!;
  readArgmaxRows(logits.backend, logits.storage, rows, cols, preds);
  let ok = 0;
  for (let i = 0; i < rows; i++) if (preds[i] === labels[i]) ok++;
  return ok;
}

/**
 * Train `model` in place on `train` with the recipe of `cfg` (docs/zoo.md#base-training). Every parameter
 * is trained (requiresGrad is switched on), BN in train mode.
 * @throws ConfigError when the dataset holds less than one batch, NumericError when the loss diverges.
 */
export function trainClassifier(model: Classifier, train: Dataset, cfg: BaseConfig, opts: TrainOptions): { history: EpochRecord[] } {
  const B = cfg.batchSize;
  const stepsPerEpoch = Math.floor(train.n / B);
  if (stepsPerEpoch < 1) throw new ConfigError(`base.batchSize: expected at most the ${train.n} training images of ${train.name}, got ${B}`);
  const total = cfg.epochs * stepsPerEpoch;
  const sched = baseSchedule(cfg, total);
  model.requiresGrad(true);
  const opt = makeOptimizer(model.parameters(), cfg);
  const be = model.backend;
  const buf = new BatchBuffer(be, B, train.c, train.h, train.w);
  const preds = new Int32Array(B);
  const augRng = opts.augment ? opts.rng.fork('augment') : null;
  const scratch = new Float32Array(train.c * train.h * train.w);
  const fill = train.norm ? train.norm.mean.map((m, ch) => -m / train.norm!.std[ch]!) : 0;
  const logEvery = opts.logEvery ?? 50;
  const progress = new Progress({ label: 'base', total, enabled: opts.progress !== false });
  const history: EpochRecord[] = [];
  let it = 0;
  for (let epoch = 1; epoch <= cfg.epochs; epoch++) {
    model.train();
    const t0 = performance.now();
    const order = epochOrder(train.n, opts.rng);
    let lossSum = 0, correct = 0, seen = 0;
    let winLoss = 0, winCorrect = 0, winSteps = 0;
    let lr = cfg.lr;
    for (let s = 0; s < stepsPerEpoch; s++, it++) {
      buf.gather(train, order.subarray(s * B, (s + 1) * B));
      if (augRng) randomCropFlip(buf.images, { n: B, c: train.c, h: train.h, w: train.w }, augRng, scratch, { fill });
      buf.commit();
      lr = sched(it);
      opt.lr = lr;
      opt.zeroGrad();
      const logits = model.forward(buf.x);
      const loss = ops.crossEntropy(logits, buf.labels);
      backward(loss, { freeGraph: true, keep: [logits] }); // the step's activations return to the pool now
      opt.step();
      // read only once the whole step is queued: a device backend waits here, once per step
      const l = loss.item();
      if (!Number.isFinite(l)) {
        throw new NumericError(`base training diverged: loss ${l} at epoch ${epoch} step ${s + 1}/${stepsPerEpoch} (lr ${lr})`);
      }
      const ok = countCorrect(logits, buf.labels, preds);
      dispose(loss, logits);
      lossSum += l; correct += ok; seen += B;
      winLoss += l; winCorrect += ok; winSteps++;
      if (opts.log && (it + 1) % logEvery === 0) {
        opts.log.write({ stage: 'base', event: 'step', epoch, step: s + 1, iter: it + 1, lr, loss: winLoss / winSteps, acc: (100 * winCorrect) / (winSteps * B) });
        winLoss = 0; winCorrect = 0; winSteps = 0;
      }
      progress.tick(1, { epoch: `${epoch}/${cfg.epochs}`, loss: lossSum / (s + 1), acc: (100 * correct) / seen });
    }
    const rec: EpochRecord = { epoch, trainLoss: lossSum / stepsPerEpoch, trainAcc: (100 * correct) / seen, seconds: (performance.now() - t0) / 1000, lr };
    if (opts.val) rec.valAcc = evaluateClassifier(model, opts.val, { batch: opts.evalBatch ?? 1000 }).acc;
    model.train();
    history.push(rec);
    opts.log?.write({ stage: 'base', event: 'epoch', ...rec });
    opts.onEpoch?.(rec);
  }
  const last = history[history.length - 1];
  progress.done(last ? { loss: last.trainLoss, acc: last.trainAcc, ...(last.valAcc !== undefined ? { valAcc: last.valAcc } : {}) } : undefined);
  return { history };
}

/** Result of evaluating a classifier on a dataset. */
export interface EvalResult {
  /** Top-1 accuracy in percent. */
  acc: number;
  /** Predicted class per image [n] (argmax, first index on ties). */
  preds: Int32Array;
  /** Mean cross-entropy. */
  loss: number;
}

/**
 * Top-1 accuracy, predictions and mean loss of `model` on `ds`, in eval mode (BN running stats)
 * without recording gradients. Batches are views of ds.images (no copy on a float32 CPU
 * backend). The model's train/eval mode is restored afterwards.
 */
export function evaluateClassifier(model: Classifier, ds: Dataset, opts: { batch?: number } = {}): EvalResult {
  const B = Math.max(1, Math.min(opts.batch ?? 1000, ds.n));
  const sz = ds.c * ds.h * ds.w;
  const be = model.backend;
  const preds = new Int32Array(ds.n);
  const labels = new Int32Array(Math.min(B, evalPieceRows(sz, be)));
  const wasTraining = model.training;
  model.eval();
  let lossSum = 0, correct = 0;
  try {
    noGrad(() => {
      // chunks of B images, each forwarded in pieces of at most evalPieceRows (the same predictions, far less memory)
      const piece = Math.min(B, evalPieceRows(sz, be));
      for (let start = 0; start < ds.n; start += piece) {
        const size = Math.min(piece, ds.n - start);
        const data = ds.images.subarray(start * sz, (start + size) * sz);
        const x = hostTensor(data, [size, ds.c, ds.h, ds.w], be);
        scope(() => { // the batch's tensors go back to the pool at its end
          const logits = model.forward(x);
          const cols = logits.shape[1]!;
          const lab = size === labels.length ? labels : labels.subarray(0, size);
          for (let i = 0; i < size; i++) lab[i] = ds.labels[start + i]!;
          const p = preds.subarray(start, start + size);
          readArgmaxRows(be, logits.storage, size, cols, p);
          for (let i = 0; i < size; i++) if (p[i] === lab[i]) correct++;
          lossSum += ops.crossEntropy(logits, lab).item() * size;
        });
        if (be.hostView(x.storage) !== data) dispose(x); // the batch's copy (none where x is data itself)
      }
    });
  } finally {
    model.train(wasTraining);
  }
  return { acc: ds.n > 0 ? (100 * correct) / ds.n : NaN, preds, loss: ds.n > 0 ? lossSum / ds.n : NaN };
}
