/**
 * Loader for the WebGPU backend (src/backend/webgpu/): starts the worker thread that owns the
 * device (Dawn, the optional npm package `webgpu`), waits for it to open an adapter, and says why
 * when it cannot. Never throws.
 *
 * Adapter choice: Dawn's default (Vulkan / Metal / D3D12), then its OpenGL ES and OpenGL
 * backends in compatibility mode (on a machine without a GPU, Mesa's llvmpipe; EGL_PLATFORM is
 * set to `surfaceless` when unset so no display is needed). PDIFF_WEBGPU_DAWN_OPTS
 * (';'-separated Dawn options, e.g. `backend=vulkan`) with PDIFF_WEBGPU_COMPAT=1 picks one.
 *
 * The worker runs src/backend/webgpu/worker.js when compiled; under tsx only worker.ts exists,
 * and the worker then registers tsx's loader (tsx/esm/api) before importing it.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { Backend } from './backend.js';
import { WebgpuBackend, waitForWorker } from './webgpu/backend.js';
import { CTRL_LEN, CTRL_STATE, STATE_OK, STATE_WAITING, type InitReport, type WorkerInit } from './webgpu/protocol.js';

export { WebgpuBackend } from './webgpu/backend.js';

export type WebgpuLoad = { ok: true; backend: Backend; adapter: string } | { ok: false; reason: string };

let loaded: WebgpuLoad | null = null;

/** The worker entry and how to start it, or why there is none. */
function workerEntry(): { url: string; tsx?: string } | string {
  const dir = join(dirname(fileURLToPath(import.meta.url)), 'webgpu');
  const js = join(dir, 'worker.js');
  if (existsSync(js)) return { url: pathToFileURL(js).href };
  const ts = join(dir, 'worker.ts');
  if (existsSync(ts)) {
    let tsx: string;
    try {
      tsx = pathToFileURL(join(dirname(createRequire(import.meta.url).resolve('tsx/package.json')), 'dist', 'esm', 'api', 'index.mjs')).href;
    } catch (e) {
      return `the WebGPU worker is TypeScript (${ts}) and tsx does not resolve: ${(e as Error).message}`;
    }
    return { url: pathToFileURL(ts).href, tsx };
  }
  return `the WebGPU worker is missing (looked for ${js} and ${ts})`;
}

/**
 * The worker is started through this bootstrap, which registers tsx's loader when the entry is
 * TypeScript (an eval worker does not run `--import` preloads) and reports a failure to load the
 * entry module (the main thread is blocked in Atomics.wait and would not see the 'error' event).
 */
const BOOTSTRAP = `
const { workerData } = require('node:worker_threads');
(workerData.tsx ? import(workerData.tsx).then((m) => m.register()) : Promise.resolve())
  .then(() => import(workerData.entry)).catch((e) => {
  const ctrl = new Int32Array(workerData.ctrl);
  const msg = JSON.stringify({ ok: false, reason: 'the WebGPU worker failed to start: ' + ((e && e.stack) || e) });
  const bytes = new TextEncoder().encode(msg);
  const n = Math.min(bytes.length, workerData.data.byteLength);
  new Uint8Array(workerData.data, 0, n).set(bytes.subarray(0, n));
  Atomics.store(ctrl, ${CTRL_LEN}, n);
  Atomics.store(ctrl, ${CTRL_STATE}, 2);
  Atomics.notify(ctrl, ${CTRL_STATE});
});
`;

function open(): WebgpuLoad {
  try {
    createRequire(import.meta.url).resolve('webgpu');
  } catch {
    return { ok: false, reason: 'the optional npm package "webgpu" (Dawn for Node) is not installed' };
  }
  const entry = workerEntry();
  if (typeof entry === 'string') return { ok: false, reason: entry };
  if (process.platform === 'linux' && process.env.EGL_PLATFORM === undefined) process.env.EGL_PLATFORM = 'surfaceless';
  const ctrlSab = new SharedArrayBuffer(16);
  const data = new SharedArrayBuffer(1 << 16);
  const ctrl = new Int32Array(ctrlSab);
  Atomics.store(ctrl, CTRL_STATE, STATE_WAITING);
  const init: WorkerInit & { entry: string; tsx: string | null } = { ctrl: ctrlSab, data, entry: entry.url, tsx: entry.tsx ?? null };
  const worker = new Worker(BOOTSTRAP, { eval: true, workerData: init });
  worker.unref();
  const timeout = Number(process.env.PDIFF_WEBGPU_INIT_TIMEOUT_MS) || 120_000;
  try {
    waitForWorker(ctrl, timeout, 'opening the device');
  } catch (e) {
    void worker.terminate();
    return { ok: false, reason: (e as Error).message };
  }
  const text = new TextDecoder().decode(new Uint8Array(data, 0, Atomics.load(ctrl, CTRL_LEN)).slice());
  let report: InitReport;
  try {
    report = JSON.parse(text) as InitReport;
  } catch {
    report = { ok: false, reason: `unreadable answer from the WebGPU worker: ${text.slice(0, 200)}` };
  }
  if (!report.ok || Atomics.load(ctrl, CTRL_STATE) !== STATE_OK) {
    void worker.terminate();
    return { ok: false, reason: report.ok ? 'the WebGPU worker failed' : report.reason };
  }
  const backend = new WebgpuBackend(worker, ctrl, data, report.adapter, report.backend);
  return { ok: true, backend, adapter: report.adapter };
}

/** The WebGPU backend (one per process), or why it is unavailable. Never throws. */
export function loadWebgpu(): WebgpuLoad {
  if (loaded) return loaded;
  try {
    loaded = open();
  } catch (e) {
    loaded = { ok: false, reason: `starting the WebGPU backend failed: ${(e as Error).message ?? e}` };
  }
  return loaded;
}
