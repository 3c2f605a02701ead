/**
 * Depthwise convolution kernels (groups = c, o = c m; w [o, 1, kh, kw]), the semantics and
 * summation orders of cpu/depthwise.ts: the forward and backward-data passes are one thread per
 * output (input) element looping over the taps (the backward pass as a gather over the outputs
 * whose window holds the input, so no two threads write one element); the weight gradient is one
 * workgroup per weight element, its threads striding over samples and positions, then a tree
 * reduction (a fixed order: the same bits every run).
 *
 * Params: 0 = element count (threads, or weight elements), then the geometry from 1: n, c, h, w,
 * o, kh, kw, sh, sw, ph, pw, oh, ow.
 */
import type { Kernel } from './context.js';
import { WG, entry, kernel, reducer } from './wgsl.js';

const GEOM = `
fn d_n() -> u32 { return pu(1u); }
fn d_c() -> u32 { return pu(2u); }
fn d_h() -> u32 { return pu(3u); }
fn d_w() -> u32 { return pu(4u); }
fn d_o() -> u32 { return pu(5u); }
fn d_kh() -> u32 { return pu(6u); }
fn d_kw() -> u32 { return pu(7u); }
fn d_sh() -> u32 { return pu(8u); }
fn d_sw() -> u32 { return pu(9u); }
fn d_ph() -> i32 { return pi(10u); }
fn d_pw() -> i32 { return pi(11u); }
fn d_oh() -> u32 { return pu(12u); }
fn d_ow() -> u32 { return pu(13u); }
`;

const cache = new Map<string, Kernel>();

/** y [n, o, oh, ow] = taps of x summed in (ki, kj) order, then + bias. */
export function depthwiseForwardKernel(bias: boolean): Kernel {
  const key = `dw_fwd_${bias}`;
  let k = cache.get(key);
  if (!k) {
    k = kernel(key, [
      { name: 'X', access: 'r' }, { name: 'W', access: 'r' }, ...(bias ? [{ name: 'BIAS', access: 'r' as const }] : []), { name: 'Y', access: 'w' },
    ], () => `${GEOM}
${entry(WG)}
  if (gid >= pu(0u)) { return; }
  let P = d_oh() * d_ow();
  let q = gid / P; let pos = gid % P;
  let s = q / d_o(); let r = q % d_o(); let m = d_o() / d_c();
  let oy = pos / d_ow(); let ox = pos % d_ow();
  let xb = (s * d_c() + r / m) * d_h() * d_w();
  let wb = r * d_kh() * d_kw();
  var acc = 0.0;
  for (var ki = 0u; ki < d_kh(); ki++) {
    let iy = i32(oy * d_sh() + ki) - d_ph();
    if (iy < 0 || iy >= i32(d_h())) { continue; }
    for (var kj = 0u; kj < d_kw(); kj++) {
      let ix = i32(ox * d_sw() + kj) - d_pw();
      if (ix < 0 || ix >= i32(d_w())) { continue; }
      acc = acc + W[wb + ki * d_kw() + kj] * X[xb + u32(iy) * d_w() + u32(ix)];
    }
  }
  Y[gid] = acc${bias ? ' + BIAS[r]' : ''};
}`);
    cache.set(key, k);
  }
  return k;
}

/** gx [n, c, h, w]: per input, over its m output channels, then the taps in (ki, kj) order whose window holds it. */
export const depthwiseBackwardDataKernel: Kernel = kernel('dw_bwd_data', [
  { name: 'GY', access: 'r' }, { name: 'W', access: 'r' }, { name: 'GX', access: 'w' },
], () => `${GEOM}
${entry(WG)}
  if (gid >= pu(0u)) { return; }
  let plane = d_h() * d_w();
  let q = gid / plane; let pos = gid % plane;
  let s = q / d_c(); let ci = q % d_c(); let m = d_o() / d_c();
  let iy = i32(pos / d_w()); let ix = i32(pos % d_w());
  var acc = 0.0;
  for (var j = 0u; j < m; j++) {
    let r = ci * m + j;
    let yb = (s * d_o() + r) * d_oh() * d_ow();
    let wb = r * d_kh() * d_kw();
    for (var ki = 0u; ki < d_kh(); ki++) {
      let ty = iy + d_ph() - i32(ki);
      if (ty < 0 || u32(ty) % d_sh() != 0u) { continue; }
      let oy = u32(ty) / d_sh();
      if (oy >= d_oh()) { continue; }
      for (var kj = 0u; kj < d_kw(); kj++) {
        let tx = ix + d_pw() - i32(kj);
        if (tx < 0 || u32(tx) % d_sw() != 0u) { continue; }
        let ox = u32(tx) / d_sw();
        if (ox >= d_ow()) { continue; }
        acc = acc + W[wb + ki * d_kw() + kj] * GY[yb + oy * d_ow() + ox];
      }
    }
  }
  GX[gid] = acc;
}`);

/** gw [o, 1, kh, kw]: one workgroup per weight element (workgroup index = r kh kw + ki kw + kj). */
export const depthwiseBackwardWeightKernel: Kernel = kernel('dw_bwd_weight', [
  { name: 'GY', access: 'r' }, { name: 'X', access: 'r' }, { name: 'GW', access: 'w' },
], () => `${GEOM}
${reducer(WG, 1)}
${entry(WG)}
  let e = wgi;
  let valid = e < pu(0u);
  var acc = 0.0;
  if (valid) {
    let kk = d_kh() * d_kw();
    let r = e / kk; let ki = (e % kk) / d_kw(); let kj = e % d_kw();
    let m = d_o() / d_c(); let ci = r / m;
    let P = d_oh() * d_ow();
    for (var t = li; t < d_n() * P; t += ${WG}u) {
      let s = t / P; let pos = t % P;
      let iy = i32((pos / d_ow()) * d_sh() + ki) - d_ph();
      let ix = i32((pos % d_ow()) * d_sw() + kj) - d_pw();
      if (iy >= 0 && iy < i32(d_h()) && ix >= 0 && ix < i32(d_w())) {
        acc = acc + GY[(s * d_o() + r) * P + pos] * X[((s * d_c() + ci) * d_h() + u32(iy)) * d_w() + u32(ix)];
      }
    }
  }
  red0[li] = acc;
  workgroupBarrier();
  reduce_all(li);
  if (valid && li == 0u) { GW[e] = red0[0]; }
}`);
