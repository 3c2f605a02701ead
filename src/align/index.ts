/** Permutation symmetry of networks and weight matching (docs/seeds.md). */
export * from './spec.js';
export * from './permute.js';
export * from './assignment.js';
export * from './weight-matching.js';
