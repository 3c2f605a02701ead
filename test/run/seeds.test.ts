/**
 * Multi-seed zoos through the CLI (docs/seeds.md#collection): a tiny MLP zoo of 3 seeds records each
 * checkpoint's seed; killed inside two seeds' collections and started again, it reaches the same
 * zoo as an uninterrupted run; switching collect.align off reuses every seed; PyTorch-written
 * base-model files are accepted; wrong files and lists fail with the key and file named.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { resolveConfig } from '../../src/config/index.js';
import { jsBackend } from '../../src/backend/index.js';
import { Mlp } from '../../src/models/index.js';
import { Rng } from '../../src/tensor/random.js';
import { ConfigError } from '../../src/util/errors.js';
import { saveStateDict } from '../../src/zoo/checkpoint.js';
import { readSafetensors } from '../../src/zoo/safetensors.js';
import { skipWithoutFashionMnist } from '../helpers/data.js';

const root = new URL('../..', import.meta.url).pathname;
const tmp = mkdtempSync(join(tmpdir(), 'pdiff-seeds-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

function pdiff(args: string[], env: Record<string, string> = {}): { status: number | null; signal: string | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, ['--import', 'tsx', join(root, 'src/cli/main.ts'), ...args], {
    cwd: root, encoding: 'utf8', env: { ...process.env, PDIFF_QUIET_BACKEND: '1', ...env }, timeout: 180_000,
  });
  return { status: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stderr };
}

/** A zoo of 3 seeds x 3 checkpoints of a 784-8-10 MLP on 600 images. */
const TINY = [
  'data.limitTrain=600', 'data.limitTest=100', 'data.valSize=100', 'base.epochs=1', 'base.batchSize=50', 'model.arch=mlp', 'model.mlpHidden=[8]',
  'collect.mode=whole', 'collect.seeds=3', 'collect.k=3', 'collect.align=weight-matching', 'eval.avgOf=2', 'eval.evalBatch=50',
];
const collectArgs = (out: string, extra: string[] = []): string[] => ['collect', '--preset', 'fmnist-tiny', '--out', out, ...[...TINY, ...extra].flatMap((s) => ['--set', s])];

interface SeedsJson { align: string; k: number; seeds: Array<{ index: number; runSeed: number; source: string }>; matching: Array<{ seed: number; unitsMoved: number; units: number }>; interpolation: { naive: { loss: number[]; barrier: number }; aligned: { loss: number[]; barrier: number } | null } }
const json = <T>(path: string): T => JSON.parse(readFileSync(path, 'utf8')) as T;
const zooOf = (dir: string): Float32Array => readSafetensors(join(dir, 'ckpts-whole.safetensors')).tensors.get('fc1.weight')!.data as Float32Array;

describe('multi-seed zoos', { skip: skipWithoutFashionMnist }, () => {
  const a = join(tmp, 'a');

  it('collects K checkpoints from each seed, aligned to seed 0, with each checkpoint\'s seed in the manifest', () => {
    const r = pdiff(collectArgs(a));
    assert.equal(r.status, 0, r.stderr);
    const m = json<{ k: number; layout: { names: string[] }; multiSeed: { align: string; rowSeed: number[]; members: Array<{ runSeed: number; source: string; file: string }> } }>(join(a, 'manifest.json'));
    assert.equal(m.k, 9);
    assert.deepEqual(m.multiSeed.rowSeed, [0, 0, 0, 1, 1, 1, 2, 2, 2]);
    assert.deepEqual(m.multiSeed.members.map((x) => [x.runSeed, x.source, x.file]), [0, 1, 2].map((s) => [s, 'trained', `seeds/seed-${s}.safetensors`]));
    assert.equal(m.multiSeed.align, 'weight-matching');
    for (let s = 0; s < 3; s++) assert.ok(existsSync(join(a, `seeds/seed-${s}.safetensors`)));
    assert.equal(zooOf(a).length, 9 * 8 * 784);
    const seeds = json<SeedsJson>(join(a, 'seeds.json'));
    assert.equal(seeds.matching.length, 2);
    assert.equal(seeds.interpolation.naive.loss.length, 11);
    assert.ok(seeds.interpolation.aligned !== null);
    // alignment does not change what seed 1 computes: both paths end at the same loss
    assert.ok(Math.abs(seeds.interpolation.naive.loss[10]! - seeds.interpolation.aligned.loss[10]!) < 1e-4);
  });

  it('killed inside the collection of two seeds and started again, it reaches the same zoo', () => {
    const b = join(tmp, 'b');
    // collect:1 = after seed 0's first checkpoint; then collect:3 = after seed 1's second (seed 0 resumed: 1 save, seed 1: 2)
    for (const kill of ['collect:1', 'collect:3']) {
      const r = pdiff(collectArgs(b), { PDIFF_KILL_AT: kill });
      assert.equal(r.signal, 'SIGKILL', `expected a kill at ${kill}; status ${r.status}, stderr ${r.stderr.slice(-400)}`);
    }
    const r = pdiff(collectArgs(b));
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stderr, /\[collect\] seed 0: up to date/);
    assert.match(r.stderr, /\[collect\] seed 1: resuming at checkpoint 2\/3/);
    assert.deepEqual(zooOf(b), zooOf(a));
    const timeless = (dir: string): unknown => JSON.stringify(json<SeedsJson>(join(dir, 'seeds.json')), (k, v: unknown) => (k === 'trainSeconds' ? undefined : v));
    assert.equal(timeless(b), timeless(a));
  });

  it('turning alignment off reuses every seed and changes only the rows of seeds 1 and 2', () => {
    const before = zooOf(a);
    const r = pdiff([...collectArgs(a, ['collect.align=none']), '--reconfigure']);
    assert.equal(r.status, 0, r.stderr);
    for (let s = 0; s < 3; s++) assert.match(r.stderr, new RegExp(`\\[collect\\] seed ${s}: up to date`));
    const after = zooOf(a), row = 8 * 784;
    assert.deepEqual(after.subarray(0, 3 * row), before.subarray(0, 3 * row));
    assert.notDeepEqual(after.subarray(3 * row), before.subarray(3 * row));
    assert.equal(json<SeedsJson>(join(a, 'seeds.json')).align, 'none');
  });

  it('runs the rest of the pipeline on the zoo: the barrier and the distance to the seeds\' centres reach the summary and the report', () => {
    const rest = ['collect.align=none', 'ae.steps=3', 'ae.channels=[4,4,4,4,4]', 'diffusion.steps=3', 'diffusion.timesteps=100', 'generate.n=2', 'generate.batchSize=2',
      'eval.baselineCount=1', 'eval.noiseScales=[0.05]', 'eval.latency=false', 'report.png=false'];
    const r = pdiff(['run', ...collectArgs(a, rest).slice(1), '--reconfigure', '--quiet']);
    assert.equal(r.status, 0, r.stderr);
    const s = json<{ seeds: SeedsJson; groups: Array<{ name: string; n: number; nnL2SeedMean: number }> }>(join(a, 'summary.json'));
    assert.equal(s.seeds.align, 'none');
    assert.equal(s.groups.find((g) => g.name === 'original')!.n, 9);
    for (const g of s.groups) assert.ok(Number.isFinite(g.nnL2SeedMean), g.name);
    const md = readFileSync(join(a, 'report.md'), 'utf8');
    assert.match(md, /## Loss barrier between two seeds/);
    assert.match(md, /The zoo is NOT aligned/);
    assert.ok(existsSync(join(a, 'plots/interpolation.svg')));
  });

  it('takes base models from files, PyTorch-written ones included', () => {
    const c = join(tmp, 'c');
    const files = ['cnn_s_torch.safetensors', 'cnn_s_torch_f16.safetensors'].map((f) => join(root, 'test/fixtures', f));
    const r = pdiff(['collect', '--preset', 'fmnist-tiny', '--out', c, ...[
      'data.limitTrain=300', 'data.limitTest=100', 'data.valSize=100', 'collect.mode=whole', `collect.seeds=${JSON.stringify(files)}`,
      'collect.k=2', 'collect.align=weight-matching', 'eval.avgOf=2', 'eval.evalBatch=50',
    ].flatMap((s) => ['--set', s])]);
    assert.equal(r.status, 0, r.stderr);
    const seeds = json<SeedsJson>(join(c, 'seeds.json'));
    assert.deepEqual(seeds.seeds.map((s) => s.source), files);
    assert.equal(json<{ source: string }>(join(c, 'base.json')).source, files[0]);
    // the same network in float16: matching finds nothing to move
    assert.equal(seeds.matching[0]!.unitsMoved, 0);
    // the zoo holds the running statistics too, folded into the BN weights and biases
    assert.ok(json<{ layout: { names: string[] } }>(join(c, 'manifest.json')).layout.names.includes('bn3.running_var'));
    const zoo = readSafetensors(join(c, 'ckpts-whole.safetensors')).tensors;
    assert.ok((zoo.get('bn3.running_var')!.data as Float32Array).every((v) => v === 1));
    assert.ok((zoo.get('bn3.running_mean')!.data as Float32Array).every((v) => v === 0));
  });

  it('names the key and file of a base model of another architecture or shape, and exits non-zero', () => {
    const be = jsBackend();
    const mlp16 = join(tmp, 'mlp16.safetensors');
    saveStateDict(mlp16, new Mlp({ rng: new Rng(0), backend: be, inFeatures: 784, hidden: [16] }));
    const cnn = join(root, 'test/fixtures/cnn_s_torch.safetensors');
    const other = pdiff(collectArgs(join(tmp, 'd'), [`collect.seeds=${JSON.stringify([mlp16, cnn])}`, 'model.mlpHidden=[16]']));
    assert.equal(other.status, 2, other.stderr);
    assert.match(other.stderr, new RegExp(`collect\\.seeds\\[1\\]: "${cnn.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}" does not hold a mlp state_dict for \\[1, 28, 28\\] images and 10 classes \\(fashion-mnist\\): unexpected tensor "conv1\\.weight"`));
    const shape = pdiff(collectArgs(join(tmp, 'e'), [`collect.seeds=${JSON.stringify([mlp16, cnn])}`]));
    assert.equal(shape.status, 2, shape.stderr);
    assert.match(shape.stderr, /collect\.seeds\[0\]: ".*mlp16\.safetensors" does not hold a mlp state_dict .*tensor "fc1\.weight" has shape \[16, 784\] but the model expects \[8, 784\]/);
    const missing = pdiff(collectArgs(join(tmp, 'f'), [`collect.seeds=${JSON.stringify([mlp16, join(tmp, 'nope.safetensors')])}`, 'model.mlpHidden=[16]']));
    assert.equal(missing.status, 2, missing.stderr);
    assert.match(missing.stderr, /collect\.seeds\[1\]: cannot read ".*nope\.safetensors" \(ENOENT\)/);
  });
});

describe('collect.seeds and collect.align in the config', () => {
  const bad = (sets: string[], re: RegExp): void => {
    assert.throws(() => resolveConfig({ preset: 'fmnist-tiny', sets }), (e: unknown) => e instanceof ConfigError && re.test(e.message), sets.join(' '));
  };

  it('refuses a file listed twice, alignment with fewer than 2 seeds, and several seeds outside whole mode', () => {
    bad(['collect.mode=whole', 'collect.seeds=["a.safetensors", "b.safetensors", "./a.safetensors"]'],
      /config: collect\.seeds: expected each base-model file once, got "\.\/a\.safetensors" at \[2\] and "a\.safetensors" at \[0\] \(the same file\)/);
    bad(['collect.align=weight-matching'], /config: collect\.align: "weight-matching" aligns seeds to seed 0 and needs at least 2 seeds, collect\.seeds gives 1/);
    bad(['collect.seeds=["a.safetensors"]', 'collect.align=weight-matching'], /collect\.align: .* collect\.seeds gives 1/);
    bad(['collect.seeds=3'], /config: collect\.mode: expected "whole" with 3 seeds \(collect\.seeds\)/);
    bad(['collect.seeds=0'], /collect\.seeds/);
    bad(['collect.seeds=[]'], /collect\.seeds/);
  });

  it('exits non-zero on the command line, naming the key', () => {
    const r = pdiff(['collect', '--preset', 'fmnist-tiny', '--out', join(tmp, 'g'), '--set', 'collect.mode=whole', '--set', 'collect.seeds=["x.safetensors","x.safetensors"]']);
    assert.equal(r.status, 2);
    assert.match(r.stderr, /collect\.seeds: expected each base-model file once/);
  });

  it('one base-model file alone replaces base training (any collect.mode)', () => {
    const c = resolveConfig({ preset: 'fmnist-tiny', sets: ['collect.seeds=["a.safetensors"]'] });
    assert.deepEqual(c.collect.seeds, ['a.safetensors']);
    assert.equal(c.collect.mode, 'bn');
  });
});
