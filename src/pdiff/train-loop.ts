/**
 * Machinery shared by the generator's two training loops (train-ae.ts, train-diffusion.ts): their
 * options, the learning-rate schedule, the loop bookkeeping (loss curve, log records, progress,
 * checkpoint calls) and the statistics of a latent set.
 */
import type { Backend } from '../backend/backend.js';
import { constantLr, cosineLr, type LrSchedule } from '../nn/index.js';
import type { Rng } from '../tensor/random.js';
import { NumericError, ShapeError } from '../util/errors.js';
import { Progress } from '../util/progress.js';
import type { LossPoint, TrainState } from './train-state.js';

/** Where training records go (a JsonlLog fits): one object per call. */
export interface TrainLog {
  write(obj: object): void;
}

/** Options shared by both trainers. */
export interface TrainOptions<S extends TrainState> {
  /** Generator for the initial weights and every minibatch draw. */
  rng: Rng;
  backend?: Backend;
  /** Show a progress line on stderr (default false). */
  progress?: boolean;
  /** Receives loss and latent statistics every `logEvery` iterations. */
  log?: TrainLog;
  /** Iterations between log records (default 50). */
  logEvery?: number;
  /** A state captured by onCheckpoint of an earlier run with the same config and data. */
  resume?: S;
  /** Called with a (deep-copied) training state every `checkpointEvery` iterations. */
  onCheckpoint?: (state: S) => void;
  /** Iterations between onCheckpoint calls (default 500). */
  checkpointEvery?: number;
}

export interface LatentStats {
  min: number;
  max: number;
  mean: number;
  /** Unbiased (n-1) standard deviation; 0 for a single value. */
  std: number;
}

/** Min, max, mean and unbiased std of all values (float64 accumulation). */
export function latentStats(lat: ArrayLike<number>): LatentStats {
  const n = lat.length;
  if (n === 0) throw new ShapeError('latentStats: expected at least one value, got an empty array');
  let min = Infinity, max = -Infinity, s = 0;
  for (let i = 0; i < n; i++) {
    const v = lat[i]!;
    if (v < min) min = v;
    if (v > max) max = v;
    s += v;
  }
  const mean = s / n;
  let ss = 0;
  for (let i = 0; i < n; i++) { const dv = lat[i]! - mean; ss += dv * dv; }
  return { min, max, mean, std: n > 1 ? Math.sqrt(ss / (n - 1)) : 0 };
}

/** cosine(steps, 0) or constant learning rate (docs/README.md#conventions). */
export function lrSchedule(kind: 'cosine' | 'constant', lr: number, steps: number): LrSchedule {
  return kind === 'cosine' ? cosineLr(lr, steps, 0) : constantLr(lr);
}

/** Loop bookkeeping common to both trainers: loss curve, logging, progress, checkpoints. */
export class LoopTracker<S extends TrainState> {
  readonly lossCurve: LossPoint[];
  readonly t0 = performance.now();
  private readonly prog: Progress;
  private readonly logEvery: number;
  private readonly ckptEvery: number;
  private windowSum = 0;
  private windowN = 0;

  constructor(readonly label: 'ae' | 'diffusion', readonly steps: number, readonly opts: TrainOptions<S>, readonly prevSeconds: number, start: number) {
    this.lossCurve = opts.resume ? opts.resume.lossCurve.map((p) => ({ ...p })) : [];
    this.logEvery = Math.max(1, Math.floor(opts.logEvery ?? 50));
    this.ckptEvery = Math.max(1, Math.floor(opts.checkpointEvery ?? 500));
    this.prog = new Progress({ label: label, total: steps, enabled: opts.progress === true, start });
  }

  seconds(): number { return this.prevSeconds + (performance.now() - this.t0) / 1000; }

  /** Whether iteration `step` writes a log record (then the caller computes its statistics). */
  logsAt(step: number): boolean { return !!this.opts.log && (step % this.logEvery === 0 || step === this.steps - 1); }

  record(step: number, loss: number, lr: number, extra: object | null): void {
    if (!Number.isFinite(loss)) throw new NumericError(`${this.label} training: the loss is ${loss} at iteration ${step} (lr ${lr}); lower the learning rate or check the inputs`);
    this.lossCurve.push({ step, loss });
    this.windowSum += loss;
    this.windowN++;
    if (extra && this.opts.log) {
      this.opts.log.write({ stage: this.label, step, loss, lossAvg: this.windowSum / this.windowN, lr, ...extra, seconds: this.seconds() });
      this.windowSum = 0;
      this.windowN = 0;
    }
    this.prog.tick(1, { loss });
  }

  checkpointDue(completed: number): boolean { return !!this.opts.onCheckpoint && completed % this.ckptEvery === 0 && completed < this.steps; }

  done(): void {
    const last = this.lossCurve[this.lossCurve.length - 1];
    this.prog.done(last ? { loss: last.loss } : undefined);
  }
}

/** A ShapeError unless `data` holds exactly rows x cols values (both positive integers). */
export function checkRows(where: string, data: Float32Array, rows: number, cols: number): void {
  if (!Number.isInteger(rows) || rows < 1 || !Number.isInteger(cols) || cols < 1) throw new ShapeError(`${where}: expected positive integer sizes, got ${rows} x ${cols}`);
  if (data.length !== rows * cols) throw new ShapeError(`${where}: expected ${rows} x ${cols} = ${rows * cols} values, got ${data.length}`);
}
