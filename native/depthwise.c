/*
 * depthwise.c: depthwise 2-D convolutions (groups = c, o = c m), as src/backend/cpu/depthwise.ts:
 * direct loops over the kernel taps, each tap a pass along contiguous output rows (no im2col, no
 * GEMM: a per-channel product would have a reduction of only kh kw). Forward and backward data
 * split their planes (sample, channel) over the pool; the weight gradient splits its output
 * channels, each summed by one chunk over all samples in a fixed order, so results never depend on
 * thread timing. Summation orders are those of the TypeScript kernels, except that the weight
 * gradient's double sums run vectorised (partial sums per lane).
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "args.h"
#include "fastmath.h"
#include "kernels.h"
#include "threadpool.h"

typedef struct {
  int64_t n, c, h, w, o, kh, kw, sh, sw, ph, pw, oh, ow;
} DwGeom;

static inline int64_t first_inside(int64_t off, int64_t s) { return off >= 0 ? 0 : (-off + s - 1) / s; }

/* First t in [lo, count] with t * s + off >= limit. */
static inline int64_t first_past(int64_t off, int64_t s, int64_t limit, int64_t lo, int64_t count) {
  int64_t t = limit - off <= 0 ? 0 : (limit - off + s - 1) / s;
  return t < lo ? lo : t > count ? count : t;
}

static inline int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }

/* Output rows [oyLo, oyHi) and columns [oxLo, oxHi) whose input position for tap (ki, kj) lies inside the plane. */
typedef struct {
  int64_t oyLo, oyHi, oxLo, oxHi;
} Span;

static inline Span tap_span(const DwGeom *g, int64_t ki, int64_t kj) {
  Span r;
  r.oyLo = min64(first_inside(ki - g->ph, g->sh), g->oh);
  r.oyHi = first_past(ki - g->ph, g->sh, g->h, r.oyLo, g->oh);
  r.oxLo = min64(first_inside(kj - g->pw, g->sw), g->ow);
  r.oxHi = first_past(kj - g->pw, g->sw, g->w, r.oxLo, g->ow);
  return r;
}

typedef struct {
  DwGeom g;
  const float *x, *w, *bias, *gy;
  float *y, *gx, *gw;
} DwCtx;

/* y planes [lo, hi) of the n o planes: taps in (ki, kj) order from 0, then the bias. */
HOT static void dw_fwd_range(void *vc, int64_t lo, int64_t hi, int tid) {
  (void)tid;
  const DwCtx *d = (const DwCtx *)vc;
  const DwGeom *g = &d->g;
  const int64_t m = g->o / g->c, P = g->oh * g->ow, plane = g->h * g->w, taps = g->kh * g->kw;
  const int64_t sh = g->sh, sw = g->sw, ow = g->ow, W = g->w;
  for (int64_t q = lo; q < hi; q++) {
    const int64_t s = q / g->o, r = q % g->o;
    float *yb = d->y + q * P;
    const float *xb = d->x + (s * g->c + r / m) * plane;
    memset(yb, 0, (size_t)P * sizeof(float));
    for (int64_t ki = 0; ki < g->kh; ki++) {
      for (int64_t kj = 0; kj < g->kw; kj++) {
        const float wv = d->w[r * taps + ki * g->kw + kj];
        const Span sp = tap_span(g, ki, kj);
        for (int64_t oy = sp.oyLo; oy < sp.oyHi; oy++) {
          float *yr = yb + oy * ow;
          const float *xr = xb + (oy * sh - g->ph + ki) * W - g->pw + kj;
          if (sw == 1) {
            for (int64_t ox = sp.oxLo; ox < sp.oxHi; ox++) yr[ox] += wv * xr[ox];
          } else if (sw == 2) {
            for (int64_t ox = sp.oxLo; ox < sp.oxHi; ox++) yr[ox] += wv * xr[2 * ox];
          } else {
            for (int64_t ox = sp.oxLo; ox < sp.oxHi; ox++) yr[ox] += wv * xr[ox * sw];
          }
        }
      }
    }
    if (d->bias) {
      const float b = d->bias[r];
      for (int64_t j = 0; j < P; j++) yb[j] += b;
    }
  }
}

/* gx planes [lo, hi) of the n c planes: for each of the m output channels of the plane, the taps in (ki, kj) order. */
HOT static void dw_bwd_data_range(void *vc, int64_t lo, int64_t hi, int tid) {
  (void)tid;
  const DwCtx *d = (const DwCtx *)vc;
  const DwGeom *g = &d->g;
  const int64_t m = g->o / g->c, P = g->oh * g->ow, plane = g->h * g->w, taps = g->kh * g->kw;
  const int64_t sh = g->sh, sw = g->sw, ow = g->ow, W = g->w;
  for (int64_t q = lo; q < hi; q++) {
    const int64_t s = q / g->c, ci = q % g->c;
    float *xb = d->gx + q * plane;
    memset(xb, 0, (size_t)plane * sizeof(float));
    for (int64_t j = 0; j < m; j++) {
      const int64_t r = ci * m + j;
      const float *yb = d->gy + (s * g->o + r) * P;
      for (int64_t ki = 0; ki < g->kh; ki++) {
        for (int64_t kj = 0; kj < g->kw; kj++) {
          const float wv = d->w[r * taps + ki * g->kw + kj];
          const Span sp = tap_span(g, ki, kj);
          for (int64_t oy = sp.oyLo; oy < sp.oyHi; oy++) {
            const float *yr = yb + oy * ow;
            float *xr = xb + (oy * sh - g->ph + ki) * W - g->pw + kj;
            if (sw == 1) {
              for (int64_t ox = sp.oxLo; ox < sp.oxHi; ox++) xr[ox] += wv * yr[ox];
            } else {
              for (int64_t ox = sp.oxLo; ox < sp.oxHi; ox++) xr[ox * sw] += wv * yr[ox];
            }
          }
        }
      }
    }
  }
}

/* gw for output channels [lo, hi): per tap, a double sum over samples, then positions in row-major order. */
HOT static void dw_bwd_weight_range(void *vc, int64_t lo, int64_t hi, int tid) {
  (void)tid;
  const DwCtx *d = (const DwCtx *)vc;
  const DwGeom *g = &d->g;
  const int64_t m = g->o / g->c, P = g->oh * g->ow, plane = g->h * g->w, taps = g->kh * g->kw;
  const int64_t sh = g->sh, sw = g->sw, ow = g->ow, W = g->w;
  for (int64_t r = lo; r < hi; r++) {
    const int64_t ci = r / m;
    for (int64_t ki = 0; ki < g->kh; ki++) {
      for (int64_t kj = 0; kj < g->kw; kj++) {
        const Span sp = tap_span(g, ki, kj);
        double acc = 0.0;
        for (int64_t s = 0; s < g->n; s++) {
          const float *yb = d->gy + (s * g->o + r) * P;
          const float *xb = d->x + (s * g->c + ci) * plane;
          for (int64_t oy = sp.oyLo; oy < sp.oyHi; oy++) {
            const float *yr = yb + oy * ow;
            const float *xr = xb + (oy * sh - g->ph + ki) * W - g->pw + kj;
            /* a vectorised double sum (lanes added at the end; float rounding of the result is
             * what the TypeScript kernel's sequential sum gives, to a few double ulps) */
            if (sw == 1) {
#pragma omp simd reduction(+ : acc)
              for (int64_t ox = sp.oxLo; ox < sp.oxHi; ox++) acc += (double)yr[ox] * (double)xr[ox];
            } else {
#pragma omp simd reduction(+ : acc)
              for (int64_t ox = sp.oxLo; ox < sp.oxHi; ox++) acc += (double)yr[ox] * (double)xr[ox * sw];
            }
          }
        }
        d->gw[r * taps + ki * g->kw + kj] = (float)acc;
      }
    }
  }
}

static const char *DW_GEOM = "n, c, h, w, o, kh, kw, sh, sw, ph, pw, oh, ow";

/* The 13 geometry arguments from index i on; o must be a multiple of c (c > 0), oh and ow must be
 * the output sizes of the convolution, so that no loop leaves its plane. */
static bool read_dw_geom(Call *c, size_t i, DwGeom *g) {
  static const char *names[13] = {"n", "c", "h", "w", "o", "kh", "kw", "sh", "sw", "ph", "pw", "oh", "ow"};
  static const int64_t lows[13] = {0, 1, 0, 0, 0, 0, 0, 1, 1, 0, 0, 0, 0};
  int64_t *f[13] = {&g->n, &g->c, &g->h, &g->w, &g->o, &g->kh, &g->kw, &g->sh, &g->sw, &g->ph, &g->pw, &g->oh, &g->ow};
  for (int k = 0; k < 13; k++)
    if (!arg_int(c, i + (size_t)k, names[k], lows[k], f[k])) return false;
  char msg[200];
  if (g->o % g->c != 0) {
    snprintf(msg, sizeof msg, "%s: o (%lld) must be a multiple of c (%lld) for a depthwise convolution", c->fn,
             (long long)g->o, (long long)g->c);
    throw_range(c->env, msg);
    return false;
  }
  const int64_t ohw = g->h + 2 * g->ph - g->kh, oww = g->w + 2 * g->pw - g->kw;
  if ((g->oh > 0 && (ohw < 0 || g->oh > ohw / g->sh + 1)) || (g->ow > 0 && (oww < 0 || g->ow > oww / g->sw + 1))) {
    snprintf(msg, sizeof msg, "%s: output %lldx%lld does not fit input %lldx%lld, kernel %lldx%lld, stride %lld,%lld, padding %lld,%lld",
             c->fn, (long long)g->oh, (long long)g->ow, (long long)g->h, (long long)g->w, (long long)g->kh, (long long)g->kw,
             (long long)g->sh, (long long)g->sw, (long long)g->ph, (long long)g->pw);
    throw_range(c->env, msg);
    return false;
  }
  return check_size(c, "n * c * h * w", (double)g->n * g->c * g->h * g->w) &&
         check_size(c, "n * o * oh * ow", (double)g->n * g->o * g->oh * g->ow) &&
         check_size(c, "o * kh * kw", (double)g->o * g->kh * g->kw);
}

/* Chunks for a pass of `macs` multiply-adds over `items` independent items. */
static int64_t dw_chunks(int64_t macs) { return chunks_for(macs); }

/* depthwiseForward(x, w, bias, y, n, c, h, w, o, kh, kw, sh, sw, ph, pw, oh, ow): y = conv(x, w) + bias, groups = c. */
napi_value DepthwiseForward(napi_env env, napi_callback_info info) {
  Call c;
  DwCtx d = {0};
  char sig[120];
  snprintf(sig, sizeof sig, "(x, w, bias, y, %s)", DW_GEOM);
  if (!call_init(&c, env, info, "depthwiseForward", 17, sig)) return NULL;
  if (!read_dw_geom(&c, 4, &d.g)) return NULL;
  const DwGeom *g = &d.g;
  const int64_t P = g->oh * g->ow;
  if (!arg_f32(&c, 0, "x", g->n * g->c * g->h * g->w, (float **)&d.x, NULL) ||
      !arg_f32(&c, 1, "w", g->o * g->kh * g->kw, (float **)&d.w, NULL) ||
      !arg_f32_opt(&c, 2, "bias", g->o, (float **)&d.bias) || !arg_f32(&c, 3, "y", g->n * g->o * P, &d.y, NULL))
    return NULL;
  const int64_t planes = g->n * g->o;
  if (planes == 0 || P == 0) return NULL;
  pool_run(dw_fwd_range, &d, planes, dw_chunks(planes * P * g->kh * g->kw), 1);
  return NULL;
}

/* depthwiseBackwardData(gy, w, gx, geom...): gx = dL/dx of a depthwise convolution. */
napi_value DepthwiseBackwardData(napi_env env, napi_callback_info info) {
  Call c;
  DwCtx d = {0};
  char sig[120];
  snprintf(sig, sizeof sig, "(gy, w, gx, %s)", DW_GEOM);
  if (!call_init(&c, env, info, "depthwiseBackwardData", 16, sig)) return NULL;
  if (!read_dw_geom(&c, 3, &d.g)) return NULL;
  const DwGeom *g = &d.g;
  const int64_t P = g->oh * g->ow;
  if (!arg_f32(&c, 0, "gy", g->n * g->o * P, (float **)&d.gy, NULL) ||
      !arg_f32(&c, 1, "w", g->o * g->kh * g->kw, (float **)&d.w, NULL) ||
      !arg_f32(&c, 2, "gx", g->n * g->c * g->h * g->w, &d.gx, NULL))
    return NULL;
  const int64_t planes = g->n * g->c;
  if (planes == 0 || g->h * g->w == 0) return NULL;
  pool_run(dw_bwd_data_range, &d, planes, dw_chunks(g->n * g->o * P * g->kh * g->kw), 1);
  return NULL;
}

/* depthwiseBackwardWeight(gy, x, gw, geom...): gw = dL/dw of a depthwise convolution. */
napi_value DepthwiseBackwardWeight(napi_env env, napi_callback_info info) {
  Call c;
  DwCtx d = {0};
  char sig[120];
  snprintf(sig, sizeof sig, "(gy, x, gw, %s)", DW_GEOM);
  if (!call_init(&c, env, info, "depthwiseBackwardWeight", 16, sig)) return NULL;
  if (!read_dw_geom(&c, 3, &d.g)) return NULL;
  const DwGeom *g = &d.g;
  const int64_t P = g->oh * g->ow;
  if (!arg_f32(&c, 0, "gy", g->n * g->o * P, (float **)&d.gy, NULL) ||
      !arg_f32(&c, 1, "x", g->n * g->c * g->h * g->w, (float **)&d.x, NULL) ||
      !arg_f32(&c, 2, "gw", g->o * g->kh * g->kw, &d.gw, NULL))
    return NULL;
  if (g->o * g->kh * g->kw == 0) return NULL;
  pool_run(dw_bwd_weight_range, &d, g->o, dw_chunks(g->n * g->o * P * g->kh * g->kw), 1);
  return NULL;
}
