/**
 * What every stage of a run shares: the stage list and what each stage's hash covers, the file
 * names of a run folder, and the run context (config, backend, store, log, and the data, base
 * model, layout and checkpoints, each loaded once when first asked for).
 */
import type { Backend } from '../backend/backend.js';
import { seedCount, type Config } from '../config/index.js';
import { loadCifar10, loadCifar100 } from '../data/cifar.js';
import { KMNIST_NORM, MNIST_NORM, loadFashionMnist, loadIdxDataset, type Dataset, type Splits } from '../data/dataset.js';
import { buildClassifier, type Classifier } from '../models/index.js';
import type { ReportData } from '../report/types.js';
import { Rng, deriveSeed } from '../tensor/random.js';
import type { JsonlLog } from '../util/jsonl.js';
import { loadCheckpointStack, loadStateDict } from '../zoo/checkpoint.js';
import { ParamLayout, selectParams } from '../zoo/layout.js';
import { zooTensorNames } from '../zoo/seeds.js';
import { prepareTaskModel, type TaskModel } from '../tasks/task-model.js';
import { accuracyLayout } from '../accuracy/zoo.js';
import type { RunStore, StageClock } from './store.js';
import { taskPlan, type TaskPlan } from './task-plan.js';
import { accuracyPlan, type AccuracyPlan } from './accuracy-plan.js';

/** The stages in run order: base -> collect -> eval-originals -> ae -> diffusion -> generate -> evaluate -> report. */
export const STAGES = ['base', 'collect', 'eval-originals', 'ae', 'diffusion', 'generate', 'evaluate', 'report'] as const;
export type StageName = (typeof STAGES)[number];

/**
 * Config sections (or single keys) each stage depends on, besides everything upstream: a stage's
 * hash chains its predecessors'. The tasks.* keys are "later keys" (src/config/load.ts): at their
 * defaults they are left out, so an unconditional run hashes as it did before they existed.
 * tasks.chunkSize changes no result and is in no hash.
 */
export const STAGE_KEYS: Record<StageName, string[]> = {
  base: ['seed', 'data', 'model', 'base'],
  collect: ['collect', 'tasks.condition', 'tasks.unseen', 'tasks.seen', 'tasks.params', 'tasks.recipe', 'tasks.accuracy.runs', 'tasks.accuracy.params', 'tasks.accuracy.recipe'],
  'eval-originals': [],
  ae: ['ae'],
  diffusion: ['diffusion'],
  generate: ['generate', 'tasks.evalSeen', 'tasks.perCode', 'tasks.accuracy.prompts', 'tasks.accuracy.perPrompt'],
  evaluate: ['eval', 'tasks.ridgeLambda', 'tasks.accuracy.nearest', 'tasks.accuracy.ridgeDegrees', 'tasks.accuracy.ridgeLambda'],
  report: ['report'],
};

/**
 * Files a stage reads besides the run folder and the data set: the base-model files of
 * collect.seeds (the first is the base stage's model, the others the collect stage's seeds).
 * Their contents join the stage's hash, so a replaced file reruns what used it; a run without
 * such files hashes exactly as before they existed.
 */
export function stageInputFiles(cfg: Config, stage: StageName): Array<{ key: string; path: string }> {
  const seeds = cfg.collect.seeds;
  if (typeof seeds === 'number') return [];
  const all = seeds.map((path, i) => ({ key: `collect.seeds[${i}]`, path }));
  if (stage === 'base') return all.slice(0, 1);
  if (stage === 'collect') return all.slice(1);
  return [];
}

/** The files of a run folder, relative to it (`mode` is the subset mode: bn, whole, custom). */
export const ARTIFACTS = {
  config: 'config.json',
  metrics: 'metrics.jsonl',
  base: 'base.safetensors',
  baseJson: 'base.json',
  ckpts: (mode: string): string => `ckpts-${mode}.safetensors`,
  manifest: 'manifest.json',
  ae: 'ae.safetensors',
  aeJson: 'ae.json',
  normalizer: 'normalizer.json',
  latents: 'latents.safetensors',
  recon: (mode: string): string => `recon-${mode}.safetensors`,
  diffusion: 'diffusion.safetensors',
  diffusionJson: 'diffusion.json',
  generated: (mode: string): string => `generated-${mode}.safetensors`,
  generateJson: 'generate.json',
  /** Multi-seed zoos: one file per seed (its base model and raw, unaligned checkpoints), and the alignment's diagnostics. */
  seedFile: (s: number): string => `seeds/seed-${s}.safetensors`,
  seedsJson: 'seeds.json',
  summary: 'summary.json',
  /** Task mode (docs/tasks.md#pipeline): the zoo's folder, the collect stage's record, the zoo's own scores, one result file per evaluated code. */
  taskZoo: 'tasks',
  tasksJson: 'tasks.json',
  /** Task mode on a queue (docs/queue.md#task-zoos): the training features every chunk job reads, kept while the jobs run. */
  taskFeatures: 'queue/task-features.safetensors',
  zooEval: 'zoo-eval.json',
  taskEval: (code: string): string => `eval/tasks/${code}.json`,
  /** Accuracy mode (docs/accuracy.md#pipeline): the zoo's folder (one file per run) and the collect stage's record. */
  accuracyZoo: 'accuracy',
  accuracyJson: 'accuracy.json',
  report: 'report.md',
  reportHtml: 'report.html',
} as const;

/** Everything the stages share. */
export interface RunContext {
  cfg: Config;
  be: Backend;
  store: RunStore;
  log: JsonlLog;
  progress: boolean;
  say: (line: string) => void;
  /** The data set's train/val/test splits (docs/data.md#splits), loaded on first use. */
  splits(): Splits;
  /** The trained base model (base.safetensors), in eval mode, loaded on first use. */
  baseModel(): Classifier;
  /** The layout of the collected subset of the base model's parameters (task mode: the task model's generated part). */
  layout(): ParamLayout;
  /** The collected checkpoints [K, layout.total] (task mode: every seen task's, task after task). */
  ckpts(): Float32Array;
  /** Checkpoints in the zoo: collect.k per seed, times the number of seeds (task mode: tasks.recipe.k per zoo code). */
  K: number;
  /** Task mode (tasks.condition "task"): the codes the run holds out, trains and evaluates; null for an unconditional run. */
  tasks: TaskPlan | null;
  /** Accuracy mode (tasks.condition "accuracy"): the zoo's recipe and the evaluation's settings; null otherwise. */
  accuracy: AccuracyPlan | null;
  /** Task mode: the task model (the base with a 2-way head; docs/tasks.md#zoo), built on first use. */
  taskModel(): TaskModel;
  mode: string;
  /** The running stage's clock: resumable stages call clock.save() after saving their state. */
  clock: StageClock;
  /** The command line that started this process's run ("(library call)" from the library). */
  command: string;
}

/** What a stage hands back: its output files (relative to the run folder), for its marker. */
export interface StageOutputs { files: string[]; report?: ReportData; reportPath?: string }
/** A stage: reads what upstream stages wrote, writes its outputs atomically; `hash` keys its resumable state. */
export type StageFn = (ctx: RunContext, hash: string) => Promise<StageOutputs>;

/** Load the dataset named by the config, with its train/val/test splits (docs/data.md#splits). */
export function loadData(cfg: Config): Splits {
  const d = cfg.data;
  const opts = { valSize: d.valSize, limitTrain: d.limitTrain ?? undefined, limitTest: d.limitTest ?? undefined };
  switch (d.dataset) {
    case 'fashion-mnist': return loadFashionMnist({ dir: d.dir ?? undefined, ...opts });
    case 'mnist': return loadIdxDataset(d.dir ?? '/usr/share/datasets/mnist', { name: 'mnist', mean: MNIST_NORM.mean[0]!, std: MNIST_NORM.std[0]!, ...opts });
    case 'kmnist': return loadIdxDataset(d.dir ?? 'data/kmnist', { name: 'kmnist', mean: KMNIST_NORM.mean[0]!, std: KMNIST_NORM.std[0]!, ...opts });
    case 'cifar10': return loadCifar10(d.dir ?? 'data/cifar-10-batches-bin', opts);
    case 'cifar100': return loadCifar100(d.dir ?? 'data/cifar-100-binary', opts);
  }
}

/**
 * A fresh classifier of the configured architecture for data set `ds`, initialised from the init
 * stream of `seed` (default: the run's seed; seed s of a multi-seed zoo uses cfg.seed + s).
 */
export function newModel(cfg: Config, ds: Dataset, be: Backend, seed = cfg.seed): Classifier {
  return buildClassifier(cfg.model.arch, {
    rng: new Rng(deriveSeed(seed, 'init')), backend: be, inShape: [ds.c, ds.h, ds.w], numClasses: ds.numClasses, model: cfg.model,
  });
}

export interface ContextArgs {
  cfg: Config;
  be: Backend;
  store: RunStore;
  log: JsonlLog;
  say: (line: string) => void;
  progress: boolean;
  command: string;
  /** The clock the context starts with; the pipeline gives each stage its own. */
  clock: StageClock;
}

/** The run context, with the data, base model, layout and checkpoints loaded lazily and once. */
export function makeContext(a: ContextArgs): RunContext {
  const { cfg, be, store } = a;
  const tasks = taskPlan(cfg);
  const accuracy = accuracyPlan(cfg);
  const mode = tasks ? 'task' : accuracy ? 'accuracy' : cfg.collect.mode;
  let splits: Splits | null = null;
  let base: Classifier | null = null;
  let taskModel: TaskModel | null = null;
  let layout: ParamLayout | null = null;
  let ckpts: Float32Array | null = null;
  const ctx: RunContext = {
    cfg, be, store, log: a.log, progress: a.progress, say: a.say, mode, K: tasks ? tasks.K : accuracy ? accuracy.K : cfg.collect.k * seedCount(cfg.collect), command: a.command, clock: a.clock,
    tasks, accuracy,
    splits: () => {
      if (!splits) {
        const t0 = performance.now();
        splits = loadData(cfg);
        a.say(`[data] ${splits.train.name}: train ${splits.train.n}, val ${splits.val.n}, test ${splits.test.n} (${((performance.now() - t0) / 1000).toFixed(1)} s)`);
      }
      return splits;
    },
    baseModel: () => {
      if (!base) {
        base = newModel(cfg, ctx.splits().train, be);
        loadStateDict(store.path(ARTIFACTS.base), base);
        base.eval();
      }
      return base;
    },
    taskModel: () => {
      if (!tasks) throw new Error('taskModel: the run is not task-conditioned (tasks.condition is "none")');
      if (!taskModel) {
        // a 2-way model of the architecture: every tensor but the head is overwritten by the base's
        const m = newModel(cfg, { ...ctx.splits().train, numClasses: 2 }, be);
        taskModel = prepareTaskModel({ base: ctx.baseModel(), taskModel: m, params: cfg.tasks.params });
      }
      return taskModel;
    },
    layout: () => {
      if (tasks) return ctx.taskModel().layout;
      if (!layout && accuracy) {
        // the generated part of every run, with the running statistics when BN trains in train mode
        layout = accuracyLayout(ctx.baseModel(), { mode: accuracy.params.length > 0 ? 'custom' : 'whole', patterns: accuracy.params, bnMode: accuracy.recipe.bnMode });
      }
      if (!layout) {
        const m = ctx.baseModel();
        // Several seeds: whole networks, running statistics included (they differ between seeds).
        const names = seedCount(cfg.collect) >= 2 ? zooTensorNames(m) : selectParams(m, cfg.collect.mode, cfg.collect.params);
        layout = ParamLayout.fromModel(m, names);
      }
      return layout;
    },
    ckpts: () => {
      if (!ckpts) ckpts = loadCheckpointStack(store.path(ARTIFACTS.ckpts(mode))).ckpts;
      return ckpts;
    },
  };
  return ctx;
}
