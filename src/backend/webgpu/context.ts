/**
 * The worker's view of the GPU: device buffers by id, a pool of buffers by size, the command
 * encoder that collects dispatches until a submit, a ring of 256-byte uniform slots for kernel
 * parameters (bound with a dynamic offset), and caches of pipelines and bind groups.
 *
 * Ordering: everything runs on one queue, so work is executed in the order it is encoded.
 * A buffer given back to the pool may be reused by the very next dispatch (it runs after every
 * earlier use). The only thing that could jump ahead is queue.writeBuffer, so uploads first
 * submit whatever is encoded.
 */
import { gemmShapes } from './k-gemm.js';
import type { Access, Kernel } from './wgsl.js';
import {
  BufferUsage, MapMode, ShaderStage,
  type GpuBindGroup, type GpuBindGroupLayout, type GpuBuffer, type GpuCommandEncoder, type GpuComputePass,
  type GpuComputePipeline, type GpuDevice,
} from './gpu-types.js';

export type { Access, Kernel } from './wgsl.js';

/** A device buffer (its size is the pool bucket, at least what was asked). */
export interface Buf {
  gpu: GpuBuffer;
  size: number;
  serial: number;
}

/** A float parameter (written as its f32 bits); plain numbers are written as u32 / i32. */
export class F32 { constructor(readonly v: number) {} }
export const f = (v: number): F32 => new F32(v);
export type Param = number | boolean | F32;

const SLOT = 256;
const SLOTS = 1024;
const MAX_DISPATCHES_PER_SUBMIT = 256;
/** Readback buffers larger than this are not kept for reuse. */
const STAGING_KEEP_BYTES = 64 * 1024 * 1024;
/** Buffers kept in the pool beyond this many bytes are destroyed. */
const POOL_BYTES = 512 * 1024 * 1024;

/** Pool bucket for a byte size: multiples of 256 B, then four buckets per octave (<= 25% slack). */
export function bucketSize(bytes: number): number {
  const b = Math.max(16, bytes);
  if (b <= 4096) return Math.ceil(b / 256) * 256;
  const step = 2 ** (Math.floor(Math.log2(b)) - 2);
  return Math.ceil(b / step) * step;
}

export class GpuContext {
  readonly queue;
  private readonly bufs = new Map<number, Buf>();
  private readonly pool = new Map<number, Buf[]>();
  private poolBytes = 0;
  private liveBytes = 0;
  private created = 0;
  private readonly staging = new Map<number, GpuBuffer[]>();
  private serial = 0;
  private enc: GpuCommandEncoder | null = null;
  private pass: GpuComputePass | null = null;
  private dispatches = 0;
  private readonly uniform: GpuBuffer;
  private readonly mirror = new ArrayBuffer(SLOT * SLOTS);
  private readonly mirrorU32 = new Uint32Array(this.mirror);
  private readonly mirrorF32 = new Float32Array(this.mirror);
  private readonly mirrorI32 = new Int32Array(this.mirror);
  private slots = 0;
  private readonly layouts = new Map<string, GpuBindGroupLayout>();
  private readonly pipelines = new Map<string, { pipeline: GpuComputePipeline; layout: GpuBindGroupLayout; access: string }>();
  private bindGroups = new Map<string, GpuBindGroup>();
  private readonly toDestroy: GpuBuffer[] = [];
  /** First error seen (reported to the main thread at the next read). */
  error: string | null = null;
  /** Workgroup side of the GEMM tiles (threads per dimension): 16 when the device allows 256 invocations. */
  readonly gemmThreads: number;
  /** Counters for memoryStats: dispatches encoded and bind groups created, ever. */
  private dispatched = 0;
  private bindGroupsCreated = 0;
  /** Conv kernels specialised to each geometry (PDIFF_WEBGPU_CONV_SPECIALIZE=0: one generic kernel per pass). */
  readonly convSpecialize = process.env.PDIFF_WEBGPU_CONV_SPECIALIZE !== '0';
  /** Conv products over all samples at once where the grid allows (PDIFF_WEBGPU_CONV_MERGE=0: one product per sample). */
  readonly convMerge = process.env.PDIFF_WEBGPU_CONV_MERGE !== '0';

  /** GEMM workgroup shape [T, TM, TN] forced by PDIFF_WEBGPU_GEMM_TILE=TxRxC (T 8 or 16, R and C 4 or 8); null = by problem size. */
  readonly gemmTile: [number, number, number] | null = parseTile(process.env.PDIFF_WEBGPU_GEMM_TILE);
  /**
   * Fewest workgroups a larger GEMM tile must leave (PDIFF_WEBGPU_MIN_WORKGROUPS): 2 on a software
   * adapter (llvmpipe runs a workgroup per core), 128 on a GPU (about one per multiprocessor).
   */
  readonly minWorkgroups: number;
  /** GEMM shapes to try, best first (gemmShapes in k-gemm.ts). */
  readonly gemmShapes: Array<[number, number, number]>;

  constructor(readonly device: GpuDevice, software = false) {
    const mw = Number(process.env.PDIFF_WEBGPU_MIN_WORKGROUPS);
    this.minWorkgroups = Number.isInteger(mw) && mw >= 1 ? mw : software ? 2 : 128;
    this.queue = device.queue;
    this.uniform = device.createBuffer({ size: SLOT * SLOTS, usage: BufferUsage.UNIFORM | BufferUsage.COPY_DST });
    const want = Number(process.env.PDIFF_WEBGPU_GEMM_THREADS);
    this.gemmThreads = want === 8 || want === 16 ? want : (device.limits.maxComputeInvocationsPerWorkgroup ?? 128) >= 256 ? 16 : 8;
    this.gemmShapes = gemmShapes(this.gemmThreads, software);
    device.onuncapturederror = (ev) => this.fail(`WebGPU error: ${ev.error?.message ?? String(ev)}`);
    void device.lost.then((info) => this.fail(`WebGPU device lost: ${info?.reason ?? ''} ${info?.message ?? ''}`));
  }

  /** Shader and pipeline errors, which explain the 'invalid due to a previous error' that follow them. */
  private checks: Array<Promise<void>> = [];
  private primary: string | null = null;

  fail(msg: string, primary = false): void {
    if (primary && this.primary === null) this.primary = msg;
    if (this.error === null) this.error = msg;
  }

  /** The error to report (after pending pipeline checks have settled), and forget it. */
  async takeError(): Promise<string | null> {
    if (this.checks.length) {
      const c = this.checks;
      this.checks = [];
      await Promise.all(c);
    }
    const e = this.primary ?? this.error;
    this.primary = null;
    this.error = null;
    return e;
  }

  // ------------------------------------------------------------------ buffers

  private acquire(bytes: number): Buf {
    const size = bucketSize(bytes);
    const list = this.pool.get(size);
    const b = list?.pop();
    if (b) { this.poolBytes -= size; return b; }
    const gpu = this.device.createBuffer({ size, usage: BufferUsage.STORAGE | BufferUsage.COPY_SRC | BufferUsage.COPY_DST });
    this.created++;
    return { gpu, size, serial: ++this.serial };
  }

  /** Give a buffer back to the pool (any later dispatch may reuse it). */
  releaseBuf(b: Buf): void {
    if (this.poolBytes + b.size > POOL_BYTES) { this.toDestroy.push(b.gpu); return; }
    let list = this.pool.get(b.size);
    if (!list) { list = []; this.pool.set(b.size, list); }
    // kept by descending serial, so acquire() pops the oldest buffer: which buffer a tensor gets
    // then depends on which are free, not on the order they came back in, and a training step
    // whose memory is released the same way every step binds the same buffers every step (its
    // bind groups come from the cache)
    let i = list.length;
    while (i > 0 && list[i - 1]!.serial < b.serial) i--;
    list.splice(i, 0, b);
    this.poolBytes += b.size;
  }

  /** A scratch buffer of n 4-byte elements (contents undefined); release it with releaseBuf after encoding its uses. */
  temp(n: number): Buf { return this.acquire(Math.max(1, n) * 4); }

  /** A scratch buffer of n zeros. */
  tempZero(n: number): Buf {
    const b = this.temp(n);
    this.clear(b, 0, Math.max(1, n) * 4);
    return b;
  }

  get(id: number): Buf {
    const b = this.bufs.get(id);
    if (!b) throw new Error(`webgpu: no device buffer with id ${id} (freed, or never allocated)`);
    return b;
  }

  alloc(id: number, n: number, zero: boolean): Buf {
    const b = this.acquire(Math.max(1, n) * 4);
    if (zero) this.clear(b, 0, bucketClearSize(n, b.size));
    const old = this.bufs.get(id);
    if (old) { this.liveBytes -= old.size; this.releaseBuf(old); }
    this.bufs.set(id, b);
    this.liveBytes += b.size;
    return b;
  }

  free(id: number): void {
    const b = this.bufs.get(id);
    if (!b) return;
    this.bufs.delete(id);
    this.liveBytes -= b.size;
    this.releaseBuf(b);
  }

  /** [live buffers, live bytes, pooled bytes, buffers ever created, dispatches ever encoded, bind groups ever created]. */
  stats(): number[] { return [this.bufs.size, this.liveBytes, this.poolBytes, this.created, this.dispatched, this.bindGroupsCreated]; }

  /** Upload `data` at byte offset `offset` of buffer b (submits what is encoded first, to keep the order). */
  upload(b: Buf, offset: number, data: ArrayBufferView): void {
    this.submit();
    const bytes = data.byteLength;
    if (bytes === 0) return;
    if (bytes % 4 !== 0) throw new Error('webgpu: uploads must be a multiple of 4 bytes');
    this.queue.writeBuffer(b.gpu, offset, data.buffer, data.byteOffset, bytes);
  }

  clear(b: Buf, offset: number, bytes: number): void {
    if (bytes <= 0) return;
    this.endPass();
    this.encoder().clearBuffer(b.gpu, offset, bytes);
  }

  copy(src: Buf, srcOff: number, dst: Buf, dstOff: number, bytes: number): void {
    if (bytes <= 0) return;
    this.endPass();
    this.encoder().copyBufferToBuffer(src.gpu, srcOff, dst.gpu, dstOff, bytes);
  }

  /** Read `bytes` bytes of b (from byte 0) into a new ArrayBuffer. */
  async read(b: Buf, bytes: number): Promise<ArrayBuffer> {
    const size = Math.max(16, Math.ceil(bytes / 16) * 16);
    const sb = bucketSize(size);
    const st = this.staging.get(sb)?.pop() ?? this.device.createBuffer({ size: sb, usage: BufferUsage.MAP_READ | BufferUsage.COPY_DST });
    const copyBytes = Math.min(size, b.size);
    this.endPass();
    this.encoder().copyBufferToBuffer(b.gpu, 0, st, 0, copyBytes);
    this.submit();
    await st.mapAsync(MapMode.READ, 0, copyBytes);
    const out = st.getMappedRange(0, copyBytes).slice(0, bytes);
    st.unmap();
    if (sb > STAGING_KEEP_BYTES) { st.destroy(); return out; }
    let list = this.staging.get(sb);
    if (!list) { list = []; this.staging.set(sb, list); }
    list.push(st);
    return out;
  }

  // ------------------------------------------------------------------ profiling

  private readonly profile = new Map<string, { n: number; ms: number }>();

  /** Run `fn` (one command), submit, wait for the device and add the time to `key`'s total. */
  async profiled(key: string, fn: () => void): Promise<void> {
    const t0 = performance.now();
    fn();
    this.submit();
    await this.queue.onSubmittedWorkDone();
    const e = this.profile.get(key) ?? { n: 0, ms: 0 };
    e.n++;
    e.ms += performance.now() - t0;
    this.profile.set(key, e);
  }

  /** Profile totals (command, calls, ms), slowest first. */
  profileReport(): string {
    return [...this.profile].sort((a, b) => b[1].ms - a[1].ms)
      .map(([k, v]) => `${k.padEnd(28)} ${String(v.n).padStart(6)} ${v.ms.toFixed(1).padStart(10)} ms`).join('\n');
  }

  // ------------------------------------------------------------------ encoding

  private encoder(): GpuCommandEncoder {
    if (!this.enc) this.enc = this.device.createCommandEncoder();
    return this.enc;
  }

  private endPass(): void {
    if (this.pass) { this.pass.end(); this.pass = null; }
  }

  /** Submit everything encoded so far (with its parameter slots). */
  submit(): void {
    this.endPass();
    if (this.enc) {
      if (this.slots > 0) this.queue.writeBuffer(this.uniform, 0, this.mirror, 0, this.slots * SLOT);
      this.queue.submit([this.enc.finish()]);
      this.enc = null;
    }
    this.slots = 0;
    this.dispatches = 0;
    if (this.toDestroy.length) {
      for (const g of this.toDestroy) g.destroy();
      this.toDestroy.length = 0;
      this.bindGroups.clear();
    }
  }

  private layout(access: string): GpuBindGroupLayout {
    let l = this.layouts.get(access);
    if (!l) {
      const entries: object[] = [{ binding: 0, visibility: ShaderStage.COMPUTE, buffer: { type: 'uniform', hasDynamicOffset: true, minBindingSize: SLOT } }];
      for (let i = 0; i < access.length; i++) {
        entries.push({ binding: i + 1, visibility: ShaderStage.COMPUTE, buffer: { type: access[i] === 'r' ? 'read-only-storage' : 'storage' } });
      }
      l = this.device.createBindGroupLayout({ entries });
      this.layouts.set(access, l);
    }
    return l;
  }

  private pipeline(k: Kernel): { pipeline: GpuComputePipeline; layout: GpuBindGroupLayout; access: string } {
    let p = this.pipelines.get(k.key);
    if (!p) {
      const access = k.access.join('');
      const layout = this.layout(access);
      const code = k.code();
      this.device.pushErrorScope('validation');
      const module = this.device.createShaderModule({ code });
      const pipeline = this.device.createComputePipeline({
        layout: this.device.createPipelineLayout({ bindGroupLayouts: [layout] }),
        compute: { module, entryPoint: 'main' },
      });
      this.checks.push(this.device.popErrorScope().then((e) => {
        if (e) {
          this.fail(`webgpu: kernel ${k.key} failed to compile: ${e.message}`, true);
          if (process.env.PDIFF_WEBGPU_DEBUG) process.stderr.write(`${code}\n`);
        }
      }));
      p = { pipeline, layout, access };
      this.pipelines.set(k.key, p);
    }
    return p;
  }

  private bindGroup(p: { layout: GpuBindGroupLayout; access: string }, bufs: readonly Buf[]): GpuBindGroup {
    let key = p.access;
    for (const b of bufs) key += `,${b.serial}`;
    let bg = this.bindGroups.get(key);
    if (!bg) {
      if (this.bindGroups.size > 8192) this.bindGroups = new Map();
      const entries: object[] = [{ binding: 0, resource: { buffer: this.uniform, offset: 0, size: SLOT } }];
      bufs.forEach((b, i) => entries.push({ binding: i + 1, resource: { buffer: b.gpu } }));
      bg = this.device.createBindGroup({ layout: p.layout, entries });
      this.bindGroupsCreated++;
      this.bindGroups.set(key, bg);
    }
    return bg;
  }

  /**
   * Encode one dispatch of kernel k over `groups` workgroups with parameters `params` (u32 words;
   * F32 values as float bits). A read_write binding whose buffer is also bound elsewhere goes
   * through a scratch copy (WebGPU forbids the aliasing), so in-place calls work.
   */
  dispatch(k: Kernel, bufs: readonly Buf[], groups: readonly [number, number?, number?], params: readonly Param[]): void {
    const gx = groups[0], gy = groups[1] ?? 1, gz = groups[2] ?? 1;
    if (gx <= 0 || gy <= 0 || gz <= 0) return;
    if (bufs.length !== k.access.length) throw new Error(`webgpu: kernel ${k.key} takes ${k.access.length} buffers, got ${bufs.length}`);
    if (params.length > SLOT / 4) throw new Error(`webgpu: kernel ${k.key}: too many parameters`);
    let bound = bufs;
    let fix: Array<[Buf, Buf]> | null = null;
    for (let i = 0; i < bufs.length; i++) {
      if (k.access[i] !== 'w') continue;
      const b = bufs[i]!;
      let alias = false;
      for (let j = 0; j < bufs.length; j++) if (j !== i && bufs[j] === b) { alias = true; break; }
      if (!alias) continue;
      if (bound === bufs) bound = [...bufs];
      const t = this.acquire(b.size);
      this.copy(b, 0, t, 0, b.size);
      (bound as Buf[])[i] = t;
      (fix ??= []).push([t, b]);
    }
    const p = this.pipeline(k);
    if (this.slots >= SLOTS) this.submit();
    const base = this.slots * (SLOT / 4);
    for (let i = 0; i < params.length; i++) {
      const v = params[i]!;
      if (v instanceof F32) this.mirrorF32[base + i] = v.v;
      else if (typeof v === 'boolean') this.mirrorU32[base + i] = v ? 1 : 0;
      else if (v < 0) this.mirrorI32[base + i] = v;
      else this.mirrorU32[base + i] = v;
    }
    const slot = this.slots++;
    const bg = this.bindGroup(p, bound);
    if (!this.pass) this.pass = this.encoder().beginComputePass();
    this.pass.setPipeline(p.pipeline);
    this.pass.setBindGroup(0, bg, [slot * SLOT]);
    this.pass.dispatchWorkgroups(gx, gy, gz);
    if (fix) {
      for (const [t, b] of fix) { this.copy(t, 0, b, 0, b.size); this.releaseBuf(t); }
    }
    this.dispatched++;
    if (++this.dispatches >= MAX_DISPATCHES_PER_SUBMIT) this.submit();
  }
}

/** Bytes to clear for n elements in a buffer of `size` bytes (a multiple of 4). */
function bucketClearSize(n: number, size: number): number {
  return Math.min(size, Math.max(4, n * 4));
}

/** Workgroup grid for `n` workgroups: [x, y] with x <= 32768 (kernels linearise wid.x + wid.y * nwg.x). */
export function grid(n: number): [number, number] {
  if (n <= 32768) return [n, 1];
  return [32768, Math.ceil(n / 32768)];
}

/** "TxRxC" (T 8 or 16, R and C 4 or 8) as [T, R, C]; null when unset; an error for anything else. */
function parseTile(v: string | undefined): [number, number, number] | null {
  if (v === undefined || v === '') return null;
  const m = /^(8|16)x([48])x([48])$/.exec(v);
  if (!m) throw new Error(`PDIFF_WEBGPU_GEMM_TILE must be TxRxC with T 8 or 16 and R, C 4 or 8 (e.g. 16x8x8), got "${v}"`);
  return [Number(m[1]), Number(m[2]), Number(m[3])];
}
