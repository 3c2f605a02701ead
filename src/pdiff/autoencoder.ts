/**
 * The parameter autoencoder of P-Diff (docs/autoencoder.md#architecture): a 1-D convolutional encoder that maps a
 * normalised checkpoint vector [B, L] to a latent [B, d], and a mirrored transposed-conv decoder.
 *
 * state_dict (channels c = [c1..c5], r = reversed(c)):
 *   encoder.{0..4}.conv (Conv1d, stride 2), encoder.{i}.bn (BatchNorm1d)
 *   enc_fc1 (Linear c5 L/32 -> d), enc_fc2 (Linear d -> d)
 *   dec_fc (Linear d -> c5 L/32)
 *   decoder.{0..4}.conv (ConvTranspose1d, stride 2), decoder.{i}.bn
 *   out_conv (Conv1d c1 -> 1, stride 1)
 */
import type { Backend } from '../backend/backend.js';
import { getBackend } from '../backend/index.js';
import { BatchNorm1d, Conv1d, ConvTranspose1d, Linear, Module } from '../nn/index.js';
import * as ops from '../tensor/ops.js';
import type { Rng } from '../tensor/random.js';
import type { Tensor } from '../tensor/tensor.js';
import { ConfigError, ShapeError } from '../util/errors.js';

export interface ParamAutoencoderArgs {
  /** Length of the (padded) parameter vector; a multiple of 32 (the encoder halves it 5 times). */
  L: number;
  /** Channels of the 5 encoder stages [c1..c5]; the decoder mirrors them. */
  channels: readonly number[];
  /** Latent size d. */
  latentDim: number;
  /** Odd kernel size of every conv (default 7); padding is (kernel - 1) / 2. */
  kernel?: number;
  /** Generator for the initial weights (PyTorch's default initialisation). */
  rng: Rng;
  backend?: Backend;
}

/** Number of stride-2 stages of the encoder (and of the decoder). */
const STAGES = 5;

/** Conv1d (stride 2) -> BN1d -> LeakyReLU(0.01). */
class EncoderStage extends Module {
  readonly conv: Conv1d;
  readonly bn: BatchNorm1d;
  constructor(cin: number, cout: number, kernel: number, rng: Rng, backend: Backend) {
    super(backend);
    this.conv = this.registerModule('conv', new Conv1d(cin, cout, kernel, { rng, backend, stride: 2, padding: (kernel - 1) / 2 }));
    this.bn = this.registerModule('bn', new BatchNorm1d(cout, { backend }));
  }
  forward(x: Tensor): Tensor { // [B, cin, l] -> [B, cout, l/2]
    return ops.leakyRelu(this.bn.forward(this.conv.forward(x)), 0.01);
  }
}

/** ConvTranspose1d (stride 2, output_padding 1) -> BN1d -> ELU(1). */
class DecoderStage extends Module {
  readonly conv: ConvTranspose1d;
  readonly bn: BatchNorm1d;
  constructor(cin: number, cout: number, kernel: number, rng: Rng, backend: Backend) {
    super(backend);
    this.conv = this.registerModule('conv', new ConvTranspose1d(cin, cout, kernel, { rng, backend, stride: 2, padding: (kernel - 1) / 2, outputPadding: 1 }));
    this.bn = this.registerModule('bn', new BatchNorm1d(cout, { backend }));
  }
  forward(x: Tensor): Tensor { // [B, cin, l] -> [B, cout, 2 l]
    return ops.elu(this.bn.forward(this.conv.forward(x)), 1);
  }
}

/** A container whose children are named "0", "1", ... (like nn.ModuleList). */
class ModuleList<M extends Module> extends Module {
  readonly items: M[];
  constructor(items: M[], backend: Backend) {
    super(backend);
    this.items = items;
    items.forEach((m, i) => this.registerModule(String(i), m));
  }
}

export class ParamAutoencoder extends Module {
  readonly L: number;
  readonly channels: readonly number[];
  readonly latentDim: number;
  readonly kernel: number;
  /** Length after the encoder convs: L / 32. */
  readonly innerLength: number;
  readonly encoder: ModuleList<EncoderStage>;
  readonly encFc1: Linear;
  readonly encFc2: Linear;
  readonly decFc: Linear;
  readonly decoder: ModuleList<DecoderStage>;
  readonly outConv: Conv1d;

  constructor(args: ParamAutoencoderArgs) {
    const backend = args.backend ?? getBackend();
    super(backend);
    const { L, channels, latentDim } = args;
    const kernel = args.kernel ?? 7;
    if (channels.length !== STAGES || channels.some((c) => !Number.isInteger(c) || c <= 0)) {
      throw new ConfigError(`ae.channels: expected ${STAGES} positive integers, got ${JSON.stringify(channels)}`);
    }
    if (!Number.isInteger(kernel) || kernel < 1 || kernel % 2 !== 1) throw new ConfigError(`ae.kernel: expected an odd positive integer, got ${kernel}`);
    if (!Number.isInteger(latentDim) || latentDim <= 0) throw new ConfigError(`ae.latentDim: expected a positive integer, got ${latentDim}`);
    const div = 2 ** STAGES;
    if (!Number.isInteger(L) || L <= 0 || L % div !== 0) {
      throw new ShapeError(`ParamAutoencoder: expected a parameter length L that is a positive multiple of ${div} (pad the vector), got ${L}`);
    }
    this.L = L;
    this.channels = [...channels];
    this.latentDim = latentDim;
    this.kernel = kernel;
    this.innerLength = L / div;
    const { rng } = args;
    const c = this.channels as number[];
    const c5 = c[STAGES - 1]!;
    const flat = c5 * this.innerLength;

    const enc: EncoderStage[] = [];
    for (let i = 0; i < STAGES; i++) enc.push(new EncoderStage(i === 0 ? 1 : c[i - 1]!, c[i]!, kernel, rng, backend));
    this.encoder = this.registerModule('encoder', new ModuleList(enc, backend));
    this.encFc1 = this.registerModule('enc_fc1', new Linear(flat, latentDim, { rng, backend }));
    this.encFc2 = this.registerModule('enc_fc2', new Linear(latentDim, latentDim, { rng, backend }));

    this.decFc = this.registerModule('dec_fc', new Linear(latentDim, flat, { rng, backend }));
    const r = [...c].reverse();
    const dec: DecoderStage[] = [];
    // 4 stages r_i -> r_{i+1}, then c1 -> c1 (the fifth upsampling keeps the channels; docs/autoencoder.md#architecture).
    for (let i = 0; i < STAGES - 1; i++) dec.push(new DecoderStage(r[i]!, r[i + 1]!, kernel, rng, backend));
    dec.push(new DecoderStage(c[0]!, c[0]!, kernel, rng, backend));
    this.decoder = this.registerModule('decoder', new ModuleList(dec, backend));
    this.outConv = this.registerModule('out_conv', new Conv1d(c[0]!, 1, kernel, { rng, backend, stride: 1, padding: (kernel - 1) / 2 }));
  }

  /** x [B, L] -> latent mu [B, d]. */
  encode(x: Tensor): Tensor {
    if (x.rank !== 2 || x.shape[1] !== this.L) throw new ShapeError(`ParamAutoencoder.encode: expected x [B, ${this.L}], got [${x.shape.join(', ')}]`);
    const B = x.shape[0]!;
    let h = ops.reshape(x, [B, 1, this.L]);
    for (const stage of this.encoder.items) h = stage.forward(h);
    // [B, c5, L/32] flattened channel-major (row-major reshape).
    h = ops.reshape(h, [B, this.channels[STAGES - 1]! * this.innerLength]);
    return this.encFc2.forward(this.encFc1.forward(h));
  }

  /** Latent h [B, d] -> reconstruction [B, L]. */
  decode(h: Tensor): Tensor {
    if (h.rank !== 2 || h.shape[1] !== this.latentDim) throw new ShapeError(`ParamAutoencoder.decode: expected h [B, ${this.latentDim}], got [${h.shape.join(', ')}]`);
    const B = h.shape[0]!;
    let y = ops.reshape(this.decFc.forward(h), [B, this.channels[STAGES - 1]!, this.innerLength]);
    for (const stage of this.decoder.items) y = stage.forward(y);
    y = this.outConv.forward(y); // [B, 1, L]
    return ops.reshape(y, [B, this.L]);
  }

  /** decode(encode(x)). */
  forward(x: Tensor): Tensor { return this.decode(this.encode(x)); }
}
