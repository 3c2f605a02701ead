/**
 * Reverse-process samplers: DDPM ancestral sampling (Ho et al. 2020, Algorithm 2) and DDIM
 * (Song et al. 2021, eq. 12). Written in the style of diffusers' schedulers: a step is a pure
 * function of (model output, sample, timestep) in numbered, equation-cited steps, and returns a
 * typed result. The model is an `EpsModel` over plain arrays, so loops are testable with a dummy.
 *
 * Arithmetic is float64 per element; samples are stored as float32 between steps.
 */
import { noGrad, scope, Tensor } from '../tensor/tensor.js';
import type { Rng } from '../tensor/random.js';
import { ConfigError, ShapeError } from '../util/errors.js';
import type { LatentDenoiser } from './denoiser.js';
import type { DiffusionSchedule } from './schedule.js';

/**
 * A noise predictor over n rows of d values, all at timestep t. It may return a buffer that it
 * reuses on the next call (callers read it before calling again) and must not keep `x`.
 */
export type EpsModel = (x: Float32Array /* [n, d] */, t: number, n: number, d: number) => Float32Array; // [n, d]

/** Result of one reverse step. */
export interface StepResult {
  /** x_{t-1} (DDPM) or x at the previous listed timestep (DDIM), [n, d]. */
  prevSample: Float32Array;
  /** The model's estimate of x_0 at this step, [n, d]. */
  predX0: Float32Array;
}

/** Optional output buffers; `prevSample` may alias the input x (the update is elementwise). */
export interface StepBuffers {
  prevSample?: Float32Array;
  predX0?: Float32Array;
}

/** Called after every step with the timestep just taken and the new sample (do not keep it). */
export type OnStep = (t: number, sample: Float32Array, stepIndex: number) => void;

function checkStep(where: string, eps: Float32Array, x: Float32Array, noise: Float32Array | null, out: StepBuffers): void {
  const n = x.length;
  if (eps.length !== n) throw new ShapeError(`${where}: expected the model output to have ${n} values like the sample, got ${eps.length}`);
  if (noise && noise.length !== n) throw new ShapeError(`${where}: expected ${n} noise values, got ${noise.length}`);
  if (out.prevSample && out.prevSample.length !== n) throw new ShapeError(`${where}: expected a prevSample buffer of ${n} values, got ${out.prevSample.length}`);
  if (out.predX0 && out.predX0.length !== n) throw new ShapeError(`${where}: expected a predX0 buffer of ${n} values, got ${out.predX0.length}`);
}

/**
 * One DDPM ancestral step from x_t to x_{t-1}:
 * 1. predX0 = (x_t - sqrt(1 - abar_t) eps) / sqrt(abar_t)                     (DDPM eq. 15)
 * 2. mean   = (x_t - beta_t / sqrt(1 - abar_t) eps) / sqrt(alpha_t)           (DDPM eq. 11)
 * 3. x_{t-1} = mean + sigma_t z, sigma_t^2 = beta_t (1 - abar_{t-1}) / (1 - abar_t) (eq. 7);
 *    no noise at t = 0 (`noise` is ignored there and may be null).
 */
export function ddpmStep(sched: DiffusionSchedule, epsPred: Float32Array, x: Float32Array, t: number, noise: Float32Array | null, out: StepBuffers = {}): StepResult {
  sched.checkT(t, 'ddpmStep');
  checkStep('ddpmStep', epsPred, x, noise, out);
  if (t > 0 && !noise) throw new ShapeError(`ddpmStep: expected noise z for t = ${t} > 0, got null`);
  const n = x.length;
  const prevSample = out.prevSample ?? new Float32Array(n);
  const predX0 = out.predX0 ?? new Float32Array(n);
  const sqrtAbar = sched.sqrtAlphasCumprod[t]!, sqrt1mAbar = sched.sqrtOneMinusAlphasCumprod[t]!;
  const epsCoef = sched.betas[t]! / sqrt1mAbar;
  const invSqrtAlpha = 1 / Math.sqrt(sched.alphas[t]!);
  const sigma = t > 0 ? Math.sqrt(sched.posteriorVariance[t]!) : 0;
  for (let i = 0; i < n; i++) {
    const xi = x[i]!, ei = epsPred[i]!;
    predX0[i] = (xi - sqrt1mAbar * ei) / sqrtAbar; // 1.
    const mean = (xi - epsCoef * ei) * invSqrtAlpha; // 2.
    prevSample[i] = sigma > 0 ? mean + sigma * noise![i]! : mean; // 3.
  }
  return { prevSample, predX0 };
}

/**
 * DDPM ancestral sampling (DDPM Algorithm 2): x_T ~ N(0, I) [n, d] from `rng` (row-major),
 * then for t = T-1..0: eps = model(x, t); z ~ N(0, I) from `rng` (n d draws, row-major; none at
 * t = 0); x = ddpmStep(...). Returns x_0 [n, d].
 */
export function pSampleLoop(sched: DiffusionSchedule, model: EpsModel, n: number, d: number, rng: Rng, opts: { onStep?: OnStep } = {}): Float32Array {
  checkDims('pSampleLoop', n, d);
  const x = rng.fillNormal(new Float32Array(n * d)) as Float32Array;
  const z = new Float32Array(n * d);
  const predX0 = new Float32Array(n * d);
  const bufs: StepBuffers = { prevSample: x, predX0 };
  for (let t = sched.T - 1, k = 0; t >= 0; t--, k++) {
    const eps = model(x, t, n, d);
    if (t > 0) rng.fillNormal(z);
    ddpmStep(sched, eps, x, t, t > 0 ? z : null, bufs);
    opts.onStep?.(t, x, k);
  }
  return x;
}

/** Round half to even, as numpy.round does. */
function roundHalfEven(v: number): number {
  const r = Math.round(v);
  return Math.abs(v % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/**
 * The DDIM timesteps: round(linspace(0, T-1, steps)) (numpy rounding), ascending. Sampling
 * walks them in reverse.
 */
export function ddimTimesteps(T: number, steps: number): Int32Array {
  if (!Number.isInteger(steps) || steps < 1 || steps > T) throw new ConfigError(`generate.ddimSteps: expected an integer in [1, ${T}] (diffusion.timesteps), got ${steps}`);
  const ts = new Int32Array(steps);
  if (steps === 1) return ts;
  const step = (T - 1) / (steps - 1);
  for (let i = 0; i < steps; i++) ts[i] = roundHalfEven(i * step);
  ts[steps - 1] = T - 1;
  return ts;
}

/**
 * One DDIM step from timestep t to tPrev (tPrev = -1 after the last listed timestep, where
 * abar_prev = 1) (DDIM eq. 12):
 * 1. predX0 = (x - sqrt(1 - abar_t) eps) / sqrt(abar_t)
 * 2. s = eta sqrt((1 - abar_prev) / (1 - abar_t) (1 - abar_t / abar_prev))   (eq. 16)
 * 3. x_prev = sqrt(abar_prev) predX0 + sqrt(1 - abar_prev - s^2) eps + s z
 *    (`noise` is needed only when s > 0 and may be null otherwise).
 */
export function ddimStep(sched: DiffusionSchedule, epsPred: Float32Array, x: Float32Array, t: number, tPrev: number, eta: number, noise: Float32Array | null, out: StepBuffers = {}): StepResult {
  sched.checkT(t, 'ddimStep');
  if (tPrev !== -1) sched.checkT(tPrev, 'ddimStep (tPrev)');
  if (tPrev >= t) throw new ShapeError(`ddimStep: expected tPrev < t, got t = ${t}, tPrev = ${tPrev}`);
  checkStep('ddimStep', epsPred, x, noise, out);
  const n = x.length;
  const prevSample = out.prevSample ?? new Float32Array(n);
  const predX0 = out.predX0 ?? new Float32Array(n);
  const abar = sched.alphasCumprod[t]!;
  const abarPrev = tPrev >= 0 ? sched.alphasCumprod[tPrev]! : 1;
  const sqrtAbar = Math.sqrt(abar), sqrt1mAbar = Math.sqrt(1 - abar);
  const s = ddimSigma(abar, abarPrev, eta); // 2.
  if (s > 0 && !noise) throw new ShapeError(`ddimStep: expected noise z for eta = ${eta} at t = ${t}, got null`);
  const a = Math.sqrt(abarPrev);
  const b = Math.sqrt(Math.max(0, 1 - abarPrev - s * s));
  for (let i = 0; i < n; i++) {
    const ei = epsPred[i]!;
    const x0 = (x[i]! - sqrt1mAbar * ei) / sqrtAbar; // 1.
    predX0[i] = x0;
    prevSample[i] = s > 0 ? a * x0 + b * ei + s * noise![i]! : a * x0 + b * ei; // 3.
  }
  return { prevSample, predX0 };
}

/** The DDIM noise scale s_t(eta) (DDIM eq. 16). */
export function ddimSigma(abar: number, abarPrev: number, eta: number): number {
  if (eta === 0) return 0;
  return eta * Math.sqrt(((1 - abarPrev) / (1 - abar)) * (1 - abar / abarPrev));
}

export interface DdimOptions {
  /** Number of timesteps (default 60), evenly spaced over [0, T-1] (docs/diffusion.md#ddim). */
  steps?: number;
  /** 0 = deterministic DDIM; 1 = DDPM-like variance. */
  eta?: number;
  onStep?: OnStep;
}

/**
 * DDIM sampling: x_T ~ N(0, I) [n, d] from `rng`, then ddimStep over ddimTimesteps(T, steps) in
 * reverse; z ~ N(0, I) (n d draws) only at steps where s > 0. Returns x_0 [n, d].
 */
export function ddimSampleLoop(sched: DiffusionSchedule, model: EpsModel, n: number, d: number, rng: Rng, opts: DdimOptions = {}): Float32Array {
  checkDims('ddimSampleLoop', n, d);
  const eta = opts.eta ?? 0;
  if (!(eta >= 0 && eta <= 1)) throw new ConfigError(`generate.eta: expected a number in [0, 1], got ${eta}`);
  const ts = ddimTimesteps(sched.T, opts.steps ?? 60);
  const x = rng.fillNormal(new Float32Array(n * d)) as Float32Array;
  const z = new Float32Array(n * d);
  const predX0 = new Float32Array(n * d);
  const bufs: StepBuffers = { prevSample: x, predX0 };
  for (let i = ts.length - 1, k = 0; i >= 0; i--, k++) {
    const t = ts[i]!, tPrev = i > 0 ? ts[i - 1]! : -1;
    const eps = model(x, t, n, d);
    const s = ddimSigma(sched.alphasCumprod[t]!, tPrev >= 0 ? sched.alphasCumprod[tPrev]! : 1, eta);
    if (s > 0) rng.fillNormal(z);
    ddimStep(sched, eps, x, t, tPrev, eta, s > 0 ? z : null, bufs);
    opts.onStep?.(t, x, k);
  }
  return x;
}

function checkDims(where: string, n: number, d: number): void {
  if (!Number.isInteger(n) || n <= 0 || !Number.isInteger(d) || d <= 0) throw new ShapeError(`${where}: expected positive integer n and d, got n = ${n}, d = ${d}`);
}

/**
 * The denoiser as an EpsModel: eval mode (BN running statistics), no tape, one time embedding
 * per call broadcast over rows; the input tensor and the returned array are reused between calls
 * with the same n (the returned array is overwritten by the next call).
 */
export function denoiserEpsModel(denoiser: LatentDenoiser): EpsModel {
  if (denoiser.condDim > 0) throw new ConfigError(`denoiserEpsModel: the denoiser is conditional (condDim ${denoiser.condDim}); sample it through guidedEpsModel with a condition`);
  const be = denoiser.backend;
  let input: Tensor | null = null;
  let output = new Float32Array(0);
  denoiser.eval();
  return (x, t, n, d) => {
    if (d !== denoiser.d || x.length !== n * d) throw new ShapeError(`denoiserEpsModel: expected x [${n}, ${denoiser.d}] (${n * denoiser.d} values), got d = ${d} and ${x.length} values`);
    if (denoiser.training) denoiser.eval();
    if (!input || input.shape[0] !== n) {
      input = new Tensor(be.alloc(n * d), [n, d], be);
      output = new Float32Array(n * d);
    }
    be.write(input.storage, x);
    const inp = input;
    scope(() => { // the pass's tensors go back to the pool when it ends
      const y = noGrad(() => denoiser.forward(inp, t));
      output.set(be.hostView(y.storage) ?? be.read(y.storage)); // no copy where y is on the host
    });
    return output;
  };
}

/**
 * A conditional denoiser as an EpsModel with classifier-free guidance (docs/conditioning.md#guidance):
 * eps = eps(x, t, null) + w (eps(x, t, c) - eps(x, t, null)), in float64 per element, for the n
 * rows of `cond` [n, condDim] (row i of x gets condition row i; the null condition is zeros).
 * w = 1 is the plain conditional model and w = 0 the null-conditioned (unconditional) one: both
 * take one forward pass and return its output unchanged. Any other w evaluates both branches in
 * one forward of 2n rows (x with the conditions, then x with the null condition). Eval mode, no
 * tape, buffers reused between calls as in denoiserEpsModel.
 */
export function guidedEpsModel(denoiser: LatentDenoiser, cond: Float32Array, guidance: number): EpsModel {
  const c = denoiser.condDim, d = denoiser.d, be = denoiser.backend;
  if (c === 0) throw new ConfigError('guidedEpsModel: the denoiser is unconditional (condDim 0) and takes no condition');
  if (!(Number.isFinite(guidance) && guidance >= 0)) throw new ConfigError(`generate.guidance: expected a finite number >= 0, got ${guidance}`);
  if (cond.length === 0 || cond.length % c !== 0) throw new ShapeError(`guidedEpsModel: expected conditions [n, ${c}] (a positive multiple of ${c} values), got ${cond.length} values`);
  const n = cond.length / c;
  const w = guidance;
  const both = w !== 0 && w !== 1;
  const rows = both ? 2 * n : n;
  const condHost = new Float32Array(rows * c); // zeros: the null condition where not overwritten
  if (w !== 0) condHost.set(cond);
  const condT = new Tensor(be.fromArray(condHost), [rows, c], be);
  const input = new Tensor(be.alloc(rows * d), [rows, d], be);
  const output = new Float32Array(n * d);
  denoiser.eval();
  return (x, t, nx, dx) => {
    if (dx !== d || nx !== n || x.length !== n * d) throw new ShapeError(`guidedEpsModel: expected x [${n}, ${d}] (one row per condition, ${n * d} values), got n = ${nx}, d = ${dx} and ${x.length} values`);
    if (denoiser.training) denoiser.eval();
    be.write(input.storage, x);
    if (both) be.write(input.storage, x, n * d);
    scope(() => {
      const y = noGrad(() => denoiser.forward(input, t, condT));
      const yv = be.hostView(y.storage) ?? be.read(y.storage);
      if (!both) { output.set(yv); return; }
      const nd = n * d;
      for (let i = 0; i < nd; i++) {
        const ec = yv[i]!, en = yv[nd + i]!;
        output[i] = en + w * (ec - en);
      }
    });
    return output;
  };
}
