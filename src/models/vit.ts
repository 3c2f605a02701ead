/**
 * torchvision's VisionTransformer (Dosovitskiy et al. 2021) with its state_dict names:
 * `class_token`, `conv_proj` (patch embedding), `encoder.pos_embedding`,
 * `encoder.layers.encoder_layer_i.{ln_1, self_attention.{in_proj_weight, in_proj_bias,
 * out_proj}, ln_2, mlp.0, mlp.3}`, `encoder.ln`, `heads.head`. Pre-norm blocks, exact GELU,
 * LayerNorm eps 1e-6, the class token's output feeds the head. Built as
 * `VisionTransformer(image_size, patch_size, num_layers, num_heads, hidden_dim, mlp_dim,
 * dropout, num_classes=...)` in PyTorch (scripts/torch/arch_models.py).
 */
import type { Backend, Storage } from '../backend/backend.js';
import { Conv2d, LayerNorm, Linear } from '../nn/layers.js';
import { Module } from '../nn/module.js';
import * as ops from '../tensor/ops.js';
import type { Rng } from '../tensor/random.js';
import { Tensor, graphConstant, zeros } from '../tensor/tensor.js';
import { ShapeError } from '../util/errors.js';
import type { EvalTailRequest, TailRunner } from './classifier.js';
import { StagedClassifier, type StageSpec } from './staged.js';
import { firstExactTail } from './tail.js';

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
  forward(x: Tensor): Tensor { return this.mlpHalf(this.attentionHalf(x)); }
  /** x + attn(ln_1(x)): the only part of the block that mixes tokens. */
  attentionHalf(x: Tensor): Tensor {
    return ops.add(x, ops.dropout(this.attn.forward(this.ln1.forward(x)), this.p, this.rng, this.training));
  }
  /** h + mlp(ln_2(h)): per token. */
  mlpHalf(h: Tensor): Tensor { return ops.add(h, this.mlp.forward(this.ln2.forward(h))); }
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

/**
 * Stages: embed (patches + class token + positions), each encoder block as two stages (its
 * attention half, `...encoder_layer_i.self_attention`, owning ln_1 and self_attention; its MLP
 * half, `...encoder_layer_i.mlp`, owning ln_2 and mlp), head (encoder.ln + heads). The split lets
 * a tail whose first generated parameter is a block's ln_2 start after that block's attention.
 */
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
      // After the last attention nothing mixes tokens and only the class token reaches the head:
      // the last MLP half runs on that token alone (the logits are the same; the other tokens'
      // outputs were computed and discarded in torchvision)
      const last = i === o.layers - 1;
      specs.push({ name: `${name}.self_attention`, prefixes: [`${name}.ln_1`, `${name}.self_attention`], run: (h) => b.attentionHalf(h) });
      specs.push({ name: `${name}.mlp`, prefixes: [`${name}.ln_2`, `${name}.mlp`], run: (h) => b.mlpHalf(last ? ops.slice(h, 1, 0, 1) : h) });
    });
    specs.push({
      name: 'head', prefixes: ['encoder.ln', 'heads'],
      run: (h) => {
        const [n, , dd] = h.shape as [number, number, number]; // [n, 1, d] after the last block
        const cls = ops.reshape(this.encoder.ln.forward(ops.slice(h, 1, 0, 1)), [n, dd]);
        return this.heads.head.forward(cls);
      },
    });
    this.setStages(specs);
    this.lastMlpStage = specs.length - 2;
  }

  private readonly lastMlpStage: number;

  /**
   * From the last block's MLP half on, the stages use the class token alone, so the tail caches
   * that token ([n, 1, d] instead of [n, seq, d]: seq times less memory) and runs the same
   * forwardFrom on it, checked bit for bit against the full-sequence input (firstExactTail).
   */
  evalTail(req: EvalTailRequest): TailRunner | null {
    if (req.choice === 'generic' || req.start < this.lastMlpStage) return null;
    return firstExactTail(this, req, [{ label: 'class token only', make: () => new ClassTokenTail(this, req.start) }], 'src/models/vit.ts');
  }
}

/** The tail of a VisionTransformer from its last MLP half on, on the class token alone. */
class ClassTokenTail implements TailRunner {
  readonly kind = 'planned';
  constructor(private readonly model: VisionTransformer, readonly start: number) {}
  features(x: Tensor): Tensor[] {
    const h = this.model.forwardTo(x, this.start);
    return [ops.slice(h, 1, 0, 1)];
  }
  run(feats: readonly Tensor[], rows: number): Storage {
    const y = this.model.forwardFrom(feats[0]!, this.start);
    if (y.rank !== 2 || y.shape[0] !== rows) throw new ShapeError(`vit tail: forwardFrom returned [${y.shape.join(', ')}], expected logits [${rows}, classes]`);
    return y.storage;
  }
  featureFloats(): number { return this.model.encoder.blocks[0]!.attn.d; }
}
