/*
 * threadpool.h: the small pthread pool the C kernels share (no OpenMP runtime). A kernel with
 * enough work cuts [0, n) into chunks that the calling thread and kernel_threads() - 1 workers
 * claim one at a time; the caller never waits for a worker that has not started (on a busy
 * machine it simply runs the chunks itself). Which thread runs a chunk never changes a result:
 * the kernels cut their work so that each output is computed by one chunk, in a fixed order.
 */
#ifndef PDIFF_THREADPOOL_H
#define PDIFF_THREADPOOL_H

#include <stdint.h>

#pragma GCC visibility push(hidden)

/* Most executors (the caller + workers) a job runs on; the bound of setKernelThreads. */
#define MAX_EXEC 64

/* A memory-bound kernel splits into chunks of about this many elements (and stays on the
 * calling thread below twice that). */
#define CHUNK_ELEMS 32768

/* One chunk of a job: [lo, hi) on executor eid (0 = the calling thread, 1.. = workers), which
 * indexes per-executor scratch. */
typedef void (*range_fn)(void *ctx, int64_t lo, int64_t hi, int eid);

/* Threads the C kernels use, the caller included: setKernelThreads' value, else OpenBLAS's
 * thread count, within [1, MAX_EXEC]. */
int kernel_threads(void);
/* setKernelThreads(n) (1 <= n <= MAX_EXEC, checked by the caller). */
void set_kernel_threads(int t);

/* Chunks for a memory-bound pass over `elems` elements (1 = stay on the calling thread). */
int64_t chunks_for(int64_t elems);

/* fn over [0, n) in nchunks chunks (range ends rounded to multiples of align), on the pool when
 * it is free, else all on the calling thread. */
void pool_run(range_fn fn, void *ctx, int64_t n, int64_t nchunks, int64_t align);

/* For a kernel that sizes its scratch by the executor count first (the convolutions):
 * pool_acquire takes the pool and returns the executors e >= 2 whose scratch slots (eids
 * 0 .. e-1) a job may use, or 1 (pool not held) when the job must run on the calling thread;
 * pool_dispatch then runs a job on the held pool and returns when every chunk is done;
 * pool_release hands the pool back. */
int pool_acquire(void);
void pool_dispatch(range_fn fn, void *ctx, int64_t n, int64_t nchunks, int64_t align);
void pool_release(void);

#pragma GCC visibility pop

#endif
