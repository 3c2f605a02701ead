/** The checkpoint zoo: train the base model, collect checkpoints, parameter layout and files. */
export * from './safetensors.js';
export * from './layout.js';
export * from './train.js';
export * from './collect.js';
export * from './checkpoint.js';
export * from './seeds.js';
