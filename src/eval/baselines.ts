/**
 * Cheap baselines for generated parameters (docs/evaluation.md#baselines, from the memorisation critique of
 * parameter diffusion). Each works on a stack of checkpoints ckpts [K, total] (row-major, one
 * flattened subset per row, layout order) and returns a new stack [count, total]. All draws come
 * from the Rng passed in, in a fixed order, so a seed reproduces the sets exactly. Statistics are
 * accumulated in float64.
 *
 * - noise_s:   a checkpoint drawn uniformly with replacement; each tensor z-scored with its OWN
 *              mean and unbiased std, s N(0, 1) added, z-scoring inverted.
 * - avg{m}:    the mean of m distinct randomly chosen checkpoints.
 * - gauss_fit: per coordinate j, N(mean_j, std_j^2) with mean/unbiased std over the K checkpoints.
 * - ensemble:  the uniform mean of all K checkpoints (one set; the official code's "ensemble").
 */
import type { Rng } from '../tensor/random.js';
import { ConfigError, ShapeError } from '../util/errors.js';

/**
 * The evaluation groups of a run, in the order of its summary: the checkpoints, their ensemble,
 * the AE's reconstructions, the generated sets, then (with baselines on) noise_s per scale, avg16
 * and gauss_fit.
 */
export function evalGroupNames(e: { baselines: boolean; noiseScales: readonly number[] }): string[] {
  const names = ['original', 'ensemble', 'ae_recon', 'generated'];
  if (e.baselines) names.push(...e.noiseScales.map((s) => `noise_${s}`), 'avg16', 'gauss_fit');
  return names;
}

/** The part of a ParamLayout the noise baseline needs (where each tensor lives in a row). */
export interface TensorSpans {
  readonly names: readonly string[];
  readonly offsets: readonly number[];
  readonly sizes: readonly number[];
  readonly total: number;
}

function checkStack(where: string, ckpts: Float32Array, K: number, total: number): void {
  if (!(Number.isInteger(K) && K >= 1) || !(Number.isInteger(total) && total >= 1)) {
    throw new ShapeError(`${where}: K and total must be positive integers, got K=${K}, total=${total}`);
  }
  if (ckpts.length !== K * total) {
    throw new ShapeError(`${where}: expected checkpoints [K=${K}, total=${total}] (${K * total} floats), got ${ckpts.length}`);
  }
}

function checkCount(where: string, count: number): void {
  if (!(Number.isInteger(count) && count >= 0)) throw new ConfigError(`${where}: count must be a non-negative integer, got ${count}`);
}

/**
 * noise_s: `count` sets, each a checkpoint drawn uniformly with replacement whose tensors are
 * perturbed in their own units: z = (w - m) / sd, z += scale N(0, 1), w = z sd + m, with m and sd
 * the tensor's mean and unbiased standard deviation within that checkpoint. A tensor with a
 * single element or constant values has no spread; it takes sd = 1, as in the Normalizer.
 * Draw order per set: the checkpoint index, then one normal per coordinate in layout order.
 */
export function noiseBaseline(ckpts: Float32Array, K: number, layout: TensorSpans, scale: number, count: number, rng: Rng): Float32Array {
  const total = layout.total;
  checkStack('noiseBaseline', ckpts, K, total);
  checkCount('noiseBaseline', count);
  if (!(Number.isFinite(scale) && scale >= 0)) throw new ConfigError(`noiseBaseline: scale must be a finite number >= 0, got ${scale}`);
  const last = layout.offsets.length - 1;
  if (last < 0 || layout.offsets[last]! + layout.sizes[last]! !== total) {
    throw new ShapeError(`noiseBaseline: the layout's tensors (${layout.names.join(', ')}) do not cover total = ${total}`);
  }
  const out = new Float32Array(count * total);
  for (let r = 0; r < count; r++) {
    const src = rng.int(K) * total;
    const dst = r * total;
    for (let t = 0; t < layout.offsets.length; t++) {
      const off = layout.offsets[t]!, n = layout.sizes[t]!;
      let s = 0;
      for (let i = 0; i < n; i++) s += ckpts[src + off + i]!;
      const m = s / n;
      let ss = 0;
      for (let i = 0; i < n; i++) {
        const d = ckpts[src + off + i]! - m;
        ss += d * d;
      }
      const sdRaw = n > 1 ? Math.sqrt(ss / (n - 1)) : 0;
      const sd = sdRaw > 0 ? sdRaw : 1;
      for (let i = 0; i < n; i++) {
        const z = (ckpts[src + off + i]! - m) / sd + scale * rng.normal();
        out[dst + off + i] = z * sd + m;
      }
    }
  }
  return out;
}

/**
 * avg{of}: `count` sets, each the mean of `of` distinct checkpoints drawn without replacement
 * (Rng.choiceWithoutReplacement), accumulated in float64.
 */
export function averageBaseline(ckpts: Float32Array, K: number, total: number, of = 16, count: number, rng: Rng): Float32Array {
  checkStack('averageBaseline', ckpts, K, total);
  checkCount('averageBaseline', count);
  if (!(Number.isInteger(of) && of >= 1 && of <= K)) {
    throw new ConfigError(`averageBaseline: 'of' must be an integer in [1, K=${K}] (distinct checkpoints per average), got ${of}`);
  }
  const out = new Float32Array(count * total);
  const acc = new Float64Array(total);
  for (let r = 0; r < count; r++) {
    const picks = rng.choiceWithoutReplacement(K, of);
    acc.fill(0);
    for (let q = 0; q < of; q++) {
      const src = picks[q]! * total;
      for (let j = 0; j < total; j++) acc[j] = acc[j]! + ckpts[src + j]!;
    }
    const dst = r * total;
    for (let j = 0; j < total; j++) out[dst + j] = acc[j]! / of;
  }
  return out;
}

/** Per-coordinate mean and unbiased standard deviation over the K checkpoints (float64). */
export function coordinateMoments(ckpts: Float32Array, K: number, total: number): { mean: Float64Array; std: Float64Array } {
  checkStack('coordinateMoments', ckpts, K, total);
  const mean = new Float64Array(total);
  const std = new Float64Array(total);
  for (let k = 0; k < K; k++) {
    const src = k * total;
    for (let j = 0; j < total; j++) mean[j] = mean[j]! + ckpts[src + j]!;
  }
  for (let j = 0; j < total; j++) mean[j] = mean[j]! / K;
  if (K > 1) {
    for (let k = 0; k < K; k++) {
      const src = k * total;
      for (let j = 0; j < total; j++) {
        const d = ckpts[src + j]! - mean[j]!;
        std[j] = std[j]! + d * d;
      }
    }
    for (let j = 0; j < total; j++) std[j] = Math.sqrt(std[j]! / (K - 1));
  }
  return { mean, std };
}

/**
 * gauss_fit: `count` sets drawn coordinate-wise from N(mean_j, std_j^2), mean and unbiased std
 * over the K checkpoints (K >= 2). Draw order: one normal per coordinate, set by set.
 */
export function gaussFitBaseline(ckpts: Float32Array, K: number, total: number, count: number, rng: Rng): Float32Array {
  checkStack('gaussFitBaseline', ckpts, K, total);
  checkCount('gaussFitBaseline', count);
  if (K < 2) throw new ConfigError(`gaussFitBaseline: the unbiased std needs at least 2 checkpoints, got K=${K}`);
  const { mean, std } = coordinateMoments(ckpts, K, total);
  const out = new Float32Array(count * total);
  for (let r = 0; r < count; r++) {
    const dst = r * total;
    for (let j = 0; j < total; j++) out[dst + j] = mean[j]! + std[j]! * rng.normal();
  }
  return out;
}

/** ensemble: the uniform mean of all K checkpoints, as a stack of one set [1, total]. */
export function ensembleAverage(ckpts: Float32Array, K: number, total: number): Float32Array {
  const { mean } = coordinateMoments(ckpts, K, total);
  return Float32Array.from(mean);
}
