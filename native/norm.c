/*
 * norm.c: batch norm (training and eval, forward and backward), as src/backend/cpu/norm.ts:
 * statistics in double, one channel per chunk so results do not depend on the thread count.
 */
#include <math.h>
#include <stdbool.h>
#include <stdint.h>

#include "args.h"
#include "fastmath.h"
#include "kernels.h"
#include "threadpool.h"

typedef struct {
  const float *x, *gy, *gamma, *beta, *mean, *invstd, *runMean, *runVar;
  float *y, *gx, *omean, *oinvstd, *ovar, *ggamma, *gbeta;
  int64_t n, c, s;
  double eps;
} BnCtx;

/* sum over x[j] - k and (x[j] - k)^2 of one row, in double. */
HOT static void row_shifted_sums(const float *x, int64_t s, double k, double *sa, double *sb) {
  double a = 0, b = 0;
#pragma omp simd reduction(+ : a, b)
  for (int64_t j = 0; j < s; j++) {
    double d = (double)x[j] - k;
    a += d;
    b += d * d;
  }
  *sa += a;
  *sb += b;
}

/* sum gy[j] and gy[j] * (x[j] - mc) of one row, in double. */
HOT static void row_grad_sums(const float *gy, const float *x, int64_t s, double mc, double *sa,
                             double *sb) {
  double a = 0, b = 0;
#pragma omp simd reduction(+ : a, b)
  for (int64_t j = 0; j < s; j++) {
    double g = gy[j];
    a += g;
    b += g * ((double)x[j] - mc);
  }
  *sa += a;
  *sb += b;
}

/* y[j] = x[j] * a + b in double, rounded once. */
HOT static void row_affine(const float *x, float *y, int64_t s, double a, double b) {
  for (int64_t j = 0; j < s; j++) y[j] = (float)((double)x[j] * a + b);
}

/* gx[j] = ka gy[j] + kd (x[j] - mc) + k0 in double. */
HOT static void row_bn_grad(const float *gy, const float *x, float *gx, int64_t s, double ka,
                           double kd, double mc, double k0) {
  for (int64_t j = 0; j < s; j++) gx[j] = (float)(ka * (double)gy[j] + kd * ((double)x[j] - mc) + k0);
}

static void bn_train_fwd_range(void *vc, int64_t lo, int64_t hi, int tid) {
  (void)tid;
  BnCtx *c = (BnCtx *)vc;
  const int64_t n = c->n, C = c->c, s = c->s, m = n * s;
  for (int64_t ch = lo; ch < hi; ch++) {
    const double k = m > 0 ? (double)c->x[ch * s] : 0.0;
    double a = 0, b = 0;
    for (int64_t i = 0; i < n; i++) row_shifted_sums(c->x + (i * C + ch) * s, s, k, &a, &b);
    const double mu = k + a / (double)m;
    double q = b - a * a / (double)m;
    q = q < 0 ? 0 : q; /* Math.max(0, q): NaN stays NaN */
    const double v = q / (double)m;
    const double is = 1 / sqrt(v + c->eps);
    c->omean[ch] = (float)mu;
    c->oinvstd[ch] = (float)is;
    c->ovar[ch] = (float)v;
    const double scale = (c->gamma ? (double)c->gamma[ch] : 1.0) * is;
    const double shift = (c->beta ? (double)c->beta[ch] : 0.0) - mu * scale;
    for (int64_t i = 0; i < n; i++)
      row_affine(c->x + (i * C + ch) * s, c->y + (i * C + ch) * s, s, scale, shift);
  }
}

static void bn_train_bwd_range(void *vc, int64_t lo, int64_t hi, int tid) {
  (void)tid;
  BnCtx *c = (BnCtx *)vc;
  const int64_t n = c->n, C = c->c, s = c->s;
  const double m = (double)(n * s);
  for (int64_t ch = lo; ch < hi; ch++) {
    /* statistics as float32, as the TS kernel reads them from the float32 storages */
    const double mc = c->mean[ch], is = c->invstd[ch];
    double sg = 0, sgd = 0;
    for (int64_t i = 0; i < n; i++)
      row_grad_sums(c->gy + (i * C + ch) * s, c->x + (i * C + ch) * s, s, mc, &sg, &sgd);
    const double gi = (c->gamma ? (double)c->gamma[ch] : 1.0) * is;
    if (c->ggamma) c->ggamma[ch] = (float)(sgd * is);
    if (c->gbeta) c->gbeta[ch] = (float)sg;
    if (!c->gx) continue;
    const double kd = -gi * is * is * sgd / m;
    const double k0 = -gi * sg / m;
    for (int64_t i = 0; i < n; i++) {
      const int64_t o = (i * C + ch) * s;
      row_bn_grad(c->gy + o, c->x + o, c->gx + o, s, gi, kd, mc, k0);
    }
  }
}

static void bn_eval_fwd_range(void *vc, int64_t lo, int64_t hi, int tid) {
  (void)tid;
  BnCtx *c = (BnCtx *)vc;
  const int64_t n = c->n, C = c->c, s = c->s;
  for (int64_t ch = lo; ch < hi; ch++) {
    const double a = (c->gamma ? (double)c->gamma[ch] : 1.0) / sqrt((double)c->runVar[ch] + c->eps);
    const double b = (c->beta ? (double)c->beta[ch] : 0.0) - (double)c->runMean[ch] * a;
    for (int64_t i = 0; i < n; i++)
      row_affine(c->x + (i * C + ch) * s, c->y + (i * C + ch) * s, s, a, b);
  }
}

static void bn_eval_bwd_range(void *vc, int64_t lo, int64_t hi, int tid) {
  (void)tid;
  BnCtx *c = (BnCtx *)vc;
  const int64_t n = c->n, C = c->c, s = c->s;
  for (int64_t ch = lo; ch < hi; ch++) {
    const double sd = sqrt((double)c->runVar[ch] + c->eps);
    if (c->gx) {
      const double a = (c->gamma ? (double)c->gamma[ch] : 1.0) / sd;
      for (int64_t i = 0; i < n; i++) {
        const int64_t o = (i * C + ch) * s;
        row_affine(c->gy + o, c->gx + o, s, a, 0.0);
      }
    }
    if (!c->ggamma && !c->gbeta) continue;
    double sg = 0, sgd = 0;
    const double mc = c->runMean[ch];
    for (int64_t i = 0; i < n; i++)
      row_grad_sums(c->gy + (i * C + ch) * s, c->x + (i * C + ch) * s, s, mc, &sg, &sgd);
    if (c->ggamma) c->ggamma[ch] = (float)(sgd / sd);
    if (c->gbeta) c->gbeta[ch] = (float)sg;
  }
}

static bool read_ncs(Call *c, size_t i, BnCtx *b, int64_t *total) {
  if (!arg_int(c, i, "n", 0, &b->n) || !arg_int(c, i + 1, "c", 0, &b->c) ||
      !arg_int(c, i + 2, "s", 0, &b->s))
    return false;
  double t = (double)b->n * (double)b->c * (double)b->s;
  if (!check_size(c, "n * c * s", t)) return false;
  *total = b->n * b->c * b->s;
  return true;
}

/* Channels are the chunks (one channel's rows are summed in order, so results do not depend
 * on the thread count). */
static int64_t bn_chunks(const BnCtx *b, int64_t total) {
  int64_t p = chunks_for(total);
  return p > b->c ? b->c : p;
}

/* bnTrainForward(x, gamma, beta, n, c, s, eps, y, mean, invstd, varBiased) */
napi_value BnTrainForward(napi_env env, napi_callback_info info) {
  Call c;
  BnCtx b = {0};
  int64_t total;
  float *x;
  if (!call_init(&c, env, info, "bnTrainForward", 11,
                 "(x, gamma, beta, n, c, s, eps, y, mean, invstd, varBiased)"))
    return NULL;
  if (!read_ncs(&c, 3, &b, &total) || !arg_num(&c, 6, "eps", &b.eps)) return NULL;
  if (!arg_f32(&c, 0, "x", total, &x, NULL)) return NULL;
  b.x = x;
  if (!arg_f32_opt(&c, 1, "gamma", b.c, (float **)&b.gamma) ||
      !arg_f32_opt(&c, 2, "beta", b.c, (float **)&b.beta) || !arg_f32(&c, 7, "y", total, &b.y, NULL) ||
      !arg_f32(&c, 8, "mean", b.c, &b.omean, NULL) || !arg_f32(&c, 9, "invstd", b.c, &b.oinvstd, NULL) ||
      !arg_f32(&c, 10, "varBiased", b.c, &b.ovar, NULL))
    return NULL;
  pool_run(bn_train_fwd_range, &b, b.c, bn_chunks(&b, total), 1);
  return NULL;
}

/* bnTrainBackward(gy, x, gamma, mean, invstd, n, c, s, gx, ggamma, gbeta); gx, ggamma, gbeta may be null. */
napi_value BnTrainBackward(napi_env env, napi_callback_info info) {
  Call c;
  BnCtx b = {0};
  int64_t total;
  if (!call_init(&c, env, info, "bnTrainBackward", 11,
                 "(gy, x, gamma, mean, invstd, n, c, s, gx, ggamma, gbeta)"))
    return NULL;
  if (!read_ncs(&c, 5, &b, &total)) return NULL;
  if (!arg_f32(&c, 0, "gy", total, (float **)&b.gy, NULL) ||
      !arg_f32(&c, 1, "x", total, (float **)&b.x, NULL) ||
      !arg_f32_opt(&c, 2, "gamma", b.c, (float **)&b.gamma) ||
      !arg_f32(&c, 3, "mean", b.c, (float **)&b.mean, NULL) ||
      !arg_f32(&c, 4, "invstd", b.c, (float **)&b.invstd, NULL) ||
      !arg_f32_opt(&c, 8, "gx", total, &b.gx) || !arg_f32_opt(&c, 9, "ggamma", b.c, &b.ggamma) ||
      !arg_f32_opt(&c, 10, "gbeta", b.c, &b.gbeta))
    return NULL;
  pool_run(bn_train_bwd_range, &b, b.c, bn_chunks(&b, total), 1);
  return NULL;
}

/* bnEvalForward(x, gamma, beta, runMean, runVar, n, c, s, eps, y) */
napi_value BnEvalForward(napi_env env, napi_callback_info info) {
  Call c;
  BnCtx b = {0};
  int64_t total;
  if (!call_init(&c, env, info, "bnEvalForward", 10,
                 "(x, gamma, beta, runMean, runVar, n, c, s, eps, y)"))
    return NULL;
  if (!read_ncs(&c, 5, &b, &total) || !arg_num(&c, 8, "eps", &b.eps)) return NULL;
  if (!arg_f32(&c, 0, "x", total, (float **)&b.x, NULL) ||
      !arg_f32_opt(&c, 1, "gamma", b.c, (float **)&b.gamma) ||
      !arg_f32_opt(&c, 2, "beta", b.c, (float **)&b.beta) ||
      !arg_f32(&c, 3, "runMean", b.c, (float **)&b.runMean, NULL) ||
      !arg_f32(&c, 4, "runVar", b.c, (float **)&b.runVar, NULL) ||
      !arg_f32(&c, 9, "y", total, &b.y, NULL))
    return NULL;
  pool_run(bn_eval_fwd_range, &b, b.c, bn_chunks(&b, total), 1);
  return NULL;
}

/* bnEvalBackward(gy, x, gamma, runMean, runVar, n, c, s, eps, gx, ggamma, gbeta) */
napi_value BnEvalBackward(napi_env env, napi_callback_info info) {
  Call c;
  BnCtx b = {0};
  int64_t total;
  if (!call_init(&c, env, info, "bnEvalBackward", 12,
                 "(gy, x, gamma, runMean, runVar, n, c, s, eps, gx, ggamma, gbeta)"))
    return NULL;
  if (!read_ncs(&c, 5, &b, &total) || !arg_num(&c, 8, "eps", &b.eps)) return NULL;
  if (!arg_f32(&c, 0, "gy", total, (float **)&b.gy, NULL) ||
      !arg_f32(&c, 1, "x", total, (float **)&b.x, NULL) ||
      !arg_f32_opt(&c, 2, "gamma", b.c, (float **)&b.gamma) ||
      !arg_f32(&c, 3, "runMean", b.c, (float **)&b.runMean, NULL) ||
      !arg_f32(&c, 4, "runVar", b.c, (float **)&b.runVar, NULL) ||
      !arg_f32_opt(&c, 9, "gx", total, &b.gx) || !arg_f32_opt(&c, 10, "ggamma", b.c, &b.ggamma) ||
      !arg_f32_opt(&c, 11, "gbeta", b.c, &b.gbeta))
    return NULL;
  pool_run(bn_eval_bwd_range, &b, b.c, bn_chunks(&b, total), 1);
  return NULL;
}
