/**
 * The linear assignment problem on a dense square matrix (docs/seeds.md#the-assignment-solver):
 * find the permutation p maximising (or minimising) sum_i C[i][p[i]].
 *
 * The solver is the shortest-augmenting-path method with row and column potentials (Kuhn-Munkres
 * in the form of Jonker & Volgenant 1987, without their initialisation heuristics): rows are added
 * one at a time, and each addition runs a Dijkstra search over reduced costs C[i][j] - u[i] - v[j]
 * (never negative) to the nearest free column, then flips the path. O(n^3) time, O(n) memory beside
 * the matrix, float64 throughout. Strict comparisons break ties the same way every time, so the
 * result is a deterministic function of the matrix.
 */
import { NumericError, ShapeError } from '../util/errors.js';

export interface AssignmentResult {
  /** colOf[i]: the column assigned to row i (a permutation of 0..n-1). */
  colOf: Int32Array;
  /** sum_i C[i][colOf[i]], accumulated in row order. */
  total: number;
}

/**
 * Solve the assignment problem of the n x n matrix `c` (row-major). `maximize` (default false)
 * looks for the largest total instead of the smallest.
 * @throws ShapeError when c is not n x n, NumericError naming the entry for a NaN or infinity.
 */
export function solveAssignment(c: Float64Array | Float32Array, n: number, opts: { maximize?: boolean } = {}): AssignmentResult {
  if (!(Number.isInteger(n) && n >= 0) || c.length !== n * n) throw new ShapeError(`solveAssignment: expected an n x n matrix with n = ${n} (${n * n} entries), got ${c.length}`);
  for (let k = 0; k < c.length; k++) {
    if (!Number.isFinite(c[k]!)) throw new NumericError(`solveAssignment: entry [${Math.floor(k / n)}][${k % n}] is ${c[k]}, expected a finite number`);
  }
  const sign = opts.maximize ? -1 : 1;
  // 1-based with a virtual column 0 that holds the row being added (the classic formulation).
  const u = new Float64Array(n + 1), v = new Float64Array(n + 1);
  const rowOfCol = new Int32Array(n + 1); // 0 = free
  const way = new Int32Array(n + 1);
  const minv = new Float64Array(n + 1);
  const used = new Uint8Array(n + 1);
  for (let i = 1; i <= n; i++) {
    rowOfCol[0] = i;
    let j0 = 0;
    minv.fill(Infinity);
    used.fill(0);
    do {
      used[j0] = 1;
      const i0 = rowOfCol[j0]!, rowBase = (i0 - 1) * n, ui = u[i0]!;
      let delta = Infinity, j1 = 0;
      for (let j = 1; j <= n; j++) {
        if (used[j]) continue;
        const cur = sign * c[rowBase + j - 1]! - ui - v[j]!;
        if (cur < minv[j]!) { minv[j] = cur; way[j] = j0; }
        if (minv[j]! < delta) { delta = minv[j]!; j1 = j; }
      }
      for (let j = 0; j <= n; j++) {
        if (used[j]) { u[rowOfCol[j]!] = u[rowOfCol[j]!]! + delta; v[j] = v[j]! - delta; } else minv[j] = minv[j]! - delta;
      }
      j0 = j1;
    } while (rowOfCol[j0] !== 0);
    // flip the augmenting path back to column 0
    do {
      const j1 = way[j0]!;
      rowOfCol[j0] = rowOfCol[j1]!;
      j0 = j1;
    } while (j0 !== 0);
  }
  const colOf = new Int32Array(n);
  for (let j = 1; j <= n; j++) colOf[rowOfCol[j]! - 1] = j - 1;
  let total = 0;
  for (let i = 0; i < n; i++) total += c[i * n + colOf[i]!]!;
  return { colOf, total };
}
