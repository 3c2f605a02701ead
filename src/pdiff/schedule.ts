/**
 * Gaussian diffusion noise schedules and the closed forms of the forward process
 * (Ho et al. 2020, "DDPM"; Nichol & Dhariwal 2021 for the cosine schedule). Names follow
 * openai/improved-diffusion (gaussian_diffusion.py). Every table is precomputed once in float64.
 *
 * A named schedule, once published, is never changed, only added to: stored runs name their
 * schedule, and a silent change would alter every model trained or sampled with it.
 */
import { ConfigError, ShapeError } from '../util/errors.js';

/** Names of the published schedules. */
export type ScheduleName = 'linear' | 'cosine';

export interface ScheduleArgs {
  /** beta_0 of the linear schedule (default 1e-4; docs/diffusion.md#schedule). Ignored by 'cosine'. */
  betaStart: number;
  /** beta_{T-1} of the linear schedule (default 0.02). Ignored by 'cosine'. */
  betaEnd: number;
}

/** Posterior q(x_{t-1} | x_t, x_0) of rows of x: mean per element, variance per row. */
export interface QPosterior {
  /** posteriorMeanCoef1_t x0 + posteriorMeanCoef2_t xt, same layout as x0. */
  mean: Float32Array;
  /** beta_t (1 - abar_{t-1}) / (1 - abar_t), one value per row. */
  variance: Float64Array;
  /** log of the variance, with t = 0 clipped to the value at t = 1 (improved-diffusion). */
  logVariance: Float64Array;
}

/** The tables of a T-step schedule, t = 0..T-1 (abar_{-1} = 1). */
export class DiffusionSchedule {
  readonly betas: Float64Array;
  readonly alphas: Float64Array;
  /** abar_t = prod_{s <= t} alpha_s */
  readonly alphasCumprod: Float64Array;
  /** abar_{t-1}, with abar_{-1} = 1 */
  readonly alphasCumprodPrev: Float64Array;
  readonly sqrtAlphasCumprod: Float64Array;
  readonly sqrtOneMinusAlphasCumprod: Float64Array;
  /** sigma_t^2 = beta_t (1 - abar_{t-1}) / (1 - abar_t) (DDPM eq. 7); 0 at t = 0. */
  readonly posteriorVariance: Float64Array;
  /** log(posteriorVariance) with entry 0 replaced by entry 1 (the t = 0 variance is 0). */
  readonly posteriorLogVarianceClipped: Float64Array;
  /** beta_t sqrt(abar_{t-1}) / (1 - abar_t): weight of x0 in the posterior mean (DDPM eq. 7). */
  readonly posteriorMeanCoef1: Float64Array;
  /** (1 - abar_{t-1}) sqrt(alpha_t) / (1 - abar_t): weight of x_t in the posterior mean. */
  readonly posteriorMeanCoef2: Float64Array;

  /** Build the derived tables from betas (each in (0, 1]). */
  constructor(readonly name: ScheduleName, betas: Float64Array) {
    const T = betas.length;
    if (T < 2) throw new ConfigError(`diffusion schedule "${name}": expected at least 2 timesteps, got ${T}`);
    for (let t = 0; t < T; t++) {
      const b = betas[t]!;
      if (!(b > 0 && b <= 1)) throw new ConfigError(`diffusion schedule "${name}": expected every beta in (0, 1], got beta_${t} = ${b}`);
    }
    this.betas = betas;
    this.alphas = new Float64Array(T);
    this.alphasCumprod = new Float64Array(T);
    this.alphasCumprodPrev = new Float64Array(T);
    this.sqrtAlphasCumprod = new Float64Array(T);
    this.sqrtOneMinusAlphasCumprod = new Float64Array(T);
    this.posteriorVariance = new Float64Array(T);
    this.posteriorLogVarianceClipped = new Float64Array(T);
    this.posteriorMeanCoef1 = new Float64Array(T);
    this.posteriorMeanCoef2 = new Float64Array(T);
    let prod = 1;
    for (let t = 0; t < T; t++) {
      const beta = betas[t]!;
      const alpha = 1 - beta;
      const prev = prod;
      prod *= alpha;
      this.alphas[t] = alpha;
      this.alphasCumprod[t] = prod;
      this.alphasCumprodPrev[t] = prev;
      this.sqrtAlphasCumprod[t] = Math.sqrt(prod);
      this.sqrtOneMinusAlphasCumprod[t] = Math.sqrt(1 - prod);
      this.posteriorVariance[t] = (beta * (1 - prev)) / (1 - prod);
      this.posteriorMeanCoef1[t] = (beta * Math.sqrt(prev)) / (1 - prod);
      this.posteriorMeanCoef2[t] = ((1 - prev) * Math.sqrt(alpha)) / (1 - prod);
    }
    for (let t = 0; t < T; t++) {
      this.posteriorLogVarianceClipped[t] = Math.log(this.posteriorVariance[t === 0 ? 1 : t]!);
    }
  }

  /** Number of timesteps T. */
  get T(): number { return this.betas.length; }

  /**
   * Diffuse rows of x0 to their timesteps (DDPM eq. 4):
   * out[r] = sqrt(abar_{t_r}) x0[r] + sqrt(1 - abar_{t_r}) eps[r]. x0, eps, out: [rows, cols];
   * out may alias x0 or eps.
   */
  qSample(x0: Float32Array, t: Int32Array, eps: Float32Array, rows: number, cols: number, out: Float32Array): Float32Array {
    const n = rows * cols;
    if (x0.length < n || eps.length < n || out.length < n || t.length < rows) {
      throw new ShapeError(`qSample: expected x0, eps and out with ${rows} x ${cols} = ${n} values and ${rows} timesteps, got ${x0.length}, ${eps.length}, ${out.length} values and ${t.length} timesteps`);
    }
    for (let r = 0; r < rows; r++) {
      const tr = this.checkT(t[r]!, 'qSample');
      const a = this.sqrtAlphasCumprod[tr]!, s = this.sqrtOneMinusAlphasCumprod[tr]!;
      const o = r * cols;
      for (let c = o; c < o + cols; c++) out[c] = a * x0[c]! + s * eps[c]!;
    }
    return out;
  }

  /**
   * Mean and variance of q(x_{t-1} | x_t, x_0) (DDPM eqs. 6-7). With `t` a number, x0 and xt
   * are one row; with one timestep per row, x0 and xt are [t.length, cols].
   */
  qPosterior(x0: Float32Array, xt: Float32Array, t: number | ArrayLike<number>): QPosterior {
    const ts = typeof t === 'number' ? [t] : t;
    const rows = ts.length;
    if (rows === 0 || x0.length !== xt.length || x0.length % rows !== 0) {
      throw new ShapeError(`qPosterior: expected x0 and xt of equal length divisible by the ${rows} timesteps, got ${x0.length} and ${xt.length}`);
    }
    const cols = x0.length / rows;
    const mean = new Float32Array(x0.length);
    const variance = new Float64Array(rows), logVariance = new Float64Array(rows);
    for (let r = 0; r < rows; r++) {
      const tr = this.checkT(ts[r]!, 'qPosterior');
      const c1 = this.posteriorMeanCoef1[tr]!, c2 = this.posteriorMeanCoef2[tr]!;
      const o = r * cols;
      for (let c = o; c < o + cols; c++) mean[c] = c1 * x0[c]! + c2 * xt[c]!;
      variance[r] = this.posteriorVariance[tr]!;
      logVariance[r] = this.posteriorLogVarianceClipped[tr]!;
    }
    return { mean, variance, logVariance };
  }

  /** t as an index into the tables, or a ShapeError naming the caller. */
  checkT(t: number, where: string): number {
    if (!Number.isInteger(t) || t < 0 || t >= this.betas.length) {
      throw new ShapeError(`${where}: expected an integer timestep in [0, ${this.betas.length - 1}], got ${t}`);
    }
    return t;
  }
}

/** beta_t linear from betaStart to betaEnd over t = 0..T-1 (numpy.linspace, float64). */
export function linearBetas(T: number, betaStart: number, betaEnd: number): Float64Array {
  const b = new Float64Array(T);
  const step = (betaEnd - betaStart) / (T - 1);
  for (let t = 0; t < T; t++) b[t] = betaStart + t * step;
  b[T - 1] = betaEnd;
  return b;
}

/**
 * Nichol & Dhariwal (2021) eq. 17: abar(t) = cos((t/T + s)/(1 + s) pi/2)^2 with s = 0.008;
 * beta_t = min(1 - abar((t+1)/T) / abar(t/T), 0.999).
 */
export function cosineBetas(T: number, s = 0.008, maxBeta = 0.999): Float64Array {
  const abar = (u: number): number => Math.cos(((u + s) / (1 + s)) * (Math.PI / 2)) ** 2;
  const b = new Float64Array(T);
  for (let t = 0; t < T; t++) b[t] = Math.min(1 - abar((t + 1) / T) / abar(t / T), maxBeta);
  return b;
}

/** The schedule `name` with T steps. */
export function makeSchedule(name: ScheduleName, T: number, args: ScheduleArgs): DiffusionSchedule {
  if (!Number.isInteger(T) || T < 2) throw new ConfigError(`diffusion.timesteps: expected an integer >= 2, got ${T}`);
  switch (name) {
    case 'linear':
      if (!(args.betaStart > 0 && args.betaEnd > args.betaStart && args.betaEnd < 1)) {
        throw new ConfigError(`diffusion.betaStart/betaEnd: expected 0 < betaStart < betaEnd < 1, got ${args.betaStart}, ${args.betaEnd}`);
      }
      return new DiffusionSchedule('linear', linearBetas(T, args.betaStart, args.betaEnd));
    case 'cosine':
      return new DiffusionSchedule('cosine', cosineBetas(T));
    default:
      throw new ConfigError(`diffusion.schedule: expected "linear" or "cosine", got "${String(name)}"`);
  }
}
