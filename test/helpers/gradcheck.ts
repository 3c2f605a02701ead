import assert from 'node:assert/strict';
import type { Backend } from '../../src/backend/backend.js';
import { jsBackend } from '../../src/backend/index.js';
import { Rng } from '../../src/tensor/random.js';
import { Tensor, backward, noGrad, shapeSize } from '../../src/tensor/tensor.js';
import * as ops from '../../src/tensor/ops.js';

export const be64: Backend = jsBackend('float64');

export function randT(shape: number[], rng: Rng, be: Backend = be64, scale = 1, requiresGrad = true): Tensor {
  const a = rng.fillNormal(new Float64Array(shapeSize(shape)), 0, scale);
  return new Tensor(be.fromArray(a), shape, be, requiresGrad);
}

/** n normal float64 values N(mean, std^2) from rng. */
export function randn(rng: Rng, n: number, mean = 0, std = 1): Float64Array {
  return rng.fillNormal(new Float64Array(n), mean, std) as Float64Array;
}

/** sum_i a_i b_i (a loss f = dot(y, r) turns a kernel's output y into a scalar for fdGrad). */
export function dot(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]! * b[i]!;
  return s;
}

/**
 * Central differences of f with respect to every entry of v: (f(v + eps e_i) - f(v - eps e_i)) / 2 eps.
 * v is perturbed in place and restored; f must read it.
 */
export function fdGrad(f: () => number, v: Float64Array, eps = 1e-6): Float64Array {
  const g = new Float64Array(v.length);
  for (let i = 0; i < v.length; i++) {
    const old = v[i]!;
    v[i] = old + eps;
    const fp = f();
    v[i] = old - eps;
    const fm = f();
    v[i] = old;
    g[i] = (fp - fm) / (2 * eps);
  }
  return g;
}

/**
 * Check analytic gradients of L = sum(f(inputs) * R) against central finite differences in float64.
 * Inputs with requiresGrad = false are held fixed.
 */
export function gradcheck(name: string, f: (xs: Tensor[]) => Tensor, inputs: Tensor[], opts: { eps?: number; rtol?: number; atol?: number; seed?: number } = {}): void {
  const eps = opts.eps ?? 1e-6, rtol = opts.rtol ?? 1e-5, atol = opts.atol ?? 1e-7;
  const rng = new Rng(opts.seed ?? 99);
  for (const x of inputs) x.grad = null;
  const y = f(inputs);
  const R = new Tensor(be64.fromArray(rng.fillNormal(new Float64Array(y.size))), y.shape, be64);
  const loss = ops.sum(ops.mul(y, R));
  backward(loss);
  const lossAt = (): number => noGrad(() => {
    const yy = f(inputs);
    const a = yy.toArray(), r = R.toArray();
    let s = 0;
    for (let i = 0; i < a.length; i++) s += a[i]! * r[i]!;
    return s;
  });
  inputs.forEach((x, k) => {
    if (!x.requiresGrad) return;
    assert.ok(x.grad, `${name}: input ${k} got no gradient`);
    const g = x.grad.toArray();
    const data = x.toArray();
    for (let i = 0; i < x.size; i++) {
      const orig = data[i]!;
      be64.write(x.storage, [orig + eps], i);
      const lp = lossAt();
      be64.write(x.storage, [orig - eps], i);
      const lm = lossAt();
      be64.write(x.storage, [orig], i);
      const num = (lp - lm) / (2 * eps);
      const ana = g[i]!;
      const tol = atol + rtol * Math.max(Math.abs(num), Math.abs(ana));
      if (!(Math.abs(num - ana) <= tol)) {
        assert.fail(`${name}: input ${k} [shape ${x.shape.join('x')}] element ${i}: analytic ${ana} vs numeric ${num}`);
      }
    }
  });
}
