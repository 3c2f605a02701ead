/*
 * scratch.c: the per-environment scratch buffer declared in scratch.h (N-API instance data).
 */
#include "scratch.h"

#include <stdlib.h>

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

/* See scratch.h. Grows by a quarter more than asked, so a slowly growing size reallocates rarely. */
float *scratch_get(napi_env env, size_t n) {
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

bool scratch_init(napi_env env) {
  Scratch *scr = (Scratch *)calloc(1, sizeof(Scratch));
  if (!scr || napi_set_instance_data(env, scr, scratch_finalize, NULL) != napi_ok) {
    free(scr);
    return false;
  }
  return true;
}
