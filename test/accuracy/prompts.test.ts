/**
 * Prompts and metrics of accuracy control: the target-accuracy parser names its flag, the prompt
 * grid, Spearman (ties by average rank) and MAE against known values, the per-prompt summary,
 * novelty against the zoo, and scoring sets through the evaluator.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { scoreSets, promptOutcomes } from '../../src/accuracy/evaluate.js';
import {
  ACCURACY_GOALS, TargetAccuracyError, accuracyPrompts, averageRanks, meanAbsoluteError, parseTargetAccuracy, promptNovelty, spearman, summarizeAccuracyControl,
} from '../../src/accuracy/prompts.js';
import { accuracyLayout } from '../../src/accuracy/zoo.js';
import { ParamSetEvaluator } from '../../src/eval/evaluate.js';
import { Rng } from '../../src/tensor/random.js';
import { ConfigError, ShapeError } from '../../src/util/errors.js';
import { buildMlp, test, val } from './fixture.js';

describe('parseTargetAccuracy', () => {
  it('reads a percentage in [0, 100]', () => {
    assert.equal(parseTargetAccuracy('85', '--target-acc'), 85);
    assert.equal(parseTargetAccuracy(' 85.5 ', '--target-acc'), 85.5);
    assert.equal(parseTargetAccuracy('85%', '--target-acc'), 85);
    assert.equal(parseTargetAccuracy('0', '--target-acc'), 0);
    assert.equal(parseTargetAccuracy('100', '--target-acc'), 100);
    assert.equal(parseTargetAccuracy('.5', '--target-acc'), 0.5);
  });

  it('refuses anything else with a ConfigError naming the flag', () => {
    for (const bad of ['', 'abc', '85x', '-1', '100.5', '1e3', 'NaN', 'Infinity', '0x10', '8 5', '%']) {
      assert.throws(() => parseTargetAccuracy(bad, 'eval.prompts[2]'), (e: unknown) => {
        assert.ok(e instanceof TargetAccuracyError && e instanceof ConfigError, `"${bad}"`);
        assert.equal(e.flag, 'eval.prompts[2]');
        assert.match(e.message, /^eval\.prompts\[2\]: /);
        assert.ok(e.message.includes(JSON.stringify(bad)), e.message);
        return true;
      });
    }
    assert.throws(() => parseTargetAccuracy('101', '--target-acc'), /--target-acc: a target accuracy must lie in \[0, 100\] \(percent\), got "101"/);
  });
});

describe('accuracyPrompts', () => {
  it('spaces prompts from lo (or from) to hi, then steps above the best up to 100', () => {
    assert.deepEqual(accuracyPrompts({ range: { lo: 10, hi: 90 }, inside: 5 }), [10, 30, 50, 70, 90, 91, 92]);
    assert.deepEqual(accuracyPrompts({ range: { lo: 10, hi: 90 }, inside: 5, from: 50, above: 3, step: 0.5 }), [50, 60, 70, 80, 90, 90.5, 91, 91.5]);
    assert.deepEqual(accuracyPrompts({ range: { lo: 10, hi: 99 }, inside: 2, above: 3 }), [10, 99, 100]);
    assert.deepEqual(accuracyPrompts({ range: { lo: 10, hi: 90 }, inside: 2, from: 0, above: 0 }), [10, 90]);
    assert.throws(() => accuracyPrompts({ range: { lo: 10, hi: 90 }, inside: 1 }), ConfigError);
    assert.throws(() => accuracyPrompts({ range: { lo: 10, hi: 10 }, inside: 3 }), ConfigError);
    assert.throws(() => accuracyPrompts({ range: { lo: 10, hi: 90 }, inside: 3, from: 95 }), ConfigError);
  });
});

describe('spearman / meanAbsoluteError', () => {
  it('ranks ties by their average rank', () => {
    assert.deepEqual([...averageRanks([10, 20, 20, 5])], [2, 3.5, 3.5, 1]);
    assert.deepEqual([...averageRanks([7, 7, 7])], [2, 2, 2]);
  });

  it('matches scipy.stats.spearmanr on known samples', () => {
    assert.equal(spearman([1, 2, 3, 4, 5], [5, 6, 7, 8, 7]), 0.8207826816681233);
    assert.equal(spearman([1, 1, 2, 3], [1, 2, 3, 4]), 0.9486832980505138);
    assert.equal(spearman([1, 2, 3], [30, 20, 10]), -1);
    assert.equal(spearman([1, 2, 3, 4], [1, 4, 9, 16]), 1); // monotone, not linear
    assert.ok(Number.isNaN(spearman([1, 2, 3], [5, 5, 5])));
    assert.ok(Number.isNaN(spearman([1], [2])));
    assert.throws(() => spearman([1, 2], [1]), ShapeError);
    assert.throws(() => spearman([1, NaN], [1, 2]), ShapeError);
  });

  it('averages absolute errors', () => {
    assert.equal(meanAbsoluteError([1, 5, 10], [2, 5, 7]), 4 / 3);
    assert.ok(Number.isNaN(meanAbsoluteError([], [])));
  });
});

describe('summarizeAccuracyControl', () => {
  const range = { lo: 10, hi: 90 };
  const outcomes = [
    { prompt: 20, test: [21, 23] }, { prompt: 50, test: [50, 50] }, { prompt: 80, test: [78, 79] }, { prompt: 95, test: [85, 86] },
  ];

  it('gives per-prompt mean, std and error, MAE and Spearman inside the range, and what happens above it', () => {
    const s = summarizeAccuracyControl({ outcomes, range, zooBestTest: 86 });
    assert.deepEqual(s.perPrompt.map((p) => [p.mean, p.error, p.inRange]), [[22, 2, true], [50, 0, true], [78.5, -1.5, true], [85.5, -9.5, false]]);
    assert.equal(s.perPrompt[0]!.std, Math.SQRT2);
    assert.equal(s.inside.count, 3);
    assert.equal(s.inside.mae, 3.5 / 3);
    assert.equal(s.inside.spearman, 1);
    assert.equal(s.inside.maxAbsError, 2);
    assert.equal(s.spearmanAll, 1);
    assert.deepEqual(s.above, { prompts: [95], mean: [85.5], zooBestTest: 86, gainOverZoo: -0.5 });
    assert.equal(s.meetsGoals, true);
  });

  it('fails the goals on a large error or a wrong order', () => {
    const far = summarizeAccuracyControl({ outcomes: outcomes.map((o) => ({ ...o, test: o.test.map((a) => a + 2) })), range });
    assert.equal(far.inside.spearman, 1);
    assert.ok(far.inside.mae > ACCURACY_GOALS.mae);
    assert.equal(far.meetsGoals, false);
    assert.equal(far.above?.gainOverZoo, null);
    const flat = summarizeAccuracyControl({ outcomes: [{ prompt: 20, test: [50] }, { prompt: 50, test: [49] }, { prompt: 80, test: [50.5] }], range });
    assert.equal(flat.inside.spearman, 0.5);
    assert.equal(flat.meetsGoals, false);
    assert.equal(flat.above, null);
    assert.throws(() => summarizeAccuracyControl({ outcomes: [{ prompt: 20, test: [] }], range }), ShapeError);
  });
});

describe('scoreSets / promptNovelty', () => {
  const model = buildMlp(new Rng(5));
  const layout = accuracyLayout(model, { mode: 'whole', bnMode: 'eval' });
  const T = layout.total;
  const ev = new ParamSetEvaluator({ model, layout, datasets: { val, test } });
  const vecs = [1, 2, 3].map((s) => layout.read(buildMlp(new Rng(s))));
  const zooRows = new Float32Array(2 * T);
  zooRows.set(vecs[0]!, 0);
  zooRows.set(vecs[1]!, T);
  const setA = zooRows.slice(); // two zoo rows, copied
  const setB = vecs[2]!;

  it('scores each set as evaluate does, one pass for all', () => {
    const sc = scoreSets(ev, [setA, setB], 'test');
    const direct = ev.evaluate(new Float32Array([...setA, ...setB]), 3);
    assert.deepEqual(sc.map((s) => s.acc), [[direct[0]!.test.acc, direct[1]!.test.acc], [direct[2]!.test.acc]]);
    assert.deepEqual(sc[1]!.preds[0], direct[2]!.test.preds);
    assert.deepEqual(promptOutcomes([40, 60], sc), [{ prompt: 40, test: sc[0]!.acc }, { prompt: 60, test: sc[1]!.acc }]);
    assert.throws(() => scoreSets(ev, [new Float32Array(T + 1)], 'test'), ShapeError);
  });

  it('gives NN-L2 0 and IoU-max 1 for copies of zoo rows, more for a new model', () => {
    const sc = scoreSets(ev, [setA, setB], 'test');
    const zooPreds = scoreSets(ev, [zooRows], 'test')[0]!.preds;
    const nov = promptNovelty({ sets: [setA, setB], preds: sc.map((s) => s.preds), zoo: { rows: zooRows, labels: [30, 70], preds: zooPreds }, testLabels: test.labels, total: T });
    assert.deepEqual(nov[0], { nnL2: 0, iouMax: 1, nearestLabel: 50 });
    assert.ok(nov[1]!.nnL2 > 1 && nov[1]!.iouMax < 1, JSON.stringify(nov[1]));
  });
});
