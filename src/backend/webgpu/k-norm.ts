/**
 * Normalisation kernels (x viewed as [n, c, s]). Statistics use sums shifted by the group's
 * first element (as the CPU kernels do) and workgroup tree reductions; everything is
 * deterministic. Layer norm is group norm with n = rows, c = d, s = 1, groups = 1.
 *
 * With xhat = (x - mean) invstd over a group of m elements and g' = gy gamma:
 *   gx = invstd (g' - sum(g') / m - xhat sum(g' xhat) / m).
 */
import type { Kernel } from './context.js';
import { WG, entry, kernel, reducer, type Binding } from './wgsl.js';

const cache = new Map<string, Kernel>();
function cached(key: string, make: (key: string) => Kernel): Kernel {
  let k = cache.get(key);
  if (!k) { k = make(key); cache.set(key, k); }
  return k;
}
const opt = (on: boolean, b: Binding): Binding[] => (on ? [b] : []);

/** Batch-norm statistics, one workgroup per channel. Params: n, c, s, eps. */
export const bnStatsKernel: Kernel = kernel('bn_stats', [
  { name: 'X', access: 'r' }, { name: 'MEAN', access: 'w' }, { name: 'INVSTD', access: 'w' }, { name: 'VAR', access: 'w' },
], () => `${reducer(WG, 2)}
${entry(WG)}
  let n = pu(0u); let c = pu(1u); let s = pu(2u);
  let ch = wgi;
  let valid = ch < c;
  let m = n * s;
  var a = 0.0; var b = 0.0;
  if (valid && m > 0u) {
    let k = X[ch * s];
    for (var j = li; j < m; j += ${WG}u) {
      let d = X[((j / s) * c + ch) * s + j % s] - k;
      a += d; b += d * d;
    }
  }
  red0[li] = a; red1[li] = b;
  workgroupBarrier();
  reduce_all(li);
  if (valid && li == 0u) {
    let mf = f32(m);
    let sa = red0[0]; let sb = red1[0];
    var k0 = 0.0;
    if (m > 0u) { k0 = X[ch * s]; }
    let v = max(0.0, sb - sa * sa / mf) / mf;
    MEAN[ch] = k0 + sa / mf;
    VAR[ch] = v;
    INVSTD[ch] = 1.0 / sqrt(v + pf(3u));
  }
}`);

/**
 * y = (x - S1[ch]) inv(ch) gamma[ch] + beta[ch], inv = S2 (train: invstd) or 1 / sqrt(S2 + eps) (eval: running var).
 * Params: total, c, s, eps.
 */
export function bnApplyKernel(evalMode: boolean, gamma: boolean, beta: boolean): Kernel {
  return cached(`bn_apply_${evalMode}_${gamma}_${beta}`, (key) => kernel(key, [
    { name: 'X', access: 'r' }, { name: 'S1', access: 'r' }, { name: 'S2', access: 'r' },
    ...opt(gamma, { name: 'GAMMA', access: 'r' }), ...opt(beta, { name: 'BETA', access: 'r' }), { name: 'Y', access: 'w' },
  ], () => `${entry(WG)}
  if (gid >= pu(0u)) { return; }
  let ch = (gid / pu(2u)) % pu(1u);
  let inv = ${evalMode ? '1.0 / sqrt(S2[ch] + pf(3u))' : 'S2[ch]'};
  Y[gid] = (X[gid] - S1[ch]) * inv${gamma ? ' * GAMMA[ch]' : ''}${beta ? ' + BETA[ch]' : ''};
}`));
}

/** Per-channel sums over n and s: SUMS[2ch] = sum gy, SUMS[2ch + 1] = sum gy (x - S1[ch]). Params: n, c, s. */
export const bnSumsKernel: Kernel = kernel('bn_sums', [
  { name: 'GY', access: 'r' }, { name: 'X', access: 'r' }, { name: 'S1', access: 'r' }, { name: 'SUMS', access: 'w' },
], () => `${reducer(WG, 2)}
${entry(WG)}
  let n = pu(0u); let c = pu(1u); let s = pu(2u);
  let ch = wgi;
  let valid = ch < c;
  var a = 0.0; var b = 0.0;
  if (valid) {
    let mu = S1[ch];
    for (var j = li; j < n * s; j += ${WG}u) {
      let i = ((j / s) * c + ch) * s + j % s;
      let g = GY[i];
      a += g; b += g * (X[i] - mu);
    }
  }
  red0[li] = a; red1[li] = b;
  workgroupBarrier();
  reduce_all(li);
  if (valid && li == 0u) { SUMS[2u * ch] = red0[0]; SUMS[2u * ch + 1u] = red1[0]; }
}`);

/** ggamma = SUMS[2ch+1] inv(ch), gbeta = SUMS[2ch]. Params: c, eps. */
export function bnParamGradKernel(evalMode: boolean, gg: boolean, gb: boolean): Kernel {
  return cached(`bn_pgrad_${evalMode}_${gg}_${gb}`, (key) => kernel(key, [
    { name: 'SUMS', access: 'r' }, { name: 'S2', access: 'r' },
    ...opt(gg, { name: 'GG', access: 'w' }), ...opt(gb, { name: 'GB', access: 'w' }),
  ], () => `${entry(WG)}
  if (gid >= pu(0u)) { return; }
  let inv = ${evalMode ? '1.0 / sqrt(S2[gid] + pf(1u))' : 'S2[gid]'};
  ${gg ? 'GG[gid] = SUMS[2u * gid + 1u] * inv;' : ''}
  ${gb ? 'GB[gid] = SUMS[2u * gid];' : ''}
}`));
}

/** Training-mode batch-norm input gradient. Params: total, c, s, m (f32). */
export function bnTrainGxKernel(gamma: boolean): Kernel {
  return cached(`bn_gx_${gamma}`, (key) => kernel(key, [
    { name: 'GY', access: 'r' }, { name: 'X', access: 'r' }, { name: 'MEAN', access: 'r' }, { name: 'INVSTD', access: 'r' },
    ...opt(gamma, { name: 'GAMMA', access: 'r' }), { name: 'SUMS', access: 'r' }, { name: 'GX', access: 'w' },
  ], () => `${entry(WG)}
  if (gid >= pu(0u)) { return; }
  let ch = (gid / pu(2u)) % pu(1u);
  let m = pf(3u);
  let is = INVSTD[ch];
  let gi = ${gamma ? 'GAMMA[ch] * is' : 'is'};
  let kd = -gi * is * is * SUMS[2u * ch + 1u] / m;
  let k0 = -gi * SUMS[2u * ch] / m;
  GX[gid] = gi * GY[gid] + kd * (X[gid] - MEAN[ch]) + k0;
}`));
}

/** Eval-mode batch-norm input gradient gx = gy gamma / sqrt(runVar + eps). Params: total, c, s, eps. */
export function bnEvalGxKernel(gamma: boolean): Kernel {
  return cached(`bn_egx_${gamma}`, (key) => kernel(key, [
    { name: 'GY', access: 'r' }, { name: 'RV', access: 'r' }, ...opt(gamma, { name: 'GAMMA', access: 'r' }), { name: 'GX', access: 'w' },
  ], () => `${entry(WG)}
  if (gid >= pu(0u)) { return; }
  let ch = (gid / pu(2u)) % pu(1u);
  GX[gid] = GY[gid] * ${gamma ? 'GAMMA[ch]' : '1.0'} / sqrt(RV[ch] + pf(3u));
}`));
}

/** Statistics of contiguous rows of M elements, one workgroup per row. Params: rows, M, eps. */
export const rowStatsKernel: Kernel = kernel('row_stats', [
  { name: 'X', access: 'r' }, { name: 'MEAN', access: 'w' }, { name: 'INVSTD', access: 'w' },
], () => `${reducer(WG, 2)}
${entry(WG)}
  let M = pu(1u);
  let r = wgi;
  let valid = r < pu(0u);
  var a = 0.0; var b = 0.0;
  if (valid) {
    let k = X[r * M];
    for (var j = li; j < M; j += ${WG}u) { let d = X[r * M + j] - k; a += d; b += d * d; }
  }
  red0[li] = a; red1[li] = b;
  workgroupBarrier();
  reduce_all(li);
  if (valid && li == 0u) {
    let mf = f32(M);
    let sa = red0[0]; let sb = red1[0];
    MEAN[r] = X[r * M] + sa / mf;
    INVSTD[r] = 1.0 / sqrt(max(0.0, sb - sa * sa / mf) / mf + pf(2u));
  }
}`);

/** Group-norm apply: row = gid / M, ch = (gid / s) % c. Params: total, c, s, M. */
export function gnApplyKernel(gamma: boolean, beta: boolean): Kernel {
  return cached(`gn_apply_${gamma}_${beta}`, (key) => kernel(key, [
    { name: 'X', access: 'r' }, { name: 'MEAN', access: 'r' }, { name: 'INVSTD', access: 'r' },
    ...opt(gamma, { name: 'GAMMA', access: 'r' }), ...opt(beta, { name: 'BETA', access: 'r' }), { name: 'Y', access: 'w' },
  ], () => `${entry(WG)}
  if (gid >= pu(0u)) { return; }
  let ch = (gid / pu(2u)) % pu(1u);
  let row = gid / pu(3u);
  Y[gid] = (X[gid] - MEAN[row]) * INVSTD[row]${gamma ? ' * GAMMA[ch]' : ''}${beta ? ' + BETA[ch]' : ''};
}`));
}

/**
 * Per (sample, channel) pair, over its s elements: AB[2p] = sum gy, AB[2p + 1] = sum gy (x - mean of its group).
 * `group`: one workgroup per pair, else one thread. Params: pairs, s, c, groups, cg.
 */
export function gnPairSumsKernel(group: boolean): Kernel {
  const bindings: Binding[] = [{ name: 'GY', access: 'r' }, { name: 'X', access: 'r' }, { name: 'MEAN', access: 'r' }, { name: 'AB', access: 'w' }];
  const mu = 'MEAN[(p / pu(2u)) * pu(3u) + (p % pu(2u)) / pu(4u)]';
  if (!group) {
    return cached('gn_pairs_t', (key) => kernel(key, bindings, () => `${entry(WG)}
  let p = gid;
  if (p >= pu(0u)) { return; }
  let s = pu(1u);
  let mu = ${mu};
  var a = 0.0; var b = 0.0;
  for (var q = 0u; q < s; q++) { let g = GY[p * s + q]; a += g; b += g * (X[p * s + q] - mu); }
  AB[2u * p] = a; AB[2u * p + 1u] = b;
}`));
  }
  return cached('gn_pairs_g', (key) => kernel(key, bindings, () => `${reducer(WG, 2)}
${entry(WG)}
  let p = wgi;
  let valid = p < pu(0u);
  let s = pu(1u);
  var a = 0.0; var b = 0.0;
  if (valid) {
    let mu = ${mu};
    for (var q = li; q < s; q += ${WG}u) { let g = GY[p * s + q]; a += g; b += g * (X[p * s + q] - mu); }
  }
  red0[li] = a; red1[li] = b;
  workgroupBarrier();
  reduce_all(li);
  if (valid && li == 0u) { AB[2u * p] = red0[0]; AB[2u * p + 1u] = red1[0]; }
}`));
}

/** Per (sample, group): GS[2r] = sum_k a gamma, GS[2r + 1] = sum_k b gamma over its cg channels. Params: n groups, c, groups, cg. */
export function gnGroupSumsKernel(gamma: boolean): Kernel {
  return cached(`gn_gsums_${gamma}`, (key) => kernel(key, [
    { name: 'AB', access: 'r' }, ...opt(gamma, { name: 'GAMMA', access: 'r' }), { name: 'GS', access: 'w' },
  ], () => `${entry(WG)}
  let r = gid;
  if (r >= pu(0u)) { return; }
  let i = r / pu(2u); let gi = r % pu(2u); let cg = pu(3u);
  var sg = 0.0; var sgd = 0.0;
  for (var k = 0u; k < cg; k++) {
    let ch = gi * cg + k;
    let p = i * pu(1u) + ch;
    let gm = ${gamma ? 'GAMMA[ch]' : '1.0'};
    sg += AB[2u * p] * gm; sgd += AB[2u * p + 1u] * gm;
  }
  GS[2u * r] = sg; GS[2u * r + 1u] = sgd;
}`));
}

/** Group-norm input gradient. Params: total, c, s, M (f32), groups, cg. */
export function gnGxKernel(gamma: boolean): Kernel {
  return cached(`gn_gx_${gamma}`, (key) => kernel(key, [
    { name: 'GY', access: 'r' }, { name: 'X', access: 'r' }, { name: 'MEAN', access: 'r' }, { name: 'INVSTD', access: 'r' },
    ...opt(gamma, { name: 'GAMMA', access: 'r' }), { name: 'GS', access: 'r' }, { name: 'GX', access: 'w' },
  ], () => `${entry(WG)}
  if (gid >= pu(0u)) { return; }
  let c = pu(1u); let s = pu(2u);
  let ch = (gid / s) % c;
  let i = gid / (s * c);
  let row = i * pu(4u) + ch / pu(5u);
  let is = INVSTD[row];
  let M = pf(3u);
  let a = ${gamma ? 'GAMMA[ch] * is' : 'is'};
  let kd = -is * is * is * GS[2u * row + 1u] / M;
  let k0 = -is * GS[2u * row] / M;
  GX[gid] = a * GY[gid] + kd * (X[gid] - MEAN[row]) + k0;
}`));
}

/** ggamma[ch] = sum_i b(i, ch) invstd(i, group), gbeta[ch] = sum_i a(i, ch). Params: c, n, groups, cg. */
export function gnParamGradKernel(gg: boolean, gb: boolean): Kernel {
  return cached(`gn_pgrad_${gg}_${gb}`, (key) => kernel(key, [
    { name: 'AB', access: 'r' }, { name: 'INVSTD', access: 'r' },
    ...opt(gg, { name: 'GG', access: 'w' }), ...opt(gb, { name: 'GB', access: 'w' }),
  ], () => `${entry(WG)}
  let ch = gid;
  let c = pu(0u);
  if (ch >= c) { return; }
  var sg = 0.0; var sb = 0.0;
  for (var i = 0u; i < pu(1u); i++) {
    let p = i * c + ch;
    sb += AB[2u * p];
    sg += AB[2u * p + 1u] * INVSTD[i * pu(2u) + ch / pu(3u)];
  }
  ${gg ? 'GG[ch] = sg;' : ''}
  ${gb ? 'GB[ch] = sb;' : ''}
}`));
}
