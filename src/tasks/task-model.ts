/**
 * The task model (docs/tasks.md#zoo): the base classifier with its C-way head replaced by a
 * 2-way one. Everything before the generated part is the base model's and stays frozen; the
 * generated part (default: the last BatchNorm layer's weight and bias, and the new head) starts
 * from the base model's values where the base has the tensor, and from a per-code seeded draw
 * where it does not (the head).
 */
import type { Classifier } from '../models/classifier.js';
import { defaultInitBound } from '../nn/init.js';
import { BatchNorm } from '../nn/layers.js';
import { deriveSeed, Rng } from '../tensor/random.js';
import { ConfigError, ShapeError } from '../util/errors.js';
import { ParamLayout, selectParams } from '../zoo/layout.js';

/** A task model ready for training and evaluating the generated part of any task. */
export interface TaskModel {
  /** The 2-way classifier: every tensor the base has with the same name and shape is the base's. */
  model: Classifier;
  /** The generated part (the zoo's checkpoints are flat vectors in this layout). */
  layout: ParamLayout;
  /** Tensors of the task model the base has not got (the new head), in state_dict order; all in the layout. */
  fresh: string[];
  /** The stage whose output feeds the generated part: model.firstStageOf(layout.names) (the feature cache's stage). */
  stage: number;
  /** The generated part as adopted from the base (the fresh spans are replaced per code by {@link taskInit}). */
  baseVec: Float32Array;
}

/** Arguments of {@link prepareTaskModel}. */
export interface PrepareTaskModelArgs {
  /** The trained C-way base model (not modified). */
  base: Classifier;
  /** A model of the same architecture built with a 2-way head (e.g. buildClassifier(arch, { numClasses: 2, ... })); overwritten. */
  taskModel: Classifier;
  /**
   * The generated part as parameter-name patterns (see globToRegExp in src/zoo/layout.ts); they
   * must cover the new head. Default: the last affine BatchNorm's weight and bias plus the new head.
   */
  params?: readonly string[];
}

/** Parameter names of the last BatchNorm layer with weight and bias, or [] when there is none. */
function lastBatchNorm(model: Classifier): string[] {
  const bns = model.namedModules().filter(([, m]) => m instanceof BatchNorm && (m as BatchNorm).weight !== null);
  const last = bns[bns.length - 1];
  if (!last) return [];
  const prefix = last[0] === '' ? '' : `${last[0]}.`;
  return (last[1] as BatchNorm).bias ? [`${prefix}weight`, `${prefix}bias`] : [`${prefix}weight`];
}

/**
 * Copy the base model into the task model (every tensor of the same name and shape, running
 * statistics included), choose the generated part and record its starting values.
 * @throws ShapeError when the models do not differ in the head only (a buffer or no tensor in
 *   common); ConfigError when `params` leaves out a new tensor or the default finds no BatchNorm.
 */
export function prepareTaskModel(args: PrepareTaskModelArgs): TaskModel {
  const { base, taskModel } = args;
  if (base.arch !== taskModel.arch) throw new ShapeError(`prepareTaskModel: the base is ${base.arch}, the task model ${taskModel.arch}; expected the same architecture`);
  const from = new Map(base.stateDict());
  const params = new Set(taskModel.namedParameters().map(([n]) => n));
  const fresh: string[] = [];
  let copied = 0;
  for (const [name, t] of taskModel.stateDict()) {
    const src = from.get(name);
    if (src && src.shape.length === t.shape.length && src.shape.every((d, i) => d === t.shape[i])) {
      t.backend.write(t.storage, src.backend.read(src.storage));
      copied++;
    } else if (!params.has(name)) {
      throw new ShapeError(`prepareTaskModel: buffer "${name}" of the task model [${t.shape.join(', ')}] has no counterpart of that shape in the base model; only the head may differ`);
    } else {
      fresh.push(name);
    }
  }
  if (copied === 0 || fresh.length === 0) {
    throw new ShapeError(`prepareTaskModel: expected the task model to share every tensor with the base but the head, got ${copied} shared and ${fresh.length} new (${fresh.join(', ')})`);
  }
  let names: string[];
  if (args.params && args.params.length > 0) {
    names = selectParams(taskModel, 'custom', args.params);
    const missing = fresh.filter((n) => !names.includes(n));
    if (missing.length) {
      throw new ConfigError(`task params [${args.params.join(', ')}]: the new head tensors ${missing.join(', ')} must be in the generated part (they are not in the base model)`);
    }
  } else {
    const bn = lastBatchNorm(taskModel);
    if (bn.length === 0) throw new ConfigError(`task params: ${taskModel.arch} has no BatchNorm layer with weight and bias for the default generated part; give the parameter patterns`);
    const chosen = new Set([...bn, ...fresh]);
    names = taskModel.namedParameters().map(([n]) => n).filter((n) => chosen.has(n));
  }
  const layout = ParamLayout.fromModel(taskModel, names);
  taskModel.eval();
  return { model: taskModel, layout, fresh, stage: taskModel.firstStageOf(layout.names), baseVec: layout.read(taskModel) };
}

/** PyTorch's default fan-in of a new tensor: a weight's size(1) * receptive field, a bias that of its layer's weight. */
function fanIn(layout: ParamLayout, i: number): number {
  const name = layout.names[i]!, shape = layout.shapes[i]!;
  if (shape.length >= 2) return shape.slice(1).reduce((a, b) => a * b, 1);
  const w = layout.indexOf(name.replace(/bias$/, 'weight'));
  if (!name.endsWith('bias') || w < 0 || layout.shapes[w]!.length < 2) {
    throw new ShapeError(`taskInit: cannot tell the fan-in of the new tensor "${name}" [${shape.join(', ')}] (expected a weight of rank >= 2 or a bias beside its weight)`);
  }
  return layout.shapes[w]!.slice(1).reduce((a, b) => a * b, 1);
}

/**
 * The starting values of the generated part for `code`: the base model's values, and for the
 * new tensors U(-1/sqrt(fan_in), 1/sqrt(fan_in)) (PyTorch's Linear default) drawn in layout
 * order from Rng(deriveSeed(seed, "tasks/head/" + code)), in float64 and rounded once to float32
 * as uniformTensor does. A function of (base, seed, code) only: the same for a code whatever
 * else is trained.
 */
export function taskInit(tm: TaskModel, code: string, seed: number): Float32Array {
  const { layout } = tm;
  const out = Float32Array.from(tm.baseVec);
  const rng = new Rng(deriveSeed(seed, `tasks/head/${code}`));
  const fresh = new Set(tm.fresh);
  layout.names.forEach((name, i) => {
    if (!fresh.has(name)) return;
    const b = defaultInitBound(fanIn(layout, i));
    const v = rng.fillUniform(new Float64Array(layout.sizes[i]!), -b, b);
    out.set(v, layout.offsets[i]!);
  });
  return out;
}
