/*
 * fused.c: fused inference passes of the blas backend (FusedEvalKernels in src/backend/backend.ts),
 * as src/backend/cpu/fused.ts: eval-mode batch norm + ReLU, from pooled inputs (bnReluSelect) or
 * into a global average pool (bnReluMean), in one pass each and on the pool's threads. The
 * per-element arithmetic is that of the separate kernels they replace on this backend (norm.c's
 * eval batch norm, the unary relu and affine, sumTo's in-order double sum), with the BN folded the
 * same way, so the results are the same bit for bit: the cnn-s tail checks that before it uses them.
 */
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "args.h"
#include "fastmath.h"
#include "fused.h"
#include "kernels.h"
#include "threadpool.h"

typedef struct {
  const float *x, *xneg, *gamma, *beta, *runMean, *runVar;
  float *y;
  int64_t n, c, s;
  double eps;
} FusedCtx;

/* The eval BN of channel ch as one scale and shift, as norm.c's bn_eval_fwd_range computes them. */
static void fold_bn(const FusedCtx *f, int64_t ch, double *a, double *b) {
  *a = (f->gamma ? (double)f->gamma[ch] : 1.0) / sqrt((double)f->runVar[ch] + f->eps);
  *b = (f->beta ? (double)f->beta[ch] : 0.0) - (double)f->runMean[ch] * *a;
}

/* y[j] = relu(x[j] * a + b), the affine as norm.c's row_affine, the relu as the unary kernel's. */
HOT static void row_affine_relu(const float *x, float *y, int64_t s, double a, double b) {
  for (int64_t j = 0; j < s; j++) {
    const float v = (float)((double)x[j] * a + b);
    y[j] = v > 0.0f ? v : 0.0f;
  }
}

/* relu(v) = v > 0 ? v : +0 without a branch (a mispredicted branch per element costs more than
 * the pass): the bits of v where v > 0, else those of +0; NaN gives +0, as the unary relu. */
static inline float relu_nb(float v) {
  uint32_t u;
  memcpy(&u, &v, sizeof u);
  u &= -(uint32_t)(v > 0.0f);
  memcpy(&v, &u, sizeof v);
  return v;
}

/* The in-order double sum of relu(x[j] * a + b) over one row (sumTo's order). */
HOT static double row_affine_relu_sum(const float *x, int64_t s, double a, double b) {
  double acc = 0;
  for (int64_t j = 0; j < s; j++) {
    const float v = (float)((double)x[j] * a + b);
    acc += relu_nb(v);
  }
  return acc;
}

/* Rows [lo, hi) of [n * c] (image, channel): channel ch reads x when its scale is >= 0, else xneg. */
static void select_range(void *vc, int64_t lo, int64_t hi, int eid) {
  (void)eid;
  const FusedCtx *f = (const FusedCtx *)vc;
  const int64_t s = f->s;
  for (int64_t r = lo; r < hi; r++) {
    double a, b;
    fold_bn(f, r % f->c, &a, &b);
    row_affine_relu((a >= 0 ? f->x : f->xneg) + r * s, f->y + r * s, s, a, b);
  }
}

/* The sums of four rows at once (rows x, x + ld, x + 2 ld, x + 3 ld), each in its own order (as
 * row_affine_relu_sum): four independent chains instead of one, so the adds' latency overlaps.
 * The sums come back rounded to float, as sumTo stores them: with double outputs rounded by the
 * caller, GCC 12 at -O3 vectorised the caller's rounding of two of the four sums away (the pairs
 * went straight from double into 1 / s * sum), and about 13 % of the means differed from the
 * separate kernels' by one ulp. Shared with conv.c's conv + BN + ReLU + mean (fused.h). */
HOT void rows4_affine_relu_sum(const float *x, int64_t ld, int64_t s, const double *a, const double *b, float *out) {
  const float *x0 = x, *x1 = x + ld, *x2 = x + 2 * ld, *x3 = x + 3 * ld;
  double c0 = 0, c1 = 0, c2 = 0, c3 = 0;
  for (int64_t j = 0; j < s; j++) {
    c0 += relu_nb((float)((double)x0[j] * a[0] + b[0]));
    c1 += relu_nb((float)((double)x1[j] * a[1] + b[1]));
    c2 += relu_nb((float)((double)x2[j] * a[2] + b[2]));
    c3 += relu_nb((float)((double)x3[j] * a[3] + b[3]));
  }
  out[0] = (float)c0; out[1] = (float)c1; out[2] = (float)c2; out[3] = (float)c3;
}

/* One row's sum, rounded to float (sumTo). */
float row_affine_relu_sumf(const float *x, int64_t s, double a, double b) {
  return (float)row_affine_relu_sum(x, s, a, b);
}

void bn_eval_fold(const float *gamma, const float *beta, const float *runMean, const float *runVar, double eps,
                  int64_t c, double *a, double *b) {
  FusedCtx f = {0};
  f.gamma = gamma; f.beta = beta; f.runMean = runMean; f.runVar = runVar; f.eps = eps;
  for (int64_t ch = 0; ch < c; ch++) fold_bn(&f, ch, &a[ch], &b[ch]);
}

/* y[r] = (sum of relu(bn(x[r, :]))) / s, the sum rounded to float once (sumTo), then the unary
 * affine by 1 / s. */
static void mean_range(void *vc, int64_t lo, int64_t hi, int eid) {
  (void)eid;
  const FusedCtx *f = (const FusedCtx *)vc;
  const int64_t s = f->s, C = f->c;
  const double inv = 1.0 / (double)s;
  int64_t r = lo;
  for (; r + 4 <= hi; r += 4) {
    double a[4], b[4];
    float sum[4];
    for (int k = 0; k < 4; k++) fold_bn(f, (r + k) % C, &a[k], &b[k]);
    rows4_affine_relu_sum(f->x + r * s, s, s, a, b, sum);
    for (int k = 0; k < 4; k++) f->y[r + k] = mean_of_sum(sum[k], inv);
  }
  for (; r < hi; r++) {
    double a, b;
    fold_bn(f, r % C, &a, &b);
    f->y[r] = mean_of_sum(row_affine_relu_sumf(f->x + r * s, s, a, b), inv);
  }
}

static bool read_fused(Call *c, size_t first, FusedCtx *f, int64_t *total) {
  if (!arg_int(c, first, "n", 0, &f->n) || !arg_int(c, first + 1, "c", 1, &f->c) ||
      !arg_int(c, first + 2, "s", 1, &f->s) || !arg_num(c, first + 3, "eps", &f->eps))
    return false;
  const double t = (double)f->n * (double)f->c * (double)f->s;
  if (!check_size(c, "n * c * s", t)) return false;
  *total = f->n * f->c * f->s;
  return true;
}

static bool read_bn(Call *c, size_t i, FusedCtx *f) {
  return arg_f32_opt(c, i, "gamma", f->c, (float **)&f->gamma) &&
         arg_f32_opt(c, i + 1, "beta", f->c, (float **)&f->beta) &&
         arg_f32(c, i + 2, "runMean", f->c, (float **)&f->runMean, NULL) &&
         arg_f32(c, i + 3, "runVar", f->c, (float **)&f->runVar, NULL);
}

/* Rows per chunk: whole rows, about CHUNK_ELEMS elements a chunk. */
static int64_t row_chunks(const FusedCtx *f, int64_t total) {
  const int64_t rows = f->n * f->c;
  int64_t p = chunks_for(total);
  return p > rows ? rows : p;
}

/* bnReluSelect(x, xNeg, gamma, beta, runMean, runVar, n, c, s, eps, y) */
napi_value BnReluSelect(napi_env env, napi_callback_info info) {
  Call c;
  FusedCtx f = {0};
  int64_t total;
  if (!call_init(&c, env, info, "bnReluSelect", 11, "(x, xNeg, gamma, beta, runMean, runVar, n, c, s, eps, y)")) return NULL;
  if (!read_fused(&c, 6, &f, &total)) return NULL;
  if (!arg_f32(&c, 0, "x", total, (float **)&f.x, NULL) || !arg_f32(&c, 1, "xNeg", total, (float **)&f.xneg, NULL) ||
      !read_bn(&c, 2, &f) || !arg_f32(&c, 10, "y", total, &f.y, NULL))
    return NULL;
  if (total > 0) pool_run(select_range, &f, f.n * f.c, row_chunks(&f, total), 1);
  return NULL;
}

/* bnReluMean(x, gamma, beta, runMean, runVar, n, c, s, eps, y): y [n, c] */
napi_value BnReluMean(napi_env env, napi_callback_info info) {
  Call c;
  FusedCtx f = {0};
  int64_t total;
  if (!call_init(&c, env, info, "bnReluMean", 10, "(x, gamma, beta, runMean, runVar, n, c, s, eps, y)")) return NULL;
  if (!read_fused(&c, 5, &f, &total)) return NULL;
  if (!arg_f32(&c, 0, "x", total, (float **)&f.x, NULL) || !read_bn(&c, 1, &f) ||
      !arg_f32(&c, 9, "y", f.n * f.c, &f.y, NULL))
    return NULL;
  if (total > 0) pool_run(mean_range, &f, f.n * f.c, row_chunks(&f, total), 1);
  return NULL;
}
