/**
 * Stage base: train the classifier on the training split (docs/zoo.md#base-training), or, when
 * collect.seeds lists base-model files, load the first of them (docs/seeds.md#collection).
 */
import { Rng, deriveSeed } from '../../tensor/random.js';
import { writeFileAtomic } from '../../util/atomic.js';
import { loadBaseModelFile } from '../../zoo/seeds.js';
import { evaluateClassifier, trainClassifier, type EpochRecord } from '../../zoo/train.js';
import { checkFinite, saveModule } from '../artifacts.js';
import { ARTIFACTS, newModel, type StageFn } from '../context.js';

export const base: StageFn = async (ctx) => {
  const { cfg, be, store } = ctx;
  const { train, val, test } = ctx.splits();
  const model = newModel(cfg, train, be);
  const file = Array.isArray(cfg.collect.seeds) ? cfg.collect.seeds[0]! : null;
  const t0 = performance.now();
  let history: EpochRecord[] = [];
  if (file !== null) {
    loadBaseModelFile(model, file, 'collect.seeds[0]', `[${train.c}, ${train.h}, ${train.w}] images and ${train.numClasses} classes (${cfg.data.dataset})`);
    ctx.say(`[base] loaded ${file}`);
  } else {
    ({ history } = trainClassifier(model, train, cfg.base, {
      rng: new Rng(deriveSeed(cfg.seed, 'base')), val, log: ctx.log, progress: ctx.progress, augment: cfg.data.augment, evalBatch: cfg.eval.evalBatch,
    }));
  }
  const trainSeconds = file !== null ? 0 : (performance.now() - t0) / 1000;
  model.eval();
  const v = evaluateClassifier(model, val, { batch: cfg.eval.evalBatch });
  const t = evaluateClassifier(model, test, { batch: cfg.eval.evalBatch });
  for (const [n, p] of model.stateDict()) checkFinite(`base model tensor "${n}"`, p.toArray() as Float32Array);
  saveModule(store.path(ARTIFACTS.base), model, cfg, 'base');
  const record = file !== null
    ? { val: v.acc, test: t.acc, history, trainSeconds, epochSeconds: 0, source: file }
    : { val: v.acc, test: t.acc, history, trainSeconds, epochSeconds: trainSeconds / cfg.base.epochs };
  writeFileAtomic(store.path(ARTIFACTS.baseJson), JSON.stringify(record, null, 2) + '\n');
  ctx.say(`[base] val ${v.acc.toFixed(2)} %, test ${t.acc.toFixed(2)} %`);
  return { files: [ARTIFACTS.base, ARTIFACTS.baseJson] };
};
