/** Accuracy-conditioned generation: the accuracy zoo, prompts, metrics and baselines (docs/accuracy.md). */
export * from './schedule.js';
export * from './zoo.js';
export * from './prompts.js';
export * from './evaluate.js';
export * from './baselines.js';
