/**
 * Weight matching (Ainsworth, Hayase & Srinivasa, "Git Re-Basin", ICLR 2023, section 3.2;
 * docs/seeds.md#weight-matching): permute the hidden units of network B so that its weights are
 * as close as possible to those of a reference network A, i.e. maximise
 *
 *   sum over tensors W of <W_A, pi(W_B)>          (1)
 *
 * over one permutation per group of the spec. (1) is not separable across groups (a weight
 * matrix is touched by the permutations of both its input and its output units), so it is solved
 * one group at a time with the others fixed, which is a linear assignment problem:
 *
 *   S[i][j] = sum over (W, axis) in the group of sum_{other indices} W_A[.., i, ..] pi'(W_B)[.., j, ..]   (2)
 *
 * where pi' applies the current permutations to every other axis of W_B. The groups are visited
 * in a random order (from the Rng passed in), each solved exactly, until a whole pass changes no
 * permutation (each accepted change strictly increases (1), so this ends).
 */
import type { Rng } from '../tensor/random.js';
import { ShapeError } from '../util/errors.js';
import { solveAssignment } from './assignment.js';
import { identityPermutations, permuteAxes, checkPermutations, type Permutations, type TensorMap } from './permute.js';
import { axesByTensor, type PermutationSpec } from './spec.js';

export interface WeightMatchingArgs {
  /** The permutation symmetry of the architecture (every tensor it names that is in both maps takes part in (1)). */
  spec: PermutationSpec;
  /** Network A, the one the other is aligned to. */
  reference: TensorMap;
  /** Network B, the one to permute (same architecture). */
  other: TensorMap;
  /** Orders the groups within each pass. */
  rng: Rng;
  /** At most this many passes over the groups (default 100; a pass that changes nothing ends the search earlier). */
  maxPasses?: number;
  /** Start from these permutations instead of the identity. */
  init?: Permutations;
}

export interface WeightMatchingResult {
  /** One permutation per group: applyPermutations(spec, other, perms) is B aligned to A. */
  perms: Permutations;
  /** Passes over the groups, the last one (which changed nothing when converged) included. */
  passes: number;
  /** Whether the last pass changed no permutation (false: stopped by maxPasses). */
  converged: boolean;
  /** The objective (1) before any permutation and at the end (float64). */
  similarity: { before: number; after: number };
}

/** S += A_axis B_axis^T: the [n, n] similarity of the units along `axis` of two tensors of one shape (2). */
function accumulateSimilarity(s: Float64Array, a: Float32Array, b: Float32Array, dims: readonly number[], axis: number): void {
  const n = dims[axis]!;
  let outer = 1, inner = 1;
  for (let d = 0; d < axis; d++) outer *= dims[d]!;
  for (let d = axis + 1; d < dims.length; d++) inner *= dims[d]!;
  for (let o = 0; o < outer; o++) {
    const base = o * n * inner;
    for (let i = 0; i < n; i++) {
      const ai = base + i * inner;
      for (let j = 0; j < n; j++) {
        const bj = base + j * inner;
        let acc = 0;
        for (let r = 0; r < inner; r++) acc += a[ai + r]! * b[bj + r]!;
        s[i * n + j] = s[i * n + j]! + acc;
      }
    }
  }
}

/**
 * Align `other` to `reference` by weight matching (see the module comment). Tensors in the spec
 * that are missing from either map are left out of (1) (e.g. pass only the learnable parameters
 * to match on weights alone); the permutations found still apply to them.
 * @throws ShapeError when the two networks' tensors differ in shape, or a spec group does not fit them.
 */
export function weightMatching(args: WeightMatchingArgs): WeightMatchingResult {
  const { spec, reference: A, other: B } = args;
  const byTensor = axesByTensor(spec);
  const used = [...byTensor.keys()].filter((t) => A.has(t) && B.has(t));
  for (const name of used) {
    const a = A.get(name)!, b = B.get(name)!;
    if (a.shape.length !== b.shape.length || a.shape.some((d, i) => d !== b.shape[i])) {
      throw new ShapeError(`weightMatching: tensor "${name}" is [${a.shape.join(', ')}] in the reference and [${b.shape.join(', ')}] in the other network`);
    }
    for (const { axis, group } of byTensor.get(name)!) {
      const g = spec.groups[group]!;
      if (a.shape[axis] !== g.size) throw new ShapeError(`weightMatching: group ${g.name} (size ${g.size}) acts on axis ${axis} of "${name}" [${a.shape.join(', ')}]`);
    }
  }
  const perms = args.init ? args.init.map((p) => p.slice()) : identityPermutations(spec);
  checkPermutations(spec, perms);
  const objective = (): number => {
    let total = 0;
    for (const name of used) {
      const a = A.get(name)!, b = B.get(name)!;
      const pb = permuteAxes(b, byTensor.get(name)!.map(({ axis, group }) => ({ axis, perm: perms[group]! })));
      for (let k = 0; k < a.data.length; k++) total += a.data[k]! * pb[k]!;
    }
    return total;
  };
  const before = objective();
  const maxPasses = args.maxPasses ?? 100;
  const order = Int32Array.from({ length: spec.groups.length }, (_, i) => i);
  let passes = 0, converged = false;
  while (passes < maxPasses && !converged) {
    passes++;
    converged = true;
    args.rng.shuffle(order);
    for (const gi of order) {
      const g = spec.groups[gi]!, n = g.size;
      const s = new Float64Array(n * n);
      for (const { tensor, axis } of g.axes) {
        const a = A.get(tensor), b = B.get(tensor);
        if (!a || !b) continue;
        // B with the current permutations on every axis but this one
        const others = byTensor.get(tensor)!.filter((e) => e.axis !== axis).map((e) => ({ axis: e.axis, perm: perms[e.group]! }));
        accumulateSimilarity(s, a.data, others.length > 0 ? permuteAxes(b, others) : b.data, a.shape, axis);
      }
      const { colOf, total } = solveAssignment(s, n, { maximize: true });
      const cur = perms[gi]!;
      let old = 0;
      for (let i = 0; i < n; i++) old += s[i * n + cur[i]!]!;
      // Only a strict gain is taken: an equally good assignment would let two groups trade ties forever.
      if (total > old + 1e-12 * Math.max(1, Math.abs(old))) {
        perms[gi] = colOf;
        converged = false;
      }
    }
  }
  return { perms, passes, converged, similarity: { before, after: objective() } };
}
