/**
 * The training state of the generator's two trainers and its file form (docs/autoencoder.md#resuming).
 *
 * Both loops are resumable bit for bit: `onCheckpoint` receives the full training state (weights,
 * BN running statistics, optimiser moments, EMA, generator state, loss curve) every
 * `checkpointEvery` steps, and a run started with `resume: state` continues exactly as the
 * uninterrupted run would have (same losses, same final weights). serializeTrainState /
 * deserializeTrainState turn a state into safetensors tensors + metadata and back.
 */
import type { AdamW, EMA, Module } from '../nn/index.js';
import type { Rng } from '../tensor/random.js';
import { ConfigError, FormatError, ShapeError } from '../util/errors.js';

/** One point of a loss curve: the minibatch loss of 0-based iteration `step`. */
export interface LossPoint {
  step: number;
  loss: number;
}

/** A named float32 array with its shape (a state_dict entry, as stored). */
export interface NamedArray {
  name: string;
  shape: number[];
  data: Float32Array;
}

/** Everything needed to continue a training run exactly where it stopped. */
export interface TrainState {
  kind: 'ae' | 'diffusion';
  /** Number of completed iterations. */
  step: number;
  /** Canonical JSON of the config section and data sizes the run was started with. */
  config: string;
  /** Model state_dict (parameters and BN running statistics) in state_dict order. */
  model: NamedArray[];
  /** AdamW state: step counter and moments (m0, v0, m1, v1, ...). */
  optimizer: { step: number; buffers: Float32Array[] };
  /** EMA shadow weights, one per parameter (diffusion with ema > 0), else null. */
  ema: Float32Array[] | null;
  /** Rng.getState() of the training generator. */
  rng: number[];
  /** Loss of every completed iteration. */
  lossCurve: LossPoint[];
  /** Wall time spent so far. */
  seconds: number;
  /** Factor the latents were divided by (diffusion with latentScale 'std'); 1 otherwise. */
  latentScale: number;
}
export type AeTrainState = TrainState & { kind: 'ae' };
export type DiffusionTrainState = TrainState & { kind: 'diffusion' };

/** float32 values of a host array (a copy only when it is float64). */
export function toF32(a: Float32Array | Float64Array): Float32Array {
  return a instanceof Float32Array ? a : Float32Array.from(a);
}

/** A deep copy of the running training state, as onCheckpoint receives it. */
export function captureState<S extends TrainState>(kind: S['kind'], step: number, config: string, model: Module, opt: AdamW, ema: EMA | null,
  rng: Rng, lossCurve: LossPoint[], seconds: number, latentScale: number): S {
  const os = opt.state();
  const state: TrainState = {
    kind,
    step,
    config,
    model: model.stateDict().map(([name, t]) => ({ name, shape: [...t.shape], data: toF32(t.toArray()) })),
    optimizer: { step: os.step, buffers: os.buffers.map(toF32) },
    ema: ema ? ema.shadow.map((s) => toF32(model.backend.read(s))) : null,
    rng: rng.getState(),
    lossCurve: lossCurve.map((p) => ({ ...p })),
    seconds,
    latentScale,
  };
  return state as S;
}

/** A ConfigError unless `state` (when given) is a state of `kind`. */
export function checkKind(state: TrainState | undefined, kind: TrainState['kind']): void {
  if (state && state.kind !== kind) throw new ConfigError(`resume (${kind} training state): expected a state of kind "${kind}", got "${state.kind}"`);
}

/** Load `state` into the model, optimiser, EMA and generator of a new run, after checking that it fits. */
export function restoreState(state: TrainState, kind: TrainState['kind'], config: string, model: Module, opt: AdamW, ema: EMA | null, rng: Rng, steps: number): void {
  const where = `resume (${kind} training state)`;
  checkKind(state, kind);
  if (state.config !== config) {
    throw new ConfigError(`${where}: the state was saved with a different config or data size; expected ${config}, got ${state.config}`);
  }
  if (!(Number.isInteger(state.step) && state.step >= 0 && state.step <= steps)) throw new ConfigError(`${where}: expected a completed step count in [0, ${steps}], got ${state.step}`);
  model.loadStateDict(state.model.map((e) => [e.name, { shape: e.shape, data: e.data }] as [string, { shape: number[]; data: Float32Array }]), { strict: true, source: where });
  const nBuf = opt.params.length * 2;
  if (state.optimizer.buffers.length !== nBuf) throw new ConfigError(`${where}: expected ${nBuf} optimiser buffers, got ${state.optimizer.buffers.length}`);
  opt.params.forEach((p, i) => {
    for (const j of [2 * i, 2 * i + 1]) {
      const b = state.optimizer.buffers[j]!;
      if (b.length !== p.size) throw new ShapeError(`${where}: optimiser buffer ${j} has ${b.length} values, expected ${p.size}`);
    }
  });
  opt.loadState(state.optimizer);
  if ((ema === null) !== (state.ema === null)) throw new ConfigError(`${where}: expected ${ema ? 'EMA weights' : 'no EMA weights'} in the state, got ${state.ema ? 'EMA weights' : 'none'}`);
  if (ema && state.ema) {
    if (state.ema.length !== ema.shadow.length) throw new ConfigError(`${where}: expected ${ema.shadow.length} EMA tensors, got ${state.ema.length}`);
    ema.shadow.forEach((s, i) => {
      const src = state.ema![i]!;
      if (src.length !== s.length) throw new ShapeError(`${where}: EMA tensor ${i} has ${src.length} values, expected ${s.length}`);
      model.backend.write(s, src);
    });
  }
  rng.setState(state.rng);
}
// ---------------------------------------------------------------------------------------------
// (de)serialisation of training states

const STATE_FORMAT = 'pdiff-train-state';
const STATE_VERSION = '1';

/**
 * A training state as safetensors tensors and string metadata: `model.<name>` (state_dict),
 * `optim.<i>` (AdamW moments m0, v0, m1, ...), `ema.<i>`, `loss_curve` [n, 2] (step, loss; both
 * exact in float32), and metadata for the scalars (step, config, generator state, ...).
 */
export function serializeTrainState(state: TrainState): { tensors: NamedArray[]; meta: Record<string, string> } {
  const tensors: NamedArray[] = [];
  for (const e of state.model) tensors.push({ name: `model.${e.name}`, shape: [...e.shape], data: e.data });
  state.optimizer.buffers.forEach((b, i) => tensors.push({ name: `optim.${i}`, shape: [b.length], data: b }));
  state.ema?.forEach((b, i) => tensors.push({ name: `ema.${i}`, shape: [b.length], data: b }));
  const curve = new Float32Array(state.lossCurve.length * 2);
  state.lossCurve.forEach((p, i) => { curve[2 * i] = p.step; curve[2 * i + 1] = p.loss; });
  tensors.push({ name: 'loss_curve', shape: [state.lossCurve.length, 2], data: curve });
  const meta: Record<string, string> = {
    format: STATE_FORMAT,
    version: STATE_VERSION,
    kind: state.kind,
    step: String(state.step),
    config: state.config,
    model: JSON.stringify(state.model.map((e) => e.name)),
    optimizer_step: String(state.optimizer.step),
    optimizer_buffers: String(state.optimizer.buffers.length),
    ema: state.ema ? String(state.ema.length) : 'none',
    // JSON numbers round-trip doubles exactly; NaN (no cached normal) becomes null.
    rng: JSON.stringify(state.rng.map((v) => (Number.isNaN(v) ? null : v))),
    seconds: String(state.seconds),
    latent_scale: String(state.latentScale),
  };
  return { tensors, meta };
}

type StoredTensor = { shape: readonly number[]; data: Float32Array | BigInt64Array | Float64Array };

/**
 * Inverse of serializeTrainState. `tensors` may be readSafetensors(...).tensors or the array
 * serializeTrainState produced; `source` names the file in errors (FormatError).
 */
export function deserializeTrainState(tensors: ReadonlyMap<string, StoredTensor> | ReadonlyArray<{ name: string } & StoredTensor>, meta: Record<string, string> | null,
  source = 'training state'): TrainState {
  const map: ReadonlyMap<string, StoredTensor> = tensors instanceof Map ? tensors : new Map((tensors as ReadonlyArray<{ name: string } & StoredTensor>).map((t) => [t.name, t]));
  if (!meta || meta.format !== STATE_FORMAT) throw new FormatError(source, `expected metadata format "${STATE_FORMAT}", got ${meta ? JSON.stringify(meta.format ?? null) : 'no metadata'}`);
  if (meta.version !== STATE_VERSION) throw new FormatError(source, `expected training-state version ${STATE_VERSION}, got ${JSON.stringify(meta.version ?? null)}`);
  const field = (k: string): string => {
    const v = meta[k];
    if (v === undefined) throw new FormatError(source, `metadata key "${k}" is missing`);
    return v;
  };
  const int = (k: string): number => {
    const v = Number(field(k));
    if (!Number.isInteger(v) || v < 0) throw new FormatError(source, `metadata "${k}": expected a non-negative integer, got ${JSON.stringify(meta[k])}`);
    return v;
  };
  const num = (k: string): number => {
    const v = Number(field(k));
    if (!Number.isFinite(v)) throw new FormatError(source, `metadata "${k}": expected a finite number, got ${JSON.stringify(meta[k])}`);
    return v;
  };
  const json = (k: string): unknown => {
    try { return JSON.parse(field(k)); } catch { throw new FormatError(source, `metadata "${k}": expected JSON, got ${JSON.stringify(meta[k])}`); }
  };
  const get = (name: string): { shape: number[]; data: Float32Array } => {
    const t = map.get(name);
    if (!t) throw new FormatError(source, `tensor "${name}" is missing`);
    if (!(t.data instanceof Float32Array)) throw new FormatError(source, `tensor "${name}": expected F32 data, got ${t.data.constructor.name}`);
    return { shape: [...t.shape], data: t.data };
  };
  const kind = field('kind');
  if (kind !== 'ae' && kind !== 'diffusion') throw new FormatError(source, `metadata "kind": expected "ae" or "diffusion", got ${JSON.stringify(kind)}`);
  const names = json('model');
  if (!Array.isArray(names) || names.some((n) => typeof n !== 'string')) throw new FormatError(source, 'metadata "model": expected a JSON list of tensor names');
  const model = (names as string[]).map((name) => ({ name, ...get(`model.${name}`) }));
  const nBuf = int('optimizer_buffers');
  const buffers = Array.from({ length: nBuf }, (_, i) => get(`optim.${i}`).data);
  const emaMeta = field('ema');
  const ema = emaMeta === 'none' ? null : Array.from({ length: int('ema') }, (_, i) => get(`ema.${i}`).data);
  const rngRaw = json('rng');
  if (!Array.isArray(rngRaw) || rngRaw.length !== 5 || rngRaw.some((v) => v !== null && typeof v !== 'number')) throw new FormatError(source, `metadata "rng": expected 5 numbers, got ${meta.rng}`);
  const rng = (rngRaw as Array<number | null>).map((v) => (v === null ? NaN : v));
  const curveT = get('loss_curve');
  if (curveT.shape.length !== 2 || curveT.shape[1] !== 2) throw new FormatError(source, `tensor "loss_curve": expected shape [n, 2], got [${curveT.shape.join(', ')}]`);
  const lossCurve: LossPoint[] = [];
  for (let i = 0; i < curveT.shape[0]!; i++) lossCurve.push({ step: curveT.data[2 * i]!, loss: curveT.data[2 * i + 1]! });
  return {
    kind,
    step: int('step'),
    config: field('config'),
    model,
    optimizer: { step: int('optimizer_step'), buffers },
    ema,
    rng,
    lossCurve,
    seconds: num('seconds'),
    latentScale: num('latent_scale'),
  };
}
