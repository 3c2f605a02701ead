/**
 * Reductions, all deterministic (fixed order, no atomics):
 * - sumTo: sum over broadcast axes, one thread per output for short reductions, one workgroup
 *   per output (strided partial sums, then a tree) for long ones;
 * - full reductions (sum of squares, count of non-finite values, plain sum) in two passes:
 *   per-workgroup partials, then one workgroup over the partials;
 * - the finishing sum of split-K GEMM partials.
 */
import type { Kernel } from './context.js';
import { MATH, WG, entry, kernel, reducer } from './wgsl.js';

/**
 * sumTo over a coalesced view. Output index o decomposes over the kept dims (dense in y);
 * reduction index r over the reduced dims.
 * Params: nOut, R, nk, nr, keptShape[8] @4, keptSx[8] @12, keptSy[8] @20, redShape[8] @28, redSx[8] @36.
 */
const SUMTO_BODY = `
fn x_base(o: u32) -> u32 {
  var off = 0u;
  for (var d = 0u; d < pu(2u); d++) { off += ((o / pu(20u + d)) % pu(4u + d)) * pu(12u + d); }
  return off;
}
fn x_red(r: u32) -> u32 {
  var rem = r; var off = 0u;
  for (var d = pu(3u); d > 0u; d--) { let s = pu(27u + d); off += (rem % s) * pu(35u + d); rem = rem / s; }
  return off;
}
`;

export const sumToThreadKernel: Kernel = kernel('sumto_t', [{ name: 'X', access: 'r' }, { name: 'Y', access: 'w' }], () => `${SUMTO_BODY}
${entry(WG)}
  if (gid >= pu(0u)) { return; }
  let base = x_base(gid);
  var acc = 0.0;
  for (var r = 0u; r < pu(1u); r++) { acc += X[base + x_red(r)]; }
  Y[gid] = acc;
}`);

export const sumToGroupKernel: Kernel = kernel('sumto_g', [{ name: 'X', access: 'r' }, { name: 'Y', access: 'w' }], () => `${SUMTO_BODY}
${reducer(WG, 1)}
${entry(WG)}
  let o = wgi;
  let valid = o < pu(0u);
  var acc = 0.0;
  if (valid) {
    let base = x_base(o);
    for (var r = li; r < pu(1u); r += ${WG}u) { acc += X[base + x_red(r)]; }
  }
  red0[li] = acc;
  workgroupBarrier();
  reduce_all(li);
  if (valid && li == 0u) { Y[o] = red0[0]; }
}`);

export type FullReduce = 'sumsq' | 'nonfinite' | 'sum';
const RG = 128;

/**
 * Pass 1: workgroup w sums f(X[i]) for i = w*RG + li, stepping by (groups * RG); writes PART[w].
 * Params: n, groups.
 */
export function reducePass1(kind: FullReduce): Kernel {
  const term = kind === 'sumsq' ? 'v * v' : kind === 'nonfinite' ? 'select(0.0, 1.0, !is_finite(v))' : 'v';
  return kernel(`reduce1_${kind}`, [{ name: 'X', access: 'r' }, { name: 'PART', access: 'w' }], () => `${MATH}
${reducer(RG, 1)}
${entry(RG)}
  var acc = 0.0;
  for (var i = wgi * ${RG}u + li; i < pu(0u); i += pu(1u) * ${RG}u) { let v = X[i]; acc += ${term}; }
  red0[li] = acc;
  workgroupBarrier();
  reduce_all(li);
  if (li == 0u) { PART[wgi] = red0[0]; }
}`);
}

/** Pass 2 (one workgroup): OUT[0] = scale * sum of PART[0..n). Params: n, scale. */
export const reducePass2: Kernel = kernel('reduce2', [{ name: 'PART', access: 'r' }, { name: 'OUT', access: 'w' }], () => `
${reducer(RG, 1)}
${entry(RG)}
  var acc = 0.0;
  for (var i = li; i < pu(0u); i += ${RG}u) { acc += PART[i]; }
  red0[li] = acc;
  workgroupBarrier();
  reduce_all(li);
  if (li == 0u) { OUT[0] = red0[0] * pf(1u); }
}`);

export const REDUCE_GROUPS_MAX = 256;
export const REDUCE_WG = RG;

/** C[i] = (accumulate ? C[i] : 0) + sum_z PART[z * mn + i]. Params: mn, splits. */
export function splitFinishKernel(accumulate: boolean): Kernel {
  return kernel(`splitk_finish_${accumulate}`, [{ name: 'PART', access: 'r' }, { name: 'C', access: 'w' }], () => `${entry(WG)}
  let mn = pu(0u);
  if (gid >= mn) { return; }
  var acc = ${accumulate ? 'C[gid]' : '0.0'};
  for (var z = 0u; z < pu(1u); z++) { acc += PART[z * mn + gid]; }
  C[gid] = acc;
}`);
}
