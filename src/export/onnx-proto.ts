/**
 * The `.onnx` file: a protobuf `onnx.ModelProto`, encoded by protobufjs from ONNX's own schema
 * (proto/onnx.proto, ONNX 1.12 = IR version 8). The interfaces below are the part of the schema
 * pdiff writes, in protobufjs' field names (camelCase of the .proto names); protobufjs checks
 * each object against the schema before encoding it.
 */
import protobuf from 'protobufjs';
import { fileURLToPath } from 'node:url';
import { FormatError } from '../util/errors.js';

/** ONNX's IR version of opset 17 (onnx.proto `Version.IR_VERSION_2021_7_30`). */
export const IR_VERSION = 8;
/** The opset of the default domain every exported graph uses. */
export const OPSET = 17;

/** TensorProto.DataType codes pdiff uses. */
export const DataType = { FLOAT: 1, INT64: 7 } as const;
/** AttributeProto.AttributeType codes pdiff uses. */
export const AttrType = { FLOAT: 1, INT: 2, INTS: 7 } as const;

export interface TensorProto {
  name: string;
  dims: number[];
  dataType: number;
  /** Little-endian bytes of the values (float32 or int64). */
  rawData: Uint8Array;
}

export interface AttributeProto {
  name: string;
  type: number;
  f?: number;
  i?: number;
  ints?: number[];
}

export interface NodeProto {
  name: string;
  opType: string;
  input: string[];
  output: string[];
  attribute: AttributeProto[];
}

/** One dimension: a fixed size or a named symbolic one ("batch"). */
export type DimProto = { dimValue: number } | { dimParam: string };

export interface ValueInfoProto {
  name: string;
  docString?: string;
  type: { tensorType: { elemType: number; shape: { dim: DimProto[] } } };
}

export interface GraphProto {
  name: string;
  node: NodeProto[];
  initializer: TensorProto[];
  input: ValueInfoProto[];
  output: ValueInfoProto[];
  docString?: string;
}

export interface ModelProto {
  irVersion: number;
  producerName: string;
  producerVersion: string;
  docString?: string;
  opsetImport: Array<{ domain: string; version: number }>;
  graph: GraphProto;
  metadataProps: Array<{ key: string; value: string }>;
}

const PROTO_PATH = fileURLToPath(new URL('../../proto/onnx.proto', import.meta.url));
let modelType: protobuf.Type | null = null;

/** onnx.ModelProto from proto/onnx.proto, parsed once. */
function modelProtoType(): protobuf.Type {
  if (!modelType) {
    let root: protobuf.Root;
    try {
      root = protobuf.loadSync(PROTO_PATH);
    } catch (e) {
      throw new FormatError(PROTO_PATH, `cannot load ONNX's schema (${(e as Error).message}); it ships with pdiff in proto/`);
    }
    modelType = root.lookupType('onnx.ModelProto');
  }
  return modelType;
}

/** The bytes of a `.onnx` file holding `model`. */
export function encodeModel(model: ModelProto): Uint8Array {
  const T = modelProtoType();
  const problem = T.verify(model);
  if (problem) throw new FormatError('onnx.ModelProto', `the exported model does not fit ONNX's schema: ${problem}`);
  return T.encode(T.fromObject(model)).finish();
}

/**
 * A `.onnx` file decoded into plain objects (int64 fields as numbers, bytes as Buffers), for
 * tests and inspection.
 * @throws FormatError naming `source` when the bytes are not a ModelProto.
 */
export function decodeModel(bytes: Uint8Array, source = '<buffer>'): ModelProto {
  const T = modelProtoType();
  try {
    return T.toObject(T.decode(bytes), { longs: Number, arrays: true }) as ModelProto;
  } catch (e) {
    throw new FormatError(source, `not an ONNX model (${(e as Error).message})`);
  }
}
