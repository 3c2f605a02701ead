/**
 * Building an ONNX graph from a pdiff model's layers (docs/export.md#the-graph). Every parameter
 * and buffer becomes an initializer under its PyTorch state_dict name, with the model's values
 * unchanged (BatchNorm is exported as BatchNormalization, not folded into the convolution), so a
 * member's generated parameters can be read back from the file by name. Value and node names
 * follow the module that computes them ("layer3.2.bn2", "layer3.2.relu2").
 */
import type { BatchNorm, Conv2d, LayerNorm, Linear } from '../nn/layers.js';
import type { Module } from '../nn/module.js';
import type { Tensor } from '../tensor/tensor.js';
import { ShapeError } from '../util/errors.js';
import { AttrType, DataType, type AttributeProto, type NodeProto, type TensorProto } from './onnx-proto.js';

/** An attribute value: an int, a float or a list of ints (ONNX keeps the kinds apart). */
export type Attr = { int: number } | { float: number } | { ints: readonly number[] };
export const int = (v: number): Attr => ({ int: v });
export const float = (v: number): Attr => ({ float: v });
export const ints = (v: readonly number[]): Attr => ({ ints: v });

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** The little-endian bytes of typed-array values (ONNX's raw_data byte order). */
function leBytes(a: Float32Array | BigInt64Array): Uint8Array {
  const bytes = new Uint8Array(a.buffer.slice(a.byteOffset, a.byteOffset + a.byteLength));
  if (!LITTLE_ENDIAN) {
    const w = a.BYTES_PER_ELEMENT;
    for (let i = 0; i < bytes.length; i += w) bytes.subarray(i, i + w).reverse();
  }
  return bytes;
}

function attribute(name: string, a: Attr): AttributeProto {
  if ('int' in a) return { name, type: AttrType.INT, i: a.int };
  if ('float' in a) return { name, type: AttrType.FLOAT, f: a.float };
  return { name, type: AttrType.INTS, ints: [...a.ints] };
}

/** The nodes and initializers of one graph under construction, named after the model's modules. */
export class OnnxGraph {
  readonly nodes: NodeProto[] = [];
  readonly initializers: TensorProto[] = [];
  private readonly used = new Set<string>();
  /** state_dict name of each tensor of the model. */
  private readonly tensorNames = new Map<Tensor, string>();
  /** Path of each module of the model ("layer1.0.conv1"; the model itself is ""). */
  private readonly modulePaths = new Map<Module, string>();
  private readonly added = new Map<Tensor, string>();

  constructor(readonly model: Module) {
    for (const [name, t] of model.stateDict()) this.tensorNames.set(t, name);
    for (const [path, m] of model.namedModules()) this.modulePaths.set(m, path);
  }

  /** A name not used yet: `hint`, else `hint_1`, `hint_2`, ... */
  fresh(hint: string): string {
    let name = hint, k = 0;
    while (this.used.has(name)) name = `${hint}_${++k}`;
    this.used.add(name);
    return name;
  }

  /** Reserve a name given by the graph's interface (its input). */
  reserve(name: string): string {
    if (this.used.has(name)) throw new ShapeError(`ONNX graph: the name "${name}" is already taken`);
    this.used.add(name);
    return name;
  }

  /** The state_dict path of a module of the model (for node names). */
  path(m: Module): string {
    const p = this.modulePaths.get(m);
    if (p === undefined) throw new ShapeError(`ONNX graph: a ${m.constructor.name} that is not part of the ${this.model.constructor.name} being exported`);
    return p;
  }

  /** The initializer holding a parameter or buffer of the model, named by its state_dict name (added once). */
  param(t: Tensor | null, what: string): string {
    if (!t) throw new ShapeError(`ONNX graph: ${what} has no tensor (a layer without affine parameters or running statistics cannot be exported)`);
    const have = this.added.get(t);
    if (have) return have;
    const sdName = this.tensorNames.get(t);
    if (sdName === undefined) throw new ShapeError(`ONNX graph: ${what} is not a tensor of the model's state_dict`);
    const be = t.backend;
    const v = be.read(t.storage);
    const data = v instanceof Float32Array ? v : Float32Array.from(v);
    const name = this.reserve(sdName);
    this.initializers.push({ name, dims: [...t.shape], dataType: DataType.FLOAT, rawData: leBytes(data) });
    this.added.set(t, name);
    return name;
  }

  /** A float32 constant initializer (scalars: dims []). */
  floats(hint: string, dims: readonly number[], values: readonly number[]): string {
    const name = this.fresh(hint);
    this.initializers.push({ name, dims: [...dims], dataType: DataType.FLOAT, rawData: leBytes(Float32Array.from(values)) });
    return name;
  }

  /** A 1-D int64 constant initializer (shapes, axes, indices; dims [] for a scalar index). */
  int64s(hint: string, values: readonly number[], dims: readonly number[] = [values.length]): string {
    const name = this.fresh(hint);
    this.initializers.push({ name, dims: [...dims], dataType: DataType.INT64, rawData: leBytes(BigInt64Array.from(values, (v) => BigInt(v))) });
    return name;
  }

  /** Add a node computing `opType` of `inputs`; returns its output's name (also the node's name). */
  op(opType: string, inputs: readonly string[], hint: string, attrs: Record<string, Attr> = {}): string {
    const out = this.fresh(hint);
    this.nodes.push({ name: out, opType, input: [...inputs], output: [out], attribute: Object.entries(attrs).map(([k, a]) => attribute(k, a)) });
    return out;
  }

  /** Rename value `from` (the output of the last node) to `to` (the graph's output name). */
  renameOutput(from: string, to: string): void {
    const last = this.nodes[this.nodes.length - 1];
    if (!last || last.output[0] !== from) throw new ShapeError(`ONNX graph: "${from}" is not the output of the last node`);
    this.reserve(to);
    last.output[0] = to;
  }

  // ---- layers: one ONNX op each, following the layer's forward in eval mode

  /** Conv2d: Conv with the layer's stride, padding and groups. */
  conv(x: string, c: Conv2d): string {
    const p = this.path(c);
    const inputs = [x, this.param(c.weight, `${p}.weight`)];
    if (c.bias) inputs.push(this.param(c.bias, `${p}.bias`));
    return this.op('Conv', inputs, p, {
      kernel_shape: ints([c.kernel, c.kernel]), strides: ints([c.stride, c.stride]),
      pads: ints([c.padding, c.padding, c.padding, c.padding]), group: int(c.groups), dilations: ints([1, 1]),
    });
  }

  /** BatchNorm in eval mode: BatchNormalization with the running statistics. */
  batchNorm(x: string, bn: BatchNorm): string {
    const p = this.path(bn);
    return this.op('BatchNormalization', [
      x, this.param(bn.weight, `${p}.weight`), this.param(bn.bias, `${p}.bias`),
      this.param(bn.runningMean, `${p}.running_mean`), this.param(bn.runningVar, `${p}.running_var`),
    ], p, { epsilon: float(bn.eps) });
  }

  /** Linear on x [N, in]: Gemm(x, W, b, transB = 1), W the layer's [out, in] weight as it is. */
  linear(x: string, l: Linear): string {
    const p = this.path(l);
    const inputs = [x, this.param(l.weight, `${p}.weight`)];
    if (l.bias) inputs.push(this.param(l.bias, `${p}.bias`));
    return this.op('Gemm', inputs, p, { transB: int(1) });
  }

  /** Linear on x [..., in] of any rank: MatMul(x, W^T) + b (the transpose of the initializer folds at load time). */
  linearNd(x: string, w: Tensor, b: Tensor | null, p: string): string {
    const wt = this.op('Transpose', [this.param(w, `${p}.weight`)], `${p}.weight_t`, { perm: ints([1, 0]) });
    const y = this.op('MatMul', [x, wt], `${p}.matmul`);
    return b ? this.op('Add', [y, this.param(b, `${p}.bias`)], p) : y;
  }

  /** LayerNorm over the last axis: LayerNormalization (opset 17). */
  layerNorm(x: string, ln: LayerNorm): string {
    const p = this.path(ln);
    return this.op('LayerNormalization', [x, this.param(ln.weight, `${p}.weight`), this.param(ln.bias, `${p}.bias`)], p, { axis: int(-1), epsilon: float(ln.eps) });
  }

  relu(x: string, hint: string): string { return this.op('Relu', [x], hint); }

  /** SiLU = x sigmoid(x) (opset 17 has no SiLU op). */
  silu(x: string, hint: string): string { return this.op('Mul', [x, this.op('Sigmoid', [x], `${hint}.sigmoid`)], hint); }

  /** Exact GELU = 0.5 x (1 + erf(x / sqrt 2)), in the order of pdiff's kernel (opset 17 has no Gelu op). */
  gelu(x: string, hint: string): string {
    const e = this.op('Erf', [this.op('Mul', [x, this.floats(`${hint}.rsqrt2`, [], [Math.SQRT1_2])], `${hint}.scaled`)], `${hint}.erf`);
    const onePlus = this.op('Add', [e, this.floats(`${hint}.one`, [], [1])], `${hint}.one_plus`);
    return this.op('Mul', [this.op('Mul', [x, onePlus], `${hint}.x_cdf`), this.floats(`${hint}.half`, [], [0.5])], hint);
  }

  add(a: string, b: string, hint: string): string { return this.op('Add', [a, b], hint); }

  maxPool(x: string, hint: string, kernel: number, stride = kernel, padding = 0): string {
    return this.op('MaxPool', [x], hint, { kernel_shape: ints([kernel, kernel]), strides: ints([stride, stride]), pads: ints([padding, padding, padding, padding]) });
  }

  /** Mean over H and W: [N, C, H, W] -> [N, C, 1, 1] (GlobalAveragePool). */
  globalAvgPool(x: string, hint: string): string { return this.op('GlobalAveragePool', [x], hint); }

  /** [N, ...] -> [N, prod(...)] (pdiff's ops.flatten, and globalAvgPool2d's [N, C] output). */
  flatten(x: string, hint: string): string { return this.op('Flatten', [x], hint, { axis: int(1) }); }
}
