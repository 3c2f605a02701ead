import type { FloatArray } from '../kernels.js';

/** Adam (L2 decay added to the gradient) or AdamW (decoupled decay), PyTorch's update order. */
export function adamKernel(p: FloatArray, g: FloatArray, m: FloatArray, v: FloatArray, lr: number, beta1: number, beta2: number,
  eps: number, weightDecay: number, step: number, decoupled: boolean): void {
  const bc1 = 1 - Math.pow(beta1, step);
  const bc2 = 1 - Math.pow(beta2, step);
  const stepSize = lr / bc1;
  const sqrtBc2 = Math.sqrt(bc2);
  const decay = decoupled ? 1 - lr * weightDecay : 1;
  const l2 = decoupled ? 0 : weightDecay;
  const n = p.length;
  for (let i = 0; i < n; i++) {
    let pi = p[i]!;
    const gi = g[i]! + l2 * pi;
    pi *= decay;
    const mi = beta1 * m[i]! + (1 - beta1) * gi;
    const vi = beta2 * v[i]! + (1 - beta2) * gi * gi;
    m[i] = mi;
    v[i] = vi;
    p[i] = pi - stepSize * mi / (Math.sqrt(vi) / sqrtBc2 + eps);
  }
}

export function sgdKernel(p: FloatArray, g: FloatArray, buf: FloatArray | null, lr: number, momentum: number, dampening: number,
  weightDecay: number, nesterov: boolean, first: boolean): void {
  const n = p.length;
  for (let i = 0; i < n; i++) {
    let d = g[i]! + weightDecay * p[i]!;
    if (buf && momentum !== 0) {
      const b = first ? d : momentum * buf[i]! + (1 - dampening) * d;
      buf[i] = b;
      d = nesterov ? d + momentum * b : b;
    }
    p[i] = p[i]! - lr * d;
  }
}
