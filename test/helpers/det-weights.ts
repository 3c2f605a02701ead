/**
 * The deterministic weights of scripts/torch/arch_models.py (det_values / det_tensor / det_fill),
 * so that an architecture fixture needs only the input and the logits: both sides fill every
 * state_dict tensor from a 32-bit integer hash of (tensor index, element index).
 */
import type { Module } from '../../src/nn/module.js';

/** n values in [-0.5, 0.5) for the tensor at `index` of the state_dict. */
export function detValues(index: number, n: number): Float64Array {
  const seed = (Math.imul(index, 0x9e3779b1) + 0x7f4a7c15) >>> 0;
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let h = (Math.imul(i, 0x85ebca6b) ^ seed) >>> 0;
    h = (h ^ (h >>> 16)) >>> 0;
    h = Math.imul(h, 0x7feb352d) >>> 0;
    h = (h ^ (h >>> 15)) >>> 0;
    h = Math.imul(h, 0x846ca68b) >>> 0;
    h = (h ^ (h >>> 16)) >>> 0;
    out[i] = h / 4294967296 - 0.5;
  }
  return out;
}

/** The value of one state_dict tensor by the kind its name says (arch_models.det_tensor). */
export function detTensor(index: number, name: string, shape: readonly number[]): Float32Array {
  const n = shape.reduce((a, b) => a * b, 1);
  const u = detValues(index, n);
  const leaf = name.slice(name.lastIndexOf('.') + 1);
  const out = new Float32Array(n);
  let f: (v: number) => number;
  if (leaf === 'running_var') f = (v) => 0.5 + (v + 0.5);
  else if (leaf === 'running_mean') f = (v) => 0.2 * v;
  else if (shape.length >= 2 && leaf !== 'class_token' && leaf !== 'pos_embedding') {
    const fanIn = shape.slice(1).reduce((a, b) => a * b, 1);
    const s = 2 * Math.sqrt(3 / fanIn);
    f = (v) => v * s;
  } else if (leaf === 'weight') f = (v) => 1 + 0.4 * v;
  else f = (v) => 0.2 * v;
  for (let i = 0; i < n; i++) out[i] = f(u[i]!); // float64 arithmetic, then one rounding to float32 (torch's .to(float32))
  return out;
}

/** Fill every tensor of model.stateDict() in order. */
export function detFill(model: Module): void {
  model.stateDict().forEach(([name, t], i) => t.backend.write(t.storage, detTensor(i, name, t.shape)));
}
