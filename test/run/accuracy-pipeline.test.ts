/**
 * Accuracy mode in the pipeline (tasks.condition "accuracy"; docs/accuracy.md#pipeline) on a slice
 * of Fashion-MNIST: every stage runs (the report has its tables, plot and verdict), the
 * denoiser is conditioned on the rows' labels under the scale accuracy.json records and that scale
 * is saved with it and spans the prompt grid; a run killed with SIGKILL inside collect, diffusion and generate and started again ends
 * with the same tensors and the same evaluation.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { readAccuracyZoo } from '../../src/accuracy/zoo.js';
import type { AccuracyEval } from '../../src/run/stages/accuracy/evaluate.js';
import { accuracyPromptRng, generateForAccuracy, loadAccuracyGenerator, sampleAccuracyParams } from '../../src/run/generate-accuracy.js';
import { writeFileSync, mkdirSync } from 'node:fs';
import { jsBackend } from '../../src/backend/index.js';
import { resolveConfig } from '../../src/config/index.js';
import { ACCURACY_COND_DIM, fitAccuracyScale } from '../../src/pdiff/condition.js';
import { accuracyConditions, denoiserAccuracyScale, readAccuracyJson } from '../../src/run/accuracy.js';
import { loadDenoiser } from '../../src/run/artifacts.js';
import { runPipeline } from '../../src/run/pipeline.js';
import { RunStore } from '../../src/run/store.js';
import { ConfigError, FormatError } from '../../src/util/errors.js';
import { loadCheckpointStack } from '../../src/zoo/checkpoint.js';
import { readSafetensors } from '../../src/zoo/safetensors.js';
import { skipWithoutFashionMnist } from '../helpers/data.js';

const root = new URL('../..', import.meta.url).pathname;
const tmp = mkdtempSync(join(tmpdir(), 'pdiff-accpipe-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

/** An MLP 784-16-10 (12,730 floats), 3 runs of 30 steps, 5 of 10 candidates kept each; a few steps of everything else. */
const TINY = [
  'data.limitTrain=600', 'data.limitTest=200', 'data.valSize=100', 'model.arch="mlp"', 'model.mlpHidden=[16]', 'base.epochs=1',
  'ae.steps=4', 'diffusion.steps=4', 'diffusion.timesteps=100', 'generate.batchSize=4', 'eval.evalBatch=100', 'report.png=false',
  'tasks.condition="accuracy"', 'tasks.accuracy.runs=3', 'tasks.accuracy.perPrompt=2', 'tasks.accuracy.prompts={"inside":4,"from":null,"above":2,"step":1}',
  'tasks.accuracy.recipe={"steps":30,"lr":0.003,"warmupSteps":0,"batchSize":16,"weightDecay":0.0005,"candidates":10,"k":5,"bnMode":"train","init":"shared"}',
];
const config = (out: string) => resolveConfig({ preset: 'fmnist-tiny', sets: [...TINY, `out=${JSON.stringify(out)}`] });

function pdiff(args: string[], env: Record<string, string> = {}): { status: number | null; signal: string | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, ['--import', 'tsx', join(root, 'src/cli/main.ts'), ...args], {
    cwd: root, encoding: 'utf8', env: { ...process.env, PDIFF_QUIET_BACKEND: '1', ...env }, timeout: 180_000,
  });
  return { status: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stderr };
}

function tensorBytes(path: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, t] of readSafetensors(path).tensors) out[name] = Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength).toString('base64');
  return out;
}

describe('accuracy mode through the generate stage', { skip: skipWithoutFashionMnist }, () => {
  const a = join(tmp, 'a');

  it('collects the zoo, scores it on test, trains the autoencoder and a denoiser conditioned on the labels, with the scale saved', async () => {
    const res = await runPipeline(config(a), { quiet: true });
    assert.deepEqual(res.stages.map((s) => s.name), ['base', 'collect', 'eval-originals', 'ae', 'diffusion', 'generate', 'evaluate', 'report']);
    for (const f of ['ckpts-accuracy.safetensors', 'accuracy.json', 'accuracy/zoo.json', 'accuracy/run-0000.safetensors', 'accuracy/run-0002.safetensors', 'zoo-eval.json',
      'recon-accuracy.safetensors', 'latents.safetensors', 'diffusion.safetensors', 'generated-accuracy.safetensors', 'generate.json', 'eval-accuracy.json']) {
      assert.ok(existsSync(join(a, f)), `missing ${f}`);
    }
    const store = new RunStore(a);
    const rec = readAccuracyJson(store);
    const zoo = readAccuracyZoo(join(a, 'accuracy'));
    assert.equal(rec.labels.length, 15);
    assert.deepEqual(rec.labels, Array.from(zoo.labels));
    assert.deepEqual(rec.scale, fitAccuracyScale(zoo.labels));
    const stack = loadCheckpointStack(join(a, 'ckpts-accuracy.safetensors'));
    assert.equal(stack.ckpts.length, 15 * 12730);
    assert.deepEqual(Array.from(stack.ckpts), Array.from(zoo.rows));
    const zooEval = JSON.parse(readFileSync(join(a, 'zoo-eval.json'), 'utf8')) as { test: number[]; bestTest: number };
    assert.equal(zooEval.test.length, 15);
    assert.equal(zooEval.bestTest, Math.max(...zooEval.test));
    const path = join(a, 'diffusion.safetensors');
    const { model, meta } = loadDenoiser(path, { d: config(a).ae.latentDim, channels: config(a).diffusion.channels, kernel: config(a).diffusion.kernel, backend: jsBackend() });
    assert.equal(model.condDim, ACCURACY_COND_DIM);
    assert.deepEqual(denoiserAccuracyScale(meta, path), rec.scale, 'the scale saved with the denoiser is the zoo\'s');
    assert.throws(() => denoiserAccuracyScale({}, path), (e: unknown) => e instanceof FormatError && e.message.includes('accuracy_scale'));
    assert.throws(() => denoiserAccuracyScale({ accuracy_scale: '{"lo":5,"hi":5}' }, path), FormatError);
    // the prompt grid over the saved scale: 4 inside (lowest label to best), 2 above; 2 models each, prompt after prompt
    const gen = JSON.parse(readFileSync(join(a, 'generate.json'), 'utf8')) as { prompts: number[]; perPrompt: number; scale: { lo: number; hi: number } };
    assert.deepEqual(gen.scale, rec.scale);
    assert.equal(gen.prompts.length, 6);
    assert.equal(gen.prompts[0], rec.scale.lo);
    assert.equal(gen.prompts[3], rec.scale.hi);
    assert.equal(gen.prompts[5], rec.scale.hi + 2);
    assert.equal(loadCheckpointStack(join(a, 'generated-accuracy.safetensors')).ckpts.length, 12 * 12730);
    // the evaluation: the generated models and every baseline over the same prompts, scored on test
    const ev = JSON.parse(readFileSync(join(a, 'eval-accuracy.json'), 'utf8')) as AccuracyEval;
    assert.deepEqual(ev.methods.map((m) => m.method), ['generated', 'nearest label (2 rows)', 'nearest-label mean (5)', 'ridge, degree 1', 'ridge, degree 5']);
    assert.deepEqual(ev.prompts, gen.prompts);
    assert.equal(ev.zooBestTest, zooEval.bestTest);
    for (const m of ev.methods) {
      assert.equal(m.summary.perPrompt.length, 6, m.method);
      assert.equal(m.summary.inside.count, 4, m.method);
      assert.deepEqual(m.summary.above?.prompts, gen.prompts.slice(4), m.method);
      assert.equal(m.novelty.length, 6, m.method);
    }
    const nearest = ev.methods[1]!;
    assert.ok(nearest.novelty.every((x) => x.nnL2 === 0 && x.iouMax === 1), 'nearest label copies zoo rows');
    assert.deepEqual(nearest.summary.perPrompt.map((p) => p.n), [2, 2, 2, 2, 2, 2]);
    assert.deepEqual(ev.methods[0]!.summary.perPrompt.map((p) => p.n), [2, 2, 2, 2, 2, 2]);
    // the conditions the denoiser learnt: each row's label mapped by that scale (lowest -> -1, highest -> +1)
    const c = accuracyConditions(rec.labels, rec.scale);
    const lo = rec.labels.indexOf(rec.scale.lo), hi = rec.labels.indexOf(rec.scale.hi);
    assert.equal(c.dim, 2);
    assert.equal(c.data[lo * 2 + 1], -1);
    assert.equal(c.data[hi * 2 + 1], 1);
    // the zoo's own spacing beside the methods' novelty, and summary.json carrying the same evaluation for the report
    assert.equal(ev.zoo?.rows, 15);
    assert.equal(ev.zoo?.runs, 3);
    assert.ok(ev.zoo.nnL2 > 0 && ev.zoo.iouMax > 0 && ev.zoo.iouMax <= 1);
    const summary = JSON.parse(readFileSync(join(a, 'summary.json'), 'utf8')) as { groups: unknown[]; accuracy: AccuracyEval };
    assert.deepEqual(summary.groups, []);
    assert.deepEqual(summary.accuracy, ev);
    // the report: the methods table, every prompt, the plot and a verdict phrased from these numbers
    assert.ok(res.report?.accuracy);
    const md = readFileSync(join(a, 'report.md'), 'utf8');
    assert.match(md, /## Target accuracy: generated against baselines/);
    assert.match(md, /## Target accuracy: every prompt/);
    assert.match(md, /\*\*Goal (not )?met on 4 prompts inside the zoo's range/);
    assert.ok(md.includes('nearest label (2 rows)') && md.includes('ridge, degree 5'));
    assert.ok(existsSync(join(a, 'plots', 'accuracy-control.svg')));
  });

  it('pdiff generate --target-acc samples with the scale saved with the denoiser, writes a file that loads back, and refuses bad input', () => {
    const store = new RunStore(a);
    const cfg = config(a);
    const g = loadAccuracyGenerator(store, cfg, jsBackend());
    assert.deepEqual(g.scale, readAccuracyJson(store).scale);
    const lib = generateForAccuracy({ runDir: a, target: 60, n: 2, backend: jsBackend() });
    assert.deepEqual(Array.from(lib.params), Array.from(sampleAccuracyParams(g, cfg, [60], 2, accuracyPromptRng(cfg, 60))));
    const shifted = { ...g, scale: { lo: g.scale.lo - 10, hi: g.scale.hi } };
    assert.notDeepEqual(Array.from(lib.params), Array.from(sampleAccuracyParams(shifted, cfg, [60], 2, accuracyPromptRng(cfg, 60))), 'the scale reaches the condition');

    const file = join(tmp, 'acc.safetensors');
    const ok = pdiff(['generate', '--out', a, '--target-acc', '60', '--num', '2', '--save', file, '--json', '--backend', 'js']);
    assert.equal(ok.status, 0, ok.stderr);
    const j = JSON.parse(ok.stdout) as { targetAcc: number; n: number; tensors: Array<{ name: string; shape: number[] }> };
    assert.equal(j.targetAcc, 60);
    assert.deepEqual(j.tensors.map((t) => t.name), lib.layout.names);
    const saved = loadCheckpointStack(file);
    assert.deepEqual(Array.from(saved.ckpts), Array.from(lib.params), 'the CLI samples what the library does');

    const refused = (args: string[], message: RegExp): void => {
      const before = readdirSync(a).sort();
      const r = pdiff(['generate', '--out', a, ...args]);
      assert.equal(r.status, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, message, args.join(' '));
      assert.deepEqual(readdirSync(a).sort(), before, 'nothing written');
    };
    refused(['--target-acc', '101'], /--target-acc: a target accuracy must lie in \[0, 100\]/);
    refused(['--target-acc', 'high'], /--target-acc: expected a target accuracy/);
    refused(['--task', '0110010011'], /--task: run folder .* is not task-conditioned \(tasks\.condition is "accuracy"\)/);
    refused(['--target-acc', '80', '--save', join(tmp, 'no', 'x.safetensors')], /--save: the folder .* does not exist/);
    // --target-acc on a run that is not accuracy-conditioned
    const plain = join(tmp, 'plain');
    mkdirSync(plain);
    writeFileSync(join(plain, 'config.json'), JSON.stringify(resolveConfig({ preset: 'fmnist-tiny', sets: [`out=${JSON.stringify(plain)}`] })));
    const r = pdiff(['generate', '--out', plain, '--target-acc', '80']);
    assert.equal(r.status, 2, r.stderr);
    assert.match(r.stderr, /--target-acc: run folder .* is not accuracy-conditioned \(tasks\.condition is "none"\)/);
    assert.deepEqual(readdirSync(plain), ['config.json']);
  });

  it('killed with SIGKILL inside collect, diffusion and generate and restarted, it ends with the same tensors', () => {
    const b = join(tmp, 'b');
    for (const f of ['config.json', 'base.safetensors', 'base.json', 'stages/base.json']) cpSync(join(a, f), join(b, f));
    const args = ['evaluate', '--preset', 'fmnist-tiny', '--out', b, '--quiet', ...TINY.flatMap((s) => ['--set', s])];
    // evaluate keeps no state: killed as it starts, it reruns whole
    for (const kill of ['collect:1', 'diffusion:1', 'generate:1', 'evaluate:0']) {
      const r = pdiff(args, { PDIFF_KILL_AT: kill });
      assert.equal(r.signal, 'SIGKILL', `expected the run to be killed at ${kill}; status ${r.status}, stderr ${r.stderr.slice(-800)}`);
    }
    const r = pdiff(args);
    assert.equal(r.status, 0, r.stderr);
    for (const f of ['ckpts-accuracy.safetensors', 'accuracy/run-0000.safetensors', 'accuracy/run-0001.safetensors', 'accuracy/run-0002.safetensors', 'latents.safetensors', 'diffusion.safetensors', 'generated-accuracy.safetensors']) {
      assert.deepEqual(tensorBytes(join(b, f)), tensorBytes(join(a, f)), f);
    }
    assert.deepEqual(readAccuracyJson(new RunStore(b)), readAccuracyJson(new RunStore(a)));
    assert.equal(readFileSync(join(b, 'eval-accuracy.json'), 'utf8'), readFileSync(join(a, 'eval-accuracy.json'), 'utf8'));
    assert.equal(readFileSync(join(b, 'summary.json'), 'utf8'), readFileSync(join(a, 'summary.json'), 'utf8'));
    const resumes: Record<string, number> = {};
    for (const st of ['collect', 'ae', 'diffusion', 'generate']) {
      const m = JSON.parse(readFileSync(join(b, 'stages', `${st}.json`), 'utf8')) as { resumes?: number };
      if (m.resumes) resumes[st] = m.resumes;
    }
    assert.deepEqual(resumes, { collect: 1, diffusion: 1, generate: 1 });
    assert.deepEqual(readdirSync(join(b, 'state')), [], 'no state or clock files are left');
  });
});
