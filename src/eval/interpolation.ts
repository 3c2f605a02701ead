/**
 * Linear interpolation between two networks (docs/seeds.md#interpolation): the loss and accuracy of
 * theta(alpha) = (1 - alpha) theta_A + alpha theta_B on a data set, for alpha evenly spaced in
 * [0, 1], and the loss barrier of the path (Frankle et al. 2020; Git Re-Basin eq. 2):
 *
 *   barrier = max over alpha of  L(theta(alpha)) - ((1 - alpha) L(theta_A) + alpha L(theta_B))
 *
 * Two independently trained networks have a high barrier; after aligning B's hidden units to A's
 * (src/align/) it is much lower, which is what makes averaging, and generating, across seeds
 * meaningful. BatchNorm running statistics are interpolated like every other tensor of the
 * vectors (they are not re-estimated for the interpolated network), which overstates the barrier
 * of BN networks somewhat.
 */
import type { Dataset } from '../data/dataset.js';
import type { Classifier } from '../models/classifier.js';
import { ShapeError } from '../util/errors.js';
import type { ParamLayout } from '../zoo/layout.js';
import { evaluateClassifier } from '../zoo/train.js';

/** Loss and accuracy along the straight line from A (alpha 0) to B (alpha 1). */
export interface InterpolationCurve {
  /** alpha_i = i / (points - 1). */
  alphas: number[];
  /** Mean cross-entropy on the data set at each alpha. */
  loss: number[];
  /** Top-1 accuracy (%) at each alpha. */
  acc: number[];
}

export interface InterpolationArgs {
  /** A network of the architecture; the layout's tensors are overwritten while scoring and restored afterwards. */
  model: Classifier;
  /** Layout of the two vectors (every tensor in which A and B differ must be in it). */
  layout: ParamLayout;
  /** Network A [layout.total]. */
  a: Float32Array;
  /** Network B [layout.total]. */
  b: Float32Array;
  /** Scored in eval mode. */
  data: Dataset;
  /** Number of alphas, the two ends included (default 11). */
  points?: number;
  /** Images per forward pass (default 1000). */
  batch?: number;
}

/**
 * Score theta(alpha) for `points` evenly spaced alphas in [0, 1] (the mix is formed in float64 and
 * rounded to float32 once).
 * @throws ShapeError when a or b does not fit the layout or points < 2.
 */
export function interpolationCurve(args: InterpolationArgs): InterpolationCurve {
  const { model, layout, a, b } = args;
  const points = args.points ?? 11;
  if (a.length !== layout.total || b.length !== layout.total) throw new ShapeError(`interpolationCurve: the layout has ${layout.total} floats, the two networks ${a.length} and ${b.length}`);
  if (!(Number.isInteger(points) && points >= 2)) throw new ShapeError(`interpolationCurve: expected at least 2 points, got ${points}`);
  const saved = layout.read(model);
  const theta = new Float32Array(layout.total);
  const out: InterpolationCurve = { alphas: [], loss: [], acc: [] };
  try {
    for (let i = 0; i < points; i++) {
      const alpha = i / (points - 1);
      for (let j = 0; j < theta.length; j++) theta[j] = (1 - alpha) * a[j]! + alpha * b[j]!;
      layout.write(model, theta);
      const r = evaluateClassifier(model, args.data, { batch: args.batch ?? 1000 });
      out.alphas.push(alpha);
      out.loss.push(r.loss);
      out.acc.push(r.acc);
    }
  } finally {
    layout.write(model, saved);
  }
  return out;
}

/** The loss barrier of a curve (see the module comment) and the alpha where it is reached (the first on ties). */
export function lossBarrier(c: Pick<InterpolationCurve, 'alphas' | 'loss'>): { barrier: number; alpha: number } {
  const n = c.loss.length;
  if (n < 2 || c.alphas.length !== n) throw new ShapeError(`lossBarrier: expected at least 2 points with one alpha each, got ${n} losses and ${c.alphas.length} alphas`);
  const l0 = c.loss[0]!, l1 = c.loss[n - 1]!;
  let barrier = -Infinity, alpha = 0;
  for (let i = 0; i < n; i++) {
    const t = c.alphas[i]!;
    const gap = c.loss[i]! - ((1 - t) * l0 + t * l1);
    if (gap > barrier) { barrier = gap; alpha = t; }
  }
  return { barrier, alpha };
}
