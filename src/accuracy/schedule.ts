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
 * 2. **Selection** by label (spreadByAccuracy): k of the candidates, spread as evenly over the
 *    run's own range of labels [min, max] as the candidates allow (water-filling over k equal
 *    bins). The kept labels then run from chance to the run's best, whatever the shape of its
 *    learning curve; where the curve is too steep to have enough candidates (the first steps),
 *    the spare checkpoints go evenly to the rest of the range.
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
 * Indices of k of the labels, spread as evenly over their range [lo, hi] as the labels allow
 * (water-filling over k equal bins):
 *
 * 1. Split [lo, hi] into k equal bins (the last one closed) and sort each bin's labels.
 * 2. Give every bin that has labels left one more slot, round after round, until fewer slots
 *    remain than such bins; the last slots go to open bins spread evenly over their list
 *    (the bins floor((j + 1/2) B / r), j = 0..r-1, of the B open ones, r slots left). A bin with
 *    few labels (the steep start of a learning curve) gives all it has; the others share the rest
 *    equally, so the kept labels are as flat over [lo, hi] as the candidates permit.
 * 3. A bin with m >= 2 slots and c labels keeps those of sorted rank round(j (c - 1) / (m - 1)),
 *    j = 0..m-1 (its lowest and highest among them); with one slot the first bin keeps its lowest,
 *    the last bin its highest (so lo and hi are always kept), the others their middle label
 *    (rank floor((c - 1) / 2)).
 *
 * Ties in a bin's sort go to the lower index. Returned in ascending index order (the candidates'
 * order, which is step order).
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
  const B = k;
  const bins: number[][] = Array.from({ length: B }, () => []);
  for (let i = 0; i < n; i++) bins[hi > lo ? Math.min(B - 1, Math.floor(((labels[i]! - lo) / (hi - lo)) * B)) : 0]!.push(i);
  for (const b of bins) b.sort((x, y) => labels[x]! - labels[y]! || x - y);
  const slots = new Array<number>(B).fill(0);
  let left = k;
  while (left > 0) {
    const open: number[] = [];
    for (let b = 0; b < B; b++) if (slots[b]! < bins[b]!.length) open.push(b);
    if (open.length <= left) {
      for (const b of open) slots[b]!++;
      left -= open.length;
    } else {
      for (let j = 0; j < left; j++) slots[open[Math.floor(((j + 0.5) * open.length) / left)]!]!++;
      left = 0;
    }
  }
  const out: number[] = [];
  bins.forEach((bin, b) => {
    const m = slots[b]!, c = bin.length;
    if (m === 1) out.push(bin[b === B - 1 ? c - 1 : b === 0 ? 0 : (c - 1) >> 1]!);
    else for (let j = 0; j < m; j++) out.push(bin[Math.round((j * (c - 1)) / (m - 1))]!);
  });
  return Int32Array.from(out).sort();
}
