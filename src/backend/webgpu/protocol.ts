/**
 * What the main thread (WebgpuBackend) sends to the worker that owns the GPU device.
 *
 * Commands mirror the Backend interface with every Storage replaced by its id (a number the main
 * thread hands out; the named-argument objects of backend.ts are used with S = Id) and with an
 * extra output id where the Backend method returns a value (sumSquares, countNonFinite): the
 * worker writes the value into that device buffer and the main thread reads it back with `read`.
 * An index storage (allocIndex) is a device buffer like any other; its kernels write int32.
 *
 * Messages are `{ type: 'batch', cmds }` and are executed strictly in order. After each batch the
 * worker bumps ctrl[CTRL_DONE]; the main thread keeps at most a few batches in flight (back
 * pressure, so a loop that never reads cannot run ahead of the device). Only `read` answers:
 * the worker copies the values into the shared data buffer, stores the byte count in
 * ctrl[CTRL_LEN] and sets ctrl[CTRL_STATE] to STATE_OK (or STATE_ERROR with a UTF-8 message in
 * the data buffer), then Atomics.notify()s; the main thread sleeps in Atomics.wait meanwhile.
 */
import type {
  AdamStepArgs, BatchNormEvalBackwardArgs, BatchNormEvalForwardArgs, BatchNormRunningArgs, BatchNormTrainForwardArgs, BinaryOp,
  CrossEntropyArgs, MatmulArgs, NormBackwardArgs, NormForwardArgs, SgdStepArgs, SoftmaxArgs, UnaryOp,
} from '../backend.js';
import type { Conv2dGeom, GroupNormGeom, NormGeom, Pool2dGeom } from '../kernels.js';

export const CTRL_STATE = 0;
export const CTRL_LEN = 1;
/** Batches the worker has finished (encoded, submitted, and the device at most two batches behind). */
export const CTRL_DONE = 2;
export const STATE_WAITING = 0;
export const STATE_OK = 1;
export const STATE_ERROR = 2;

type Id = number;
type OptId = number | null;
type Shape = readonly number[];

/** The device-side operations; the worker implements them (executor.ts). */
export interface DeviceOps {
  // memory
  /** A device buffer of n values: zeros, or (zero = false) whatever the pooled buffer held. */
  alloc(id: Id, n: number, zero?: boolean): void;
  upload(id: Id, data: Float32Array | Int32Array): void;
  write(id: Id, offset: number, data: Float32Array): void;
  free(id: Id): void;
  fill(id: Id, value: number): void;
  clone(src: Id, id: Id): void;
  setData(sab: SharedArrayBuffer): void;
  /** Asynchronous on the device; answers through the shared buffers (see the header). */
  read(id: Id, n: number): void;
  /** Writes [live buffers, live bytes, pooled bytes, buffers ever created] (as floats) into `out`. */
  stats(out: Id): void;

  // elementwise and reductions
  unary(op: UnaryOp, x: Id, y: Id, alpha: number, beta: number): void;
  unaryBackward(op: UnaryOp, x: Id, y: Id, gy: Id, gx: Id, alpha: number, beta: number): void;
  binary(op: BinaryOp, a: Id, aShape: Shape, b: Id, bShape: Shape, y: Id, yShape: Shape): void;
  sumTo(x: Id, xShape: Shape, y: Id, yShape: Shape): void;
  axpy(alpha: number, x: Id, y: Id): void;
  sumSquares(x: Id, out: Id): void;
  countNonFinite(x: Id, out: Id): void;

  matmul(a: MatmulArgs<Id>): void;
  conv2dForward(x: Id, w: Id, bias: OptId, y: Id, g: Conv2dGeom): void;
  conv2dBackwardData(gy: Id, w: Id, gx: Id, g: Conv2dGeom): void;
  conv2dBackwardWeight(gy: Id, x: Id, gw: Id, g: Conv2dGeom): void;

  maxPool2dForward(x: Id, y: Id, argmax: Id, g: Pool2dGeom): void;
  maxPool2dBackward(gy: Id, argmax: Id, gx: Id, g: Pool2dGeom): void;
  avgPool2dForward(x: Id, y: Id, g: Pool2dGeom): void;
  avgPool2dBackward(gy: Id, gx: Id, g: Pool2dGeom): void;

  batchNormTrainForward(a: BatchNormTrainForwardArgs<Id>, g: NormGeom): void;
  batchNormTrainBackward(a: NormBackwardArgs<Id>, g: NormGeom): void;
  batchNormEvalForward(a: BatchNormEvalForwardArgs<Id>, g: NormGeom): void;
  batchNormEvalBackward(a: BatchNormEvalBackwardArgs<Id>, g: NormGeom): void;
  batchNormUpdateRunning(a: BatchNormRunningArgs<Id>): void;
  /** Also layer norm: group norm of [rows, d, 1] in one group. */
  groupNormForward(a: NormForwardArgs<Id>, g: GroupNormGeom): void;
  groupNormBackward(a: NormBackwardArgs<Id>, g: GroupNormGeom): void;

  softmax(x: Id, y: Id, a: SoftmaxArgs): void;
  softmaxBackward(y: Id, gy: Id, gx: Id, a: SoftmaxArgs): void;
  crossEntropy(a: CrossEntropyArgs<Id>): void;
  argmaxRows(x: Id, rows: number, cols: number, out: Id): void;

  permute(x: Id, shape: Shape, perm: Shape, y: Id): void;
  copyRegion(src: Id, srcShape: Shape, srcStart: Shape, dst: Id, dstShape: Shape, dstStart: Shape, region: Shape): void;

  adamStep(a: AdamStepArgs<Id>): void;
  sgdStep(a: SgdStepArgs<Id>): void;
  emaUpdate(y: Id, x: Id, decay: number): void;
}

export type OpName = keyof DeviceOps;

/** One queued call: method name and its arguments. */
export type Cmd = { [K in OpName]: [K, Parameters<DeviceOps[K]>] }[OpName];

/**
 * A batch of commands. With `drain`, the worker also waits for every submitted batch to finish
 * on the device (no onSubmittedWorkDone promise left pending) before it counts the batch done:
 * Dawn aborts the process when a thread exits with such a promise unresolved.
 */
export interface BatchMessage { type: 'batch'; cmds: Cmd[]; drain?: boolean }

/** workerData of the worker thread. */
export interface WorkerInit {
  ctrl: SharedArrayBuffer;
  data: SharedArrayBuffer;
}

/** What the worker reports after trying to open a device (JSON in the data buffer). */
export type InitReport =
  | { ok: true; adapter: string; backend: string; limits: Record<string, number> }
  | { ok: false; reason: string };
