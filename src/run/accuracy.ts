/**
 * What the accuracy-mode stages share (tasks.condition "accuracy"; docs/accuracy.md#pipeline),
 * beside the plan (accuracy-plan.ts): the collect stage's record (accuracy.json), the rows'
 * conditions, and the guard that the record describes the rows a stage holds.
 */
import { readFileSync } from 'node:fs';
import type { AccuracyRecipe } from '../accuracy/index.js';
import { ACCURACY_COND_DIM, encodeAccuracy, type AccuracyScale } from '../pdiff/condition.js';
import type { RowConditions } from '../pdiff/index.js';
import { FormatError } from '../util/errors.js';
import type { LayoutJSON } from '../zoo/layout.js';
import { ARTIFACTS } from './context.js';
import type { RunStore } from './store.js';

/** accuracy.json: what the collect stage trained, for the stages after it and for `pdiff generate --target-acc`. */
export interface AccuracyJson {
  version: 1;
  runs: number;
  k: number;
  recipe: AccuracyRecipe;
  /** The zoo's plan digest (accuracyPlanDigest). */
  plan: string;
  layout: LayoutJSON;
  /** [runs * k] val accuracy (%) of each row of ckpts-accuracy.safetensors, in row order. */
  labels: number[];
  /** [runs * k] run index and training step of each row. */
  run: number[];
  step: number[];
  /** The condition's scale: min and max of the labels (fitAccuracyScale). The diffusion stage saves it with the denoiser. */
  scale: AccuracyScale;
  /** Per run: every candidate's step and val accuracy (the learning curve). */
  curves: Array<{ steps: number[]; labels: number[] }>;
}

/** Read accuracy.json of a run folder. */
export function readAccuracyJson(store: RunStore): AccuracyJson {
  const path = store.path(ARTIFACTS.accuracyJson);
  let j: AccuracyJson;
  try {
    j = JSON.parse(readFileSync(path, 'utf8')) as AccuracyJson;
  } catch (e) {
    throw new FormatError(path, `cannot read the accuracy record of the collect stage (${(e as Error).message}); rerun the collect stage`);
  }
  if (j.version !== 1 || !Array.isArray(j.labels) || !Number.isInteger(j.k) || !Number.isInteger(j.runs) || j.labels.length !== j.runs * j.k
    || !(typeof j.scale?.lo === 'number' && typeof j.scale?.hi === 'number' && j.scale.hi > j.scale.lo)) {
    throw new FormatError(path, 'expected an accuracy record (version 1, runs, k, runs * k labels, scale lo < hi)');
  }
  return j;
}

/**
 * The labels of the `rows` zoo rows a stage holds, from accuracy.json.
 * @throws FormatError when the record describes another number of rows.
 */
export function zooLabels(store: RunStore, rows: number, what: string): { labels: number[]; scale: AccuracyScale } {
  const j = readAccuracyJson(store);
  if (j.labels.length !== rows) throw new FormatError(store.path(ARTIFACTS.accuracyJson), `${what}: the zoo has ${j.labels.length} labelled rows, the stage has ${rows}; rerun the collect stage`);
  return { labels: j.labels, scale: j.scale };
}

/** The conditions of accuracies `accs` [accs.length, ACCURACY_COND_DIM] under `scale` (encodeAccuracy of each). */
export function accuracyConditions(accs: readonly number[], scale: AccuracyScale): RowConditions {
  const data = new Float32Array(accs.length * ACCURACY_COND_DIM);
  accs.forEach((a, r) => data.set(encodeAccuracy(a, scale), r * ACCURACY_COND_DIM));
  return { data, dim: ACCURACY_COND_DIM };
}

/** Metadata key of diffusion.safetensors holding an accuracy-conditioned denoiser's scale, JSON {lo, hi}. */
export const ACCURACY_SCALE_META = 'accuracy_scale';

/**
 * The accuracy scale a denoiser was trained with, from its file's metadata.
 * @throws FormatError naming `path` when the key is missing or not {lo, hi} with finite lo < hi.
 */
export function denoiserAccuracyScale(meta: Record<string, string>, path: string): AccuracyScale {
  const raw = meta[ACCURACY_SCALE_META];
  if (raw === undefined) throw new FormatError(path, `metadata "${ACCURACY_SCALE_META}" is missing: the denoiser was not trained on accuracy labels; rerun the diffusion stage of an accuracy run`);
  let v: unknown;
  try { v = JSON.parse(raw); } catch { v = null; }
  const s = v as Partial<AccuracyScale> | null;
  if (!(s && typeof s.lo === 'number' && typeof s.hi === 'number' && Number.isFinite(s.lo) && Number.isFinite(s.hi) && s.hi > s.lo)) {
    throw new FormatError(path, `metadata "${ACCURACY_SCALE_META}": expected {"lo": number, "hi": number} with lo < hi, got ${JSON.stringify(raw)}`);
  }
  return { lo: s.lo, hi: s.hi };
}
