/*
 * optim.c: adamStep, PyTorch's Adam / AdamW update in double, as src/backend/cpu/optim.ts.
 */
#include <math.h>
#include <stdbool.h>
#include <stdint.h>

#include "args.h"
#include "fastmath.h"
#include "kernels.h"
#include "threadpool.h"

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
napi_value AdamStep(napi_env env, napi_callback_info info) {
  Call c;
  AdamCtx a;
  float *p, *g, *m, *v;
  int64_t n;
  double lr, b1, b2, eps, wd, step;
  bool decoupled;
  if (!call_init(&c, env, info, "adamStep", 11,
                 "(p, g, m, v, lr, beta1, beta2, eps, weightDecay, step, decoupled)"))
    return NULL;
  if (!arg_f32(&c, 0, "p", 0, &p, &n)) return NULL;
  if (!arg_f32(&c, 1, "g", n, &g, NULL) || !arg_f32(&c, 2, "m", n, &m, NULL) ||
      !arg_f32(&c, 3, "v", n, &v, NULL))
    return NULL;
  if (!arg_num(&c, 4, "lr", &lr) || !arg_num(&c, 5, "beta1", &b1) || !arg_num(&c, 6, "beta2", &b2) ||
      !arg_num(&c, 7, "eps", &eps) || !arg_num(&c, 8, "weightDecay", &wd) ||
      !arg_num(&c, 9, "step", &step))
    return NULL;
  if (!arg_bool(&c, 10, "decoupled", &decoupled)) return NULL;
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
