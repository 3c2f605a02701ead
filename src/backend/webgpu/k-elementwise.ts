/**
 * Elementwise kernels: unary ops and their gradients, broadcasting binary ops over coalesced
 * strided views, axpy, fill, the optimiser updates (Adam / AdamW, SGD), EMA and the batch-norm
 * running-statistics update. One thread per element, WG threads per workgroup.
 */
import type { BinaryOp, UnaryOp } from '../backend.js';
import { type Kernel } from './context.js';
import { MATH, WG, entry, kernel } from './wgsl.js';

const GELU_C = Math.sqrt(2 / Math.PI);
const INV_SQRT_2PI = 1 / Math.sqrt(2 * Math.PI);

const UNARY: Record<UnaryOp, string> = {
  identity: 'v',
  neg: '-v',
  affine: 'a * v + b',
  relu: 'select(0.0, v, v > 0.0)',
  leaky_relu: 'select(a * v, v, v > 0.0)',
  elu: 'select(a * (exp(v) - 1.0), v, v > 0.0)',
  silu: 'v / (1.0 + exp(-v))',
  gelu: 'v * norm_cdf(v)',
  gelu_tanh: `0.5 * v * (1.0 + tanh_s(${GELU_C} * (v + 0.044715 * v * v * v)))`,
  tanh: 'tanh_s(v)',
  sigmoid: 'sigmoid_s(v)',
  softplus: 'max(v, 0.0) + log(1.0 + exp(-abs(v)))',
  exp: 'exp(v)',
  log: 'log(v)',
  sqrt: 'sqrt(v)',
  square: 'v * v',
  abs: 'abs(v)',
};

/** gx from v = x, yv = y, g = gy, a = alpha. */
const UNARY_BACK: Record<UnaryOp, string> = {
  identity: 'g',
  neg: '-g',
  affine: 'a * g',
  relu: 'select(0.0, g, v > 0.0)',
  leaky_relu: 'select(a * g, g, v > 0.0)',
  elu: 'select(g * (yv + a), g, v > 0.0)',
  silu: 'g * sigmoid_s(v) * (1.0 + v * (1.0 - sigmoid_s(v)))',
  gelu: `g * (norm_cdf(v) + v * ${INV_SQRT_2PI} * exp(-0.5 * v * v))`,
  gelu_tanh: `g * gelu_tanh_d(v)`,
  tanh: 'g * (1.0 - yv * yv)',
  sigmoid: 'g * yv * (1.0 - yv)',
  softplus: 'g * sigmoid_s(v)',
  exp: 'g * yv',
  log: 'g / v',
  sqrt: 'g * 0.5 / yv',
  square: 'g * 2.0 * v',
  abs: 'select(select(0.0, -g, v < 0.0), g, v > 0.0)',
};

const GELU_TANH_D = `
fn gelu_tanh_d(v: f32) -> f32 {
  let t = tanh_s(${GELU_C} * (v + 0.044715 * v * v * v));
  return 0.5 * (1.0 + t) + 0.5 * v * (1.0 - t * t) * ${GELU_C} * (1.0 + 3.0 * 0.044715 * v * v);
}
`;

const cache = new Map<string, Kernel>();
function cached(key: string, make: () => Kernel): Kernel {
  let k = cache.get(key);
  if (!k) { k = make(); cache.set(key, k); }
  return k;
}

/** Params: n, alpha, beta. */
export function unaryKernel(op: UnaryOp): Kernel {
  return cached(`unary_${op}`, () => kernel(`unary_${op}`, [{ name: 'X', access: 'r' }, { name: 'Y', access: 'w' }], () => `${MATH}
${entry(WG)}
  if (gid >= pu(0u)) { return; }
  let a = pf(1u); let b = pf(2u);
  let v = X[gid];
  Y[gid] = ${UNARY[op]};
}`));
}

/** Params: n, alpha, beta. */
export function unaryBackwardKernel(op: UnaryOp): Kernel {
  return cached(`unaryb_${op}`, () => kernel(`unaryb_${op}`, [
    { name: 'X', access: 'r' }, { name: 'YV', access: 'r' }, { name: 'GY', access: 'r' }, { name: 'GX', access: 'w' },
  ], () => `${MATH}${GELU_TANH_D}
${entry(WG)}
  if (gid >= pu(0u)) { return; }
  let a = pf(1u);
  let v = X[gid]; let yv = YV[gid]; let g = GY[gid];
  GX[gid] = ${UNARY_BACK[op]};
}`));
}

const BIN: Record<BinaryOp, string> = { add: '+', sub: '-', mul: '*', div: '/' };

/**
 * y = a (op) b over a coalesced index space of `rank` dims.
 * Params: n, rank, -, -, shape[8] @4, strideA[8] @12, strideB[8] @20.
 */
export function binaryKernel(op: BinaryOp, rank: number): Kernel {
  const key = `binary_${op}_${rank}`;
  return cached(key, () => kernel(key, [{ name: 'A', access: 'r' }, { name: 'B', access: 'r' }, { name: 'Y', access: 'w' }], () => {
    let idx = '';
    for (let d = rank - 1; d >= 1; d--) {
      idx += `  { let s = pu(${4 + d}u); let c = rem % s; rem = rem / s; oa += c * pu(${12 + d}u); ob += c * pu(${20 + d}u); }\n`;
    }
    idx += '  oa += rem * pu(12u); ob += rem * pu(20u);\n';
    return `${entry(WG)}
  if (gid >= pu(0u)) { return; }
  var rem = gid; var oa = 0u; var ob = 0u;
${idx}
  Y[gid] = A[oa] ${BIN[op]} B[ob];
}`;
  }));
}

/** y += alpha x. Params: n, alpha. */
export const axpyKernel: Kernel = kernel('axpy', [{ name: 'X', access: 'r' }, { name: 'Y', access: 'w' }], () => `${entry(WG)}
  if (gid >= pu(0u)) { return; }
  Y[gid] = Y[gid] + pf(1u) * X[gid];
}`);

/** y = value. Params: n, value. */
export const fillKernel: Kernel = kernel('fill', [{ name: 'Y', access: 'w' }], () => `${entry(WG)}
  if (gid >= pu(0u)) { return; }
  Y[gid] = pf(1u);
}`);

/** y = decay y + (1 - decay) x. Params: n, decay, 1 - decay. */
export const emaKernel: Kernel = kernel('ema', [{ name: 'Y', access: 'w' }, { name: 'X', access: 'r' }], () => `${entry(WG)}
  if (gid >= pu(0u)) { return; }
  Y[gid] = pf(1u) * Y[gid] + pf(2u) * X[gid];
}`);

/**
 * Adam / AdamW, PyTorch's order (see cpu/optim.ts).
 * Params: n, beta1, beta2, eps, stepSize, sqrtBc2, decay, l2, 1 - beta1, 1 - beta2.
 */
export const adamKernel: Kernel = kernel('adam', [
  { name: 'P', access: 'w' }, { name: 'G', access: 'r' }, { name: 'M', access: 'w' }, { name: 'V', access: 'w' },
], () => `${entry(WG)}
  if (gid >= pu(0u)) { return; }
  var p = P[gid];
  let g = G[gid] + pf(7u) * p;
  p = p * pf(6u);
  let m = pf(1u) * M[gid] + pf(8u) * g;
  let v = pf(2u) * V[gid] + pf(9u) * g * g;
  M[gid] = m;
  V[gid] = v;
  P[gid] = p - pf(4u) * m / (sqrt(v) / pf(5u) + pf(3u));
}`);

/**
 * SGD with momentum (PyTorch semantics); `withBuf` when a momentum buffer is used.
 * Params: n, lr, momentum, 1 - dampening, weightDecay, nesterov, first.
 */
export function sgdKernel(withBuf: boolean): Kernel {
  const key = `sgd_${withBuf}`;
  const bindings = withBuf
    ? [{ name: 'P', access: 'w' as const }, { name: 'G', access: 'r' as const }, { name: 'BUF', access: 'w' as const }]
    : [{ name: 'P', access: 'w' as const }, { name: 'G', access: 'r' as const }];
  return cached(key, () => kernel(key, bindings, () => `${entry(WG)}
  if (gid >= pu(0u)) { return; }
  var d = G[gid] + pf(4u) * P[gid];
  ${withBuf ? `
  var b: f32;
  if (pu(6u) != 0u) { b = d; } else { b = pf(2u) * BUF[gid] + pf(3u) * d; }
  BUF[gid] = b;
  if (pu(5u) != 0u) { d = d + pf(2u) * b; } else { d = b; }` : ''}
  P[gid] = P[gid] - pf(1u) * d;
}`));
}

/** running = (1 - mom) running + mom batch (var: times unbias). Params: n, mom, 1 - mom, unbias. */
export const bnRunningKernel: Kernel = kernel('bn_running', [
  { name: 'RM', access: 'w' }, { name: 'RV', access: 'w' }, { name: 'BM', access: 'r' }, { name: 'BV', access: 'r' },
], () => `${entry(WG)}
  if (gid >= pu(0u)) { return; }
  RM[gid] = pf(2u) * RM[gid] + pf(1u) * BM[gid];
  RV[gid] = pf(2u) * RV[gid] + pf(1u) * BV[gid] * pf(3u);
}`);
