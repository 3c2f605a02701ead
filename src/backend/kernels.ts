/**
 * Signatures shared by the CPU kernels (src/backend/cpu/*). Kernels are plain functions over
 * typed arrays with explicit sizes: no closures per element, no allocation in inner loops.
 * They accept Float32Array (production) or Float64Array (gradient checks in float64).
 */
export type FloatArray = Float32Array | Float64Array;

/**
 * Row-major GEMM: C[m x n] = alpha * op(A)[m x k] * op(B)[k x n] + beta * C.
 * op(X) = X^T when trans is true. Offsets and leading dimensions are in elements.
 * With beta = 0, C is overwritten (its old contents, even NaN, are ignored).
 */
export type Gemm = (
  transA: boolean, transB: boolean,
  m: number, n: number, k: number,
  alpha: number,
  a: FloatArray, aOff: number, lda: number,
  b: FloatArray, bOff: number, ldb: number,
  beta: number,
  c: FloatArray, cOff: number, ldc: number,
) => void;

/** Reusable scratch memory (im2col columns and the like); a kernel may keep what it gets only for its own call. */
export interface Workspace {
  /** A buffer of at least `n` elements of the backend's float type. Contents are undefined. */
  get(n: number, slot?: number): FloatArray;
}

/**
 * Geometry of a 2-D convolution (dilation 1).
 * x [n, c, h, w] * w [o, c / groups, kh, kw] -> y [n, o, oh, ow], oh = floor((h + 2 ph - kh) / sh) + 1.
 * Conv1d is the case h = kh = oh = 1, ph = 0, sh = 1.
 */
export interface Conv2dGeom {
  n: number; c: number; h: number; w: number;
  o: number; kh: number; kw: number;
  sh: number; sw: number; ph: number; pw: number;
  oh: number; ow: number;
  /**
   * Channel groups (PyTorch's `groups`; divides c and o): output channels [j o/g, (j+1) o/g) see
   * only input channels [j c/g, (j+1) c/g). Default 1, the dense convolution. groups = c is a
   * depthwise convolution, which every backend runs with a direct kernel (see isDepthwise).
   */
  groups?: number;
}

/** The geometry's channel groups (1 when not given). */
export const convGroups = (g: Conv2dGeom): number => g.groups ?? 1;

/**
 * Whether a convolution is depthwise: one group per input channel (groups = c > 1), each with
 * o / c output channels (the channel multiplier). Output channel r reads input channel
 * floor(r / (o / c)) only, so a direct loop over the kernel taps beats im2col + GEMM, whose
 * per-channel products would have a reduction of kh kw.
 */
export const isDepthwise = (g: Conv2dGeom): boolean => {
  const gr = convGroups(g);
  return gr > 1 && gr === g.c && g.o % gr === 0;
};

/** Geometry of 2-D pooling over x [n, c, h, w] -> y [n, c, oh, ow]. */
export interface Pool2dGeom {
  n: number; c: number; h: number; w: number;
  kh: number; kw: number; sh: number; sw: number; ph: number; pw: number;
  oh: number; ow: number;
}

/**
 * Geometry of a batch norm over x viewed as [n, c, s]: statistics per channel over n s values;
 * gamma, beta and the statistics have one value per channel.
 */
export interface NormGeom {
  /** Samples (axis 0). */
  n: number;
  /** Channels (axis 1). */
  c: number;
  /** Values per (sample, channel): the product of the axes after the channel axis (1 for [n, c]). */
  s: number;
  /** Added to the variance before its square root. */
  eps: number;
}

/**
 * Geometry of a group norm: x [n, c, s] with the channels split into `groups` contiguous groups;
 * statistics per (sample, group) over (c / groups) s values; gamma, beta per channel [c].
 * Instance norm is groups = c.
 */
export interface GroupNormGeom extends NormGeom {
  /** Number of channel groups; divides c. */
  groups: number;
}

/** Geometry of a layer norm over the last axis: x [rows, d], statistics per row, gamma, beta [d]. */
export interface LayerNormGeom {
  /** Rows normalised independently (the product of all axes but the last). */
  rows: number;
  /** Length of the normalised last axis. */
  d: number;
  /** Added to the variance before its square root. */
  eps: number;
}

export function convOutSize(inp: number, k: number, stride: number, pad: number): number {
  return Math.floor((inp + 2 * pad - k) / stride) + 1;
}
