/** Helpers shared by the op files: shape text, output allocation, backend agreement, recording with released saves. */
import type { Backend, Storage } from '../backend/backend.js';
import { Tensor, needsGrad, record, shapeSize, track, type BackwardFn } from './tensor.js';

export const fmt = (s: readonly number[]): string => `[${s.join(', ')}]`;

/** A zero-filled output (for kernels that write only part of it: pad, slice's gradient). */
export function out(be: Backend, shape: readonly number[]): Tensor {
  return track(new Tensor(be.alloc(shapeSize(shape)), shape, be));
}

/** An output whose every element the next kernel writes: no zero-fill (see Backend.empty). */
export function outFull(be: Backend, shape: readonly number[]): Tensor {
  return track(new Tensor(be.empty(shapeSize(shape)), shape, be));
}

export function sameBackend(op: string, ...ts: Array<Tensor | null | undefined>): Backend {
  let be: Backend | null = null;
  for (const t of ts) {
    if (!t) continue;
    if (be && t.backend !== be) throw new Error(`${op}: inputs live on different backends (${be.name}, ${t.backend.name})`);
    be = t.backend;
  }
  return be!;
}

/**
 * Record `backward` for y when an input needs grad, and release `saved` (storages that only the
 * backward reads: saved statistics, constants the op made) once it has run, or at once when
 * nothing is recorded. A tape's backward runs once.
 */
export function recordReleasing(be: Backend, y: Tensor, inputs: ReadonlyArray<Tensor | null>, saved: readonly Storage[], backward: BackwardFn): void {
  if (!needsGrad(...inputs)) {
    for (const s of saved) be.release(s);
    return;
  }
  record(y, inputs, (gy) => {
    const gs = backward(gy);
    for (const s of saved) be.release(s);
    return gs;
  });
}
