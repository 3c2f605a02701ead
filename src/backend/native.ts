/**
 * Loader for the OpenBLAS addon (native/*.c, built by `npm install` through node-gyp
 * into native/build/Release/pdiff_blas.node): cblas_sgemm plus the C kernels the blas backend
 * runs (src/backend/blas.ts). The addon is optional: when it is missing, broken or stale (built
 * from older native/ sources without every kernel), loadBlas says why and pdiff runs on the
 * pure-TS `js` backend.
 */
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, parse } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BlasBackend } from './blas.js';
import { checkGemmArgs } from './gemm.js';
import type { BlasKernels } from './blas-kernels.js';
import type { FloatArray, Gemm } from './kernels.js';

export type { BlasKernels } from './blas-kernels.js';

const KERNEL_NAMES = [
  'unary', 'unaryBackward', 'binary', 'sumTo', 'axpy', 'adamStep', 'bnTrainForward', 'bnTrainBackward', 'bnEvalForward',
  'bnEvalBackward', 'bnReluSelect', 'bnReluMean', 'maxPool2dForward', 'maxPool2dBackward', 'conv2dForward', 'conv2dBackwardData',
  'conv2dBackwardWeight', 'conv2dBnReluMean', 'conv2dBnAct', 'depthwiseForward', 'depthwiseBackwardData', 'depthwiseBackwardWeight', 'kernelThreads', 'setKernelThreads',
] as const satisfies readonly (keyof BlasKernels)[];

/** What the addon exports (registered in native/module.c). */
interface PdiffBlasAddon extends BlasKernels {
  sgemm(
    transA: boolean, transB: boolean, m: number, n: number, k: number, alpha: number,
    a: Float32Array, aOff: number, lda: number, b: Float32Array, bOff: number, ldb: number,
    beta: number, c: Float32Array, cOff: number, ldc: number,
  ): void;
  numThreads(): number;
  setNumThreads(n: number): void;
  config(): string;
  coreName(): string;
}

/** A loaded OpenBLAS backend. */
export interface BlasOk {
  ok: true;
  /** cblas_sgemm behind the `Gemm` contract; Float32Array only (throws TypeError otherwise). */
  gemm: Gemm;
  /** openblas_get_config(), e.g. "OpenBLAS 0.3.21 DYNAMIC_ARCH NO_AFFINITY Zen MAX_THREADS=64". */
  config: string;
  /** The kernel family OpenBLAS picked for this CPU (openblas_get_corename()). */
  coreName: string;
  /** Threads OpenBLAS uses (openblas_get_num_threads()). */
  numThreads(): number;
  /** Sets the OpenBLAS thread count (openblas_set_num_threads); n is an integer >= 1. */
  setNumThreads(n: number): void;
  /** Absolute path of the .node file that was loaded. */
  path: string;
  /** The addon's C kernels. */
  kernels: BlasKernels;
  /** A `blas` backend on this addon: OpenBLAS GEMM and the C kernels (see blas.ts). */
  makeBackend(description: string): BlasBackend;
}

/** Why the OpenBLAS backend is unavailable. */
export interface BlasMissing {
  ok: false;
  reason: string;
}

export type BlasLoad = BlasOk | BlasMissing;

const ADDON_REL = join('native', 'build', 'Release', 'pdiff_blas.node');

/**
 * The package root: the nearest folder above this module whose package.json is named "pdiff".
 * Works from src/backend/ (tsx) and from dist/backend/ (compiled) alike.
 */
export function packageRoot(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  let dir = here;
  const top = parse(dir).root;
  for (;;) {
    const pj = join(dir, 'package.json');
    if (existsSync(pj)) {
      try {
        const name = (JSON.parse(readFileSync(pj, 'utf8')) as { name?: unknown }).name;
        if (name === 'pdiff') return dir;
      } catch {
        // an unreadable package.json is not ours; keep walking up
      }
    }
    if (dir === top) break;
    dir = dirname(dir);
  }
  return join(here, '..', '..');
}

let cached: BlasLoad | undefined;

/**
 * Loads the OpenBLAS addon. Never throws: a missing, stale or broken build gives
 * `{ ok: false, reason }`. The default addon is loaded once and the result is cached;
 * `addonPath` loads another .node file (uncached), for tests and tools.
 */
export function loadBlas(addonPath?: string): BlasLoad {
  if (addonPath === undefined && cached !== undefined) return cached;
  const result = load(addonPath ?? join(packageRoot(), ADDON_REL));
  if (addonPath === undefined) cached = result;
  return result;
}

/**
 * OpenBLAS reads OPENBLAS_THREAD_TIMEOUT when the library is loaded (with the addon): how long its
 * worker threads spin, calling sched_yield, after a GEMM before they sleep. Its default keeps a
 * worker spinning on one of our two cores while the kernel pool's threads convolve: in DDPM
 * sampling about 15 % of the samples of a profile were the scheduler and sched_yield. With 4 (the
 * shortest) a worker sleeps at once; 200 sampling steps at batch 200 took 5 to 12 % less time in
 * three alternating pairs. A value the user sets wins.
 */
function quietOpenBlasWorkers(): void {
  if (process.env.OPENBLAS_THREAD_TIMEOUT !== undefined) return;
  process.env.OPENBLAS_THREAD_TIMEOUT = '4';
  injectedEnv.add('OPENBLAS_THREAD_TIMEOUT');
}

const injectedEnv = new Set<string>();

/**
 * This process's environment without the variables pdiff set for itself (OPENBLAS_THREAD_TIMEOUT),
 * for a child that is not pdiff: the PyTorch side of a benchmark runs as its user would run it.
 */
export function userEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  for (const k of injectedEnv) delete env[k];
  return env;
}

function load(path: string): BlasLoad {
  if (!existsSync(path)) {
    return {
      ok: false,
      reason: `OpenBLAS addon not built: ${path} does not exist ` +
        `(build it with \`npx node-gyp rebuild --directory native\`; it needs libopenblas-dev)`,
    };
  }
  let addon: PdiffBlasAddon;
  try {
    quietOpenBlasWorkers();
    addon = createRequire(import.meta.url)(path) as PdiffBlasAddon;
  } catch (e) {
    return { ok: false, reason: `OpenBLAS addon ${path} failed to load: ${(e as Error).message}` };
  }
  for (const fn of ['sgemm', 'numThreads', 'setNumThreads', 'config', 'coreName', ...KERNEL_NAMES] as const) {
    if (typeof addon[fn] !== 'function') {
      return {
        ok: false,
        reason: `OpenBLAS addon ${path} has no ${fn}() (a stale build from older native/ sources? ` +
          'rebuild it with `npx node-gyp rebuild --directory native`)',
      };
    }
  }
  const gemm = makeGemm(addon);
  // Smoke test: [1 2; 3 4] * [5 6; 7 8] = [19 22; 43 50], written over NaN with beta = 0.
  try {
    const c = new Float32Array([NaN, NaN, NaN, NaN]);
    gemm(false, false, 2, 2, 2, 1, new Float32Array([1, 2, 3, 4]), 0, 2, new Float32Array([5, 6, 7, 8]), 0, 2, 0, c, 0, 2);
    if (c[0] !== 19 || c[1] !== 22 || c[2] !== 43 || c[3] !== 50) {
      return { ok: false, reason: `OpenBLAS addon ${path} failed its self-test: got [${Array.from(c).join(', ')}], expected [19, 22, 43, 50]` };
    }
  } catch (e) {
    return { ok: false, reason: `OpenBLAS addon ${path} failed its self-test: ${(e as Error).message}` };
  }
  let config = '';
  let coreName = '';
  try {
    config = addon.config();
    coreName = addon.coreName();
  } catch {
    // informational only
  }
  const kernels: BlasKernels = {} as BlasKernels;
  for (const fn of KERNEL_NAMES) (kernels as unknown as Record<string, unknown>)[fn] = addon[fn];
  // Smoke test of the kernels' calling convention: relu, and a 1x1 conv [2 3] * w 2 + bias 1.
  try {
    const y = new Float32Array(2), z = new Float32Array(2);
    kernels.unary(3, new Float32Array([-1, 2]), y, 0, 0);
    kernels.conv2dForward(new Float32Array([2, 3]), new Float32Array([2]), new Float32Array([1]), z, 1, 1, 1, 2, 1, 1, 1, 1, 1, 0, 0, 1, 2);
    if (y[0] !== 0 || y[1] !== 2 || z[0] !== 5 || z[1] !== 7) {
      return { ok: false, reason: `OpenBLAS addon ${path} failed its kernel self-test: got [${Array.from(y).join(', ')}] and [${Array.from(z).join(', ')}]` };
    }
  } catch (e) {
    return { ok: false, reason: `OpenBLAS addon ${path} failed its kernel self-test: ${(e as Error).message}` };
  }
  return {
    ok: true,
    gemm,
    config,
    coreName,
    numThreads: () => addon.numThreads(),
    setNumThreads: (n: number) => addon.setNumThreads(n),
    path,
    kernels,
    makeBackend: (description: string) => new BlasBackend(gemm, kernels, description),
  };
}

function requireF32(what: string, x: FloatArray): Float32Array {
  if (x instanceof Float32Array) return x;
  const got = (x as object | null)?.constructor?.name ?? typeof x;
  throw new TypeError(
    `blas gemm: ${what} must be a Float32Array (the OpenBLAS backend is float32-only), got ${got}; ` +
    'use jsGemm for Float64Array',
  );
}

/**
 * Wraps the addon's sgemm in the `Gemm` contract. The arguments are checked here with the same
 * ShapeError messages as jsGemm (the addon re-checks them, as a last line of defence for
 * direct callers, with TypeError/RangeError).
 */
function makeGemm(addon: PdiffBlasAddon): Gemm {
  const sgemm = addon.sgemm;
  return function blasGemm(
    transA: boolean, transB: boolean,
    m: number, n: number, k: number,
    alpha: number,
    a: FloatArray, aOff: number, lda: number,
    b: FloatArray, bOff: number, ldb: number,
    beta: number,
    c: FloatArray, cOff: number, ldc: number,
  ): void {
    const a32 = requireF32('a', a), b32 = requireF32('b', b), c32 = requireF32('c', c);
    checkGemmArgs('blasGemm', transA, transB, m, n, k, a.length, aOff, lda, b.length, bOff, ldb, c.length, cOff, ldc);
    sgemm(transA, transB, m, n, k, alpha, a32, aOff, lda, b32, bOff, ldb, beta, c32, cOff, ldc);
  };
}
