/**
 * 2-D projections of parameter vectors for the report's scatter plot.
 *
 * - pca2: exact PCA through the smaller of the two second-moment matrices: the Gram matrix
 *   Xc Xc^T [N, N] when N <= D (checkpoints of the whole network: N ~ 1000, D = 24,064), else the
 *   covariance Xc^T Xc [D, D] (bn mode: D = 192). Top eigenpairs by cyclic Jacobi for small
 *   matrices and by Lanczos with full reorthogonalisation otherwise. Deterministic: the start
 *   vector comes from a fixed seed and each component's sign is fixed (the point farthest along
 *   it has a positive coordinate).
 * - tsne2: exact O(N^2) t-SNE (van der Maaten & Hinton 2008) with the usual optimisation
 *   schedule (early exaggeration, momentum 0.5 -> 0.8, delta-bar-delta gains).
 */
import { PdiffError, ShapeError } from '../util/errors.js';
import { Rng } from '../tensor/random.js';

export interface Projection2 {
  /** coords[i] = 2-D position of point i. */
  coords: Array<[number, number]>;
}

export interface PcaResult extends Projection2 {
  /** Fraction of the total variance along each of the two components, in [0, 1]. */
  explained: [number, number];
}

/** Matrices of at most this size are diagonalised fully by Jacobi; larger ones by Lanczos. */
const JACOBI_MAX = 64;
/** Seed of the Lanczos start vector (fixed: pca2 takes no rng). */
const PCA_SEED = 0x5eed;

function checkPoints(fn: string, points: Float32Array[]): number {
  const dim = points[0]?.length ?? 0;
  for (let i = 0; i < points.length; i++) {
    if (points[i]!.length !== dim) throw new ShapeError(`${fn}: point ${i} has length ${points[i]!.length}, expected ${dim}`);
  }
  return dim;
}

/** Principal-component coordinates (first two components) of `points` (each [D]). */
export function pca2(points: Float32Array[]): PcaResult {
  const n = points.length;
  const dim = checkPoints('pca2', points);
  const coords: Array<[number, number]> = [];
  if (n === 0) return { coords, explained: [0, 0] };

  const mean = new Float64Array(dim);
  for (const p of points) for (let k = 0; k < dim; k++) mean[k]! += p[k]!;
  for (let k = 0; k < dim; k++) mean[k]! /= n;

  const gram = n <= dim;
  const m = gram ? n : dim;
  const a = new Float64Array(m * m);
  const c = new Float64Array(dim); // one centred row, float64
  if (gram) {
    // G_ij = c_i . (x_j - mean) = c_i . x_j - c_i . mean; c_i is centred, so nothing large cancels.
    for (let i = 0; i < n; i++) {
      const xi = points[i]!;
      let cm = 0;
      for (let k = 0; k < dim; k++) {
        const v = xi[k]! - mean[k]!;
        c[k] = v;
        cm += v * mean[k]!;
      }
      for (let j = 0; j <= i; j++) {
        const xj = points[j]!;
        const g = dotAt(c, 0, xj, dim) - cm;
        a[i * m + j] = g;
        a[j * m + i] = g;
      }
    }
  } else {
    for (let i = 0; i < n; i++) {
      const xi = points[i]!;
      for (let k = 0; k < dim; k++) c[k] = xi[k]! - mean[k]!;
      for (let r = 0; r < dim; r++) {
        const cr = c[r]!;
        if (cr === 0) continue;
        const row = r * m;
        for (let s = r; s < dim; s++) a[row + s]! += cr * c[s]!;
      }
    }
    for (let r = 0; r < dim; r++) for (let s = 0; s < r; s++) a[r * m + s] = a[s * m + r]!;
  }
  let trace = 0;
  for (let i = 0; i < m; i++) trace += a[i * m + i]!;

  const want = Math.min(2, m);
  const eig = topEigen(a, m, want);

  const comp: Float64Array[] = [];
  for (let k = 0; k < 2; k++) {
    const out = new Float64Array(n);
    if (k < want && trace > 0) {
      const lambda = Math.max(eig.values[k]!, 0);
      const u = eig.vectors[k]!;
      if (gram) {
        // Xc v = sqrt(lambda) u for the unit eigenvector u of Xc Xc^T.
        const sl = Math.sqrt(lambda);
        for (let i = 0; i < n; i++) out[i] = sl * u[i]!;
      } else {
        for (let i = 0; i < n; i++) {
          const xi = points[i]!;
          let s = 0;
          for (let d = 0; d < dim; d++) s += (xi[d]! - mean[d]!) * u[d]!;
          out[i] = s;
        }
      }
      fixSign(out);
    }
    comp.push(out);
  }
  for (let i = 0; i < n; i++) coords.push([comp[0]![i]!, comp[1]![i]!]);
  // Clamped to [0, 1]: rounding can put a lone eigenvalue a few ulps above the trace.
  const frac = (k: number): number => (k < want && trace > 0 ? Math.min(Math.max(eig.values[k]! / trace, 0), 1) : 0);
  const explained: [number, number] = [frac(0), frac(1)];
  return { coords, explained };
}

/** Flip `v` so that its entry of largest magnitude (first on ties) is positive; -0 becomes 0. */
function fixSign(v: Float64Array): void {
  let arg = 0;
  for (let i = 1; i < v.length; i++) if (Math.abs(v[i]!) > Math.abs(v[arg]!)) arg = i;
  const flip = v[arg]! < 0;
  for (let i = 0; i < v.length; i++) v[i] = flip ? -v[i]! || 0 : v[i]! || 0;
}

export interface TopEigen {
  /** Largest eigenvalues, descending. */
  values: number[];
  /** Matching unit eigenvectors. */
  vectors: Float64Array[];
}

/**
 * Largest `want` eigenpairs of the symmetric matrix `a` [m, m] (row-major): cyclic Jacobi for
 * m <= 64 (or method 'jacobi'), Lanczos otherwise (or method 'lanczos'). Used by pca2.
 */
export function topEigen(a: Float64Array, m: number, want: number, method?: 'jacobi' | 'lanczos'): TopEigen {
  if (a.length !== m * m) throw new ShapeError(`topEigen: matrix has ${a.length} entries, expected m*m = ${m * m}`);
  if (!(want >= 1 && want <= m)) throw new ShapeError(`topEigen: want must be in [1, m=${m}], got ${want}`);
  return (method ?? (m <= JACOBI_MAX ? 'jacobi' : 'lanczos')) === 'jacobi' ? jacobiTop(a, m, want) : lanczosTop(a, m, want);
}

/**
 * All eigenpairs of the symmetric matrix `a0` [n, n] by cyclic Jacobi rotations (Numerical Recipes
 * section 11.1), sorted by descending eigenvalue; returns the top `want`.
 */
function jacobiTop(a0: Float64Array, n: number, want: number): TopEigen {
  const a = Float64Array.from(a0);
  const v = new Float64Array(n * n); // column k = eigenvector k
  for (let i = 0; i < n; i++) v[i * n + i] = 1;
  let scale = 0;
  for (let i = 0; i < n * n; i++) scale += a[i]! * a[i]!;
  for (let sweep = 0; sweep < 100; sweep++) {
    let off = 0;
    for (let p = 0; p < n; p++) for (let q = p + 1; q < n; q++) off += a[p * n + q]! * a[p * n + q]!;
    if (off <= 1e-30 * scale || off === 0) break;
    for (let p = 0; p < n; p++) {
      for (let q = p + 1; q < n; q++) {
        const apq = a[p * n + q]!;
        if (apq === 0) continue;
        const theta = (a[q * n + q]! - a[p * n + p]!) / (2 * apq);
        const t = (theta >= 0 ? 1 : -1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const cs = 1 / Math.sqrt(t * t + 1);
        const sn = t * cs;
        for (let k = 0; k < n; k++) {
          const akp = a[k * n + p]!;
          const akq = a[k * n + q]!;
          a[k * n + p] = cs * akp - sn * akq;
          a[k * n + q] = sn * akp + cs * akq;
        }
        for (let k = 0; k < n; k++) {
          const apk = a[p * n + k]!;
          const aqk = a[q * n + k]!;
          a[p * n + k] = cs * apk - sn * aqk;
          a[q * n + k] = sn * apk + cs * aqk;
        }
        for (let k = 0; k < n; k++) {
          const vkp = v[k * n + p]!;
          const vkq = v[k * n + q]!;
          v[k * n + p] = cs * vkp - sn * vkq;
          v[k * n + q] = sn * vkp + cs * vkq;
        }
      }
    }
  }
  const order = Array.from({ length: n }, (_, i) => i).sort((x, y) => a[y * n + y]! - a[x * n + x]! || x - y);
  const values: number[] = [];
  const vectors: Float64Array[] = [];
  for (let r = 0; r < want; r++) {
    const k = order[r]!;
    values.push(a[k * n + k]!);
    const vec = new Float64Array(n);
    for (let i = 0; i < n; i++) vec[i] = v[i * n + k]!;
    vectors.push(vec);
  }
  return { values, vectors };
}

/** Most Lanczos steps; the wanted Ritz pairs of a gapped spectrum converge in far fewer. */
const LANCZOS_MAX_STEPS = 120;

/**
 * Top `want` eigenpairs of the symmetric matrix `a` [m, m] by Lanczos with full
 * reorthogonalisation (Golub & Van Loan section 10.1): k steps build an orthonormal basis Q and a
 * tridiagonal T = Q^T A Q whose top eigenpairs (by Jacobi) give the Ritz pairs. Stops when the
 * Ritz residuals |beta_k y_k| fall below 1e-10 * theta_1, when the Krylov space is exhausted,
 * or after LANCZOS_MAX_STEPS (then the pairs are approximate: only for flat spectra, whose
 * leading directions are ill-defined anyway). Cost O(k m^2).
 */
function lanczosTop(a: Float64Array, m: number, want: number): TopEigen {
  const kmax = Math.min(m, LANCZOS_MAX_STEPS);
  const rng = new Rng(PCA_SEED);
  const qs: Float64Array[] = [];
  const alpha: number[] = [];
  const beta: number[] = []; // beta[j] couples q_j and q_{j+1}
  let q = rng.fillNormal(new Float64Array(m)) as Float64Array;
  scaleTo1(q);
  const w = new Float64Array(m);
  let small: TopEigen = { values: [], vectors: [] };
  let scale = 0; // max |alpha|, |beta| so far: a lower bound on |A|
  for (let j = 0; j < kmax; j++) {
    qs.push(q);
    symv(a, m, q, w);
    const aj = dot(q, w);
    alpha.push(aj);
    // Full reorthogonalisation, twice ("twice is enough"), replaces the three-term recurrence.
    for (let pass = 0; pass < 2; pass++) {
      for (const qi of qs) {
        const d = dot(qi, w);
        for (let i = 0; i < m; i++) w[i]! -= d * qi[i]!;
      }
    }
    const b = Math.sqrt(dot(w, w));
    scale = Math.max(scale, Math.abs(aj), b);
    const k = j + 1;
    const exhausted = b <= 1e-12 * scale || k === kmax;
    // The small eigenproblem costs O(k^3): solve it every 8 steps and at the end only.
    if (exhausted || k % 8 === 0) {
      const t = new Float64Array(k * k);
      for (let i = 0; i < k; i++) {
        t[i * k + i] = alpha[i]!;
        if (i + 1 < k) t[i * k + i + 1] = t[(i + 1) * k + i] = beta[i]!;
      }
      small = jacobiTop(t, k, Math.min(want, k));
      const top = Math.abs(small.values[0]!);
      // Ritz residual |A u - theta u| = |b * y[k-1]| (the next off-diagonal times the last entry of y).
      let converged = small.values.length === want;
      for (let r = 0; r < small.values.length && converged; r++) {
        if (Math.abs(b * small.vectors[r]![k - 1]!) > 1e-10 * top) converged = false;
      }
      if (exhausted || converged || top === 0) break;
    }
    beta.push(b);
    q = Float64Array.from(w);
    scaleTo1(q);
  }
  // Ritz vectors u = Q y.
  const vectors: Float64Array[] = [];
  const values: number[] = [];
  for (let r = 0; r < want; r++) {
    const u = new Float64Array(m);
    const y = small.vectors[r];
    if (y !== undefined) {
      for (let i = 0; i < y.length; i++) {
        const yi = y[i]!;
        const qi = qs[i]!;
        for (let x = 0; x < m; x++) u[x]! += yi * qi[x]!;
      }
      values.push(small.values[r]!);
    } else {
      values.push(0); // the Krylov space ran out: the matrix has rank < want
    }
    vectors.push(u);
  }
  return { values, vectors };
}

/** y = A x for symmetric A [m, m]. */
function symv(a: Float64Array, m: number, x: Float64Array, y: Float64Array): void {
  for (let i = 0; i < m; i++) y[i] = dotAt(a, i * m, x, m);
}

/** sum_k a[off + k] * x[k] for k < n, four accumulators (about 1.5x faster than one in V8). */
function dotAt(a: Float64Array | Float32Array, off: number, x: Float64Array | Float32Array, n: number): number {
  let s0 = 0;
  let s1 = 0;
  let s2 = 0;
  let s3 = 0;
  let k = 0;
  for (; k + 3 < n; k += 4) {
    s0 += a[off + k]! * x[k]!;
    s1 += a[off + k + 1]! * x[k + 1]!;
    s2 += a[off + k + 2]! * x[k + 2]!;
    s3 += a[off + k + 3]! * x[k + 3]!;
  }
  for (; k < n; k++) s0 += a[off + k]! * x[k]!;
  return s0 + s1 + s2 + s3;
}

function dot(x: Float64Array, y: Float64Array): number {
  return dotAt(x, 0, y, x.length);
}

function scaleTo1(v: Float64Array): void {
  const n = Math.sqrt(dot(v, v));
  if (n > 0) for (let i = 0; i < v.length; i++) v[i]! /= n;
}

export interface TsneOptions {
  /** Target perplexity (effective number of neighbours); clamped to (N - 1) / 3 for small N. */
  perplexity: number;
  /** Gradient-descent iterations (1000 is the usual setting). */
  iterations: number;
  /** Seeded generator for the initial layout. */
  rng: Rng;
  /**
   * Step size; default N / exaggeration in each phase (openTSNE's "auto" rule: larger steps make
   * small embeddings oscillate and fling points away during early exaggeration).
   */
  learningRate?: number;
  /** Early-exaggeration factor applied to P for the first `exaggerationIterations` steps; default 12. */
  exaggeration?: number;
  /** Default min(250, iterations / 4). */
  exaggerationIterations?: number;
}

export interface TsneResult extends Projection2 {
  /** KL(P || Q) of the final layout. */
  kl: number;
}

/** Exact t-SNE to 2-D. O(N^2 D) for the distances plus O(N^2) per iteration; meant for N <= ~1000. */
export function tsne2(points: Float32Array[], opts: TsneOptions): TsneResult {
  const n = points.length;
  const dim = checkPoints('tsne2', points);
  if (!(opts.perplexity > 0)) throw new PdiffError(`tsne2: perplexity must be > 0, got ${opts.perplexity}`);
  if (!(Number.isInteger(opts.iterations) && opts.iterations >= 0)) {
    throw new PdiffError(`tsne2: iterations must be a non-negative integer, got ${opts.iterations}`);
  }
  if (n < 2) return { coords: points.map(() => [0, 0] as [number, number]), kl: 0 };

  // Squared distances.
  const dist = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    const xi = points[i]!;
    for (let j = i + 1; j < n; j++) {
      const xj = points[j]!;
      let s = 0;
      for (let k = 0; k < dim; k++) {
        const d = xi[k]! - xj[k]!;
        s += d * d;
      }
      dist[i * n + j] = s;
      dist[j * n + i] = s;
    }
  }

  // Conditional P_{j|i} by binary search on beta = 1 / (2 sigma_i^2) to match the perplexity.
  const perplexity = Math.max(1, Math.min(opts.perplexity, (n - 1) / 3));
  const targetH = Math.log(perplexity);
  const pmat = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    const row = i * n;
    let dmin = Infinity;
    let dsum = 0;
    for (let j = 0; j < n; j++) {
      if (j === i) continue;
      const d = dist[row + j]!;
      if (d < dmin) dmin = d;
      dsum += d;
    }
    const spread = dsum / (n - 1) - dmin;
    let beta = spread > 0 ? 1 / spread : 1;
    let lo = 0;
    let hi = Infinity;
    for (let tries = 0; tries < 200; tries++) {
      // Distances shifted by the row minimum: P_{j|i} is unchanged and exp() cannot underflow to 0/0.
      let sumP = 0;
      let sumDP = 0;
      for (let j = 0; j < n; j++) {
        if (j === i) {
          pmat[row + j] = 0;
          continue;
        }
        const dd = dist[row + j]! - dmin;
        const pj = Math.exp(-dd * beta);
        pmat[row + j] = pj;
        sumP += pj;
        sumDP += dd * pj;
      }
      const h = Math.log(sumP) + (beta * sumDP) / sumP;
      for (let j = 0; j < n; j++) pmat[row + j]! /= sumP;
      if (Math.abs(h - targetH) < 1e-5) break;
      if (h > targetH) {
        lo = beta;
        beta = hi === Infinity ? beta * 2 : (beta + hi) / 2;
      } else {
        hi = beta;
        beta = (beta + lo) / 2;
      }
    }
  }
  // Symmetrise: p_ij = (p_{j|i} + p_{i|j}) / 2N.
  for (let i = 0; i < n; i++) {
    for (let j = i + 1; j < n; j++) {
      const v = Math.max((pmat[i * n + j]! + pmat[j * n + i]!) / (2 * n), 1e-12);
      pmat[i * n + j] = v;
      pmat[j * n + i] = v;
    }
    pmat[i * n + i] = 0;
  }

  const exaggeration = opts.exaggeration ?? 12;
  const exIters = opts.exaggerationIterations ?? Math.min(250, Math.floor(opts.iterations / 4));
  const y = new Float64Array(n * 2);
  for (let i = 0; i < n * 2; i++) y[i] = 1e-4 * opts.rng.normal();
  const upd = new Float64Array(n * 2);
  const gains = new Float64Array(n * 2).fill(1);
  const grad = new Float64Array(n * 2);
  const num = new Float64Array(n * n);

  for (let it = 0; it < opts.iterations; it++) {
    const ex = it < exIters ? exaggeration : 1;
    const momentum = it < exIters ? 0.5 : 0.8;
    const lr = opts.learningRate ?? n / ex;
    let sumQ = 0;
    for (let i = 0; i < n; i++) {
      const yi0 = y[2 * i]!;
      const yi1 = y[2 * i + 1]!;
      for (let j = i + 1; j < n; j++) {
        const d0 = yi0 - y[2 * j]!;
        const d1 = yi1 - y[2 * j + 1]!;
        const q = 1 / (1 + d0 * d0 + d1 * d1);
        num[i * n + j] = q;
        num[j * n + i] = q;
        sumQ += 2 * q;
      }
    }
    grad.fill(0);
    for (let i = 0; i < n; i++) {
      const yi0 = y[2 * i]!;
      const yi1 = y[2 * i + 1]!;
      let g0 = 0;
      let g1 = 0;
      const row = i * n;
      for (let j = 0; j < n; j++) {
        if (j === i) continue;
        const q = num[row + j]!;
        const mult = (ex * pmat[row + j]! - q / sumQ) * q;
        g0 += mult * (yi0 - y[2 * j]!);
        g1 += mult * (yi1 - y[2 * j + 1]!);
      }
      grad[2 * i] = 4 * g0;
      grad[2 * i + 1] = 4 * g1;
    }
    let c0 = 0;
    let c1 = 0;
    for (let k = 0; k < 2 * n; k++) {
      const g = grad[k]!;
      const same = g > 0 === upd[k]! > 0;
      const gain = Math.max(same ? gains[k]! * 0.8 : gains[k]! + 0.2, 0.01);
      gains[k] = gain;
      const u = momentum * upd[k]! - lr * gain * g;
      upd[k] = u;
      y[k]! += u;
    }
    for (let i = 0; i < n; i++) {
      c0 += y[2 * i]!;
      c1 += y[2 * i + 1]!;
    }
    c0 /= n;
    c1 /= n;
    for (let i = 0; i < n; i++) {
      y[2 * i]! -= c0;
      y[2 * i + 1]! -= c1;
    }
  }

  // KL(P || Q) of the final layout.
  let sumQ = 0;
  for (let i = 0; i < n; i++) {
    for (let j = i + 1; j < n; j++) {
      const d0 = y[2 * i]! - y[2 * j]!;
      const d1 = y[2 * i + 1]! - y[2 * j + 1]!;
      const q = 1 / (1 + d0 * d0 + d1 * d1);
      num[i * n + j] = q;
      sumQ += 2 * q;
    }
  }
  let kl = 0;
  for (let i = 0; i < n; i++) {
    for (let j = i + 1; j < n; j++) {
      const pij = pmat[i * n + j]!;
      kl += 2 * pij * Math.log(pij / (num[i * n + j]! / sumQ));
    }
  }
  const coords: Array<[number, number]> = [];
  for (let i = 0; i < n; i++) coords.push([y[2 * i]!, y[2 * i + 1]!]);
  return { coords, kl };
}
