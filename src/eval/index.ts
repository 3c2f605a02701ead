/**
 * Evaluation (docs/evaluation.md): scoring many parameter sets of one base model fast, the cheap
 * baselines, novelty against the checkpoints, group statistics, cost, distribution shift and
 * 2-D projections for the report, the loss along the line between two networks.
 */
export * from './evaluate.js';
export * from './baselines.js';
export * from './metrics.js';
export * from './novelty.js';
export * from './stats.js';
export * from './cost.js';
export * from './flops.js';
export * from './shift-eval.js';
export * from './projection.js';
export * from './interpolation.js';
