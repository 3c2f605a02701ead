import type { Backend } from '../backend/backend.js';
import type { Rng } from '../tensor/random.js';
import { Tensor, shapeSize } from '../tensor/tensor.js';

/** U(lo, hi) tensor. */
export function uniformTensor(shape: readonly number[], lo: number, hi: number, rng: Rng, backend: Backend): Tensor {
  const a = rng.fillUniform(new Float64Array(shapeSize(shape)), lo, hi);
  return new Tensor(backend.fromArray(a), shape, backend);
}

/**
 * PyTorch's default for Linear/Conv weights and biases: kaiming_uniform(a = sqrt(5)) on the weight
 * gives bound sqrt(6 / ((1 + 5) fan_in)) = 1 / sqrt(fan_in); the bias uses the same bound.
 * fan_in = size(1) * receptive field (for ConvTranspose that is out_channels * k, as in PyTorch).
 */
export function defaultInitBound(fanIn: number): number {
  return fanIn > 0 ? 1 / Math.sqrt(fanIn) : 0;
}
