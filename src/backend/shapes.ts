/** Shape helpers shared by every backend: broadcasting strides and dimension coalescing. */

/**
 * Merge adjacent dimensions that are contiguous in every strided view and drop dimensions of
 * size 1; strides[k][d] is view k's stride. Always returns at least one dimension.
 */
export function coalesce(shape: readonly number[], strides: number[][]): { shape: number[]; strides: number[][] } {
  const outShape: number[] = [];
  const outStrides: number[][] = strides.map(() => []);
  for (let d = 0; d < shape.length; d++) {
    const size = shape[d]!;
    if (size === 1) continue;
    const last = outShape.length - 1;
    let merge = last >= 0;
    if (merge) {
      for (let k = 0; k < strides.length; k++) {
        if (outStrides[k]![last]! !== strides[k]![d]! * size) { merge = false; break; }
      }
    }
    if (merge) {
      outShape[last] = outShape[last]! * size;
      for (let k = 0; k < strides.length; k++) outStrides[k]![last] = strides[k]![d]!;
    } else {
      outShape.push(size);
      for (let k = 0; k < strides.length; k++) outStrides[k]!.push(strides[k]![d]!);
    }
  }
  if (outShape.length === 0) {
    outShape.push(1);
    for (let k = 0; k < strides.length; k++) outStrides[k]!.push(0);
  }
  return { shape: outShape, strides: outStrides };
}

/** Strides of a dense tensor of shape `s` seen with shape `out` (0 on broadcast dims). */
export function broadcastStrides(s: readonly number[], out: readonly number[]): number[] {
  const st = new Array<number>(out.length).fill(0);
  let acc = 1;
  for (let d = out.length - 1; d >= 0; d--) {
    const sd = s[d]!;
    st[d] = sd === 1 && out[d]! !== 1 ? 0 : acc;
    acc *= sd;
  }
  return st;
}

export function denseStrides(s: readonly number[]): number[] {
  const st = new Array<number>(s.length).fill(0);
  let acc = 1;
  for (let d = s.length - 1; d >= 0; d--) { st[d] = acc; acc *= s[d]!; }
  return st;
}

export function prod(s: readonly number[]): number {
  let n = 1;
  for (const d of s) n *= d;
  return n;
}

