/*
 * pdiff_blas: a thin N-API wrapper around OpenBLAS.
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
 *
 * Plain C against node_api.h (no node-addon-api), so it builds with nothing but node-gyp,
 * the Node headers and libopenblas-dev.
 */
#include <cblas.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdbool.h>
#include <node_api.h>

/* Largest value a blasint (int, or int64 in an ILP64 build) holds, as a double. */
#define BLASINT_MAX_D ((sizeof(blasint) == 8) ? 9007199254740991.0 : (double)INT_MAX)

/* Runs an N-API call; on failure throws (unless something is already pending) and returns NULL. */
#define NAPI_CALL(env, call)                                                       \
  do {                                                                             \
    if ((call) != napi_ok) {                                                       \
      bool pending_ = false;                                                       \
      napi_is_exception_pending((env), &pending_);                                 \
      if (!pending_) napi_throw_error((env), NULL, "pdiff_blas: N-API call failed: " #call); \
      return NULL;                                                                 \
    }                                                                              \
  } while (0)

static const char *SGEMM_SIG =
    "sgemm(transA, transB, m, n, k, alpha, a, aOff, lda, b, bOff, ldb, beta, c, cOff, ldc)";

static const char *typedarray_name(napi_typedarray_type t) {
  switch (t) {
    case napi_int8_array: return "Int8Array";
    case napi_uint8_array: return "Uint8Array";
    case napi_uint8_clamped_array: return "Uint8ClampedArray";
    case napi_int16_array: return "Int16Array";
    case napi_uint16_array: return "Uint16Array";
    case napi_int32_array: return "Int32Array";
    case napi_uint32_array: return "Uint32Array";
    case napi_float32_array: return "Float32Array";
    case napi_float64_array: return "Float64Array";
    case napi_bigint64_array: return "BigInt64Array";
    case napi_biguint64_array: return "BigUint64Array";
    default: return "typed array";
  }
}

static const char *valuetype_name(napi_valuetype t) {
  switch (t) {
    case napi_undefined: return "undefined";
    case napi_null: return "null";
    case napi_boolean: return "boolean";
    case napi_number: return "number";
    case napi_string: return "string";
    case napi_symbol: return "symbol";
    case napi_object: return "object";
    case napi_function: return "function";
    case napi_external: return "external";
    case napi_bigint: return "bigint";
    default: return "unknown";
  }
}

static void throw_type(napi_env env, const char *msg) {
  napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", msg);
}

static void throw_range(napi_env env, const char *msg) {
  napi_throw_range_error(env, "ERR_OUT_OF_RANGE", msg);
}

/* Reads a JS boolean. Returns false after throwing. */
static bool get_bool(napi_env env, napi_value v, const char *fn, const char *name, bool *out) {
  napi_valuetype t;
  char msg[256];
  if (napi_typeof(env, v, &t) != napi_ok) return false;
  if (t != napi_boolean) {
    snprintf(msg, sizeof msg, "%s: %s must be a boolean, got %s", fn, name, valuetype_name(t));
    throw_type(env, msg);
    return false;
  }
  return napi_get_value_bool(env, v, out) == napi_ok;
}

/* Reads a JS number (any value, NaN included: BLAS semantics decide what it means). */
static bool get_number(napi_env env, napi_value v, const char *fn, const char *name, double *out) {
  napi_valuetype t;
  char msg[256];
  if (napi_typeof(env, v, &t) != napi_ok) return false;
  if (t != napi_number) {
    snprintf(msg, sizeof msg, "%s: %s must be a number, got %s", fn, name, valuetype_name(t));
    throw_type(env, msg);
    return false;
  }
  return napi_get_value_double(env, v, out) == napi_ok;
}

/* Reads an integer in [lo, BLASINT_MAX]. Returns false after throwing. */
static bool get_int(napi_env env, napi_value v, const char *fn, const char *name, double lo,
                    int64_t *out) {
  double d;
  char msg[256];
  if (!get_number(env, v, fn, name, &d)) return false;
  if (!(d >= lo && d <= BLASINT_MAX_D) || floor(d) != d) {
    snprintf(msg, sizeof msg, "%s: %s must be an integer in [%.0f, %.0f], got %.17g", fn, name, lo,
             BLASINT_MAX_D, d);
    throw_range(env, msg);
    return false;
  }
  *out = (int64_t)d;
  return true;
}

/* Reads a Float32Array: its data pointer (already past the view's byteOffset) and length. */
static bool get_f32(napi_env env, napi_value v, const char *fn, const char *name, float **data,
                    int64_t *len) {
  bool is_ta = false;
  char msg[256];
  if (napi_is_typedarray(env, v, &is_ta) != napi_ok) return false;
  if (!is_ta) {
    napi_valuetype t;
    if (napi_typeof(env, v, &t) != napi_ok) return false;
    snprintf(msg, sizeof msg, "%s: %s must be a Float32Array, got %s", fn, name, valuetype_name(t));
    throw_type(env, msg);
    return false;
  }
  napi_typedarray_type tt;
  size_t length = 0;
  void *ptr = NULL;
  if (napi_get_typedarray_info(env, v, &tt, &length, &ptr, NULL, NULL) != napi_ok) return false;
  if (tt != napi_float32_array) {
    snprintf(msg, sizeof msg, "%s: %s must be a Float32Array, got %s", fn, name,
             typedarray_name(tt));
    throw_type(env, msg);
    return false;
  }
  *data = (float *)ptr;
  *len = (int64_t)length;
  return true;
}

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

static napi_value Sgemm(napi_env env, napi_callback_info info) {
  size_t argc = 16;
  napi_value argv[16];
  char msg[256];
  NAPI_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc != 16) {
    snprintf(msg, sizeof msg, "sgemm: expected 16 arguments %s, got %zu", SGEMM_SIG, argc);
    throw_type(env, msg);
    return NULL;
  }
  const char *fn = "sgemm";
  bool ta, tb;
  int64_t m, n, k, aOff, lda, bOff, ldb, cOff, ldc, aLen, bLen, cLen;
  double alpha, beta;
  float *a, *b, *c;
  if (!get_bool(env, argv[0], fn, "transA", &ta)) return NULL;
  if (!get_bool(env, argv[1], fn, "transB", &tb)) return NULL;
  if (!get_int(env, argv[2], fn, "m", 0, &m)) return NULL;
  if (!get_int(env, argv[3], fn, "n", 0, &n)) return NULL;
  if (!get_int(env, argv[4], fn, "k", 0, &k)) return NULL;
  if (!get_number(env, argv[5], fn, "alpha", &alpha)) return NULL;
  if (!get_f32(env, argv[6], fn, "a", &a, &aLen)) return NULL;
  if (!get_int(env, argv[7], fn, "aOff", 0, &aOff)) return NULL;
  if (!get_int(env, argv[8], fn, "lda", 1, &lda)) return NULL;
  if (!get_f32(env, argv[9], fn, "b", &b, &bLen)) return NULL;
  if (!get_int(env, argv[10], fn, "bOff", 0, &bOff)) return NULL;
  if (!get_int(env, argv[11], fn, "ldb", 1, &ldb)) return NULL;
  if (!get_number(env, argv[12], fn, "beta", &beta)) return NULL;
  if (!get_f32(env, argv[13], fn, "c", &c, &cLen)) return NULL;
  if (!get_int(env, argv[14], fn, "cOff", 0, &cOff)) return NULL;
  if (!get_int(env, argv[15], fn, "ldc", 1, &ldc)) return NULL;

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

static napi_value NumThreads(napi_env env, napi_callback_info info) {
  (void)info;
  napi_value out;
  NAPI_CALL(env, napi_create_int32(env, openblas_get_num_threads(), &out));
  return out;
}

static napi_value SetNumThreads(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  int64_t t;
  NAPI_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 1) {
    throw_type(env, "setNumThreads: expected 1 argument (n), got 0");
    return NULL;
  }
  if (!get_int(env, argv[0], "setNumThreads", "n", 1, &t)) return NULL;
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

static napi_value Config(napi_env env, napi_callback_info info) {
  (void)info;
  return make_string(env, openblas_get_config());
}

static napi_value CoreName(napi_env env, napi_callback_info info) {
  (void)info;
  return make_string(env, openblas_get_corename());
}

NAPI_MODULE_INIT(/* napi_env env, napi_value exports */) {
  napi_property_descriptor props[] = {
      {"sgemm", NULL, Sgemm, NULL, NULL, NULL, napi_enumerable, NULL},
      {"numThreads", NULL, NumThreads, NULL, NULL, NULL, napi_enumerable, NULL},
      {"setNumThreads", NULL, SetNumThreads, NULL, NULL, NULL, napi_enumerable, NULL},
      {"config", NULL, Config, NULL, NULL, NULL, napi_enumerable, NULL},
      {"coreName", NULL, CoreName, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  if (napi_define_properties(env, exports, sizeof props / sizeof props[0], props) != napi_ok)
    return NULL;
  return exports;
}
