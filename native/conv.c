/*
 * conv.c: 2-D convolutions, as src/backend/cpu/conv.ts: im2col / col2im in C and cblas_sgemm
 * called from C, for the forward pass and both backward passes (data, weight). Chunks of samples
 * (one GEMM each) run on the pool, OpenBLAS single-threaded inside each; the weight gradient
 * adds per-chunk partial sums in chunk order, so results do not depend on thread timing.
 */
#include <cblas.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "args.h"
#include "fastmath.h"
#include "fused.h"
#include "kernels.h"
#include "threadpool.h"
#include "scratch.h"

/* Below this many multiply-adds a convolution stays on the calling thread. */
#define PAR_MIN_MACS (1 << 21)
/* Scratch (floats) one convolution chunk aims at: im2col columns + gathered block. */
#define CONV_CHUNK_FLOATS (1 << 17)

typedef struct {
  int64_t n, c, h, w, o, kh, kw, sh, sw, ph, pw, oh, ow;
} ConvGeom;

static inline int64_t first_inside(int64_t off, int64_t s) { return off >= 0 ? 0 : (-off + s - 1) / s; }

/* First t in [lo, count] with t * s + off >= limit. */
static inline int64_t first_past(int64_t off, int64_t s, int64_t limit, int64_t lo, int64_t count) {
  int64_t t = limit - off <= 0 ? 0 : (limit - off + s - 1) / s;
  return t < lo ? lo : t > count ? count : t;
}

static inline int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }

/* Output rows [oyLo, oyHi) whose input row oy*sh - ph + ki lies inside [0, h); columns likewise. */
typedef struct {
  int64_t oyLo, oyHi, oxLo, oxHi;
} Span;

static inline Span tap_span(const ConvGeom *g, int64_t ki, int64_t kj) {
  Span r;
  r.oyLo = min64(first_inside(ki - g->ph, g->sh), g->oh);
  r.oyHi = first_past(ki - g->ph, g->sh, g->h, r.oyLo, g->oh);
  r.oxLo = min64(first_inside(kj - g->pw, g->sw), g->ow);
  r.oxHi = first_past(kj - g->pw, g->sw, g->w, r.oxLo, g->ow);
  return r;
}

/* Planes up to this wide take im2col_small. */
#define SMALL_W 16
#define SMALL_PAD 3
#define SMALL_PB ((SMALL_W + 2 * SMALL_PAD) * (SMALL_W + 2 * SMALL_PAD) + 2 * SMALL_W)

/* Whether im2col_small applies: stride 1, "same" output size, a plane at most SMALL_W wide and
 * high and at least 4 wide (a row's copy then runs at most into the next row), padding at most
 * SMALL_PAD. */
static inline bool small_same(const ConvGeom *g) {
  return g->sh == 1 && g->sw == 1 && g->oh == g->h && g->ow == g->w && g->w >= 4 && g->w <= SMALL_W && g->h <= SMALL_W &&
         g->ph <= SMALL_PAD && g->pw <= SMALL_PAD && g->ph >= 0 && g->pw >= 0;
}

/* im2col for small planes (cnn-s's 14x14 and 7x7 layers): each input plane is copied once into a
 * zero-bordered buffer, then every output row of every tap is one fixed-size copy of 8 or 16
 * floats from it. The generic loop below spends most of its time in libc calls for copies and
 * fills of a few floats on such planes (so this one makes none). A row's copy runs past its end into the next row's
 * place, which is written next; the last row of each tap and image is copied exactly. Same
 * columns, bit for bit. */
HOT __attribute__((optimize("no-tree-loop-distribute-patterns"))) static void im2col_small(const float *x, int64_t n0, int64_t m, const ConvGeom *g, float *cols) {
  const int64_t c = g->c, h = g->h, w = g->w, kh = g->kh, kw = g->kw, ph = g->ph, pw = g->pw;
  const int64_t ow = g->ow, oh = g->oh, P = oh * ow, L = m * P, plane = h * w, W = w + 2 * pw;
  float pb[SMALL_PB];
  memset(pb, 0, sizeof pb); /* the border stays zero: only the interior is written below */
  for (int64_t s = 0; s < m; s++) {
    for (int64_t ci = 0; ci < c; ci++) {
      const float *xb = x + ((n0 + s) * c + ci) * plane;
      for (int64_t y = 0; y < h; y++) {
        float *q = pb + (y + ph) * W + pw; /* a loop, not a libc call, for a few floats */
        const float *r = xb + y * w;
        for (int64_t j = 0; j < w; j++) q[j] = r[j];
      }
      for (int64_t ki = 0; ki < kh; ki++) {
        for (int64_t kj = 0; kj < kw; kj++) {
          float *d = cols + ((ci * kh + ki) * kw + kj) * L + s * P;
          const float *src = pb + ki * W + kj;
          int64_t oy = 0;
          if (ow <= 8) {
            for (; oy + 1 < oh; oy++) memcpy(d + oy * ow, src + oy * W, 8 * sizeof(float));
          } else {
            for (; oy + 1 < oh; oy++) memcpy(d + oy * ow, src + oy * W, 16 * sizeof(float));
          }
          for (int64_t j = 0; j < ow; j++) d[oy * ow + j] = src[oy * W + j];
        }
      }
    }
  }
}

/* cols [c*kh*kw, m*P]: cols[(ci*kh + ki)*kw + kj, s*P + oy*ow + ox] = x[n0 + s, ci, oy*sh - ph + ki,
 * ox*sw - pw + kj], 0 outside. */
HOT static void im2col(const float *x, int64_t n0, int64_t m, const ConvGeom *g, float *cols) {
  const int64_t c = g->c, h = g->h, w = g->w, kh = g->kh, kw = g->kw, sh = g->sh, sw = g->sw;
  const int64_t ph = g->ph, pw = g->pw, oh = g->oh, ow = g->ow;
  const int64_t P = oh * ow, L = m * P, plane = h * w;
  const bool same = sh == 1 && sw == 1 && ow == w;
  if (small_same(g)) {
    im2col_small(x, n0, m, g, cols);
    return;
  }
  for (int64_t ci = 0; ci < c; ci++) {
    for (int64_t ki = 0; ki < kh; ki++) {
      for (int64_t kj = 0; kj < kw; kj++) {
        const Span sp = tap_span(g, ki, kj);
        const int64_t run = sp.oxHi - sp.oxLo, tail = ow - sp.oxHi;
        float *row = cols + ((ci * kh + ki) * kw + kj) * L;
        for (int64_t s = 0; s < m; s++) {
          float *d = row + s * P;
          const float *xb = x + ((n0 + s) * c + ci) * plane;
          if (sp.oyLo > 0) memset(d, 0, (size_t)(sp.oyLo * ow) * sizeof(float));
          if (sp.oyHi > sp.oyLo) {
            if (run <= 0) {
              memset(d + sp.oyLo * ow, 0, (size_t)((sp.oyHi - sp.oyLo) * ow) * sizeof(float));
            } else if (same) {
              /* One contiguous stretch of x, shifted by kj - pw; then clear the entries that
               * wrapped around from the neighbouring input rows. */
              float *q = d + sp.oyLo * ow;
              const int64_t len = (sp.oyHi - sp.oyLo) * ow;
              const float *src = xb + (sp.oyLo - ph + ki) * w + (kj - pw + sp.oxLo);
              memcpy(q + sp.oxLo, src, (size_t)(len - sp.oxLo - tail) * sizeof(float));
              if (sp.oxLo > 0 || tail > 0) {
                for (int64_t r = 0; r < len; r += ow) {
                  for (int64_t j = 0; j < sp.oxLo; j++) q[r + j] = 0.0f;
                  for (int64_t j = ow - tail; j < ow; j++) q[r + j] = 0.0f;
                }
              }
            } else {
              for (int64_t oy = sp.oyLo; oy < sp.oyHi; oy++) {
                float *q = d + oy * ow;
                for (int64_t j = 0; j < sp.oxLo; j++) q[j] = 0.0f;
                const float *src = xb + (oy * sh - ph + ki) * w + (sp.oxLo * sw - pw + kj);
                float *qq = q + sp.oxLo;
                if (sw == 1) {
                  for (int64_t t = 0; t < run; t++) qq[t] = src[t];
                } else if (sw == 2) {
                  for (int64_t t = 0; t < run; t++) qq[t] = src[2 * t];
                } else {
                  for (int64_t t = 0; t < run; t++) qq[t] = src[t * sw];
                }
                for (int64_t j = sp.oxHi; j < ow; j++) q[j] = 0.0f;
              }
            }
          }
          if (sp.oyHi < oh) memset(d + sp.oyHi * ow, 0, (size_t)((oh - sp.oyHi) * ow) * sizeof(float));
        }
      }
    }
  }
}

/* The adjoint of im2col: adds cols [c*kh*kw, m*P] onto samples [n0, n0 + m) of gx. cols is
 * scratch (its wrapped-around edge entries get cleared). */
HOT static void col2im_add(float *cols, int64_t n0, int64_t m, const ConvGeom *g, float *gx) {
  const int64_t c = g->c, h = g->h, w = g->w, kh = g->kh, kw = g->kw, sh = g->sh, sw = g->sw;
  const int64_t ph = g->ph, pw = g->pw, oh = g->oh, ow = g->ow;
  const int64_t P = oh * ow, L = m * P, plane = h * w;
  const bool same = sh == 1 && sw == 1 && ow == w;
  for (int64_t s = 0; s < m; s++) {
    for (int64_t ci = 0; ci < c; ci++) {
      float *xb = gx + ((n0 + s) * c + ci) * plane;
      for (int64_t ki = 0; ki < kh; ki++) {
        for (int64_t kj = 0; kj < kw; kj++) {
          const Span sp = tap_span(g, ki, kj);
          const int64_t run = sp.oxHi - sp.oxLo, tail = ow - sp.oxHi;
          if (run <= 0 || sp.oyHi <= sp.oyLo) continue;
          float *d = cols + ((ci * kh + ki) * kw + kj) * L + s * P;
          if (same) {
            float *q = d + sp.oyLo * ow;
            const int64_t len = (sp.oyHi - sp.oyLo) * ow;
            float *dst = xb + (sp.oyLo - ph + ki) * w + (kj - pw + sp.oxLo);
            const float *src = q + sp.oxLo;
            if (sp.oxLo > 0 || tail > 0) {
              for (int64_t r = 0; r < len; r += ow) {
                for (int64_t j = 0; j < sp.oxLo; j++) q[r + j] = 0.0f;
                for (int64_t j = ow - tail; j < ow; j++) q[r + j] = 0.0f;
              }
            }
            const int64_t cnt = len - sp.oxLo - tail;
            for (int64_t t = 0; t < cnt; t++) dst[t] += src[t];
          } else {
            for (int64_t oy = sp.oyLo; oy < sp.oyHi; oy++) {
              float *dst = xb + (oy * sh - ph + ki) * w + (sp.oxLo * sw - pw + kj);
              const float *src = d + oy * ow + sp.oxLo;
              if (sw == 1) {
                for (int64_t t = 0; t < run; t++) dst[t] += src[t];
              } else {
                for (int64_t t = 0; t < run; t++) dst[t * sw] += src[t];
              }
            }
          }
        }
      }
    }
  }
}

/* blk [rows, m*P] <- samples [n0, n0 + m) of t [n, rows, P]. */
static void gather_blk(const float *t, int64_t n0, int64_t m, int64_t rows, int64_t P, float *blk) {
  const int64_t ld = m * P;
  for (int64_t s = 0; s < m; s++)
    for (int64_t r = 0; r < rows; r++)
      memcpy(blk + r * ld + s * P, t + ((n0 + s) * rows + r) * P, (size_t)P * sizeof(float));
}

/* Inverse of gather_blk, adding bias[r] when given. */
HOT static void scatter_blk(const float *blk, int64_t n0, int64_t m, int64_t rows, int64_t P, float *t,
                            const float *bias) {
  const int64_t ld = m * P;
  for (int64_t s = 0; s < m; s++) {
    for (int64_t r = 0; r < rows; r++) {
      const float *src = blk + r * ld + s * P;
      float *dst = t + ((n0 + s) * rows + r) * P;
      if (bias) {
        const float b = bias[r];
        for (int64_t j = 0; j < P; j++) dst[j] = src[j] + b;
      } else {
        memcpy(dst, src, (size_t)P * sizeof(float));
      }
    }
  }
}

HOT static void add_bias(float *y, int64_t rows, int64_t P, const float *bias) {
  for (int64_t r = 0; r < rows; r++) {
    const float b = bias[r];
    float *q = y + r * P;
    for (int64_t j = 0; j < P; j++) q[j] += b;
  }
}

static inline void sg(bool ta, bool tb, int64_t m, int64_t n, int64_t k, const float *a, int64_t lda,
                      const float *b, int64_t ldb, float beta, float *c, int64_t ldc) {
  cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans,
              (blasint)m, (blasint)n, (blasint)k, 1.0f, a, (blasint)lda, b, (blasint)ldb, beta, c,
              (blasint)ldc);
}

typedef struct {
  const ConvGeom *g;
  const float *x, *w, *bias, *gy;
  float *y, *gx, *gw;
  float *scratch;
  int64_t chunk;      /* samples per GEMM */
  int64_t perExec;    /* scratch floats per executor */
  int64_t colsFloats; /* offset of the gathered block in an executor's scratch */
  float *partials;    /* backward weight: an [o, K] partial sum per chunk of samples */
  int64_t nchunks;    /* chunks of samples the pass is cut into (fixed by the plan, not by timing) */
  const double *bnA, *bnB; /* conv + BN (+ ReLU + mean, or + activation): channel r's folded eval BN */
  int act;                 /* conv + BN + activation: ACT_* (bnA set), else ACT_NONE */
  float alpha;             /* the activation's alpha (elu) */
} ConvCtx;

/* conv2dBnAct's activations after the BN: none, elu or relu (the unary kernel's, elementwise.c). */
enum { ACT_NONE = 0, ACT_ELU = 1, ACT_RELU = 2 };

/* Samples [n0, n0 + m) of y [n, o, P], in place: the eval BN as norm.c's row_affine computes it
 * (x a + b in double, rounded once), then the activation as elementwise.c's unary kernel does,
 * while the block is still in cache. */
HOT static void bn_act_rows(float *y, int64_t n0, int64_t m, int64_t o, int64_t P, const double *A, const double *B,
                            int act, float alpha) {
  for (int64_t s = n0; s < n0 + m; s++) {
    for (int64_t r = 0; r < o; r++) {
      float *q = y + (s * o + r) * P;
      const double a = A[r], b = B[r];
      for (int64_t j = 0; j < P; j++) q[j] = (float)((double)q[j] * a + b);
      if (act == ACT_ELU) {
        for (int64_t j = 0; j < P; j++) {
          const float v = q[j];
          const float e = alpha * (fexp(v) - 1.0f);
          q[j] = v > 0.0f ? v : e;
        }
      } else if (act == ACT_RELU) {
        for (int64_t j = 0; j < P; j++) q[j] = q[j] > 0.0f ? q[j] : 0.0f;
      }
    }
  }
}

static bool conv_pointwise(const ConvGeom *g) {
  return g->kh == 1 && g->kw == 1 && g->sh == 1 && g->sw == 1 && g->ph == 0 && g->pw == 0 &&
         g->oh == g->h && g->ow == g->w && g->oh * g->ow >= 64;
}

static void conv_fwd_range(void *vc, int64_t lo, int64_t hi, int tid) {
  ConvCtx *c = (ConvCtx *)vc;
  const ConvGeom *g = c->g;
  const int64_t o = g->o, K = g->c * g->kh * g->kw, P = g->oh * g->ow;
  if (conv_pointwise(g)) {
    for (int64_t s = lo; s < hi; s++) {
      sg(false, false, o, P, g->c, c->w, g->c, c->x + s * g->c * P, P, 0.0f, c->y + s * o * P, P);
      if (c->bias) add_bias(c->y + s * o * P, o, P, c->bias);
      if (c->bnA) bn_act_rows(c->y, s, 1, o, P, c->bnA, c->bnB, c->act, c->alpha);
    }
    return;
  }
  float *cols = c->scratch + (int64_t)tid * c->perExec;
  float *blk = cols + c->colsFloats;
  for (int64_t n0 = lo; n0 < hi; n0 += c->chunk) {
    const int64_t m = min64(c->chunk, hi - n0);
    im2col(c->x, n0, m, g, cols);
    if (m == 1) {
      sg(false, false, o, P, K, c->w, K, cols, P, 0.0f, c->y + n0 * o * P, P);
      if (c->bias) add_bias(c->y + n0 * o * P, o, P, c->bias);
    } else {
      sg(false, false, o, m * P, K, c->w, K, cols, m * P, 0.0f, blk, m * P);
      scatter_blk(blk, n0, m, o, P, c->y, c->bias);
    }
    if (c->bnA) bn_act_rows(c->y, n0, m, o, P, c->bnA, c->bnB, c->act, c->alpha);
  }
}

/* The means over P of relu(a[r] blk[r, s P + j] + b[r]) for the m samples of a GEMM block
 * [o, ld = m P] into y [n0 + s, r]: fused.c's bnReluMean on the block, before it is scattered. */
static void block_means(const ConvCtx *c, const float *blk, int64_t n0, int64_t m) {
  const int64_t o = c->g->o, P = c->g->oh * c->g->ow, ld = m * P;
  const double inv = 1.0 / (double)P;
  for (int64_t s = 0; s < m; s++) {
    const float *b0 = blk + s * P;
    float *y = c->y + (n0 + s) * o;
    int64_t r = 0;
    for (; r + 4 <= o; r += 4) {
      float sum[4];
      rows4_affine_relu_sum(b0 + r * ld, ld, P, c->bnA + r, c->bnB + r, sum);
      for (int k = 0; k < 4; k++) y[r + k] = mean_of_sum(sum[k], inv);
    }
    for (; r < o; r++) y[r] = mean_of_sum(row_affine_relu_sumf(b0 + r * ld, P, c->bnA[r], c->bnB[r]), inv);
  }
}

/* conv_fwd_range with block_means in place of the scatter: the same GEMMs on the same chunks. */
static void conv_fwd_means_range(void *vc, int64_t lo, int64_t hi, int tid) {
  ConvCtx *c = (ConvCtx *)vc;
  const ConvGeom *g = c->g;
  const int64_t o = g->o, K = g->c * g->kh * g->kw, P = g->oh * g->ow;
  float *cols = c->scratch + (int64_t)tid * c->perExec;
  float *blk = cols + c->colsFloats;
  if (conv_pointwise(g)) {
    for (int64_t s = lo; s < hi; s++) {
      sg(false, false, o, P, g->c, c->w, g->c, c->x + s * g->c * P, P, 0.0f, blk, P);
      block_means(c, blk, s, 1);
    }
    return;
  }
  for (int64_t n0 = lo; n0 < hi; n0 += c->chunk) {
    const int64_t m = min64(c->chunk, hi - n0);
    im2col(c->x, n0, m, g, cols);
    sg(false, false, o, m * P, K, c->w, K, cols, m * P, 0.0f, blk, m * P);
    block_means(c, blk, n0, m);
  }
}

static void conv_bwd_data_range(void *vc, int64_t lo, int64_t hi, int tid) {
  ConvCtx *c = (ConvCtx *)vc;
  const ConvGeom *g = c->g;
  const int64_t o = g->o, K = g->c * g->kh * g->kw, P = g->oh * g->ow, plane = g->h * g->w;
  if (conv_pointwise(g)) {
    for (int64_t s = lo; s < hi; s++)
      sg(true, false, g->c, P, o, c->w, g->c, c->gy + s * o * P, P, 0.0f, c->gx + s * g->c * P, P);
    return;
  }
  memset(c->gx + lo * g->c * plane, 0, (size_t)((hi - lo) * g->c * plane) * sizeof(float));
  float *cols = c->scratch + (int64_t)tid * c->perExec;
  float *blk = cols + c->colsFloats;
  for (int64_t n0 = lo; n0 < hi; n0 += c->chunk) {
    const int64_t m = min64(c->chunk, hi - n0);
    if (m == 1) {
      sg(true, false, K, P, o, c->w, K, c->gy + n0 * o * P, P, 0.0f, cols, P);
    } else {
      gather_blk(c->gy, n0, m, o, P, blk);
      sg(true, false, K, m * P, o, c->w, K, blk, m * P, 0.0f, cols, m * P);
    }
    col2im_add(cols, n0, m, g, c->gx);
  }
}

static void conv_bwd_weight_range(void *vc, int64_t lo, int64_t hi, int tid) {
  ConvCtx *c = (ConvCtx *)vc;
  const ConvGeom *g = c->g;
  const int64_t o = g->o, K = g->c * g->kh * g->kw, P = g->oh * g->ow, n = g->n;
  /* Each chunk of samples writes its own partial sum, whichever thread runs it; conv_run adds
   * them in chunk order, so the result does not depend on thread timing (exact reproducibility).
   * chunk_range gives lo = floor(n i / nchunks), hence i = ceil(lo nchunks / n). */
  const int64_t ci = (lo * c->nchunks + n - 1) / n;
  float *gw = c->partials + ci * o * K;
  if (conv_pointwise(g)) {
    for (int64_t s = lo; s < hi; s++)
      sg(false, true, o, g->c, P, c->gy + s * o * P, P, c->x + s * g->c * P, P, s > lo ? 1.0f : 0.0f, gw, g->c);
    return;
  }
  float *cols = c->scratch + (int64_t)tid * c->perExec;
  float *blk = cols + c->colsFloats;
  for (int64_t n0 = lo; n0 < hi; n0 += c->chunk) {
    const int64_t m = min64(c->chunk, hi - n0);
    const float beta = n0 > lo ? 1.0f : 0.0f;
    im2col(c->x, n0, m, g, cols);
    if (m == 1) {
      sg(false, true, o, K, P, c->gy + n0 * o * P, P, cols, P, beta, gw, K);
    } else {
      gather_blk(c->gy, n0, m, o, P, blk);
      sg(false, true, o, K, m * P, blk, m * P, cols, m * P, beta, gw, K);
    }
  }
}

enum { CONV_FWD = 0, CONV_BWD_DATA = 1, CONV_BWD_WEIGHT = 2, CONV_FWD_MEANS = 3 };

static bool read_conv_geom(Call *c, size_t i, ConvGeom *g) {
  static const char *names[13] = {"n", "c", "h", "w", "o", "kh", "kw", "sh", "sw", "ph", "pw", "oh", "ow"};
  static const int64_t lows[13] = {0, 0, 0, 0, 0, 0, 0, 1, 1, 0, 0, 0, 0};
  int64_t *f[13] = {&g->n, &g->c, &g->h, &g->w, &g->o, &g->kh, &g->kw, &g->sh, &g->sw, &g->ph, &g->pw, &g->oh, &g->ow};
  for (int k = 0; k < 13; k++)
    if (!arg_int(c, i + (size_t)k, names[k], lows[k], f[k])) return false;
  const double K = (double)g->c * g->kh * g->kw, P = (double)g->oh * g->ow;
  return check_size(c, "n * c * h * w", (double)g->n * g->c * g->h * g->w) &&
         check_size(c, "n * o * oh * ow", (double)g->n * g->o * P) &&
         check_size(c, "o * c * kh * kw", (double)g->o * K) && check_size(c, "c * kh * kw * oh * ow", K * P);
}

/* Plans chunking and scratch, then runs one of the three convolution passes: chunks of samples
 * (one GEMM each) on the pool, each executor with its own columns and, for the weight
 * gradient, its own partial sum, added up at the end in executor order. */
static napi_value conv_run(Call *c, int kind, ConvCtx *cc) {
  const ConvGeom *g = cc->g;
  const int64_t n = g->n, o = g->o, K = g->c * g->kh * g->kw, P = g->oh * g->ow;
  const double macs = (double)n * o * K * P;
  const int E = n > 1 && macs >= PAR_MIN_MACS ? pool_acquire() : 1; /* pool held when E > 1 */
  /* Samples per GEMM: as many as fit CONV_CHUNK_FLOATS of columns + gathered block, but
   * leaving at least two chunks per executor, balanced so the last chunk is not a sliver. */
  const int64_t perSample = (K + o) * P;
  int64_t chunk = CONV_CHUNK_FLOATS / (perSample > 0 ? perSample : 1);
  if (chunk < 1) chunk = 1;
  if (E > 1 && chunk > (n + 2 * E - 1) / (2 * E)) chunk = (n + 2 * E - 1) / (2 * E);
  if (chunk > n) chunk = n;
  while (chunk > 1 && (double)chunk * P * (K > o ? K : o) > (double)INT_MAX) chunk /= 2;
  int64_t nchunks = (n + chunk - 1) / chunk;
  chunk = (n + nchunks - 1) / nchunks;
  nchunks = (n + chunk - 1) / chunk;
  cc->chunk = chunk;
  cc->colsFloats = K * chunk * P;
  cc->perExec = cc->colsFloats + (chunk > 1 || kind == CONV_FWD_MEANS ? o * chunk * P : 0);
  const int64_t partialFloats = kind == CONV_BWD_WEIGHT ? nchunks * o * K : 0;
  const double total = (double)cc->perExec * E + (double)partialFloats;
  float *scr = NULL;
  if (total > 4.0e9) {
    throw_range(c->env, "conv: the im2col scratch this geometry needs is too large");
  } else {
    scr = scratch_get(c->env, (size_t)total);
  }
  if (!scr) {
    if (E > 1) pool_release();
    return NULL;
  }
  cc->scratch = scr;
  cc->partials = scr + cc->perExec * E;
  cc->nchunks = nchunks;
  range_fn f = kind == CONV_FWD ? conv_fwd_range : kind == CONV_FWD_MEANS ? conv_fwd_means_range
             : kind == CONV_BWD_DATA ? conv_bwd_data_range : conv_bwd_weight_range;
  if (E > 1 && nchunks > 1) {
    /* the executors each run OpenBLAS on one thread */
    const int saved = openblas_get_num_threads();
    if (saved != 1) openblas_set_num_threads(1);
    pool_dispatch(f, cc, n, nchunks, 1);
    if (saved != 1) openblas_set_num_threads(saved);
  } else {
    /* the same chunks as the pool would run, in order, so results match the parallel path */
    for (int64_t i = 0; i < nchunks; i++) f(cc, n * i / nchunks, n * (i + 1) / nchunks, 0);
  }
  if (E > 1) pool_release();
  if (kind == CONV_BWD_WEIGHT) {
    const int64_t len = o * K;
    float *gw = cc->gw;
    memcpy(gw, cc->partials, (size_t)len * sizeof(float));
    for (int64_t t = 1; t < nchunks; t++) {
      const float *pp = cc->partials + t * len;
      for (int64_t i = 0; i < len; i++) gw[i] += pp[i];
    }
  }
  return NULL;
}

static const char *CONV_GEOM = "n, c, h, w, o, kh, kw, sh, sw, ph, pw, oh, ow";

/* conv2dForward(x, w, bias, y, n, c, h, w, o, kh, kw, sh, sw, ph, pw, oh, ow): y = conv(x, w) + bias. */
napi_value Conv2dForward(napi_env env, napi_callback_info info) {
  Call c;
  ConvGeom g;
  ConvCtx cc = {0};
  char sig[120];
  snprintf(sig, sizeof sig, "(x, w, bias, y, %s)", CONV_GEOM);
  if (!call_init(&c, env, info, "conv2dForward", 17, sig)) return NULL;
  if (!read_conv_geom(&c, 4, &g)) return NULL;
  const int64_t K = g.c * g.kh * g.kw, P = g.oh * g.ow;
  if (!arg_f32(&c, 0, "x", g.n * g.c * g.h * g.w, (float **)&cc.x, NULL) ||
      !arg_f32(&c, 1, "w", g.o * K, (float **)&cc.w, NULL) ||
      !arg_f32_opt(&c, 2, "bias", g.o, (float **)&cc.bias) ||
      !arg_f32(&c, 3, "y", g.n * g.o * P, &cc.y, NULL))
    return NULL;
  cc.g = &g;
  if (g.n == 0 || g.o == 0 || P == 0) return NULL;
  if (K == 0) {
    for (int64_t s = 0; s < g.n; s++)
      for (int64_t r = 0; r < g.o; r++) {
        float v = cc.bias ? cc.bias[r] : 0.0f;
        float *q = cc.y + (s * g.o + r) * P;
        for (int64_t j = 0; j < P; j++) q[j] = v;
      }
    return NULL;
  }
  return conv_run(&c, CONV_FWD, &cc);
}

/* conv_run with the eval BN folded into one scale and shift per output channel (cc->bnA, bnB),
 * for the passes that apply it to each block of the output. */
static napi_value conv_run_bn(Call *c, int kind, ConvCtx *cc, const float *gamma, const float *beta,
                              const float *runMean, const float *runVar, double eps) {
  const int64_t o = cc->g->o;
  double *ab = (double *)malloc((size_t)(2 * o) * sizeof(double));
  if (!ab) {
    throw_range(c->env, "conv: out of memory for the folded batch norm");
    return NULL;
  }
  bn_eval_fold(gamma, beta, runMean, runVar, eps, o, ab, ab + o);
  cc->bnA = ab;
  cc->bnB = ab + o;
  napi_value r = conv_run(c, kind, cc);
  free(ab);
  return r;
}

/* conv2dBnReluMean(x, w, gamma, beta, runMean, runVar, eps, y, geom...): y [n, o] = the mean over
 * oh * ow of relu(eval BN(conv(x, w))), no bias: conv2dForward then fused.c's bnReluMean, bit for
 * bit, without writing the convolution's output (each GEMM block is reduced while in cache). */
napi_value Conv2dBnReluMean(napi_env env, napi_callback_info info) {
  Call c;
  ConvGeom g;
  ConvCtx cc = {0};
  char sig[160];
  double eps;
  const float *gamma = NULL, *beta = NULL, *runMean = NULL, *runVar = NULL;
  snprintf(sig, sizeof sig, "(x, w, gamma, beta, runMean, runVar, eps, y, %s)", CONV_GEOM);
  if (!call_init(&c, env, info, "conv2dBnReluMean", 21, sig)) return NULL;
  if (!read_conv_geom(&c, 8, &g)) return NULL;
  const int64_t K = g.c * g.kh * g.kw, P = g.oh * g.ow;
  if (!arg_f32(&c, 0, "x", g.n * g.c * g.h * g.w, (float **)&cc.x, NULL) ||
      !arg_f32(&c, 1, "w", g.o * K, (float **)&cc.w, NULL) ||
      !arg_f32_opt(&c, 2, "gamma", g.o, (float **)&gamma) || !arg_f32_opt(&c, 3, "beta", g.o, (float **)&beta) ||
      !arg_f32(&c, 4, "runMean", g.o, (float **)&runMean, NULL) ||
      !arg_f32(&c, 5, "runVar", g.o, (float **)&runVar, NULL) || !arg_num(&c, 6, "eps", &eps) ||
      !arg_f32(&c, 7, "y", g.n * g.o, &cc.y, NULL))
    return NULL;
  cc.g = &g;
  if (g.n == 0 || g.o == 0) return NULL;
  if (P == 0 || K == 0) {
    throw_range(env, "conv2dBnReluMean: the convolution has no output positions or no inputs");
    return NULL;
  }
  return conv_run_bn(&c, CONV_FWD_MEANS, &cc, gamma, beta, runMean, runVar, eps);
}

/* conv2dBnAct(x, w, bias, gamma, beta, runMean, runVar, eps, act, alpha, y, geom...): y = act(eval
 * BN(conv(x, w) + bias)), act 0 none, 1 elu(alpha), 2 relu: conv2dForward, bnEvalForward and the
 * unary activation bit for bit, each block of the output normalised and activated while in cache. */
napi_value Conv2dBnAct(napi_env env, napi_callback_info info) {
  Call c;
  ConvGeom g;
  ConvCtx cc = {0};
  char sig[200];
  double eps, alpha;
  int64_t act;
  const float *gamma = NULL, *beta = NULL, *runMean = NULL, *runVar = NULL;
  snprintf(sig, sizeof sig, "(x, w, bias, gamma, beta, runMean, runVar, eps, act, alpha, y, %s)", CONV_GEOM);
  if (!call_init(&c, env, info, "conv2dBnAct", 24, sig)) return NULL;
  if (!read_conv_geom(&c, 11, &g)) return NULL;
  const int64_t K = g.c * g.kh * g.kw, P = g.oh * g.ow;
  if (!arg_f32(&c, 0, "x", g.n * g.c * g.h * g.w, (float **)&cc.x, NULL) ||
      !arg_f32(&c, 1, "w", g.o * K, (float **)&cc.w, NULL) || !arg_f32_opt(&c, 2, "bias", g.o, (float **)&cc.bias) ||
      !arg_f32_opt(&c, 3, "gamma", g.o, (float **)&gamma) || !arg_f32_opt(&c, 4, "beta", g.o, (float **)&beta) ||
      !arg_f32(&c, 5, "runMean", g.o, (float **)&runMean, NULL) ||
      !arg_f32(&c, 6, "runVar", g.o, (float **)&runVar, NULL) || !arg_num(&c, 7, "eps", &eps) ||
      !arg_int(&c, 8, "act", 0, &act) || !arg_num(&c, 9, "alpha", &alpha) ||
      !arg_f32(&c, 10, "y", g.n * g.o * P, &cc.y, NULL))
    return NULL;
  if (act > ACT_RELU) {
    throw_range(env, "conv2dBnAct: act must be 0 (none), 1 (elu) or 2 (relu)");
    return NULL;
  }
  cc.g = &g;
  if (g.n == 0 || g.o == 0 || P == 0) return NULL;
  if (K == 0) {
    throw_range(env, "conv2dBnAct: the convolution has no inputs (c * kh * kw = 0)");
    return NULL;
  }
  cc.act = (int)act;
  cc.alpha = (float)alpha;
  return conv_run_bn(&c, CONV_FWD, &cc, gamma, beta, runMean, runVar, eps);
}

/* conv2dBackwardData(gy, w, gx, geom...): gx = dL/dx of y = conv(x, w) (the transposed conv). */
napi_value Conv2dBackwardData(napi_env env, napi_callback_info info) {
  Call c;
  ConvGeom g;
  ConvCtx cc = {0};
  char sig[120];
  snprintf(sig, sizeof sig, "(gy, w, gx, %s)", CONV_GEOM);
  if (!call_init(&c, env, info, "conv2dBackwardData", 16, sig)) return NULL;
  if (!read_conv_geom(&c, 3, &g)) return NULL;
  const int64_t K = g.c * g.kh * g.kw, P = g.oh * g.ow, X = g.n * g.c * g.h * g.w;
  if (!arg_f32(&c, 0, "gy", g.n * g.o * P, (float **)&cc.gy, NULL) ||
      !arg_f32(&c, 1, "w", g.o * K, (float **)&cc.w, NULL) || !arg_f32(&c, 2, "gx", X, &cc.gx, NULL))
    return NULL;
  cc.g = &g;
  if (X == 0) return NULL;
  if (g.o == 0 || P == 0 || K == 0) {
    memset(cc.gx, 0, (size_t)X * sizeof(float));
    return NULL;
  }
  return conv_run(&c, CONV_BWD_DATA, &cc);
}

/* conv2dBackwardWeight(gy, x, gw, geom...): gw = dL/dw of y = conv(x, w). */
napi_value Conv2dBackwardWeight(napi_env env, napi_callback_info info) {
  Call c;
  ConvGeom g;
  ConvCtx cc = {0};
  char sig[120];
  snprintf(sig, sizeof sig, "(gy, x, gw, %s)", CONV_GEOM);
  if (!call_init(&c, env, info, "conv2dBackwardWeight", 16, sig)) return NULL;
  if (!read_conv_geom(&c, 3, &g)) return NULL;
  const int64_t K = g.c * g.kh * g.kw, P = g.oh * g.ow;
  if (!arg_f32(&c, 0, "gy", g.n * g.o * P, (float **)&cc.gy, NULL) ||
      !arg_f32(&c, 1, "x", g.n * g.c * g.h * g.w, (float **)&cc.x, NULL) ||
      !arg_f32(&c, 2, "gw", g.o * K, &cc.gw, NULL))
    return NULL;
  cc.g = &g;
  if (g.o * K == 0) return NULL;
  if (g.n == 0 || P == 0) {
    memset(cc.gw, 0, (size_t)(g.o * K) * sizeof(float));
    return NULL;
  }
  return conv_run(&c, CONV_BWD_WEIGHT, &cc);
}
