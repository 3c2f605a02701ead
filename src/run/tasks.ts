/**
 * What the task-mode stages share (tasks.condition "task"; docs/tasks.md#pipeline), beside the
 * plan (task-plan.ts): the collect stage's record (tasks.json); the guard that checks, before the
 * autoencoder or the denoiser sees a row, that no row belongs to a held-out code; and the loader
 * and sampler of the trained generator, for the generate stage and `pdiff generate --task` alike.
 */
import { existsSync, readFileSync } from 'node:fs';
import type { Backend } from '../backend/backend.js';
import type { Config } from '../config/index.js';
import { encodeCode } from '../pdiff/condition.js';
import { ParamAutoencoder } from '../pdiff/autoencoder.js';
import type { LatentDenoiser } from '../pdiff/denoiser.js';
import { decodeAll, generateLatents, scheduleFromConfig, type RowConditions } from '../pdiff/index.js';
import type { DiffusionSchedule } from '../pdiff/schedule.js';
import { Rng, deriveSeed } from '../tensor/random.js';
import { TASK_CLASSES, assertNoUnseen, rowCodes, type TaskRecipe } from '../tasks/index.js';
import { ConfigError, FormatError, NumericError } from '../util/errors.js';
import type { LayoutJSON, Normalizer } from '../zoo/layout.js';
import { loadDenoiser, loadModule, loadNormalizer } from './artifacts.js';
import { ARTIFACTS } from './context.js';
import { taskPlan, type TaskPlan } from './task-plan.js';
import type { RunStore } from './store.js';

/** tasks.json: what the collect stage trained, for the stages after it and for `pdiff generate --task`. */
export interface TasksJson {
  version: 1;
  /** The held-out codes (the split's unseen). */
  unseen: string[];
  splitSeed: number;
  /** The zoo's codes in zoo order: row r of ckpts-task.safetensors belongs to zooCodes[floor(r / k)]. */
  zooCodes: string[];
  k: number;
  recipe: TaskRecipe;
  /** The seen codes evaluated beside the unseen ones. */
  evalSeen: string[];
  /** The generated part of the task model. */
  layout: LayoutJSON;
  /** Tensors not in the base model (the new head). */
  fresh: string[];
  /** The stage whose output the zoo's features are. */
  stage: number;
  /** Training images whose features the zoo was trained on. */
  trainImages: number;
}

/** Read tasks.json of a run folder. */
export function readTasksJson(store: RunStore): TasksJson {
  const path = store.path(ARTIFACTS.tasksJson);
  let j: TasksJson;
  try {
    j = JSON.parse(readFileSync(path, 'utf8')) as TasksJson;
  } catch (e) {
    throw new FormatError(path, `cannot read the task record of the collect stage (${(e as Error).message}); rerun the collect stage`);
  }
  if (j.version !== 1 || !Array.isArray(j.zooCodes) || !Array.isArray(j.unseen) || !(Number.isInteger(j.k) && j.k >= 1)) {
    throw new FormatError(path, 'expected a task record (version 1, zooCodes, unseen, k)');
  }
  return j;
}

/**
 * The code of every zoo row a generator stage is about to learn from, after checking that none of
 * them is held out. The held-out codes are those of the split drawn again from the config (not
 * the ones the file lists), so a zoo written under another split, or a record edited by hand,
 * cannot slip an unseen code past. `rows` is the number of rows the stage holds (checkpoints or
 * latents); it must be the zoo's.
 * @throws ConfigError naming the stage and the first unseen codes; FormatError when the record
 *   does not describe `rows` rows or another zoo than the plan's.
 */
export function seenRowCodes(store: RunStore, plan: TaskPlan, rows: number, what: string): string[] {
  const j = readTasksJson(store);
  assertNoUnseen(j.zooCodes, plan.split, what);
  const path = store.path(ARTIFACTS.tasksJson);
  if (JSON.stringify(j.zooCodes) !== JSON.stringify(plan.zooCodes) || j.k !== plan.recipe.k) {
    throw new FormatError(path, `${what}: the zoo it records (${j.zooCodes.length} codes x ${j.k}) is not the one the config plans (${plan.zooCodes.length} x ${plan.recipe.k}); rerun the collect stage`);
  }
  const codes = rowCodes({ codes: j.zooCodes, k: j.k });
  if (codes.length !== rows) throw new FormatError(path, `${what}: the zoo has ${codes.length} rows, the stage has ${rows}`);
  return codes;
}

/** The denoiser's training conditions: encodeCode of each row's code [rows, 10], after the guard of {@link seenRowCodes}. */
export function zooConditions(store: RunStore, plan: TaskPlan, rows: number): RowConditions {
  const codes = seenRowCodes(store, plan, rows, 'diffusion');
  const data = new Float32Array(rows * TASK_CLASSES);
  codes.forEach((c, r) => data.set(encodeCode(c, { bits: TASK_CLASSES }), r * TASK_CLASSES));
  return { data, dim: TASK_CLASSES };
}

/** A trained task-conditioned generator: autoencoder, denoiser, normaliser and schedule of a run folder. */
export interface TaskGenerator {
  ae: ParamAutoencoder;
  den: LatentDenoiser;
  norm: Normalizer;
  sched: DiffusionSchedule;
  latentScale: number;
}

/**
 * Load the generator of a conditional run folder (autoencoder, normaliser, denoiser) and the
 * denoiser's metadata; `condDim` is the condition width the mode needs, `mismatch(found)` the error
 * text when the denoiser has another.
 * @throws FormatError naming the denoiser file when its condition width differs.
 */
export function loadConditionalGenerator(store: RunStore, cfg: Config, be: Backend, condDim: number, mismatch: (found: number) => string): { gen: TaskGenerator; meta: Record<string, string>; path: string } {
  const norm = loadNormalizer(store);
  const ae = new ParamAutoencoder({ L: norm.L, channels: cfg.ae.channels, latentDim: cfg.ae.latentDim, kernel: cfg.ae.kernel, rng: new Rng(0), backend: be });
  loadModule(store.path(ARTIFACTS.ae), ae);
  ae.eval();
  const path = store.path(ARTIFACTS.diffusion);
  const { model: den, meta } = loadDenoiser(path, { d: cfg.ae.latentDim, channels: cfg.diffusion.channels, kernel: cfg.diffusion.kernel, backend: be });
  if (den.condDim !== condDim) throw new FormatError(path, mismatch(den.condDim));
  return { gen: { ae, den, norm, sched: scheduleFromConfig(cfg.diffusion), latentScale: Number(meta.latentScale ?? 1) }, meta, path };
}

/**
 * Load the generator of a task-mode run folder.
 * @throws FormatError when the denoiser is not conditioned on 10-bit codes.
 */
export function loadTaskGenerator(store: RunStore, cfg: Config, be: Backend): TaskGenerator {
  return loadConditionalGenerator(store, cfg, be, TASK_CLASSES,
    (found) => `expected a denoiser conditioned on ${TASK_CLASSES}-bit task codes, found condition width ${found}; rerun the diffusion stage`).gen;
}

/** The condition of every sample [codes.length * perCode, 10]: code i's encoding, perCode times, codes in order. */
export function codeConditions(codes: readonly string[], perCode: number): Float32Array {
  const cond = new Float32Array(codes.length * perCode * TASK_CLASSES);
  codes.forEach((c, i) => {
    const e = encodeCode(c, { bits: TASK_CLASSES });
    for (let j = 0; j < perCode; j++) cond.set(e, (i * perCode + j) * TASK_CLASSES);
  });
  return cond;
}

/**
 * Latents of `perCode` samples for each code [codes.length * perCode, d], codes in order, in one
 * run of the sampler from `rng` with classifier-free guidance at cfg.generate.guidance.
 */
export function sampleTaskLatents(g: TaskGenerator, cfg: Config, codes: readonly string[], perCode: number, rng: Rng): Float32Array {
  return generateLatents(g.den, g.sched, codes.length * perCode, cfg.ae.latentDim, cfg.generate, rng, g.latentScale, { cond: codeConditions(codes, perCode) });
}

/**
 * Decode latents [n, d] to parameter vectors [n, total] and undo the normalisation.
 * @throws NumericError when a generated value is not finite.
 */
export function decodeTaskParams(g: TaskGenerator, cfg: Config, latents: Float32Array, n: number): Float32Array {
  const sets = g.norm.inverse(decodeAll(g.ae, latents, n, cfg.ae.latentDim));
  let bad = 0;
  for (let i = 0; i < sets.length; i++) if (!Number.isFinite(sets[i]!)) bad++;
  if (bad > 0) throw new NumericError(`generate: ${bad} generated parameter values are NaN or infinite (check the latent scale and the diffusion loss)`);
  return sets;
}

/** `perCode` parameter vectors for each code [codes.length * perCode, total], codes in order (sampled, decoded, un-normalised). */
export function sampleTaskParams(g: TaskGenerator, cfg: Config, codes: readonly string[], perCode: number, rng: Rng): Float32Array {
  return decodeTaskParams(g, cfg, sampleTaskLatents(g, cfg, codes, perCode, rng), codes.length * perCode);
}

/** The random stream of `pdiff generate --task CODE`: one per code, apart from the generate stage's. */
export const taskPromptRng = (cfg: Config, code: string): Rng => new Rng(deriveSeed(cfg.seed, `generate/task/${code}`));

/** Whether the run folder's diffusion stage has finished (its marker and file are there). */
export function hasTrainedGenerator(store: RunStore): boolean {
  return store.marker('diffusion') !== null && existsSync(store.path(ARTIFACTS.diffusion)) && existsSync(store.path(ARTIFACTS.ae));
}

/** @throws ConfigError naming `flag` when the config's run is not task-conditioned. */
export function requireTaskRun(cfg: Config, dir: string, flag: string): TaskPlan {
  const plan = taskPlan(cfg);
  if (!plan) {
    throw new ConfigError(`${flag}: run folder ${dir} is not task-conditioned (tasks.condition is "${cfg.tasks.condition}"): its denoiser takes no task code; start a task run, e.g. pdiff run --preset fmnist-tasks`);
  }
  return plan;
}
