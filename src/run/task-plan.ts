/**
 * The task plan of a run (tasks.condition "task"; docs/tasks.md#pipeline): which codes the run
 * holds out, which it trains the zoo on and which it evaluates. Everything follows from the
 * config and its seed, so every stage that asks gets the same answer.
 */
import type { Config } from '../config/index.js';
import { TASK_CLASSES, sampleCodes, splitCodes, type TaskRecipe, type TaskSplit } from '../tasks/index.js';

/** Which codes a task-mode run uses, and what for. */
export interface TaskPlan {
  /** The seeded split (seed = the run's seed, tasks.unseen codes held out). */
  split: TaskSplit;
  /** The codes the zoo is trained on: split.seen, or tasks.seen of them, in code order. */
  zooCodes: string[];
  /** The seen codes evaluated beside the unseen ones (tasks.evalSeen of the zoo's), in code order. */
  evalSeen: string[];
  /** The codes the generate and evaluate stages work on, in this order: every unseen code, then evalSeen. */
  evalCodes: string[];
  /** The zoo's (and the oracle's) training recipe. */
  recipe: TaskRecipe;
  /** Checkpoint rows of the zoo: zooCodes.length * recipe.k. */
  K: number;
}

/** The task plan of a config, or null for an unconditional run (tasks.condition "none"). */
export function taskPlan(cfg: Config): TaskPlan | null {
  const t = cfg.tasks;
  if (t.condition !== 'task') return null;
  const split = splitCodes({ seed: cfg.seed, unseenCount: t.unseen, classes: TASK_CLASSES });
  const zooCodes = t.seen === null ? split.seen : sampleCodes(split.seen, t.seen, cfg.seed, 'tasks/seen');
  const evalSeen = sampleCodes(zooCodes, t.evalSeen, cfg.seed, 'tasks/eval-seen');
  const recipe: TaskRecipe = { ...t.recipe };
  return { split, zooCodes, evalSeen, evalCodes: [...split.unseen, ...evalSeen], recipe, K: zooCodes.length * recipe.k };
}
