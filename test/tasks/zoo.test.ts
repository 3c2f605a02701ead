/**
 * The task zoo: the task model adopts the base, the generated part's init is per code, the
 * feature cache equals forwardTo, training is deterministic per code, the zoo is resumable bit
 * for bit, the oracle is the zoo's own function, and no unseen code can enter the zoo.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CnnS } from '../../src/models/cnn-s.js';
import { Rng } from '../../src/tensor/random.js';
import { Tensor, noGrad } from '../../src/tensor/tensor.js';
import { oracleCheckpoints } from '../../src/tasks/baselines.js';
import { splitCodes } from '../../src/tasks/codes.js';
import { cacheFeatures } from '../../src/tasks/features.js';
import { binaryLabels } from '../../src/tasks/labels.js';
import { prepareTaskModel, taskInit } from '../../src/tasks/task-model.js';
import { checkRecipe, collectTaskZoo, readTaskZoo, rowCodes, taskCheckpoints, trainTask, type TaskRecipe, type TaskZooManifest } from '../../src/tasks/zoo.js';
import { ConfigError, FormatError } from '../../src/util/errors.js';
import { be, setup, SIDE } from './fixture.js';

const tmp = mkdtempSync(join(tmpdir(), 'pdiff-tasks-'));
process.on('exit', () => rmSync(tmp, { recursive: true, force: true }));

const S = setup();
const F = cacheFeatures({ model: S.task.model, stage: S.task.stage, dataset: S.train, batch: 100 });
const recipe: TaskRecipe = { steps: 8, saveEvery: 2, k: 3, lr: 0.02, batchSize: 16, weightDecay: 5e-4 };
const split = splitCodes({ seed: 4, unseenCount: 1000 }); // 22 seen codes
const codes = split.seen.slice(0, 7);

const values = (t: { toArray(): ArrayLike<number> }): number[] => Array.from(t.toArray());

describe('prepareTaskModel / taskInit', () => {
  it('adopts every base tensor but the head; the generated part is bn3 and the new 2-way fc', () => {
    const { task, base } = S;
    assert.deepEqual(task.layout.names, ['bn3.weight', 'bn3.bias', 'fc.weight', 'fc.bias']);
    assert.deepEqual(task.layout.shapes, [[64], [64], [2, 64], [2]]);
    assert.equal(task.layout.total, 258);
    assert.deepEqual(task.fresh, ['fc.weight', 'fc.bias']);
    assert.equal(task.stage, 5);
    const from = new Map(base.stateDict());
    for (const [name, t] of task.model.stateDict()) {
      if (name.startsWith('fc.')) continue;
      assert.deepEqual(values(t), values(from.get(name)!), name);
    }
    assert.deepEqual([...task.baseVec.subarray(0, 128)], [...values(base.bn3.weight!), ...values(base.bn3.bias!)]);
  });

  it('refuses a generated part without the new head, and a base of another architecture', () => {
    const taskModel = new CnnS({ rng: new Rng(1), backend: be, numClasses: 2 });
    assert.throws(() => prepareTaskModel({ base: S.base, taskModel, params: ['bn3.*'] }), (e: unknown) => e instanceof ConfigError && /fc\.weight, fc\.bias must be in the generated part/.test(e.message));
    const p = prepareTaskModel({ base: S.base, taskModel, params: ['bn2.*', 'fc.*'] });
    assert.deepEqual(p.layout.names, ['bn2.weight', 'bn2.bias', 'fc.weight', 'fc.bias']);
    assert.equal(p.stage, 3);
  });

  it('draws the head per (seed, code) within PyTorch\'s bound and keeps the base BN values', () => {
    const a = taskInit(S.task, '0110010011', 0), b = taskInit(S.task, '0110010011', 0);
    assert.deepEqual(a, b);
    const c = taskInit(S.task, '0110010010', 0), d = taskInit(S.task, '0110010011', 1);
    assert.deepEqual(a.subarray(0, 128), S.task.baseVec.subarray(0, 128));
    assert.notDeepEqual(a.subarray(128), c.subarray(128));
    assert.notDeepEqual(a.subarray(128), d.subarray(128));
    for (const v of a.subarray(128)) assert.ok(Math.abs(v) <= 1 / 8);
  });
});

describe('cacheFeatures', () => {
  it('holds forwardTo(x, stage) of every image, in order', () => {
    assert.deepEqual(F.shape, [64, SIDE / 4, SIDE / 4]);
    assert.equal(F.n, S.train.n);
    assert.deepEqual([...F.labels], [...S.train.labels]);
    const x = new Tensor(be.fromArray(S.train.images), [S.train.n, 1, SIDE, SIDE], be);
    const ref = noGrad(() => S.task.model.forwardTo(x, 5).toArray());
    assert.deepEqual(F.data, Float32Array.from(ref));
  });
});

describe('trainTask', () => {
  const code = codes[0]!;

  it('keeps k checkpoints saveEvery apart, deterministically, and restores the model', () => {
    const before = S.task.layout.read(S.task.model);
    const a = trainTask({ task: S.task, features: F, code, recipe, seed: 0 });
    const b = trainTask({ task: S.task, features: F, code, recipe, seed: 0 });
    assert.equal(a.length, recipe.k * 258);
    assert.deepEqual(a, b);
    assert.deepEqual(S.task.layout.read(S.task.model), before);
    assert.ok(S.task.model.parameters().every((p) => !p.requiresGrad || p.grad === null));
    assert.notDeepEqual(a.subarray(0, 258), a.subarray(258, 516));
    // the last checkpoint is the end of a run with k = 1
    const last = trainTask({ task: S.task, features: F, code, recipe: { ...recipe, k: 1 }, seed: 0 });
    assert.deepEqual(last, a.subarray(2 * 258));
    // and the first one that of a run of steps - (k - 1) * saveEvery steps
    const first = trainTask({ task: S.task, features: F, code, recipe: { ...recipe, steps: 4, k: 1 }, seed: 0 });
    assert.deepEqual(first, a.subarray(0, 258));
    assert.notDeepEqual(trainTask({ task: S.task, features: F, code, recipe, seed: 1 }), a);
  });

  it('learns the task: the binary train accuracy rises above the init\'s', () => {
    const long = trainTask({ task: S.task, features: F, code: '1111100000', recipe: { ...recipe, steps: 60, k: 1, lr: 0.05 }, seed: 0 });
    const acc = (vec: Float32Array): number => {
      S.task.layout.write(S.task.model, vec);
      const h = new Tensor(be.fromArray(F.data), [F.n, ...F.shape], be);
      const logits = noGrad(() => S.task.model.forwardFrom(h, 5).toArray());
      const y = binaryLabels(F.labels, '1111100000');
      let ok = 0;
      for (let i = 0; i < F.n; i++) if (Number(logits[2 * i + 1]! > logits[2 * i]!) === y[i]) ok++;
      S.task.layout.write(S.task.model, S.task.baseVec);
      return (100 * ok) / F.n;
    };
    const a0 = acc(taskInit(S.task, '1111100000', 0)), a1 = acc(long);
    assert.ok(a1 > 80 && a1 > a0 + 20, `init ${a0}%, trained ${a1}%`);
  });

  it('checks the recipe, naming the key', () => {
    assert.throws(() => checkRecipe({ ...recipe, k: 5 }), /tasks\.recipe\.k: 5 checkpoints 2 steps apart need more than 8 steps, steps is 8/);
    assert.throws(() => checkRecipe({ ...recipe, lr: 0 }), /tasks\.recipe\.lr: expected a positive number/);
    assert.throws(() => checkRecipe({ ...recipe, batchSize: 1.5 }), /tasks\.recipe\.batchSize: expected a positive integer/);
    assert.throws(() => trainTask({ task: S.task, features: { ...F, stage: 3 }, code, recipe, seed: 0 }), /cached at stage 3/);
  });
});

describe('collectTaskZoo', () => {
  const args = { task: S.task, features: F, split, codes, recipe, seed: 0, chunkSize: 3, progress: false } as const;
  const full = collectTaskZoo({ ...args, dir: join(tmp, 'full') });

  it('writes one file per chunk and a manifest, and reads back the same zoo', () => {
    assert.deepEqual(readdirSync(join(tmp, 'full')).sort(), ['tasks-0000.safetensors', 'tasks-0001.safetensors', 'tasks-0002.safetensors', 'zoo.json']);
    assert.equal(full.ckpts.length, 7 * 3 * 258);
    const back = readTaskZoo(join(tmp, 'full'));
    assert.deepEqual(back.ckpts, full.ckpts);
    assert.deepEqual(back.codes, codes);
    assert.deepEqual(back.layout.names, full.layout.names);
    assert.equal(back.plan, full.plan);
    assert.deepEqual(rowCodes(back).slice(0, 4), [codes[0], codes[0], codes[0], codes[1]]);
  });

  it('resumes after an interruption with the same bytes, reusing the chunks already written', () => {
    const dir = join(tmp, 'resumed');
    collectTaskZoo({ ...args, codes: codes.slice(0, 2), dir }); // an earlier, complete zoo in the same folder
    assert.throws(() => collectTaskZoo({ ...args, dir, onChunk: (done) => { if (done === 2) throw new Error('killed'); } }), /killed/);
    assert.throws(() => readTaskZoo(dir), /cannot read the task zoo manifest/); // not complete: no zoo.json
    assert.deepEqual(readdirSync(dir).filter((f) => !f.startsWith('.')).sort(), ['tasks-0000.safetensors', 'tasks-0001.safetensors']);
    const mtimes = ['tasks-0000.safetensors', 'tasks-0001.safetensors'].map((f) => statSync(join(dir, f)).mtimeMs);
    const resumed = collectTaskZoo({ ...args, dir });
    assert.deepEqual(resumed.ckpts, full.ckpts);
    assert.deepEqual(['tasks-0000.safetensors', 'tasks-0001.safetensors'].map((f) => statSync(join(dir, f)).mtimeMs), mtimes);
    for (const f of readdirSync(join(tmp, 'full'))) assert.deepEqual(readFileSync(join(dir, f)), readFileSync(join(tmp, 'full', f)), f);
  });

  it('trains again a chunk written under another plan (another seed)', () => {
    const dir = join(tmp, 'replanned');
    collectTaskZoo({ ...args, codes: codes.slice(0, 3), seed: 5, dir });
    const z = collectTaskZoo({ ...args, codes: codes.slice(0, 3), dir });
    assert.deepEqual(z.ckpts, full.ckpts.subarray(0, 3 * 3 * 258));
  });

  it('gives each task the checkpoints the oracle trains for its code, bit for bit', () => {
    codes.forEach((code, t) => {
      if (t % 3 !== 1) return;
      assert.deepEqual(oracleCheckpoints({ task: S.task, features: F, code, recipe, seed: 0 }), taskCheckpoints(full, t), code);
    });
  });
});

describe('no unseen code reaches the zoo', () => {
  it('the manifest holds only seen codes and lists the held-out ones', () => {
    const m = JSON.parse(readFileSync(join(tmp, 'full', 'zoo.json'), 'utf8')) as TaskZooManifest;
    const unseen = new Set(split.unseen);
    assert.ok(m.codes.length > 0 && m.codes.every((c) => !unseen.has(c)));
    assert.deepEqual(m.heldOut, split.unseen);
    for (const ch of m.chunks) assert.ok(ch.codes.every((c) => !unseen.has(c)));
  });

  it('the builder refuses an unseen code and writes nothing', () => {
    const dir = join(tmp, 'leak');
    assert.throws(() => collectTaskZoo({ task: S.task, features: F, split, codes: [codes[0]!, split.unseen[3]!], recipe, seed: 0, dir, progress: false }),
      (e: unknown) => e instanceof ConfigError && e.message.includes(split.unseen[3]!) && /held out/.test(e.message));
    assert.throws(() => statSync(dir));
    assert.throws(() => collectTaskZoo({ task: S.task, features: F, split, codes: ['000000000x'], recipe, seed: 0, dir, progress: false }), /not seen codes of the split/);
  });

  it('reading a zoo whose manifest lists a held-out code as trained fails', () => {
    const dir = join(tmp, 'tampered');
    collectTaskZoo({ task: S.task, features: F, split, codes: codes.slice(0, 2), recipe, seed: 0, dir, chunkSize: 3, progress: false });
    const m = JSON.parse(readFileSync(join(dir, 'zoo.json'), 'utf8')) as TaskZooManifest;
    m.heldOut.push(m.codes[1]!);
    writeFileSync(join(dir, 'zoo.json'), JSON.stringify(m));
    assert.throws(() => readTaskZoo(dir), (e: unknown) => e instanceof FormatError && e.message.includes(`held-out code(s) ${m.codes[1]}`));
  });
});
