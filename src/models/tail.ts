/**
 * Tails of a classifier for evaluating many parameter sets on cached features (see
 * Classifier.evalTail): the generic tail every Classifier has (forwardTo / forwardFrom through
 * the ops), and the exactness check that a model's faster tail must pass before it is used.
 */
import type { Storage } from '../backend/backend.js';
import type { Tensor } from '../tensor/tensor.js';
import { ShapeError } from '../util/errors.js';
import type { Classifier, EvalTailRequest, TailRunner } from './classifier.js';

/** The tail of any Classifier: model.forwardTo / model.forwardFrom through the ops. */
export class GenericTail implements TailRunner {
  readonly kind = 'generic';
  private floats = -1;
  /**
   * @param probe one input image [1, c, h, w], for featureFloats
   */
  constructor(private readonly model: Classifier, readonly start: number, private readonly probe: () => Tensor) {}
  features(x: Tensor): Tensor[] {
    return [this.model.forwardTo(x, this.start)];
  }
  run(feats: readonly Tensor[], rows: number): Storage {
    const y = this.model.forwardFrom(feats[0]!, this.start);
    if (y.rank !== 2 || y.shape[0] !== rows) {
      throw new ShapeError(`${this.model.arch} tail: forwardFrom returned [${y.shape.join(', ')}], expected logits [${rows}, classes]`);
    }
    return y.storage;
  }
  featureFloats(): number {
    if (this.floats < 0) {
      const h = this.model.forwardTo(this.probe(), this.start);
      this.floats = h.size / h.shape[0]!;
    }
    return this.floats;
  }
}

/** One variant of a model's tail: a label for notes and how to build it. */
export interface TailCandidate {
  label: string;
  make(): TailRunner;
}

/**
 * The first candidate whose logits on req.check equal those of model.forwardFrom bit for bit
 * (the guard of a hand-planned tail: an engine kernel may change under it). Candidates that
 * differ are noted; when none matches, a warning is noted and the result is null (the caller
 * then uses the generic tail).
 * @param where the file that holds the candidates, named in the warning
 */
export function firstExactTail(model: Classifier, req: EvalTailRequest, candidates: readonly TailCandidate[], where: string): TailRunner | null {
  const be = model.backend, x = req.check, rows = x.shape[0]!;
  const ref = be.read(model.forwardFrom(model.forwardTo(x, req.start), req.start).storage);
  const tried: string[] = [];
  for (const cand of candidates) {
    const tail = cand.make();
    const got = be.read(tail.run(tail.features(x), rows));
    let differ = got.length === ref.length ? 0 : ref.length;
    let worst = 0;
    for (let i = 0; i < ref.length && i < got.length; i++) {
      const a = ref[i]!, b = got[i]!;
      if (a === b || (a !== a && b !== b)) continue;
      differ++;
      const d = Math.abs(a - b) / (1 + Math.abs(a));
      if (!(d <= worst)) worst = d; // NaN counts
    }
    if (differ === 0) {
      if (tried.length) req.note(`${model.arch} tail variants skipped (${tried.join('; ')})`, false);
      return tail;
    }
    tried.push(`${cand.label}: ${differ} of ${ref.length} logits differ, max relative difference ${worst}`);
  }
  req.note(`the planned ${model.arch} tail from stage ${req.start} does not reproduce ${model.arch}.forwardFrom bit for bit ` +
    `on ${rows} images (${tried.join('; ')}); using the generic forward (an engine kernel may have changed: see ${where})`, true);
  return null;
}
