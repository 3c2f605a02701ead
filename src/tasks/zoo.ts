/**
 * The task zoo (docs/tasks.md#zoo): for every seen task code, the generated part of the task
 * model trained on the cached features with the code's binary labels, K checkpoints per task.
 *
 * Recipe per task (trainTask): start from taskInit (the base's values, a per-code seeded head);
 * AdamW at a constant learning rate on minibatches drawn uniformly with replacement from the
 * cached training features by Rng(deriveSeed(seed, "tasks/train/" + code)); BN in eval mode
 * (the base model's running statistics); after `steps` steps, the checkpoints are the values
 * after steps s_j = steps - (k - 1 - j) * saveEvery, j = 0..k-1. A task's checkpoints are a
 * function of (base, features, recipe, seed, code) only, whatever else is trained and in which
 * order: that is what makes the oracle baseline the zoo's own function, and a resumed
 * collection bit-identical to an uninterrupted one.
 *
 * Files (one folder): tasks-NNNN.safetensors, one per chunk of `chunkSize` tasks (tensor
 * "ckpts" [tasks, k, total]; metadata: the codes and the plan digest), written atomically as
 * each chunk finishes; zoo.json, the manifest, written last. A rerun reuses every chunk file
 * whose codes and plan digest match and trains the others.
 */
import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { sampleWithReplacement } from '../data/dataset.js';
import { AdamW } from '../nn/optim.js';
import * as ops from '../tensor/ops.js';
import { deriveSeed, Rng } from '../tensor/random.js';
import { Tensor, backward, dispose } from '../tensor/tensor.js';
import { writeFileAtomic } from '../util/atomic.js';
import { ConfigError, FormatError, NumericError, ShapeError } from '../util/errors.js';
import { Progress } from '../util/progress.js';
import { ParamLayout, type LayoutJSON } from '../zoo/layout.js';
import { readSafetensors, readSafetensorsHeader, writeSafetensors } from '../zoo/safetensors.js';
import type { TaskSplit } from './codes.js';
import type { FeatureCache } from './features.js';
import { binaryLabels } from './labels.js';
import { taskInit, type TaskModel } from './task-model.js';
import { readJsonFile } from '../util/jsonl.js';

/** How the generated part is trained for one task. */
export interface TaskRecipe {
  /** AdamW steps per task. */
  steps: number;
  /** Steps between the kept checkpoints. */
  saveEvery: number;
  /** Checkpoints kept per task (the last k multiples of saveEvery, ending at `steps`). */
  k: number;
  /** Constant AdamW learning rate. */
  lr: number;
  /** Images per minibatch (drawn with replacement). */
  batchSize: number;
  /** AdamW (decoupled) weight decay. */
  weightDecay: number;
}

/** A starting point: 200 steps of 128 images, the last 10 checkpoints 10 steps apart. */
export const DEFAULT_TASK_RECIPE: Readonly<TaskRecipe> = { steps: 200, saveEvery: 10, k: 10, lr: 0.01, batchSize: 128, weightDecay: 5e-4 };

/**
 * @throws ConfigError naming the key (tasks.recipe.<key>) for a value out of range, or k
 *   checkpoints saveEvery apart that do not fit in `steps`.
 */
export function checkRecipe(r: TaskRecipe, where = 'tasks.recipe'): void {
  const posInt = (key: keyof TaskRecipe): void => {
    const v = r[key];
    if (!Number.isInteger(v) || v < 1) throw new ConfigError(`${where}.${key}: expected a positive integer, got ${v}`);
  };
  posInt('steps'); posInt('saveEvery'); posInt('k'); posInt('batchSize');
  if (!(r.lr > 0 && Number.isFinite(r.lr))) throw new ConfigError(`${where}.lr: expected a positive number, got ${r.lr}`);
  if (!(r.weightDecay >= 0 && Number.isFinite(r.weightDecay))) throw new ConfigError(`${where}.weightDecay: expected a number >= 0, got ${r.weightDecay}`);
  if ((r.k - 1) * r.saveEvery >= r.steps) {
    throw new ConfigError(`${where}.k: ${r.k} checkpoints ${r.saveEvery} steps apart need more than ${(r.k - 1) * r.saveEvery} steps, steps is ${r.steps}`);
  }
}

/** Arguments of {@link trainTask}. */
export interface TrainTaskArgs {
  task: TaskModel;
  /** Cached training features at task.stage (cacheFeatures). */
  features: FeatureCache;
  /** The task code (checked by the caller: parseTaskCode). */
  code: string;
  recipe: TaskRecipe;
  /** Run seed: the head's init and the minibatches derive from it and the code. */
  seed: number;
}

/**
 * Train the generated part for one code on the cached features (the recipe in the module
 * comment) and return its k checkpoints [k, total]. The task model is restored afterwards
 * (values, requiresGrad flags, train/eval mode).
 * @throws ShapeError when the features are not at the task model's stage, NumericError when the
 *   loss is not finite.
 */
export function trainTask(args: TrainTaskArgs): Float32Array {
  const { task, features: F, code, recipe: r, seed } = args;
  checkRecipe(r);
  const { model, layout } = task;
  if (F.stage !== task.stage) throw new ShapeError(`trainTask: features ${F.name} are cached at stage ${F.stage}, the generated part starts after stage ${task.stage} (${model.stages[task.stage]})`);
  const labels = binaryLabels(F.labels, code, F.name);
  const paramNames = new Set(model.namedParameters().map(([n]) => n));
  const bad = layout.names.filter((n) => !paramNames.has(n));
  if (bad.length) throw new ConfigError(`trainTask: ${bad.join(', ')} are not learnable parameters of ${model.arch}`);
  const total = layout.total, B = r.batchSize, fl = F.floats;
  const out = new Float32Array(r.k * total);
  const firstSave = r.steps - (r.k - 1) * r.saveEvery;
  const be = model.backend;
  const wasTraining = model.training;
  const flags = model.parameters().map((p) => p.requiresGrad);
  const saved = layout.read(model);
  const storage = be.alloc(B * fl);
  const live = be.hostView(storage);
  const host = live instanceof Float32Array ? live : new Float32Array(B * fl);
  const x = new Tensor(storage, [B, ...F.shape], be);
  try {
    model.requiresGrad(false);
    const subset = layout.tensors(model);
    for (const t of subset) t.requiresGrad = true;
    model.eval();
    layout.write(model, taskInit(task, code, seed));
    const opt = new AdamW(subset, { lr: r.lr, weightDecay: r.weightDecay });
    const rng = new Rng(deriveSeed(seed, `tasks/train/${code}`));
    const idx = new Int32Array(B), lab = new Int32Array(B);
    let row = 0;
    for (let it = 1; it <= r.steps; it++) {
      sampleWithReplacement(F.n, B, rng, idx);
      for (let b = 0; b < B; b++) {
        const i = idx[b]!;
        host.set(F.data.subarray(i * fl, (i + 1) * fl), b * fl);
        lab[b] = labels[i]!;
      }
      if (host !== live) be.write(storage, host);
      opt.zeroGrad();
      const loss = ops.crossEntropy(model.forwardFrom(x, task.stage), lab);
      backward(loss, { freeGraph: true });
      opt.step();
      const l = loss.item();
      dispose(loss);
      if (!Number.isFinite(l)) throw new NumericError(`trainTask ${code}: loss ${l} at step ${it}/${r.steps} (lr ${r.lr})`);
      if (it >= firstSave && (r.steps - it) % r.saveEvery === 0) layout.readInto(model, out, total * row++);
    }
  } finally {
    layout.write(model, saved);
    model.parameters().forEach((p, i) => { p.requiresGrad = flags[i]!; p.grad = null; });
    model.train(wasTraining);
    dispose(x);
  }
  return out;
}

/** Tasks per chunk file by default. */
export const DEFAULT_TASK_CHUNK = 16;

/** Arguments of {@link collectTaskZoo}. */
export interface CollectTaskZooArgs {
  task: TaskModel;
  /** Cached training features at task.stage. */
  features: FeatureCache;
  /** The seen/unseen split: only seen codes are trained; unseen ones are refused. */
  split: TaskSplit;
  /** The codes to train, a subset of split.seen (default: all of split.seen), in the order given. */
  codes?: readonly string[];
  recipe: TaskRecipe;
  seed: number;
  /** Folder of the chunk files and zoo.json (created if missing). */
  dir: string;
  /** Tasks per chunk file (default 16). */
  chunkSize?: number;
  /** Show progress on stderr (default true). */
  progress?: boolean;
  /** Called after each chunk file is written, with the chunks done and their number (resume tests, kill hooks). */
  onChunk?(done: number, chunks: number): void;
}

/** A task zoo in memory. */
export interface TaskZoo {
  /** The trained codes, in zoo order. */
  codes: string[];
  /** Checkpoints per task. */
  k: number;
  layout: ParamLayout;
  /** [codes.length, k, layout.total]: task t's checkpoint j at (t * k + j) * total. */
  ckpts: Float32Array;
  recipe: TaskRecipe;
  seed: number;
  /** The codes held out (split.unseen): none of them is in `codes`. */
  heldOut: string[];
  /** sha256 of everything a checkpoint depends on (see zooPlanDigest). */
  plan: string;
}

/** zoo.json. */
export interface TaskZooManifest {
  version: 1;
  codes: string[];
  heldOut: string[];
  splitSeed: number;
  k: number;
  recipe: TaskRecipe;
  seed: number;
  layout: LayoutJSON;
  /** Tensors not from the base model (the new head). */
  fresh: string[];
  /** The feature stage. */
  stage: number;
  plan: string;
  chunks: TaskChunk[];
}

/**
 * The codes that are in `split.unseen`, which nothing trained on the zoo may see.
 * @throws ConfigError naming the first few, where `codes` holds any (`what` says whose codes they are).
 */
export function assertNoUnseen(codes: readonly string[], split: Pick<TaskSplit, 'unseen'>, what: string): void {
  const unseen = new Set(split.unseen);
  const leaked = codes.filter((c) => unseen.has(c));
  if (leaked.length) {
    throw new ConfigError(`${what}: ${leaked.length} unseen task code(s) (${leaked.slice(0, 5).join(', ')}${leaked.length > 5 ? ', ...' : ''}) may not reach the zoo: they are held out for evaluation`);
  }
}

/**
 * sha256 of what a task's checkpoints depend on: the recipe, the seed, the layout, the task
 * model's state (every tensor) and the cached features with their labels.
 */
export function zooPlanDigest(task: TaskModel, features: FeatureCache, recipe: TaskRecipe, seed: number): string {
  const h = createHash('sha256');
  h.update(JSON.stringify({ recipe, seed, layout: task.layout.toJSON(), fresh: task.fresh, stage: task.stage, shape: features.shape, n: features.n }));
  for (const [name, t] of task.model.stateDict()) {
    const v = Float32Array.from(t.backend.read(t.storage));
    h.update(name).update(new Uint8Array(v.buffer, v.byteOffset, v.byteLength));
  }
  h.update(new Uint8Array(task.baseVec.buffer, task.baseVec.byteOffset, task.baseVec.byteLength));
  h.update(new Uint8Array(features.data.buffer, features.data.byteOffset, features.data.byteLength));
  h.update(new Uint8Array(features.labels.buffer, features.labels.byteOffset, features.labels.byteLength));
  return h.digest('hex');
}

const chunkFile = (i: number): string => `tasks-${String(i).padStart(4, '0')}.safetensors`;

/** One chunk file of a zoo: its name in the zoo's folder and the codes it holds, in zoo order. */
export interface TaskChunk { file: string; codes: string[] }

/**
 * The zoo's codes cut into chunks of `chunkSize` (the last may be shorter), in order: the unit of
 * resumption, and of a queue's job (docs/queue.md#task-zoos).
 * @throws ConfigError for a chunkSize that is not a positive integer.
 */
export function taskChunks(codes: readonly string[], chunkSize: number = DEFAULT_TASK_CHUNK): TaskChunk[] {
  if (!Number.isInteger(chunkSize) || chunkSize < 1) throw new ConfigError(`tasks.chunkSize: must be a positive integer, got ${chunkSize}`);
  const chunks: TaskChunk[] = [];
  for (let s = 0; s < codes.length; s += chunkSize) chunks.push({ file: chunkFile(chunks.length), codes: codes.slice(s, s + chunkSize) });
  return chunks;
}

/** The chunk file's checkpoints when it holds exactly `codes` under `plan`, else null (missing, damaged or another collection's). */
export function readTaskChunk(path: string, codes: readonly string[], plan: string, k: number, total: number): Float32Array | null {
  if (!existsSync(path)) return null;
  try {
    const meta = readSafetensorsHeader(path).metadata ?? {};
    if (meta.plan !== plan || meta.codes !== JSON.stringify(codes)) return null;
    const t = readSafetensors(path).tensors.get('ckpts');
    if (!t || !(t.data instanceof Float32Array) || t.data.length !== codes.length * k * total) return null;
    return t.data;
  } catch {
    return null; // a damaged file is trained again
  }
}

/** Arguments of {@link trainTaskChunk}. */
export interface TrainTaskChunkArgs {
  task: TaskModel;
  features: FeatureCache;
  recipe: TaskRecipe;
  seed: number;
  /** zooPlanDigest(task, features, recipe, seed): recorded in the file. */
  plan: string;
  /** The chunk's codes. */
  codes: readonly string[];
  /** The chunk file, written atomically when every code is trained. */
  path: string;
  /** Called after each code. */
  onTask?(code: string): void;
}

/** Train one chunk's codes (trainTask each) and write its file; returns its checkpoints [codes, k, total]. */
export function trainTaskChunk(args: TrainTaskChunkArgs): Float32Array {
  const { task, features, recipe, seed, plan, codes } = args;
  const total = task.layout.total, k = recipe.k, per = k * total;
  const out = new Float32Array(codes.length * per);
  codes.forEach((code, j) => {
    out.set(trainTask({ task, features, code, recipe, seed }), j * per);
    args.onTask?.(code);
  });
  writeSafetensors(args.path, [{ name: 'ckpts', shape: [codes.length, k, total], data: out }],
    { plan, codes: JSON.stringify(codes), k: String(k), total: String(total) });
  return out;
}

/**
 * Train the zoo (trainTask for each code) and write it to args.dir, chunk by chunk; a rerun
 * reuses the chunk files that match (see the module comment) and gives the same zoo, bit for bit.
 * @throws ConfigError when a code to train is not a seen code of the split (an unseen code above
 *   all), or the recipe is invalid.
 */
export function collectTaskZoo(args: CollectTaskZooArgs): TaskZoo {
  const { task, features, split, recipe, seed, dir } = args;
  checkRecipe(recipe);
  const codes = [...(args.codes ?? split.seen)];
  assertNoUnseen(codes, split, 'collectTaskZoo');
  const seen = new Set(split.seen);
  const stray = codes.filter((c) => !seen.has(c));
  if (stray.length) throw new ConfigError(`collectTaskZoo: code(s) ${stray.slice(0, 5).join(', ')} are not seen codes of the split`);
  if (new Set(codes).size !== codes.length) throw new ConfigError('collectTaskZoo: a code is listed twice');
  if (codes.length === 0) throw new ConfigError('collectTaskZoo: no codes to train');
  const chunkSize = args.chunkSize ?? DEFAULT_TASK_CHUNK;
  const chunks = taskChunks(codes, chunkSize);
  const { layout } = task;
  const total = layout.total, k = recipe.k, per = k * total;
  const plan = zooPlanDigest(task, features, recipe, seed);
  const ckpts = new Float32Array(codes.length * per);
  // A zoo.json from an earlier collection would describe chunks that may be replaced now: the
  // folder holds a complete zoo again only when the new manifest is written, last.
  rmSync(join(dir, 'zoo.json'), { force: true });
  const progress = new Progress({ label: 'tasks', total: codes.length, unit: 'task', enabled: args.progress !== false });
  chunks.forEach((ch, ci) => {
    const path = join(dir, ch.file), off = ci * chunkSize * per;
    const old = readTaskChunk(path, ch.codes, plan, k, total);
    if (old) {
      ckpts.set(old, off);
      progress.tick(ch.codes.length, { reused: ch.file });
    } else {
      ckpts.set(trainTaskChunk({ task, features, recipe, seed, plan, codes: ch.codes, path, onTask: (code) => progress.tick(1, { code }) }), off);
    }
    args.onChunk?.(ci + 1, chunks.length);
  });
  const manifest: TaskZooManifest = {
    version: 1, codes, heldOut: [...split.unseen], splitSeed: split.seed, k, recipe: { ...recipe }, seed,
    layout: layout.toJSON(), fresh: [...task.fresh], stage: task.stage, plan, chunks,
  };
  writeFileAtomic(join(dir, 'zoo.json'), `${JSON.stringify(manifest, null, 1)}\n`);
  progress.done(`${codes.length} tasks x ${k} checkpoints of ${total} floats`);
  return { codes, k, layout, ckpts, recipe: { ...recipe }, seed, heldOut: [...split.unseen], plan };
}

/**
 * Read a zoo written by collectTaskZoo.
 * @throws FormatError naming the file when zoo.json or a chunk file is missing, malformed, or does
 *   not match the manifest (codes, plan, shape), or when the manifest lists a held-out code as trained.
 */
export function readTaskZoo(dir: string): TaskZoo {
  const mpath = join(dir, 'zoo.json');
  const m = readJsonFile<TaskZooManifest>(mpath, 'the task zoo manifest');
  if (m.version !== 1 || !Array.isArray(m.codes) || !Array.isArray(m.chunks) || !Array.isArray(m.heldOut)) throw new FormatError(mpath, 'expected a task zoo manifest (version 1, codes, heldOut, chunks)');
  const held = new Set(m.heldOut);
  const leaked = m.codes.filter((c) => held.has(c));
  if (leaked.length) throw new FormatError(mpath, `lists held-out code(s) ${leaked.slice(0, 5).join(', ')} among the trained tasks`);
  const layout = ParamLayout.fromJSON(m.layout, `${mpath} layout`);
  const per = m.k * layout.total;
  const ckpts = new Float32Array(m.codes.length * per);
  let t = 0;
  for (const ch of m.chunks) {
    const path = join(dir, ch.file);
    const file = readSafetensors(path);
    const meta = file.metadata ?? {};
    if (meta.plan !== m.plan || meta.codes !== JSON.stringify(ch.codes)) throw new FormatError(path, 'its codes or plan digest differ from zoo.json (a chunk of another collection)');
    if (JSON.stringify(ch.codes) !== JSON.stringify(m.codes.slice(t, t + ch.codes.length))) throw new FormatError(mpath, `chunk ${ch.file} is out of order with "codes"`);
    const data = file.tensors.get('ckpts')?.data;
    if (!(data instanceof Float32Array) || data.length !== ch.codes.length * per) throw new FormatError(path, `expected a float tensor "ckpts" [${ch.codes.length}, ${m.k}, ${layout.total}]`);
    ckpts.set(data, t * per);
    t += ch.codes.length;
  }
  if (t !== m.codes.length) throw new FormatError(mpath, `the chunks hold ${t} tasks, "codes" lists ${m.codes.length}`);
  return { codes: m.codes, k: m.k, layout, ckpts, recipe: m.recipe, seed: m.seed, heldOut: m.heldOut, plan: m.plan };
}

/** Task t's checkpoints [k, total] (a view). */
export function taskCheckpoints(zoo: TaskZoo, t: number): Float32Array {
  const per = zoo.k * zoo.layout.total;
  if (!Number.isInteger(t) || t < 0 || t >= zoo.codes.length) throw new ShapeError(`taskCheckpoints: task ${t} is outside [0, ${zoo.codes.length})`);
  return zoo.ckpts.subarray(t * per, (t + 1) * per);
}

/** The code of every checkpoint row of the zoo [codes.length * k] (task t's k rows are t's code): the condition of each row. */
export function rowCodes(zoo: Pick<TaskZoo, 'codes' | 'k'>): string[] {
  return zoo.codes.flatMap((c) => new Array<string>(zoo.k).fill(c));
}
