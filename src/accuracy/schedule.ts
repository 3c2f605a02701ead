/**
 * Which checkpoints of a training run the accuracy zoo keeps (docs/accuracy.md#schedule).
 *
 * Accuracy rises fastest at the start of training: a Fashion-MNIST MLP goes from chance to about
 * 70% in its first dozen AdamW steps and spends the next thousand gaining the last 15 points. A
 * schedule of equal steps would put nearly every checkpoint near the top. So a run is sampled in
 * two passes:
 *
 * 1. **Candidates** on a geometric schedule of steps (candidateSteps): step 0 (the
 *    initialisation, chance accuracy) and round(T^(j / (C - 2))) for j = 0..C-2, duplicates
 *    removed, so every one of the first steps is a candidate and the spacing grows by a constant
 *    factor after that. Each candidate is labelled with its val accuracy.
 * 2. **Selection** by label (spreadByAccuracy): k targets evenly spaced over the run's own range of
 *    labels [min, max], each taking the unused candidate whose label is nearest. The kept labels
 *    are then close to evenly spread from near chance to the run's best, whatever the shape of
 *    its learning curve.
 */
import { ConfigError } from '../util/errors.js';

/**
 * The candidate steps of a run of `steps` steps: 0 and round(steps^(j / (candidates - 2))) for
 * j = 0..candidates-2 (1 first, `steps` last), ascending, duplicates removed, so at most
 * `candidates` of them: where the geometric spacing is below one step, every step is a candidate.
 * @throws ConfigError for steps < 1 or candidates < 3 (not integers included).
 */
export function candidateSteps(steps: number, candidates: number): number[] {
  if (!Number.isInteger(steps) || steps < 1) throw new ConfigError(`candidateSteps: steps must be a positive integer, got ${steps}`);
  if (!Number.isInteger(candidates) || candidates < 3) throw new ConfigError(`candidateSteps: candidates must be an integer >= 3, got ${candidates}`);
  const out = [0];
  const m = candidates - 2;
  for (let j = 0; j <= m; j++) {
    // the last one exactly `steps`, whatever the rounding of the power
    const s = j === m ? steps : Math.round(steps ** (j / m));
    if (s > out[out.length - 1]!) out.push(s);
  }
  return out;
}

/**
 * Indices of k of the labels, spread evenly over their range: for the targets
 * t_j = lo + (hi - lo) j / (k - 1), j = 0..k-1 (lo, hi = the smallest and largest label), in turn,
 * the unused label nearest to t_j (the lowest index on ties). Returned in ascending order (the
 * candidates' order, which is step order). With k = 1 the single target is hi.
 * @throws ConfigError when k is not an integer in [1, labels.length], or a label is not finite.
 */
export function spreadByAccuracy(labels: ArrayLike<number>, k: number): Int32Array {
  const n = labels.length;
  if (!Number.isInteger(k) || k < 1 || k > n) throw new ConfigError(`spreadByAccuracy: k must be an integer in [1, ${n}] (the candidates), got ${k}`);
  let lo = Infinity, hi = -Infinity;
  for (let i = 0; i < n; i++) {
    const a = labels[i]!;
    if (!Number.isFinite(a)) throw new ConfigError(`spreadByAccuracy: label ${i} is ${a}, expected a finite accuracy`);
    if (a < lo) lo = a;
    if (a > hi) hi = a;
  }
  const used = new Uint8Array(n);
  const out = new Int32Array(k);
  for (let j = 0; j < k; j++) {
    const t = k === 1 ? hi : lo + ((hi - lo) * j) / (k - 1);
    let best = -1, bestD = Infinity;
    for (let i = 0; i < n; i++) {
      if (used[i]) continue;
      const d = Math.abs(labels[i]! - t);
      if (d < bestD) { bestD = d; best = i; }
    }
    used[best] = 1;
    out[j] = best;
  }
  return out.sort();
}
