/** Stage base: train the classifier on the training split (docs/zoo.md#base-training). */
import { Rng, deriveSeed } from '../../tensor/random.js';
import { writeFileAtomic } from '../../util/atomic.js';
import { evaluateClassifier, trainClassifier } from '../../zoo/train.js';
import { checkFinite, saveModule } from '../artifacts.js';
import { ARTIFACTS, newModel, type StageFn } from '../context.js';

export const base: StageFn = async (ctx) => {
  const { cfg, be, store } = ctx;
  const { train, val, test } = ctx.splits();
  const model = newModel(cfg, train, be);
  const t0 = performance.now();
  const { history } = trainClassifier(model, train, cfg.base, {
    rng: new Rng(deriveSeed(cfg.seed, 'base')), val, log: ctx.log, progress: ctx.progress, augment: cfg.data.augment, evalBatch: cfg.eval.evalBatch,
  });
  const trainSeconds = (performance.now() - t0) / 1000;
  model.eval();
  const v = evaluateClassifier(model, val, { batch: cfg.eval.evalBatch });
  const t = evaluateClassifier(model, test, { batch: cfg.eval.evalBatch });
  for (const [n, p] of model.stateDict()) checkFinite(`base model tensor "${n}"`, p.toArray() as Float32Array);
  saveModule(store.path(ARTIFACTS.base), model, cfg, 'base');
  writeFileAtomic(store.path(ARTIFACTS.baseJson), JSON.stringify({ val: v.acc, test: t.acc, history, trainSeconds, epochSeconds: trainSeconds / cfg.base.epochs }, null, 2) + '\n');
  ctx.say(`[base] val ${v.acc.toFixed(2)} %, test ${t.acc.toFixed(2)} %`);
  return { files: [ARTIFACTS.base, ARTIFACTS.baseJson] };
};
