/*
 * elementwise.c: the elementwise kernels of the blas backend, as src/backend/cpu/elementwise.ts:
 * unary activations and their backward (identity, neg, affine, relu, leaky relu, elu, silu),
 * axpy, broadcast binary ops (add, sub, mul, div) over a coalesced layout, and sumTo (the
 * reduction that undoes a broadcast). Elements (or outer rows) are the pool's chunks.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "args.h"
#include "fastmath.h"
#include "kernels.h"
#include "threadpool.h"
#include "scratch.h"

/* ---------------------------------------------------------------- unary */

enum {
  OP_IDENTITY = 0,
  OP_NEG = 1,
  OP_AFFINE = 2,
  OP_RELU = 3,
  OP_LEAKY_RELU = 4,
  OP_ELU = 5,
  OP_SILU = 6,
  OP_COUNT = 7
};

typedef struct {
  int op;
  const float *x, *y, *gy;
  float *out;
  double alpha, beta;
} UnaryCtx;

HOT static void unary_fwd_range(void *vc, int64_t lo, int64_t hi, int tid) {
  (void)tid;
  UnaryCtx *c = (UnaryCtx *)vc;
  const float *x = c->x + lo;
  float *y = c->out + lo;
  const int64_t n = hi - lo;
  switch (c->op) {
    case OP_IDENTITY:
      if (x != y) memmove(y, x, (size_t)n * sizeof(float));
      break;
    case OP_NEG:
      for (int64_t i = 0; i < n; i++) y[i] = -x[i];
      break;
    case OP_AFFINE: {
      const double a = c->alpha, b = c->beta;
      for (int64_t i = 0; i < n; i++) y[i] = (float)(a * (double)x[i] + b);
      break;
    }
    case OP_RELU:
      for (int64_t i = 0; i < n; i++) {
        float v = x[i];
        y[i] = v > 0.0f ? v : 0.0f;
      }
      break;
    case OP_LEAKY_RELU: {
      const double a = c->alpha;
      for (int64_t i = 0; i < n; i++) {
        float v = x[i];
        y[i] = v > 0.0f ? v : (float)(a * (double)v);
      }
      break;
    }
    case OP_ELU: {
      const float a = (float)c->alpha;
      for (int64_t i = 0; i < n; i++) {
        float v = x[i];
        float e = a * (fexp(v) - 1.0f);
        y[i] = v > 0.0f ? v : e;
      }
      break;
    }
    case OP_SILU:
      for (int64_t i = 0; i < n; i++) {
        float v = x[i];
        y[i] = v / (1.0f + fexp(-v));
      }
      break;
    default:
      break;
  }
}

HOT static void unary_bwd_range(void *vc, int64_t lo, int64_t hi, int tid) {
  (void)tid;
  UnaryCtx *c = (UnaryCtx *)vc;
  const float *x = c->x + lo, *gy = c->gy + lo;
  float *gx = c->out + lo;
  const int64_t n = hi - lo;
  switch (c->op) {
    case OP_IDENTITY:
      if (gy != gx) memmove(gx, gy, (size_t)n * sizeof(float));
      break;
    case OP_NEG:
      for (int64_t i = 0; i < n; i++) gx[i] = -gy[i];
      break;
    case OP_AFFINE: {
      const double a = c->alpha;
      for (int64_t i = 0; i < n; i++) gx[i] = (float)(a * (double)gy[i]);
      break;
    }
    case OP_RELU:
      for (int64_t i = 0; i < n; i++) gx[i] = x[i] > 0.0f ? gy[i] : 0.0f;
      break;
    case OP_LEAKY_RELU: {
      const double a = c->alpha;
      for (int64_t i = 0; i < n; i++) {
        float g = gy[i];
        gx[i] = x[i] > 0.0f ? g : (float)(a * (double)g);
      }
      break;
    }
    case OP_ELU: {
      /* d/dx alpha (e^x - 1) = alpha e^x = y + alpha */
      const float *y = c->y + lo;
      const float a = (float)c->alpha;
      for (int64_t i = 0; i < n; i++) {
        float g = gy[i];
        float e = g * (y[i] + a);
        gx[i] = x[i] > 0.0f ? g : e;
      }
      break;
    }
    case OP_SILU:
      for (int64_t i = 0; i < n; i++) {
        float v = x[i];
        float s = 1.0f / (1.0f + fexp(-v));
        gx[i] = gy[i] * s * (1.0f + v * (1.0f - s));
      }
      break;
    default:
      break;
  }
}

static const char *UNARY_SIG = "(op, x, y, alpha, beta)";

static bool read_op(Call *c, size_t i, int *op) {
  int64_t v;
  if (!arg_int(c, i, "op", 0, &v)) return false;
  if (v >= OP_COUNT) {
    char msg[200];
    snprintf(msg, sizeof msg, "%s: op must be an op code in [0, %d), got %lld", c->fn, OP_COUNT,
             (long long)v);
    throw_range(c->env, msg);
    return false;
  }
  *op = (int)v;
  return true;
}

/* unary(op, x, y, alpha, beta): y[i] = op(x[i]) for i < x.length; y may be x. */
napi_value Unary(napi_env env, napi_callback_info info) {
  Call c;
  UnaryCtx u = {0};
  float *x, *y;
  int64_t n;
  if (!call_init(&c, env, info, "unary", 5, UNARY_SIG)) return NULL;
  if (!read_op(&c, 0, &u.op)) return NULL;
  if (!arg_f32(&c, 1, "x", 0, &x, &n)) return NULL;
  if (!arg_f32(&c, 2, "y", n, &y, NULL)) return NULL;
  if (!arg_num(&c, 3, "alpha", &u.alpha) || !arg_num(&c, 4, "beta", &u.beta)) return NULL;
  u.x = x;
  u.out = y;
  pool_run(unary_fwd_range, &u, n, chunks_for(n), 16);
  return NULL;
}

/* unaryBackward(op, x, y, gy, gx, alpha): gx = gy * op'(x) (y = the forward output, read by elu). */
napi_value UnaryBackward(napi_env env, napi_callback_info info) {
  Call c;
  UnaryCtx u = {0};
  float *x, *y, *gy, *gx;
  int64_t n;
  if (!call_init(&c, env, info, "unaryBackward", 6, "(op, x, y, gy, gx, alpha)")) return NULL;
  if (!read_op(&c, 0, &u.op)) return NULL;
  if (!arg_f32(&c, 1, "x", 0, &x, &n)) return NULL;
  if (!arg_f32(&c, 2, "y", u.op == OP_ELU ? n : 0, &y, NULL)) return NULL;
  if (!arg_f32(&c, 3, "gy", n, &gy, NULL)) return NULL;
  if (!arg_f32(&c, 4, "gx", n, &gx, NULL)) return NULL;
  if (!arg_num(&c, 5, "alpha", &u.alpha)) return NULL;
  u.x = x;
  u.y = y;
  u.gy = gy;
  u.out = gx;
  pool_run(unary_bwd_range, &u, n, chunks_for(n), 16);
  return NULL;
}

/* ---------------------------------------------------------------- axpy */

typedef struct {
  const float *x;
  float *y;
  double alpha;
} AxpyCtx;

HOT static void axpy_range(void *vc, int64_t lo, int64_t hi, int tid) {
  (void)tid;
  AxpyCtx *c = (AxpyCtx *)vc;
  const float *x = c->x;
  float *y = c->y;
  if (c->alpha == 1.0) {
    for (int64_t i = lo; i < hi; i++) y[i] = y[i] + x[i];
  } else {
    const double a = c->alpha;
    for (int64_t i = lo; i < hi; i++) y[i] = (float)((double)y[i] + a * (double)x[i]);
  }
}

/* axpy(alpha, x, y): y[i] += alpha * x[i] for i < y.length. */
napi_value Axpy(napi_env env, napi_callback_info info) {
  Call c;
  AxpyCtx a;
  float *x, *y;
  int64_t n;
  if (!call_init(&c, env, info, "axpy", 3, "(alpha, x, y)")) return NULL;
  if (!arg_num(&c, 0, "alpha", &a.alpha)) return NULL;
  if (!arg_f32(&c, 2, "y", 0, &y, &n)) return NULL;
  if (!arg_f32(&c, 1, "x", n, &x, NULL)) return NULL;
  a.x = x;
  a.y = y;
  pool_run(axpy_range, &a, n, chunks_for(n), 16);
  return NULL;
}

/* ---------------------------------------------------------------- binary, sumTo
 *
 * Broadcasting is described by a coalesced layout (see coalesce() in elementwise.ts), passed as an
 * Int32Array: binary: [r, shape[0..r), strideA[0..r), strideB[0..r)] with y dense over shape;
 * sumTo: [r, shape[0..r), strideY[0..r)] with x dense over shape. Stride 0 = broadcast axis.
 */
#define MAX_RANK 16

enum { BIN_ADD = 0, BIN_SUB = 1, BIN_MUL = 2, BIN_DIV = 3, BIN_COUNT = 4 };

typedef struct {
  int op, r;
  const float *a, *b;
  float *y;
  int64_t shape[MAX_RANK], sa[MAX_RANK], sb[MAX_RANK];
  int64_t inner;
} BinCtx;

#define BIN_LOOP(EXPR)                                                                   \
  do {                                                                                   \
    if (sa == 1 && sb == 1) {                                                            \
      for (int64_t j = 0; j < n; j++) { const float u = a[j], v = b[j]; y[j] = (EXPR); } \
    } else if (sa == 1 && sb == 0) {                                                     \
      const float v = b[0];                                                              \
      for (int64_t j = 0; j < n; j++) { const float u = a[j]; y[j] = (EXPR); }           \
    } else if (sa == 0 && sb == 1) {                                                     \
      const float u = a[0];                                                              \
      for (int64_t j = 0; j < n; j++) { const float v = b[j]; y[j] = (EXPR); }           \
    } else {                                                                             \
      for (int64_t j = 0; j < n; j++) { const float u = a[j * sa], v = b[j * sb]; y[j] = (EXPR); } \
    }                                                                                    \
  } while (0)

/* One run of the inner axis. Float arithmetic is what the TS kernel gets: a double result of
 * +, -, *, / on two floats rounds to the correctly rounded float result. */
HOT static void bin_run(int op, const float *a, int64_t sa, const float *b, int64_t sb, float *y, int64_t n) {
  switch (op) {
    case BIN_ADD: BIN_LOOP(u + v); break;
    case BIN_SUB: BIN_LOOP(u - v); break;
    case BIN_MUL: BIN_LOOP(u * v); break;
    default: BIN_LOOP(u / v); break;
  }
}

static void bin_range(void *vc, int64_t lo, int64_t hi, int eid) {
  (void)eid;
  BinCtx *c = (BinCtx *)vc;
  const int r = c->r;
  const int64_t inner = c->inner;
  for (int64_t o = lo; o < hi; o++) {
    /* offsets of outer row o (mixed radix over the outer axes) */
    int64_t rem = o, offA = 0, offB = 0;
    for (int d = r - 2; d >= 0; d--) {
      const int64_t i = rem % c->shape[d];
      rem /= c->shape[d];
      offA += i * c->sa[d];
      offB += i * c->sb[d];
    }
    bin_run(c->op, c->a + offA, c->sa[r - 1], c->b + offB, c->sb[r - 1], c->y + o * inner, inner);
  }
}

/* Reads a layout [r, shape[r], k stride vectors of r]; checks shape >= 1, strides >= 0. */
static bool read_layout(Call *c, size_t i, int k, int *r, int64_t *shape, int64_t *st[], int64_t *count) {
  int32_t *d = NULL;
  char msg[200];
  bool is_i32;
  size_t length = 0;
  if (!arg_peek_i32(c, i, &is_i32, &d, &length)) return false;
  if (!is_i32 || length < 1) {
    snprintf(msg, sizeof msg, "%s: layout must be a non-empty Int32Array", c->fn);
    throw_type(c->env, msg);
    return false;
  }
  const int rr = d[0];
  if (rr < 1 || rr > MAX_RANK || length != (size_t)(1 + (k + 1) * rr)) {
    snprintf(msg, sizeof msg, "%s: layout must be [r, shape[r], %d stride vectors of r] with 1 <= r <= %d",
             c->fn, k, MAX_RANK);
    throw_range(c->env, msg);
    return false;
  }
  double cnt = 1;
  for (int a = 0; a < rr; a++) {
    shape[a] = d[1 + a];
    if (shape[a] < 1) {
      snprintf(msg, sizeof msg, "%s: layout shape entries must be >= 1", c->fn);
      throw_range(c->env, msg);
      return false;
    }
    cnt *= (double)shape[a];
    for (int v = 0; v < k; v++) {
      st[v][a] = d[1 + (v + 1) * rr + a];
      if (st[v][a] < 0) {
        snprintf(msg, sizeof msg, "%s: layout strides must be >= 0", c->fn);
        throw_range(c->env, msg);
        return false;
      }
    }
  }
  if (!check_size(c, "the layout's element count", cnt)) return false;
  *r = rr;
  *count = (int64_t)cnt;
  return true;
}

/* Elements an array read with these strides must have: 1 + sum (shape - 1) * stride. */
static int64_t span_of(int r, const int64_t *shape, const int64_t *st) {
  int64_t e = 1;
  for (int a = 0; a < r; a++) e += (shape[a] - 1) * st[a];
  return e;
}

/* binary(op, a, b, y, layout): y = a (op) b; op 0 add, 1 sub, 2 mul, 3 div. y may alias a or b
 * when that operand is dense (stride pattern of y). */
napi_value Binary(napi_env env, napi_callback_info info) {
  Call c;
  BinCtx b;
  int64_t count, op;
  int64_t *st[2] = {b.sa, b.sb};
  if (!call_init(&c, env, info, "binary", 5, "(op, a, b, y, layout)")) return NULL;
  if (!arg_int(&c, 0, "op", 0, &op)) return NULL;
  if (op >= BIN_COUNT) {
    throw_range(env, "binary: op must be 0 (add), 1 (sub), 2 (mul) or 3 (div)");
    return NULL;
  }
  b.op = (int)op;
  if (!read_layout(&c, 4, 2, &b.r, b.shape, st, &count)) return NULL;
  if (!arg_f32(&c, 1, "a", span_of(b.r, b.shape, b.sa), (float **)&b.a, NULL) ||
      !arg_f32(&c, 2, "b", span_of(b.r, b.shape, b.sb), (float **)&b.b, NULL) ||
      !arg_f32(&c, 3, "y", count, &b.y, NULL))
    return NULL;
  b.inner = b.shape[b.r - 1];
  const int64_t outer = count / b.inner;
  int64_t nch = chunks_for(count);
  if (nch > outer) nch = outer;
  pool_run(bin_range, &b, outer, nch, 1);
  return NULL;
}

/* sumTo(x, y, layout): y = sums of x over the axes where y's stride is 0 (y fully overwritten),
 * accumulated in double. */
napi_value SumTo(napi_env env, napi_callback_info info) {
  Call c;
  int r;
  int64_t shape[MAX_RANK], sy[MAX_RANK], count, ylen;
  int64_t *st[1] = {sy};
  float *x, *y;
  if (!call_init(&c, env, info, "sumTo", 3, "(x, y, layout)")) return NULL;
  if (!read_layout(&c, 2, 1, &r, shape, st, &count)) return NULL;
  if (!arg_f32(&c, 0, "x", count, &x, NULL) || !arg_f32(&c, 1, "y", span_of(r, shape, sy), &y, &ylen))
    return NULL;
  const int64_t inner = shape[r - 1], outer = count / inner, iy = sy[r - 1];
  double *acc = (double *)scratch_get(env, (size_t)(2 * ylen + 2));
  if (!acc) return NULL;
  memset(acc, 0, (size_t)ylen * sizeof(double));
  int64_t idx[MAX_RANK] = {0};
  int64_t offY = 0;
  for (int64_t o = 0; o < outer; o++) {
    const float *xr = x + o * inner;
    if (iy == 0) {
      double s = 0;
#pragma omp simd reduction(+ : s)
      for (int64_t j = 0; j < inner; j++) s += (double)xr[j];
      acc[offY] += s;
    } else if (iy == 1) {
      double *ar = acc + offY;
      for (int64_t j = 0; j < inner; j++) ar[j] += (double)xr[j];
    } else {
      for (int64_t j = 0; j < inner; j++) acc[offY + j * iy] += (double)xr[j];
    }
    for (int d = r - 2; d >= 0; d--) {
      idx[d]++;
      offY += sy[d];
      if (idx[d] < shape[d]) break;
      offY -= sy[d] * shape[d];
      idx[d] = 0;
    }
  }
  for (int64_t i = 0; i < ylen; i++) y[i] = (float)acc[i];
  return NULL;
}
