/**
 * Worker thread that owns the WebGPU device (Dawn, npm package `webgpu`). It opens an adapter,
 * reports it through the shared buffers, then executes command batches from the main thread in
 * order (see protocol.ts). Reads map a staging buffer asynchronously and wake the main thread,
 * which sleeps in Atomics.wait, when the values are in shared memory.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { parentPort, workerData } from 'node:worker_threads';
import { GpuContext } from './context.js';
import { Executor } from './executor.js';
import type { GpuAdapter, GpuDevice, WebgpuModule } from './gpu-types.js';
import {
  CTRL_DONE, CTRL_LEN, CTRL_STATE, STATE_ERROR, STATE_OK, type BatchMessage, type Cmd, type InitReport, type WorkerInit,
} from './protocol.js';

const init = workerData as WorkerInit;
const ctrl = new Int32Array(init.ctrl);
let data = init.data;

function reply(state: number, bytes: Uint8Array): void {
  const n = Math.min(bytes.length, data.byteLength);
  new Uint8Array(data, 0, n).set(bytes.subarray(0, n));
  Atomics.store(ctrl, CTRL_LEN, n);
  Atomics.store(ctrl, CTRL_STATE, state);
  Atomics.notify(ctrl, CTRL_STATE);
}
const replyText = (state: number, text: string): void => reply(state, new TextEncoder().encode(text));

/** Limits raised to what the adapter offers (compatibility mode starts low, e.g. 4 storage buffers per stage). */
const WANTED_LIMITS = [
  'maxStorageBufferBindingSize', 'maxBufferSize', 'maxComputeWorkgroupStorageSize', 'maxComputeInvocationsPerWorkgroup',
  'maxComputeWorkgroupSizeX', 'maxComputeWorkgroupSizeY', 'maxComputeWorkgroupSizeZ', 'maxComputeWorkgroupsPerDimension',
  'maxStorageBuffersPerShaderStage', 'maxBindingsPerBindGroup',
];
const MIN_STORAGE_BUFFERS = 8;

/**
 * On Linux, Dawn's default adapter is Vulkan; when no Vulkan loader is installed that attempt
 * only prints a warning, so it is skipped.
 */
function vulkanLoaderMissing(): boolean {
  if (process.platform !== 'linux') return false;
  const dirs = [...(process.env.LD_LIBRARY_PATH ?? '').split(':').filter(Boolean),
    '/usr/lib/x86_64-linux-gnu', '/usr/lib/aarch64-linux-gnu', '/lib/x86_64-linux-gnu', '/lib/aarch64-linux-gnu', '/usr/lib64', '/usr/lib', '/lib64', '/lib'];
  return !dirs.some((d) => existsSync(join(d, 'libvulkan.so.1')));
}

/** Keeps Dawn instances alive for the life of the thread. */
const keep: unknown[] = [];

async function open(): Promise<{ report: InitReport; device?: GpuDevice; software?: boolean }> {
  let mod: WebgpuModule;
  try {
    const name = 'webgpu';
    mod = (await import(name)) as WebgpuModule;
  } catch (e) {
    return { report: { ok: false, reason: `the optional npm package "webgpu" (Dawn for Node) could not be loaded: ${(e as Error).message ?? e}` } };
  }
  const env = process.env.PDIFF_WEBGPU_DAWN_OPTS;
  const attempts: Array<{ opts: string[]; featureLevel: string; label: string }> = env !== undefined
    ? [{ opts: env.split(';').filter(Boolean), featureLevel: process.env.PDIFF_WEBGPU_COMPAT === '1' ? 'compatibility' : 'core', label: env || 'default' }]
    : [
      ...(vulkanLoaderMissing() ? [] : [{ opts: [], featureLevel: 'core', label: 'default' }]),
      { opts: ['backend=opengles'], featureLevel: 'compatibility', label: 'opengles' },
      { opts: ['backend=opengl'], featureLevel: 'compatibility', label: 'opengl' },
    ];
  let adapter: GpuAdapter | null = null;
  let used = attempts[0]!;
  const errors: string[] = [];
  for (const a of attempts) {
    try {
      const gpu = mod.create(a.opts);
      keep.push(gpu);
      adapter = await gpu.requestAdapter({ featureLevel: a.featureLevel, powerPreference: 'high-performance' });
      if (adapter) { used = a; break; }
      errors.push(`${a.label}: no adapter`);
    } catch (e) {
      errors.push(`${a.label}: ${(e as Error).message ?? e}`);
    }
  }
  if (!adapter) {
    return {
      report: {
        ok: false,
        reason: `Dawn found no WebGPU adapter (${errors.join('; ')}); without a GPU, Mesa's llvmpipe through OpenGL ES `
          + 'works (Debian packages libegl1 libegl-mesa0 libgles2 libgl1-mesa-dri)',
      },
    };
  }
  const lim = adapter.limits;
  if ((lim.maxStorageBuffersPerShaderStage ?? 0) < MIN_STORAGE_BUFFERS) {
    return { report: { ok: false, reason: `the adapter allows ${lim.maxStorageBuffersPerShaderStage} storage buffers per shader stage; pdiff needs ${MIN_STORAGE_BUFFERS}` } };
  }
  const requiredLimits: Record<string, number> = {};
  for (const k of WANTED_LIMITS) if (lim[k] !== undefined) requiredLimits[k] = lim[k]!;
  let device: GpuDevice;
  try {
    device = await adapter.requestDevice({ requiredLimits });
  } catch (e) {
    return { report: { ok: false, reason: `requestDevice failed: ${(e as Error).message ?? e}` } };
  }
  keep.push(adapter);
  const info = adapter.info ?? {};
  const parts = [info.vendor, info.architecture, info.device, info.description].filter((s) => s && String(s).trim() !== '');
  const name = parts.join(', ') || 'unknown adapter';
  const limits: Record<string, number> = {};
  for (const k of WANTED_LIMITS) if (device.limits[k] !== undefined) limits[k] = device.limits[k]!;
  const software = /llvmpipe|lavapipe|softpipe|swiftshader/i.test(name) || info.isFallbackAdapter === true;
  return { report: { ok: true, adapter: name, backend: used.label, limits }, device, software };
}

async function main(): Promise<void> {
  let opened: Awaited<ReturnType<typeof open>>;
  try {
    opened = await open();
  } catch (e) {
    opened = { report: { ok: false, reason: `opening the WebGPU device failed: ${(e as Error).stack ?? e}` } };
  }
  replyText(opened.report.ok ? STATE_OK : STATE_ERROR, JSON.stringify(opened.report));
  if (!opened.device) { process.exit(0); }
  const ctx = new GpuContext(opened.device, opened.software === true);
  const exec = new Executor(ctx);
  const table = exec as unknown as Record<string, (...args: unknown[]) => void>;

  async function handle(cmds: Cmd[]): Promise<void> {
    for (const [op, args] of cmds) {
      if (op === 'read') {
        const [id, n] = args;
        try {
          const bytes = await exec.readBytes(id, n);
          const err = await ctx.takeError();
          if (err !== null) throw new Error(err);
          reply(STATE_OK, new Uint8Array(bytes));
        } catch (e) {
          const err = await ctx.takeError();
          replyText(STATE_ERROR, err ?? (e as Error).message ?? String(e));
        }
        continue;
      }
      if (op === 'setData') { data = args[0]; continue; }
      try {
        if (profile) await ctx.profiled(op, () => table[op]!(...args));
        else table[op]!(...args);
      } catch (e) {
        ctx.fail(`webgpu ${op}: ${(e as Error).message ?? e}`);
      }
    }
    ctx.submit();
  }

  // PDIFF_WEBGPU_PROFILE=1: run each command alone and print the time per command every 5 s.
  const profile = process.env.PDIFF_WEBGPU_PROFILE === '1';
  if (profile) setInterval(() => process.stderr.write(`webgpu profile:\n${ctx.profileReport()}\n`), 5_000).unref();
  /** Device completion of the last batches: a batch counts as done once the device is at most two batches behind. */
  const inflight: Array<Promise<void>> = [];
  async function batch(cmds: Cmd[], drain: boolean): Promise<void> {
    try {
      await handle(cmds);
      inflight.push(ctx.queue.onSubmittedWorkDone());
      while (inflight.length > (drain ? 0 : 2)) await inflight.shift();
    } catch (e) {
      ctx.fail(String((e as Error)?.stack ?? e));
    } finally {
      Atomics.add(ctrl, CTRL_DONE, 1);
      Atomics.notify(ctrl, CTRL_DONE);
    }
  }
  let chain: Promise<void> = Promise.resolve();
  parentPort!.on('message', (msg: BatchMessage) => { chain = chain.then(() => batch(msg.cmds, msg.drain === true)); });
}

void main();
