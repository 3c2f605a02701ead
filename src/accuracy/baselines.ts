/**
 * Baselines that would explain accuracy control away (docs/accuracy.md#baselines), each returning
 * parameter vectors for a prompt, scored like the generated models:
 * - nearest label: the zoo checkpoint(s) whose label is closest to the prompt. This is what
 *   memorisation gives: a generator that only reproduces its training set, asked for 85%, can at
 *   best return the checkpoint labelled nearest 85%. Above the best label it returns the best.
 * - nearest-label mean: the mean of those checkpoints. A new parameter vector (not a copy), made
 *   by the simplest smoothing of the zoo: what interpolating between neighbouring labels gives.
 * - ridge: a polynomial map of the normalised accuracy a' (the denoiser's condition, encodeAccuracy)
 *   to the parameters, fitted on every zoo row in closed form. Degree 1 is exactly a linear map of
 *   the condition vector [1, a']: the straight line through parameter space that best fits the zoo.
 *   It answers whether diffusion is needed at all to turn an accuracy into parameters.
 */
import { encodeAccuracy, type AccuracyScale } from '../pdiff/condition.js';
import { choleskySolve } from '../tasks/ridge.js';
import { ConfigError, NumericError, ShapeError } from '../util/errors.js';

/** The zoo rows a baseline is fitted on. */
export interface LabelledRows {
  /** [N, total]. */
  rows: Float32Array;
  /** [N] val accuracy (%) of each row. */
  labels: ArrayLike<number>;
  /** Floats per row. */
  total: number;
}

function rowCount(z: LabelledRows, where: string): number {
  const N = z.rows.length / z.total;
  if (!Number.isInteger(N) || N < 1 || z.labels.length !== N) throw new ShapeError(`${where}: expected rows [N, ${z.total}] and N labels, got ${z.rows.length} floats and ${z.labels.length} labels`);
  return N;
}

/** The rows chosen by {@link nearestLabel}. */
export interface NearestLabel {
  /** Zoo row indices, nearest label first (ties: the lower row). */
  indices: number[];
  /** Their labels. */
  labels: number[];
  /** Their parameters [count, total]. */
  rows: Float32Array;
}

/**
 * Nearest label: the `count` zoo rows whose labels are closest to `prompt` (|label - prompt|
 * ascending, the lower row index first on ties).
 * @throws ConfigError when count is not an integer in [1, N].
 */
export function nearestLabel(zoo: LabelledRows, prompt: number, count = 1): NearestLabel {
  const N = rowCount(zoo, 'nearestLabel');
  if (!Number.isInteger(count) || count < 1 || count > N) throw new ConfigError(`nearestLabel: count must be an integer in [1, ${N}], got ${count}`);
  if (!Number.isFinite(prompt)) throw new ConfigError(`nearestLabel: prompt must be a finite accuracy, got ${prompt}`);
  const order = Array.from({ length: N }, (_, i) => i).sort((a, b) => Math.abs(zoo.labels[a]! - prompt) - Math.abs(zoo.labels[b]! - prompt) || a - b);
  const indices = order.slice(0, count), t = zoo.total;
  const rows = new Float32Array(count * t);
  indices.forEach((r, j) => rows.set(zoo.rows.subarray(r * t, (r + 1) * t), j * t));
  return { indices, labels: indices.map((r) => zoo.labels[r]!), rows };
}

/**
 * Nearest-label mean: the mean [total] (summed in float64, nearest first) of the `count` rows
 * nearestLabel picks.
 */
export function nearestLabelMean(zoo: LabelledRows, prompt: number, count: number): Float32Array {
  const { rows } = nearestLabel(zoo, prompt, count);
  const t = zoo.total, acc = new Float64Array(t);
  for (let j = 0; j < count; j++) for (let c = 0; c < t; c++) acc[c] = acc[c]! + rows[j * t + c]!;
  const out = new Float32Array(t);
  for (let c = 0; c < t; c++) out[c] = acc[c]! / count;
  return out;
}

/** A fitted accuracy -> parameters map. */
export interface AccuracyRidge {
  /** [degree + 1, total]: row p the coefficient of a'^p. */
  weights: Float64Array;
  degree: number;
  total: number;
  lambda: number;
  /** The scale that maps an accuracy to a' (the zoo's label range). */
  scale: AccuracyScale;
}

/** [1, a', a'^2, ..., a'^degree] of an accuracy, a' = encodeAccuracy's normalised value. */
function features(acc: number, scale: AccuracyScale, degree: number): Float64Array {
  const a = encodeAccuracy(acc, scale, 'accuracy ridge')[1]!;
  const x = new Float64Array(degree + 1);
  x[0] = 1;
  for (let p = 1; p <= degree; p++) x[p] = x[p - 1]! * a;
  return x;
}

/**
 * Fit the ridge map on every zoo row: the weights W [degree + 1, total] minimise
 *
 *   (1 / N) sum_n ||phi(a'_n)^T W - y_n||^2 + lambda sum_{p >= 1} ||W_p||^2,   phi(a') = [1, a', ..., a'^degree]
 *
 * (the constant row is not penalised), so (Phi^T Phi / N + lambda D) W = Phi^T Y / N, D = diag(0, 1,
 * ..., 1), solved by Cholesky in float64. As lambda grows it becomes the mean of the zoo.
 * @throws ConfigError for a degree outside [1, 8] or a negative lambda, NumericError when the system is
 *   singular (fewer distinct labels than degree + 1 with lambda = 0).
 */
export function fitAccuracyRidge(args: { zoo: LabelledRows; scale: AccuracyScale; degree?: number; lambda?: number }): AccuracyRidge {
  const { zoo, scale } = args;
  const degree = args.degree ?? 1, lambda = args.lambda ?? 0;
  if (!Number.isInteger(degree) || degree < 1 || degree > 8) throw new ConfigError(`fitAccuracyRidge: degree must be an integer in [1, 8], got ${degree}`);
  if (!(lambda >= 0 && Number.isFinite(lambda))) throw new ConfigError(`fitAccuracyRidge: lambda must be a finite number >= 0, got ${lambda}`);
  const N = rowCount(zoo, 'fitAccuracyRidge'), total = zoo.total, n = degree + 1;
  const A = new Float64Array(n * n), B = new Float64Array(n * total);
  for (let r = 0; r < N; r++) {
    const x = features(zoo.labels[r]!, scale, degree), o = r * total;
    for (let a = 0; a < n; a++) {
      for (let b = 0; b < n; b++) A[a * n + b] = A[a * n + b]! + (x[a]! * x[b]!) / N;
      const xa = x[a]! / N, row = a * total;
      for (let c = 0; c < total; c++) B[row + c] = B[row + c]! + xa * zoo.rows[o + c]!;
    }
  }
  for (let p = 1; p < n; p++) A[p * n + p] = A[p * n + p]! + lambda;
  let weights: Float64Array;
  try {
    weights = choleskySolve(A, n, B, total);
  } catch (e) {
    if (e instanceof NumericError) throw new NumericError(`fitAccuracyRidge: the normal equations of degree ${degree} are singular with lambda = ${lambda} (${e.message}); raise lambda or lower the degree`);
    throw e;
  }
  return { weights, degree, total, lambda, scale: { ...scale } };
}

/** The ridge map's parameters for a target accuracy [total]: phi(a')^T W, rounded once to float32. */
export function accuracyRidgePredict(map: AccuracyRidge, acc: number): Float32Array {
  const x = features(acc, map.scale, map.degree), total = map.total, w = map.weights;
  const out = new Float32Array(total);
  for (let c = 0; c < total; c++) {
    let v = 0;
    for (let p = 0; p <= map.degree; p++) v += x[p]! * w[p * total + c]!;
    out[c] = v;
  }
  return out;
}
