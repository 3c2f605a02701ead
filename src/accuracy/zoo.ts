/**
 * The accuracy zoo (docs/accuracy.md#zoo): checkpoints along whole training runs from random
 * initialisation, each labelled with its val accuracy, so that the labels span the range from
 * chance to the best a run reaches.
 *
 * Recipe per run r (trainAccuracyRun): the generated part (a ParamLayout, by default the whole
 * network) starts from a fresh model's initialisation, drawn by Rng(deriveSeed(seed,
 * "accuracy/init")) for every run (recipe.init "shared") or Rng(deriveSeed(seed, "accuracy/init/" +
 * r)) (init "per-run"); it is trained with AdamW at a constant learning rate on minibatches drawn
 * uniformly with replacement by Rng(deriveSeed(seed, "accuracy/train/" + r)); the values at the
 * candidate steps of the geometric schedule (schedule.ts) are kept and labelled with their val
 * accuracy (ParamSetEvaluator, the evaluation protocol of every pdiff group), and k of them are
 * selected evenly over the run's accuracy range. A run's checkpoints depend on (holder model,
 * init, data, recipe, seed, r) only: not on which other runs are collected, nor in which order.
 *
 * Files (one folder): run-NNNN.safetensors, one per run (tensor "ckpts" [k, total]; metadata: the
 * plan digest, the run index, a digest of its initialisation, the kept steps and labels, and every
 * candidate's step and label), each written atomically when its run is done; zoo.json, the
 * manifest, written last. A rerun keeps every run file whose plan, run and init digests match and
 * trains the others, so an interrupted collection, resumed, gives the same bytes.
 */
import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { type Dataset, sampleWithReplacement } from '../data/dataset.js';
import { ParamSetEvaluator } from '../eval/evaluate.js';
import type { Classifier } from '../models/classifier.js';
import { AdamW } from '../nn/optim.js';
import { constantLr, withWarmup } from '../nn/schedule.js';
import * as ops from '../tensor/ops.js';
import { deriveSeed, Rng } from '../tensor/random.js';
import { type Tensor, backward, dispose, noGrad, scope } from '../tensor/tensor.js';
import { writeFileAtomic } from '../util/atomic.js';
import { ConfigError, FormatError, NumericError, ShapeError } from '../util/errors.js';
import { Progress } from '../util/progress.js';
import { ParamLayout, selectParams, type LayoutJSON, type SubsetMode } from '../zoo/layout.js';
import { readSafetensors, readSafetensorsHeader, writeSafetensors } from '../zoo/safetensors.js';
import { BatchBuffer } from '../zoo/train.js';
import { candidateSteps, spreadByAccuracy } from './schedule.js';
import { readJsonFile } from '../util/jsonl.js';

/** How each run of the accuracy zoo is trained and sampled. */
export interface AccuracyRecipe {
  /** AdamW steps per run. */
  steps: number;
  /** AdamW learning rate, constant after the warm-up. */
  lr: number;
  /**
   * Steps of linear warm-up (lr (i + 1) / warmupSteps at step i + 1, then lr; 0 = none). It slows
   * the first steps, where accuracy rises fastest, so more candidates land at low accuracies.
   */
  warmupSteps: number;
  /** Images per minibatch (drawn with replacement). */
  batchSize: number;
  /** AdamW (decoupled) weight decay. */
  weightDecay: number;
  /** Candidate checkpoints per run on the geometric schedule (at most this many: see candidateSteps). */
  candidates: number;
  /** Checkpoints kept per run, spread evenly over the run's accuracy range (spreadByAccuracy). */
  k: number;
  /**
   * BatchNorm while training: "train" (batch statistics; the running statistics change, so the
   * layout must hold every buffer) or "eval" (the holder's running statistics, frozen).
   */
  bnMode: 'train' | 'eval';
  /** "shared": every run starts from the same initialisation; "per-run": each run from its own. */
  init: 'shared' | 'per-run';
}

/**
 * Measured on a Fashion-MNIST MLP 784-64-64-10 (docs/accuracy.md#zoo): 4,000 steps of 128 images at
 * a constant lr 3e-4 go from 9.4% (the shared initialisation) to about 87.5% val; 100 candidates
 * (82 distinct steps), 40 kept per run; about 6 s per run on the blas backend.
 */
export const DEFAULT_ACCURACY_RECIPE: Readonly<AccuracyRecipe> = {
  steps: 4000, lr: 3e-4, warmupSteps: 0, batchSize: 128, weightDecay: 5e-4, candidates: 100, k: 40, bnMode: 'train', init: 'shared',
};

/**
 * @throws ConfigError naming the key (`where`.<key>) for a value out of range, or k above the
 *   number of distinct candidate steps.
 */
export function checkAccuracyRecipe(r: AccuracyRecipe, where = 'accuracy.recipe'): void {
  const posInt = (key: 'steps' | 'batchSize' | 'candidates' | 'k'): void => {
    const v = r[key];
    if (!Number.isInteger(v) || v < 1) throw new ConfigError(`${where}.${key}: expected a positive integer, got ${v}`);
  };
  posInt('steps'); posInt('batchSize'); posInt('candidates'); posInt('k');
  if (!(r.lr > 0 && Number.isFinite(r.lr))) throw new ConfigError(`${where}.lr: expected a positive number, got ${r.lr}`);
  if (!(r.weightDecay >= 0 && Number.isFinite(r.weightDecay))) throw new ConfigError(`${where}.weightDecay: expected a number >= 0, got ${r.weightDecay}`);
  if (!Number.isInteger(r.warmupSteps) || r.warmupSteps < 0 || r.warmupSteps > r.steps) throw new ConfigError(`${where}.warmupSteps: expected an integer in [0, steps = ${r.steps}], got ${r.warmupSteps}`);
  if (r.bnMode !== 'train' && r.bnMode !== 'eval') throw new ConfigError(`${where}.bnMode: expected "train" or "eval", got ${JSON.stringify(r.bnMode)}`);
  if (r.init !== 'shared' && r.init !== 'per-run') throw new ConfigError(`${where}.init: expected "shared" or "per-run", got ${JSON.stringify(r.init)}`);
  if (r.candidates < 3) throw new ConfigError(`${where}.candidates: expected at least 3, got ${r.candidates}`);
  const c = candidateSteps(r.steps, r.candidates).length;
  if (r.k > c) throw new ConfigError(`${where}.k: ${r.k} checkpoints cannot be chosen from ${c} distinct candidate steps (steps ${r.steps}, candidates ${r.candidates})`);
}

/**
 * The layout of an accuracy zoo: the parameters of `mode` (selectParams: "whole" = every learnable
 * parameter) and, when BN trains in train mode, every buffer of the model (the running statistics
 * change along the run, so each checkpoint must carry its own), in state_dict order.
 */
export function accuracyLayout(model: Classifier, opts: { mode: SubsetMode; patterns?: readonly string[]; bnMode: AccuracyRecipe['bnMode'] }): ParamLayout {
  const chosen = new Set(selectParams(model, opts.mode, opts.patterns ?? []));
  if (opts.bnMode === 'train') for (const [n] of model.namedBuffers()) chosen.add(n);
  return ParamLayout.fromModel(model, model.stateDict().map(([n]) => n).filter((n) => chosen.has(n)));
}

/** Arguments of {@link trainAccuracyRun}. */
export interface TrainAccuracyRunArgs {
  /** The holder: its tensors outside the layout stay as they are (frozen). Restored afterwards. */
  model: Classifier;
  layout: ParamLayout;
  /** The run's starting values of the layout [total] (accuracyInit). */
  init: Float32Array;
  train: Dataset;
  recipe: AccuracyRecipe;
  /** Run seed and run index: the minibatches are drawn by Rng(deriveSeed(seed, "accuracy/train/" + run)). */
  seed: number;
  run: number;
}

/** The candidate checkpoints of one run. */
export interface AccuracyRunCandidates {
  /** Candidate steps (candidateSteps), ascending; step 0 is `init`. */
  steps: number[];
  /** [steps.length, total]: the layout's values after each candidate step. */
  ckpts: Float32Array;
  /** Wall time of the training steps. */
  seconds: number;
}

/**
 * Check that `layout` can be trained with `bnMode` on `model`: every name a tensor of the model,
 * and in train mode every buffer in the layout (it changes while training).
 */
function checkAccuracyLayout(model: Classifier, layout: ParamLayout, bnMode: AccuracyRecipe['bnMode'], where: string): void {
  const params = new Set(model.namedParameters().map(([n]) => n));
  const buffers = model.namedBuffers().map(([n]) => n);
  const bufSet = new Set(buffers);
  const stray = layout.names.filter((n) => !params.has(n) && !bufSet.has(n));
  if (stray.length) throw new ConfigError(`${where}: ${stray.join(', ')} are not tensors of ${model.arch}`);
  if (!layout.names.some((n) => params.has(n))) throw new ConfigError(`${where}: the layout holds no learnable parameter of ${model.arch}`);
  if (bnMode === 'train') {
    const inLayout = new Set(layout.names);
    const missing = buffers.filter((n) => !inLayout.has(n));
    if (missing.length) {
      throw new ConfigError(`${where}: bnMode "train" changes the running statistics, so the layout must hold every buffer; it lacks ${missing.slice(0, 4).join(', ')}${missing.length > 4 ? ', ...' : ''} (use accuracyLayout, or bnMode "eval")`);
    }
  }
}

/**
 * Train one run from `init` (the recipe in the module comment) and return the layout's values at
 * every candidate step. The holder is restored afterwards (values, requiresGrad flags, train/eval
 * mode), whether this returns or throws.
 * @throws ConfigError for an invalid recipe or layout, NumericError when the loss is not finite.
 */
export function trainAccuracyRun(args: TrainAccuracyRunArgs): AccuracyRunCandidates {
  const { model, layout, init, train, recipe: r, seed, run } = args;
  checkAccuracyRecipe(r);
  checkAccuracyLayout(model, layout, r.bnMode, 'trainAccuracyRun');
  if (init.length !== layout.total) throw new ShapeError(`trainAccuracyRun: init has ${init.length} floats, the layout needs ${layout.total}`);
  const steps = candidateSteps(r.steps, r.candidates);
  const total = layout.total, B = r.batchSize;
  const ckpts = new Float32Array(steps.length * total);
  const params = new Set(model.namedParameters().map(([n]) => n));
  const wasTraining = model.training;
  const flags = model.parameters().map((p) => p.requiresGrad);
  const saved = model.stateDict().map(([, t]) => t.backend.clone(t.storage));
  const t0 = performance.now();
  try {
    model.requiresGrad(false);
    const subset: Tensor[] = layout.tensors(model).filter((_, i) => params.has(layout.names[i]!));
    for (const t of subset) t.requiresGrad = true;
    layout.write(model, init);
    model.train(r.bnMode === 'train');
    const opt = new AdamW(subset, { lr: r.lr, weightDecay: r.weightDecay });
    const lrAt = withWarmup(constantLr(r.lr), r.lr, r.warmupSteps);
    const rng = new Rng(deriveSeed(seed, `accuracy/train/${run}`));
    // Stages before the first layout tensor are frozen: run them outside the tape.
    const split = model.firstStageOf(layout.names);
    const buf = new BatchBuffer(model.backend, B, train.c, train.h, train.w);
    const idx = new Int32Array(B);
    layout.readInto(model, ckpts, 0); // step 0: the initialisation
    let c = 1;
    for (let it = 1; it <= r.steps; it++) {
      sampleWithReplacement(train.n, B, rng, idx);
      buf.gather(train, idx);
      buf.commit();
      opt.lr = lrAt(it - 1);
      opt.zeroGrad();
      const h = split > 0 ? scope(() => noGrad(() => model.forwardTo(buf.x, split))) : buf.x;
      const loss = ops.crossEntropy(model.forwardFrom(h, split), buf.labels);
      backward(loss, { freeGraph: true });
      opt.step();
      const l = loss.item();
      dispose(loss);
      if (h.storage !== buf.x.storage) dispose(h);
      if (!Number.isFinite(l)) throw new NumericError(`trainAccuracyRun: run ${run}: loss ${l} at step ${it}/${r.steps} (lr ${opt.lr})`);
      if (it === steps[c]) layout.readInto(model, ckpts, total * c++);
    }
    dispose(buf.x);
  } finally {
    model.stateDict().forEach(([, t], i) => t.backend.write(t.storage, t.backend.read(saved[i]!)));
    model.parameters().forEach((p, i) => { p.requiresGrad = flags[i]!; p.grad = null; });
    model.train(wasTraining);
  }
  return { steps, ckpts, seconds: (performance.now() - t0) / 1000 };
}

/**
 * Run r's initialisation [layout.total]: the layout's values of a model built from
 * Rng(deriveSeed(seed, "accuracy/init")) (init "shared") or Rng(deriveSeed(seed, "accuracy/init/" + r))
 * (init "per-run"). `build` makes a fresh model of the holder's architecture from a generator
 * (the pipeline's newModel).
 */
export function accuracyInit(build: (rng: Rng) => Classifier, layout: ParamLayout, init: AccuracyRecipe['init'], seed: number, run: number): Float32Array {
  const m = build(new Rng(deriveSeed(seed, init === 'shared' ? 'accuracy/init' : `accuracy/init/${run}`)));
  return layout.read(m);
}

/** Arguments of {@link collectAccuracyZoo}. */
export interface CollectAccuracyZooArgs {
  /** The holder (see TrainAccuracyRunArgs.model): its tensors outside the layout are the frozen part. */
  model: Classifier;
  /** Makes a fresh model of the holder's architecture from a generator: the runs' initialisations. */
  build: (rng: Rng) => Classifier;
  layout: ParamLayout;
  train: Dataset;
  /** The labels are the accuracies (%) on this split. */
  val: Dataset;
  recipe: AccuracyRecipe;
  seed: number;
  /** Number of runs R (run indices 0..R-1). */
  runs: number;
  /** Folder of the run files and zoo.json (created if missing). */
  dir: string;
  /** Images per evaluation chunk (ParamSetEvaluator batch; default 1000). */
  evalBatch?: number;
  /** Show progress on stderr (default true). */
  progress?: boolean;
  /** Called after each run's file is written (or found), with the runs done and R (resume tests, kill hooks). */
  onRun?(done: number, runs: number): void;
}

/** One run's record. */
export interface AccuracyRunInfo {
  run: number;
  /** Every candidate's step and val accuracy (%), in step order: the run's learning curve. */
  candidateSteps: number[];
  candidateLabels: number[];
  /** Seconds spent training and labelling the run in this call (0 when its file was reused). */
  seconds: number;
  reused: boolean;
}

/** An accuracy zoo in memory. */
export interface AccuracyZoo {
  layout: ParamLayout;
  /** [N, total], N = runs * k: run r's checkpoints at rows r k .. r k + k - 1, in step order. */
  rows: Float32Array;
  /** [N] val accuracy (%) of each row. */
  labels: Float64Array;
  /** [N] run index of each row. */
  run: Int32Array;
  /** [N] training step of each row (0 = the initialisation). */
  step: Int32Array;
  runs: number;
  k: number;
  recipe: AccuracyRecipe;
  seed: number;
  /** sha256 of everything a run depends on besides its index and init (accuracyPlanDigest). */
  plan: string;
  /** Per run: its learning curve and cost. */
  info: AccuracyRunInfo[];
}

/** zoo.json. */
export interface AccuracyZooManifest {
  version: 1;
  runs: number;
  k: number;
  recipe: AccuracyRecipe;
  seed: number;
  layout: LayoutJSON;
  plan: string;
  /** Label range of the zoo (min and max of the labels, %): the condition's scale. */
  labelRange: { lo: number; hi: number };
  files: Array<{ file: string; run: number }>;
}

const hashArray = (h: ReturnType<typeof createHash>, a: Float32Array | Uint8Array | Int32Array): void => {
  h.update(new Uint8Array(a.buffer, a.byteOffset, a.byteLength));
};

/**
 * sha256 of what every run depends on besides its index and init: the recipe, the seed, the layout,
 * the holder's state (every tensor: the frozen part) and the train and val images and labels.
 */
export function accuracyPlanDigest(model: Classifier, layout: ParamLayout, train: Dataset, val: Dataset, recipe: AccuracyRecipe, seed: number): string {
  const h = createHash('sha256');
  // `select` names the selection rule (schedule.ts): a run file kept under another rule would be wrong
  h.update(JSON.stringify({ version: 1, select: 'water-filling', recipe, seed, layout: layout.toJSON(), arch: model.arch, train: [train.n, train.c, train.h, train.w], val: [val.n, val.c, val.h, val.w] }));
  for (const [name, t] of model.stateDict()) {
    h.update(name);
    hashArray(h, Float32Array.from(t.backend.read(t.storage)));
  }
  for (const ds of [train, val]) {
    hashArray(h, ds.images);
    hashArray(h, Int32Array.from(ds.labels));
  }
  return h.digest('hex');
}

const initDigest = (v: Float32Array): string => {
  const h = createHash('sha256');
  hashArray(h, v);
  return h.digest('hex');
};

const runFile = (r: number): string => `run-${String(r).padStart(4, '0')}.safetensors`;
/** The file name of run r in an accuracy zoo's folder (for a pipeline stage's list of outputs). */
export const accuracyRunFile = runFile;

/** A run file read back. */
interface RunRecord {
  ckpts: Float32Array;
  steps: number[];
  labels: number[];
  candidateSteps: number[];
  candidateLabels: number[];
}

/** The run file's contents when it holds run `run` under `plan` and `init`, else null. */
function readRunFile(path: string, run: number, plan: string, init: string | null, k: number, total: number): RunRecord | null {
  const meta = readSafetensorsHeader(path).metadata ?? {};
  if (meta.plan !== plan || meta.run !== String(run) || (init !== null && meta.init !== init)) return null;
  const t = readSafetensors(path).tensors.get('ckpts');
  if (!t || !(t.data instanceof Float32Array) || t.data.length !== k * total) return null;
  const nums = (key: string, n?: number): number[] => {
    const v = JSON.parse(meta[key] ?? 'null') as unknown;
    if (!Array.isArray(v) || (n !== undefined && v.length !== n) || !v.every((x) => typeof x === 'number')) throw new FormatError(path, `metadata "${key}" is not a list of ${n ?? 'some'} numbers`);
    return v as number[];
  };
  const candidateSteps = nums('candidateSteps'), candidateLabels = nums('candidateLabels', candidateSteps.length);
  return { ckpts: t.data, steps: nums('steps', k), labels: nums('labels', k), candidateSteps, candidateLabels };
}

/**
 * Collect the zoo (trainAccuracyRun, labelling, selection for each run) and write it to args.dir,
 * run by run; a rerun reuses the run files that match (see the module comment) and gives the same
 * zoo, bit for bit.
 * @throws ConfigError for an invalid recipe, layout or number of runs.
 */
export function collectAccuracyZoo(args: CollectAccuracyZooArgs): AccuracyZoo {
  const { model, build, layout, train, val, recipe, seed, runs, dir } = args;
  checkAccuracyRecipe(recipe);
  checkAccuracyLayout(model, layout, recipe.bnMode, 'collectAccuracyZoo');
  if (!Number.isInteger(runs) || runs < 1) throw new ConfigError(`collectAccuracyZoo: runs must be a positive integer, got ${runs}`);
  const total = layout.total, k = recipe.k;
  const plan = accuracyPlanDigest(model, layout, train, val, recipe, seed);
  // A zoo.json from an earlier collection would describe run files that may be replaced now: the
  // folder holds a complete zoo again only when the new manifest is written, last.
  rmSync(join(dir, 'zoo.json'), { force: true });
  const evaluator = new ParamSetEvaluator({ model, layout, datasets: { val }, batch: args.evalBatch ?? 1000 });
  const rows = new Float32Array(runs * k * total);
  const labels = new Float64Array(runs * k), runOf = new Int32Array(runs * k), stepOf = new Int32Array(runs * k);
  const info: AccuracyRunInfo[] = [];
  const progress = new Progress({ label: 'accuracy zoo', total: runs, unit: 'run', enabled: args.progress !== false });
  for (let r = 0; r < runs; r++) {
    const init = accuracyInit(build, layout, recipe.init, seed, r);
    const idig = initDigest(init);
    const path = join(dir, runFile(r));
    let rec: RunRecord | null = null;
    if (existsSync(path)) {
      try {
        rec = readRunFile(path, r, plan, idig, k, total);
      } catch {
        rec = null; // a damaged file: the run is trained again
      }
    }
    const reused = rec !== null;
    let seconds = 0;
    if (!rec) {
      const t0 = performance.now();
      const cand = trainAccuracyRun({ model, layout, init, train, recipe, seed, run: r });
      const accs = evaluator.evaluate(cand.ckpts, cand.steps.length).map((x) => x.val.acc);
      const keep = spreadByAccuracy(accs, k);
      const ckpts = new Float32Array(k * total);
      keep.forEach((c, j) => ckpts.set(cand.ckpts.subarray(c * total, (c + 1) * total), j * total));
      rec = { ckpts, steps: [...keep].map((c) => cand.steps[c]!), labels: [...keep].map((c) => accs[c]!), candidateSteps: cand.steps, candidateLabels: accs };
      writeSafetensors(path, [{ name: 'ckpts', shape: [k, total], data: ckpts }], {
        plan, run: String(r), init: idig, k: String(k), total: String(total),
        steps: JSON.stringify(rec.steps), labels: JSON.stringify(rec.labels),
        candidateSteps: JSON.stringify(rec.candidateSteps), candidateLabels: JSON.stringify(rec.candidateLabels),
      });
      seconds = (performance.now() - t0) / 1000;
    }
    rows.set(rec.ckpts, r * k * total);
    for (let j = 0; j < k; j++) {
      labels[r * k + j] = rec.labels[j]!;
      runOf[r * k + j] = r;
      stepOf[r * k + j] = rec.steps[j]!;
    }
    info.push({ run: r, candidateSteps: rec.candidateSteps, candidateLabels: rec.candidateLabels, seconds, reused });
    progress.tick(1, reused ? { reused: runFile(r) } : { best: Math.max(...rec.labels), s: seconds });
    args.onRun?.(r + 1, runs);
  }
  const manifest: AccuracyZooManifest = {
    version: 1, runs, k, recipe: { ...recipe }, seed, layout: layout.toJSON(), plan,
    labelRange: { lo: labels.reduce((m, x) => Math.min(m, x), Infinity), hi: labels.reduce((m, x) => Math.max(m, x), -Infinity) },
    files: Array.from({ length: runs }, (_, r) => ({ file: runFile(r), run: r })),
  };
  writeFileAtomic(join(dir, 'zoo.json'), `${JSON.stringify(manifest, null, 1)}\n`);
  progress.done(`${runs} runs x ${k} checkpoints of ${total} floats, val accuracy ${manifest.labelRange.lo.toFixed(2)}..${manifest.labelRange.hi.toFixed(2)}%`);
  return { layout, rows, labels, run: runOf, step: stepOf, runs, k, recipe: { ...recipe }, seed, plan, info };
}

/**
 * Read a zoo written by collectAccuracyZoo (its run files are taken as they are: the init digest is
 * not recomputed).
 * @throws FormatError naming the file when zoo.json or a run file is missing, malformed, or does not
 *   match the manifest (plan, run, shape).
 */
export function readAccuracyZoo(dir: string): AccuracyZoo {
  const mpath = join(dir, 'zoo.json');
  const m = readJsonFile<AccuracyZooManifest>(mpath, 'the accuracy zoo manifest');
  if (m.version !== 1 || !Array.isArray(m.files) || !Number.isInteger(m.runs) || !Number.isInteger(m.k) || m.files.length !== m.runs) {
    throw new FormatError(mpath, 'expected an accuracy zoo manifest (version 1, runs, k, one file per run)');
  }
  const layout = ParamLayout.fromJSON(m.layout, `${mpath} layout`);
  const total = layout.total, k = m.k, N = m.runs * k;
  const rows = new Float32Array(N * total), labels = new Float64Array(N), runOf = new Int32Array(N), stepOf = new Int32Array(N);
  const info: AccuracyRunInfo[] = [];
  m.files.forEach(({ file, run }, r) => {
    const path = join(dir, file);
    if (run !== r) throw new FormatError(mpath, `files[${r}] is run ${run}, expected run ${r}`);
    let rec: RunRecord | null;
    try {
      rec = readRunFile(path, r, m.plan, null, k, total);
    } catch (e) {
      if (e instanceof FormatError) throw e;
      throw new FormatError(path, `cannot read the run file (${(e as Error).message})`);
    }
    if (!rec) throw new FormatError(path, `expected run ${r} of plan ${m.plan.slice(0, 12)} with "ckpts" [${k}, ${total}] (a file of another collection?)`);
    rows.set(rec.ckpts, r * k * total);
    for (let j = 0; j < k; j++) {
      labels[r * k + j] = rec.labels[j]!;
      runOf[r * k + j] = r;
      stepOf[r * k + j] = rec.steps[j]!;
    }
    info.push({ run: r, candidateSteps: rec.candidateSteps, candidateLabels: rec.candidateLabels, seconds: 0, reused: true });
  });
  return { layout, rows, labels, run: runOf, step: stepOf, runs: m.runs, k, recipe: m.recipe, seed: m.seed, plan: m.plan, info };
}

/** Row i of the zoo [total] (a view). */
export function zooRow(zoo: Pick<AccuracyZoo, 'rows' | 'layout'>, i: number): Float32Array {
  const t = zoo.layout.total, n = zoo.rows.length / t;
  if (!Number.isInteger(i) || i < 0 || i >= n) throw new ShapeError(`zooRow: row ${i} is outside [0, ${n})`);
  return zoo.rows.subarray(i * t, (i + 1) * t);
}

/**
 * Histogram of the zoo's labels: `bins` equal bins over [lo, hi] (default: the labels' min and
 * max; the last bin closed), counts per bin. For reports and for checking the spread.
 */
export function labelHistogram(labels: ArrayLike<number>, bins: number, range?: { lo: number; hi: number }): { edges: number[]; counts: number[] } {
  if (!Number.isInteger(bins) || bins < 1) throw new ConfigError(`labelHistogram: bins must be a positive integer, got ${bins}`);
  let lo = range?.lo ?? Infinity, hi = range?.hi ?? -Infinity;
  if (!range) for (let i = 0; i < labels.length; i++) { lo = Math.min(lo, labels[i]!); hi = Math.max(hi, labels[i]!); }
  const edges = Array.from({ length: bins + 1 }, (_, b) => lo + ((hi - lo) * b) / bins);
  const counts = new Array<number>(bins).fill(0);
  const w = (hi - lo) / bins;
  for (let i = 0; i < labels.length; i++) {
    const a = labels[i]!;
    if (!(a >= lo && a <= hi)) continue;
    const b = w > 0 ? Math.min(bins - 1, Math.floor((a - lo) / w)) : 0;
    counts[b]!++;
  }
  return { edges, counts };
}
