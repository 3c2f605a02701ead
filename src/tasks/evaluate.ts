/**
 * Per-task evaluation (docs/tasks.md#evaluation): the accuracy of a generated part, written into
 * the task model, on a code's binary val and test sets. The predictions of a parameter vector do
 * not depend on the code, only their scoring does, so the images' features are cached once
 * (ParamSetEvaluator, src/eval/evaluate.ts: the model's own tail or forwardFrom, bit for bit) and
 * any vector can be scored against any code.
 */
import type { Dataset } from '../data/dataset.js';
import { ParamSetEvaluator, type EvaluatorPlan } from '../eval/evaluate.js';
import { ShapeError } from '../util/errors.js';
import { binaryLabels } from './labels.js';
import type { TaskModel } from './task-model.js';

/** Binary accuracies of one parameter vector for one code. */
export interface TaskAccuracy {
  /** % on the code's binary val set. */
  val: number;
  /** % on the code's binary test set. */
  test: number;
}

/** Predictions (0 = negative, 1 = positive) of one parameter vector. */
export interface TaskPredictions {
  val: Int32Array;
  test: Int32Array;
}

/** Arguments of the {@link TaskEvaluator} constructor. */
export interface TaskEvaluatorArgs {
  task: TaskModel;
  /** The C-class val and test sets (their class labels; the binary ones are made per code). */
  val: Dataset;
  test: Dataset;
  /** Images per chunk (default 1000). */
  batch?: number;
  /** Tail choice (default 'auto'; see TailChoice in src/models/classifier.ts). */
  plan?: EvaluatorPlan;
  /** Where warnings go (default stderr). */
  onWarning?: (message: string) => void;
}

/** % of `preds` equal to `code`'s binary labels of `classLabels`. */
export function binaryAccuracy(preds: Int32Array, classLabels: ArrayLike<number>, code: string, where = 'binaryAccuracy'): number {
  if (preds.length !== classLabels.length) throw new ShapeError(`${where}: ${preds.length} predictions for ${classLabels.length} labels`);
  if (preds.length === 0) throw new ShapeError(`${where}: no examples`);
  const y = binaryLabels(classLabels, code, where);
  let ok = 0;
  for (let i = 0; i < y.length; i++) if (preds[i] === y[i]) ok++;
  return (100 * ok) / y.length;
}

/** Evaluates generated parts of a task model on the binary val and test sets of any code. */
export class TaskEvaluator {
  readonly task: TaskModel;
  readonly val: Dataset;
  readonly test: Dataset;
  private readonly inner: ParamSetEvaluator<'val' | 'test'>;

  constructor(args: TaskEvaluatorArgs) {
    this.task = args.task;
    this.val = args.val;
    this.test = args.test;
    this.inner = new ParamSetEvaluator({
      model: args.task.model, layout: args.task.layout, datasets: { val: args.val, test: args.test },
      ...(args.batch !== undefined ? { batch: args.batch } : {}),
      ...(args.plan !== undefined ? { plan: args.plan } : {}),
      ...(args.onWarning ? { onWarning: args.onWarning } : {}),
    });
    if (this.inner.numClasses !== 2) throw new ShapeError(`TaskEvaluator: the task model has ${this.inner.numClasses} outputs, expected 2`);
  }

  /** Notes of the underlying evaluator (cache or tail fallbacks). */
  get notes(): readonly string[] {
    return this.inner.notes;
  }

  /** Predictions of P vectors [P, total] on val and test. */
  predict(vecs: Float32Array, P: number): TaskPredictions[] {
    return this.inner.evaluate(vecs, P).map((r) => ({ val: r.val.preds, test: r.test.preds }));
  }

  /** Accuracies of predictions for `code`. */
  score(preds: TaskPredictions, code: string): TaskAccuracy {
    return {
      val: binaryAccuracy(preds.val, this.val.labels, code, this.val.name),
      test: binaryAccuracy(preds.test, this.test.labels, code, this.test.name),
    };
  }

  /** Accuracies of P vectors [P, total] for one code. */
  evaluate(vecs: Float32Array, P: number, code: string): TaskAccuracy[] {
    return this.predict(vecs, P).map((p) => this.score(p, code));
  }
}

/** Mean of val and test accuracies (NaN for none). */
export function meanAccuracy(accs: readonly TaskAccuracy[]): TaskAccuracy {
  let v = 0, t = 0;
  for (const a of accs) { v += a.val; t += a.test; }
  return { val: v / accs.length, test: t / accs.length };
}

/** The accuracy with the highest val accuracy (the first on ties): best-by-val. */
export function bestByVal(accs: readonly TaskAccuracy[]): TaskAccuracy {
  let best: TaskAccuracy | undefined;
  for (const a of accs) if (!best || a.val > best.val) best = a;
  if (!best) throw new ShapeError('bestByVal: no accuracies');
  return best;
}
