/**
 * Classification metrics on plain arrays: predictions (argmax per example), labels, logits.
 * Nothing here knows about models; the evaluator hands in what the forward pass produced.
 *
 * Conventions:
 * - prediction = argmax of the logits, first index on ties (docs/README.md#conventions);
 * - accuracies are in percent; macro-F1 is a fraction in [0, 1];
 * - confusion[trueClass][predictedClass] counts examples.
 */
import { ShapeError } from '../util/errors.js';

/** Labels as read from a dataset (uint8 IDX labels) or as computed. */
export type Labels = Uint8Array | Int32Array | readonly number[];

export interface ClassificationOptions {
  /** Top-5 class indices per example, [N, 5] row-major (from {@link topkRows}). */
  top5?: Int32Array;
  /** Logits [N, numClasses] row-major; used to compute top-5 when `top5` is not given. */
  logits?: Float32Array;
}

export interface ClassificationMetrics {
  /** Number of examples. */
  n: number;
  /** Top-1 accuracy, percent. */
  top1: number;
  /** Top-5 accuracy, percent; present only when `top5` or `logits` was given. */
  top5?: number;
  /**
   * Macro-averaged F1 in [0, 1], averaged over the classes that occur in the labels or in the
   * predictions. A class absent from both is excluded (its F1 would be 0/0); a class present in
   * the labels but never predicted, or predicted but never present, has F1 = 0.
   */
  macroF1: number;
  /** Per-class accuracy (recall), percent; NaN for a class with no examples. */
  perClassAccuracy: number[];
  /** confusion[t][p] = number of examples of true class t predicted as p; [numClasses][numClasses]. */
  confusion: number[][];
}

/**
 * Row-wise argmax of `logits` [rows, cols] into `out` [rows]; the first index wins on ties.
 * A NaN never replaces the running maximum (it wins only in column 0 and then stays).
 */
export function argmaxRows(logits: Float32Array, rows: number, cols: number, out: Int32Array): Int32Array {
  if (cols < 1) throw new ShapeError(`argmaxRows: cols must be >= 1, got ${cols}`);
  if (logits.length < rows * cols) {
    throw new ShapeError(`argmaxRows: logits has ${logits.length} values, expected rows*cols = ${rows}*${cols}`);
  }
  if (out.length < rows) throw new ShapeError(`argmaxRows: out has length ${out.length}, expected >= ${rows}`);
  for (let r = 0; r < rows; r++) {
    const base = r * cols;
    let best = logits[base]!;
    let arg = 0;
    for (let c = 1; c < cols; c++) {
      const v = logits[base + c]!;
      if (v > best) {
        best = v;
        arg = c;
      }
    }
    out[r] = arg;
  }
  return out;
}

/**
 * Row-wise top-k class indices of `logits` [rows, cols] into `out` [rows, k], largest first;
 * on equal values the lower index comes first (so column 0 of `out` equals {@link argmaxRows}).
 */
export function topkRows(logits: Float32Array, rows: number, cols: number, k: number, out: Int32Array): Int32Array {
  if (!(k >= 1 && k <= cols)) throw new ShapeError(`topkRows: k must be in [1, cols=${cols}], got ${k}`);
  if (logits.length < rows * cols) {
    throw new ShapeError(`topkRows: logits has ${logits.length} values, expected rows*cols = ${rows}*${cols}`);
  }
  if (out.length < rows * k) throw new ShapeError(`topkRows: out has length ${out.length}, expected >= rows*k = ${rows * k}`);
  const vals = new Float64Array(k);
  for (let r = 0; r < rows; r++) {
    const base = r * cols;
    const ob = r * k;
    let filled = 0;
    for (let c = 0; c < cols; c++) {
      const v = logits[base + c]!;
      // Insertion into the sorted top-k buffer; strict '>' keeps earlier indices ahead on ties.
      if (filled === k && !(v > vals[k - 1]!)) continue;
      let pos = filled < k ? filled : k - 1;
      while (pos > 0 && v > vals[pos - 1]!) {
        vals[pos] = vals[pos - 1]!;
        out[ob + pos] = out[ob + pos - 1]!;
        pos--;
      }
      vals[pos] = v;
      out[ob + pos] = c;
      if (filled < k) filled++;
    }
  }
  return out;
}

/** Misclassified examples as a bitmask: out[i] = 1 when preds[i] !== labels[i], else 0. */
export function wrongSet(preds: Int32Array, labels: Labels): Uint8Array {
  if (preds.length !== labels.length) {
    throw new ShapeError(`wrongSet: preds has ${preds.length} entries, labels has ${labels.length}`);
  }
  const out = new Uint8Array(preds.length);
  for (let i = 0; i < preds.length; i++) out[i] = preds[i]! !== labels[i]! ? 1 : 0;
  return out;
}

/** Top-1 accuracy in percent. */
export function accuracy(preds: Int32Array, labels: Labels): number {
  if (preds.length !== labels.length) {
    throw new ShapeError(`accuracy: preds has ${preds.length} entries, labels has ${labels.length}`);
  }
  if (preds.length === 0) throw new ShapeError('accuracy: no examples');
  let correct = 0;
  for (let i = 0; i < preds.length; i++) if (preds[i]! === labels[i]!) correct++;
  return (100 * correct) / preds.length;
}

/** Top-1 (and optionally top-5) accuracy, macro-F1, per-class accuracy and the confusion matrix. */
export function classificationMetrics(
  preds: Int32Array,
  labels: Labels,
  numClasses: number,
  opts: ClassificationOptions = {},
): ClassificationMetrics {
  const n = preds.length;
  if (labels.length !== n) throw new ShapeError(`classificationMetrics: preds has ${n} entries, labels has ${labels.length}`);
  if (n === 0) throw new ShapeError('classificationMetrics: no examples');
  if (!(Number.isInteger(numClasses) && numClasses >= 1)) {
    throw new ShapeError(`classificationMetrics: numClasses must be a positive integer, got ${numClasses}`);
  }
  const conf = new Float64Array(numClasses * numClasses);
  let correct = 0;
  for (let i = 0; i < n; i++) {
    const t = labels[i]!;
    const p = preds[i]!;
    if (!(t >= 0 && t < numClasses)) throw new ShapeError(`classificationMetrics: label ${t} at index ${i} is outside [0, ${numClasses})`);
    if (!(p >= 0 && p < numClasses)) throw new ShapeError(`classificationMetrics: prediction ${p} at index ${i} is outside [0, ${numClasses})`);
    conf[t * numClasses + p]!++;
    if (t === p) correct++;
  }

  const confusion: number[][] = [];
  const perClassAccuracy: number[] = [];
  let f1Sum = 0;
  let f1Count = 0;
  for (let c = 0; c < numClasses; c++) {
    const row: number[] = new Array<number>(numClasses);
    let support = 0; // examples of true class c
    let predicted = 0; // examples predicted as c
    for (let j = 0; j < numClasses; j++) {
      const v = conf[c * numClasses + j]!;
      row[j] = v;
      support += v;
      predicted += conf[j * numClasses + c]!;
    }
    confusion.push(row);
    const tp = conf[c * numClasses + c]!;
    perClassAccuracy.push(support > 0 ? (100 * tp) / support : NaN);
    if (support + predicted > 0) {
      // F1 = 2 TP / (2 TP + FP + FN) = 2 TP / (support + predicted)
      f1Sum += (2 * tp) / (support + predicted);
      f1Count++;
    }
  }

  const result: ClassificationMetrics = {
    n,
    top1: (100 * correct) / n,
    macroF1: f1Count > 0 ? f1Sum / f1Count : 0,
    perClassAccuracy,
    confusion,
  };

  let top5 = opts.top5;
  if (top5 === undefined && opts.logits !== undefined && numClasses >= 5) {
    top5 = topkRows(opts.logits, n, numClasses, 5, new Int32Array(n * 5));
  }
  if (top5 !== undefined) {
    if (top5.length !== n * 5) throw new ShapeError(`classificationMetrics: top5 has ${top5.length} entries, expected N*5 = ${n * 5}`);
    let hit = 0;
    for (let i = 0; i < n; i++) {
      const t = labels[i]!;
      const b = i * 5;
      if (top5[b]! === t || top5[b + 1]! === t || top5[b + 2]! === t || top5[b + 3]! === t || top5[b + 4]! === t) hit++;
    }
    result.top5 = (100 * hit) / n;
  }
  return result;
}
