import type { Backend } from './backend.js';
import { CpuBackend } from './cpu.js';
import { jsGemm } from './gemm.js';
import { loadBlas } from './native.js';
import { loadWebgpu } from './webgpu.js';

export type {
  Backend, Storage, UnaryOp, BinaryOp, DType, MatmulArgs, NormForwardArgs, BatchNormTrainForwardArgs, NormBackwardArgs,
  BatchNormEvalForwardArgs, BatchNormEvalBackwardArgs, BatchNormRunningArgs, SoftmaxArgs, CrossEntropyArgs, AdamStepArgs, SgdStepArgs,
} from './backend.js';
export { readArgmaxRows } from './backend.js';
export type { Conv2dGeom, Pool2dGeom, NormGeom, GroupNormGeom, LayerNormGeom } from './kernels.js';
export { CpuBackend } from './cpu.js';

export type BackendName = 'auto' | 'js' | 'blas' | 'webgpu';

let current: Backend | null = null;
let announced = false;
const cache = new Map<string, Backend>();

/** The pure-TypeScript backend (float32, or float64 for gradient checks). */
export function jsBackend(dtype: 'float32' | 'float64' = 'float32'): CpuBackend {
  const key = `js-${dtype}`;
  let b = cache.get(key) as CpuBackend | undefined;
  if (!b) {
    b = new CpuBackend(dtype === 'float64' ? 'js64' : 'js', dtype, jsGemm, `pure TypeScript kernels (${dtype})`);
    cache.set(key, b);
  }
  return b;
}

/** The OpenBLAS backend, or the reason it is not available. */
export function blasBackend(): CpuBackend | string {
  const cached = cache.get('blas');
  if (cached) return cached as CpuBackend;
  const r = loadBlas();
  if (!r.ok) return r.reason;
  const b = r.makeBackend(`OpenBLAS sgemm (${r.config.trim()}) + C kernels (${r.kernels.kernelThreads()} threads)`);
  cache.set('blas', b);
  return b;
}

/**
 * Resolve a backend by name. 'auto' (the default) takes PDIFF_BACKEND when set, else blas when the
 * addon loads, else js. The choice and its reason are printed once to stderr.
 */
export function resolveBackend(name: BackendName = 'auto', quiet = false): Backend {
  let want = name;
  if (want === 'auto') {
    const env = process.env.PDIFF_BACKEND;
    if (env && env !== 'auto') {
      if (env !== 'js' && env !== 'blas' && env !== 'webgpu') throw new Error(`PDIFF_BACKEND must be one of auto, js, blas, webgpu; got "${env}"`);
      want = env;
    }
  }
  let b: Backend;
  let why: string;
  if (want === 'js') { b = jsBackend(); why = 'requested'; }
  else if (want === 'blas') {
    const r = blasBackend();
    if (typeof r === 'string') throw new Error(`backend "blas" is not available: ${r}`);
    b = r; why = 'requested';
  } else if (want === 'webgpu') {
    const r = loadWebgpu();
    if (!r.ok) throw new Error(`backend "webgpu" is not available: ${r.reason} (use js or blas)`);
    b = r.backend; why = `requested; ${r.backend.description}`;
  } else {
    const r = blasBackend();
    if (typeof r === 'string') { b = jsBackend(); why = `OpenBLAS addon unavailable: ${r}`; }
    else { b = r; why = 'OpenBLAS addon loaded'; }
  }
  if (!announced && !quiet && process.env.PDIFF_QUIET_BACKEND !== '1') {
    process.stderr.write(`pdiff: backend ${b.name} (${why})\n`);
  }
  announced = true;
  return b;
}

/** The process-wide default backend used by tensor constructors that are not given one. */
export function getBackend(): Backend {
  if (!current) current = resolveBackend('auto');
  return current;
}

export function setBackend(b: Backend | BackendName): Backend {
  current = typeof b === 'string' ? resolveBackend(b) : b;
  return current;
}
