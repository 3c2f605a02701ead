/**
 * The cost table's ONNX Runtime column (docs/export.md#latency): the classifier exported to ONNX
 * and timed in onnxruntime-node (CPU) at batch 1 and 128, as eval/cost.ts measureLatency times it
 * in pdiff's engine. Without ONNX Runtime, or when the export fails, the reason takes the place of
 * the numbers: an optional measurement never fails an evaluation.
 */
import type { Classifier } from '../models/classifier.js';
import type { CostReport } from '../report/types.js';
import { ONNX_INPUT, ONNX_OUTPUT, exportOnnx } from './onnx.js';
import { OnnxSession, loadOnnxRuntime, onnxLatency, type OnnxRuntime } from './runtime.js';

export type OnnxCost = Pick<CostReport, 'onnxLatencyMsBatch1' | 'onnxLatencyMsBatch128' | 'onnxRuntime' | 'onnxLatencyMissing'>;

export interface OnnxCostArgs {
  model: Classifier;
  /** One input image [C, H, W]. */
  inShape: readonly [number, number, number];
  numClasses: number;
  /** Default: onnxruntime-node when installed. */
  runtime?: OnnxRuntime;
  /** Timed runs at batch 1 and 128 (default 20 and 10, as the pdiff column). */
  repeats?: { batch1: number; batch128: number };
}

/** Latency of `a.model` in ONNX Runtime at batch 1 and 128, or why it was not measured. */
export async function onnxLatencyCost(a: OnnxCostArgs): Promise<OnnxCost> {
  const rt = a.runtime ?? await loadOnnxRuntime();
  if (!rt.available) return { onnxLatencyMissing: rt.reason };
  let session: OnnxSession | null = null;
  try {
    const bytes = exportOnnx({ model: a.model, inShape: a.inShape, numClasses: a.numClasses });
    session = await OnnxSession.create(rt, { bytes, input: ONNX_INPUT, output: ONNX_OUTPUT });
    const b1 = await onnxLatency({ session, inShape: a.inShape, batch: 1, repeats: a.repeats?.batch1 ?? 20 });
    const b128 = await onnxLatency({ session, inShape: a.inShape, batch: 128, repeats: a.repeats?.batch128 ?? 10 });
    return { onnxLatencyMsBatch1: b1.medianMs, onnxLatencyMsBatch128: b128.medianMs, onnxRuntime: `onnxruntime-node ${rt.version}` };
  } catch (e) {
    return { onnxLatencyMissing: `the ${a.model.arch} model did not export or run in ONNX Runtime ${rt.version}: ${(e as Error).message}` };
  } finally {
    await session?.release();
  }
}
