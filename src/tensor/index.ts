export * from './tensor.js';
export * from './ops.js';
export { Rng, deriveSeed } from './random.js';
