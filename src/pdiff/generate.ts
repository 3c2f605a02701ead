/**
 * Sampling latents with a trained denoiser (docs/diffusion.md#generation): DDPM or DDIM, in
 * batches, scaled back by the trainer's latent scale.
 */
import type { GenerateConfig } from '../config/index.js';
import type { Rng } from '../tensor/random.js';
import { ConfigError, ShapeError } from '../util/errors.js';
import { Progress } from '../util/progress.js';
import type { LatentDenoiser } from './denoiser.js';
import { conditionRows } from './condition.js';
import { ddimSampleLoop, denoiserEpsModel, guidedEpsModel, pSampleLoop } from './samplers.js';
import type { DiffusionSchedule } from './schedule.js';

export interface GenerateLatentsOptions {
  progress?: boolean;
  /**
   * Conditions of a conditional denoiser (docs/conditioning.md): one [condDim] for every sample or
   * one per sample [n, condDim]; sampled with classifier-free guidance at cfg.guidance. Required
   * by a conditional denoiser, refused by an unconditional one.
   */
  cond?: Float32Array;
}

/**
 * Sample n latents [n, d] with the denoiser (eval mode) in batches of cfg.batchSize, with the DDPM
 * or DDIM sampler, and multiply them by `latentScale` (the trainer's scale; 1 = none). A
 * conditional denoiser samples row i under condition i with guidance cfg.guidance; the random
 * draws are the same as an unconditional run's (guidance draws nothing).
 */
export function generateLatents(model: LatentDenoiser, sched: DiffusionSchedule, n: number, d: number, cfg: GenerateConfig, rng: Rng, latentScale = 1,
  opts: GenerateLatentsOptions = {}): Float32Array {
  if (d !== model.d) throw new ShapeError(`generateLatents: the denoiser has latent size ${model.d}, got d = ${d}`);
  if (!Number.isInteger(n) || n < 1) throw new ShapeError(`generateLatents: expected a positive number of samples, got ${n}`);
  if (!(latentScale > 0)) throw new ConfigError(`generateLatents: expected a positive latentScale, got ${latentScale}`);
  const c = model.condDim;
  if (opts.cond && c === 0) throw new ConfigError('generateLatents: a condition was given, but the denoiser is unconditional (trained without conditions)');
  if (!opts.cond && c > 0) throw new ConfigError(`generateLatents: the denoiser is conditional (condDim ${c}); expected a condition ([${c}] for every sample, or [n, ${c}])`);
  const conds = opts.cond ? conditionRows(opts.cond, c, n, 'generateLatents: cond') : null;
  const plain = conds ? null : denoiserEpsModel(model);
  const out = new Float32Array(n * d);
  const per = cfg.sampler === 'ddim' ? cfg.ddimSteps : sched.T;
  const prog = new Progress({ label: `sample ${cfg.sampler}`, total: Math.ceil(n / cfg.batchSize) * per, enabled: opts.progress === true });
  const onStep = (): void => prog.tick(1);
  for (let r = 0; r < n; r += cfg.batchSize) {
    const m = Math.min(cfg.batchSize, n - r);
    const eps = conds ? guidedEpsModel(model, conds.subarray(r * c, (r + m) * c), cfg.guidance) : plain!;
    const x = cfg.sampler === 'ddim'
      ? ddimSampleLoop(sched, eps, m, d, rng, { steps: cfg.ddimSteps, eta: cfg.eta, onStep })
      : pSampleLoop(sched, eps, m, d, rng, { onStep });
    if (latentScale !== 1) for (let i = 0; i < x.length; i++) x[i] = x[i]! * latentScale;
    out.set(x, r * d);
  }
  prog.done();
  return out;
}
