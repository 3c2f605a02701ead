/**
 * Parameters for one task code from a finished task run (`pdiff generate --task CODE`;
 * docs/tasks.md#cli): the run's autoencoder and conditional denoiser sample n parameter sets of the
 * generated part for the code, seen or not, with the run's sampler and guidance. Every input is
 * checked before anything is read or written; the file is written atomically.
 */
import { existsSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { Backend } from '../backend/backend.js';
import { resolveBackend } from '../backend/index.js';
import type { Config } from '../config/index.js';
import { parseTaskCode, TASK_CLASSES } from '../tasks/codes.js';
import { ConfigError } from '../util/errors.js';
import { saveCheckpointStack } from '../zoo/checkpoint.js';
import type { ParamLayout } from '../zoo/layout.js';
import { runFolderState } from './folder.js';
import { RunStore } from './store.js';
import { hasTrainedGenerator, loadTaskGenerator, requireTaskRun, sampleTaskParams, taskPromptRng } from './tasks.js';

/** The command-line names of the arguments, for messages (a library caller may give its own). */
export interface GenerateForTaskFlags {
  /** Default "--task". */
  code?: string;
  /** Default "--num". */
  n?: string;
  /** Default "--save". */
  out?: string;
  /** The run folder's flag, default "--out". */
  runDir?: string;
}

/** Arguments of {@link generateForTask}. */
export interface GenerateForTaskArgs {
  /** A task run folder whose diffusion stage has finished. */
  runDir: string;
  /** The task code as given (checked: 10 characters 0/1, not all zeros, not all ones). */
  code: string;
  /** Parameter sets to generate (default 1). */
  n?: number;
  /** Write them to this safetensors file (a checkpoint stack [n, ...] per tensor); nothing is written without it. */
  out?: string;
  /** Compute backend (default: the run's config.backend). */
  backend?: Backend;
  flags?: GenerateForTaskFlags;
}

export interface GenerateForTaskResult {
  runDir: string;
  code: string;
  n: number;
  /** The generated part of the run's task model (tensor names and shapes). */
  layout: ParamLayout;
  /** [n, layout.total] */
  params: Float32Array;
  /** The run's config. */
  config: Config;
  /** The file written, if any. */
  out?: string;
}

/** The default file of `pdiff generate --task CODE`: generated-task-<code>.safetensors in the run folder. */
export const defaultTaskFile = (runDir: string, code: string): string => join(runDir, `generated-task-${code}.safetensors`);

/**
 * Generate n parameter sets of the generated part for `code` with a task run's generator, from the
 * stream Rng(deriveSeed(seed, "generate/task/" + code)) (the same sets for the same code and n).
 * @throws TaskCodeError (a ConfigError) naming the code's flag for a code that is not a task;
 *   ConfigError naming the flag for a bad n, a missing folder for `out`, a folder that holds no
 *   run, a run that is not task-conditioned, or one whose denoiser is not trained yet.
 */
export function generateForTask(args: GenerateForTaskArgs): GenerateForTaskResult {
  const f = { code: '--task', n: '--num', out: '--save', runDir: '--out', ...args.flags };
  const code = parseTaskCode(args.code, f.code, TASK_CLASSES);
  const n = args.n ?? 1;
  if (!Number.isInteger(n) || n < 1) throw new ConfigError(`${f.n}: expected a positive integer number of parameter sets, got ${n}`);
  const state = runFolderState(args.runDir);
  if (state.kind !== 'run') throw new ConfigError(`${f.code}: ${args.runDir} holds no pdiff run (no config.json); give the task run's folder with ${f.runDir}`);
  const cfg = state.config;
  requireTaskRun(cfg, args.runDir, f.code);
  if (args.out !== undefined) {
    const dir = dirname(args.out);
    if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new ConfigError(`${f.out}: the folder ${dir} of ${args.out} does not exist`);
  }
  const store = new RunStore(args.runDir);
  if (!hasTrainedGenerator(store)) {
    throw new ConfigError(`${f.code}: run folder ${args.runDir} has no trained denoiser yet; run "pdiff train-diffusion --out ${args.runDir}" (or pdiff run) first`);
  }
  const be = args.backend ?? resolveBackend(cfg.backend, true);
  const g = loadTaskGenerator(store, cfg, be);
  const params = sampleTaskParams(g, cfg, [code], n, taskPromptRng(cfg, code));
  const layout = g.norm.layout;
  if (args.out !== undefined) {
    saveCheckpointStack(args.out, layout, params, { format: 'pt', pdiff_task_code: code, pdiff_run: args.runDir, pdiff_guidance: String(cfg.generate.guidance) });
  }
  return { runDir: args.runDir, code, n, layout, params, config: cfg, ...(args.out !== undefined ? { out: args.out } : {}) };
}

/**
 * The config of the accuracy-conditioned run in `runDir`, for `pdiff generate --target-acc`.
 * @throws ConfigError naming `flag` when the folder holds no run, or a run that is not
 *   conditioned on a target accuracy (issue 17, part 2, adds those runs).
 */
export function requireAccuracyRun(runDir: string, flag = '--target-acc', runDirFlag = '--out'): Config {
  const state = runFolderState(runDir);
  if (state.kind !== 'run') throw new ConfigError(`${flag}: ${runDir} holds no pdiff run (no config.json); give the run's folder with ${runDirFlag}`);
  const condition: string = state.config.tasks.condition;
  if (condition !== 'accuracy') throw new ConfigError(`${flag}: run folder ${runDir} is not accuracy-conditioned (tasks.condition is "${condition}"): its denoiser takes no target accuracy`);
  return state.config;
}
