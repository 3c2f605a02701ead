/*
 * maxpool.c: 2-D max pooling forward (with argmax) and backward, as src/backend/cpu/pool.ts;
 * a fast path for 2x2 stride-2 windows, planes (n * c) as the pool's chunks.
 */
#include <math.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "args.h"
#include "fastmath.h"
#include "kernels.h"
#include "threadpool.h"

typedef struct {
  int64_t n, c, h, w, kh, kw, sh, sw, ph, pw, oh, ow;
} PoolGeom;

typedef struct {
  const float *x, *gy;
  float *y, *gx;
  int32_t *argmax;
  const int32_t *cargmax;
  PoolGeom g;
  _Atomic int bad; /* set by the backward pass when an argmax entry lies outside its plane */
} PoolCtx;

static bool pool_fast(const PoolGeom *g) {
  return g->kh == 2 && g->kw == 2 && g->sh == 2 && g->sw == 2 && g->ph == 0 && g->pw == 0 &&
         2 * g->oh <= g->h && 2 * g->ow <= g->w;
}

HOT static void maxpool_fwd_range(void *vc, int64_t lo, int64_t hi, int tid) {
  (void)tid;
  PoolCtx *c = (PoolCtx *)vc;
  const PoolGeom *g = &c->g;
  const int64_t h = g->h, w = g->w, oh = g->oh, ow = g->ow, inPlane = h * w, outPlane = oh * ow;
  if (pool_fast(g)) {
    for (int64_t p = lo; p < hi; p++) {
      const float *xb = c->x + p * inPlane;
      float *yb = c->y + p * outPlane;
      int32_t *ab = c->argmax + p * outPlane;
      for (int64_t oy = 0; oy < oh; oy++) {
        const int32_t r0 = (int32_t)(2 * oy * w), r1 = (int32_t)(r0 + w);
        const float *x0 = xb + r0, *x1 = xb + r1;
        float *yr = yb + oy * ow;
        int32_t *ar = ab + oy * ow;
        for (int32_t ox = 0; ox < (int32_t)ow; ox++) {
          float best = x0[2 * ox];
          int32_t bi = r0 + 2 * ox;
          float v = x0[2 * ox + 1];
          if (v > best || v != v) { best = v; bi = r0 + 2 * ox + 1; }
          v = x1[2 * ox];
          if (v > best || v != v) { best = v; bi = r1 + 2 * ox; }
          v = x1[2 * ox + 1];
          if (v > best || v != v) { best = v; bi = r1 + 2 * ox + 1; }
          yr[ox] = best;
          ar[ox] = bi;
        }
      }
    }
    return;
  }
  for (int64_t p = lo; p < hi; p++) {
    const float *xb = c->x + p * inPlane;
    int64_t o = p * outPlane;
    for (int64_t oy = 0; oy < oh; oy++) {
      const int64_t hs = oy * g->sh - g->ph;
      const int64_t he = hs + g->kh < h ? hs + g->kh : h;
      const int64_t hs0 = hs > 0 ? hs : 0;
      for (int64_t ox = 0; ox < ow; ox++, o++) {
        const int64_t wsx = ox * g->sw - g->pw;
        const int64_t we = wsx + g->kw < w ? wsx + g->kw : w;
        const int64_t ws0 = wsx > 0 ? wsx : 0;
        float best = -INFINITY;
        int64_t bi = hs0 * w + ws0;
        for (int64_t iy = hs0; iy < he; iy++) {
          const int64_t row = iy * w;
          for (int64_t ix = ws0; ix < we; ix++) {
            const float v = xb[row + ix];
            if (v > best || v != v) { best = v; bi = row + ix; }
          }
        }
        c->y[o] = best;
        c->argmax[o] = (int32_t)bi;
      }
    }
  }
}

HOT static void maxpool_bwd_range(void *vc, int64_t lo, int64_t hi, int tid) {
  (void)tid;
  PoolCtx *c = (PoolCtx *)vc;
  const PoolGeom *g = &c->g;
  const int64_t h = g->h, w = g->w, oh = g->oh, ow = g->ow, inPlane = h * w, outPlane = oh * ow;
  if (pool_fast(g)) {
    /* Non-overlapping windows: write each window whole (gy at its argmax, 0 elsewhere), then
     * clear the rows / columns no window covers. An argmax outside its window falls back. */
    int bad = 0;
    for (int64_t p = lo; p < hi; p++) {
      const float *gyb = c->gy + p * outPlane;
      const int32_t *ab = c->cargmax + p * outPlane;
      float *gxb = c->gx + p * inPlane;
      for (int64_t oy = 0; oy < oh; oy++) {
        const int32_t r0 = (int32_t)(2 * oy * w), r1 = (int32_t)(r0 + w);
        float *x0 = gxb + r0, *x1 = gxb + r1;
        const float *gr = gyb + oy * ow;
        const int32_t *ar = ab + oy * ow;
        for (int32_t ox = 0; ox < (int32_t)ow; ox++) {
          const int32_t a = ar[ox];
          const float gv = gr[ox];
          const int32_t b0 = r0 + 2 * ox, b1 = r1 + 2 * ox;
          x0[2 * ox] = a == b0 ? gv : 0.0f;
          x0[2 * ox + 1] = a == b0 + 1 ? gv : 0.0f;
          x1[2 * ox] = a == b1 ? gv : 0.0f;
          x1[2 * ox + 1] = a == b1 + 1 ? gv : 0.0f;
          bad |= (a != b0) & (a != b0 + 1) & (a != b1) & (a != b1 + 1);
        }
        if (2 * ow < w) {
          for (int64_t ix = 2 * ow; ix < w; ix++) x0[ix] = x1[ix] = 0.0f;
        }
      }
      if (2 * oh < h) memset(gxb + 2 * oh * w, 0, (size_t)((h - 2 * oh) * w) * sizeof(float));
    }
    if (!bad) return;
  }
  /* General: zero, then add each gy at its argmax (which must lie inside its plane). */
  memset(c->gx + lo * inPlane, 0, (size_t)((hi - lo) * inPlane) * sizeof(float));
  int bad = 0;
  for (int64_t p = lo; p < hi; p++) {
    float *gxb = c->gx + p * inPlane;
    const float *gyb = c->gy + p * outPlane;
    const int32_t *ab = c->cargmax + p * outPlane;
    for (int64_t o = 0; o < outPlane; o++) {
      const int64_t a = ab[o];
      if (a < 0 || a >= inPlane) {
        bad = 1;
        continue;
      }
      gxb[a] += gyb[o];
    }
  }
  if (bad) atomic_store(&c->bad, 1);
}

static bool read_pool_geom(Call *c, size_t i, PoolGeom *g) {
  static const char *names[12] = {"n", "c", "h", "w", "kh", "kw", "sh", "sw", "ph", "pw", "oh", "ow"};
  static const int64_t lows[12] = {0, 0, 0, 0, 1, 1, 1, 1, 0, 0, 0, 0};
  int64_t *f[12] = {&g->n, &g->c, &g->h, &g->w, &g->kh, &g->kw, &g->sh, &g->sw, &g->ph, &g->pw, &g->oh, &g->ow};
  for (int k = 0; k < 12; k++)
    if (!arg_int(c, i + (size_t)k, names[k], lows[k], f[k])) return false;
  return check_size(c, "n * c * h * w", (double)g->n * g->c * g->h * g->w) &&
         check_size(c, "n * c * oh * ow", (double)g->n * g->c * g->oh * g->ow);
}

static const char *POOL_GEOM = "n, c, h, w, kh, kw, sh, sw, ph, pw, oh, ow";

/* maxPool2dForward(x, y, argmax, n, c, h, w, kh, kw, sh, sw, ph, pw, oh, ow) */
napi_value MaxPool2dForward(napi_env env, napi_callback_info info) {
  Call c;
  PoolCtx p = {0};
  char sig[120];
  snprintf(sig, sizeof sig, "(x, y, argmax, %s)", POOL_GEOM);
  if (!call_init(&c, env, info, "maxPool2dForward", 15, sig)) return NULL;
  if (!read_pool_geom(&c, 3, &p.g)) return NULL;
  const int64_t planes = p.g.n * p.g.c, outN = planes * p.g.oh * p.g.ow;
  if (!arg_f32(&c, 0, "x", planes * p.g.h * p.g.w, (float **)&p.x, NULL) ||
      !arg_f32(&c, 1, "y", outN, &p.y, NULL) || !arg_i32(&c, 2, "argmax", outN, &p.argmax))
    return NULL;
  if (outN == 0) return NULL;
  pool_run(maxpool_fwd_range, &p, planes, chunks_for(planes * p.g.h * p.g.w), 1);
  return NULL;
}

/* maxPool2dBackward(gy, argmax, gx, n, c, h, w, kh, kw, sh, sw, ph, pw, oh, ow) */
napi_value MaxPool2dBackward(napi_env env, napi_callback_info info) {
  Call c;
  PoolCtx p = {0};
  int32_t *am;
  char sig[120];
  snprintf(sig, sizeof sig, "(gy, argmax, gx, %s)", POOL_GEOM);
  if (!call_init(&c, env, info, "maxPool2dBackward", 15, sig)) return NULL;
  if (!read_pool_geom(&c, 3, &p.g)) return NULL;
  const int64_t planes = p.g.n * p.g.c, outN = planes * p.g.oh * p.g.ow;
  if (!arg_f32(&c, 0, "gy", outN, (float **)&p.gy, NULL) || !arg_i32(&c, 1, "argmax", outN, &am) ||
      !arg_f32(&c, 2, "gx", planes * p.g.h * p.g.w, &p.gx, NULL))
    return NULL;
  p.cargmax = am;
  if (planes * p.g.h * p.g.w == 0) return NULL;
  pool_run(maxpool_bwd_range, &p, planes, chunks_for(planes * p.g.h * p.g.w), 1);
  if (atomic_load(&p.bad)) {
    throw_range(env, "maxPool2dBackward: an argmax entry lies outside its input plane [0, h * w)");
    return NULL;
  }
  return NULL;
}
