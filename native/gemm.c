/*
 * gemm.c: a thin N-API wrapper around OpenBLAS.
 *
 *   sgemm(transA, transB, m, n, k, alpha, a, aOff, lda, b, bOff, ldb, beta, c, cOff, ldc)
 *     Row-major C[m x n] = alpha * op(A)[m x k] * op(B)[k x n] + beta * C on Float32Arrays,
 *     the contract of `Gemm` in src/backend/kernels.ts. Offsets and leading dimensions are
 *     in elements. Every argument is checked before OpenBLAS sees it: a wrong type throws a
 *     TypeError, a size, offset or leading dimension that would reach outside an array throws
 *     a RangeError. OpenBLAS itself never gets an argument it could reject (its xerbla would
 *     only print and return) or a pointer it could run off the end of. With k = 0 or alpha = 0,
 *     C = beta * C without reading A or B, as in reference BLAS.
 *   numThreads() -> number, setNumThreads(n), config() -> string, coreName() -> string.
 */
#include <cblas.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdbool.h>
#include <node_api.h>

#include "args.h"
#include "kernels.h"

/* Largest value a blasint (int, or int64 in an ILP64 build) holds, as a double. */
#define BLASINT_MAX_D ((sizeof(blasint) == 8) ? 9007199254740991.0 : (double)INT_MAX)

static const char *SGEMM_SIG =
    "sgemm(transA, transB, m, n, k, alpha, a, aOff, lda, b, bOff, ldb, beta, c, cOff, ldc)";

/*
 * Checks that a row-major matrix of `rows` x `cols` stored at `off` with leading dimension `ld`
 * lies inside an array of `len` elements: ld >= max(1, cols) (what BLAS requires) and, when the
 * matrix is not empty, off + (rows - 1) * ld + cols <= len. All values are < 2^53 and the
 * product is formed in double, so nothing overflows.
 */
static bool check_extent(napi_env env, const char *mat, const char *shape, int64_t rows,
                         int64_t cols, int64_t off, int64_t ld, const char *ldname, int64_t len) {
  char msg[320];
  int64_t minld = cols > 1 ? cols : 1;
  if (ld < minld) {
    snprintf(msg, sizeof msg,
             "sgemm: %s = %lld is smaller than the row length of %s, which is stored as %s = "
             "[%lld x %lld]; expected %s >= %lld",
             ldname, (long long)ld, mat, shape, (long long)rows, (long long)cols, ldname,
             (long long)minld);
    throw_range(env, msg);
    return false;
  }
  double end = (rows > 0 && cols > 0) ? (double)off + (double)(rows - 1) * (double)ld + (double)cols
                                      : (double)off;
  if (end > (double)len) {
    snprintf(msg, sizeof msg,
             "sgemm: %s stored as %s = [%lld x %lld] at offset %lld with leading dimension %lld "
             "needs %.0f elements, but the Float32Array has %lld",
             mat, shape, (long long)rows, (long long)cols, (long long)off, (long long)ld, end,
             (long long)len);
    throw_range(env, msg);
    return false;
  }
  return true;
}

napi_value Sgemm(napi_env env, napi_callback_info info) {
  Call call;
  bool ta, tb;
  int64_t m, n, k, aOff, lda, bOff, ldb, cOff, ldc, aLen, bLen, cLen;
  double alpha, beta;
  float *a, *b, *c;
  if (!call_init(&call, env, info, "sgemm", 16, SGEMM_SIG)) return NULL;
  /* sizes, offsets and leading dimensions may use all of a blasint */
  const double hi = BLASINT_MAX_D;
  if (!arg_bool(&call, 0, "transA", &ta)) return NULL;
  if (!arg_bool(&call, 1, "transB", &tb)) return NULL;
  if (!arg_int_in(&call, 2, "m", 0, hi, &m)) return NULL;
  if (!arg_int_in(&call, 3, "n", 0, hi, &n)) return NULL;
  if (!arg_int_in(&call, 4, "k", 0, hi, &k)) return NULL;
  if (!arg_num(&call, 5, "alpha", &alpha)) return NULL;
  if (!arg_f32(&call, 6, "a", 0, &a, &aLen)) return NULL;
  if (!arg_int_in(&call, 7, "aOff", 0, hi, &aOff)) return NULL;
  if (!arg_int_in(&call, 8, "lda", 1, hi, &lda)) return NULL;
  if (!arg_f32(&call, 9, "b", 0, &b, &bLen)) return NULL;
  if (!arg_int_in(&call, 10, "bOff", 0, hi, &bOff)) return NULL;
  if (!arg_int_in(&call, 11, "ldb", 1, hi, &ldb)) return NULL;
  if (!arg_num(&call, 12, "beta", &beta)) return NULL;
  if (!arg_f32(&call, 13, "c", 0, &c, &cLen)) return NULL;
  if (!arg_int_in(&call, 14, "cOff", 0, hi, &cOff)) return NULL;
  if (!arg_int_in(&call, 15, "ldc", 1, hi, &ldc)) return NULL;

  /* op(A) is m x k: A itself is [m x k], or [k x m] when transposed; likewise B and [k x n]. */
  if (!check_extent(env, "A", ta ? "[k x m]" : "[m x k]", ta ? k : m, ta ? m : k, aOff, lda, "lda",
                    aLen))
    return NULL;
  if (!check_extent(env, "B", tb ? "[n x k]" : "[k x n]", tb ? n : k, tb ? k : n, bOff, ldb, "ldb",
                    bLen))
    return NULL;
  if (!check_extent(env, "C", "[m x n]", m, n, cOff, ldc, "ldc", cLen)) return NULL;

  if (m == 0 || n == 0) return NULL; /* nothing to write */
  if (k == 0 || (float)alpha == 0.0f) {
    /* Reference-BLAS semantics, which OpenBLAS 0.3.21 does not keep for alpha = 0 (it still forms
     * 0 * A * B, so a NaN or Inf in A or B leaks into C): C = beta * C, zeros when beta = 0. */
    float fb = (float)beta;
    for (int64_t i = 0; i < m; i++) {
      float *row = c + cOff + i * ldc;
      if (fb == 0.0f)
        for (int64_t j = 0; j < n; j++) row[j] = 0.0f;
      else if (fb != 1.0f)
        for (int64_t j = 0; j < n; j++) row[j] *= fb;
    }
    return NULL;
  }
  cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans,
              (blasint)m, (blasint)n, (blasint)k, (float)alpha, a + aOff, (blasint)lda, b + bOff,
              (blasint)ldb, (float)beta, c + cOff, (blasint)ldc);
  return NULL;
}

napi_value NumThreads(napi_env env, napi_callback_info info) {
  (void)info;
  napi_value out;
  NAPI_CALL(env, napi_create_int32(env, openblas_get_num_threads(), &out));
  return out;
}

napi_value SetNumThreads(napi_env env, napi_callback_info info) {
  Call c;
  int64_t t;
  /* extra arguments are ignored here (the one entry point that allows them) */
  if (!call_get(&c, env, info, "setNumThreads")) return NULL;
  if (c.argc < 1) {
    throw_type(env, "setNumThreads: expected 1 argument (n), got 0");
    return NULL;
  }
  if (!arg_int_in(&c, 0, "n", 1, BLASINT_MAX_D, &t)) return NULL;
  if (t > 4096) {
    throw_range(env, "setNumThreads: n must be at most 4096");
    return NULL;
  }
  openblas_set_num_threads((int)t);
  return NULL;
}

static napi_value make_string(napi_env env, const char *s) {
  napi_value out;
  if (napi_create_string_utf8(env, s ? s : "", NAPI_AUTO_LENGTH, &out) != napi_ok) return NULL;
  return out;
}

napi_value Config(napi_env env, napi_callback_info info) {
  (void)info;
  return make_string(env, openblas_get_config());
}

napi_value CoreName(napi_env env, napi_callback_info info) {
  (void)info;
  return make_string(env, openblas_get_corename());
}
