/**
 * Training loops of the P-Diff generator (SPEC sections 6-7): the parameter autoencoder on
 * normalised checkpoint vectors, and the latent denoiser on the AE's latents; plus encoding,
 * decoding and latent sampling helpers.
 *
 * Both loops are resumable bit for bit: `onCheckpoint` receives the full training state (weights,
 * BN running statistics, optimiser moments, EMA, generator state, loss curve) every
 * `checkpointEvery` steps, and a run started with `resume: state` continues exactly as the
 * uninterrupted run would have (same losses, same final weights). serializeTrainState /
 * deserializeTrainState turn a state into safetensors tensors + metadata and back.
 */
import type { Backend } from '../backend/backend.js';
import { getBackend } from '../backend/index.js';
import { canonicalJson, type Config } from '../config/index.js';
import { AdamW, EMA, constantLr, cosineLr, type LrSchedule, type Module } from '../nn/index.js';
import * as ops from '../tensor/ops.js';
import type { Rng } from '../tensor/random.js';
import { Tensor, backward, dispose, noGrad, scope } from '../tensor/tensor.js';
import { ConfigError, FormatError, NumericError, ShapeError } from '../util/errors.js';
import { Progress } from '../util/progress.js';
import { ParamAutoencoder } from './autoencoder.js';
import { LatentDenoiser } from './denoiser.js';
import { ddimSampleLoop, denoiserEpsModel, pSampleLoop } from './samplers.js';
import { makeSchedule, type DiffusionSchedule } from './schedule.js';

export type AeConfig = Config['ae'];
export type DiffusionConfig = Config['diffusion'];
export type GenerateConfig = Config['generate'];

/** Where training records go (a JsonlLog fits): one object per call. */
export interface TrainLog {
  write(obj: object): void;
}

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

/** Options shared by both trainers. */
export interface TrainOptions<S extends TrainState> {
  /** Generator for the initial weights and every minibatch draw. */
  rng: Rng;
  backend?: Backend;
  /** Show a progress line on stderr (default false). */
  progress?: boolean;
  /** Receives loss and latent statistics every `logEvery` iterations. */
  log?: TrainLog;
  /** Iterations between log records (default 50). */
  logEvery?: number;
  /** A state captured by onCheckpoint of an earlier run with the same config and data. */
  resume?: S;
  /** Called with a (deep-copied) training state every `checkpointEvery` iterations. */
  onCheckpoint?: (state: S) => void;
  /** Iterations between onCheckpoint calls (default 500). */
  checkpointEvery?: number;
}

export interface LatentStats {
  min: number;
  max: number;
  mean: number;
  /** Unbiased (n-1) standard deviation; 0 for a single value. */
  std: number;
}

/** Min, max, mean and unbiased std of all values (float64 accumulation). */
export function latentStats(lat: ArrayLike<number>): LatentStats {
  const n = lat.length;
  if (n === 0) throw new ShapeError('latentStats: expected at least one value, got an empty array');
  let min = Infinity, max = -Infinity, s = 0;
  for (let i = 0; i < n; i++) {
    const v = lat[i]!;
    if (v < min) min = v;
    if (v > max) max = v;
    s += v;
  }
  const mean = s / n;
  let ss = 0;
  for (let i = 0; i < n; i++) { const dv = lat[i]! - mean; ss += dv * dv; }
  return { min, max, mean, std: n > 1 ? Math.sqrt(ss / (n - 1)) : 0 };
}

// ---------------------------------------------------------------------------------------------
// shared machinery

function lrSchedule(kind: 'cosine' | 'constant', lr: number, steps: number): LrSchedule {
  return kind === 'cosine' ? cosineLr(lr, steps, 0) : constantLr(lr);
}

function toF32(a: Float32Array | Float64Array): Float32Array {
  return a instanceof Float32Array ? a : Float32Array.from(a);
}

function captureState<S extends TrainState>(kind: S['kind'], step: number, config: string, model: Module, opt: AdamW, ema: EMA | null,
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

function checkKind(state: TrainState | undefined, kind: TrainState['kind']): void {
  if (state && state.kind !== kind) throw new ConfigError(`resume (${kind} training state): expected a state of kind "${kind}", got "${state.kind}"`);
}

function restoreState(state: TrainState, kind: TrainState['kind'], config: string, model: Module, opt: AdamW, ema: EMA | null, rng: Rng, steps: number): void {
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

/** Loop bookkeeping common to both trainers: loss curve, logging, progress, checkpoints. */
class LoopTracker<S extends TrainState> {
  readonly lossCurve: LossPoint[];
  readonly t0 = performance.now();
  private readonly prog: Progress;
  private readonly logEvery: number;
  private readonly ckptEvery: number;
  private windowSum = 0;
  private windowN = 0;

  constructor(readonly label: 'ae' | 'diffusion', readonly steps: number, readonly opts: TrainOptions<S>, readonly prevSeconds: number, start: number) {
    this.lossCurve = opts.resume ? opts.resume.lossCurve.map((p) => ({ ...p })) : [];
    this.logEvery = Math.max(1, Math.floor(opts.logEvery ?? 50));
    this.ckptEvery = Math.max(1, Math.floor(opts.checkpointEvery ?? 500));
    this.prog = new Progress({ label: label, total: steps, enabled: opts.progress === true, start });
  }

  seconds(): number { return this.prevSeconds + (performance.now() - this.t0) / 1000; }

  /** Whether iteration `step` writes a log record (then the caller computes its statistics). */
  logsAt(step: number): boolean { return !!this.opts.log && (step % this.logEvery === 0 || step === this.steps - 1); }

  record(step: number, loss: number, lr: number, extra: object | null): void {
    if (!Number.isFinite(loss)) throw new NumericError(`${this.label} training: the loss is ${loss} at iteration ${step} (lr ${lr}); lower the learning rate or check the inputs`);
    this.lossCurve.push({ step, loss });
    this.windowSum += loss;
    this.windowN++;
    if (extra && this.opts.log) {
      this.opts.log.write({ stage: this.label, step, loss, lossAvg: this.windowSum / this.windowN, lr, ...extra, seconds: this.seconds() });
      this.windowSum = 0;
      this.windowN = 0;
    }
    this.prog.tick(1, { loss });
  }

  checkpointDue(completed: number): boolean { return !!this.opts.onCheckpoint && completed % this.ckptEvery === 0 && completed < this.steps; }

  done(): void {
    const last = this.lossCurve[this.lossCurve.length - 1];
    this.prog.done(last ? { loss: last.loss } : undefined);
  }
}

function checkRows(where: string, data: Float32Array, rows: number, cols: number): void {
  if (!Number.isInteger(rows) || rows < 1 || !Number.isInteger(cols) || cols < 1) throw new ShapeError(`${where}: expected positive integer sizes, got ${rows} x ${cols}`);
  if (data.length !== rows * cols) throw new ShapeError(`${where}: expected ${rows} x ${cols} = ${rows * cols} values, got ${data.length}`);
}

// ---------------------------------------------------------------------------------------------
// autoencoder

export interface AeTrainResult {
  /** The trained autoencoder, in eval mode. */
  model: ParamAutoencoder;
  lossCurve: LossPoint[];
  seconds: number;
}

/**
 * Train the parameter autoencoder on z [K, L] (SPEC section 6): per iteration draw B rows uniformly
 * with replacement, x = z + inputNoise n1, h = encode(x) + latentNoise n2,
 * loss = MSE(decode(h), x); AdamW with cosine(steps, 0) or constant lr. Draw order per iteration:
 * B row indices, then B L input-noise values, then B d latent-noise values.
 */
export function trainAutoencoder(z: Float32Array, K: number, L: number, cfg: AeConfig, opts: TrainOptions<AeTrainState>): AeTrainResult {
  checkRows('trainAutoencoder: z', z, K, L);
  checkKind(opts.resume, 'ae');
  const be = opts.backend ?? getBackend();
  const { rng } = opts;
  const B = cfg.batchSize, d = cfg.latentDim;
  const model = new ParamAutoencoder({ L, channels: cfg.channels, latentDim: d, kernel: cfg.kernel, rng, backend: be });
  model.train();
  const opt = new AdamW(model.trainableParameters(), { lr: cfg.lr, weightDecay: cfg.weightDecay });
  const config = canonicalJson({ ae: cfg, K, L });
  const resume = opts.resume;
  if (resume) restoreState(resume, 'ae', config, model, opt, null, rng, cfg.steps);
  const start = resume ? resume.step : 0;
  const track = new LoopTracker<AeTrainState>('ae', cfg.steps, opts, resume ? resume.seconds : 0, start);
  const lrAt = lrSchedule(cfg.schedule, cfg.lr, cfg.steps);

  const xBuf = new Float32Array(B * L);
  const nBuf = new Float32Array(B * d);
  const xT = new Tensor(be.alloc(B * L), [B, L], be);
  const nT = new Tensor(be.alloc(B * d), [B, d], be);
  const rows = new Int32Array(B);
  const inNoise = cfg.inputNoise, latNoise = cfg.latentNoise;

  for (let step = start; step < cfg.steps; step++) {
    for (let b = 0; b < B; b++) rows[b] = rng.int(K);
    for (let b = 0; b < B; b++) {
      const src = rows[b]! * L, dst = b * L;
      if (inNoise > 0) for (let j = 0; j < L; j++) xBuf[dst + j] = z[src + j]! + inNoise * rng.normal();
      else xBuf.set(z.subarray(src, src + L), dst);
    }
    be.write(xT.storage, xBuf);
    const h = model.encode(xT);
    let hn = h;
    if (latNoise > 0) {
      for (let i = 0; i < nBuf.length; i++) nBuf[i] = latNoise * rng.normal();
      be.write(nT.storage, nBuf);
      hn = ops.add(h, nT);
    }
    const loss = ops.mseLoss(model.decode(hn), xT);
    const lr = lrAt(step);
    const extra = track.logsAt(step) ? { latent: latentStats(h.toArray()) } : null;
    backward(loss, { freeGraph: true }); // the step's activations return to the pool now
    opt.lr = lr;
    opt.step();
    track.record(step, loss.item(), lr, extra); // once the step is queued (a device backend waits here)
    dispose(loss);
    opt.zeroGrad();
    if (track.checkpointDue(step + 1)) {
      opts.onCheckpoint!(captureState<AeTrainState>('ae', step + 1, config, model, opt, null, rng, track.lossCurve, track.seconds(), 1));
    }
  }
  model.eval();
  track.done();
  return { model, lossCurve: track.lossCurve, seconds: track.seconds() };
}

/** Rows per forward pass in encodeAll / decodeAll (BN in eval mode: rows are independent). */
const EVAL_BATCH = 256;

function inEvalMode<T>(model: Module, fn: () => T): T {
  const was = model.training;
  model.eval();
  try { return noGrad(fn); } finally { model.train(was); }
}

/** encode(z) of every row of z [K, L], eval mode, no noise: latents [K, d]. */
export function encodeAll(model: ParamAutoencoder, z: Float32Array, K: number, L: number): Float32Array {
  if (L !== model.L) throw new ShapeError(`encodeAll: the autoencoder takes vectors of length ${model.L}, got L = ${L}`);
  checkRows('encodeAll: z', z, K, L);
  const d = model.latentDim, be = model.backend;
  const out = new Float32Array(K * d);
  inEvalMode(model, () => {
    for (let r = 0; r < K; r += EVAL_BATCH) {
      const n = Math.min(EVAL_BATCH, K - r);
      const x = new Tensor(be.fromArray(z.subarray(r * L, (r + n) * L)), [n, L], be);
      scope(() => { out.set(toF32(model.encode(x).toArray()), r * d); });
      dispose(x);
    }
  });
  return out;
}

/** decode(h) of every row of latents [n, d], eval mode: vectors [n, L]. */
export function decodeAll(model: ParamAutoencoder, latents: Float32Array, n: number, d: number): Float32Array {
  if (d !== model.latentDim) throw new ShapeError(`decodeAll: the autoencoder has latent size ${model.latentDim}, got d = ${d}`);
  checkRows('decodeAll: latents', latents, n, d);
  const L = model.L, be = model.backend;
  const out = new Float32Array(n * L);
  inEvalMode(model, () => {
    for (let r = 0; r < n; r += EVAL_BATCH) {
      const m = Math.min(EVAL_BATCH, n - r);
      const h = new Tensor(be.fromArray(latents.subarray(r * d, (r + m) * d)), [m, d], be);
      scope(() => { out.set(toF32(model.decode(h).toArray()), r * L); });
      dispose(h);
    }
  });
  return out;
}

// ---------------------------------------------------------------------------------------------
// diffusion

export interface DiffusionTrainResult {
  /** The trained denoiser (live weights, not the EMA), in eval mode. */
  model: LatentDenoiser;
  /** EMA of the weights when cfg.ema > 0: call `ema.swapIn()` to sample with them. */
  ema: EMA | null;
  /** The noise schedule the model was trained with. */
  schedule: DiffusionSchedule;
  lossCurve: LossPoint[];
  /** The latents were divided by this before training; multiply samples by it (1 = no scaling). */
  latentScale: number;
  seconds: number;
}

/** The schedule named by a diffusion config. */
export function scheduleFromConfig(cfg: DiffusionConfig): DiffusionSchedule {
  return makeSchedule(cfg.schedule, cfg.timesteps, { betaStart: cfg.betaStart, betaEnd: cfg.betaEnd });
}

/**
 * Train the latent denoiser on latents [K, d] (SPEC section 7): per iteration x0 = B latents drawn
 * uniformly with replacement, t ~ U{0..T-1}, eps ~ N(0, I), x_t = qSample(x0, t, eps),
 * loss = MSE(eps_theta(x_t, t), eps); AdamW with cosine(steps, 0) or constant lr; optional EMA.
 * Draw order per iteration: B row indices, B timesteps, B d noise values.
 * With cfg.latentScale 'std' the latents are divided by their overall (unbiased) std first.
 */
export function trainDiffusion(latents: Float32Array, K: number, d: number, cfg: DiffusionConfig, opts: TrainOptions<DiffusionTrainState>): DiffusionTrainResult {
  checkRows('trainDiffusion: latents', latents, K, d);
  checkKind(opts.resume, 'diffusion');
  const be = opts.backend ?? getBackend();
  const { rng } = opts;
  const sched = scheduleFromConfig(cfg);
  const T = sched.T, B = cfg.batchSize;

  const stats = latentStats(latents);
  let latentScale = 1;
  let data = latents;
  if (cfg.latentScale === 'std') {
    if (!(stats.std > 0)) throw new NumericError(`trainDiffusion: diffusion.latentScale is "std" but the latents have std ${stats.std}`);
    latentScale = stats.std;
    data = new Float32Array(latents.length);
    for (let i = 0; i < data.length; i++) data[i] = latents[i]! / latentScale;
  }

  const model = new LatentDenoiser({ d, channels: cfg.channels, rng, backend: be });
  model.train();
  const params = model.trainableParameters();
  const opt = new AdamW(params, { lr: cfg.lr, weightDecay: cfg.weightDecay });
  const ema = cfg.ema > 0 ? new EMA(params, cfg.ema) : null;
  const config = canonicalJson({ diffusion: cfg, K, d });
  const resume = opts.resume;
  if (resume) {
    restoreState(resume, 'diffusion', config, model, opt, ema, rng, cfg.steps);
    if (resume.latentScale !== latentScale) throw new ConfigError(`resume (diffusion training state): expected latentScale ${latentScale} for these latents, got ${resume.latentScale}`);
  }
  const start = resume ? resume.step : 0;
  const track = new LoopTracker<DiffusionTrainState>('diffusion', cfg.steps, opts, resume ? resume.seconds : 0, start);
  if (opts.log && start === 0) opts.log.write({ stage: 'diffusion', event: 'latents', K, d, ...stats, latentScale });
  const lrAt = lrSchedule(cfg.lrSchedule, cfg.lr, cfg.steps);

  const x0 = new Float32Array(B * d);
  const eps = new Float32Array(B * d);
  const xt = new Float32Array(B * d);
  const ts = new Int32Array(B);
  const rows = new Int32Array(B);
  const xT = new Tensor(be.alloc(B * d), [B, d], be);
  const epsT = new Tensor(be.alloc(B * d), [B, d], be);

  for (let step = start; step < cfg.steps; step++) {
    for (let b = 0; b < B; b++) rows[b] = rng.int(K);
    for (let b = 0; b < B; b++) ts[b] = rng.int(T);
    for (let i = 0; i < eps.length; i++) eps[i] = rng.normal();
    for (let b = 0; b < B; b++) x0.set(data.subarray(rows[b]! * d, rows[b]! * d + d), b * d);
    sched.qSample(x0, ts, eps, B, d, xt);
    be.write(xT.storage, xt);
    be.write(epsT.storage, eps);
    const loss = ops.mseLoss(model.forward(xT, ts), epsT);
    const lr = lrAt(step);
    backward(loss, { freeGraph: true }); // the step's activations return to the pool now
    opt.lr = lr;
    opt.step();
    track.record(step, loss.item(), lr, track.logsAt(step) ? {} : null); // once the step is queued
    dispose(loss);
    opt.zeroGrad();
    ema?.update();
    if (track.checkpointDue(step + 1)) {
      opts.onCheckpoint!(captureState<DiffusionTrainState>('diffusion', step + 1, config, model, opt, ema, rng, track.lossCurve, track.seconds(), latentScale));
    }
  }
  model.eval();
  track.done();
  return { model, ema, schedule: sched, lossCurve: track.lossCurve, latentScale, seconds: track.seconds() };
}

/**
 * Sample n latents [n, d] with the denoiser (eval mode) in batches of cfg.batchSize, with the DDPM
 * or DDIM sampler, and multiply them by `latentScale` (the trainer's scale; 1 = none).
 */
export function generateLatents(model: LatentDenoiser, sched: DiffusionSchedule, n: number, d: number, cfg: GenerateConfig, rng: Rng, latentScale = 1,
  opts: { progress?: boolean } = {}): Float32Array {
  if (d !== model.d) throw new ShapeError(`generateLatents: the denoiser has latent size ${model.d}, got d = ${d}`);
  if (!Number.isInteger(n) || n < 1) throw new ShapeError(`generateLatents: expected a positive number of samples, got ${n}`);
  if (!(latentScale > 0)) throw new ConfigError(`generateLatents: expected a positive latentScale, got ${latentScale}`);
  const eps = denoiserEpsModel(model);
  const out = new Float32Array(n * d);
  const per = cfg.sampler === 'ddim' ? cfg.ddimSteps : sched.T;
  const prog = new Progress({ label: `sample ${cfg.sampler}`, total: Math.ceil(n / cfg.batchSize) * per, enabled: opts.progress === true });
  const onStep = (): void => prog.tick(1);
  for (let r = 0; r < n; r += cfg.batchSize) {
    const m = Math.min(cfg.batchSize, n - r);
    const x = cfg.sampler === 'ddim'
      ? ddimSampleLoop(sched, eps, m, d, rng, { steps: cfg.ddimSteps, eta: cfg.eta, onStep })
      : pSampleLoop(sched, eps, m, d, rng, { onStep });
    if (latentScale !== 1) for (let i = 0; i < x.length; i++) x[i] = x[i]! * latentScale;
    out.set(x, r * d);
  }
  prog.done();
  return out;
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
