/**
 * The tasks section (docs/tasks.md#config): at its defaults every stage hash is the one it was
 * before the section existed; each key moves the hash of the stages it feeds; a task run needs a
 * 10-class data set, a generated part the architecture has, one seed and codes that exist; the
 * plan draws the same codes from the same seed; a target accuracy is checked.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { configHash, resolveConfig } from '../../src/config/index.js';
import { TargetAccuracyError, parseTargetAccuracy } from '../../src/accuracy/prompts.js';
import { STAGE_KEYS, STAGES } from '../../src/run/context.js';
import { taskPlan } from '../../src/run/task-plan.js';
import { accuracyPlan } from '../../src/run/accuracy-plan.js';
import { DEFAULT_ACCURACY_RECIPE } from '../../src/accuracy/zoo.js';
import { ConfigError } from '../../src/util/errors.js';

const hashes = (sets: string[]): Record<string, string> =>
  Object.fromEntries(STAGES.map((s) => [s, configHash(resolveConfig({ sets }), STAGE_KEYS[s])]));

describe('tasks config', () => {
  it('leaves every stage hash of an unconditional run as it was, and each key moves the stages it feeds', () => {
    const cfg = resolveConfig({});
    // the hashes of the default config's sections before the tasks section existed (test/config/config.test.ts pins them)
    assert.equal(configHash(cfg, STAGE_KEYS.collect), 'd88ce7430881e183a13450d5b8e19c88f055ea05b5be4fdcd48d7a4bfdb655e7');
    assert.equal(configHash(cfg, STAGE_KEYS.generate), '147a79f7c12bfac527032646ed006079e7646cfda789c6936dae962e49099de3');
    assert.equal(configHash(cfg, STAGE_KEYS.evaluate), configHash(cfg, ['eval']));
    const task = ['tasks.condition="task"'];
    const base = hashes(task);
    assert.notEqual(base.collect, hashes([]).collect);
    const moved = (set: string): string[] => Object.entries(hashes([...task, set])).filter(([s, h]) => h !== base[s]).map(([s]) => s);
    assert.deepEqual(moved('tasks.unseen=30'), ['collect']);
    assert.deepEqual(moved('tasks.seen=100'), ['collect']);
    assert.deepEqual(moved('tasks.params=["bn2.*","fc.*"]'), ['collect']);
    assert.deepEqual(moved('tasks.recipe.steps=100'), ['collect']);
    assert.deepEqual(moved('tasks.evalSeen=5'), ['generate']);
    assert.deepEqual(moved('tasks.perCode=3'), ['generate']);
    assert.deepEqual(moved('tasks.ridgeLambda=0.1'), ['evaluate']);
    assert.deepEqual(moved('tasks.chunkSize=4'), [], 'the zoo files\' size changes no result');
  });

  it('refuses a task run on a data set without 10 classes, a default part the architecture lacks, several seeds and impossible counts, naming the key', () => {
    const refuses = (sets: string[], message: RegExp): void => {
      assert.throws(() => resolveConfig({ sets: ['tasks.condition="task"', ...sets] }), (e: unknown) => e instanceof ConfigError && message.test(e.message), sets.join(' '));
    };
    refuses(['data.dataset="cifar100"'], /^config: tasks\.condition: "task" needs a data set of 10 classes .* data\.dataset "cifar100" has 100/m);
    refuses(['model.arch="mlp"'], /^config: tasks\.params: expected parameter patterns for model\.arch "mlp": it has no BatchNorm layer/m);
    refuses(['model.arch="vit"'], /^config: tasks\.params: expected parameter patterns for model\.arch "vit"/m);
    refuses(['collect.mode="whole"', 'collect.seeds=2'], /^config: collect\.seeds: expected 1 with tasks\.condition "task"/m);
    refuses(['tasks.unseen=100', 'tasks.seen=950'], /^config: tasks\.seen: expected at most 922 \(1,022 codes minus tasks\.unseen = 100\), got 950/m);
    refuses(['tasks.unseen=1022'], /^config: tasks\.unseen: expected integer in \[1, 1021\]/m);
    refuses(['tasks.recipe.k=30'], /^config: tasks\.recipe\.k: expected k checkpoints saveEvery \(10\) steps apart to fit in steps \(200\)/m);
    assert.throws(() => resolveConfig({ sets: ['tasks.unseen=30'] }), /config: tasks\.unseen has no effect unless tasks\.condition is "task" \(tasks\.condition is "none"\)/);
    assert.equal(resolveConfig({ sets: ['tasks.condition="task"', 'model.arch="mlp"', 'tasks.params=["fc2.*"]'] }).tasks.params[0], 'fc2.*');
    assert.equal(resolveConfig({ preset: 'fmnist-tasks' }).tasks.condition, 'task');
    const acc = resolveConfig({ preset: 'fmnist-target-acc' });
    assert.equal(acc.tasks.condition, 'accuracy');
    assert.deepEqual([acc.model.arch, acc.tasks.accuracy.params, acc.tasks.accuracy.runs], ['mlp', [], 10]);
  });

  it('the plan: the same codes from the same seed, no held-out code in the zoo, the evaluated codes in order', () => {
    const cfg = resolveConfig({ sets: ['tasks.condition="task"', 'tasks.unseen=40', 'tasks.seen=300', 'tasks.evalSeen=7'] });
    const p = taskPlan(cfg)!;
    assert.deepEqual(taskPlan(cfg), p);
    assert.equal(p.split.unseen.length, 40);
    assert.equal(p.zooCodes.length, 300);
    assert.equal(p.K, 300 * 10);
    const unseen = new Set(p.split.unseen);
    assert.ok(p.zooCodes.every((c) => !unseen.has(c)));
    assert.deepEqual(p.evalCodes, [...p.split.unseen, ...p.evalSeen]);
    assert.ok(p.evalSeen.every((c) => p.zooCodes.includes(c)));
    assert.deepEqual([...p.zooCodes].sort(), p.zooCodes, 'code order');
    const other = taskPlan(resolveConfig({ sets: ['seed=1', 'tasks.condition="task"', 'tasks.unseen=40', 'tasks.seen=300', 'tasks.evalSeen=7'] }))!;
    assert.notDeepEqual(other.split.unseen, p.split.unseen);
    assert.equal(taskPlan(resolveConfig({ sets: ['tasks.condition="task"'] }))!.zooCodes.length, 972);
    assert.equal(taskPlan(resolveConfig({})), null);
  });

  it('accuracy mode: the section leaves every other hash as it was, each key moves the stages it feeds, defaults are the library\'s', () => {
    const cfg = resolveConfig({});
    assert.equal(configHash(cfg, STAGE_KEYS.collect), 'd88ce7430881e183a13450d5b8e19c88f055ea05b5be4fdcd48d7a4bfdb655e7');
    assert.equal(configHash(cfg, STAGE_KEYS.generate), '147a79f7c12bfac527032646ed006079e7646cfda789c6936dae962e49099de3');
    assert.equal(configHash(cfg, STAGE_KEYS.evaluate), configHash(cfg, ['eval']));
    assert.equal(configHash(cfg, ['tasks']), configHash(resolveConfig({ sets: ['tasks.accuracy.runs=10'] }), ['tasks']), 'tasks.accuracy at its defaults hashes as absent');
    const acc = ['tasks.condition="accuracy"'];
    const base = hashes(acc);
    assert.notEqual(base.collect, hashes([]).collect);
    assert.notEqual(base.collect, hashes(['tasks.condition="task"']).collect);
    const moved = (set: string): string[] => Object.entries(hashes([...acc, set])).filter(([s, h]) => h !== base[s]).map(([s]) => s);
    assert.deepEqual(moved('tasks.accuracy.runs=3'), ['collect']);
    assert.deepEqual(moved('tasks.accuracy.params=["fc2.*"]'), ['collect']);
    assert.deepEqual(moved('tasks.accuracy.recipe.steps=500'), ['collect']);
    assert.deepEqual(moved('tasks.accuracy.prompts.above=4'), ['generate']);
    assert.deepEqual(moved('tasks.accuracy.perPrompt=2'), ['generate']);
    assert.deepEqual(moved('tasks.accuracy.nearest=3'), ['evaluate']);
    assert.deepEqual(moved('tasks.accuracy.ridgeDegrees=[1,3,5]'), ['evaluate']);
    assert.deepEqual(moved('tasks.accuracy.ridgeLambda=0.01'), ['evaluate']);
    assert.deepEqual({ ...resolveConfig({ sets: acc }).tasks.accuracy.recipe }, { ...DEFAULT_ACCURACY_RECIPE });
    const p = accuracyPlan(resolveConfig({ sets: [...acc, 'tasks.accuracy.runs=4', 'tasks.accuracy.recipe.k=7', 'tasks.accuracy.prompts.from=50'] }))!;
    assert.equal(p.K, 28);
    assert.deepEqual(p.prompts, { inside: 12, above: 2, step: 1, from: 50 });
    assert.equal('from' in accuracyPlan(resolveConfig({ sets: acc }))!.prompts, false, 'from null = the zoo\'s lowest label');
    assert.equal(accuracyPlan(resolveConfig({})), null);
    assert.equal(accuracyPlan(resolveConfig({ sets: ['tasks.condition="task"'] })), null);
    assert.equal(taskPlan(resolveConfig({ sets: acc })), null);
  });

  it('accuracy mode refuses the task keys, task mode the accuracy keys, and bad accuracy settings, naming the key', () => {
    const refuses = (sets: string[], message: RegExp): void => {
      assert.throws(() => resolveConfig({ sets }), (e: unknown) => e instanceof ConfigError && message.test(e.message), sets.join(' '));
    };
    const acc = 'tasks.condition="accuracy"';
    refuses([acc, 'tasks.unseen=30'], /tasks\.unseen has no effect unless tasks\.condition is "task" \(tasks\.condition is "accuracy"\)/);
    refuses([acc, 'tasks.perCode=3'], /tasks\.perCode has no effect unless tasks\.condition is "task"/);
    refuses(['tasks.condition="task"', 'tasks.accuracy.runs=3'], /tasks\.accuracy has no effect unless tasks\.condition is "accuracy" \(tasks\.condition is "task"\)/);
    refuses(['tasks.accuracy.perPrompt=3'], /tasks\.accuracy has no effect unless tasks\.condition is "accuracy" \(tasks\.condition is "none"\)/);
    refuses([acc, 'collect.mode="whole"', 'collect.seeds=2'], /^config: collect\.seeds: expected 1 with tasks\.condition "accuracy"/m);
    refuses([acc, 'tasks.accuracy.recipe.k=90'], /^config: tasks\.accuracy\.recipe\.k: 90 checkpoints cannot be chosen from 82 distinct candidate steps/m);
    refuses([acc, 'tasks.accuracy.recipe.warmupSteps=5000'], /^config: tasks\.accuracy\.recipe\.warmupSteps: expected at most steps \(4000\)/m);
    refuses([acc, 'tasks.accuracy.recipe.candidates=2'], /^config: tasks\.accuracy\.recipe\.candidates: /m);
    refuses([acc, 'tasks.accuracy.recipe.bnMode="frozen"'], /^config: tasks\.accuracy\.recipe\.bnMode: /m);
    refuses([acc, 'tasks.accuracy.prompts.inside=1'], /^config: tasks\.accuracy\.prompts\.inside: /m);
    refuses([acc, 'tasks.accuracy.prompts.from=101'], /^config: tasks\.accuracy\.prompts\.from: /m);
    refuses([acc, 'tasks.accuracy.ridgeDegrees=[1,9]'], /^config: tasks\.accuracy\.ridgeDegrees\[1\]|^config: tasks\.accuracy\.ridgeDegrees\.1/m);
    refuses([acc, 'tasks.accuracy.ridgeDegrees=[5,5]'], /^config: tasks\.accuracy\.ridgeDegrees.*expected each degree once, got 5 twice/m);
    refuses([acc, 'tasks.accuracy.runz=3'], /tasks\.accuracy\.runz/);
    assert.equal(resolveConfig({ sets: [acc, 'model.arch="mlp"', 'data.dataset="cifar100"'] }).tasks.condition, 'accuracy', 'any data set and architecture');
  });

  it('parseTargetAccuracy takes a number in [0, 100] and names the flag otherwise', () => {
    assert.equal(parseTargetAccuracy('85', '--target-acc'), 85);
    assert.equal(parseTargetAccuracy(' 92.5 ', '--target-acc'), 92.5);
    assert.equal(parseTargetAccuracy('0', '--target-acc'), 0);
    assert.equal(parseTargetAccuracy('100', '--target-acc'), 100);
    for (const bad of ['100.1', '-1', 'abc', '', 'NaN', 'Infinity', '85%%']) {
      assert.throws(() => parseTargetAccuracy(bad, '--target-acc'), (e: unknown) => e instanceof TargetAccuracyError && e.exitCode === 2 && e.message.startsWith('--target-acc: '), bad);
    }
  });
});
