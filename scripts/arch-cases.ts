/**
 * The small architecture cases that scripts/arch-interop.ts and scripts/export-archs.ts write for
 * the Python checkers, and how each is prepared: a pdiff-initialised model whose BN statistics a
 * few train-mode passes moved off their init, an input batch and pdiff's logits for it.
 */
import type { Backend } from '../src/backend/index.js';
import { buildClassifier, type Arch, type Classifier, type ModelOptions } from '../src/models/index.js';
import { Rng } from '../src/tensor/random.js';
import { Tensor, noGrad } from '../src/tensor/tensor.js';

export interface ArchCase { name: string; arch: Arch; inShape: [number, number, number]; model: ModelOptions }

export const VIT_SMALL: ModelOptions = { vit: { patchSize: 7, layers: 4, heads: 4, hidden: 64, mlp: 128 } };

/** The case's model (eval mode), a batch of 3 inputs and pdiff's logits for them; seed 7. */
export function preparedModel(be: Backend, c: ArchCase): { model: Classifier; x: Tensor; logits: Float32Array } {
  const rng = new Rng(7);
  const model = buildClassifier(c.arch, { rng, backend: be, inShape: c.inShape, numClasses: 10, model: c.model });
  const rand = (n: number) => new Tensor(be.fromArray(rng.fillNormal(new Float32Array(n * c.inShape[0] * c.inShape[1] * c.inShape[2]))), [n, ...c.inShape], be);
  model.train();
  for (let i = 0; i < 3; i++) noGrad(() => model.forward(rand(8))); // moves BN running statistics off their init
  model.eval();
  const x = rand(3);
  return { model, x, logits: be.read(model.forward(x).storage) as Float32Array };
}
