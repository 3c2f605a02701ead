/**
 * Novelty of a model against the K training checkpoints (docs/evaluation.md#novelty):
 * - IoU-max: the wrong set of a model is the set of test images it misclassifies;
 *   IoU(a, b) = |a ∩ b| / |a ∪ b|; IoU-max = max over the checkpoints. Near 1 = "behaves like a
 *   training checkpoint".
 * - NN-L2: minimum Euclidean distance in raw subset-parameter space to the checkpoints.
 * With `excludeSelf` the models ARE the checkpoints (same order): model i skips checkpoint i.
 *
 * Both return per-model values; the report averages them over a group.
 */
import { ShapeError } from '../util/errors.js';

/** Per-model nearest-checkpoint result. */
export interface NearestResult {
  /** value[i]: IoU-max (or NN-L2) of model i; NaN when there is no checkpoint to compare with. */
  value: number[];
  /** nearest[i]: index of the checkpoint that attains it (first on ties), -1 when none. */
  nearest: number[];
}

/** Pack a 0/1 mask (any non-zero byte counts as 1) into 32-bit words, bit i of word i>>5 = mask[i]. */
export function packMask(mask: Uint8Array): Uint32Array {
  const words = new Uint32Array((mask.length + 31) >>> 5);
  for (let i = 0; i < mask.length; i++) {
    if (mask[i]! !== 0) words[i >>> 5] = (words[i >>> 5]! | (1 << (i & 31))) >>> 0;
  }
  return words;
}

/** Number of set bits in a 32-bit word (SWAR popcount). */
function popcount32(x: number): number {
  x = x - ((x >>> 1) & 0x55555555);
  x = (x & 0x33333333) + ((x >>> 2) & 0x33333333);
  x = (x + (x >>> 4)) & 0x0f0f0f0f;
  return Math.imul(x, 0x01010101) >>> 24;
}

function popcountWords(w: Uint32Array): number {
  let c = 0;
  for (let i = 0; i < w.length; i++) c += popcount32(w[i]!);
  return c;
}

/**
 * IoU of two wrong-set bitmasks. Two empty sets (both models make no error) give 1: they behave
 * identically, which is what IoU measures.
 */
export function iou(a: Uint8Array, b: Uint8Array): number {
  if (a.length !== b.length) throw new ShapeError(`iou: masks have lengths ${a.length} and ${b.length}`);
  let inter = 0;
  let uni = 0;
  for (let i = 0; i < a.length; i++) {
    const x = a[i]! !== 0;
    const y = b[i]! !== 0;
    if (x && y) inter++;
    if (x || y) uni++;
  }
  return uni === 0 ? 1 : inter / uni;
}

/**
 * IoU-max of every model's wrong set against the reference wrong sets (the K checkpoints).
 * Masks are packed into Uint32 words once, so each pair costs N/32 AND + popcount steps.
 * Convention: IoU of two empty sets is 1 (see {@link iou}).
 */
export function iouMax(wrongOf: Uint8Array[], reference: Uint8Array[], excludeSelf: boolean): NearestResult {
  checkSelf('iouMax', wrongOf.length, reference.length, excludeSelf);
  const len = reference[0]?.length ?? wrongOf[0]?.length ?? 0;
  const check = (m: Uint8Array, what: string, i: number): void => {
    if (m.length !== len) throw new ShapeError(`iouMax: ${what}[${i}] has length ${m.length}, expected ${len}`);
  };
  reference.forEach((m, i) => check(m, 'reference', i));
  wrongOf.forEach((m, i) => check(m, 'wrongOf', i));

  const refPacked = reference.map(packMask);
  const refCount = refPacked.map(popcountWords);
  const value: number[] = [];
  const nearest: number[] = [];
  for (let i = 0; i < wrongOf.length; i++) {
    const a = packMask(wrongOf[i]!);
    const ca = popcountWords(a);
    let best = -1;
    let arg = -1;
    for (let j = 0; j < refPacked.length; j++) {
      if (excludeSelf && j === i) continue;
      const b = refPacked[j]!;
      let inter = 0;
      for (let w = 0; w < a.length; w++) inter += popcount32((a[w]! & b[w]!) >>> 0);
      const uni = ca + refCount[j]! - inter;
      const v = uni === 0 ? 1 : inter / uni;
      if (v > best) {
        best = v;
        arg = j;
      }
    }
    value.push(arg < 0 ? NaN : best);
    nearest.push(arg);
  }
  return { value, nearest };
}

/**
 * Minimum Euclidean distance from every vector to the reference vectors (the K checkpoints),
 * accumulated in float64 from the coordinate differences (not from norms, which would cancel for
 * near-copies such as the noise-0.001 baseline).
 */
export function nearestL2(vectors: Float32Array[], reference: Float32Array[], excludeSelf: boolean): NearestResult {
  checkSelf('nearestL2', vectors.length, reference.length, excludeSelf);
  const dim = reference[0]?.length ?? vectors[0]?.length ?? 0;
  reference.forEach((r, j) => {
    if (r.length !== dim) throw new ShapeError(`nearestL2: reference[${j}] has length ${r.length}, expected ${dim}`);
  });
  vectors.forEach((v, i) => {
    if (v.length !== dim) throw new ShapeError(`nearestL2: vectors[${i}] has length ${v.length}, expected ${dim}`);
  });
  const value: number[] = [];
  const nearest: number[] = [];
  for (let i = 0; i < vectors.length; i++) {
    const a = vectors[i]!;
    let best = Infinity;
    let arg = -1;
    for (let j = 0; j < reference.length; j++) {
      if (excludeSelf && j === i) continue;
      const s = squaredDistance(a, reference[j]!, dim);
      if (s < best) {
        best = s;
        arg = j;
      }
    }
    value.push(arg < 0 ? NaN : Math.sqrt(best));
    nearest.push(arg);
  }
  return { value, nearest };
}

/** sum_k (a_k - b_k)^2 in float64, four accumulators (about 1.5x faster than one in V8). */
function squaredDistance(a: Float32Array, b: Float32Array, dim: number): number {
  let s0 = 0;
  let s1 = 0;
  let s2 = 0;
  let s3 = 0;
  let k = 0;
  for (; k + 3 < dim; k += 4) {
    const d0 = a[k]! - b[k]!;
    const d1 = a[k + 1]! - b[k + 1]!;
    const d2 = a[k + 2]! - b[k + 2]!;
    const d3 = a[k + 3]! - b[k + 3]!;
    s0 += d0 * d0;
    s1 += d1 * d1;
    s2 += d2 * d2;
    s3 += d3 * d3;
  }
  for (; k < dim; k++) {
    const d = a[k]! - b[k]!;
    s0 += d * d;
  }
  return s0 + s1 + s2 + s3;
}

function checkSelf(fn: string, models: number, refs: number, excludeSelf: boolean): void {
  if (excludeSelf && models !== refs) {
    throw new ShapeError(`${fn}: excludeSelf needs the models to be the reference set (same count), got ${models} models and ${refs} references`);
  }
}
