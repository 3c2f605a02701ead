/**
 * Training the latent denoiser (docs/diffusion.md#training): epsilon prediction on the
 * autoencoder's latents, optionally rescaled (docs/diffusion.md#latent-scale), with an optional
 * EMA of the weights (docs/diffusion.md#ema).
 */
import { getBackend } from '../backend/index.js';
import { canonicalJson, type DiffusionConfig } from '../config/index.js';
import { AdamW, EMA } from '../nn/index.js';
import * as ops from '../tensor/ops.js';
import { Tensor, backward, dispose } from '../tensor/tensor.js';
import { ConfigError, NumericError, ShapeError } from '../util/errors.js';
import { LatentDenoiser } from './denoiser.js';
import { makeSchedule, type DiffusionSchedule } from './schedule.js';
import { LoopTracker, checkRows, latentStats, lrSchedule, type TrainOptions } from './train-loop.js';
import { captureState, checkKind, restoreState, type DiffusionTrainState, type LossPoint } from './train-state.js';

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

/** Per-row conditions of the training latents (docs/conditioning.md): data [K, dim], one row per latent. */
export interface RowConditions {
  data: Float32Array;
  /** Condition width (the conditional denoiser's condDim), >= 1. */
  dim: number;
}

/** Options of trainDiffusion: the trainers' options, and the latents' conditions for a conditional denoiser. */
export interface DiffusionTrainOptions extends TrainOptions<DiffusionTrainState> {
  /** Train a conditional denoiser on these per-row conditions (absent = unconditional, as before). */
  cond?: RowConditions;
}

/** The schedule named by a diffusion config. */
export function scheduleFromConfig(cfg: DiffusionConfig): DiffusionSchedule {
  return makeSchedule(cfg.schedule, cfg.timesteps, { betaStart: cfg.betaStart, betaEnd: cfg.betaEnd });
}

/**
 * Train the latent denoiser on latents [K, d] (docs/diffusion.md#training): per iteration x0 = B latents drawn
 * uniformly with replacement, t ~ U{0..T-1}, eps ~ N(0, I), x_t = qSample(x0, t, eps),
 * loss = MSE(eps_theta(x_t, t), eps); AdamW with cosine(steps, 0) or constant lr; optional EMA.
 * Draw order per iteration: B row indices, B timesteps, B d noise values; with conditions (opts.cond)
 * then B uniforms u_b, and row b trains on the null condition (zeros) where u_b < cfg.condDropout
 * (docs/conditioning.md#condition-dropout). Without conditions nothing else is drawn and
 * cfg.condDropout plays no part, so the run is the unconditional trainer's, bit for bit.
 * With cfg.latentScale 'std' the latents are divided by their overall (unbiased) std first.
 */
export function trainDiffusion(latents: Float32Array, K: number, d: number, cfg: DiffusionConfig, opts: DiffusionTrainOptions): DiffusionTrainResult {
  checkRows('trainDiffusion: latents', latents, K, d);
  checkKind(opts.resume, 'diffusion');
  const cond = opts.cond ?? null;
  const condDim = cond ? cond.dim : 0;
  if (cond) {
    if (!Number.isInteger(cond.dim) || cond.dim < 1) throw new ShapeError(`trainDiffusion: expected a condition width >= 1, got ${cond.dim}`);
    checkRows('trainDiffusion: conditions', cond.data, K, cond.dim);
  }
  const pDrop = cfg.condDropout;
  if (cond && !(pDrop >= 0 && pDrop < 1)) throw new ConfigError(`diffusion.condDropout: expected a number in [0, 1), got ${pDrop}`);
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

  const model = new LatentDenoiser({ d, channels: cfg.channels, kernel: cfg.kernel, condDim, rng, backend: be });
  model.train();
  const params = model.trainableParameters();
  const opt = new AdamW(params, { lr: cfg.lr, weightDecay: cfg.weightDecay });
  const ema = cfg.ema > 0 ? new EMA(params, cfg.ema) : null;
  // An unconditional run's state keeps the string it had before conditions existed (condDropout
  // plays no part in it), so states saved then still resume.
  // Likewise the kernel, while it is the only one there was (7).
  const { condDropout: _unused, kernel: _kernel, ...uncondCfg } = cfg;
  const stateCfg = cfg.kernel === 7 ? uncondCfg : { ...uncondCfg, kernel: cfg.kernel };
  const config = cond ? canonicalJson({ diffusion: cfg, K, d, condDim }) : canonicalJson({ diffusion: stateCfg, K, d });
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
  const cBuf = cond ? new Float32Array(B * condDim) : null;
  const cT = cond ? new Tensor(be.alloc(B * condDim), [B, condDim], be) : undefined;

  for (let step = start; step < cfg.steps; step++) {
    for (let b = 0; b < B; b++) rows[b] = rng.int(K);
    for (let b = 0; b < B; b++) ts[b] = rng.int(T);
    for (let i = 0; i < eps.length; i++) eps[i] = rng.normal();
    if (cond) {
      for (let b = 0; b < B; b++) {
        if (rng.uniform() < pDrop) cBuf!.fill(0, b * condDim, (b + 1) * condDim); // the null condition
        else cBuf!.set(cond.data.subarray(rows[b]! * condDim, (rows[b]! + 1) * condDim), b * condDim);
      }
      be.write(cT!.storage, cBuf!);
    }
    for (let b = 0; b < B; b++) x0.set(data.subarray(rows[b]! * d, rows[b]! * d + d), b * d);
    sched.qSample(x0, ts, eps, B, d, xt);
    be.write(xT.storage, xt);
    be.write(epsT.storage, eps);
    const loss = ops.mseLoss(model.forward(xT, ts, cT), epsT);
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
