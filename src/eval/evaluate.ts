/**
 * Evaluating many parameter sets fast (docs/evaluation.md#protocol).
 *
 * A parameter set is a flat vector in the order of a parameter layout (src/zoo/layout.ts). It is
 * evaluated by writing it into the base model (the subset only: every other tensor, running
 * statistics included, stays the base model's), BN in eval mode, and taking the top-1 accuracy
 * on each split (val and test), and on request the top-5 accuracy (from the logits read back to
 * the host at each chunk: only a hit count per set and chunk is kept).
 *
 * The sets of a run differ only in the subset, so everything before the first stage that uses a
 * subset tensor is the same for all of them: {@link ParamSetEvaluator} computes it once per image
 * (s = model.firstStageOf(layout.names); the features of the model's tail at s) and runs only
 * the tail per set. The loop over parameter sets sits INSIDE the loop over cached-feature chunks,
 * so one chunk of features serves every set while it is hot in cache.
 *
 * The tail is the model's own (Classifier.evalTail: e.g. cnn-s's planned tail with fused backend
 * passes, src/models/cnn-s-tail.ts), checked there to reproduce forwardFrom bit for bit, or else
 * the generic one that every classifier has: model.forwardTo / model.forwardFrom through the ops
 * (GenericTail in src/models/tail.ts). Nothing here depends on the architecture.
 */
import { readArgmaxRows, type Backend, type Storage } from '../backend/backend.js';
import type { Dataset } from '../data/dataset.js';
import { evalPieceRows, type Classifier, type TailChoice, type TailKind, type TailRunner } from '../models/classifier.js';
import { GenericTail } from '../models/tail.js';
import type { Module } from '../nn/module.js';
import { Tensor, dispose, noGrad, scope } from '../tensor/tensor.js';
import { ShapeError } from '../util/errors.js';
import { accuracy, classificationMetrics, topkRows, type ClassificationMetrics, type Labels } from './metrics.js';

/**
 * The part of a ParamLayout (src/zoo/layout.ts) the evaluator needs: where each subset tensor
 * lives in a flat vector, and how to copy a vector into a model and back.
 */
export interface ParamLayoutLike {
  readonly names: readonly string[];
  readonly shapes: ReadonlyArray<readonly number[]>;
  readonly offsets: readonly number[];
  readonly sizes: readonly number[];
  /** Floats per parameter set. */
  readonly total: number;
  /** Copy a vector [total] into the model's subset tensors. */
  write(model: Module, vec: Float32Array): void;
  /** The model's subset as a new vector [total]. */
  read(model: Module): Float32Array;
}

/** One split's outcome for one parameter set. */
export interface SplitResult {
  /** Top-1 accuracy in percent. */
  acc: number;
  /** Predicted class per example [n] (argmax of the logits, first index on ties). */
  preds: Int32Array;
  /**
   * Top-5 accuracy in percent (the label among the 5 largest logits, lower index first on
   * ties, as {@link topkRows}); present only when EvaluateOptions.top5 asked for it.
   */
  top5?: number;
}

/** Default split names: the SPEC's val and test. */
export type DefaultSplits = 'val' | 'test';

export interface ParamSetEvaluatorOptions<S extends string = DefaultSplits> {
  /**
   * The base model. The evaluator writes parameter sets into its subset tensors and restores the
   * base values after every call; its other tensors must not change while the evaluator is used
   * (the cached features depend on them).
   */
  model: Classifier;
  /** Layout of the parameter vectors (a ParamLayout). */
  layout: ParamLayoutLike;
  /** The splits to evaluate on, e.g. { val, test } (or { test } for a shifted test set). */
  datasets: Record<S, Dataset>;
  /** Images per chunk (forward batch). Default 1000. */
  batch?: number;
  /** Cache the features before the first subset stage. Default true. */
  cacheFeatures?: boolean;
  /** Largest feature cache allowed, in bytes; above it the evaluator warns and runs without a cache. Default 1 GiB. */
  maxCacheBytes?: number;
  /**
   * Which tail to ask the model for (see TailChoice in src/models/classifier.ts): 'auto'
   * (default) lets the model and backend choose; 'generic' always runs model.forwardFrom through
   * the ops; 'fused', 'unfused' and 'kernels' ask a model with its own tail for a variant.
   */
  plan?: EvaluatorPlan;
  /** Where warnings go (cache fallback, tail fallback). Default: one line on stderr. */
  onWarning?: (message: string) => void;
}

export interface EvaluateOptions {
  /**
   * Also count top-5 hits (SplitResult.top5): the logits of every (chunk, set) are read back to
   * the host for it. Needs at least 5 classes. Default false.
   */
  top5?: boolean;
  /** Called after each chunk with the (chunk x parameter set) passes done and the total. */
  onProgress?: (done: number, total: number) => void;
  /**
   * Continue an interrupted {@link ParamSetEvaluator.evaluate}: the predictions of its first
   * `chunksDone` chunks, as `onChunk` gave them. Only evaluate (the cached path) takes it.
   */
  resume?: EvalPartial;
  /**
   * Called after each chunk of evaluate with the number of chunks done and a function that copies
   * out the predictions so far (an {@link EvalPartial}); call it only when saving.
   */
  onChunk?: (chunksDone: number, snapshot: () => EvalPartial) => void;
}

/**
 * Predictions of an unfinished evaluate: preds [P, rows of every split, in split order] (int32
 * class indices), of which the rows of the first `chunksDone` chunks are filled. Chunks run in
 * split order, so that is a prefix of each set's rows.
 */
export interface EvalPartial {
  chunksDone: number;
  preds: Int32Array;
  /**
   * Top-5 hits per set and chunk [P, chunkCount] (the first `chunksDone` columns filled); present
   * exactly when the evaluate that saved it counted top-5. A resume with top5 on refuses a
   * partial without it (its hits are gone), and one with top5 off a partial with it.
   */
  top5Hits?: Int32Array;
}

/** How the tail is computed (see TailKind in src/models/classifier.ts). */
export type EvaluatorPath = TailKind;

/** The tail choice of ParamSetEvaluatorOptions.plan (see TailChoice in src/models/classifier.ts). */
export type EvaluatorPlan = TailChoice;

/** Default cache limit: 1 GiB. */
export const DEFAULT_MAX_CACHE_BYTES = 1024 * 1024 * 1024;

/** Images on which a model's own tail must reproduce forwardFrom at construction. */
const TAIL_CHECK_IMAGES = 16;

/** Rows of a split that one forward pass sees: a chunk, or one piece of it. */
interface Rows {
  split: number;
  start: number;
  rows: number;
}

/** A piece of a chunk: the rows one forward pass of the tail sees. */
interface Piece extends Rows {
  /** Cached features (the runner's format), or null when they are made from the images on the fly. */
  feats: Tensor[] | null;
}

/** A chunk: the unit of progress, of the top-5 hit counts and of a resumable state (`batch` images). */
interface Chunk extends Rows {
  pieces: Piece[];
}


/** A chunk of a dataset's images as a tensor [rows, c, h, w] on `be`. */
function imageChunk(ds: Dataset, start: number, rows: number, be: Backend): Tensor {
  const sz = ds.c * ds.h * ds.w;
  return new Tensor(be.fromArray(ds.images.subarray(start * sz, (start + rows) * sz)), [rows, ds.c, ds.h, ds.w], be);
}

/** Top-1 / top-5 / macro-F1 / per-class accuracy / confusion of predictions (metrics.ts). */
export function fullMetrics(preds: Int32Array, labels: Labels, numClasses: number, logits?: Float32Array): ClassificationMetrics {
  return classificationMetrics(preds, labels, numClasses, logits ? { logits } : {});
}

/**
 * Evaluates many parameter sets of one base model on fixed datasets (docs/evaluation.md#protocol), caching
 * the features before the first stage that uses the subset. See the module comment.
 */
export class ParamSetEvaluator<S extends string = DefaultSplits> {
  readonly model: Classifier;
  readonly layout: ParamLayoutLike;
  readonly splits: readonly S[];
  readonly datasets: Readonly<Record<S, Dataset>>;
  readonly batch: number;
  /** The stage whose output is cached (model.firstStageOf(layout.names)); 0 = nothing cached. */
  readonly stage: number;
  /** Bytes held by the feature cache (0 without one). */
  readonly cacheBytes: number;
  /** How the tail is computed (see EvaluatorPath). */
  readonly path: EvaluatorPath;
  /** Number of classes (columns of the logits). */
  readonly numClasses: number;
  /** Why the evaluator runs without a cache or without the model's own tail (or skipped some of its variants), when it does. */
  readonly notes: string[] = [];

  private readonly be: Backend;
  private readonly runner: TailRunner;
  private readonly chunks: Chunk[] = [];
  private readonly base: Float32Array;

  constructor(opts: ParamSetEvaluatorOptions<S>) {
    const { model, layout } = opts;
    this.model = model;
    this.layout = layout;
    this.datasets = opts.datasets;
    this.splits = Object.keys(opts.datasets) as S[];
    this.be = model.backend;
    this.batch = opts.batch ?? 1000;
    const warn = opts.onWarning ?? ((msg: string) => { process.stderr.write(`pdiff: ${msg}\n`); });
    if (!(Number.isInteger(this.batch) && this.batch >= 1)) throw new ShapeError(`ParamSetEvaluator: batch must be a positive integer, got ${opts.batch}`);
    if (this.splits.length === 0) throw new ShapeError('ParamSetEvaluator: expected at least one dataset, got none');
    const first = this.datasets[this.splits[0]!];
    for (const sp of this.splits) {
      const ds = this.datasets[sp];
      if (ds.n < 1) throw new ShapeError(`ParamSetEvaluator: dataset "${sp}" (${ds.name}) is empty`);
      if (ds.images.length !== ds.n * ds.c * ds.h * ds.w || ds.labels.length !== ds.n) {
        throw new ShapeError(`ParamSetEvaluator: dataset "${sp}" (${ds.name}) has ${ds.images.length} image floats and ${ds.labels.length} labels, expected ${ds.n} x ${ds.c}x${ds.h}x${ds.w} and ${ds.n}`);
      }
    }
    this.base = layout.read(model);
    if (this.base.length !== layout.total) throw new ShapeError(`ParamSetEvaluator: layout.read gave ${this.base.length} floats, layout.total is ${layout.total}`);

    const wasTraining = model.training;
    model.eval();
    try {
      const built = noGrad(() => {
        const probe = (): Tensor => imageChunk(first, 0, 1, this.be);
        const numClasses = model.forward(probe()).shape[1]!;
        let stage = opts.cacheFeatures === false ? 0 : model.firstStageOf(layout.names);
        let runner = this.pickRunner(opts.plan ?? 'auto', stage, first, probe, warn);
        const floats = stage === 0 ? 0 : runner.featureFloats();
        const bytesPer = this.be.dtype === 'float64' ? 8 : 4;
        let bytes = 0;
        for (const sp of this.splits) bytes += this.datasets[sp].n * floats * bytesPer;
        const limit = opts.maxCacheBytes ?? DEFAULT_MAX_CACHE_BYTES;
        if (bytes > limit) {
          const msg = `ParamSetEvaluator: the feature cache at stage ${stage} (${model.stages[stage]}) would take ${(bytes / 2 ** 20).toFixed(0)} MiB, ` +
            `more than maxCacheBytes = ${(limit / 2 ** 20).toFixed(0)} MiB; evaluating without a cache (full forward per parameter set)`;
          this.notes.push(msg);
          warn(msg);
          stage = 0;
          bytes = 0;
          runner = this.pickRunner(opts.plan ?? 'auto', 0, first, probe, warn);
        }
        return { numClasses, stage, runner, bytes };
      });
      this.numClasses = built.numClasses;
      this.stage = built.stage;
      this.runner = built.runner;
      this.path = built.runner.kind;
      this.cacheBytes = built.bytes;
      noGrad(() => this.buildChunks());
    } finally {
      model.train(wasTraining);
    }
  }

  /**
   * The model's own tail from `stage` (Classifier.evalTail, which checks it bit for bit against
   * forwardFrom on a few images), or the generic one when the model has none, the choice is
   * 'generic', or the model's tail does not reproduce forwardFrom.
   */
  private pickRunner(plan: EvaluatorPlan, stage: number, first: Dataset, probe: () => Tensor, warn: (m: string) => void): TailRunner {
    const generic = new GenericTail(this.model, stage, probe);
    if (plan === 'generic' || !this.model.evalTail) return generic;
    const check = imageChunk(first, 0, Math.min(TAIL_CHECK_IMAGES, first.n), this.be);
    const own = this.model.evalTail({
      start: stage, inShape: [first.c, first.h, first.w], check, choice: plan,
      note: (message, warning) => {
        const msg = `ParamSetEvaluator: ${message}`;
        this.notes.push(msg);
        if (warning) warn(msg);
      },
    });
    return own ?? generic;
  }

  private buildChunks(): void {
    this.splits.forEach((sp, si) => {
      const ds = this.datasets[sp];
      const pieceRows = Math.min(this.batch, evalPieceRows(ds.c * ds.h * ds.w, this.be));
      for (let start = 0; start < ds.n; start += this.batch) {
        const rows = Math.min(this.batch, ds.n - start);
        const pieces: Piece[] = [];
        for (let s = start; s < start + rows; s += pieceRows) {
          const r = Math.min(pieceRows, start + rows - s);
          const feats = this.stage === 0 ? null : scope(() => {
            const x = imageChunk(ds, s, r, this.be);
            const f = this.runner.features(x);
            if (!f.some((t) => t.storage === x.storage)) dispose(x);
            return f;
          });
          pieces.push({ split: si, start: s, rows: r, feats });
        }
        this.chunks.push({ split: si, start, rows, pieces });
      }
    });
  }

  /**
   * Call fn with the piece's features: the cached ones, or ones computed from its images now and
   * released (with the images' device copy) when fn returns.
   */
  private withFeatures(pc: Piece, fn: (feats: readonly Tensor[]) => void): void {
    if (pc.feats) { fn(pc.feats); return; }
    const x = imageChunk(this.datasets[this.splits[pc.split]!], pc.start, pc.rows, this.be);
    scope(() => fn(this.runner.features(x)));
    dispose(x);
  }

  private checkVecs(vecs: Float32Array, P: number, where: string): void {
    if (!(Number.isInteger(P) && P >= 0) || vecs.length !== P * this.layout.total) {
      throw new ShapeError(`ParamSetEvaluator.${where}: expected vecs [P=${P}, ${this.layout.total}] (${P * this.layout.total} floats), got ${vecs.length}`);
    }
  }

  private vec(vecs: Float32Array, p: number): Float32Array {
    const t = this.layout.total;
    return vecs.subarray(p * t, (p + 1) * t);
  }

  /** Run `fn` in eval mode without the tape, restoring the base subset and the training flag after. */
  private guarded<T>(fn: () => T): T {
    const wasTraining = this.model.training;
    this.model.eval();
    try {
      return noGrad(fn);
    } finally {
      this.layout.write(this.model, this.base);
      this.model.train(wasTraining);
    }
  }

  private emptyPreds(P: number): Int32Array[][] {
    return Array.from({ length: P }, () => this.splits.map((sp) => new Int32Array(this.datasets[sp].n)));
  }

  /** Per set and split: accuracy, predictions, and top-5 from the hit counts [P, chunkCount] when counted. */
  private results(preds: Int32Array[][], hits: Int32Array | null = null): Array<Record<S, SplitResult>> {
    const C = this.chunks.length;
    return preds.map((perSplit, p) => {
      const r = {} as Record<S, SplitResult>;
      this.splits.forEach((sp, si) => {
        const pr = perSplit[si]!;
        r[sp] = { acc: accuracy(pr, this.datasets[sp].labels), preds: pr };
        if (hits) {
          let hit = 0;
          for (let c = 0; c < C; c++) if (this.chunks[c]!.split === si) hit += hits[p * C + c]!;
          // the formula of classificationMetrics, so the numbers are fullMetrics' to the bit
          r[sp].top5 = (100 * hit) / this.datasets[sp].n;
        }
      });
      return r;
    });
  }

  /**
   * Top-1 accuracy and predictions of P parameter sets vecs [P, total] on every split, by the
   * cached tail: for each chunk of cached features, every set in turn.
   * @throws NumericError (from layout.write) for a set with a NaN or infinite value.
   */
  evaluate(vecs: Float32Array, P: number, opts: EvaluateOptions = {}): Array<Record<S, SplitResult>> {
    this.checkVecs(vecs, P, 'evaluate');
    const preds = this.emptyPreds(P);
    const C = this.chunks.length;
    const total = C * P;
    const hits = this.top5Buffer(opts.top5, P, 'evaluate');
    const first = opts.resume ? this.restore(opts.resume, preds, hits) : 0;
    let done = first * P;
    const snapshot = (chunksDone: number) => (): EvalPartial => {
      const rows = this.rowCount;
      const flat = new Int32Array(P * rows);
      preds.forEach((perSplit, p) => {
        let o = p * rows;
        for (const sp of perSplit) { flat.set(sp, o); o += sp.length; }
      });
      return { chunksDone, preds: flat, ...(hits ? { top5Hits: hits.slice() } : {}) };
    };
    if (first > 0) opts.onProgress?.(done, total);
    this.guarded(() => {
      for (let c = first; c < this.chunks.length; c++) {
        const ch = this.chunks[c]!;
        for (let p = 0; p < P; p++) {
          this.layout.write(this.model, this.vec(vecs, p));
          if (hits) hits[p * C + c] = 0;
          for (const pc of ch.pieces) {
            this.withFeatures(pc, (feats) => scope(() => {
              const logits = this.runner.run(feats, pc.rows);
              readArgmaxRows(this.be, logits, pc.rows, this.numClasses, preds[p]![pc.split]!.subarray(pc.start, pc.start + pc.rows));
              if (hits) hits[p * C + c]! += this.top5HitsOf(logits, pc);
            }));
          }
        }
        done += P;
        opts.onProgress?.(done, total);
        opts.onChunk?.(c + 1, snapshot(c + 1));
      }
    });
    return this.results(preds, hits);
  }

  /** Number of image chunks one parameter set takes (over every split). */
  get chunkCount(): number {
    return this.chunks.length;
  }

  /** Rows (images) of all splits together. */
  get rowCount(): number {
    let n = 0;
    for (const sp of this.splits) n += this.datasets[sp].n;
    return n;
  }

  /**
   * Copy a partial result's filled rows into preds (and its top-5 hits into `hits`, when counted);
   * returns the chunk to go on from.
   */
  private restore(partial: EvalPartial, preds: Int32Array[][], hits: Int32Array | null): number {
    const P = preds.length, rows = this.rowCount;
    const c = partial.chunksDone;
    if (!(Number.isInteger(c) && c >= 0 && c <= this.chunks.length) || partial.preds.length !== P * rows) {
      throw new ShapeError(`ParamSetEvaluator.evaluate: resume state has ${partial.preds.length} predictions after ${c} chunks; ` +
        `expected [P=${P}, ${rows}] after 0..${this.chunks.length} chunks`);
    }
    if (hits && partial.top5Hits?.length !== hits.length) {
      throw new ShapeError(`ParamSetEvaluator.evaluate: top-5 is counted, but the resume state has ${partial.top5Hits ? `${partial.top5Hits.length} top-5 hit counts` : 'no top-5 hit counts'}; ` +
        `expected [P=${P}, ${this.chunks.length}] (a state saved without top-5 cannot be resumed with it: start the evaluation over)`);
    }
    if (!hits && partial.top5Hits) {
      throw new ShapeError('ParamSetEvaluator.evaluate: the resume state has top-5 hit counts, but top-5 is not counted; resume with top5: true');
    }
    preds.forEach((perSplit, p) => {
      let o = p * rows;
      for (const sp of perSplit) { sp.set(partial.preds.subarray(o, o + sp.length)); o += sp.length; }
    });
    if (hits) hits.set(partial.top5Hits!);
    return c;
  }

  /** The top-5 hit counts [P, chunkCount] to fill when `top5` is asked for, else null. */
  private top5Buffer(top5: boolean | undefined, P: number, where: string): Int32Array | null {
    if (!top5) return null;
    if (this.numClasses < 5) throw new ShapeError(`ParamSetEvaluator.${where}: top-5 needs at least 5 classes, the model has ${this.numClasses}`);
    return new Int32Array(P * this.chunks.length);
  }

  /**
   * How many rows of chunk `ch` have their label among the 5 largest logits (topkRows, the order
   * of fullMetrics): the logits are read back to the host here.
   */
  private top5HitsOf(logits: Storage, ch: Rows): number {
    const raw = this.be.read(logits);
    // As in logits(): float64 backends are rounded to float32 first, so the hits equal fullMetrics'.
    const l = raw instanceof Float32Array ? raw : Float32Array.from(raw.subarray(0, ch.rows * this.numClasses));
    const top = topkRows(l, ch.rows, this.numClasses, 5, new Int32Array(ch.rows * 5));
    const labels = this.datasets[this.splits[ch.split]!].labels;
    let hit = 0;
    for (let i = 0; i < ch.rows; i++) {
      const t = labels[ch.start + i]!, b = i * 5;
      if (top[b] === t || top[b + 1] === t || top[b + 2] === t || top[b + 3] === t || top[b + 4] === t) hit++;
    }
    return hit;
  }

  /**
   * The straightforward evaluation: for each set, model.forward on every image chunk through the
   * ops (no cache, no plan). The reference for the equivalence test and the benchmark.
   */
  evaluateFull(vecs: Float32Array, P: number, opts: EvaluateOptions = {}): Array<Record<S, SplitResult>> {
    this.checkVecs(vecs, P, 'evaluateFull');
    const preds = this.emptyPreds(P);
    const C = this.chunks.length;
    const total = C * P;
    const hits = this.top5Buffer(opts.top5, P, 'evaluateFull');
    let done = 0;
    this.guarded(() => {
      for (let p = 0; p < P; p++) {
        this.layout.write(this.model, this.vec(vecs, p));
        this.chunks.forEach((ch, c) => {
          if (hits) hits[p * C + c] = 0;
          for (const pc of ch.pieces) {
            const x = imageChunk(this.datasets[this.splits[pc.split]!], pc.start, pc.rows, this.be);
            scope(() => {
              const logits = this.model.forward(x).storage;
              readArgmaxRows(this.be, logits, pc.rows, this.numClasses, preds[p]![pc.split]!.subarray(pc.start, pc.start + pc.rows));
              if (hits) hits[p * C + c]! += this.top5HitsOf(logits, pc);
            });
            dispose(x);
          }
          opts.onProgress?.(++done, total);
        });
      }
    });
    return this.results(preds, hits);
  }

  /** Logits [n, classes] of one parameter set on every split (by the cached tail). */
  logits(vec: Float32Array): Record<S, Float32Array> {
    this.checkVecs(vec, 1, 'logits');
    const out = {} as Record<S, Float32Array>;
    for (const sp of this.splits) out[sp] = new Float32Array(this.datasets[sp].n * this.numClasses);
    this.guarded(() => {
      this.layout.write(this.model, vec);
      for (const ch of this.chunks) {
        const sp = this.splits[ch.split]!;
        for (const pc of ch.pieces) {
          this.withFeatures(pc, (feats) => scope(() => out[sp].set(this.be.read(this.runner.run(feats, pc.rows)).subarray(0, pc.rows * this.numClasses), pc.start * this.numClasses)));
        }
      }
    });
    return out;
  }

  /** Full metrics (top-1, top-5 from the logits, macro-F1, per-class accuracy, confusion) of one set, e.g. the best. */
  evaluateDetailed(vec: Float32Array): Record<S, ClassificationMetrics> {
    const logits = this.logits(vec);
    const out = {} as Record<S, ClassificationMetrics>;
    for (const sp of this.splits) {
      const ds = this.datasets[sp];
      const preds = new Int32Array(ds.n);
      const l = logits[sp];
      for (let i = 0; i < ds.n; i++) {
        let arg = 0;
        let best = l[i * this.numClasses]!;
        for (let c = 1; c < this.numClasses; c++) {
          const v = l[i * this.numClasses + c]!;
          if (v > best) { best = v; arg = c; }
        }
        preds[i] = arg;
      }
      out[sp] = fullMetrics(preds, ds.labels, this.numClasses, l);
    }
    return out;
  }

  /** The base model's subset vector (what the model holds between calls). */
  baseVector(): Float32Array {
    return this.base.slice();
  }
}

/** Accuracies of a result list for one split, in set order. */
export function accuraciesOf<S extends string>(results: ReadonlyArray<Record<S, SplitResult>>, split: S): number[] {
  return results.map((r) => r[split].acc);
}
