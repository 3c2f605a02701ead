/*
 * module.c: registers the entry points of the pdiff_blas addon (built as
 * native/build/Release/pdiff_blas.node, loaded by src/backend/native.ts), and holds the two
 * that set the C kernels' thread count.
 *
 * The addon: a thin N-API wrapper around OpenBLAS (gemm.c) plus the C kernels of the blas backend
 * (src/backend/blas.ts): the memory-bound layers of a training step (elementwise.c: activations,
 * binary / sumTo, axpy; norm.c: batch norm; fused.c: eval BN + ReLU passes of inference;
 * maxpool.c: max pooling; optim.c: AdamW) and the
 * convolutions (conv.c: im2col / col2im in C with cblas_sgemm called from C, and two inference
 * passes that fold an eval BN into a convolution, sharing fused.c's sums through fused.h;
 * depthwise.c: direct depthwise convolutions). Float32Array in
 * and out; the semantics are those of the TypeScript kernels in
 * src/backend/cpu/{elementwise,norm,pool,conv,optim}.ts, to float32 rounding (statistics in double
 * as there). Every argument is checked first (args.c): a wrong type throws a TypeError, a size
 * that does not fit its array a RangeError; no kernel reads or writes outside the arrays it is
 * given, whatever the geometry.
 *
 * Threads: a kernel with enough work splits it into chunks (samples for the convolutions, which
 * then run OpenBLAS single-threaded per chunk; channels for batch norm; elements or planes for
 * the rest) that the calling thread and kernel_threads() - 1 pool workers claim one at a time
 * (threadpool.c). Scratch memory is per N-API environment (scratch.c).
 *
 * Plain C against node_api.h (no node-addon-api), so it builds with nothing but node-gyp,
 * the Node headers and libopenblas-dev.
 */
#include <stdint.h>
#include <stdio.h>
#include <node_api.h>

#include "args.h"
#include "kernels.h"
#include "scratch.h"
#include "threadpool.h"

/* kernelThreads(): threads the C kernels use, the caller included. */
napi_value KernelThreads(napi_env env, napi_callback_info info) {
  (void)info;
  napi_value out;
  NAPI_CALL(env, napi_create_int32(env, kernel_threads(), &out));
  return out;
}

/* setKernelThreads(n): threads the C kernels use, the caller included (default: OpenBLAS's count). */
napi_value SetKernelThreads(napi_env env, napi_callback_info info) {
  Call c;
  int64_t t;
  if (!call_init(&c, env, info, "setKernelThreads", 1, "(n)")) return NULL;
  if (!arg_int(&c, 0, "n", 1, &t)) return NULL;
  if (t > MAX_EXEC) {
    char msg[120];
    snprintf(msg, sizeof msg, "setKernelThreads: n must be at most %d, got %lld", MAX_EXEC, (long long)t);
    throw_range(env, msg);
    return NULL;
  }
  set_kernel_threads((int)t);
  return NULL;
}

NAPI_MODULE_INIT(/* napi_env env, napi_value exports */) {
  if (!scratch_init(env)) return NULL;
  napi_property_descriptor props[] = {
      {"sgemm", NULL, Sgemm, NULL, NULL, NULL, napi_enumerable, NULL},
      {"numThreads", NULL, NumThreads, NULL, NULL, NULL, napi_enumerable, NULL},
      {"setNumThreads", NULL, SetNumThreads, NULL, NULL, NULL, napi_enumerable, NULL},
      {"config", NULL, Config, NULL, NULL, NULL, napi_enumerable, NULL},
      {"coreName", NULL, CoreName, NULL, NULL, NULL, napi_enumerable, NULL},
      {"unary", NULL, Unary, NULL, NULL, NULL, napi_enumerable, NULL},
      {"unaryBackward", NULL, UnaryBackward, NULL, NULL, NULL, napi_enumerable, NULL},
      {"binary", NULL, Binary, NULL, NULL, NULL, napi_enumerable, NULL},
      {"sumTo", NULL, SumTo, NULL, NULL, NULL, napi_enumerable, NULL},
      {"axpy", NULL, Axpy, NULL, NULL, NULL, napi_enumerable, NULL},
      {"adamStep", NULL, AdamStep, NULL, NULL, NULL, napi_enumerable, NULL},
      {"bnTrainForward", NULL, BnTrainForward, NULL, NULL, NULL, napi_enumerable, NULL},
      {"bnTrainBackward", NULL, BnTrainBackward, NULL, NULL, NULL, napi_enumerable, NULL},
      {"bnEvalForward", NULL, BnEvalForward, NULL, NULL, NULL, napi_enumerable, NULL},
      {"bnEvalBackward", NULL, BnEvalBackward, NULL, NULL, NULL, napi_enumerable, NULL},
      {"bnReluSelect", NULL, BnReluSelect, NULL, NULL, NULL, napi_enumerable, NULL},
      {"bnReluMean", NULL, BnReluMean, NULL, NULL, NULL, napi_enumerable, NULL},
      {"maxPool2dForward", NULL, MaxPool2dForward, NULL, NULL, NULL, napi_enumerable, NULL},
      {"maxPool2dBackward", NULL, MaxPool2dBackward, NULL, NULL, NULL, napi_enumerable, NULL},
      {"conv2dForward", NULL, Conv2dForward, NULL, NULL, NULL, napi_enumerable, NULL},
      {"conv2dBackwardData", NULL, Conv2dBackwardData, NULL, NULL, NULL, napi_enumerable, NULL},
      {"conv2dBackwardWeight", NULL, Conv2dBackwardWeight, NULL, NULL, NULL, napi_enumerable, NULL},
      {"conv2dBnReluMean", NULL, Conv2dBnReluMean, NULL, NULL, NULL, napi_enumerable, NULL},
      {"conv2dBnAct", NULL, Conv2dBnAct, NULL, NULL, NULL, napi_enumerable, NULL},
      {"depthwiseForward", NULL, DepthwiseForward, NULL, NULL, NULL, napi_enumerable, NULL},
      {"depthwiseBackwardData", NULL, DepthwiseBackwardData, NULL, NULL, NULL, napi_enumerable, NULL},
      {"depthwiseBackwardWeight", NULL, DepthwiseBackwardWeight, NULL, NULL, NULL, napi_enumerable, NULL},
      {"kernelThreads", NULL, KernelThreads, NULL, NULL, NULL, napi_enumerable, NULL},
      {"setKernelThreads", NULL, SetKernelThreads, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  if (napi_define_properties(env, exports, sizeof props / sizeof props[0], props) != napi_ok)
    return NULL;
  return exports;
}
