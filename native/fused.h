/*
 * fused.h: the pieces of fused.c's BN + ReLU + mean that conv.c's conv + BN + ReLU + mean shares,
 * so that both round exactly as the separate kernels do (see fused.c).
 */
#ifndef PDIFF_FUSED_H
#define PDIFF_FUSED_H

#include <stdint.h>

#pragma GCC visibility push(hidden)

/* a[ch], b[ch]: channel ch's eval BN as one scale and shift, as norm.c computes them. */
void bn_eval_fold(const float *gamma, const float *beta, const float *runMean, const float *runVar, double eps,
                  int64_t c, double *a, double *b);
/* out[k] = the in-order double sum of relu(x[k ld + j] a[k] + b[k]) over j < s, rounded to float, k < 4. */
void rows4_affine_relu_sum(const float *x, int64_t ld, int64_t s, const double *a, const double *b, float *out);
/* The same for one row. */
float row_affine_relu_sumf(const float *x, int64_t s, double a, double b);

#pragma GCC visibility pop

/* A row's mean from its float sum: times 1 / s as the unary affine computes it. */
static inline float mean_of_sum(float sum, double inv) { return (float)(inv * (double)sum + 0.0); }

#endif
