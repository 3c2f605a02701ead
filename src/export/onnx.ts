/**
 * A classifier as an ONNX model (docs/export.md): opset 17, float32, input `input` [batch, C, H, W]
 * (normalised as the model was trained; the normalisation is in the metadata), output `logits`
 * [batch, classes], batch a symbolic dimension. The graph of each architecture is in archs.ts.
 */
import type { Classifier } from '../models/classifier.js';
import type { Arch } from '../models/registry.js';
import { ShapeError } from '../util/errors.js';
import { ARCH_GRAPHS } from './archs.js';
import { OnnxGraph } from './graph.js';
import { DataType, IR_VERSION, OPSET, encodeModel, type ModelProto } from './onnx-proto.js';

/** Name of the graph's input, images [batch, C, H, W]. */
export const ONNX_INPUT = 'input';
/** Name of the graph's output, logits [batch, classes]. */
export const ONNX_OUTPUT = 'logits';
/** Name of the symbolic batch dimension. */
export const BATCH_DIM = 'batch';

export interface OnnxExportArgs {
  /** The classifier with the parameters to export (its eval-mode forward is what the graph computes). */
  model: Classifier;
  /** One input image [C, H, W]. */
  inShape: readonly [number, number, number];
  numClasses: number;
  /** metadata_props of the model (string pairs: what it is, the input normalisation, class names). */
  metadata?: Record<string, string>;
  /** The model's doc_string. */
  docString?: string;
  /** producer_version (pdiff's version). */
  producerVersion?: string;
}

/** The ModelProto (plain object) of `a.model`. */
export function buildOnnxModel(a: OnnxExportArgs): ModelProto {
  const arch = a.model.arch as Arch;
  const graphOf = (ARCH_GRAPHS as Record<string, (typeof ARCH_GRAPHS)[Arch] | undefined>)[arch];
  if (!graphOf) throw new ShapeError(`ONNX export: no graph for architecture "${arch}" (known: ${Object.keys(ARCH_GRAPHS).join(', ')})`);
  const g = new OnnxGraph(a.model);
  const x = g.reserve(ONNX_INPUT);
  const y = graphOf({ g, model: a.model, x, inShape: a.inShape });
  g.renameOutput(y, ONNX_OUTPUT);
  const [c, h, w] = a.inShape;
  const tensorType = (dims: Array<{ dimValue: number } | { dimParam: string }>) => ({ tensorType: { elemType: DataType.FLOAT, shape: { dim: dims } } });
  return {
    irVersion: IR_VERSION,
    producerName: 'pdiff',
    producerVersion: a.producerVersion ?? '',
    ...(a.docString ? { docString: a.docString } : {}),
    opsetImport: [{ domain: '', version: OPSET }],
    graph: {
      name: arch,
      node: g.nodes,
      initializer: g.initializers,
      input: [{ name: ONNX_INPUT, docString: `images [${BATCH_DIM}, ${c}, ${h}, ${w}], float32, normalised as in training (metadata pdiff.input_normalisation)`, type: tensorType([{ dimParam: BATCH_DIM }, { dimValue: c }, { dimValue: h }, { dimValue: w }]) }],
      output: [{ name: ONNX_OUTPUT, docString: `logits [${BATCH_DIM}, ${a.numClasses}] (no softmax)`, type: tensorType([{ dimParam: BATCH_DIM }, { dimValue: a.numClasses }]) }],
    },
    metadataProps: Object.entries(a.metadata ?? {}).map(([key, value]) => ({ key, value })),
  };
}

/** The bytes of the `.onnx` file of `a.model`. */
export function exportOnnx(a: OnnxExportArgs): Uint8Array {
  return encodeModel(buildOnnxModel(a));
}
