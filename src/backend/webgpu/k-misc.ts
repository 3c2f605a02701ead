/**
 * Pooling (gradients as gathers over the windows that contain each input, so no scatter races),
 * row-wise softmax / log-softmax / cross-entropy / argmax (one thread per row), and the layout
 * kernels permute and copyRegion over coalesced strided views.
 */
import type { Kernel } from './context.js';
import { MATH, WG, entry, kernel } from './wgsl.js';

const cache = new Map<string, Kernel>();
function cached(key: string, make: (key: string) => Kernel): Kernel {
  let k = cache.get(key);
  if (!k) { k = make(key); cache.set(key, k); }
  return k;
}

/** Pool geometry params from 1: h, w, kh, kw, sh, sw, ph, pw, oh, ow (param 0 = thread count). */
const POOL = `
fn p_h() -> i32 { return pi(1u); }
fn p_w() -> i32 { return pi(2u); }
fn p_kh() -> i32 { return pi(3u); }
fn p_kw() -> i32 { return pi(4u); }
fn p_sh() -> i32 { return pi(5u); }
fn p_sw() -> i32 { return pi(6u); }
fn p_ph() -> i32 { return pi(7u); }
fn p_pw() -> i32 { return pi(8u); }
fn p_oh() -> i32 { return pi(9u); }
fn p_ow() -> i32 { return pi(10u); }
// first window index t >= 0 whose window [t s - p, t s - p + k) contains i, and the last (clamped to [0, count)).
fn win_lo(i: i32, k: i32, s: i32, p: i32) -> i32 { let a = i + p - k + 1; if (a <= 0) { return 0; } return (a + s - 1) / s; }
fn win_hi(i: i32, s: i32, p: i32, count: i32) -> i32 { return min(count - 1, (i + p) / s); }
`;

/** Forward prologue: one thread per output o = (plane p, oy, ox); its window [hs0, he) x [ws0, we) in plane xb. */
const OUT_WINDOW = `  if (gid >= pu(0u)) { return; }
  let o = i32(gid);
  let outPlane = p_oh() * p_ow();
  let p = o / outPlane; let q = o % outPlane;
  let oy = q / p_ow(); let ox = q % p_ow();
  let hs = oy * p_sh() - p_ph(); let he = min(hs + p_kh(), p_h()); let hs0 = max(hs, 0);
  let ws = ox * p_sw() - p_pw(); let we = min(ws + p_kw(), p_w()); let ws0 = max(ws, 0);
  let xb = p * p_h() * p_w();
`;

/**
 * Backward body: one thread per input element (plane p, position pos), summing `term` over every
 * output o (at oy, ox) whose window contains it into acc, then GX[gid] = acc.
 */
function gatherWindows(term: string): string {
  return `  if (gid >= pu(0u)) { return; }
  let i = i32(gid);
  let plane = p_h() * p_w();
  let p = i / plane; let pos = i % plane;
  let iy = pos / p_w(); let ix = pos % p_w();
  let ob = p * p_oh() * p_ow();
  var acc = 0.0;
  for (var oy = win_lo(iy, p_kh(), p_sh(), p_ph()); oy <= win_hi(iy, p_sh(), p_ph(), p_oh()); oy++) {
    for (var ox = win_lo(ix, p_kw(), p_sw(), p_pw()); ox <= win_hi(ix, p_sw(), p_pw(), p_ow()); ox++) {
      let o = ob + oy * p_ow() + ox;
      ${term}
    }
  }
  GX[gid] = acc;
`;
}

export const maxPoolForwardKernel: Kernel = kernel('maxpool_f', [
  { name: 'X', access: 'r' }, { name: 'Y', access: 'w' }, { name: 'AM', access: 'w', type: 'i32' },
], () => `${MATH}${POOL}
${entry(WG)}
${OUT_WINDOW}  var best = neg_inf();
  var bi = hs0 * p_w() + ws0;
  for (var iy = hs0; iy < he; iy++) {
    for (var ix = ws0; ix < we; ix++) {
      let v = X[xb + iy * p_w() + ix];
      if (v > best || is_nan(v)) { best = v; bi = iy * p_w() + ix; }
    }
  }
  Y[gid] = best;
  AM[gid] = bi;
}`);

export const maxPoolBackwardKernel: Kernel = kernel('maxpool_b', [
  { name: 'GY', access: 'r' }, { name: 'AM', access: 'r', type: 'i32' }, { name: 'GX', access: 'w' },
], () => `${POOL}
${entry(WG)}
${gatherWindows('if (AM[o] == pos) { acc += GY[o]; }')}}`);

/** Window size counted as PyTorch does (count_include_pad, clipped to the padded input). */
const AVG_SIZE = `
fn win_size(oy: i32, ox: i32) -> f32 {
  let hs = oy * p_sh() - p_ph(); let hp = min(hs + p_kh(), p_h() + p_ph());
  let ws = ox * p_sw() - p_pw(); let wp = min(ws + p_kw(), p_w() + p_pw());
  return f32((hp - hs) * (wp - ws));
}
`;

export const avgPoolForwardKernel: Kernel = kernel('avgpool_f', [{ name: 'X', access: 'r' }, { name: 'Y', access: 'w' }], () => `${POOL}${AVG_SIZE}
${entry(WG)}
${OUT_WINDOW}  var acc = 0.0;
  for (var iy = hs0; iy < he; iy++) {
    for (var ix = ws0; ix < we; ix++) { acc += X[xb + iy * p_w() + ix]; }
  }
  Y[gid] = acc / win_size(oy, ox);
}`);

export const avgPoolBackwardKernel: Kernel = kernel('avgpool_b', [{ name: 'GY', access: 'r' }, { name: 'GX', access: 'w' }], () => `${POOL}${AVG_SIZE}
${entry(WG)}
${gatherWindows('acc += GY[o] / win_size(oy, ox);')}}`);

const NEG_INF = 'neg_inf()';

/** Row-wise (log-)softmax. Params: rows, cols. */
export function softmaxKernel(log: boolean): Kernel {
  return cached(`softmax_${log}`, (key) => kernel(key, [{ name: 'X', access: 'r' }, { name: 'Y', access: 'w' }], () => `${entry(WG)}
  if (gid >= pu(0u)) { return; }
  let cols = pu(1u);
  let o = gid * cols;
  var mx = ${NEG_INF};
  for (var j = 0u; j < cols; j++) { let v = X[o + j]; if (v > mx) { mx = v; } }
  var s = 0.0;
  for (var j = 0u; j < cols; j++) { s += exp(X[o + j] - mx); }
  ${log
    ? 'let lse = mx + log(s);\n  for (var j = 0u; j < cols; j++) { Y[o + j] = X[o + j] - lse; }'
    : 'let inv = 1.0 / s;\n  for (var j = 0u; j < cols; j++) { Y[o + j] = exp(X[o + j] - mx) * inv; }'}
}`));
}

/** softmax: gx = y (gy - sum(gy y)); log-softmax: gx = gy - exp(y) sum(gy). Params: rows, cols. */
export function softmaxBackwardKernel(log: boolean): Kernel {
  return cached(`softmaxb_${log}`, (key) => kernel(key, [{ name: 'YV', access: 'r' }, { name: 'GY', access: 'r' }, { name: 'GX', access: 'w' }], () => `${entry(WG)}
  if (gid >= pu(0u)) { return; }
  let cols = pu(1u);
  let o = gid * cols;
  var s = 0.0;
  ${log
    ? `for (var j = 0u; j < cols; j++) { s += GY[o + j]; }
  for (var j = 0u; j < cols; j++) { GX[o + j] = GY[o + j] - exp(YV[o + j]) * s; }`
    : `for (var j = 0u; j < cols; j++) { s += GY[o + j] * YV[o + j]; }
  for (var j = 0u; j < cols; j++) { GX[o + j] = YV[o + j] * (GY[o + j] - s); }`}
}`));
}

/**
 * Per-row cross-entropy with label smoothing into LOSS[row]; d loss / d logits into GRAD when given.
 * Params: rows, cols, off, on, invRows, smoothing != 0.
 */
export function crossEntropyKernel(grad: boolean): Kernel {
  return cached(`xent_${grad}`, (key) => kernel(key, [
    { name: 'L', access: 'r' }, { name: 'LABELS', access: 'r', type: 'i32' },
    ...(grad ? [{ name: 'GRAD', access: 'w' as const }] : []), { name: 'LOSS', access: 'w' },
  ], () => `${entry(WG)}
  if (gid >= pu(0u)) { return; }
  let cols = pu(1u);
  let o = gid * cols;
  let label = u32(LABELS[gid]);
  let off = pf(2u); let on = pf(3u);
  var mx = ${NEG_INF};
  for (var j = 0u; j < cols; j++) { let v = L[o + j]; if (v > mx) { mx = v; } }
  var s = 0.0;
  for (var j = 0u; j < cols; j++) { s += exp(L[o + j] - mx); }
  let lse = mx + log(s);
  var loss = 0.0;
  if (pu(5u) == 0u) { loss = lse - L[o + label]; }
  else { for (var j = 0u; j < cols; j++) { loss += select(off, on, j == label) * (lse - L[o + j]); } }
  LOSS[gid] = loss;
  ${grad ? `let inv = 1.0 / s;
  for (var j = 0u; j < cols; j++) { GRAD[o + j] = (exp(L[o + j] - mx) * inv - select(off, on, j == label)) * pf(4u); }` : ''}
}`));
}

/** Row-wise argmax (first index on ties). Params: rows, cols. */
export const argmaxRowsKernel: Kernel = kernel('argmax_rows', [{ name: 'X', access: 'r' }, { name: 'OUT', access: 'w', type: 'i32' }], () => `${entry(WG)}
  if (gid >= pu(0u)) { return; }
  let cols = pu(1u);
  let o = gid * cols;
  var best = 0u; var bv = X[o];
  for (var j = 1u; j < cols; j++) { let v = X[o + j]; if (v > bv) { bv = v; best = j; } }
  OUT[gid] = i32(best);
}`);

/**
 * Y[gid] = X[offset of gid]: gid decomposes over `rank` dims (shape @4), source strides @12.
 * Params: n, rank, -, -, shape[8], strides[8].
 */
export function gatherKernel(rank: number): Kernel {
  return cached(`gather_${rank}`, (key) => kernel(key, [{ name: 'X', access: 'r' }, { name: 'Y', access: 'w' }], () => {
    let idx = '';
    for (let d = rank - 1; d >= 1; d--) idx += `  { let s = pu(${4 + d}u); off += (rem % s) * pu(${12 + d}u); rem = rem / s; }\n`;
    idx += '  off += rem * pu(12u);\n';
    return `${entry(WG)}
  if (gid >= pu(0u)) { return; }
  var rem = gid; var off = 0u;
${idx}
  Y[gid] = X[off];
}`;
  }));
}

/**
 * DST[dstBase + sum c_d ds_d] = SRC[srcBase + sum c_d ss_d] over the region (shape @4, ss @12, ds @20).
 * Params: n, -, srcBase, dstBase, region[8], ss[8], ds[8].
 */
export function copyRegionKernel(rank: number): Kernel {
  return cached(`copyreg_${rank}`, (key) => kernel(key, [{ name: 'SRC', access: 'r' }, { name: 'DST', access: 'w' }], () => {
    let idx = '';
    for (let d = rank - 1; d >= 1; d--) {
      idx += `  { let s = pu(${4 + d}u); let c = rem % s; rem = rem / s; so += c * pu(${12 + d}u); dof += c * pu(${20 + d}u); }\n`;
    }
    idx += '  so += rem * pu(12u); dof += rem * pu(20u);\n';
    return `${entry(WG)}
  if (gid >= pu(0u)) { return; }
  var rem = gid; var so = pu(2u); var dof = pu(3u);
${idx}
  DST[dof] = SRC[so];
}`;
  }));
}
