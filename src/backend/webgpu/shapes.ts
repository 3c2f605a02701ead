/** Shape helpers for the device kernels: the shared ones, plus the WGSL kernels' rank limit. */
export * from '../shapes.js';

/** Largest rank the strided WGSL kernels take (after coalescing). */
export const MAX_RANK = 8;
