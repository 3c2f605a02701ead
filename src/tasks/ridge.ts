/**
 * The ridge baseline (docs/tasks.md#baselines): a linear map from a task code to the generated
 * part, fitted on the zoo in closed form. A code is encoded as x = [1, s_0, ..., s_{C-1}] with
 * s_i = +1 where class i is positive and -1 where it is negative; every checkpoint of every seen
 * task is one sample (x of its code, y = its parameter vector). The weights W [C + 1, total] minimise
 *
 *   (1 / N) sum_n ||x_n^T W - y_n||^2 + lambda * sum_{i >= 1} ||W_i||^2      (N = tasks * k)
 *
 * (the bias row is not penalised), so (X^T X / N + lambda D) W = X^T Y / N, D = diag(0, 1, ..., 1):
 * one (C + 1) x (C + 1) symmetric positive definite system, solved by Cholesky in float64.
 */
import { NumericError, ShapeError } from '../util/errors.js';
import { codeSigns } from './codes.js';
import type { TaskZoo } from './zoo.js';

/**
 * Solve A X = B for a symmetric positive definite A [n, n] (row-major, only the lower triangle
 * is read) and B [n, m], by Cholesky (A = L L^T) and two triangular solves, in float64.
 * @throws NumericError when A is not positive definite (a pivot <= 0 or not finite).
 */
export function choleskySolve(A: Float64Array, n: number, B: Float64Array, m: number): Float64Array {
  if (A.length !== n * n) throw new ShapeError(`choleskySolve: A has ${A.length} entries, expected ${n} x ${n}`);
  if (B.length !== n * m) throw new ShapeError(`choleskySolve: B has ${B.length} entries, expected ${n} x ${m}`);
  const L = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j <= i; j++) {
      let s = A[i * n + j]!;
      for (let p = 0; p < j; p++) s -= L[i * n + p]! * L[j * n + p]!;
      if (i === j) {
        if (!(s > 0) || !Number.isFinite(s)) throw new NumericError(`choleskySolve: the matrix is not positive definite (pivot ${s} at row ${i})`);
        L[i * n + i] = Math.sqrt(s);
      } else {
        L[i * n + j] = s / L[j * n + j]!;
      }
    }
  }
  const X = Float64Array.from(B);
  // L Z = B (forward), then L^T X = Z (backward), all m columns at once.
  for (let i = 0; i < n; i++) {
    for (let p = 0; p < i; p++) {
      const l = L[i * n + p]!;
      for (let c = 0; c < m; c++) X[i * m + c] = X[i * m + c]! - l * X[p * m + c]!;
    }
    const d = L[i * n + i]!;
    for (let c = 0; c < m; c++) X[i * m + c] = X[i * m + c]! / d;
  }
  for (let i = n - 1; i >= 0; i--) {
    for (let p = i + 1; p < n; p++) {
      const l = L[p * n + i]!;
      for (let c = 0; c < m; c++) X[i * m + c] = X[i * m + c]! - l * X[p * m + c]!;
    }
    const d = L[i * n + i]!;
    for (let c = 0; c < m; c++) X[i * m + c] = X[i * m + c]! / d;
  }
  return X;
}

/** A fitted code -> parameters map. */
export interface RidgeMap {
  /** [classes + 1, total]: row 0 the bias, row 1 + i the weight of class i's sign. */
  weights: Float64Array;
  classes: number;
  total: number;
  lambda: number;
}

/**
 * Fit the ridge map on every checkpoint of the zoo (see the module comment).
 * @throws ShapeError for an empty zoo or a negative lambda, NumericError when the system is
 *   singular (too few distinct codes with lambda = 0: raise lambda).
 */
export function fitRidge(args: { zoo: TaskZoo; lambda: number }): RidgeMap {
  const { zoo, lambda } = args;
  if (!(lambda >= 0 && Number.isFinite(lambda))) throw new ShapeError(`fitRidge: lambda must be a finite number >= 0, got ${lambda}`);
  const T = zoo.codes.length, K = zoo.k, total = zoo.layout.total;
  if (T === 0) throw new ShapeError('fitRidge: the zoo has no tasks');
  const C = zoo.codes[0]!.length, n = C + 1, N = T * K;
  const A = new Float64Array(n * n), B = new Float64Array(n * total);
  const x = new Float64Array(n), ysum = new Float64Array(total);
  for (let t = 0; t < T; t++) {
    x[0] = 1;
    x.set(codeSigns(zoo.codes[t]!), 1);
    ysum.fill(0);
    for (let j = 0; j < K; j++) {
      const o = (t * K + j) * total;
      for (let c = 0; c < total; c++) ysum[c] = ysum[c]! + zoo.ckpts[o + c]!;
    }
    // every checkpoint of the task has the same x: K x x^T and x (sum of its y)
    for (let a = 0; a < n; a++) {
      for (let b = 0; b < n; b++) A[a * n + b] = A[a * n + b]! + (K * x[a]! * x[b]!) / N;
      for (let c = 0; c < total; c++) B[a * total + c] = B[a * total + c]! + (x[a]! * ysum[c]!) / N;
    }
  }
  for (let i = 1; i < n; i++) A[i * n + i] = A[i * n + i]! + lambda;
  let weights: Float64Array;
  try {
    weights = choleskySolve(A, n, B, total);
  } catch (e) {
    if (e instanceof NumericError) throw new NumericError(`fitRidge: the normal equations of ${T} codes are singular with lambda = ${lambda} (${e.message}); raise lambda or add codes`);
    throw e;
  }
  return { weights, classes: C, total, lambda };
}

/** The ridge map's parameters for `code` [total]: x(code)^T W, rounded once to float32. */
export function ridgePredict(map: RidgeMap, code: string): Float32Array {
  if (code.length !== map.classes) throw new ShapeError(`ridgePredict: code "${code}" has ${code.length} characters, the map was fitted on ${map.classes}`);
  const s = codeSigns(code), total = map.total, w = map.weights;
  const out = new Float32Array(total);
  for (let c = 0; c < total; c++) {
    let v = w[c]!;
    for (let i = 0; i < map.classes; i++) v += s[i]! * w[(i + 1) * total + c]!;
    out[c] = v;
  }
  return out;
}
