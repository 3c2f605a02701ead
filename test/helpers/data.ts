/** Shared pieces of the tests that write data files or run small pipelines on Fashion-MNIST. */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Config, DeepPartial } from '../../src/config/index.js';
import { DEFAULT_FASHION_MNIST_DIR } from '../../src/data/dataset.js';

/** IDX bytes: magic 00 00 <type> ndim, big-endian dims, then the data (type 0x08 = unsigned bytes). */
export function idxBytes(dims: number[], data: Uint8Array, typeByte = 0x08): Buffer {
  const head = Buffer.alloc(4 + 4 * dims.length);
  head[2] = typeByte;
  head[3] = dims.length;
  dims.forEach((d, i) => head.writeUInt32BE(d, 4 + 4 * i));
  return Buffer.concat([head, data]);
}

/** false when Debian's Fashion-MNIST is installed, else the reason to skip (for `{ skip }`). */
export const skipWithoutFashionMnist: false | string =
  existsSync(join(DEFAULT_FASHION_MNIST_DIR, 'train-images-idx3-ubyte.gz')) || existsSync(join(DEFAULT_FASHION_MNIST_DIR, 'train-images-idx3-ubyte'))
    ? false
    : `Fashion-MNIST not found in ${DEFAULT_FASHION_MNIST_DIR}`;

/** Overrides (over preset fmnist-tiny) for a pipeline of a few seconds: 600 images, 3 checkpoints, 3 steps each. */
export function microOverrides(out: string, evalOverrides: DeepPartial<Config['eval']> = {}): DeepPartial<Config> {
  return {
    out,
    data: { limitTrain: 600, limitTest: 100, valSize: 100 },
    base: { epochs: 1 },
    collect: { k: 3 },
    ae: { steps: 3 },
    diffusion: { steps: 3, timesteps: 100 },
    generate: { n: 2, batchSize: 2 },
    eval: { baselineCount: 1, avgOf: 2, noiseScales: [0.05], latency: false, evalBatch: 50, ...evalOverrides },
    report: { png: false },
  };
}
