/**
 * The latent denoiser eps_theta(x_t, t) of P-Diff (docs/diffusion.md#denoiser): a 1-D CNN over the latent
 * vector (length d, one input channel) with skip connections, and a sinusoidal time embedding
 * added to the input of every conv.
 *
 * state_dict (channels ch = [1, a, b, c, e, c, b, a, 1], all convs kernel 7, stride 1, pad 3):
 *   time_embed.0 (Linear 256 -> d), time_embed.2 (Linear d -> d)   [time_embed.1 is the SiLU]
 *   blocks.{0..6}.conv (Conv1d ch_i -> ch_{i+1}), blocks.{0..6}.bn (BatchNorm1d)
 *   blocks.7.conv (Conv1d a -> 1; no norm, no activation)
 *   cond_embed.0 (Linear condDim -> d, no bias), cond_embed.2 (Linear d -> d, no bias)
 *     only in a conditional denoiser (condDim > 0; docs/conditioning.md#denoiser)
 */
import type { Backend } from '../backend/backend.js';
import { getBackend } from '../backend/index.js';
import { BatchNorm1d, Conv1d, Linear, Module } from '../nn/index.js';
import * as ops from '../tensor/ops.js';
import type { Rng } from '../tensor/random.js';
import { graphConstant, type Tensor } from '../tensor/tensor.js';
import { ConfigError, ShapeError } from '../util/errors.js';

/** Width of the sinusoidal timestep embedding: 128 frequencies, cos and sin (docs/diffusion.md#denoiser). */
export const TIME_EMBED_DIM = 256;

export interface LatentDenoiserArgs {
  /** Latent size d (the length the convs run over). */
  d: number;
  /** Channel list [1, a, b, c, e, c, b, a, 1] (9 entries). */
  channels: readonly number[];
  /** Odd kernel size of every conv (default 7); padding (kernel - 1) / 2 keeps the length. */
  kernel?: number;
  /**
   * Width of the condition vector (docs/conditioning.md); 0 (default) = unconditional, the
   * original model: same parameters, same initial draws from `rng`, same outputs.
   */
  condDim?: number;
  /** Generator for the initial weights (PyTorch's default initialisation). */
  rng: Rng;
  backend?: Backend;
}

/** Conv1d (same padding), optionally followed by BN1d -> ELU. */
class Block extends Module {
  readonly conv: Conv1d;
  readonly bn: BatchNorm1d | null;
  constructor(cin: number, cout: number, kernel: number, norm: boolean, rng: Rng, backend: Backend) {
    super(backend);
    this.conv = this.registerModule('conv', new Conv1d(cin, cout, kernel, { rng, backend, stride: 1, padding: (kernel - 1) / 2 }));
    this.bn = norm ? this.registerModule('bn', new BatchNorm1d(cout, { backend })) : null;
  }
  forward(x: Tensor): Tensor { // [B, cin, d] -> [B, cout, d]
    const bn = this.bn;
    if (bn && !bn.training && bn.runningMean && bn.runningVar) {
      // sampling: one pass where the backend has it and nothing needs a gradient, the same bits
      const c = this.conv;
      const fused = ops.conv1dBnActEval(x, c.weight, c.bias, { stride: c.stride, padding: c.padding },
        { weight: bn.weight, bias: bn.bias, runningMean: bn.runningMean, runningVar: bn.runningVar, eps: bn.eps }, 'elu', 1);
      if (fused) return fused;
    }
    const y = this.conv.forward(x);
    return bn ? ops.elu(bn.forward(y), 1) : y;
  }
}

/** Linear(256 -> d) -> SiLU -> Linear(d -> d), children named "0" and "2" as in nn.Sequential. */
class TimeEmbed extends Module {
  readonly fc1: Linear;
  readonly fc2: Linear;
  constructor(d: number, rng: Rng, backend: Backend) {
    super(backend);
    this.fc1 = this.registerModule('0', new Linear(TIME_EMBED_DIM, d, { rng, backend }));
    this.fc2 = this.registerModule('2', new Linear(d, d, { rng, backend }));
  }
  forward(e: Tensor): Tensor { return this.fc2.forward(ops.silu(this.fc1.forward(e))); }
}

/**
 * Linear(condDim -> d) -> SiLU -> Linear(d -> d), both without bias, children "0" and "2". With no
 * bias anywhere, SiLU(0) = 0 and W 0 = 0 make the null condition (all zeros) embed to exactly 0,
 * whatever the weights: the conditional denoiser then adds nothing to the time embedding and
 * computes what the unconditional one with the same shared weights computes.
 */
class CondEmbed extends Module {
  readonly fc1: Linear;
  readonly fc2: Linear;
  constructor(condDim: number, d: number, rng: Rng, backend: Backend) {
    super(backend);
    this.fc1 = this.registerModule('0', new Linear(condDim, d, { rng, backend, bias: false }));
    this.fc2 = this.registerModule('2', new Linear(d, d, { rng, backend, bias: false }));
  }
  forward(c: Tensor): Tensor { return this.fc2.forward(ops.silu(this.fc1.forward(c))); }
}

class BlockList extends Module {
  readonly items: Block[];
  constructor(items: Block[], backend: Backend) {
    super(backend);
    this.items = items;
    items.forEach((m, i) => this.registerModule(String(i), m));
  }
}

/** Number of convs: 5 encoder + 3 decoder. */
const CONVS = 8;

export class LatentDenoiser extends Module {
  readonly d: number;
  readonly channels: readonly number[];
  readonly kernel: number;
  readonly timeEmbed: TimeEmbed;
  readonly blocks: BlockList;
  /** Width of the condition vector; 0 = unconditional. */
  readonly condDim: number;
  /** The condition embedding (null when condDim = 0). */
  readonly condEmbed: CondEmbed | null;

  constructor(args: LatentDenoiserArgs) {
    const backend = args.backend ?? getBackend();
    super(backend);
    const { d, channels, rng } = args;
    const kernel = args.kernel ?? 7;
    if (channels.length !== CONVS + 1 || channels[0] !== 1 || channels[CONVS] !== 1 || channels.some((c) => !Number.isInteger(c) || c <= 0)) {
      throw new ConfigError(`diffusion.channels: expected 9 positive integers [1, a, b, c, e, c, b, a, 1], got ${JSON.stringify(channels)}`);
    }
    const ch = channels;
    // The skips s0, s1, s2 are added to the inputs of convs 7, 6, 5: their channels must match.
    if (ch[1] !== ch[7] || ch[2] !== ch[6] || ch[3] !== ch[5]) {
      throw new ConfigError(`diffusion.channels: expected a mirrored list [1, a, b, c, e, c, b, a, 1] (skip connections), got ${JSON.stringify(channels)}`);
    }
    if (!Number.isInteger(kernel) || kernel < 1 || kernel % 2 !== 1) throw new ConfigError(`diffusion kernel: expected an odd positive integer, got ${kernel}`);
    if (!Number.isInteger(d) || d <= 0) throw new ConfigError(`latent size d: expected a positive integer, got ${d}`);
    const condDim = args.condDim ?? 0;
    if (!Number.isInteger(condDim) || condDim < 0) throw new ConfigError(`denoiser condDim: expected a non-negative integer (0 = unconditional), got ${condDim}`);
    this.d = d;
    this.condDim = condDim;
    this.channels = [...channels];
    this.kernel = kernel;
    this.timeEmbed = this.registerModule('time_embed', new TimeEmbed(d, rng, backend));
    const blocks: Block[] = [];
    for (let i = 0; i < CONVS; i++) blocks.push(new Block(ch[i]!, ch[i + 1]!, kernel, i < CONVS - 1, rng, backend));
    this.blocks = this.registerModule('blocks', new BlockList(blocks, backend));
    // Registered (and drawn from rng) after everything else: the shared weights of a conditional
    // denoiser start exactly where an unconditional one's from the same rng do.
    this.condEmbed = condDim > 0 ? this.registerModule('cond_embed', new CondEmbed(condDim, d, rng, backend)) : null;
  }

  /**
   * Predicted noise [B, d] for x_t [B, d] at timesteps t: one per row, or one number for all rows
   * (the time embedding is then computed once and broadcast, which sampling uses). A conditional
   * denoiser (condDim > 0) needs `cond` [B, condDim] (or [1, condDim] for all rows), whose
   * embedding joins the time embedding; zeros are the null condition. An unconditional one takes none.
   */
  forward(x: Tensor, t: Int32Array | readonly number[] | number, cond?: Tensor): Tensor {
    const d = this.d;
    if (x.rank !== 2 || x.shape[1] !== d) throw new ShapeError(`LatentDenoiser.forward: expected x [B, ${d}], got [${x.shape.join(', ')}]`);
    const B = x.shape[0]!;
    const ts = typeof t === 'number' ? [t] : t;
    if (typeof t !== 'number' && ts.length !== B) throw new ShapeError(`LatentDenoiser.forward: expected ${B} timesteps (one per row of x), got ${ts.length}`);
    // the embedding is this pass's alone: freeGraph and scope release it with the activations
    const emb = graphConstant(ops.timestepEmbedding(ts, TIME_EMBED_DIM, this.backend));
    const temb = this.condEmbed ? this.condTimeEmbed(emb, B, cond) : this.uncondTimeEmbed(emb, ts.length, cond);
    const b = this.blocks.items;
    let h = ops.reshape(x, [B, 1, d]);
    const skips: Tensor[] = [];
    for (let i = 0; i < 5; i++) {
      h = b[i]!.forward(ops.add(h, temb));
      if (i < 3) skips.push(h);
    }
    // Decoder: conv 5 gets s2, conv 6 gets s1, conv 7 gets s0 (and every conv the time embedding).
    for (let i = 5; i < CONVS; i++) {
      h = b[i]!.forward(ops.add(ops.add(h, skips[CONVS - 1 - i]!), temb));
    }
    return ops.reshape(h, [B, d]);
  }

  /** The time embedding [rows, 1, d] of the unconditional denoiser (the original computation). */
  private uncondTimeEmbed(emb: Tensor, rows: number, cond: Tensor | undefined): Tensor {
    if (cond) throw new ShapeError(`LatentDenoiser.forward: this denoiser is unconditional (condDim 0) and takes no condition, got one of shape [${cond.shape.join(', ')}]`);
    return ops.reshape(this.timeEmbed.forward(emb), [rows, 1, this.d]);
  }

  /**
   * time embedding + condition embedding, [B or 1, 1, d] (docs/conditioning.md#denoiser). The
   * null condition embeds to exact zeros, and t + 0 = t, so it changes no bit of the sum.
   */
  private condTimeEmbed(emb: Tensor, B: number, cond: Tensor | undefined): Tensor {
    const c = this.condDim, d = this.d;
    if (!cond) throw new ShapeError(`LatentDenoiser.forward: this denoiser is conditional (condDim ${c}); expected a condition [${B}, ${c}] (zeros = the null condition), got none`);
    if (cond.rank !== 2 || cond.shape[1] !== c || (cond.shape[0] !== B && cond.shape[0] !== 1)) {
      throw new ShapeError(`LatentDenoiser.forward: expected a condition [${B}, ${c}] or [1, ${c}], got [${cond.shape.join(', ')}]`);
    }
    const sum = ops.add(this.timeEmbed.forward(emb), this.condEmbed!.forward(cond)); // [1 or B] + [1 or B] rows, broadcast
    return ops.reshape(sum, [sum.shape[0]!, 1, d]);
  }
}
