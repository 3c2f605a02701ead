/**
 * torchvision's VisionTransformer (Dosovitskiy et al. 2021) with its state_dict names:
 * `class_token`, `conv_proj` (patch embedding), `encoder.pos_embedding`,
 * `encoder.layers.encoder_layer_i.{ln_1, self_attention.{in_proj_weight, in_proj_bias,
 * out_proj}, ln_2, mlp.0, mlp.3}`, `encoder.ln`, `heads.head`. Pre-norm blocks, exact GELU,
 * LayerNorm eps 1e-6, the class token's output feeds the head. Built as
 * `VisionTransformer(image_size, patch_size, num_layers, num_heads, hidden_dim, mlp_dim,
 * dropout, num_classes=...)` in PyTorch (scripts/torch/arch_models.py).
 */
import type { Backend } from '../backend/backend.js';
import { Conv2d, LayerNorm, Linear } from '../nn/layers.js';
import { Module } from '../nn/module.js';
import * as ops from '../tensor/ops.js';
import type { Rng } from '../tensor/random.js';
import { Tensor, graphConstant, zeros } from '../tensor/tensor.js';
import { ShapeError } from '../util/errors.js';
import { StagedClassifier, type StageSpec } from './staged.js';

/** A tensor of N(0, std^2) values (PyTorch's nn.init.normal_). */
function normalTensor(shape: number[], std: number, rng: Rng, be: Backend): Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  return new Tensor(be.fromArray(rng.fillNormal(new Float64Array(n), 0, std)), shape, be);
}

/** torch.nn.MultiheadAttention (batch_first, self-attention, no mask) with its packed in_proj. */
class SelfAttention extends Module {
  readonly inProjWeight: Tensor; // [3d, d]: rows q, then k, then v
  readonly inProjBias: Tensor; // [3d]
  readonly outProj: Linear;
  constructor(readonly d: number, readonly heads: number, rng: Rng, be: Backend) {
    super(be);
    // PyTorch: xavier_uniform_ on in_proj_weight, zero biases
    const bound = Math.sqrt(6 / (d + 3 * d));
    this.inProjWeight = this.registerParameter('in_proj_weight', new Tensor(be.fromArray(rng.fillUniform(new Float64Array(3 * d * d), -bound, bound)), [3 * d, d], be));
    this.inProjBias = this.registerParameter('in_proj_bias', zeros([3 * d], be));
    this.outProj = this.registerModule('out_proj', new Linear(d, d, { rng, backend: be }));
  }
  /** x [n, t, d] -> [n, t, d]. */
  forward(x: Tensor): Tensor {
    const [n, t, d] = x.shape as [number, number, number];
    const h = this.heads, hd = d / h;
    const qkv = ops.linear(x, this.inProjWeight, this.inProjBias); // [n, t, 3d]
    // [n, t, 3, h, hd] -> [3, n, h, t, hd]: one permute gives q, k, v as [n*h, t, hd] each
    const split = ops.permute(ops.reshape(qkv, [n, t, 3, h, hd]), [2, 0, 3, 1, 4]);
    const part = (i: number) => ops.reshape(ops.slice(split, 0, i, i + 1), [n * h, t, hd]);
    const q = part(0), k = part(1), v = part(2);
    const scores = ops.mulScalar(ops.matmul(q, k, { transB: true }), 1 / Math.sqrt(hd)); // [n*h, t, t]
    const att = ops.matmul(ops.softmax(scores), v); // [n*h, t, hd]
    const merged = ops.reshape(ops.permute(ops.reshape(att, [n, h, t, hd]), [0, 2, 1, 3]), [n, t, d]);
    return this.outProj.forward(merged);
  }
}

/** torchvision's MLPBlock: Linear (mlp.0), GELU, Dropout, Linear (mlp.3), Dropout. */
class MlpBlock extends Module {
  readonly fc1: Linear;
  readonly fc2: Linear;
  constructor(d: number, m: number, private readonly p: number, private readonly rng: Rng, be: Backend) {
    super(be);
    this.fc1 = this.registerModule('0', new Linear(d, m, { rng, backend: be }));
    this.fc2 = this.registerModule('3', new Linear(m, d, { rng, backend: be }));
  }
  forward(x: Tensor): Tensor {
    const h = ops.dropout(ops.gelu(this.fc1.forward(x)), this.p, this.rng, this.training);
    return ops.dropout(this.fc2.forward(h), this.p, this.rng, this.training);
  }
}

/** Pre-norm encoder block: x + attn(ln_1(x)), then + mlp(ln_2(.)). */
class EncoderBlock extends Module {
  readonly ln1: LayerNorm;
  readonly attn: SelfAttention;
  readonly ln2: LayerNorm;
  readonly mlp: MlpBlock;
  constructor(d: number, heads: number, mlp: number, private readonly p: number, private readonly rng: Rng, be: Backend) {
    super(be);
    this.ln1 = this.registerModule('ln_1', new LayerNorm(d, { backend: be, eps: 1e-6 }));
    this.attn = this.registerModule('self_attention', new SelfAttention(d, heads, rng, be));
    this.ln2 = this.registerModule('ln_2', new LayerNorm(d, { backend: be, eps: 1e-6 }));
    this.mlp = this.registerModule('mlp', new MlpBlock(d, mlp, p, rng, be));
  }
  forward(x: Tensor): Tensor {
    const a = ops.dropout(this.attn.forward(this.ln1.forward(x)), this.p, this.rng, this.training);
    const h = ops.add(x, a);
    return ops.add(h, this.mlp.forward(this.ln2.forward(h)));
  }
}

/** `encoder.layers`: a Sequential of `encoder_layer_i`. */
class Layers extends Module {
  add<M extends Module>(name: string, m: M): M { return this.registerModule(name, m); }
}

class Encoder extends Module {
  readonly posEmbedding: Tensor; // [1, seq, d]
  readonly blocks: EncoderBlock[] = [];
  readonly ln: LayerNorm;
  constructor(seq: number, layers: number, heads: number, d: number, mlp: number, p: number, rng: Rng, be: Backend) {
    super(be);
    this.posEmbedding = this.registerParameter('pos_embedding', normalTensor([1, seq, d], 0.02, rng, be));
    const list = this.registerModule('layers', new Layers(be));
    for (let i = 0; i < layers; i++) this.blocks.push(list.add(`encoder_layer_${i}`, new EncoderBlock(d, heads, mlp, p, rng, be)));
    this.ln = this.registerModule('ln', new LayerNorm(d, { backend: be, eps: 1e-6 }));
  }
}

class Heads extends Module {
  readonly head: Linear;
  constructor(d: number, classes: number, rng: Rng, be: Backend) {
    super(be);
    this.head = this.registerModule('head', new Linear(d, classes, { rng, backend: be }));
  }
}

export interface VitOptions {
  rng: Rng;
  backend?: Backend;
  inShape: readonly [number, number, number];
  numClasses: number;
  patchSize: number;
  layers: number;
  heads: number;
  hidden: number;
  mlp: number;
  /** Dropout in the MLP, after attention and after the positional embedding (torchvision's `dropout`). */
  dropout: number;
}

/** Stages: embed (patches + class token + positions), each encoder block, head (encoder.ln + heads). */
export class VisionTransformer extends StagedClassifier {
  readonly arch = 'vit';
  readonly classToken: Tensor;
  readonly convProj: Conv2d;
  readonly encoder: Encoder;
  readonly heads: Heads;

  constructor(o: VitOptions) {
    super(o.backend);
    const be = this.backend, rng = o.rng;
    const [c, hgt, wid] = o.inShape;
    if (hgt !== wid || hgt % o.patchSize !== 0) throw new ShapeError(`vit: image ${hgt}x${wid} must be square with a side divisible by model.vit.patchSize ${o.patchSize}`);
    if (o.hidden % o.heads !== 0) throw new ShapeError(`vit: model.vit.hidden ${o.hidden} is not divisible by model.vit.heads ${o.heads}`);
    const d = o.hidden, grid = hgt / o.patchSize, seq = grid * grid + 1;
    this.classToken = this.registerParameter('class_token', zeros([1, 1, d], be));
    this.convProj = this.registerModule('conv_proj', new Conv2d(c, d, o.patchSize, { rng, backend: be, stride: o.patchSize }));
    this.encoder = this.registerModule('encoder', new Encoder(seq, o.layers, o.heads, d, o.mlp, o.dropout, rng, be));
    this.heads = this.registerModule('heads', new Heads(d, o.numClasses, rng, be));
    const specs: StageSpec[] = [{
      name: 'embed', prefixes: ['class_token', 'conv_proj', 'encoder.pos_embedding'],
      run: (x) => {
        const n = x.shape[0]!;
        const patches = ops.permute(ops.reshape(this.convProj.forward(x), [n, d, grid * grid]), [0, 2, 1]); // [n, seq-1, d]
        const cls = ops.add(graphConstant(zeros([n, 1, d], be)), this.classToken);
        const h = ops.add(ops.concat([cls, patches], 1), this.encoder.posEmbedding);
        return ops.dropout(h, o.dropout, rng, this.training);
      },
    }];
    this.encoder.blocks.forEach((b, i) => {
      const name = `encoder.layers.encoder_layer_${i}`;
      specs.push({ name, prefixes: [name], run: (h) => b.forward(h) });
    });
    specs.push({
      name: 'head', prefixes: ['encoder.ln', 'heads'],
      run: (h) => {
        const [n, , dd] = h.shape as [number, number, number];
        const cls = ops.reshape(ops.slice(this.encoder.ln.forward(h), 1, 0, 1), [n, dd]);
        return this.heads.head.forward(cls);
      },
    });
    this.setStages(specs);
  }
}
