/**
 * WGSL building blocks shared by the kernels: the parameter slot (binding 0, 64 u32 words read
 * with pu / pi / pf), storage binding declarations, the linear invocation index over a 2-D grid
 * of workgroups, workgroup tree reductions, and float helpers (erf, a tanh that does not
 * overflow, NaN / finiteness tests on the bits, which no compiler may fold away).
 */
/** How a kernel binds a storage buffer: read-only or written. */
export type Access = 'r' | 'w';

/** A compute kernel: WGSL with binding 0 = the parameter slot, bindings 1.. = storage buffers in `access` order. */
export interface Kernel {
  /** Unique per distinct WGSL source. */
  key: string;
  access: readonly Access[];
  code: () => string;
}

export interface Binding {
  name: string;
  access: Access;
  /** Element type; default f32. */
  type?: 'f32' | 'i32' | 'u32';
}

const PARAMS = `
struct Params { v: array<vec4<u32>, 16> }
@group(0) @binding(0) var<uniform> prm: Params;
fn pu(i: u32) -> u32 { return prm.v[i / 4u][i % 4u]; }
fn pi(i: u32) -> i32 { return bitcast<i32>(prm.v[i / 4u][i % 4u]); }
fn pf(i: u32) -> f32 { return bitcast<f32>(prm.v[i / 4u][i % 4u]); }
// -inf as a runtime value (a constant expression that evaluates to infinity is a shader error).
fn neg_inf() -> f32 { return bitcast<f32>(0xff800000u | (prm.v[15][3] & 0u)); }
`;

export const MATH = `
fn is_nan(v: f32) -> bool { return (bitcast<u32>(v) & 0x7fffffffu) > 0x7f800000u; }
fn is_finite(v: f32) -> bool { return (bitcast<u32>(v) & 0x7f800000u) != 0x7f800000u; }
// erfc(z) for z >= 0, fractional error < 1.2e-7 (Numerical Recipes, erfcc).
fn erfc_pos(z: f32) -> f32 {
  let t = 1.0 / (1.0 + 0.5 * z);
  return t * exp(-z * z - 1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (-0.18628806
    + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))));
}
// Phi(v) = 0.5 (1 + erf(v / sqrt 2)), accurate in the tails.
fn norm_cdf(v: f32) -> f32 {
  let z = abs(v) * 0.70710678118654752;
  let h = 0.5 * erfc_pos(z);
  return select(1.0 - h, h, v < 0.0);
}
fn tanh_s(x: f32) -> f32 {
  let a = abs(x);
  var r: f32;
  if (a < 0.125) {
    let x2 = a * a;
    r = a * (1.0 + x2 * (-0.33333333333 + x2 * (0.133333333333 + x2 * -0.053968253968)));
  } else {
    let e = exp(-2.0 * min(a, 40.0));
    r = (1.0 - e) / (1.0 + e);
  }
  return select(r, -r, x < 0.0);
}
fn sigmoid_s(x: f32) -> f32 { return 1.0 / (1.0 + exp(-x)); }
`;

/** Binding declarations (binding 1 onward) and the parameter slot. */
export function header(bindings: readonly Binding[]): string {
  let s = PARAMS;
  bindings.forEach((b, i) => {
    s += `@group(0) @binding(${i + 1}) var<storage, ${b.access === 'r' ? 'read' : 'read_write'}> ${b.name}: array<${b.type ?? 'f32'}>;\n`;
  });
  return s;
}

/** Entry point signature with `gid` = linear invocation index for workgroups of `wg` threads on a 2-D grid. */
export function entry(wg: number): string {
  return `@compute @workgroup_size(${wg})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) li: u32, @builtin(num_workgroups) nwg: vec3<u32>) {
  let wgi = wid.x + wid.y * nwg.x;
  let gid = wgi * ${wg}u + li;
`;
}

/** Shared-memory tree reduction of `count` arrays of f32 over a workgroup of `wg` (power of two) threads. */
export function reducer(wg: number, count: number): string {
  let decl = '';
  let body = '';
  for (let i = 0; i < count; i++) {
    decl += `var<workgroup> red${i}: array<f32, ${wg}>;\n`;
  }
  body += `fn reduce_all(li: u32) {\n  for (var s = ${wg / 2}u; s > 0u; s = s / 2u) {\n    if (li < s) {\n`;
  for (let i = 0; i < count; i++) body += `      red${i}[li] = red${i}[li] + red${i}[li + s];\n`;
  body += `    }\n    workgroupBarrier();\n  }\n}\n`;
  return decl + body;
}

/** Build a Kernel from its bindings and body (the body goes after `entry`, closing brace included by caller). */
export function kernel(key: string, bindings: readonly Binding[], src: () => string): Kernel {
  return { key, access: bindings.map((b) => b.access), code: () => header(bindings) + src() };
}

/** Workgroup size of elementwise kernels. */
export const WG = 64;
