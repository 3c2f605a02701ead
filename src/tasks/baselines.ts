/**
 * Baselines for a target code (docs/tasks.md#baselines), each returning parameter vectors of
 * the generated part [m, total]:
 * - oracle: the zoo's own recipe trained for the code (what a generator should match);
 * - nearest-seen: the checkpoints of the seen task(s) closest in Hamming distance (what
 *   memorising the zoo gives);
 * - mean-seen: the mean of all seen checkpoints (what ignoring the code gives);
 * - ridge (ridge.ts): a linear map from the code to the parameters (what a linear model gives
 *   without diffusion).
 */
import { ShapeError } from '../util/errors.js';
import { hamming } from './codes.js';
import type { FeatureCache } from './features.js';
import type { TaskModel } from './task-model.js';
import { trainTask, type TaskRecipe, type TaskZoo } from './zoo.js';

/** Arguments of {@link oracleCheckpoints}. */
export interface OracleArgs {
  task: TaskModel;
  /** The training features the zoo was collected on. */
  features: FeatureCache;
  code: string;
  /** The zoo's recipe and seed (zoo.recipe, zoo.seed). */
  recipe: TaskRecipe;
  seed: number;
}

/**
 * The oracle: the generated part trained for `code` with the zoo's recipe, [k, total]. It is
 * trainTask itself, so for a seen code it equals the zoo's checkpoints bit for bit; for an
 * unseen code it is trained here, for evaluation only, and never enters the zoo.
 */
export function oracleCheckpoints(args: OracleArgs): Float32Array {
  return trainTask(args);
}

/** The nearest seen tasks of a code and their checkpoints. */
export interface NearestSeen {
  /** The smallest Hamming distance from the target to a zoo code (>= 1 for an unseen target). */
  distance: number;
  /** Every zoo code at that distance, in zoo order (ties are all kept). */
  codes: string[];
  /** Their checkpoints, task after task: [codes.length * k, total]. */
  ckpts: Float32Array;
}

/**
 * Nearest-seen: the checkpoints of every zoo task at the smallest Hamming distance from `code`,
 * in zoo order. Ties are kept, not broken: each tied task is an equally good guess by memory,
 * and the evaluation averages over all of them.
 */
export function nearestSeen(zoo: TaskZoo, code: string): NearestSeen {
  if (zoo.codes.length === 0) throw new ShapeError('nearestSeen: the zoo has no tasks');
  let best = Infinity;
  const dist = zoo.codes.map((c) => hamming(c, code));
  for (const d of dist) if (d < best) best = d;
  const per = zoo.k * zoo.layout.total;
  const picked = zoo.codes.map((_, t) => t).filter((t) => dist[t] === best);
  const ckpts = new Float32Array(picked.length * per);
  picked.forEach((t, i) => ckpts.set(zoo.ckpts.subarray(t * per, (t + 1) * per), i * per));
  return { distance: best, codes: picked.map((t) => zoo.codes[t]!), ckpts };
}

/** Mean-seen: the mean of all checkpoints of all zoo tasks [total] (summed in float64 in zoo order). */
export function meanSeen(zoo: TaskZoo): Float32Array {
  const total = zoo.layout.total, rows = zoo.ckpts.length / total;
  if (rows < 1) throw new ShapeError('meanSeen: the zoo has no checkpoints');
  const acc = new Float64Array(total);
  for (let r = 0; r < rows; r++) {
    const o = r * total;
    for (let j = 0; j < total; j++) acc[j] = acc[j]! + zoo.ckpts[o + j]!;
  }
  const out = new Float32Array(total);
  for (let j = 0; j < total; j++) out[j] = acc[j]! / rows;
  return out;
}
