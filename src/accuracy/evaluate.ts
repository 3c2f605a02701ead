/**
 * Scoring the models made for each prompt (docs/accuracy.md#metrics): every set goes through one
 * ParamSetEvaluator pass (the evaluation protocol of every pdiff group), so a generated set, a
 * baseline's and the zoo's own rows are scored the same way.
 */
import type { ParamSetEvaluator } from '../eval/evaluate.js';
import { ShapeError } from '../util/errors.js';
import type { PromptOutcome } from './prompts.js';

/** One set's scores on one split. */
export interface SetScores {
  /** Accuracy (%) of each model of the set. */
  acc: number[];
  /** Predictions of each model (for IoU-max). */
  preds: Int32Array[];
}

/**
 * Score sets of parameter vectors (sets[q]: [n_q, total]) on `split` of the evaluator, in one
 * evaluate call (one pass over the cached features for all of them).
 * @throws ShapeError for a set that is not whole rows of layout.total floats.
 */
export function scoreSets<S extends string>(evaluator: ParamSetEvaluator<S>, sets: readonly Float32Array[], split: S): SetScores[] {
  const total = evaluator.layout.total;
  const counts = sets.map((s, q) => {
    const n = s.length / total;
    if (!Number.isInteger(n) || n < 1) throw new ShapeError(`scoreSets: set ${q} has ${s.length} floats, expected whole rows of ${total}`);
    return n;
  });
  const P = counts.reduce((a, b) => a + b, 0);
  const all = new Float32Array(P * total);
  let o = 0;
  for (const s of sets) { all.set(s, o); o += s.length; }
  const res = evaluator.evaluate(all, P);
  let p = 0;
  return counts.map((n) => {
    const part = res.slice(p, p + n);
    p += n;
    return { acc: part.map((r) => r[split].acc), preds: part.map((r) => r[split].preds) };
  });
}

/** Pair prompts with their sets' test scores (for summarizeAccuracyControl). */
export function promptOutcomes(prompts: readonly number[], scores: readonly SetScores[]): PromptOutcome[] {
  if (prompts.length !== scores.length) throw new ShapeError(`promptOutcomes: ${prompts.length} prompts but ${scores.length} scored sets`);
  return prompts.map((prompt, q) => ({ prompt, test: scores[q]!.acc }));
}
