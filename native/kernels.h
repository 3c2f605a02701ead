/*
 * kernels.h: the N-API entry points of the addon, one block per source file, for module.c to
 * register. Each checks its arguments (args.h) and then runs its kernel; the semantics are those
 * of the TypeScript kernels in src/backend/cpu/ (see src/backend/native.ts for the JS side).
 */
#ifndef PDIFF_KERNELS_H
#define PDIFF_KERNELS_H

#include <node_api.h>

#pragma GCC visibility push(hidden)

/* gemm.c: cblas_sgemm and OpenBLAS's own thread count / build info */
napi_value Sgemm(napi_env env, napi_callback_info info);
napi_value NumThreads(napi_env env, napi_callback_info info);
napi_value SetNumThreads(napi_env env, napi_callback_info info);
napi_value Config(napi_env env, napi_callback_info info);
napi_value CoreName(napi_env env, napi_callback_info info);

/* elementwise.c: activations, axpy, broadcast binary ops, sumTo */
napi_value Unary(napi_env env, napi_callback_info info);
napi_value UnaryBackward(napi_env env, napi_callback_info info);
napi_value Axpy(napi_env env, napi_callback_info info);
napi_value Binary(napi_env env, napi_callback_info info);
napi_value SumTo(napi_env env, napi_callback_info info);

/* optim.c: Adam / AdamW */
napi_value AdamStep(napi_env env, napi_callback_info info);

/* norm.c: batch norm */
napi_value BnTrainForward(napi_env env, napi_callback_info info);
napi_value BnTrainBackward(napi_env env, napi_callback_info info);
napi_value BnEvalForward(napi_env env, napi_callback_info info);
napi_value BnEvalBackward(napi_env env, napi_callback_info info);

/* fused.c: fused inference passes (eval BN + ReLU from pooled inputs, or into a global average pool) */
napi_value BnReluSelect(napi_env env, napi_callback_info info);
napi_value BnReluMean(napi_env env, napi_callback_info info);

/* maxpool.c: 2-D max pooling */
napi_value MaxPool2dForward(napi_env env, napi_callback_info info);
napi_value MaxPool2dBackward(napi_env env, napi_callback_info info);

/* conv.c: 2-D convolutions (im2col + cblas_sgemm) */
napi_value Conv2dForward(napi_env env, napi_callback_info info);
napi_value Conv2dBackwardData(napi_env env, napi_callback_info info);
napi_value Conv2dBackwardWeight(napi_env env, napi_callback_info info);
napi_value Conv2dBnReluMean(napi_env env, napi_callback_info info);
napi_value Conv2dBnAct(napi_env env, napi_callback_info info);

/* depthwise.c: depthwise 2-D convolutions (groups = c), direct loops over the taps */
napi_value DepthwiseForward(napi_env env, napi_callback_info info);
napi_value DepthwiseBackwardData(napi_env env, napi_callback_info info);
napi_value DepthwiseBackwardWeight(napi_env env, napi_callback_info info);

/* module.c: the kernels' thread count */
napi_value KernelThreads(napi_env env, napi_callback_info info);
napi_value SetKernelThreads(napi_env env, napi_callback_info info);

#pragma GCC visibility pop

#endif
