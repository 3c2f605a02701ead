/*
 * scratch.h: one growable scratch buffer per N-API environment (main thread or JS worker),
 * kept between calls: the im2col columns of the convolutions and sumTo's double accumulators.
 */
#ifndef PDIFF_SCRATCH_H
#define PDIFF_SCRATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <node_api.h>

#pragma GCC visibility push(hidden)

/* Attaches an empty scratch to env (module init); freed with the environment. False on failure. */
bool scratch_init(napi_env env);

/* A buffer of at least n floats (64-byte aligned), kept for the next call; NULL after throwing.
 * Its contents do not survive the next scratch_get. */
float *scratch_get(napi_env env, size_t n);

#pragma GCC visibility pop

#endif
