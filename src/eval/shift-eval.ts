/**
 * Accuracy of parameter-set groups under distribution shift: on corrupted copies of the test set
 * (src/data/shift.ts, Fashion-MNIST-C style, seeded) and on a second dataset of the same image
 * shape (e.g. MNIST for a Fashion-MNIST model).
 *
 * The features of corrupted images differ from the clean ones, so every (kind, severity) gets
 * its own ParamSetEvaluator on the corrupted test set; all groups' members are evaluated in one
 * pass over its cached features.
 */
import { SHIFT_KINDS, corruptDataset, type ShiftKind } from '../data/shift.js';
import type { Dataset } from '../data/dataset.js';
import type { Classifier } from '../models/classifier.js';
import type { Rng } from '../tensor/random.js';
import { ConfigError, ShapeError } from '../util/errors.js';
import { ParamSetEvaluator, type EvaluateOptions, type ParamLayoutLike } from './evaluate.js';

/** The base model and the layout of the parameter sets (a ParamSetEvaluator has both). */
export interface ShiftSource {
  model: Classifier;
  layout: ParamLayoutLike;
}

/** A group's parameter sets, vecs [P, total]. */
export interface GroupSets {
  vecs: Float32Array;
  P: number;
}

export interface ShiftEvalOptions {
  /**
   * Evaluate at most this many members per group, evenly spaced over the group (members
   * floor(i P / models), i = 0..models-1, so a trajectory of checkpoints is sampled from start to
   * end, not only its early part). Default: all.
   */
  models?: number;
  /** Images per chunk. Default 1000. */
  batch?: number;
  /** Feature-cache limit of each evaluator (see ParamSetEvaluatorOptions). */
  maxCacheBytes?: number;
  /** Also evaluate on the clean test set (rows with kind 'clean', severity 0). Default false. */
  includeClean?: boolean;
  /** Called after each (kind, severity) with a one-line status. */
  onProgress?: (message: string) => void;
  /**
   * Called after each image chunk with the (image chunk x parameter set) passes done so far over
   * the whole evaluation (every kind and severity), their total, and the test set being
   * evaluated: what a progress bar needs, since one (kind, severity) can take many seconds.
   */
  onPass?: (done: number, total: number, at: ShiftPoint) => void;
}

/** One test set of a shift evaluation: a corruption at a severity, or the clean set (severity 0). */
export interface ShiftPoint {
  kind: ShiftKind | 'clean';
  severity: number;
}

export interface ShiftEvalRow {
  kind: ShiftKind | 'clean';
  /** 1..5; 0 for the clean set. */
  severity: number;
  group: string;
  /** Mean test accuracy (%) over the evaluated members. */
  meanAcc: number;
  /** Test accuracy (%) of each evaluated member, in group order. */
  accs: number[];
}

export interface DatasetEvalRow {
  dataset: string;
  group: string;
  meanAcc: number;
  accs: number[];
}

/** `models` evenly spaced members of every group (see ShiftEvalOptions.models) stacked into one matrix, with each group's row range. */
function stackGroups(source: ShiftSource, vecsByGroup: Record<string, GroupSets>, models: number | undefined): { vecs: Float32Array; P: number; ranges: Array<[string, number, number]> } {
  const total = source.layout.total;
  if (models !== undefined && !(Number.isInteger(models) && models >= 1)) throw new ConfigError(`shift eval: models must be a positive integer, got ${models}`);
  const ranges: Array<[string, number, number]> = [];
  let P = 0;
  for (const [g, s] of Object.entries(vecsByGroup)) {
    if (!(Number.isInteger(s.P) && s.P >= 1) || s.vecs.length < s.P * total) {
      throw new ShapeError(`shift eval: group "${g}" has P = ${s.P} and ${s.vecs.length} floats, expected P >= 1 sets of ${total} floats`);
    }
    const n = models === undefined ? s.P : Math.min(models, s.P);
    ranges.push([g, P, n]);
    P += n;
  }
  if (P === 0) throw new ConfigError('shift eval: expected at least one group of parameter sets, got none');
  const vecs = new Float32Array(P * total);
  for (const [g, start, n] of ranges) {
    const s = vecsByGroup[g]!;
    for (let i = 0; i < n; i++) {
      const m = Math.floor((i * s.P) / n);
      vecs.set(s.vecs.subarray(m * total, (m + 1) * total), (start + i) * total);
    }
  }
  return { vecs, P, ranges };
}

function groupAccs(ev: ParamSetEvaluator<'test'>, stacked: ReturnType<typeof stackGroups>, opts: EvaluateOptions = {}): Array<{ group: string; meanAcc: number; accs: number[] }> {
  const res = ev.evaluate(stacked.vecs, stacked.P, opts);
  return stacked.ranges.map(([group, start, n]) => {
    const accs = res.slice(start, start + n).map((r) => r.test.acc);
    return { group, meanAcc: accs.reduce((s, v) => s + v, 0) / accs.length, accs };
  });
}

/**
 * Test accuracy of each group's members (at most opts.models per group) on the test set
 * corrupted by every kind at every severity. Corruptions draw from rng.fork(`${kind}:${severity}`),
 * forked in loop order (kinds outer, severities inner), so a seed reproduces them.
 * @throws ConfigError for an unknown kind or a severity outside 1..5.
 */
export function evaluateUnderShift(
  source: ShiftSource,
  vecsByGroup: Record<string, GroupSets>,
  test: Dataset,
  kinds: readonly string[],
  severities: readonly number[],
  rng: Rng,
  opts: ShiftEvalOptions = {},
): ShiftEvalRow[] {
  for (const k of kinds) {
    if (!(SHIFT_KINDS as readonly string[]).includes(k)) throw new ConfigError(`eval.shift.kinds: unknown kind "${k}"; expected one of ${SHIFT_KINDS.join(', ')}`);
  }
  for (const s of severities) {
    if (!(Number.isInteger(s) && s >= 1 && s <= 5)) throw new ConfigError(`eval.shift.severities: expected integers 1..5, got ${s}`);
  }
  const stacked = stackGroups(source, vecsByGroup, opts.models);
  const rows: ShiftEvalRow[] = [];
  const sets = (opts.includeClean ? 1 : 0) + kinds.length * severities.length;
  // passes done on the test sets before the current one (all have the same number of images, so the same chunks)
  let passesBefore = 0;
  const run = (ds: Dataset, kind: ShiftKind | 'clean', severity: number): void => {
    const ev = new ParamSetEvaluator({ model: source.model, layout: source.layout, datasets: { test: ds }, batch: opts.batch, maxCacheBytes: opts.maxCacheBytes });
    const perSet = ev.chunkCount * stacked.P, before = passesBefore;
    const onPass = opts.onPass;
    const progress = onPass ? { onProgress: (d: number) => onPass(before + d, sets * perSet, { kind, severity }) } : {};
    for (const g of groupAccs(ev, stacked, progress)) rows.push({ kind, severity, ...g });
    passesBefore += perSet;
    opts.onProgress?.(`shift ${kind} ${severity}: ${rows.slice(-stacked.ranges.length).map((r) => `${r.group} ${r.meanAcc.toFixed(2)}`).join(', ')}`);
  };
  if (opts.includeClean) run(test, 'clean', 0);
  for (const kind of kinds as readonly ShiftKind[]) {
    for (const severity of severities) run(corruptDataset(test, kind, severity, rng.fork(`${kind}:${severity}`)), kind, severity);
  }
  return rows;
}

/**
 * Accuracy of each group's members on another dataset with the model's input shape and classes
 * (e.g. MNIST digits through a Fashion-MNIST classifier: a far-out-of-distribution check).
 */
export function evaluateOnDataset(
  source: ShiftSource,
  vecsByGroup: Record<string, GroupSets>,
  ds: Dataset,
  opts: Omit<ShiftEvalOptions, 'includeClean' | 'onPass'> = {},
): DatasetEvalRow[] {
  const stacked = stackGroups(source, vecsByGroup, opts.models);
  const ev = new ParamSetEvaluator({ model: source.model, layout: source.layout, datasets: { test: ds }, batch: opts.batch, maxCacheBytes: opts.maxCacheBytes });
  if (ds.numClasses > ev.numClasses) {
    throw new ShapeError(`evaluateOnDataset: ${ds.name} has ${ds.numClasses} classes, the ${source.model.arch} model predicts ${ev.numClasses}`);
  }
  const rows = groupAccs(ev, stacked).map((g) => ({ dataset: ds.name, ...g }));
  opts.onProgress?.(`${ds.name}: ${rows.map((r) => `${r.group} ${r.meanAcc.toFixed(2)}`).join(', ')}`);
  return rows;
}
