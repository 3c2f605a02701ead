/**
 * Target accuracies as prompts, and how well generated models follow them
 * (docs/accuracy.md#prompts, #metrics).
 *
 * A prompt is a target accuracy in percent. The evaluation asks for n models at each of a grid of
 * prompts across the zoo's label range [lo, hi] and a few above its best checkpoint, measures the
 * test accuracy each model achieves, and summarises:
 * - per prompt: mean and sample std of the n achieved accuracies, and the error mean - prompt;
 * - inside the range: the mean absolute error of the per-prompt means, and Spearman's rank
 *   correlation between prompt and mean (does a higher prompt give a better model?);
 * - above the best: what the models achieve, against the zoo's best checkpoint;
 * - novelty: NN-L2 and IoU-max of the generated models against the whole zoo.
 * The goal of issue 17: Spearman >= 0.9 and MAE <= 1.5 points inside the range.
 */
import { groupStats } from '../eval/stats.js';
import { wrongSet, type Labels } from '../eval/metrics.js';
import { iouMax, nearestL2 } from '../eval/novelty.js';
import type { AccuracyScale } from '../pdiff/condition.js';
import { ConfigError, ShapeError } from '../util/errors.js';

/** A target accuracy that is not one: names the flag (or config key) it came from. */
export class TargetAccuracyError extends ConfigError {
  constructor(readonly flag: string, message: string) {
    super(message);
  }
}

const NUMBER = /^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/;

/**
 * Check a target accuracy given by a user and return it, in percent.
 * @param text e.g. "85", "85.5" or "85%" (a trailing % is allowed; the number is a percentage)
 * @param flagName where it came from, for the message (e.g. "--target-acc", "eval.prompts[2]")
 * @throws TargetAccuracyError naming the flag for text that is not a decimal number, or a number
 *   outside [0, 100].
 */
export function parseTargetAccuracy(text: string, flagName: string): number {
  const shown = JSON.stringify(text);
  const t = text.trim().replace(/%$/, '').trimEnd();
  if (!NUMBER.test(t)) throw new TargetAccuracyError(flagName, `${flagName}: expected a target accuracy in percent (a number in [0, 100], e.g. 85), got ${shown}`);
  const v = Number(t);
  if (!(v >= 0 && v <= 100)) throw new TargetAccuracyError(flagName, `${flagName}: a target accuracy must lie in [0, 100] (percent), got ${shown}`);
  return v;
}

/** Label range of a zoo, in percent: lo = its worst checkpoint, hi = its best (fitAccuracyScale of its labels). */
export type LabelRange = AccuracyScale;

/** Arguments of {@link accuracyPrompts}. */
export interface AccuracyPromptsArgs {
  /** The zoo's label range. */
  range: LabelRange;
  /** Prompts inside the range, evenly spaced from `from` to range.hi, both included (>= 2). */
  inside: number;
  /** Lowest prompt inside the range (default range.lo; clamped into the range). */
  from?: number;
  /** Prompts above the best checkpoint: range.hi + step, + 2 step, ... (default 2; those above 100 are dropped). */
  above?: number;
  /** Spacing of the prompts above the best, in points (default 1). */
  step?: number;
}

/**
 * The evaluation's prompt grid, ascending: `inside` prompts from `from` to hi, then `above`
 * prompts hi + step, hi + 2 step, ... that do not exceed 100.
 * @throws ConfigError for inside < 2, above < 0, step <= 0 or an empty range.
 */
export function accuracyPrompts(args: AccuracyPromptsArgs): number[] {
  const { range, inside } = args;
  const above = args.above ?? 2, step = args.step ?? 1;
  if (!(Number.isFinite(range.lo) && Number.isFinite(range.hi) && range.hi > range.lo)) throw new ConfigError(`accuracyPrompts: expected a label range lo < hi, got [${range.lo}, ${range.hi}]`);
  if (!Number.isInteger(inside) || inside < 2) throw new ConfigError(`accuracyPrompts: inside must be an integer >= 2, got ${inside}`);
  if (!Number.isInteger(above) || above < 0) throw new ConfigError(`accuracyPrompts: above must be an integer >= 0, got ${above}`);
  if (!(step > 0 && Number.isFinite(step))) throw new ConfigError(`accuracyPrompts: step must be a positive number, got ${step}`);
  const from = Math.min(range.hi, Math.max(range.lo, args.from ?? range.lo));
  if (!(from < range.hi)) throw new ConfigError(`accuracyPrompts: from (${args.from}) must lie below the best label ${range.hi}`);
  const out: number[] = [];
  for (let i = 0; i < inside; i++) out.push(i === inside - 1 ? range.hi : from + ((range.hi - from) * i) / (inside - 1));
  for (let j = 1; j <= above; j++) {
    const p = range.hi + j * step;
    if (p <= 100) out.push(p);
  }
  return out;
}

/** Ranks 1..n of `x`, ties given the average of the ranks they span (float64). */
export function averageRanks(x: ArrayLike<number>): Float64Array {
  const n = x.length;
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => x[a]! - x[b]! || a - b);
  const ranks = new Float64Array(n);
  for (let i = 0; i < n;) {
    let j = i;
    while (j + 1 < n && x[order[j + 1]!] === x[order[i]!]) j++;
    const r = (i + j) / 2 + 1;
    for (let t = i; t <= j; t++) ranks[order[t]!] = r;
    i = j + 1;
  }
  return ranks;
}

/**
 * Spearman's rank correlation of two samples: Pearson's correlation of their average ranks
 * (ties share the mean of their ranks, as scipy.stats.spearmanr). NaN for fewer than 2 pairs or
 * when either sample is constant.
 * @throws ShapeError for samples of different lengths or a value that is not finite.
 */
export function spearman(x: ArrayLike<number>, y: ArrayLike<number>): number {
  if (x.length !== y.length) throw new ShapeError(`spearman: samples of ${x.length} and ${y.length} values`);
  for (const [name, s] of [['x', x], ['y', y]] as const) {
    for (let i = 0; i < s.length; i++) if (!Number.isFinite(s[i]!)) throw new ShapeError(`spearman: ${name}[${i}] is ${s[i]}`);
  }
  const n = x.length;
  if (n < 2) return NaN;
  const rx = averageRanks(x), ry = averageRanks(y);
  const m = (n + 1) / 2; // the mean of any average-rank vector
  let sxy = 0, sxx = 0, syy = 0;
  for (let i = 0; i < n; i++) {
    const a = rx[i]! - m, b = ry[i]! - m;
    sxy += a * b; sxx += a * a; syy += b * b;
  }
  return sxx > 0 && syy > 0 ? sxy / Math.sqrt(sxx * syy) : NaN;
}

/** Mean absolute difference of paired values. NaN for none. */
export function meanAbsoluteError(achieved: ArrayLike<number>, target: ArrayLike<number>): number {
  if (achieved.length !== target.length) throw new ShapeError(`meanAbsoluteError: ${achieved.length} values for ${target.length} targets`);
  if (achieved.length === 0) return NaN;
  let s = 0;
  for (let i = 0; i < achieved.length; i++) s += Math.abs(achieved[i]! - target[i]!);
  return s / achieved.length;
}

/** The goals of issue 17 for accuracy control inside the zoo's range. */
export const ACCURACY_GOALS = { spearman: 0.9, mae: 1.5 } as const;

/** What the models made for one prompt achieved. */
export interface PromptOutcome {
  prompt: number;
  /** Test accuracy (%) of each model made for the prompt. */
  test: readonly number[];
}

/** One prompt's row of the summary. */
export interface PromptSummary {
  prompt: number;
  n: number;
  /** Mean and sample std of the achieved test accuracies. */
  mean: number;
  std: number;
  /** mean - prompt. */
  error: number;
  /** Whether the prompt lies inside the zoo's label range [lo, hi]. */
  inRange: boolean;
}

/** The summary of one method's accuracy control (generated models or a baseline). */
export interface AccuracyControlSummary {
  range: LabelRange;
  perPrompt: PromptSummary[];
  /** Over the prompts inside the range: count, MAE and Spearman of (prompt, mean), largest |error|. */
  inside: { count: number; mae: number; spearman: number; maxAbsError: number };
  /** Spearman of (prompt, mean) over every prompt, those above the best included. */
  spearmanAll: number;
  /**
   * The prompts above the best label: the mean each achieved, and the largest of those minus
   * `zooBestTest` (the best test accuracy of any zoo checkpoint, when given): > 0 means a model
   * better than every checkpoint the generator learnt from. Null without such prompts.
   */
  above: { prompts: number[]; mean: number[]; zooBestTest: number | null; gainOverZoo: number | null } | null;
  /** Whether both goals (ACCURACY_GOALS) are met inside the range. */
  meetsGoals: boolean;
}

/**
 * Summarise per-prompt outcomes against the zoo's label range (see the module comment).
 * @throws ShapeError for a prompt without models or a non-finite accuracy.
 */
export function summarizeAccuracyControl(args: { outcomes: readonly PromptOutcome[]; range: LabelRange; zooBestTest?: number }): AccuracyControlSummary {
  const { outcomes, range } = args;
  const perPrompt = outcomes.map((o): PromptSummary => {
    if (o.test.length === 0) throw new ShapeError(`summarizeAccuracyControl: prompt ${o.prompt} has no models`);
    const g = groupStats(o.test);
    return { prompt: o.prompt, n: g.n, mean: g.mean, std: g.std, error: g.mean - o.prompt, inRange: o.prompt >= range.lo && o.prompt <= range.hi };
  });
  const ins = perPrompt.filter((p) => p.inRange);
  const mae = meanAbsoluteError(ins.map((p) => p.mean), ins.map((p) => p.prompt));
  const rho = ins.length >= 2 ? spearman(ins.map((p) => p.prompt), ins.map((p) => p.mean)) : NaN;
  const over = perPrompt.filter((p) => p.prompt > range.hi);
  const best = args.zooBestTest ?? null;
  return {
    range: { ...range },
    perPrompt,
    inside: { count: ins.length, mae, spearman: rho, maxAbsError: ins.reduce((m, p) => Math.max(m, Math.abs(p.error)), ins.length ? 0 : NaN) },
    spearmanAll: perPrompt.length >= 2 ? spearman(perPrompt.map((p) => p.prompt), perPrompt.map((p) => p.mean)) : NaN,
    above: over.length === 0 ? null : {
      prompts: over.map((p) => p.prompt), mean: over.map((p) => p.mean), zooBestTest: best,
      gainOverZoo: best === null ? null : Math.max(...over.map((p) => p.mean)) - best,
    },
    meetsGoals: rho >= ACCURACY_GOALS.spearman && mae <= ACCURACY_GOALS.mae,
  };
}

/** Novelty of one prompt's models against the zoo (means over the models). */
export interface PromptNovelty {
  /** Mean over the models of the L2 distance to the nearest zoo checkpoint (raw parameters). */
  nnL2: number;
  /** Mean over the models of the largest IoU of their test wrong set with a zoo checkpoint's. */
  iouMax: number;
  /** Mean label of the zoo checkpoints nearest in L2 (what was copied, if anything). */
  nearestLabel: number;
}

/**
 * NN-L2 and IoU-max (src/eval/novelty.ts) of each prompt's models against every zoo checkpoint:
 * `sets[q]` holds prompt q's models [n_q, total] and `preds[q]` their test predictions; the zoo
 * its rows [N, total], labels [N] and test predictions.
 * @throws ShapeError when sizes disagree.
 */
export function promptNovelty(args: {
  sets: readonly Float32Array[];
  preds: ReadonlyArray<readonly Int32Array[]>;
  zoo: { rows: Float32Array; labels: ArrayLike<number>; preds: readonly Int32Array[] };
  testLabels: Labels;
  total: number;
}): PromptNovelty[] {
  const { sets, preds, zoo, testLabels, total } = args;
  if (sets.length !== preds.length) throw new ShapeError(`promptNovelty: ${sets.length} sets but ${preds.length} prediction lists`);
  const N = zoo.rows.length / total;
  if (!Number.isInteger(N) || zoo.labels.length !== N || zoo.preds.length !== N) throw new ShapeError(`promptNovelty: the zoo has ${zoo.rows.length} floats (${N} rows of ${total}), ${zoo.labels.length} labels and ${zoo.preds.length} prediction sets`);
  const zooVecs = Array.from({ length: N }, (_, i) => zoo.rows.subarray(i * total, (i + 1) * total));
  const zooWrong = zoo.preds.map((p) => wrongSet(p, testLabels));
  return sets.map((s, q) => {
    const n = s.length / total;
    if (!Number.isInteger(n) || n < 1 || preds[q]!.length !== n) throw new ShapeError(`promptNovelty: set ${q} has ${s.length} floats and ${preds[q]!.length} prediction sets (rows of ${total})`);
    const vecs = Array.from({ length: n }, (_, i) => s.subarray(i * total, (i + 1) * total));
    const l2 = nearestL2(vecs, zooVecs, false);
    const iou = iouMax(preds[q]!.map((p) => wrongSet(p, testLabels)), zooWrong, false);
    const mean = (v: number[]): number => v.reduce((a, b) => a + b, 0) / v.length;
    return { nnL2: mean(l2.value), iouMax: mean(iou.value), nearestLabel: mean(l2.nearest.map((j) => zoo.labels[j]!)) };
  });
}
