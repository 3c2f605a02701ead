/**
 * Counting what a forward pass computes, op by op, for any model: while `countOps(fn, sink)` runs
 * fn, every op that computes reports its kind and its work to the sink. Conventions (the same as
 * the per-layer counts of src/eval/flops.ts):
 * - conv2d: multiply-adds = N * O * OH * OW * (C / groups) * kh * kw; bias additions as `adds`;
 * - linear: rows * in * out multiply-adds; matmul: batch * m * n * k;
 * - batch / layer / group norm: one multiply-add per element (an eval-mode norm folds into a
 *   scale and a shift; the statistics of layer/group norm are counted as element ops, two per
 *   element);
 * - elementwise unary and binary ops, softmax, pooling reads and reductions: element operations.
 * Layout ops (reshape, permute, slice, concat) compute nothing and are not reported.
 */

export interface OpWork {
  op: string;
  /** Multiply-adds. */
  macs: number;
  /** Bias additions. */
  adds: number;
  /** Other element operations (activations, elementwise arithmetic, pooling reads, reductions). */
  elementOps: number;
}

let sink: ((w: OpWork) => void) | null = null;

/** Run fn with every computing op reported to `onOp`; nested calls report to the innermost sink. */
export function countOps<T>(fn: () => T, onOp: (w: OpWork) => void): T {
  const prev = sink;
  sink = onOp;
  try {
    return fn();
  } finally {
    sink = prev;
  }
}

/** Called by the ops (cheap when nothing counts). */
export function noteWork(op: string, macs: number, adds = 0, elementOps = 0): void {
  if (sink) sink({ op, macs, adds, elementOps });
}
