/**
 * The labels of a binary task (docs/tasks.md#tasks): an image of class y is positive (label 1)
 * when code[y] = '1', negative (label 0) otherwise.
 */
import type { Dataset } from '../data/dataset.js';
import { ShapeError } from '../util/errors.js';

/** Class labels as the datasets hold them. */
export type ClassLabels = ArrayLike<number>;

function checkLabel(y: number, i: number, classes: number, where: string): void {
  if (!(Number.isInteger(y) && y >= 0 && y < classes)) {
    throw new ShapeError(`${where}: label ${y} at index ${i} is outside [0, ${classes}) (the code has ${classes} characters)`);
  }
}

/**
 * Binary labels of `labels` under `code`: out[i] = 1 where code[labels[i]] = '1', else 0.
 * @param where names the data in errors (e.g. the dataset's name)
 * @throws ShapeError for a label outside [0, code.length).
 */
export function binaryLabels(labels: ClassLabels, code: string, where = 'binaryLabels'): Int32Array {
  const C = code.length;
  const pos = new Uint8Array(C);
  for (let c = 0; c < C; c++) pos[c] = code.charCodeAt(c) === 49 ? 1 : 0;
  const out = new Int32Array(labels.length);
  for (let i = 0; i < labels.length; i++) {
    const y = labels[i]!;
    checkLabel(y, i, C, where);
    out[i] = pos[y]!;
  }
  return out;
}

/** Class balance of a binary task on a data set. */
export interface ClassBalance {
  /** Examples. */
  n: number;
  /** Examples labelled 1. */
  positives: number;
  /** Examples labelled 0. */
  negatives: number;
  /** positives / n (NaN when n = 0). */
  positiveFraction: number;
  /** Accuracy in % of always answering the larger class (the floor any model must beat). */
  majorityAcc: number;
}

/** The balance of binary labels (0/1). */
export function classBalance(binary: ArrayLike<number>): ClassBalance {
  let positives = 0;
  for (let i = 0; i < binary.length; i++) if (binary[i] === 1) positives++;
  const n = binary.length, negatives = n - positives;
  return { n, positives, negatives, positiveFraction: n > 0 ? positives / n : NaN, majorityAcc: n > 0 ? (100 * Math.max(positives, negatives)) / n : NaN };
}

/**
 * A binary view of a dataset for `code`: the same images (not copied), binary labels, 2 classes
 * named "negative" and "positive", and the code appended to the name ("fashion-mnist/val@0110010011").
 */
export function taskDataset(ds: Dataset, code: string): Dataset {
  if (code.length !== ds.numClasses) throw new ShapeError(`taskDataset(${ds.name}): the code "${code}" has ${code.length} characters, the dataset has ${ds.numClasses} classes`);
  const out: Dataset = { ...ds, name: `${ds.name}@${code}`, labels: binaryLabels(ds.labels, code, ds.name), numClasses: 2, classNames: ['negative', 'positive'] };
  return out;
}
