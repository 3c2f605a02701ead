/**
 * Applying permutations to a network's tensors (docs/seeds.md#permutation-groups).
 *
 * A permutation p of a group of size n is an Int32Array with p[i] = the unit of the original
 * network that becomes unit i: along every axis the group acts on, out[.., i, ..] = in[.., p[i], ..]
 * (numpy's `take(w, p, axis)`, as in Git Re-Basin).
 */
import type { Rng } from '../tensor/random.js';
import type { ParamLayout } from '../zoo/layout.js';
import { ShapeError } from '../util/errors.js';
import { axesByTensor, type PermutationSpec } from './spec.js';

/** A tensor by value: its shape and its row-major float32 values. */
export interface NamedTensor {
  shape: readonly number[];
  data: Float32Array;
}

/** A network's tensors by state_dict name. */
export type TensorMap = ReadonlyMap<string, NamedTensor>;

/** One permutation per group of a spec, in the spec's group order. */
export type Permutations = Int32Array[];

/** Where each tensor of a flat parameter vector lives: the fields of a ParamLayout that permuting reads. */
export type VectorLayout = Pick<ParamLayout, 'names' | 'shapes' | 'offsets' | 'sizes' | 'total'>;

/** The identity permutation of every group. */
export function identityPermutations(spec: PermutationSpec): Permutations {
  return spec.groups.map((g) => Int32Array.from({ length: g.size }, (_, i) => i));
}

/** A uniformly random permutation of every group, drawn in group order. */
export function randomPermutations(spec: PermutationSpec, rng: Rng): Permutations {
  return spec.groups.map((g) => rng.permutation(g.size));
}

/** Whether `p` is a permutation of 0..n-1. */
export function isPermutation(p: ArrayLike<number>, n: number): boolean {
  if (p.length !== n) return false;
  const seen = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    const v = p[i]!;
    if (!(Number.isInteger(v) && v >= 0 && v < n) || seen[v]) return false;
    seen[v] = 1;
  }
  return true;
}

/** q = p^-1: applying p, then q, is the identity. */
export function invertPermutation(p: Int32Array): Int32Array {
  const q = new Int32Array(p.length);
  for (let i = 0; i < p.length; i++) q[p[i]!] = i;
  return q;
}

/**
 * A copy of `t` with each listed axis reordered by its permutation (out[.., i, ..] = in[.., p[i], ..]
 * along that axis).
 */
export function permuteAxes(t: NamedTensor, moves: ReadonlyArray<{ axis: number; perm: Int32Array }>): Float32Array {
  let data = t.data;
  for (const { axis, perm } of moves) {
    const dims = t.shape;
    const n = dims[axis]!;
    if (perm.length !== n) throw new ShapeError(`permuteAxes: a permutation of ${perm.length} units for axis ${axis} of a tensor [${dims.join(', ')}]`);
    let outer = 1, inner = 1;
    for (let d = 0; d < axis; d++) outer *= dims[d]!;
    for (let d = axis + 1; d < dims.length; d++) inner *= dims[d]!;
    const out = new Float32Array(data.length);
    for (let o = 0; o < outer; o++) {
      const base = o * n * inner;
      for (let i = 0; i < n; i++) {
        const src = base + perm[i]! * inner;
        out.set(data.subarray(src, src + inner), base + i * inner);
      }
    }
    data = out;
  }
  return data === t.data ? t.data.slice() : data;
}

/**
 * The network `tensors` with every group of `spec` permuted by `perms` (a new map; tensors the
 * spec does not touch are copied). Every tensor the spec names must be present, or the result
 * would compute another function.
 * @throws ShapeError naming the missing tensor, or the group and tensor whose sizes disagree.
 */
export function applyPermutations(spec: PermutationSpec, tensors: TensorMap, perms: Permutations): Map<string, NamedTensor> {
  checkPermutations(spec, perms);
  const byTensor = axesByTensor(spec);
  for (const name of byTensor.keys()) {
    if (!tensors.has(name)) throw new ShapeError(`applyPermutations: the permutation spec acts on "${name}", which is missing (present: ${[...tensors.keys()].join(', ')})`);
  }
  const out = new Map<string, NamedTensor>();
  for (const [name, t] of tensors) {
    const moves = (byTensor.get(name) ?? []).map(({ axis, group }) => {
      const g = spec.groups[group]!;
      if (t.shape[axis] !== g.size) throw new ShapeError(`applyPermutations: group ${g.name} (size ${g.size}) acts on axis ${axis} of "${name}" [${t.shape.join(', ')}]`);
      return { axis, perm: perms[group]! };
    });
    out.set(name, { shape: [...t.shape], data: permuteAxes(t, moves) });
  }
  return out;
}

/** @throws ShapeError when `perms` is not one permutation of the right size per group. */
export function checkPermutations(spec: PermutationSpec, perms: Permutations): void {
  if (perms.length !== spec.groups.length) throw new ShapeError(`permutations: ${perms.length} given for a spec of ${spec.groups.length} groups`);
  spec.groups.forEach((g, i) => {
    if (!isPermutation(perms[i]!, g.size)) throw new ShapeError(`permutations: entry ${i} is not a permutation of the ${g.size} units of group ${g.name}`);
  });
}

/** The tensors of a flat vector [total] in `layout` (views into `vec`, not copies). */
export function tensorsOfVector(layout: VectorLayout, vec: Float32Array): Map<string, NamedTensor> {
  if (vec.length !== layout.total) throw new ShapeError(`tensorsOfVector: expected a vector of ${layout.total} floats, got ${vec.length}`);
  const out = new Map<string, NamedTensor>();
  layout.names.forEach((n, i) => {
    const off = layout.offsets[i]!;
    out.set(n, { shape: layout.shapes[i]!, data: vec.subarray(off, off + layout.sizes[i]!) });
  });
  return out;
}

/** The flat vector [total] of `tensors` in `layout` order. @throws ShapeError for a missing or mis-sized tensor. */
export function vectorOfTensors(layout: VectorLayout, tensors: TensorMap): Float32Array {
  const vec = new Float32Array(layout.total);
  layout.names.forEach((n, i) => {
    const t = tensors.get(n);
    if (!t || t.data.length !== layout.sizes[i]) throw new ShapeError(`vectorOfTensors: tensor "${n}" is ${t ? `${t.data.length} floats` : 'missing'}, the layout needs ${layout.sizes[i]}`);
    vec.set(t.data, layout.offsets[i]!);
  });
  return vec;
}

/** A flat parameter vector in `layout` with `perms` applied (every tensor the spec names must be in the layout). */
export function permuteVector(spec: PermutationSpec, layout: VectorLayout, vec: Float32Array, perms: Permutations): Float32Array {
  return vectorOfTensors(layout, applyPermutations(spec, tensorsOfVector(layout, vec), perms));
}
