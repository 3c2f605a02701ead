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
