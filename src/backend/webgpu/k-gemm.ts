/**
 * Tiled GEMM (C[M x N] = A[M x K] B[K x N], per batch item) with pluggable operand loads and
 * output store, so one template serves matmul with transposed operands (no transpose copies)
 * and the three convolutions as implicit GEMMs (im2col is computed on the fly in the loads).
 *
 * A workgroup of T x T threads computes a (TM T) x (TN T) tile of C, each thread TM x TN values
 * (rows ty*TM + i, columns tx*TN + j; TM, TN in {4, 8}, see pickTile); K advances in steps of T
 * through workgroup memory, where A and B are held as vec4s along m and n, so a thread reads
 * its TM values of A and TN of B as TM/4 + TN/4 vector loads per k, and accumulates in vec4s.
 * Each output is one fma chain over k in increasing order whatever the shape, so every shape
 * gives the same bits. Batch items are workgroup z. With split-K (batch 1 only), workgroup z
 * takes one chunk of K and writes its partial tile to PART[z]; a second kernel sums the partials
 * in order (deterministic). Params 0..3: M, N, K, K chunk (split-K); kernel-specific params from 8.
 */
import { header, type Binding, type Kernel } from './wgsl.js';

export interface GemmSpec {
  /** Unique name of the variant (without tile / split suffix). */
  key: string;
  /** Input bindings (read-only). */
  inputs: Binding[];
  /** Output bindings (dropped in split mode). */
  outputs: Binding[];
  /** WGSL helpers, may use the bindings and params. */
  extra?: string;
  /** Body of fn la(b, m, k) -> f32 (called only with m < M, k < K). */
  la: string;
  /** Body of fn lb(b, k, n) -> f32. */
  lb: string;
  /** Body of fn st(b, m, n, v) (not split mode). */
  st: string;
  /** Whether consecutive threads load along k for A (row-major A) rather than along m. */
  aKFast: boolean;
  /** Whether consecutive threads load along n for B (row-major B) rather than along k. */
  bNFast: boolean;
}

const cache = new Map<string, Kernel>();

/** The TM x TN guarded stores of a thread's results (rows lid.y * TM + i, columns lid.x * TN + j), unrolled. */
function stores(split: boolean, TM: number, TN: number): string {
  let s = '';
  for (let i = 0; i < TM; i++) {
    s += `  { let m = m0 + lid.y * ${TM}u + ${i}u;\n`;
    for (let j = 0; j < TN; j++) {
      const v = `acc[${i * (TN / 4) + (j >> 2)}].${'xyzw'[j & 3]}`;
      s += `    { let n = n0 + lid.x * ${TN}u + ${j}u; if (m < M && n < N) { ${split ? `PART[wid.z * M * N + m * N + n] = ${v};` : `st(b, m, n, ${v});`} } }\n`;
    }
    s += '  }\n';
  }
  return s;
}

/** The inner product of one k step: vec4 loads of the thread's TM values of A and TN of B, TM x TN fmas. */
function innerStep(T: number, TM: number, TN: number): string {
  const am = TM / 4, bn = TN / 4;
  let s = '';
  for (let r = 0; r < am; r++) s += `      let a${r} = As[kk * ${T * am}u + lid.y * ${am}u + ${r}u];\n`;
  for (let c = 0; c < bn; c++) s += `      let b${c} = Bs[kk * ${T * bn}u + lid.x * ${bn}u + ${c}u];\n`;
  for (let i = 0; i < TM; i++) {
    for (let c = 0; c < bn; c++) {
      const a = `a${i >> 2}.${'xyzw'[i & 3]}`;
      s += `      acc[${i * bn + c}] = fma(vec4<f32>(${a}), b${c}, acc[${i * bn + c}]);\n`;
    }
  }
  return s;
}

/**
 * The kernel for `spec` with T x T threads, each computing TM x TN outputs (multiples of 4): a
 * (TM T) x (TN T) tile of C per workgroup, K in steps of T through workgroup memory.
 */
export function gemmKernel(spec: GemmSpec, T: number, split: boolean, TM = 4, TN = 4): Kernel {
  const key = `gemm_${spec.key}_${T}_${TM}x${TN}_${split ? 'split' : 'full'}`;
  let k = cache.get(key);
  if (k) return k;
  const bindings: Binding[] = split ? [...spec.inputs, { name: 'PART', access: 'w' }] : [...spec.inputs, ...spec.outputs];
  const BM = TM * T, BN = TN * T;
  const BK = T;
  const NT = T * T;
  const code = (): string => `${header(bindings)}
${spec.extra ?? ''}
fn la(b: u32, m: u32, k: u32) -> f32 { ${spec.la} }
fn lb(b: u32, k: u32, n: u32) -> f32 { ${spec.lb} }
${split ? '' : `fn st(b: u32, m: u32, n: u32, v: f32) { ${spec.st} }`}
var<workgroup> As: array<vec4<f32>, ${(BK * BM) / 4}>; // [k][m], 4 rows a vector
var<workgroup> Bs: array<vec4<f32>, ${(BK * BN) / 4}>; // [k][n], 4 columns a vector
@compute @workgroup_size(${T}, ${T})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>, @builtin(local_invocation_index) li: u32) {
  let M = pu(0u); let N = pu(1u); let K = pu(2u);
  let m0 = wid.y * ${BM}u; let n0 = wid.x * ${BN}u;
  ${split ? `let b = 0u; let kLo = wid.z * pu(3u); let kHi = min(K, kLo + pu(3u));` : 'let b = wid.z; let kLo = 0u; let kHi = K;'}
  var acc: array<vec4<f32>, ${(TM * TN) / 4}>; // zero-initialised; row i, columns 4c..4c+3 in acc[i * ${TN / 4} + c]
  for (var t = kLo; t < kHi; t += ${BK}u) {
    for (var l = 0u; l < ${(BM * BK) / NT}u; l++) {
      let e = li + l * ${NT}u;
      let am = ${spec.aKFast ? `e / ${BK}u` : `e % ${BM}u`};
      let ak = ${spec.aKFast ? `e % ${BK}u` : `e / ${BM}u`};
      var av = 0.0;
      if (m0 + am < M && t + ak < kHi) { av = la(b, m0 + am, t + ak); }
      As[ak * ${BM / 4}u + am / 4u][am % 4u] = av;
    }
    for (var l = 0u; l < ${(BN * BK) / NT}u; l++) {
      let e = li + l * ${NT}u;
      let bn = ${spec.bNFast ? `e % ${BN}u` : `e / ${BK}u`};
      let bk = ${spec.bNFast ? `e / ${BN}u` : `e % ${BK}u`};
      var bv = 0.0;
      if (n0 + bn < N && t + bk < kHi) { bv = lb(b, t + bk, n0 + bn); }
      Bs[bk * ${BN / 4}u + bn / 4u][bn % 4u] = bv;
    }
    workgroupBarrier();
    for (var kk = 0u; kk < ${BK}u; kk++) {
${innerStep(T, TM, TN)}    }
    workgroupBarrier();
  }
${stores(split, TM, TN)}
}`;
  k = { key, access: bindings.map((x) => x.access), code };
  cache.set(key, k);
  return k;
}

/** Batched matmul. Params from 8: strideA, strideB, strideC (per batch item). */
export function matmulSpec(transA: boolean, transB: boolean, accumulate: boolean): GemmSpec {
  return {
    key: `mm_${transA ? 't' : 'n'}${transB ? 't' : 'n'}_${accumulate ? 'acc' : 'set'}`,
    inputs: [{ name: 'A', access: 'r' }, { name: 'B', access: 'r' }],
    outputs: [{ name: 'C', access: 'w' }],
    la: transA ? 'return A[b * pu(8u) + k * pu(0u) + m];' : 'return A[b * pu(8u) + m * pu(2u) + k];',
    lb: transB ? 'return B[b * pu(9u) + n * pu(2u) + k];' : 'return B[b * pu(9u) + k * pu(1u) + n];',
    st: accumulate
      ? 'let i = b * pu(10u) + m * pu(1u) + n; C[i] = C[i] + v;'
      : 'C[b * pu(10u) + m * pu(1u) + n] = v;',
    aKFast: !transA,
    bNFast: !transB,
  };
}

/**
 * Conv geometry params from 8: n, c, h, w, o, kh, kw, sh, sw, ph, pw, oh, ow.
 * xcol(s, row, p): the im2col matrix of sample s at row = (ci, ki, kj) and output position p.
 */
const GEOM_NAMES = ['n', 'c', 'h', 'w', 'o', 'kh', 'kw', 'sh', 'sw', 'ph', 'pw', 'oh', 'ow'] as const;

/**
 * The geometry accessors g_c() ... g_ow(). With `g` (the 13 values in GEOM_NAMES order) every
 * accessor but g_n() returns a literal, so the shader compiler sees constant divisors in the
 * im2col index arithmetic (integer division by a runtime value is a long instruction sequence on
 * GPUs and is not vectorised on CPU adapters); the kernel is then specialised to that geometry.
 */
function convHelpers(g: readonly number[] | null): string {
  return GEOM_NAMES.map((name, i) => {
    const signed = name === 'ph' || name === 'pw';
    const ty = signed ? 'i32' : 'u32';
    const body = g === null || name === 'n' ? `${signed ? 'pi' : 'pu'}(${8 + i}u)` : `${g[i]!}${signed ? 'i' : 'u'}`;
    return `fn g_${name}() -> ${ty} { return ${body}; }`;
  }).join('\n') + '\n';
}

/** Suffix of a specialised kernel's key. */
const geomKey = (g: readonly number[] | null): string => (g === null ? 'dyn' : g.slice(1).join('x'));

const XCOL = `
fn xcol(s: u32, row: u32, p: u32) -> f32 {
  let kk = g_kh() * g_kw();
  let ci = row / kk; let rem = row % kk;
  let ki = rem / g_kw(); let kj = rem % g_kw();
  let oy = p / g_ow(); let ox = p % g_ow();
  let iy = i32(oy * g_sh() + ki) - g_ph();
  let ix = i32(ox * g_sw() + kj) - g_pw();
  if (iy < 0 || ix < 0 || iy >= i32(g_h()) || ix >= i32(g_w())) { return 0.0; }
  return X[((s * g_c() + ci) * g_h() + u32(iy)) * g_w() + u32(ix)];
}
`;

/**
 * y = W [o, K] * cols(x) (+ bias), M = o, K = c kh kw. Per sample (batch = samples, N = P = oh ow),
 * or, `merged`, all samples side by side in one product (batch 1, N = n P; column j is sample
 * j / P, position j % P): full tiles when a sample's output is small (a 7 x 7 map fills 49 of 64
 * columns per sample). The sums are the same either way.
 */
export function convForwardSpec(bias: boolean, g: readonly number[] | null = null, merged = false): GemmSpec {
  const P = 'g_oh() * g_ow()';
  return {
    key: `convf_${bias}_${merged ? 'm' : 's'}_${geomKey(g)}`,
    inputs: bias
      ? [{ name: 'X', access: 'r' }, { name: 'W', access: 'r' }, { name: 'BIAS', access: 'r' }]
      : [{ name: 'X', access: 'r' }, { name: 'W', access: 'r' }],
    outputs: [{ name: 'Y', access: 'w' }],
    extra: convHelpers(g) + XCOL,
    la: 'return W[m * pu(2u) + k];',
    lb: merged ? `let P = ${P}; return xcol(n / P, k, n % P);` : 'return xcol(b, k, n);',
    st: merged
      ? `let P = ${P}; Y[(n / P * pu(0u) + m) * P + n % P] = v${bias ? ' + BIAS[m]' : ''};`
      : `Y[(b * pu(0u) + m) * pu(1u) + n] = v${bias ? ' + BIAS[m]' : ''};`,
    aKFast: true,
    bNFast: true,
  };
}

/**
 * gx[s] [c, h w] = W^T-ish gather: sum over (r, ki, kj) of W[r, ci, ki, kj] gy[s, r, (iy + ph - ki) / sh, (ix + pw - kj) / sw]
 * (only where the division is exact and inside). M = c, K = o kh kw; batch = samples and N = h w,
 * or `merged` (see convForwardSpec) batch 1 and N = n h w.
 */
export function convBackwardDataSpec(g: readonly number[] | null = null, merged = false): GemmSpec {
  const HW = 'g_h() * g_w()';
  return {
    key: `convbd_${merged ? 'm' : 's'}_${geomKey(g)}`,
    inputs: [{ name: 'GY', access: 'r' }, { name: 'W', access: 'r' }],
    outputs: [{ name: 'GX', access: 'w' }],
    extra: convHelpers(g),
    la: 'let kk = g_kh() * g_kw(); let r = k / kk; return W[(r * g_c() + m) * kk + k % kk];',
    lb: `${merged ? `let s = n / (${HW}); let q = n % (${HW});` : 'let s = b; let q = n;'}
  let kk = g_kh() * g_kw(); let r = k / kk; let rem = k % kk;
  let ki = rem / g_kw(); let kj = rem % g_kw();
  let iy = q / g_w(); let ix = q % g_w();
  let ty = i32(iy) + g_ph() - i32(ki); let tx = i32(ix) + g_pw() - i32(kj);
  if (ty < 0 || tx < 0) { return 0.0; }
  let uy = u32(ty); let ux = u32(tx);
  if (uy % g_sh() != 0u || ux % g_sw() != 0u) { return 0.0; }
  let oy = uy / g_sh(); let ox = ux / g_sw();
  if (oy >= g_oh() || ox >= g_ow()) { return 0.0; }
  return GY[((s * g_o() + r) * g_oh() + oy) * g_ow() + ox];`,
    st: merged
      ? `let HW = ${HW}; GX[(n / HW * pu(0u) + m) * HW + n % HW] = v;`
      : 'GX[(b * pu(0u) + m) * pu(1u) + n] = v;',
    aKFast: true,
    bNFast: true,
  };
}

/** gw [o, K'] = sum over samples and positions of gy[s, r, p] cols(x[s])[row, p]. M = o, N = c kh kw, K = n P. */
export function convBackwardWeightSpec(g: readonly number[] | null = null): GemmSpec {
  return {
    key: `convbw_${geomKey(g)}`,
    inputs: [{ name: 'GY', access: 'r' }, { name: 'X', access: 'r' }],
    outputs: [{ name: 'GW', access: 'w' }],
    extra: convHelpers(g) + XCOL,
    la: 'let P = g_oh() * g_ow(); let s = k / P; return GY[(s * g_o() + m) * P + k % P];',
    lb: 'let P = g_oh() * g_ow(); return xcol(k / P, n, k % P);',
    st: 'GW[m * pu(1u) + n] = v;',
    aKFast: true,
    bNFast: false,
  };
}

/** Candidate GEMM shapes [T, TM, TN] beyond 4 x 4 outputs per thread, best first (see pickTile). */
export function gemmShapes(maxT: number, software: boolean): Array<[number, number, number]> {
  if (maxT < 16) return [[8, 8, 8], [8, 4, 8], [8, 8, 4]];
  // llvmpipe: 8 x 8 threads with 8 x 8 outputs each beat 16 x 16 with 4 x 8 on the evaluation's
  // conv3 (M = 64): 5.3-6.4 against 4.2-5.1 GFLOP/s. On a GPU 64-thread workgroups are not tried.
  return software ? [[16, 8, 8], [8, 8, 8], [16, 4, 8], [16, 8, 4]] : [[16, 8, 8], [16, 4, 8], [16, 8, 4]];
}

/**
 * Workgroup shape of a GEMM: [T, TM, TN] = T x T threads, each computing TM x TN outputs (a
 * (TM T) x (TN T) tile of C). The first of `shapes` (gemmShapes) whose tile fits inside M x N and
 * leaves at least `minWorkgroups` workgroups; else 4 x 4 outputs, 16 threads a side where M and N
 * exceed 32 and the device allows it, 8 otherwise. More outputs per thread load each operand
 * value for more multiply-adds (llvmpipe, 2 cores: sgemm 512 3.3 GFLOP/s with 4 x 4, 7.9 with
 * 8 x 8); smaller tiles keep more of a GPU busy. Every shape gives the same sums in the same order.
 */
export function pickTile(M: number, N: number, batch: number, minWorkgroups: number,
  shapes: ReadonlyArray<readonly [number, number, number]> = gemmShapes(16, false), maxT = 16): [number, number, number] {
  for (const [t, tm, tn] of shapes) {
    const BM = t * tm, BN = t * tn;
    if (M >= BM && N >= BN && Math.ceil(M / BM) * Math.ceil(N / BN) * batch >= minWorkgroups) return [t, tm, tn];
  }
  return maxT >= 16 && M > 32 && N > 32 ? [16, 4, 4] : [8, 4, 4];
}
