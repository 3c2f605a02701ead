export * from './module.js';
export * from './layers.js';
export * from './optim.js';
export * from './schedule.js';
export * from './init.js';
