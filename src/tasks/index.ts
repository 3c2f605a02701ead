/** Binary tasks on a 10-class data set, the task zoo, its evaluation and baselines (docs/tasks.md). */
export * from './codes.js';
export * from './labels.js';
export * from './task-model.js';
export * from './features.js';
export * from './zoo.js';
export * from './evaluate.js';
export * from './baselines.js';
export * from './ridge.js';
