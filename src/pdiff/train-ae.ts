/**
 * Training the parameter autoencoder (docs/autoencoder.md#training) on normalised checkpoint
 * vectors, and encoding / decoding whole stacks with the trained model in eval mode
 * (docs/autoencoder.md#encoding).
 */
import { getBackend } from '../backend/index.js';
import { canonicalJson, type AeConfig } from '../config/index.js';
import { AdamW, type Module } from '../nn/index.js';
import * as ops from '../tensor/ops.js';
import { Tensor, backward, dispose, noGrad, scope } from '../tensor/tensor.js';
import { ShapeError } from '../util/errors.js';
import { ParamAutoencoder } from './autoencoder.js';
import { LoopTracker, checkRows, latentStats, lrSchedule, type TrainOptions } from './train-loop.js';
import { captureState, checkKind, restoreState, toF32, type AeTrainState, type LossPoint } from './train-state.js';

export interface AeTrainResult {
  /** The trained autoencoder, in eval mode. */
  model: ParamAutoencoder;
  lossCurve: LossPoint[];
  seconds: number;
}

/**
 * Train the parameter autoencoder on z [K, L] (docs/autoencoder.md#training): per iteration draw B rows uniformly
 * with replacement, x = z + inputNoise n1, h = encode(x) + latentNoise n2,
 * loss = MSE(decode(h), x); AdamW with cosine(steps, 0) or constant lr. Draw order per iteration:
 * B row indices, then B L input-noise values, then B d latent-noise values.
 */
export function trainAutoencoder(z: Float32Array, K: number, L: number, cfg: AeConfig, opts: TrainOptions<AeTrainState>): AeTrainResult {
  checkRows('trainAutoencoder: z', z, K, L);
  checkKind(opts.resume, 'ae');
  const be = opts.backend ?? getBackend();
  const { rng } = opts;
  const B = cfg.batchSize, d = cfg.latentDim;
  const model = new ParamAutoencoder({ L, channels: cfg.channels, latentDim: d, kernel: cfg.kernel, rng, backend: be });
  model.train();
  const opt = new AdamW(model.trainableParameters(), { lr: cfg.lr, weightDecay: cfg.weightDecay });
  const config = canonicalJson({ ae: cfg, K, L });
  const resume = opts.resume;
  if (resume) restoreState(resume, 'ae', config, model, opt, null, rng, cfg.steps);
  const start = resume ? resume.step : 0;
  const track = new LoopTracker<AeTrainState>('ae', cfg.steps, opts, resume ? resume.seconds : 0, start);
  const lrAt = lrSchedule(cfg.schedule, cfg.lr, cfg.steps);

  const xBuf = new Float32Array(B * L);
  const nBuf = new Float32Array(B * d);
  const xT = new Tensor(be.alloc(B * L), [B, L], be);
  const nT = new Tensor(be.alloc(B * d), [B, d], be);
  const rows = new Int32Array(B);
  const inNoise = cfg.inputNoise, latNoise = cfg.latentNoise;

  for (let step = start; step < cfg.steps; step++) {
    for (let b = 0; b < B; b++) rows[b] = rng.int(K);
    for (let b = 0; b < B; b++) {
      const src = rows[b]! * L, dst = b * L;
      if (inNoise > 0) for (let j = 0; j < L; j++) xBuf[dst + j] = z[src + j]! + inNoise * rng.normal();
      else xBuf.set(z.subarray(src, src + L), dst);
    }
    be.write(xT.storage, xBuf);
    const h = model.encode(xT);
    let hn = h;
    if (latNoise > 0) {
      for (let i = 0; i < nBuf.length; i++) nBuf[i] = latNoise * rng.normal();
      be.write(nT.storage, nBuf);
      hn = ops.add(h, nT);
    }
    const loss = ops.mseLoss(model.decode(hn), xT);
    const lr = lrAt(step);
    const extra = track.logsAt(step) ? { latent: latentStats(h.toArray()) } : null;
    backward(loss, { freeGraph: true }); // the step's activations return to the pool now
    opt.lr = lr;
    opt.step();
    track.record(step, loss.item(), lr, extra); // once the step is queued (a device backend waits here)
    dispose(loss);
    opt.zeroGrad();
    if (track.checkpointDue(step + 1)) {
      opts.onCheckpoint!(captureState<AeTrainState>('ae', step + 1, config, model, opt, null, rng, track.lossCurve, track.seconds(), 1));
    }
  }
  model.eval();
  track.done();
  return { model, lossCurve: track.lossCurve, seconds: track.seconds() };
}

/** Rows per forward pass in encodeAll / decodeAll (BN in eval mode: rows are independent). */
const EVAL_BATCH = 256;

function inEvalMode<T>(model: Module, fn: () => T): T {
  const was = model.training;
  model.eval();
  try { return noGrad(fn); } finally { model.train(was); }
}

/** encode(z) of every row of z [K, L], eval mode, no noise: latents [K, d]. */
export function encodeAll(model: ParamAutoencoder, z: Float32Array, K: number, L: number): Float32Array {
  if (L !== model.L) throw new ShapeError(`encodeAll: the autoencoder takes vectors of length ${model.L}, got L = ${L}`);
  checkRows('encodeAll: z', z, K, L);
  const d = model.latentDim, be = model.backend;
  const out = new Float32Array(K * d);
  inEvalMode(model, () => {
    for (let r = 0; r < K; r += EVAL_BATCH) {
      const n = Math.min(EVAL_BATCH, K - r);
      const x = new Tensor(be.fromArray(z.subarray(r * L, (r + n) * L)), [n, L], be);
      scope(() => { out.set(toF32(model.encode(x).toArray()), r * d); });
      dispose(x);
    }
  });
  return out;
}

/** decode(h) of every row of latents [n, d], eval mode: vectors [n, L]. */
export function decodeAll(model: ParamAutoencoder, latents: Float32Array, n: number, d: number): Float32Array {
  if (d !== model.latentDim) throw new ShapeError(`decodeAll: the autoencoder has latent size ${model.latentDim}, got d = ${d}`);
  checkRows('decodeAll: latents', latents, n, d);
  const L = model.L, be = model.backend;
  const out = new Float32Array(n * L);
  inEvalMode(model, () => {
    for (let r = 0; r < n; r += EVAL_BATCH) {
      const m = Math.min(EVAL_BATCH, n - r);
      const h = new Tensor(be.fromArray(latents.subarray(r * d, (r + m) * d)), [m, d], be);
      scope(() => { out.set(toF32(model.decode(h).toArray()), r * L); });
      dispose(h);
    }
  });
  return out;
}
