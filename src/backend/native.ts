// TEMPORARY placeholder (lead); helper-1 replaces this file with the real loader.
import type { Gemm } from './kernels.js';
export function loadBlas(): { ok: true; gemm: Gemm; config: string; setNumThreads(n: number): void } | { ok: false; reason: string } {
  return { ok: false, reason: 'placeholder' };
}
