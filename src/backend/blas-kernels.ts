/** The interface of the OpenBLAS addon's C kernels (loaded by native.ts, used by blas.ts). */
type F32 = Float32Array;

/**
 * The C kernels of the addon in native/ (Float32Array only; the semantics of the TS kernels in
 * src/backend/cpu/*.ts, to float32 rounding). Each checks its arguments and throws a TypeError
 * (wrong type) or RangeError (an array too short for the sizes given) before touching memory.
 * Geometry arguments are the fields of Pool2dGeom / Conv2dGeom in declaration order.
 */
export interface BlasKernels {
  /** y = op(x) elementwise over x.length; op codes: see UNARY_OP_CODES in blas.ts. y may be x. */
  unary(op: number, x: F32, y: F32, alpha: number, beta: number): void;
  /** gx = gy * op'(x) over x.length; y (the forward output) is read by elu only. */
  unaryBackward(op: number, x: F32, y: F32, gy: F32, gx: F32, alpha: number): void;
  /**
   * y = a (op) b with broadcasting (op 0 add, 1 sub, 2 mul, 3 div) over a coalesced layout
   * Int32Array [r, shape[r], strideA[r], strideB[r]]; y is dense over shape.
   */
  binary(op: number, a: F32, b: F32, y: F32, layout: Int32Array): void;
  /** y = sums of x (dense over shape) over the axes where strideY is 0; layout [r, shape[r], strideY[r]]. */
  sumTo(x: F32, y: F32, layout: Int32Array): void;
  /** y += alpha x over y.length. */
  axpy(alpha: number, x: F32, y: F32): void;
  adamStep(p: F32, g: F32, m: F32, v: F32, lr: number, beta1: number, beta2: number, eps: number,
    weightDecay: number, step: number, decoupled: boolean): void;
  bnTrainForward(x: F32, gamma: F32 | null, beta: F32 | null, n: number, c: number, s: number, eps: number,
    y: F32, mean: F32, invstd: F32, varBiased: F32): void;
  bnTrainBackward(gy: F32, x: F32, gamma: F32 | null, mean: F32, invstd: F32, n: number, c: number, s: number,
    gx: F32 | null, ggamma: F32 | null, gbeta: F32 | null): void;
  bnEvalForward(x: F32, gamma: F32 | null, beta: F32 | null, runMean: F32, runVar: F32,
    n: number, c: number, s: number, eps: number, y: F32): void;
  bnEvalBackward(gy: F32, x: F32, gamma: F32 | null, runMean: F32, runVar: F32, n: number, c: number, s: number,
    eps: number, gx: F32 | null, ggamma: F32 | null, gbeta: F32 | null): void;
  /** relu(eval BN(x)) for x [n, c, s], channel ch read from xNeg where its BN scale is < 0 (fused.c). */
  bnReluSelect(x: F32, xNeg: F32, gamma: F32 | null, beta: F32 | null, runMean: F32, runVar: F32,
    n: number, c: number, s: number, eps: number, y: F32): void;
  /** y [n, c] = the mean over s of relu(eval BN(x)) for x [n, c, s] (fused.c). */
  bnReluMean(x: F32, gamma: F32 | null, beta: F32 | null, runMean: F32, runVar: F32,
    n: number, c: number, s: number, eps: number, y: F32): void;
  maxPool2dForward(x: F32, y: F32, argmax: Int32Array, n: number, c: number, h: number, w: number,
    kh: number, kw: number, sh: number, sw: number, ph: number, pw: number, oh: number, ow: number): void;
  maxPool2dBackward(gy: F32, argmax: Int32Array, gx: F32, n: number, c: number, h: number, w: number,
    kh: number, kw: number, sh: number, sw: number, ph: number, pw: number, oh: number, ow: number): void;
  conv2dForward(x: F32, w: F32, bias: F32 | null, y: F32, n: number, c: number, h: number, w_: number, o: number,
    kh: number, kw: number, sh: number, sw: number, ph: number, pw: number, oh: number, ow: number): void;
  /** y [n, o] = the mean over oh * ow of relu(eval BN(conv(x, w))), no bias (conv.c, with fused.c's sums). */
  conv2dBnReluMean(x: F32, w: F32, gamma: F32 | null, beta: F32 | null, runMean: F32, runVar: F32, eps: number, y: F32,
    n: number, c: number, h: number, w_: number, o: number, kh: number, kw: number, sh: number, sw: number, ph: number, pw: number,
    oh: number, ow: number): void;
  /** y = act(eval BN(conv(x, w) + bias)), act 0 none, 1 elu(alpha), 2 relu (conv.c). */
  conv2dBnAct(x: F32, w: F32, bias: F32 | null, gamma: F32 | null, beta: F32 | null, runMean: F32, runVar: F32, eps: number,
    act: number, alpha: number, y: F32, n: number, c: number, h: number, w_: number, o: number, kh: number, kw: number, sh: number,
    sw: number, ph: number, pw: number, oh: number, ow: number): void;
  conv2dBackwardData(gy: F32, w: F32, gx: F32, n: number, c: number, h: number, w_: number, o: number,
    kh: number, kw: number, sh: number, sw: number, ph: number, pw: number, oh: number, ow: number): void;
  conv2dBackwardWeight(gy: F32, x: F32, gw: F32, n: number, c: number, h: number, w_: number, o: number,
    kh: number, kw: number, sh: number, sw: number, ph: number, pw: number, oh: number, ow: number): void;
  /**
   * Depthwise convolution (groups = c, o a multiple of c; w [o, 1, kh, kw]), the semantics of
   * depthwiseForward in cpu/depthwise.ts. The three depthwise kernels throw a RangeError when o is
   * not a multiple of c or oh / ow exceed the convolution's output size.
   */
  depthwiseForward(x: F32, w: F32, bias: F32 | null, y: F32, n: number, c: number, h: number, w_: number, o: number,
    kh: number, kw: number, sh: number, sw: number, ph: number, pw: number, oh: number, ow: number): void;
  depthwiseBackwardData(gy: F32, w: F32, gx: F32, n: number, c: number, h: number, w_: number, o: number,
    kh: number, kw: number, sh: number, sw: number, ph: number, pw: number, oh: number, ow: number): void;
  depthwiseBackwardWeight(gy: F32, x: F32, gw: F32, n: number, c: number, h: number, w_: number, o: number,
    kh: number, kw: number, sh: number, sw: number, ph: number, pw: number, oh: number, ow: number): void;
  /**
   * Threads the C kernels split their work over, the caller included (default: OpenBLAS's thread
   * count, i.e. OPENBLAS_NUM_THREADS / OMP_NUM_THREADS or the cores). The extra threads are a
   * pool that claims chunks of a kernel's work; the caller never waits for one that is not running.
   */
  kernelThreads(): number;
  /** Sets kernelThreads (an integer in [1, 64]). */
  setKernelThreads(n: number): void;
}
