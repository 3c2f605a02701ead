/**
 * The WebGPU backend as the engine sees it (main thread). Storages are small handles
 * { id, length }; their memory lives only on the device, owned by a worker thread (worker.ts).
 * Every kernel call becomes a command queued for the worker; commands are posted in batches
 * (when many are pending, before a read, and at the end of the current task). Only calls that
 * must return host values (read, readIndex, sumSquares, countNonFinite)
 * block, in Atomics.wait, until the worker has copied the values into shared memory. Commands
 * are posted later than they are made, so each carries its own copy of every argument object
 * (a caller may reuse and change a geometry object after the call).
 *
 * Device memory is freed when a handle is garbage-collected (FinalizationRegistry). Training
 * loops here are long synchronous stretches, during which ordinary finalizers never run; where
 * V8 offers FinalizationRegistry.prototype.cleanupSome (Node 20), allocations call it so memory
 * is recycled without waiting for the event loop. Handles are tiny, so the JS heap alone would
 * rarely trigger a collection: after every `gcBytes` of device allocations (PDIFF_WEBGPU_GC_MB,
 * default 512; 0 turns it off) the backend runs a full collection itself.
 *
 * Index storages (allocIndex: maxPool2dForward's argmax, argmaxRows) are device buffers of int32
 * values, marked on their handle so that read() refuses them and readIndex() takes only them.
 *
 * Small storages written from the host (scalars, the loss seed) keep a host copy until a kernel
 * writes them, so reading them back costs no round trip.
 */
import type { Worker } from 'node:worker_threads';
import { ShapeError } from '../../util/errors.js';
import { makeRegistry, type Registry } from '../finalize.js';
import type {
  AdamStepArgs, Backend, BatchNormEvalBackwardArgs, BatchNormEvalForwardArgs, BatchNormRunningArgs, BatchNormTrainForwardArgs, BinaryOp,
  CrossEntropyArgs, DType, MatmulArgs, NormBackwardArgs, NormForwardArgs, SgdStepArgs, SoftmaxArgs, Storage, UnaryOp,
} from '../backend.js';
import { convGroups, isDepthwise, type Conv2dGeom, type GroupNormGeom, type LayerNormGeom, type NormGeom, type Pool2dGeom } from '../kernels.js';
import { groupedConv2dBackwardData, groupedConv2dBackwardWeight, groupedConv2dForward } from '../grouped.js';
import {
  CTRL_DONE, CTRL_LEN, CTRL_STATE, STATE_ERROR, STATE_WAITING, type BatchMessage, type Cmd, type DeviceOps, type OpName,
} from './protocol.js';

/** A device tensor's handle. */
export class GpuStorage implements Storage {
  /** Set by release(): the device buffer is gone. */
  released = false;
  /** @param index an index storage (int32 values, from allocIndex) */
  constructor(readonly id: number, readonly length: number, readonly index = false) {}
}

/** Storages up to this many elements keep a host copy while it is valid. */
const KNOWN_MAX = 16;
/** Post the pending commands once this many are queued. */
const BATCH_MAX = 512;
const BATCH_BYTES = 16 * 1024 * 1024;
/** Batches posted but not yet finished by the worker before flush() waits. */
const MAX_INFLIGHT = 4;

/**
 * What a new storage of n values adds towards the next forced collection: its bytes, but at least
 * 64 KiB, so that many small storages left to the collector (a loss, a running statistic) also
 * bring one about (512 MB: after 8,192 of them). release() takes the charge back.
 */
function gcCharge(n: number): number { return Math.max(n * 4, 65536); }

function waitMs(): number {
  const v = Number(process.env.PDIFF_WEBGPU_TIMEOUT_MS);
  return Number.isFinite(v) && v > 0 ? v : 600_000;
}

/** Block until the worker leaves STATE_WAITING (or the timeout passes). */
export function waitForWorker(ctrl: Int32Array, timeoutMs: number, what: string): void {
  const t0 = Date.now();
  while (Atomics.load(ctrl, CTRL_STATE) === STATE_WAITING) {
    Atomics.wait(ctrl, CTRL_STATE, STATE_WAITING, 1000);
    if (Atomics.load(ctrl, CTRL_STATE) === STATE_WAITING && Date.now() - t0 > timeoutMs) {
      throw new Error(`webgpu: no answer from the device worker after ${Math.round((Date.now() - t0) / 1000)} s (${what})`);
    }
  }
}

export class WebgpuBackend implements Backend {
  readonly name = 'webgpu';
  readonly dtype: DType = 'float32';
  readonly description: string;
  private nextId = 1;
  private pending: Cmd[] = [];
  private transfer: ArrayBuffer[] = [];
  private pendingBytes = 0;
  private posted = 0;
  private flushQueued = false;
  private allocs = 0;
  private readonly registry: Registry<number>;
  /** Whether freed handles are collected during synchronous code (FinalizationRegistry cleanupSome). */
  readonly syncCleanup: boolean;
  /** Device bytes allocated between forced garbage collections (0: never force one). */
  gcBytes: number;
  private sinceGc = 0;
  /** Full collections forced to recycle device memory, and the main thread's milliseconds in them. */
  private forcedGcs = 0;
  private forcedGcMs = 0;
  /** Times the main thread waited for values from the device (reads, readIndex, ...). */
  private waits = 0;
  private readonly known = new Map<number, Float32Array>();
  private readonly flushNow = (): void => { this.flushQueued = false; this.flush(); };

  constructor(private readonly worker: Worker, private readonly ctrl: Int32Array, private data: SharedArrayBuffer,
    readonly adapter: string, readonly dawnBackend: string) {
    this.description = `WebGPU (Dawn ${dawnBackend}, ${adapter})`;
    this.registry = makeRegistry<number>((id) => { this.known.delete(id); this.push(['free', [id]]); },
      { sync: process.env.PDIFF_WEBGPU_NO_CLEANUP_SOME !== '1', gc: true });
    this.syncCleanup = this.registry.sync;
    // Let the worker finish before the process exits: terminating it inside a Dawn call, or with
    // an onSubmittedWorkDone promise pending, aborts the process (SIGABRT at exit).
    process.once('exit', () => {
      if (this.posted === 0 && this.pending.length === 0) return;
      try { this.drain(60_000); } catch { /* exiting anyway */ }
    });
    const mb = Number(process.env.PDIFF_WEBGPU_GC_MB);
    this.gcBytes = (Number.isFinite(mb) && mb >= 0 ? mb : 512) * 1024 * 1024;
  }

  // ------------------------------------------------------------------ queue

  private push(cmd: Cmd, transfer?: ArrayBuffer, bytes = 0): void {
    this.pending.push(cmd);
    if (transfer) this.transfer.push(transfer);
    this.pendingBytes += bytes;
    if (this.pending.length >= BATCH_MAX || this.pendingBytes >= BATCH_BYTES) this.flush();
    else if (!this.flushQueued) { this.flushQueued = true; queueMicrotask(this.flushNow); }
  }

  private call<K extends OpName>(op: K, args: Parameters<DeviceOps[K]>, ...outs: Array<Storage | null>): void {
    for (const o of outs) if (o !== null) this.known.delete(this.id(o));
    this.push([op, args] as Cmd);
  }

  /** Post the queued commands to the worker. */
  flush(): void {
    if (this.pending.length === 0) return;
    const t0 = Date.now();
    for (;;) {
      const done = Atomics.load(this.ctrl, CTRL_DONE);
      if (this.posted - done < MAX_INFLIGHT) break;
      Atomics.wait(this.ctrl, CTRL_DONE, done, 1000);
      if (Date.now() - t0 > waitMs()) throw new Error('webgpu: the device worker stopped taking commands');
    }
    const msg: BatchMessage = { type: 'batch', cmds: this.pending };
    this.worker.postMessage(msg, this.transfer);
    this.posted++;
    this.pending = [];
    this.transfer = [];
    this.pendingBytes = 0;
  }

  /** Post everything queued and wait until the device has finished all of it (see BatchMessage.drain). */
  drain(timeoutMs = waitMs()): void {
    this.flush();
    const msg: BatchMessage = { type: 'batch', cmds: [], drain: true };
    this.worker.postMessage(msg);
    const target = ++this.posted;
    const t0 = Date.now();
    for (;;) {
      const done = Atomics.load(this.ctrl, CTRL_DONE);
      if (done >= target) break;
      if (Date.now() - t0 > timeoutMs) throw new Error('webgpu: the device worker did not finish its work');
      Atomics.wait(this.ctrl, CTRL_DONE, done, 100);
    }
  }

  private id(s: Storage): number {
    if (!(s instanceof GpuStorage)) throw new TypeError('webgpu: this storage belongs to another backend');
    if (s.released) throw new Error(`webgpu: storage ${s.id} (${s.length} values) used after release()`);
    return s.id;
  }

  /** Free the device buffer now (it returns to the worker's pool) rather than at garbage collection. */
  release(s: Storage): void {
    if (s instanceof GpuStorage && s.released) return;
    const id = this.id(s);
    if (!this.registry.unregister(s)) return;
    (s as GpuStorage).released = true;
    // memory given back without a collection does not bring the next forced one closer
    this.sinceGc = Math.max(0, this.sinceGc - gcCharge(s.length));
    this.known.delete(id);
    this.push(['free', [id]]);
  }
  private oid(s: Storage | null): number | null { return s === null ? null : this.id(s); }
  /** The id of an index storage (from allocIndex). */
  private idx(s: Storage, where: string): number {
    const id = this.id(s);
    if (!(s as GpuStorage).index) throw new TypeError(`${where}: expected an index storage (from allocIndex), got a float storage`);
    return id;
  }

  private handle(n: number, index = false): GpuStorage {
    const id = this.nextId++;
    const s = new GpuStorage(id, n, index);
    this.registry.register(s, id);
    this.sinceGc += gcCharge(n);
    if (this.gcBytes > 0 && this.sinceGc >= this.gcBytes && this.registry.gc) {
      this.sinceGc = 0;
      const t0 = performance.now();
      this.registry.gc();
      this.registry.cleanup();
      this.forcedGcs++;
      this.forcedGcMs += performance.now() - t0;
    } else if ((++this.allocs & 63) === 0) this.registry.cleanup();
    return s;
  }

  /** Read n 4-byte values of device buffer `id` (blocks until the worker answers). */
  private readRaw(id: number, n: number, timeoutMs = waitMs()): ArrayBuffer {
    this.waits++;
    const bytes = n * 4;
    if (bytes === 0) return new ArrayBuffer(0);
    if (this.data.byteLength < bytes) {
      this.data = new SharedArrayBuffer(Math.max(bytes, 2 * this.data.byteLength));
      this.push(['setData', [this.data]]);
    }
    Atomics.store(this.ctrl, CTRL_STATE, STATE_WAITING);
    this.push(['read', [id, n]]);
    this.flush();
    waitForWorker(this.ctrl, timeoutMs, `reading ${n} values`);
    const len = Atomics.load(this.ctrl, CTRL_LEN);
    if (Atomics.load(this.ctrl, CTRL_STATE) === STATE_ERROR) {
      throw new Error(new TextDecoder().decode(new Uint8Array(this.data, 0, len).slice()));
    }
    return new Uint8Array(this.data, 0, bytes).slice().buffer;
  }

  /** Run `op` into a scratch device buffer of n values and read it back. */
  private scratchRead(n: number, op: (out: number) => void, timeoutMs = waitMs()): ArrayBuffer {
    const id = this.nextId++;
    this.push(['alloc', [id, n]]);
    op(id);
    try {
      return this.readRaw(id, n, timeoutMs);
    } finally {
      this.push(['free', [id]]);
    }
  }

  /** Wait until the device has finished everything queued so far (for timing). */
  sync(): void {
    this.scratchRead(1, () => {});
  }

  /**
   * Device memory in use: live storages (and their bytes), bytes pooled for reuse, buffers ever
   * created; and, for the fixed cost per op, dispatches ever encoded and bind groups ever created
   * (a bind group is reused while the same buffers meet the same kernel layout again); and the
   * full garbage collections forced to recycle device memory (PDIFF_WEBGPU_GC_MB) with their time;
   * and how often the main thread waited for the device to hand back values.
   */
  memoryStats(): {
    liveBuffers: number; liveBytes: number; pooledBytes: number; createdBuffers: number; dispatches: number; bindGroups: number;
    forcedGcs: number; forcedGcMs: number; waits: number;
  } {
    this.registry.cleanup();
    const waits = this.waits; // not counting this call's own
    const s = new Float64Array(this.scratchRead(12, (out) => this.push(['stats', [out]]))); // 6 float64 in 12 words
    this.waits = waits;
    // the scratch buffer itself is live while stats are taken
    return {
      liveBuffers: s[0]! - 1, liveBytes: s[1]!, pooledBytes: s[2]!, createdBuffers: s[3]!, dispatches: s[4]!, bindGroups: s[5]!,
      forcedGcs: this.forcedGcs, forcedGcMs: this.forcedGcMs, waits,
    };
  }

  // ------------------------------------------------------------------ memory

  alloc(n: number): Storage {
    const s = this.handle(n);
    this.push(['alloc', [s.id, n, true]]);
    if (n <= KNOWN_MAX) this.known.set(s.id, new Float32Array(n));
    return s;
  }
  /** Fill every `empty` storage with NaN (PDIFF_POISON_EMPTY=1): see CpuBackend.poisonEmpty. */
  poisonEmpty = process.env.PDIFF_POISON_EMPTY === '1';
  /** No clear pass on the device (a fresh GPU buffer is zeros anyway; a pooled one keeps old values). */
  empty(n: number): Storage {
    const s = this.handle(n);
    this.push(['alloc', [s.id, n, false]]);
    if (this.poisonEmpty) this.fill(s, NaN);
    return s;
  }
  /** A device buffer of n int32 zeros (the same clear pass as alloc), never kept on the host. */
  allocIndex(n: number): Storage {
    const s = this.handle(n, true);
    this.push(['alloc', [s.id, n, true]]);
    return s;
  }
  fromArray(data: ArrayLike<number>): Storage {
    const arr = Float32Array.from(data);
    const s = this.handle(arr.length);
    if (arr.length <= KNOWN_MAX) this.known.set(s.id, arr.slice());
    this.push(['upload', [s.id, arr]], arr.buffer, arr.byteLength);
    return s;
  }
  read(s: Storage): Float32Array {
    const id = this.id(s);
    if ((s as GpuStorage).index) throw new TypeError('read: this is an index storage; read it with readIndex');
    const k = this.known.get(id);
    if (k) return k.slice();
    return new Float32Array(this.readRaw(id, s.length));
  }
  readIndex(s: Storage): Int32Array {
    const id = this.id(s);
    if (!(s as GpuStorage).index) throw new TypeError('readIndex: expected an index storage (from allocIndex), got a float storage');
    return new Int32Array(this.readRaw(id, s.length));
  }
  write(s: Storage, data: ArrayLike<number>, offset = 0): void {
    const id = this.id(s);
    const arr = Float32Array.from(data);
    if (offset < 0 || offset + arr.length > s.length) throw new RangeError(`write: ${arr.length} values at offset ${offset} do not fit a storage of ${s.length}`);
    const k = this.known.get(id);
    if (k) k.set(arr, offset);
    this.push(['write', [id, offset, arr]], arr.buffer, arr.byteLength);
  }
  fill(s: Storage, value: number): void {
    const id = this.id(s);
    if (s.length <= KNOWN_MAX) this.known.set(id, new Float32Array(s.length).fill(value));
    this.push(['fill', [id, value]]);
  }
  clone(s: Storage): Storage {
    // handle() may run finalizers: take ids only after it, while s is still referenced.
    const c = this.handle(s.length, s instanceof GpuStorage && s.index);
    const src = this.id(s);
    const k = this.known.get(src);
    if (k) this.known.set(c.id, k.slice());
    this.push(['clone', [src, c.id]]);
    return c;
  }
  /** Storages live on the device: no host view (read copies out). */
  hostView(_s: Storage): null { return null; }
  /** Storages live on the device: a host array is copied in by fromArray. */
  wrapHost(_a: Float32Array | Float64Array): null { return null; }
  /** No fused inference kernels: callers use the separate ones. */
  readonly fusedEval = null;

  // ------------------------------------------------------------------ elementwise

  unary(op: UnaryOp, x: Storage, y: Storage, alpha: number, beta: number): void {
    this.call('unary', [op, this.id(x), this.id(y), alpha, beta], y);
  }
  unaryBackward(op: UnaryOp, x: Storage, y: Storage, gy: Storage, gx: Storage, alpha: number, beta: number): void {
    this.call('unaryBackward', [op, this.id(x), this.id(y), this.id(gy), this.id(gx), alpha, beta], gx);
  }
  binary(op: BinaryOp, a: Storage, aShape: readonly number[], b: Storage, bShape: readonly number[], y: Storage, yShape: readonly number[]): void {
    this.call('binary', [op, this.id(a), [...aShape], this.id(b), [...bShape], this.id(y), [...yShape]], y);
  }
  sumTo(x: Storage, xShape: readonly number[], y: Storage, yShape: readonly number[]): void {
    this.call('sumTo', [this.id(x), [...xShape], this.id(y), [...yShape]], y);
  }
  axpy(alpha: number, x: Storage, y: Storage): void { this.call('axpy', [alpha, this.id(x), this.id(y)], y); }
  sumSquares(x: Storage): number {
    const xi = this.id(x);
    return new Float32Array(this.scratchRead(1, (out) => this.push(['sumSquares', [xi, out]])))[0]!;
  }
  countNonFinite(x: Storage): number {
    const xi = this.id(x);
    return Math.round(new Float32Array(this.scratchRead(1, (out) => this.push(['countNonFinite', [xi, out]])))[0]!);
  }

  // ------------------------------------------------------------------ linear algebra

  matmul(args: MatmulArgs): void {
    this.call('matmul', [{ ...args, a: this.id(args.a), b: this.id(args.b), c: this.id(args.c) }], args.c);
  }
  // Depthwise geometries go to the worker's direct kernels (k-depthwise.ts); other groups > 1 run
  // as one dense convolution per group, composed here from copyRegion and the groups = 1 commands.
  conv2dForward(x: Storage, w: Storage, bias: Storage | null, y: Storage, g: Conv2dGeom): void {
    if (convGroups(g) !== 1 && !isDepthwise(g)) { groupedConv2dForward(this, x, w, bias, y, g); return; }
    this.call('conv2dForward', [this.id(x), this.id(w), this.oid(bias), this.id(y), { ...g }], y);
  }
  conv2dBackwardData(gy: Storage, w: Storage, gx: Storage, g: Conv2dGeom): void {
    if (convGroups(g) !== 1 && !isDepthwise(g)) { groupedConv2dBackwardData(this, gy, w, gx, g); return; }
    this.call('conv2dBackwardData', [this.id(gy), this.id(w), this.id(gx), { ...g }], gx);
  }
  conv2dBackwardWeight(gy: Storage, x: Storage, gw: Storage, g: Conv2dGeom): void {
    if (convGroups(g) !== 1 && !isDepthwise(g)) { groupedConv2dBackwardWeight(this, gy, x, gw, g); return; }
    this.call('conv2dBackwardWeight', [this.id(gy), this.id(x), this.id(gw), { ...g }], gw);
  }

  // ------------------------------------------------------------------ pooling

  maxPool2dForward(x: Storage, y: Storage, argmax: Storage, g: Pool2dGeom): void {
    this.call('maxPool2dForward', [this.id(x), this.id(y), this.idx(argmax, 'maxPool2dForward'), { ...g }], y);
  }
  maxPool2dBackward(gy: Storage, argmax: Storage, gx: Storage, g: Pool2dGeom): void {
    this.call('maxPool2dBackward', [this.id(gy), this.idx(argmax, 'maxPool2dBackward'), this.id(gx), { ...g }], gx);
  }
  avgPool2dForward(x: Storage, y: Storage, g: Pool2dGeom): void { this.call('avgPool2dForward', [this.id(x), this.id(y), { ...g }], y); }
  avgPool2dBackward(gy: Storage, gx: Storage, g: Pool2dGeom): void { this.call('avgPool2dBackward', [this.id(gy), this.id(gx), { ...g }], gx); }

  // ------------------------------------------------------------------ normalisation

  batchNormTrainForward(a: BatchNormTrainForwardArgs, g: NormGeom): void {
    this.call('batchNormTrainForward', [{
      x: this.id(a.x), gamma: this.oid(a.gamma), beta: this.oid(a.beta), y: this.id(a.y), mean: this.id(a.mean), invstd: this.id(a.invstd), varBiased: this.id(a.varBiased),
    }, { ...g }], a.y, a.mean, a.invstd, a.varBiased);
  }
  batchNormTrainBackward(a: NormBackwardArgs, g: NormGeom): void {
    this.call('batchNormTrainBackward', [this.backwardIds(a), { ...g }], a.gx, a.ggamma, a.gbeta);
  }
  batchNormEvalForward(a: BatchNormEvalForwardArgs, g: NormGeom): void {
    this.call('batchNormEvalForward', [{
      x: this.id(a.x), gamma: this.oid(a.gamma), beta: this.oid(a.beta), runMean: this.id(a.runMean), runVar: this.id(a.runVar), y: this.id(a.y),
    }, { ...g }], a.y);
  }
  batchNormEvalBackward(a: BatchNormEvalBackwardArgs, g: NormGeom): void {
    this.call('batchNormEvalBackward', [{
      gy: this.id(a.gy), x: this.id(a.x), gamma: this.oid(a.gamma), runMean: this.id(a.runMean), runVar: this.id(a.runVar),
      gx: this.oid(a.gx), ggamma: this.oid(a.ggamma), gbeta: this.oid(a.gbeta),
    }, { ...g }], a.gx, a.ggamma, a.gbeta);
  }
  batchNormUpdateRunning(a: BatchNormRunningArgs): void {
    this.call('batchNormUpdateRunning', [{
      runMean: this.id(a.runMean), runVar: this.id(a.runVar), mean: this.id(a.mean), varBiased: this.id(a.varBiased), momentum: a.momentum, m: a.m,
    }], a.runMean, a.runVar);
  }
  groupNormForward(a: NormForwardArgs, g: GroupNormGeom): void {
    checkGroups(g.c, g.groups, 'groupNormForward');
    this.call('groupNormForward', [this.forwardIds(a), { ...g }], a.y, a.mean, a.invstd);
  }
  groupNormBackward(a: NormBackwardArgs, g: GroupNormGeom): void {
    checkGroups(g.c, g.groups, 'groupNormBackward');
    this.call('groupNormBackward', [this.backwardIds(a), { ...g }], a.gx, a.ggamma, a.gbeta);
  }
  /** Layer norm is group norm of [rows, d, 1] in one group. */
  layerNormForward(a: NormForwardArgs, g: LayerNormGeom): void {
    this.call('groupNormForward', [this.forwardIds(a), { n: g.rows, c: g.d, s: 1, groups: 1, eps: g.eps }], a.y, a.mean, a.invstd);
  }
  layerNormBackward(a: NormBackwardArgs, g: LayerNormGeom): void {
    this.call('groupNormBackward', [this.backwardIds(a), { n: g.rows, c: g.d, s: 1, groups: 1, eps: g.eps }], a.gx, a.ggamma, a.gbeta);
  }
  private forwardIds(a: NormForwardArgs): NormForwardArgs<number> {
    return { x: this.id(a.x), gamma: this.oid(a.gamma), beta: this.oid(a.beta), y: this.id(a.y), mean: this.id(a.mean), invstd: this.id(a.invstd) };
  }
  private backwardIds(a: NormBackwardArgs): NormBackwardArgs<number> {
    return {
      gy: this.id(a.gy), x: this.id(a.x), gamma: this.oid(a.gamma), mean: this.id(a.mean), invstd: this.id(a.invstd),
      gx: this.oid(a.gx), ggamma: this.oid(a.ggamma), gbeta: this.oid(a.gbeta),
    };
  }

  // ------------------------------------------------------------------ softmax and losses

  softmax(x: Storage, y: Storage, a: SoftmaxArgs): void {
    this.call('softmax', [this.id(x), this.id(y), { ...a }], y);
  }
  softmaxBackward(y: Storage, gy: Storage, gx: Storage, a: SoftmaxArgs): void {
    this.call('softmaxBackward', [this.id(y), this.id(gy), this.id(gx), { ...a }], gx);
  }
  crossEntropy({ logits, labels, rows, cols, smoothing, grad, loss }: CrossEntropyArgs): void {
    for (let r = 0; r < rows; r++) {
      const label = labels[r]!;
      if (!(label >= 0 && label < cols)) throw new RangeError(`crossEntropy: label ${label} of row ${r} is outside [0, ${cols})`);
    }
    const li = this.id(logits), gi = this.oid(grad), out = this.id(loss);
    if (grad !== null) this.known.delete(gi!);
    this.known.delete(out);
    const lab = Int32Array.from(labels.subarray(0, rows));
    this.push(['crossEntropy', [{ logits: li, labels: lab, rows, cols, smoothing, grad: gi, loss: out }]], lab.buffer, lab.byteLength);
  }
  argmaxRows(x: Storage, rows: number, cols: number, out: Storage): void {
    this.call('argmaxRows', [this.id(x), rows, cols, this.idx(out, 'argmaxRows')]);
  }

  // ------------------------------------------------------------------ layout

  permute(x: Storage, shape: readonly number[], perm: readonly number[], y: Storage): void {
    this.call('permute', [this.id(x), [...shape], [...perm], this.id(y)], y);
  }
  copyRegion(src: Storage, srcShape: readonly number[], srcStart: readonly number[],
    dst: Storage, dstShape: readonly number[], dstStart: readonly number[], region: readonly number[]): void {
    this.call('copyRegion', [this.id(src), [...srcShape], [...srcStart], this.id(dst), [...dstShape], [...dstStart], [...region]], dst);
  }

  // ------------------------------------------------------------------ optimisers

  adamStep(a: AdamStepArgs): void {
    this.call('adamStep', [{ ...a, p: this.id(a.p), g: this.id(a.g), m: this.id(a.m), v: this.id(a.v) }], a.p, a.m, a.v);
  }
  sgdStep(a: SgdStepArgs): void {
    this.call('sgdStep', [{ ...a, p: this.id(a.p), g: this.id(a.g), buf: this.oid(a.buf) }], a.p, a.buf);
  }
  emaUpdate(y: Storage, x: Storage, decay: number): void { this.call('emaUpdate', [this.id(y), this.id(x), decay], y); }
}

function checkGroups(c: number, groups: number, where: string): void {
  if (!(Number.isInteger(groups) && groups > 0 && c % groups === 0)) {
    throw new ShapeError(`${where}: groups must be a positive divisor of the channel count ${c}, got ${groups}`);
  }
}
