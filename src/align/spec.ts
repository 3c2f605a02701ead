/**
 * Permutation specs (docs/seeds.md#permutation-groups): which axes of which tensors one hidden
 * permutation acts on. Reordering the units of a hidden layer, together with every tensor that
 * reads or writes those units, leaves the network's function unchanged; a spec lists, per
 * permutation, every (tensor, axis) it acts on (Git Re-Basin's `PermutationSpec`), so alignment is
 * written once, generically, and each architecture only describes its own wiring (its spec sits in
 * its own file: `permutationSpec()` of src/models/mlp.ts, cnn-s.ts, resnet.ts).
 *
 * This module knows nothing of models or layouts: names are state_dict names.
 */
import { ShapeError } from '../util/errors.js';

/** One axis of one tensor that a permutation reorders. */
export interface PermutedAxis {
  /** state_dict name, e.g. `fc1.weight`, `bn2.running_var`. */
  tensor: string;
  /** The axis of that tensor indexed by the permuted units (0 = output units, 1 = input units of a weight). */
  axis: number;
}

/** One permutation: the units of one hidden layer (or of one residual stream), and where they appear. */
export interface PermutationGroup {
  /** Readable id, e.g. `P_fc1`, `P_layer2` (the residual stream of a ResNet stage). */
  name: string;
  /** Number of units permuted. */
  size: number;
  /** Every (tensor, axis) indexed by these units. */
  axes: PermutedAxis[];
}

/** The permutation symmetry of one network. */
export interface PermutationSpec {
  groups: PermutationGroup[];
}

/** The axis-0 entries of a BatchNorm's affine parameters and running statistics (`<prefix>.weight`, ...). */
export function batchNormAxes(prefix: string): PermutedAxis[] {
  return ['weight', 'bias', 'running_mean', 'running_var'].map((p) => ({ tensor: `${prefix}.${p}`, axis: 0 }));
}

/** For each tensor, the groups acting on each of its axes (at most one group per axis). */
export function axesByTensor(spec: PermutationSpec): Map<string, Array<{ axis: number; group: number }>> {
  const out = new Map<string, Array<{ axis: number; group: number }>>();
  spec.groups.forEach((g, gi) => {
    for (const a of g.axes) {
      let list = out.get(a.tensor);
      if (!list) out.set(a.tensor, (list = []));
      if (list.some((e) => e.axis === a.axis)) {
        throw new ShapeError(`permutation spec: axis ${a.axis} of "${a.tensor}" is claimed by ${spec.groups[list.find((e) => e.axis === a.axis)!.group]!.name} and ${g.name}`);
      }
      list.push({ axis: a.axis, group: gi });
    }
  });
  return out;
}

/**
 * Check a spec against a network's tensor shapes: every tensor it names exists, and the permuted
 * axis has the group's size.
 * @throws ShapeError naming the group, tensor and axis.
 */
export function checkSpec(spec: PermutationSpec, shapes: ReadonlyMap<string, readonly number[]>): void {
  axesByTensor(spec);
  for (const g of spec.groups) {
    if (!(Number.isInteger(g.size) && g.size >= 1)) throw new ShapeError(`permutation spec: group ${g.name} has size ${g.size}, expected a positive integer`);
    for (const a of g.axes) {
      const s = shapes.get(a.tensor);
      if (!s) throw new ShapeError(`permutation spec: group ${g.name} names tensor "${a.tensor}", which the network does not have`);
      if (!(a.axis >= 0 && a.axis < s.length) || s[a.axis] !== g.size) {
        throw new ShapeError(`permutation spec: group ${g.name} (size ${g.size}) acts on axis ${a.axis} of "${a.tensor}" [${s.join(', ')}], whose length is ${s[a.axis] ?? 'undefined'}`);
      }
    }
  }
}
