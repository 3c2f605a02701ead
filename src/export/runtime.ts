/**
 * ONNX Runtime (npm `onnxruntime-node`, CPU), an optional dependency: pdiff installs and runs
 * without it, and what needs it (the check of an exported model, the ONNX Runtime latency in the
 * cost table) then says why it is missing instead of failing. Loaded by a dynamic import, typed by
 * the small part of its API pdiff uses, so the type check passes without the package.
 */
import { PdiffError } from '../util/errors.js';

/** The part of an onnxruntime Tensor pdiff reads. */
interface OrtTensor {
  readonly data: unknown;
  readonly dims: readonly number[];
}

interface OrtSession {
  run(feeds: Record<string, OrtTensor>): Promise<Record<string, OrtTensor>>;
  release(): Promise<void>;
}

/** The part of the onnxruntime-node module pdiff uses. */
interface OrtModule {
  InferenceSession: {
    create(model: Uint8Array, options?: { executionProviders?: string[]; graphOptimizationLevel?: 'disabled' | 'basic' | 'extended' | 'all'; logSeverityLevel?: 0 | 1 | 2 | 3 | 4 }): Promise<OrtSession>;
  };
  Tensor: new (type: 'float32', data: Float32Array, dims: readonly number[]) => OrtTensor;
  env: { versions?: { node?: string; common?: string } };
}

/** ONNX Runtime, or why it cannot be used. */
export type OnnxRuntime =
  | { available: true; version: string; ort: OrtModule }
  | { available: false; reason: string };

/** An ONNX Runtime call that failed (the model does not load or run). */
export class OnnxRuntimeError extends PdiffError {}

const PACKAGE = 'onnxruntime-node';
let cached: Promise<OnnxRuntime> | null = null;

/** ONNX Runtime for Node.js, imported once; never throws. */
export function loadOnnxRuntime(): Promise<OnnxRuntime> {
  cached ??= (async (): Promise<OnnxRuntime> => {
    try {
      // a variable specifier: the type check must not need the optional package
      const name: string = PACKAGE;
      const mod = (await import(name)) as OrtModule & { default?: OrtModule };
      const ort = typeof mod.InferenceSession?.create === 'function' ? mod : mod.default;
      if (!ort || typeof ort.InferenceSession?.create !== 'function') return { available: false, reason: `${PACKAGE} loaded but has no InferenceSession (an unsupported version?)` };
      return { available: true, version: ort.env.versions?.node ?? ort.env.versions?.common ?? 'unknown', ort };
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND') {
        return { available: false, reason: `${PACKAGE} is not installed (an optional dependency of pdiff; install it with "npm install ${PACKAGE}")` };
      }
      return { available: false, reason: `${PACKAGE} is installed but does not load on this machine: ${(e as Error).message.split('\n')[0]}` };
    }
  })();
  return cached;
}

export interface OnnxSessionArgs {
  /** The `.onnx` file's bytes. */
  bytes: Uint8Array;
  /** ONNX Runtime's graph optimisations: 'all' (its default; folds BatchNormalization into Conv, fuses activations) or 'disabled'. */
  optimization?: 'all' | 'disabled';
}

/** A model loaded in ONNX Runtime (CPU execution provider), fed images [N, C, H, W] by one input name. */
export class OnnxSession {
  private constructor(private readonly rt: Extract<OnnxRuntime, { available: true }>, private readonly session: OrtSession, readonly input: string, readonly output: string) {}

  static async create(rt: Extract<OnnxRuntime, { available: true }>, a: OnnxSessionArgs & { input: string; output: string }): Promise<OnnxSession> {
    try {
      const s = await rt.ort.InferenceSession.create(a.bytes, { executionProviders: ['cpu'], graphOptimizationLevel: a.optimization ?? 'all', logSeverityLevel: 3 });
      return new OnnxSession(rt, s, a.input, a.output);
    } catch (e) {
      throw new OnnxRuntimeError(`ONNX Runtime ${rt.version} cannot load the model: ${(e as Error).message}`);
    }
  }

  /** The output for images x [dims] (float32, row-major). */
  async run(x: Float32Array, dims: readonly number[]): Promise<{ data: Float32Array; dims: readonly number[] }> {
    let out: Record<string, OrtTensor>;
    try {
      out = await this.session.run({ [this.input]: new this.rt.ort.Tensor('float32', x, dims) });
    } catch (e) {
      throw new OnnxRuntimeError(`ONNX Runtime ${this.rt.version} failed to run the model on [${dims.join(', ')}]: ${(e as Error).message}`);
    }
    const y = out[this.output];
    if (!y || !(y.data instanceof Float32Array)) throw new OnnxRuntimeError(`ONNX Runtime: the model has no float32 output "${this.output}"`);
    return { data: y.data, dims: y.dims };
  }

  release(): Promise<void> { return this.session.release(); }
}

/** Median and 90th percentile (nearest rank) of wall times in ms. */
export function timeStats(times: readonly number[]): { medianMs: number; p90Ms: number } {
  const t = [...times].sort((a, b) => a - b);
  const mid = t.length >>> 1;
  return { medianMs: t.length % 2 === 1 ? t[mid]! : (t[mid - 1]! + t[mid]!) / 2, p90Ms: t[Math.ceil(0.9 * t.length) - 1]! };
}

export interface OnnxLatencyArgs {
  session: OnnxSession;
  /** One input image [C, H, W]. */
  inShape: readonly [number, number, number];
  batch: number;
  /** Timed runs (default 20) after `warmup` untimed ones (default 3). */
  repeats?: number;
  warmup?: number;
  /** The input values (batch x C x H x W); default fixed N(0, 1)-like values. */
  x?: Float32Array;
}

/**
 * Wall time of one ONNX Runtime run of `batch` images until the logits are in a JS array (the
 * counterpart of eval/cost.ts measureLatency for pdiff's engine).
 */
export async function onnxLatency(a: OnnxLatencyArgs): Promise<{ medianMs: number; p90Ms: number; batch: number; repeats: number }> {
  const repeats = a.repeats ?? 20, warmup = a.warmup ?? 3;
  const [c, h, w] = a.inShape;
  const n = a.batch * c * h * w;
  const x = a.x ?? Float32Array.from({ length: n }, (_, i) => Math.sin(i * 12.9898) * 1.5);
  const dims = [a.batch, c, h, w];
  for (let i = 0; i < warmup; i++) await a.session.run(x, dims);
  const times: number[] = [];
  for (let i = 0; i < repeats; i++) {
    const t0 = performance.now();
    await a.session.run(x, dims);
    times.push(performance.now() - t0);
  }
  return { ...timeStats(times), batch: a.batch, repeats };
}
