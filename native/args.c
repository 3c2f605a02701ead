/*
 * args.c: the N-API argument readers declared in args.h (type names for messages, TypeError /
 * RangeError helpers, call_init, arg_*).
 */
#include "args.h"

#include <limits.h>
#include <math.h>
#include <stdio.h>

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

void throw_type(napi_env env, const char *msg) {
  napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", msg);
}

void throw_range(napi_env env, const char *msg) {
  napi_throw_range_error(env, "ERR_OUT_OF_RANGE", msg);
}

bool call_get(Call *c, napi_env env, napi_callback_info info, const char *fn) {
  c->env = env;
  c->fn = fn;
  c->argc = MAX_ARGS;
  if (napi_get_cb_info(env, info, &c->argc, c->argv, NULL, NULL) != napi_ok) {
    napi_throw_error(env, NULL, "pdiff_blas: napi_get_cb_info failed");
    return false;
  }
  return true;
}

bool call_init(Call *c, napi_env env, napi_callback_info info, const char *fn, size_t want,
               const char *sig) {
  char msg[400];
  if (!call_get(c, env, info, fn)) return false;
  if (want > MAX_ARGS) { /* napi_get_cb_info fills at most MAX_ARGS of argv: raise MAX_ARGS */
    snprintf(msg, sizeof msg, "%s: takes %zu arguments, more than pdiff_blas reads (MAX_ARGS %d)", fn, want, MAX_ARGS);
    napi_throw_error(env, NULL, msg);
    return false;
  }
  if (c->argc != want) {
    snprintf(msg, sizeof msg, "%s: expected %zu arguments %s, got %zu", fn, want, sig, c->argc);
    throw_type(env, msg);
    return false;
  }
  return true;
}

bool arg_bool(Call *c, size_t i, const char *name, bool *out) {
  napi_valuetype t;
  char msg[256];
  if (napi_typeof(c->env, c->argv[i], &t) != napi_ok) return false;
  if (t != napi_boolean) {
    snprintf(msg, sizeof msg, "%s: %s must be a boolean, got %s", c->fn, name, valuetype_name(t));
    throw_type(c->env, msg);
    return false;
  }
  return napi_get_value_bool(c->env, c->argv[i], out) == napi_ok;
}

bool arg_num(Call *c, size_t i, const char *name, double *out) {
  napi_valuetype t;
  char msg[256];
  if (napi_typeof(c->env, c->argv[i], &t) != napi_ok) return false;
  if (t != napi_number) {
    snprintf(msg, sizeof msg, "%s: %s must be a number, got %s", c->fn, name, valuetype_name(t));
    throw_type(c->env, msg);
    return false;
  }
  return napi_get_value_double(c->env, c->argv[i], out) == napi_ok;
}

bool arg_int_in(Call *c, size_t i, const char *name, double lo, double hi, int64_t *out) {
  double d;
  char msg[300];
  if (!arg_num(c, i, name, &d)) return false;
  if (!(d >= lo && d <= hi) || floor(d) != d) {
    snprintf(msg, sizeof msg, "%s: %s must be an integer in [%.0f, %.0f], got %.17g", c->fn, name,
             lo, hi, d);
    throw_range(c->env, msg);
    return false;
  }
  *out = (int64_t)d;
  return true;
}

bool arg_int(Call *c, size_t i, const char *name, int64_t lo, int64_t *out) {
  return arg_int_in(c, i, name, (double)lo, (double)INT_MAX, out);
}

bool arg_f32(Call *c, size_t i, const char *name, int64_t need, float **p, int64_t *len) {
  bool is_ta = false;
  char msg[300];
  if (napi_is_typedarray(c->env, c->argv[i], &is_ta) != napi_ok) return false;
  if (!is_ta) {
    napi_valuetype t;
    if (napi_typeof(c->env, c->argv[i], &t) != napi_ok) return false;
    snprintf(msg, sizeof msg, "%s: %s must be a Float32Array, got %s", c->fn, name,
             valuetype_name(t));
    throw_type(c->env, msg);
    return false;
  }
  napi_typedarray_type tt;
  size_t length = 0;
  void *ptr = NULL;
  if (napi_get_typedarray_info(c->env, c->argv[i], &tt, &length, &ptr, NULL, NULL) != napi_ok)
    return false;
  if (tt != napi_float32_array) {
    snprintf(msg, sizeof msg, "%s: %s must be a Float32Array, got %s", c->fn, name,
             typedarray_name(tt));
    throw_type(c->env, msg);
    return false;
  }
  if ((int64_t)length < need) {
    snprintf(msg, sizeof msg, "%s: %s has %lld elements, needs at least %lld", c->fn, name,
             (long long)length, (long long)need);
    throw_range(c->env, msg);
    return false;
  }
  *p = (float *)ptr;
  if (len) *len = (int64_t)length;
  return true;
}

bool arg_f32_opt(Call *c, size_t i, const char *name, int64_t need, float **p) {
  napi_valuetype t;
  if (napi_typeof(c->env, c->argv[i], &t) == napi_ok && (t == napi_null || t == napi_undefined)) {
    *p = NULL;
    return true;
  }
  return arg_f32(c, i, name, need, p, NULL);
}

bool arg_peek_i32(Call *c, size_t i, bool *is_i32, int32_t **p, size_t *len) {
  bool is_ta = false;
  napi_typedarray_type tt;
  size_t length = 0;
  void *ptr = NULL;
  *is_i32 = false;
  if (napi_is_typedarray(c->env, c->argv[i], &is_ta) != napi_ok) return false;
  if (!is_ta) return true;
  if (napi_get_typedarray_info(c->env, c->argv[i], &tt, &length, &ptr, NULL, NULL) != napi_ok)
    return false;
  if (tt != napi_int32_array) return true;
  *is_i32 = true;
  *p = (int32_t *)ptr;
  *len = length;
  return true;
}

bool arg_i32(Call *c, size_t i, const char *name, int64_t need, int32_t **p) {
  char msg[300];
  bool is_i32;
  int32_t *d = NULL;
  size_t length = 0;
  if (!arg_peek_i32(c, i, &is_i32, &d, &length)) return false;
  if (!is_i32) {
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
  *p = d;
  return true;
}

bool check_size(Call *c, const char *what, double v) {
  char msg[300];
  if (v > (double)INT_MAX) {
    snprintf(msg, sizeof msg, "%s: %s = %.0f is too large (at most %d)", c->fn, what, v, INT_MAX);
    throw_range(c->env, msg);
    return false;
  }
  return true;
}
