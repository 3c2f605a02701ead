/**
 * Reading and writing the run folder's files: modules as PyTorch-named state_dicts, 2-D stacks,
 * the normaliser, and the resumable state of a stage (tied to the stage's hash, so state saved
 * under another config is never resumed).
 */
import { existsSync, readFileSync } from 'node:fs';
import type { Backend } from '../backend/backend.js';
import { canonicalJson, type Config } from '../config/index.js';
import type { Module } from '../nn/module.js';
import { writeFileAtomic } from '../util/atomic.js';
import { FormatError, NumericError } from '../util/errors.js';
import { loadStateDict, saveStateDict } from '../zoo/checkpoint.js';
import { Normalizer } from '../zoo/layout.js';
import { readSafetensors, readSafetensorsHeader, writeSafetensors, type SafetensorsFile } from '../zoo/safetensors.js';
import { LatentDenoiser, deserializeTrainState, serializeTrainState, type TrainState } from '../pdiff/index.js';
import { Rng } from '../tensor/random.js';
import { ARTIFACTS, type RunContext } from './context.js';
import { maybeKill, type RunStore } from './store.js';

/** Header metadata of every file a stage writes: the stage and the whole resolved config. */
export const metaOf = (cfg: Config, stage: string): Record<string, string> => ({ format: 'pt', pdiff_stage: stage, pdiff_config: canonicalJson(cfg) });

/** Write `module`'s state_dict (PyTorch names) as stage `stage`'s output, with `extra` metadata. */
export function saveModule(path: string, module: Module, cfg: Config, stage: string, extra: Record<string, string> = {}): void {
  saveStateDict(path, module, { ...metaOf(cfg, stage), ...extra });
}

/** Load a state_dict file into `module` (every tensor present with its shape); returns the file's metadata. */
export function loadModule(path: string, module: Module): Record<string, string> {
  return loadStateDict(path, module);
}

/** Metadata key of diffusion.safetensors holding a conditional denoiser's condition width (absent: unconditional). */
export const COND_DIM_META = 'cond_dim';

/** The metadata that lets loadDenoiser rebuild `model`: its condition width, or nothing for an unconditional one (whose file stays as before). */
export function denoiserMeta(model: LatentDenoiser): Record<string, string> {
  return model.condDim > 0 ? { [COND_DIM_META]: String(model.condDim) } : {};
}

/**
 * The denoiser saved in `path` (by the diffusion stage), rebuilt with the condition width its
 * metadata records (none = unconditional), weights loaded, in eval mode; with the file's metadata.
 * A file whose tensors do not fit that model (a condition embedding without cond_dim, say) is an
 * error naming the file.
 */
export function loadDenoiser(path: string, args: { d: number; channels: readonly number[]; kernel?: number; backend: Backend }): { model: LatentDenoiser; meta: Record<string, string> } {
  const raw = readSafetensorsHeader(path).metadata?.[COND_DIM_META];
  const condDim = raw === undefined ? 0 : Number(raw);
  if (!Number.isInteger(condDim) || condDim < (raw === undefined ? 0 : 1)) throw new FormatError(path, `metadata "${COND_DIM_META}": expected a positive integer, got ${JSON.stringify(raw)}`);
  // the initial draws are overwritten by the file's weights
  const model = new LatentDenoiser({ d: args.d, channels: args.channels, kernel: args.kernel, condDim, rng: new Rng(0), backend: args.backend });
  const meta = loadModule(path, model);
  model.eval();
  return { model, meta };
}

/** A stack of row vectors, one tensor "data" [rows, cols] (latents). */
export function writeStack(path: string, data: Float32Array, rows: number, cols: number, meta: Record<string, string>): void {
  writeSafetensors(path, [{ name: 'data', shape: [rows, cols], data }], meta);
}

export function readStack(path: string): { data: Float32Array; rows: number; cols: number; meta: Record<string, string> } {
  const f = readSafetensors(path);
  const t = f.tensors.get('data');
  if (!t || t.shape.length !== 2) throw new FormatError(path, 'expected one tensor "data" of shape [rows, cols]');
  return { data: t.data as Float32Array, rows: t.shape[0]!, cols: t.shape[1]!, meta: f.metadata ?? {} };
}

/** Throw a NumericError naming `what` at the first NaN or infinity. */
export function checkFinite(what: string, a: Float32Array): void {
  for (let i = 0; i < a.length; i++) if (!Number.isFinite(a[i]!)) throw new NumericError(`${what}: value ${a[i]} at index ${i} is not finite`);
}

/** The normaliser the ae stage fitted (normalizer.json; folders written before it existed keep it in ae.safetensors' metadata). */
export function loadNormalizer(store: RunStore): Normalizer {
  const path = store.path(ARTIFACTS.normalizer);
  if (existsSync(path)) {
    let json: unknown;
    try {
      json = JSON.parse(readFileSync(path, 'utf8'));
    } catch (e) {
      throw new FormatError(path, `not valid JSON (${(e as Error).message})`);
    }
    return Normalizer.fromJSON(json, path);
  }
  const aePath = store.path(ARTIFACTS.ae);
  const legacy = readSafetensors(aePath).metadata?.pdiff_normalizer;
  if (!legacy) throw new FormatError(path, 'missing (and ae.safetensors has no pdiff_normalizer metadata): rerun the ae stage');
  return Normalizer.fromJSON(JSON.parse(legacy), aePath);
}

export function saveNormalizer(store: RunStore, norm: Normalizer): void {
  writeFileAtomic(store.path(ARTIFACTS.normalizer), JSON.stringify(norm.toJSON()) + '\n');
}

/** A stage's resumable state as named tensors plus string metadata (what the serialize* functions return). */
export interface StageState { tensors: ReadonlyArray<{ name: string; shape: readonly number[]; data: Float32Array }>; meta: Record<string, string> }
type StoredTensors = SafetensorsFile['tensors'];

/** Save a stage's resumable state under its hash. */
export function saveStageState(path: string, state: StageState, hash: string): void {
  writeSafetensors(path, state.tensors, { ...state.meta, pdiff_stage_hash: hash });
}

/**
 * The state saved under this hash, parsed by `parse`, or undefined: none, saved under another
 * hash, or damaged (a damaged state file only costs the progress it held).
 */
export function loadStageState<S>(path: string, hash: string, parse: (tensors: StoredTensors, meta: Record<string, string>, path: string) => S | undefined): S | undefined {
  if (!existsSync(path)) return undefined;
  try {
    const f = readSafetensors(path);
    if (f.metadata?.pdiff_stage_hash !== hash) return undefined;
    return parse(f.tensors, f.metadata, path);
  } catch {
    return undefined;
  }
}

/**
 * The resume state and checkpoint hook of a resumable training stage (ae, diffusion): the state
 * saved under this hash, if any, and a hook that saves the state (and the stage's clock) at each
 * checkpoint before the last step.
 */
export function trainStateHooks<S extends TrainState>(ctx: RunContext, stage: S['kind'], hash: string, steps: number): { resume: S | undefined; onCheckpoint: (s: S) => void } {
  const path = ctx.store.statePath(stage);
  let saves = 0;
  const resume = loadStageState(path, hash, (t, meta, p) => {
    const st = deserializeTrainState(t as never, meta, p);
    return st.kind === stage ? (st as S) : undefined;
  });
  const onCheckpoint = (s: S): void => {
    if (s.step >= steps) return;
    saveStageState(path, serializeTrainState(s), hash);
    ctx.clock.save();
    maybeKill(stage, ++saves);
  };
  return { resume, onCheckpoint };
}
