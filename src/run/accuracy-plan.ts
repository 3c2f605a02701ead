/**
 * The accuracy plan of a run (tasks.condition "accuracy"; docs/accuracy.md#pipeline): the zoo's
 * recipe and size, and how the prompts are evaluated. Everything follows from the config, so every
 * stage that asks gets the same answer; the prompt grid itself needs the zoo's label range, which
 * only the collect stage knows (accuracyPrompts).
 */
import type { AccuracyPromptsArgs, AccuracyRecipe } from '../accuracy/index.js';
import type { Config } from '../config/index.js';

/** What an accuracy-mode run collects and evaluates. */
export interface AccuracyPlan {
  /** Training runs of the zoo. */
  runs: number;
  /** The generated part's patterns; [] = the whole network. */
  params: string[];
  recipe: AccuracyRecipe;
  /** Checkpoint rows of the zoo: runs * recipe.k. */
  K: number;
  /** The prompt grid's settings, less the range (accuracyPrompts). */
  prompts: Omit<AccuracyPromptsArgs, 'range'>;
  perPrompt: number;
  nearest: number;
  ridgeDegrees: number[];
  ridgeLambda: number;
}

/** The accuracy plan of a config, or null unless tasks.condition is "accuracy". */
export function accuracyPlan(cfg: Config): AccuracyPlan | null {
  if (cfg.tasks.condition !== 'accuracy') return null;
  const a = cfg.tasks.accuracy;
  const p = a.prompts;
  return {
    runs: a.runs,
    params: [...a.params],
    recipe: { ...a.recipe },
    K: a.runs * a.recipe.k,
    prompts: { inside: p.inside, above: p.above, step: p.step, ...(p.from === null ? {} : { from: p.from }) },
    perPrompt: a.perPrompt,
    nearest: a.nearest,
    ridgeDegrees: [...a.ridgeDegrees],
    ridgeLambda: a.ridgeLambda,
  };
}
