/*
 * pdiff_blas: a thin N-API wrapper around OpenBLAS, plus the C kernels of the blas backend
 * (second half of this file: activations, binary / sumTo, batch norm, max pooling, im2col
 * convolutions calling cblas_sgemm, AdamW, axpy).
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

/* ============================================================================================
 * C kernels for the blas backend (src/backend/blas.ts): the memory-bound layers of a training
 * step (activations, batch norm, max pooling, AdamW) and the convolutions (im2col / col2im in C
 * with cblas_sgemm called from C). Float32Array in and out; the semantics are those of the
 * TypeScript kernels in src/backend/cpu/{elementwise,norm,pool,conv,optim}.ts, to float32
 * rounding (statistics in double as there). Every argument is checked first, as for sgemm: a
 * wrong type throws a TypeError, a size that does not fit its array a RangeError; no kernel
 * reads or writes outside the arrays it is given, whatever the geometry.
 *
 * Threads: a kernel with enough work splits it into chunks (samples for the convolutions, which
 * then run OpenBLAS single-threaded per chunk; channels for batch norm; elements or planes for
 * the rest) that the calling thread and kernel_threads() - 1 pool workers claim one at a time
 * (see the pool below). The caller never waits for a worker that has not started: on a busy
 * machine it simply does the chunks itself.
 * ============================================================================================ */
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <time.h>

#if defined(__GNUC__) && !defined(__clang__) && __GNUC__ >= 11 && defined(__x86_64__) && \
    defined(__GLIBC__) && !defined(PDIFF_NO_CLONES)
/* The hot loops also get an x86-64-v3 (AVX2 + FMA) build, picked at load time (glibc ifunc). */
#define HOT __attribute__((target_clones("arch=x86-64-v3", "default")))
#else
#define HOT
#endif

#if defined(__x86_64__) || defined(__i386__)
#define CPU_RELAX() __builtin_ia32_pause()
#else
#define CPU_RELAX() ((void)0)
#endif

/* A memory-bound kernel splits into chunks of about this many elements (and stays on the
 * calling thread below twice that). */
#define CHUNK_ELEMS 32768
/* Below this many multiply-adds a convolution stays on the calling thread. */
#define PAR_MIN_MACS (1 << 21)
/* Scratch (floats) one convolution chunk aims at: im2col columns + gathered block. */
#define CONV_CHUNK_FLOATS (1 << 17)
/* How long an idle pool worker spins for the next job before it sleeps (ns). */
#define WORKER_SPIN_NS 20000 /* 20 us: about the gap between two kernels of a training step */
#define MAX_EXEC 64

/* ---------------------------------------------------------------- thread pool
 *
 * One job at a time: fn over [0, n) cut into nchunks ranges. The job word packs
 * generation (24 bits) | next chunk (20 bits) | chunk count (20 bits); an executor claims a
 * chunk by a CAS that bumps `next`, and only then reads the job descriptor (which cannot change
 * before that chunk is done, since the submitter waits for every claimed chunk). The submitter
 * claims chunks like any worker; when none is left it waits only for chunks workers claimed.
 */
typedef void (*range_fn)(void *ctx, int64_t lo, int64_t hi, int eid);

typedef struct {
  range_fn fn;
  void *ctx;
  int64_t n, nchunks, align;
} Job;

static struct {
  pthread_mutex_t submit; /* one job at a time (JS worker threads may share the addon) */
  pthread_mutex_t mu;     /* with cv: sleeping workers */
  pthread_cond_t cv;
  _Atomic uint64_t word;
  _Atomic int64_t done; /* chunks finished by workers in the current job */
  _Atomic int sleepers;
  _Atomic int target;   /* workers wanted (threads - 1) */
  int started;          /* workers created (never shrinks; eids 1..started) */
  Job job;
} P = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0, 0, -1, 0, {0}};

#define W_GEN(w) ((uint32_t)((w) >> 40))
#define W_NEXT(w) ((int64_t)(((w) >> 20) & 0xFFFFF))
#define W_N(w) ((int64_t)((w)&0xFFFFF))
#define MAX_CHUNKS 0xFFFFF

static int g_threads_set = 0;

static int kernel_threads(void) {
  int t = g_threads_set > 0 ? g_threads_set : openblas_get_num_threads();
  if (t < 1) t = 1;
  if (t > MAX_EXEC) t = MAX_EXEC;
  return t;
}

static int64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static inline void chunk_range(const Job *j, int64_t i, int64_t *lo, int64_t *hi) {
  int64_t a = j->n * i / j->nchunks, b = j->n * (i + 1) / j->nchunks;
  if (j->align > 1) {
    a = i == 0 ? 0 : a / j->align * j->align;
    b = i + 1 == j->nchunks ? j->n : b / j->align * j->align;
  }
  *lo = a;
  *hi = b;
}

/* Claims and runs chunks of the current job until none is left; returns the count run and the
 * generation last seen. */
static int64_t claim_and_run(int eid, uint32_t *gen) {
  int64_t ran = 0;
  for (;;) {
    uint64_t w = atomic_load_explicit(&P.word, memory_order_acquire);
    *gen = W_GEN(w);
    if (W_NEXT(w) >= W_N(w)) return ran;
    if (!atomic_compare_exchange_weak_explicit(&P.word, &w, w + ((uint64_t)1 << 20),
                                               memory_order_acq_rel, memory_order_relaxed))
      continue;
    const Job *j = &P.job;
    int64_t lo, hi;
    chunk_range(j, W_NEXT(w), &lo, &hi);
    if (hi > lo) j->fn(j->ctx, lo, hi, eid);
    ran++;
    if (eid != 0) atomic_fetch_add_explicit(&P.done, 1, memory_order_release);
  }
}

static void *worker_main(void *arg) {
  const int eid = (int)(intptr_t)arg;
  uint32_t seen = W_GEN(atomic_load(&P.word));
  for (;;) {
    /* wait for a new generation: spin a little, then sleep */
    int64_t t0 = 0;
    for (int k = 0;; k++) {
      uint32_t g = W_GEN(atomic_load_explicit(&P.word, memory_order_acquire));
      if (g != seen && eid <= atomic_load_explicit(&P.target, memory_order_relaxed)) break;
      CPU_RELAX();
      if ((k & 255) == 255) sched_yield(); /* let a thread this core is shared with run */
      if ((k & 63) == 63) {
        int64_t t = now_ns();
        if (t0 == 0) t0 = t;
        else if (t - t0 > WORKER_SPIN_NS) {
          pthread_mutex_lock(&P.mu);
          atomic_fetch_add(&P.sleepers, 1);
          while (W_GEN(atomic_load(&P.word)) == seen || eid > atomic_load(&P.target))
            pthread_cond_wait(&P.cv, &P.mu);
          atomic_fetch_sub(&P.sleepers, 1);
          pthread_mutex_unlock(&P.mu);
          t0 = 0;
        }
      }
    }
    claim_and_run(eid, &seen);
  }
  return NULL;
}

/* Starts workers up to kernel_threads() - 1 (called with P.submit held); returns the number of
 * executors whose scratch a job may touch (started workers + the caller). */
static int pool_prepare(void) {
  int want = kernel_threads() - 1;
  atomic_store(&P.target, want);
  while (P.started < want) {
    pthread_t th;
    pthread_attr_t at;
    pthread_attr_init(&at);
    pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
    int rc = pthread_create(&th, &at, worker_main, (void *)(intptr_t)(P.started + 1));
    pthread_attr_destroy(&at);
    if (rc != 0) break;
    P.started++;
  }
  return P.started + 1;
}

/* Takes the pool for one job: returns the executors whose scratch slots (eids 0 .. e-1) the job
 * may use, e >= 2, with the pool held; or 1 (pool not held) when the job must run on the calling
 * thread: one thread set, the pool busy with another JS thread's job, or no worker started. */
static int pool_acquire(void) {
  if (kernel_threads() <= 1) return 1;
  if (pthread_mutex_trylock(&P.submit) != 0) return 1;
  int e = pool_prepare();
  if (e <= 1) {
    pthread_mutex_unlock(&P.submit);
    return 1;
  }
  return e;
}

static void pool_release(void) { pthread_mutex_unlock(&P.submit); }

/* With the pool held: runs fn over [0, n) in nchunks chunks (range ends rounded to multiples of
 * align) on the caller (eid 0) and the workers, and returns when every chunk is done. */
static void pool_dispatch(range_fn fn, void *ctx, int64_t n, int64_t nchunks, int64_t align) {
  P.job.fn = fn;
  P.job.ctx = ctx;
  P.job.n = n;
  P.job.nchunks = nchunks;
  P.job.align = align;
  atomic_store_explicit(&P.done, 0, memory_order_relaxed);
  uint64_t w = atomic_load(&P.word);
  uint64_t gen = (uint64_t)((W_GEN(w) + 1) & 0xFFFFFF);
  atomic_store(&P.word, (gen << 40) | (uint64_t)nchunks); /* seq_cst: pairs with sleepers */
  if (atomic_load(&P.sleepers) > 0) {
    pthread_mutex_lock(&P.mu);
    pthread_cond_broadcast(&P.cv);
    pthread_mutex_unlock(&P.mu);
  }
  uint32_t g;
  const int64_t theirs = nchunks - claim_and_run(0, &g);
  for (int k = 0; atomic_load_explicit(&P.done, memory_order_acquire) < theirs; k++) {
    CPU_RELAX();
    if ((k & 255) == 255) sched_yield();
  }
}

/* fn over [0, n) in nchunks chunks, on the pool when it is free, else all on the calling thread. */
static void pool_run(range_fn fn, void *ctx, int64_t n, int64_t nchunks, int64_t align) {
  if (nchunks > MAX_CHUNKS) nchunks = MAX_CHUNKS;
  if (nchunks > n) nchunks = n;
  if (nchunks > 1 && pool_acquire() > 1) {
    pool_dispatch(fn, ctx, n, nchunks, align);
    pool_release();
    return;
  }
  if (n > 0) fn(ctx, 0, n, 0);
}

static int64_t chunks_for(int64_t elems) {
  if (kernel_threads() <= 1 || elems < 2 * CHUNK_ELEMS) return 1;
  return elems / CHUNK_ELEMS;
}

/* ---------------------------------------------------------------- per-env scratch */

typedef struct {
  float *buf;
  size_t cap; /* floats */
} Scratch;

static void scratch_finalize(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  Scratch *s = (Scratch *)data;
  if (s) free(s->buf);
  free(s);
}

/* A buffer of at least n floats (64-byte aligned), kept for the next call; NULL after throwing. */
static float *scratch_get(napi_env env, size_t n) {
  Scratch *s = NULL;
  if (napi_get_instance_data(env, (void **)&s) != napi_ok || s == NULL) {
    napi_throw_error(env, NULL, "pdiff_blas: no scratch state (module not initialised)");
    return NULL;
  }
  if (n == 0) n = 1;
  if (s->cap < n) {
    size_t want = n + n / 4;
    size_t bytes = (want * sizeof(float) + 63) & ~(size_t)63;
    float *p = (float *)aligned_alloc(64, bytes);
    if (!p) {
      napi_throw_error(env, "ERR_MEMORY", "pdiff_blas: out of memory for kernel scratch");
      return NULL;
    }
    free(s->buf);
    s->buf = p;
    s->cap = want;
  }
  return s->buf;
}

/* ---------------------------------------------------------------- argument reading */

#define MAX_ARGS 20

typedef struct {
  napi_env env;
  const char *fn;
  size_t argc;
  napi_value argv[MAX_ARGS];
} Call;

static bool call_init(Call *c, napi_env env, napi_callback_info info, const char *fn, size_t want,
                      const char *sig) {
  char msg[400];
  c->env = env;
  c->fn = fn;
  c->argc = MAX_ARGS;
  if (napi_get_cb_info(env, info, &c->argc, c->argv, NULL, NULL) != napi_ok) {
    napi_throw_error(env, NULL, "pdiff_blas: napi_get_cb_info failed");
    return false;
  }
  if (c->argc != want) {
    snprintf(msg, sizeof msg, "%s: expected %zu arguments %s, got %zu", fn, want, sig, c->argc);
    throw_type(env, msg);
    return false;
  }
  return true;
}

static bool is_null(Call *c, size_t i) {
  napi_valuetype t;
  return napi_typeof(c->env, c->argv[i], &t) == napi_ok && (t == napi_null || t == napi_undefined);
}

/* A Float32Array of at least `need` elements. */
static bool a_f32(Call *c, size_t i, const char *name, int64_t need, float **p, int64_t *len) {
  char msg[300];
  int64_t l = 0;
  if (!get_f32(c->env, c->argv[i], c->fn, name, p, &l)) return false;
  if (l < need) {
    snprintf(msg, sizeof msg, "%s: %s has %lld elements, needs at least %lld", c->fn, name,
             (long long)l, (long long)need);
    throw_range(c->env, msg);
    return false;
  }
  if (len) *len = l;
  return true;
}

/* Like a_f32, or null (-> *p = NULL). */
static bool a_f32_opt(Call *c, size_t i, const char *name, int64_t need, float **p) {
  if (is_null(c, i)) {
    *p = NULL;
    return true;
  }
  return a_f32(c, i, name, need, p, NULL);
}

static bool a_i32(Call *c, size_t i, const char *name, int64_t need, int32_t **p) {
  char msg[300];
  bool is_ta = false;
  napi_typedarray_type tt;
  size_t length = 0;
  void *ptr = NULL;
  if (napi_is_typedarray(c->env, c->argv[i], &is_ta) != napi_ok) return false;
  if (is_ta && napi_get_typedarray_info(c->env, c->argv[i], &tt, &length, &ptr, NULL, NULL) != napi_ok)
    return false;
  if (!is_ta || tt != napi_int32_array) {
    snprintf(msg, sizeof msg, "%s: %s must be an Int32Array", c->fn, name);
    throw_type(c->env, msg);
    return false;
  }
  if ((int64_t)length < need) {
    snprintf(msg, sizeof msg, "%s: %s has %zu elements, needs at least %lld", c->fn, name, length,
             (long long)need);
    throw_range(c->env, msg);
    return false;
  }
  *p = (int32_t *)ptr;
  return true;
}

/* An integer in [lo, INT_MAX] (sizes stay within what a blasint and an int index hold). */
static bool a_int(Call *c, size_t i, const char *name, int64_t lo, int64_t *out) {
  double d;
  char msg[300];
  if (!get_number(c->env, c->argv[i], c->fn, name, &d)) return false;
  if (!(d >= (double)lo && d <= (double)INT_MAX) || floor(d) != d) {
    snprintf(msg, sizeof msg, "%s: %s must be an integer in [%lld, %d], got %.17g", c->fn, name,
             (long long)lo, INT_MAX, d);
    throw_range(c->env, msg);
    return false;
  }
  *out = (int64_t)d;
  return true;
}

static bool a_num(Call *c, size_t i, const char *name, double *out) {
  return get_number(c->env, c->argv[i], c->fn, name, out);
}

/* Throws a RangeError unless a product of sizes stays below 2^31 (what an int GEMM dimension and
 * the typed-array lengths hold). */
static bool check_size(Call *c, const char *what, double v) {
  char msg[300];
  if (v > (double)INT_MAX) {
    snprintf(msg, sizeof msg, "%s: %s = %.0f is too large (at most %d)", c->fn, what, v, INT_MAX);
    throw_range(c->env, msg);
    return false;
  }
  return true;
}

/* ---------------------------------------------------------------- exp */

static inline float f_from_bits(int32_t i) {
  float f;
  memcpy(&f, &i, sizeof f);
  return f;
}
static inline int32_t bits_from_f(float f) {
  int32_t i;
  memcpy(&i, &f, sizeof i);
  return i;
}

/* e^x in float to ~1 ulp (Cephes expf polynomial, Cody-Waite reduction), branch-free so loops
 * vectorise. NaN stays NaN; x above 88 gives e^88, x below -87.3 about 1e-38. */
static inline float fexp(float x) {
  x = x > 88.0f ? 88.0f : x;
  x = x < -87.33654f ? -87.33654f : x;
  float t = x * 1.44269504088896341f + 12582912.0f; /* round to nearest via 1.5 * 2^23 */
  float fn = t - 12582912.0f;
  int32_t ni = bits_from_f(t) - 0x4B400000;
  float r = x - fn * 0.693359375f;
  r = r - fn * -2.12194440e-4f;
  float z = r * r;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * z + r + 1.0f;
  return p * f_from_bits((ni + 127) << 23);
}

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
  if (!a_int(c, i, "op", 0, &v)) return false;
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
static napi_value Unary(napi_env env, napi_callback_info info) {
  Call c;
  UnaryCtx u = {0};
  float *x, *y;
  int64_t n;
  if (!call_init(&c, env, info, "unary", 5, UNARY_SIG)) return NULL;
  if (!read_op(&c, 0, &u.op)) return NULL;
  if (!a_f32(&c, 1, "x", 0, &x, &n)) return NULL;
  if (!a_f32(&c, 2, "y", n, &y, NULL)) return NULL;
  if (!a_num(&c, 3, "alpha", &u.alpha) || !a_num(&c, 4, "beta", &u.beta)) return NULL;
  u.x = x;
  u.out = y;
  pool_run(unary_fwd_range, &u, n, chunks_for(n), 16);
  return NULL;
}

/* unaryBackward(op, x, y, gy, gx, alpha): gx = gy * op'(x) (y = the forward output, read by elu). */
static napi_value UnaryBackward(napi_env env, napi_callback_info info) {
  Call c;
  UnaryCtx u = {0};
  float *x, *y, *gy, *gx;
  int64_t n;
  if (!call_init(&c, env, info, "unaryBackward", 6, "(op, x, y, gy, gx, alpha)")) return NULL;
  if (!read_op(&c, 0, &u.op)) return NULL;
  if (!a_f32(&c, 1, "x", 0, &x, &n)) return NULL;
  if (!a_f32(&c, 2, "y", u.op == OP_ELU ? n : 0, &y, NULL)) return NULL;
  if (!a_f32(&c, 3, "gy", n, &gy, NULL)) return NULL;
  if (!a_f32(&c, 4, "gx", n, &gx, NULL)) return NULL;
  if (!a_num(&c, 5, "alpha", &u.alpha)) return NULL;
  u.x = x;
  u.y = y;
  u.gy = gy;
  u.out = gx;
  pool_run(unary_bwd_range, &u, n, chunks_for(n), 16);
  return NULL;
}

/* ---------------------------------------------------------------- axpy, adam */

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
static napi_value Axpy(napi_env env, napi_callback_info info) {
  Call c;
  AxpyCtx a;
  float *x, *y;
  int64_t n;
  if (!call_init(&c, env, info, "axpy", 3, "(alpha, x, y)")) return NULL;
  if (!a_num(&c, 0, "alpha", &a.alpha)) return NULL;
  if (!a_f32(&c, 2, "y", 0, &y, &n)) return NULL;
  if (!a_f32(&c, 1, "x", n, &x, NULL)) return NULL;
  a.x = x;
  a.y = y;
  pool_run(axpy_range, &a, n, chunks_for(n), 16);
  return NULL;
}

typedef struct {
  float *p, *m, *v;
  const float *g;
  double beta1, beta2, eps, stepSize, sqrtBc2, decay, l2;
} AdamCtx;

HOT static void adam_range(void *vc, int64_t lo, int64_t hi, int tid) {
  (void)tid;
  AdamCtx *c = (AdamCtx *)vc;
  float *p = c->p, *m = c->m, *v = c->v;
  const float *g = c->g;
  const double b1 = c->beta1, b2 = c->beta2, eps = c->eps, ss = c->stepSize, sb = c->sqrtBc2;
  const double decay = c->decay, l2 = c->l2, ob1 = 1 - c->beta1, ob2 = 1 - c->beta2;
  for (int64_t i = lo; i < hi; i++) {
    double pi = p[i];
    double gi = (double)g[i] + l2 * pi;
    pi *= decay;
    double mi = b1 * (double)m[i] + ob1 * gi;
    double vi = b2 * (double)v[i] + ob2 * gi * gi;
    m[i] = (float)mi;
    v[i] = (float)vi;
    p[i] = (float)(pi - ss * mi / (sqrt(vi) / sb + eps));
  }
}

/* adamStep(p, g, m, v, lr, beta1, beta2, eps, weightDecay, step, decoupled): PyTorch's Adam / AdamW
 * update in double, as src/backend/cpu/optim.ts. */
static napi_value AdamStep(napi_env env, napi_callback_info info) {
  Call c;
  AdamCtx a;
  float *p, *g, *m, *v;
  int64_t n;
  double lr, b1, b2, eps, wd, step;
  bool decoupled;
  if (!call_init(&c, env, info, "adamStep", 11,
                 "(p, g, m, v, lr, beta1, beta2, eps, weightDecay, step, decoupled)"))
    return NULL;
  if (!a_f32(&c, 0, "p", 0, &p, &n)) return NULL;
  if (!a_f32(&c, 1, "g", n, &g, NULL) || !a_f32(&c, 2, "m", n, &m, NULL) ||
      !a_f32(&c, 3, "v", n, &v, NULL))
    return NULL;
  if (!a_num(&c, 4, "lr", &lr) || !a_num(&c, 5, "beta1", &b1) || !a_num(&c, 6, "beta2", &b2) ||
      !a_num(&c, 7, "eps", &eps) || !a_num(&c, 8, "weightDecay", &wd) ||
      !a_num(&c, 9, "step", &step))
    return NULL;
  if (!get_bool(env, c.argv[10], c.fn, "decoupled", &decoupled)) return NULL;
  const double bc1 = 1 - pow(b1, step), bc2 = 1 - pow(b2, step);
  a.p = p;
  a.g = g;
  a.m = m;
  a.v = v;
  a.beta1 = b1;
  a.beta2 = b2;
  a.eps = eps;
  a.stepSize = lr / bc1;
  a.sqrtBc2 = sqrt(bc2);
  a.decay = decoupled ? 1 - lr * wd : 1;
  a.l2 = decoupled ? 0 : wd;
  pool_run(adam_range, &a, n, chunks_for(n * 4), 16);
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
  int32_t *d;
  char msg[200];
  bool is_ta = false;
  napi_typedarray_type tt;
  size_t length = 0;
  void *ptr = NULL;
  if (napi_is_typedarray(c->env, c->argv[i], &is_ta) != napi_ok) return false;
  if (is_ta && napi_get_typedarray_info(c->env, c->argv[i], &tt, &length, &ptr, NULL, NULL) != napi_ok)
    return false;
  if (!is_ta || tt != napi_int32_array || length < 1) {
    snprintf(msg, sizeof msg, "%s: layout must be a non-empty Int32Array", c->fn);
    throw_type(c->env, msg);
    return false;
  }
  d = (int32_t *)ptr;
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
static napi_value Binary(napi_env env, napi_callback_info info) {
  Call c;
  BinCtx b;
  int64_t count, op;
  int64_t *st[2] = {b.sa, b.sb};
  if (!call_init(&c, env, info, "binary", 5, "(op, a, b, y, layout)")) return NULL;
  if (!a_int(&c, 0, "op", 0, &op)) return NULL;
  if (op >= BIN_COUNT) {
    throw_range(env, "binary: op must be 0 (add), 1 (sub), 2 (mul) or 3 (div)");
    return NULL;
  }
  b.op = (int)op;
  if (!read_layout(&c, 4, 2, &b.r, b.shape, st, &count)) return NULL;
  if (!a_f32(&c, 1, "a", span_of(b.r, b.shape, b.sa), (float **)&b.a, NULL) ||
      !a_f32(&c, 2, "b", span_of(b.r, b.shape, b.sb), (float **)&b.b, NULL) ||
      !a_f32(&c, 3, "y", count, &b.y, NULL))
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
static napi_value SumTo(napi_env env, napi_callback_info info) {
  Call c;
  int r;
  int64_t shape[MAX_RANK], sy[MAX_RANK], count, ylen;
  int64_t *st[1] = {sy};
  float *x, *y;
  if (!call_init(&c, env, info, "sumTo", 3, "(x, y, layout)")) return NULL;
  if (!read_layout(&c, 2, 1, &r, shape, st, &count)) return NULL;
  if (!a_f32(&c, 0, "x", count, &x, NULL) || !a_f32(&c, 1, "y", span_of(r, shape, sy), &y, &ylen))
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

/* ---------------------------------------------------------------- batch norm */

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
  if (!a_int(c, i, "n", 0, &b->n) || !a_int(c, i + 1, "c", 0, &b->c) ||
      !a_int(c, i + 2, "s", 0, &b->s))
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
static napi_value BnTrainForward(napi_env env, napi_callback_info info) {
  Call c;
  BnCtx b = {0};
  int64_t total;
  float *x;
  if (!call_init(&c, env, info, "bnTrainForward", 11,
                 "(x, gamma, beta, n, c, s, eps, y, mean, invstd, varBiased)"))
    return NULL;
  if (!read_ncs(&c, 3, &b, &total) || !a_num(&c, 6, "eps", &b.eps)) return NULL;
  if (!a_f32(&c, 0, "x", total, &x, NULL)) return NULL;
  b.x = x;
  if (!a_f32_opt(&c, 1, "gamma", b.c, (float **)&b.gamma) ||
      !a_f32_opt(&c, 2, "beta", b.c, (float **)&b.beta) || !a_f32(&c, 7, "y", total, &b.y, NULL) ||
      !a_f32(&c, 8, "mean", b.c, &b.omean, NULL) || !a_f32(&c, 9, "invstd", b.c, &b.oinvstd, NULL) ||
      !a_f32(&c, 10, "varBiased", b.c, &b.ovar, NULL))
    return NULL;
  pool_run(bn_train_fwd_range, &b, b.c, bn_chunks(&b, total), 1);
  return NULL;
}

/* bnTrainBackward(gy, x, gamma, mean, invstd, n, c, s, gx, ggamma, gbeta); gx, ggamma, gbeta may be null. */
static napi_value BnTrainBackward(napi_env env, napi_callback_info info) {
  Call c;
  BnCtx b = {0};
  int64_t total;
  if (!call_init(&c, env, info, "bnTrainBackward", 11,
                 "(gy, x, gamma, mean, invstd, n, c, s, gx, ggamma, gbeta)"))
    return NULL;
  if (!read_ncs(&c, 5, &b, &total)) return NULL;
  if (!a_f32(&c, 0, "gy", total, (float **)&b.gy, NULL) ||
      !a_f32(&c, 1, "x", total, (float **)&b.x, NULL) ||
      !a_f32_opt(&c, 2, "gamma", b.c, (float **)&b.gamma) ||
      !a_f32(&c, 3, "mean", b.c, (float **)&b.mean, NULL) ||
      !a_f32(&c, 4, "invstd", b.c, (float **)&b.invstd, NULL) ||
      !a_f32_opt(&c, 8, "gx", total, &b.gx) || !a_f32_opt(&c, 9, "ggamma", b.c, &b.ggamma) ||
      !a_f32_opt(&c, 10, "gbeta", b.c, &b.gbeta))
    return NULL;
  pool_run(bn_train_bwd_range, &b, b.c, bn_chunks(&b, total), 1);
  return NULL;
}

/* bnEvalForward(x, gamma, beta, runMean, runVar, n, c, s, eps, y) */
static napi_value BnEvalForward(napi_env env, napi_callback_info info) {
  Call c;
  BnCtx b = {0};
  int64_t total;
  if (!call_init(&c, env, info, "bnEvalForward", 10,
                 "(x, gamma, beta, runMean, runVar, n, c, s, eps, y)"))
    return NULL;
  if (!read_ncs(&c, 5, &b, &total) || !a_num(&c, 8, "eps", &b.eps)) return NULL;
  if (!a_f32(&c, 0, "x", total, (float **)&b.x, NULL) ||
      !a_f32_opt(&c, 1, "gamma", b.c, (float **)&b.gamma) ||
      !a_f32_opt(&c, 2, "beta", b.c, (float **)&b.beta) ||
      !a_f32(&c, 3, "runMean", b.c, (float **)&b.runMean, NULL) ||
      !a_f32(&c, 4, "runVar", b.c, (float **)&b.runVar, NULL) ||
      !a_f32(&c, 9, "y", total, &b.y, NULL))
    return NULL;
  pool_run(bn_eval_fwd_range, &b, b.c, bn_chunks(&b, total), 1);
  return NULL;
}

/* bnEvalBackward(gy, x, gamma, runMean, runVar, n, c, s, eps, gx, ggamma, gbeta) */
static napi_value BnEvalBackward(napi_env env, napi_callback_info info) {
  Call c;
  BnCtx b = {0};
  int64_t total;
  if (!call_init(&c, env, info, "bnEvalBackward", 12,
                 "(gy, x, gamma, runMean, runVar, n, c, s, eps, gx, ggamma, gbeta)"))
    return NULL;
  if (!read_ncs(&c, 5, &b, &total) || !a_num(&c, 8, "eps", &b.eps)) return NULL;
  if (!a_f32(&c, 0, "gy", total, (float **)&b.gy, NULL) ||
      !a_f32(&c, 1, "x", total, (float **)&b.x, NULL) ||
      !a_f32_opt(&c, 2, "gamma", b.c, (float **)&b.gamma) ||
      !a_f32(&c, 3, "runMean", b.c, (float **)&b.runMean, NULL) ||
      !a_f32(&c, 4, "runVar", b.c, (float **)&b.runVar, NULL) ||
      !a_f32_opt(&c, 9, "gx", total, &b.gx) || !a_f32_opt(&c, 10, "ggamma", b.c, &b.ggamma) ||
      !a_f32_opt(&c, 11, "gbeta", b.c, &b.gbeta))
    return NULL;
  pool_run(bn_eval_bwd_range, &b, b.c, bn_chunks(&b, total), 1);
  return NULL;
}

/* ---------------------------------------------------------------- max pooling */

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
    if (!a_int(c, i + (size_t)k, names[k], lows[k], f[k])) return false;
  return check_size(c, "n * c * h * w", (double)g->n * g->c * g->h * g->w) &&
         check_size(c, "n * c * oh * ow", (double)g->n * g->c * g->oh * g->ow);
}

static const char *POOL_GEOM = "n, c, h, w, kh, kw, sh, sw, ph, pw, oh, ow";

/* maxPool2dForward(x, y, argmax, n, c, h, w, kh, kw, sh, sw, ph, pw, oh, ow) */
static napi_value MaxPool2dForward(napi_env env, napi_callback_info info) {
  Call c;
  PoolCtx p = {0};
  char sig[120];
  snprintf(sig, sizeof sig, "(x, y, argmax, %s)", POOL_GEOM);
  if (!call_init(&c, env, info, "maxPool2dForward", 15, sig)) return NULL;
  if (!read_pool_geom(&c, 3, &p.g)) return NULL;
  const int64_t planes = p.g.n * p.g.c, outN = planes * p.g.oh * p.g.ow;
  if (!a_f32(&c, 0, "x", planes * p.g.h * p.g.w, (float **)&p.x, NULL) ||
      !a_f32(&c, 1, "y", outN, &p.y, NULL) || !a_i32(&c, 2, "argmax", outN, &p.argmax))
    return NULL;
  if (outN == 0) return NULL;
  pool_run(maxpool_fwd_range, &p, planes, chunks_for(planes * p.g.h * p.g.w), 1);
  return NULL;
}

/* maxPool2dBackward(gy, argmax, gx, n, c, h, w, kh, kw, sh, sw, ph, pw, oh, ow) */
static napi_value MaxPool2dBackward(napi_env env, napi_callback_info info) {
  Call c;
  PoolCtx p = {0};
  int32_t *am;
  char sig[120];
  snprintf(sig, sizeof sig, "(gy, argmax, gx, %s)", POOL_GEOM);
  if (!call_init(&c, env, info, "maxPool2dBackward", 15, sig)) return NULL;
  if (!read_pool_geom(&c, 3, &p.g)) return NULL;
  const int64_t planes = p.g.n * p.g.c, outN = planes * p.g.oh * p.g.ow;
  if (!a_f32(&c, 0, "gy", outN, (float **)&p.gy, NULL) || !a_i32(&c, 1, "argmax", outN, &am) ||
      !a_f32(&c, 2, "gx", planes * p.g.h * p.g.w, &p.gx, NULL))
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

/* ---------------------------------------------------------------- convolution */

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

/* cols [c*kh*kw, m*P]: cols[(ci*kh + ki)*kw + kj, s*P + oy*ow + ox] = x[n0 + s, ci, oy*sh - ph + ki,
 * ox*sw - pw + kj], 0 outside. */
HOT static void im2col(const float *x, int64_t n0, int64_t m, const ConvGeom *g, float *cols) {
  const int64_t c = g->c, h = g->h, w = g->w, kh = g->kh, kw = g->kw, sh = g->sh, sw = g->sw;
  const int64_t ph = g->ph, pw = g->pw, oh = g->oh, ow = g->ow;
  const int64_t P = oh * ow, L = m * P, plane = h * w;
  const bool same = sh == 1 && sw == 1 && ow == w;
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
} ConvCtx;

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

enum { CONV_FWD = 0, CONV_BWD_DATA = 1, CONV_BWD_WEIGHT = 2 };

static bool read_conv_geom(Call *c, size_t i, ConvGeom *g) {
  static const char *names[13] = {"n", "c", "h", "w", "o", "kh", "kw", "sh", "sw", "ph", "pw", "oh", "ow"};
  static const int64_t lows[13] = {0, 0, 0, 0, 0, 0, 0, 1, 1, 0, 0, 0, 0};
  int64_t *f[13] = {&g->n, &g->c, &g->h, &g->w, &g->o, &g->kh, &g->kw, &g->sh, &g->sw, &g->ph, &g->pw, &g->oh, &g->ow};
  for (int k = 0; k < 13; k++)
    if (!a_int(c, i + (size_t)k, names[k], lows[k], f[k])) return false;
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
  cc->perExec = cc->colsFloats + (chunk > 1 ? o * chunk * P : 0);
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
  range_fn f = kind == CONV_FWD ? conv_fwd_range : kind == CONV_BWD_DATA ? conv_bwd_data_range : conv_bwd_weight_range;
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
static napi_value Conv2dForward(napi_env env, napi_callback_info info) {
  Call c;
  ConvGeom g;
  ConvCtx cc = {0};
  char sig[120];
  snprintf(sig, sizeof sig, "(x, w, bias, y, %s)", CONV_GEOM);
  if (!call_init(&c, env, info, "conv2dForward", 17, sig)) return NULL;
  if (!read_conv_geom(&c, 4, &g)) return NULL;
  const int64_t K = g.c * g.kh * g.kw, P = g.oh * g.ow;
  if (!a_f32(&c, 0, "x", g.n * g.c * g.h * g.w, (float **)&cc.x, NULL) ||
      !a_f32(&c, 1, "w", g.o * K, (float **)&cc.w, NULL) ||
      !a_f32_opt(&c, 2, "bias", g.o, (float **)&cc.bias) ||
      !a_f32(&c, 3, "y", g.n * g.o * P, &cc.y, NULL))
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

/* conv2dBackwardData(gy, w, gx, geom...): gx = dL/dx of y = conv(x, w) (the transposed conv). */
static napi_value Conv2dBackwardData(napi_env env, napi_callback_info info) {
  Call c;
  ConvGeom g;
  ConvCtx cc = {0};
  char sig[120];
  snprintf(sig, sizeof sig, "(gy, w, gx, %s)", CONV_GEOM);
  if (!call_init(&c, env, info, "conv2dBackwardData", 16, sig)) return NULL;
  if (!read_conv_geom(&c, 3, &g)) return NULL;
  const int64_t K = g.c * g.kh * g.kw, P = g.oh * g.ow, X = g.n * g.c * g.h * g.w;
  if (!a_f32(&c, 0, "gy", g.n * g.o * P, (float **)&cc.gy, NULL) ||
      !a_f32(&c, 1, "w", g.o * K, (float **)&cc.w, NULL) || !a_f32(&c, 2, "gx", X, &cc.gx, NULL))
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
static napi_value Conv2dBackwardWeight(napi_env env, napi_callback_info info) {
  Call c;
  ConvGeom g;
  ConvCtx cc = {0};
  char sig[120];
  snprintf(sig, sizeof sig, "(gy, x, gw, %s)", CONV_GEOM);
  if (!call_init(&c, env, info, "conv2dBackwardWeight", 16, sig)) return NULL;
  if (!read_conv_geom(&c, 3, &g)) return NULL;
  const int64_t K = g.c * g.kh * g.kw, P = g.oh * g.ow;
  if (!a_f32(&c, 0, "gy", g.n * g.o * P, (float **)&cc.gy, NULL) ||
      !a_f32(&c, 1, "x", g.n * g.c * g.h * g.w, (float **)&cc.x, NULL) ||
      !a_f32(&c, 2, "gw", g.o * K, &cc.gw, NULL))
    return NULL;
  cc.g = &g;
  if (g.o * K == 0) return NULL;
  if (g.n == 0 || P == 0) {
    memset(cc.gw, 0, (size_t)(g.o * K) * sizeof(float));
    return NULL;
  }
  return conv_run(&c, CONV_BWD_WEIGHT, &cc);
}

/* ---------------------------------------------------------------- thread control */

static napi_value KernelThreads(napi_env env, napi_callback_info info) {
  (void)info;
  napi_value out;
  NAPI_CALL(env, napi_create_int32(env, kernel_threads(), &out));
  return out;
}

/* setKernelThreads(n): threads the C kernels use, the caller included (default: OpenBLAS's count). */
static napi_value SetKernelThreads(napi_env env, napi_callback_info info) {
  Call c;
  int64_t t;
  if (!call_init(&c, env, info, "setKernelThreads", 1, "(n)")) return NULL;
  if (!a_int(&c, 0, "n", 1, &t)) return NULL;
  if (t > MAX_EXEC) {
    char msg[120];
    snprintf(msg, sizeof msg, "setKernelThreads: n must be at most %d, got %lld", MAX_EXEC, (long long)t);
    throw_range(env, msg);
    return NULL;
  }
  g_threads_set = (int)t;
  return NULL;
}

NAPI_MODULE_INIT(/* napi_env env, napi_value exports */) {
  Scratch *scr = (Scratch *)calloc(1, sizeof(Scratch));
  if (!scr || napi_set_instance_data(env, scr, scratch_finalize, NULL) != napi_ok) {
    free(scr);
    return NULL;
  }
  napi_property_descriptor props[] = {
      {"sgemm", NULL, Sgemm, NULL, NULL, NULL, napi_enumerable, NULL},
      {"numThreads", NULL, NumThreads, NULL, NULL, NULL, napi_enumerable, NULL},
      {"setNumThreads", NULL, SetNumThreads, NULL, NULL, NULL, napi_enumerable, NULL},
      {"config", NULL, Config, NULL, NULL, NULL, napi_enumerable, NULL},
      {"coreName", NULL, CoreName, NULL, NULL, NULL, napi_enumerable, NULL},
      {"unary", NULL, Unary, NULL, NULL, NULL, napi_enumerable, NULL},
      {"unaryBackward", NULL, UnaryBackward, NULL, NULL, NULL, napi_enumerable, NULL},
      {"binary", NULL, Binary, NULL, NULL, NULL, napi_enumerable, NULL},
      {"sumTo", NULL, SumTo, NULL, NULL, NULL, napi_enumerable, NULL},
      {"axpy", NULL, Axpy, NULL, NULL, NULL, napi_enumerable, NULL},
      {"adamStep", NULL, AdamStep, NULL, NULL, NULL, napi_enumerable, NULL},
      {"bnTrainForward", NULL, BnTrainForward, NULL, NULL, NULL, napi_enumerable, NULL},
      {"bnTrainBackward", NULL, BnTrainBackward, NULL, NULL, NULL, napi_enumerable, NULL},
      {"bnEvalForward", NULL, BnEvalForward, NULL, NULL, NULL, napi_enumerable, NULL},
      {"bnEvalBackward", NULL, BnEvalBackward, NULL, NULL, NULL, napi_enumerable, NULL},
      {"maxPool2dForward", NULL, MaxPool2dForward, NULL, NULL, NULL, napi_enumerable, NULL},
      {"maxPool2dBackward", NULL, MaxPool2dBackward, NULL, NULL, NULL, napi_enumerable, NULL},
      {"conv2dForward", NULL, Conv2dForward, NULL, NULL, NULL, napi_enumerable, NULL},
      {"conv2dBackwardData", NULL, Conv2dBackwardData, NULL, NULL, NULL, napi_enumerable, NULL},
      {"conv2dBackwardWeight", NULL, Conv2dBackwardWeight, NULL, NULL, NULL, napi_enumerable, NULL},
      {"kernelThreads", NULL, KernelThreads, NULL, NULL, NULL, napi_enumerable, NULL},
      {"setKernelThreads", NULL, SetKernelThreads, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  if (napi_define_properties(env, exports, sizeof props / sizeof props[0], props) != napi_ok)
    return NULL;
  return exports;
}
