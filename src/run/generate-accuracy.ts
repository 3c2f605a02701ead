/**
 * Parameters for a target accuracy from an accuracy-conditioned run (`pdiff generate --target-acc
 * PCT`; docs/accuracy.md#cli): the run's autoencoder and denoiser sample n parameter sets of the
 * generated part, conditioned on encodeAccuracy(target, scale) with the scale saved with the
 * denoiser (the map it was trained with), with the run's sampler and guidance. Every input is
 * checked before anything is read or written; the file is written atomically.
 */
import { existsSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { parseTargetAccuracy } from '../accuracy/prompts.js';
import type { Backend } from '../backend/backend.js';
import { resolveBackend } from '../backend/index.js';
import type { Config } from '../config/index.js';
import { ACCURACY_COND_DIM, encodeAccuracy, type AccuracyScale } from '../pdiff/condition.js';
import { generateLatents } from '../pdiff/index.js';
import { Rng, deriveSeed } from '../tensor/random.js';
import { ConfigError } from '../util/errors.js';
import { saveCheckpointStack } from '../zoo/checkpoint.js';
import type { ParamLayout } from '../zoo/layout.js';
import { denoiserAccuracyScale } from './accuracy.js';
import { requireAccuracyRun } from './generate-task.js';
import { RunStore } from './store.js';
import { decodeTaskParams, hasTrainedGenerator, loadConditionalGenerator, type TaskGenerator } from './tasks.js';

/** A trained accuracy-conditioned generator, with the scale its denoiser was trained under. */
export interface AccuracyGenerator extends TaskGenerator {
  scale: AccuracyScale;
}

/**
 * Load the generator of an accuracy-mode run folder: autoencoder, normaliser, denoiser and the
 * scale saved with the denoiser.
 * @throws FormatError when the denoiser is not conditioned on an accuracy or its scale is missing.
 */
export function loadAccuracyGenerator(store: RunStore, cfg: Config, be: Backend): AccuracyGenerator {
  const { gen, meta, path } = loadConditionalGenerator(store, cfg, be, ACCURACY_COND_DIM,
    (found) => `expected a denoiser conditioned on an accuracy (condition width ${ACCURACY_COND_DIM}), found ${found}; rerun the diffusion stage`);
  return { ...gen, scale: denoiserAccuracyScale(meta, path) };
}

/** The condition of every sample [targets.length * perTarget, 2]: target i's encoding, perTarget times, targets in order. */
export function targetConditions(targets: readonly number[], perTarget: number, scale: AccuracyScale): Float32Array {
  const cond = new Float32Array(targets.length * perTarget * ACCURACY_COND_DIM);
  targets.forEach((t, i) => {
    const e = encodeAccuracy(t, scale);
    for (let j = 0; j < perTarget; j++) cond.set(e, (i * perTarget + j) * ACCURACY_COND_DIM);
  });
  return cond;
}

/** Latents of `perTarget` samples for each target [targets.length * perTarget, d], in one run of the sampler from `rng` (guidance at cfg.generate.guidance). */
export function sampleAccuracyLatents(g: AccuracyGenerator, cfg: Config, targets: readonly number[], perTarget: number, rng: Rng): Float32Array {
  return generateLatents(g.den, g.sched, targets.length * perTarget, cfg.ae.latentDim, cfg.generate, rng, g.latentScale, { cond: targetConditions(targets, perTarget, g.scale) });
}

/** `perTarget` parameter vectors for each target [targets.length * perTarget, total], in one run of the sampler from `rng`. */
export function sampleAccuracyParams(g: AccuracyGenerator, cfg: Config, targets: readonly number[], perTarget: number, rng: Rng): Float32Array {
  return decodeTaskParams(g, cfg, sampleAccuracyLatents(g, cfg, targets, perTarget, rng), targets.length * perTarget);
}

/** The random stream of `pdiff generate --target-acc T`: one per target, apart from the generate stage's. */
export const accuracyPromptRng = (cfg: Config, target: number): Rng => new Rng(deriveSeed(cfg.seed, `generate/accuracy/${target}`));

/** The default file of `pdiff generate --target-acc T`: generated-acc-<T>.safetensors in the run folder. */
export const defaultAccuracyFile = (runDir: string, target: number): string => join(runDir, `generated-acc-${target}.safetensors`);

export interface GenerateForAccuracyArgs {
  /** An accuracy run folder whose diffusion stage has finished. */
  runDir: string;
  /** The target accuracy as given (checked: a number in [0, 100]). */
  target: string | number;
  /** Parameter sets to generate (default 1). */
  n?: number;
  /** Write them to this safetensors file (a checkpoint stack [n, ...] per tensor); nothing is written without it. */
  out?: string;
  backend?: Backend;
  /** The command-line names of the arguments, for messages (defaults --target-acc, --num, --save, --out). */
  flags?: { target?: string; n?: string; out?: string; runDir?: string };
}

export interface GenerateForAccuracyResult {
  runDir: string;
  target: number;
  n: number;
  layout: ParamLayout;
  /** [n, layout.total] */
  params: Float32Array;
  /** The scale the denoiser was trained with (the zoo's label range). */
  scale: AccuracyScale;
  config: Config;
  out?: string;
}

/**
 * Generate n parameter sets for a target accuracy with an accuracy run's generator, from
 * accuracyPromptRng(cfg, target) (the same sets for the same target and n).
 * @throws TargetAccuracyError (a ConfigError) naming the flag for a target outside [0, 100];
 *   ConfigError naming the flag for a bad n, a missing folder for `out`, a folder that holds no run,
 *   a run that is not accuracy-conditioned, or one whose denoiser is not trained yet.
 */
export function generateForAccuracy(args: GenerateForAccuracyArgs): GenerateForAccuracyResult {
  const f = { target: '--target-acc', n: '--num', out: '--save', runDir: '--out', ...args.flags };
  const target = typeof args.target === 'number' ? parseTargetAccuracy(String(args.target), f.target) : parseTargetAccuracy(args.target, f.target);
  const n = args.n ?? 1;
  if (!Number.isInteger(n) || n < 1) throw new ConfigError(`${f.n}: expected a positive integer number of parameter sets, got ${n}`);
  const cfg = requireAccuracyRun(args.runDir, f.target, f.runDir);
  if (args.out !== undefined) {
    const dir = dirname(args.out);
    if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new ConfigError(`${f.out}: the folder ${dir} of ${args.out} does not exist`);
  }
  const store = new RunStore(args.runDir);
  if (!hasTrainedGenerator(store)) {
    throw new ConfigError(`${f.target}: run folder ${args.runDir} has no trained denoiser yet; run "pdiff train-diffusion --out ${args.runDir}" (or pdiff run) first`);
  }
  const be = args.backend ?? resolveBackend(cfg.backend, true);
  const g = loadAccuracyGenerator(store, cfg, be);
  const params = sampleAccuracyParams(g, cfg, [target], n, accuracyPromptRng(cfg, target));
  const layout = g.norm.layout;
  if (args.out !== undefined) {
    saveCheckpointStack(args.out, layout, params, { format: 'pt', pdiff_target_acc: String(target), pdiff_run: args.runDir, pdiff_guidance: String(cfg.generate.guidance) });
  }
  return { runDir: args.runDir, target, n, layout, params, scale: g.scale, config: cfg, ...(args.out !== undefined ? { out: args.out } : {}) };
}
