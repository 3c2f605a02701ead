/*
 * args.h: the one reader of N-API call arguments every entry point of the addon uses. Each
 * reader checks one argument before any kernel sees it: a wrong type throws a TypeError, a value
 * or length that does not fit throws a RangeError, and the reader returns false (the entry point
 * then returns NULL at once, leaving the exception pending). Messages name the function and the
 * argument, e.g. "conv2dForward: w has 8 elements, needs at least 9".
 */
#ifndef PDIFF_ARGS_H
#define PDIFF_ARGS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <node_api.h>

/* The addon's own symbols stay inside the .node (not exported, not interposable). */
#pragma GCC visibility push(hidden)

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

/* Most arguments an entry point takes (sgemm's 16 and conv2dForward's 17 included). */
#define MAX_ARGS 32

/* One call from JS: the function's name (for messages) and its arguments. */
typedef struct {
  napi_env env;
  const char *fn;
  size_t argc;
  napi_value argv[MAX_ARGS];
} Call;

void throw_type(napi_env env, const char *msg);
void throw_range(napi_env env, const char *msg);

/* Reads the arguments (up to MAX_ARGS; c->argc is the count JS passed). */
bool call_get(Call *c, napi_env env, napi_callback_info info, const char *fn);
/* call_get, then a TypeError unless exactly `want` arguments came; sig lists them. */
bool call_init(Call *c, napi_env env, napi_callback_info info, const char *fn, size_t want,
               const char *sig);

/* A JS boolean. */
bool arg_bool(Call *c, size_t i, const char *name, bool *out);
/* A JS number (any value, NaN included: the kernel's semantics decide what it means). */
bool arg_num(Call *c, size_t i, const char *name, double *out);
/* An integer in [lo, hi] (hi at most 2^53 - 1). */
bool arg_int_in(Call *c, size_t i, const char *name, double lo, double hi, int64_t *out);
/* An integer in [lo, INT_MAX] (sizes stay within what a blasint and an int index hold). */
bool arg_int(Call *c, size_t i, const char *name, int64_t lo, int64_t *out);
/* A Float32Array of at least `need` elements: its data (already past the view's byteOffset)
 * and, when len is not NULL, its length. */
bool arg_f32(Call *c, size_t i, const char *name, int64_t need, float **p, int64_t *len);
/* Like arg_f32, or null / undefined (-> *p = NULL). */
bool arg_f32_opt(Call *c, size_t i, const char *name, int64_t need, float **p);
/* An Int32Array of at least `need` elements. */
bool arg_i32(Call *c, size_t i, const char *name, int64_t need, int32_t **p);
/* Whether argument i is an Int32Array and, when it is, its data and length; throws nothing
 * (false only when N-API fails). For readers with their own messages (read_layout). */
bool arg_peek_i32(Call *c, size_t i, bool *is_i32, int32_t **p, size_t *len);

/* Throws a RangeError unless a product of sizes stays below 2^31 (what an int GEMM dimension and
 * the typed-array lengths hold). */
bool check_size(Call *c, const char *what, double v);

#pragma GCC visibility pop

#endif
