/*
 * threadpool.c: the pthread pool declared in threadpool.h. Workers spin briefly for the next
 * job, then sleep on a condition variable; one job runs at a time (JS worker threads may share
 * the addon: a second caller finds the pool busy and runs its job itself).
 */
#include "threadpool.h"

#include <cblas.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <time.h>

#if defined(__x86_64__) || defined(__i386__)
#define CPU_RELAX() __builtin_ia32_pause()
#else
#define CPU_RELAX() ((void)0)
#endif

/* How long an idle pool worker spins for the next job before it sleeps (ns). */
#define WORKER_SPIN_NS 20000 /* 20 us: about the gap between two kernels of a training step */

/*
 * One job at a time: fn over [0, n) cut into nchunks ranges. The job word packs
 * generation (24 bits) | next chunk (20 bits) | chunk count (20 bits); an executor claims a
 * chunk by a CAS that bumps `next`, and only then reads the job descriptor (which cannot change
 * before that chunk is done, since the submitter waits for every claimed chunk). The submitter
 * claims chunks like any worker; when none is left it waits only for chunks workers claimed.
 */
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

static int g_threads_set = 0; /* setKernelThreads(n); 0 = follow OpenBLAS */

int kernel_threads(void) {
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
int pool_acquire(void) {
  if (kernel_threads() <= 1) return 1;
  if (pthread_mutex_trylock(&P.submit) != 0) return 1;
  int e = pool_prepare();
  if (e <= 1) {
    pthread_mutex_unlock(&P.submit);
    return 1;
  }
  return e;
}

void pool_release(void) { pthread_mutex_unlock(&P.submit); }

/* With the pool held: runs fn over [0, n) in nchunks chunks (range ends rounded to multiples of
 * align) on the caller (eid 0) and the workers, and returns when every chunk is done. */
void pool_dispatch(range_fn fn, void *ctx, int64_t n, int64_t nchunks, int64_t align) {
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
void pool_run(range_fn fn, void *ctx, int64_t n, int64_t nchunks, int64_t align) {
  if (nchunks > MAX_CHUNKS) nchunks = MAX_CHUNKS;
  if (nchunks > n) nchunks = n;
  if (nchunks > 1 && pool_acquire() > 1) {
    pool_dispatch(fn, ctx, n, nchunks, align);
    pool_release();
    return;
  }
  if (n > 0) fn(ctx, 0, n, 0);
}

void set_kernel_threads(int t) { g_threads_set = t; }

int64_t chunks_for(int64_t elems) {
  if (kernel_threads() <= 1 || elems < 2 * CHUNK_ELEMS) return 1;
  return elems / CHUNK_ELEMS;
}
