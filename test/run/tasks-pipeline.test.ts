/**
 * Task mode end to end on a slice of Fashion-MNIST (tasks.condition "task"): every stage runs and
 * the report has its task section; the autoencoder and the denoiser learn from the seen codes'
 * rows only, and a row of a held-out code is refused by both; a run killed with SIGKILL inside
 * each new or changed stage and started again ends with the same tensors and results as one that
 * ran through; `pdiff generate --task` writes a file that loads back, and refuses bad input.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { resolveConfig } from '../../src/config/index.js';
import { jsBackend } from '../../src/backend/index.js';
import { runPipeline } from '../../src/run/pipeline.js';
import { generateForTask, requireAccuracyRun } from '../../src/run/generate-task.js';
import { taskPlan } from '../../src/run/task-plan.js';
import { loadDenoiser } from '../../src/run/artifacts.js';
import { RunStore } from '../../src/run/store.js';
import { zooConditions } from '../../src/run/tasks.js';
import { TaskCodeError, readTaskZoo } from '../../src/tasks/index.js';
import { ConfigError } from '../../src/util/errors.js';
import { loadCheckpointStack } from '../../src/zoo/checkpoint.js';
import { readSafetensors } from '../../src/zoo/safetensors.js';
import { skipWithoutFashionMnist } from '../helpers/data.js';
import type { TaskReport } from '../../src/report/types.js';

const root = new URL('../..', import.meta.url).pathname;
const tmp = mkdtempSync(join(tmpdir(), 'pdiff-tasks-run-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

/** 5 seen codes (3 zoo files of 2), 3 held out, 2 of the seen evaluated, 2 models per code; a few steps each. */
const TINY = [
  'data.limitTrain=600', 'data.limitTest=200', 'data.valSize=100', 'base.epochs=1', 'ae.steps=4', 'diffusion.steps=4', 'diffusion.timesteps=100',
  'generate.batchSize=4', 'eval.evalBatch=100', 'report.png=false', 'tasks.condition="task"', 'tasks.unseen=3', 'tasks.seen=5', 'tasks.evalSeen=2',
  'tasks.perCode=2', 'tasks.chunkSize=2', 'tasks.recipe={"steps":6,"saveEvery":2,"k":2,"lr":0.01,"batchSize":16,"weightDecay":0.0005}',
];
const config = (out: string) => resolveConfig({ preset: 'fmnist-tiny', sets: [...TINY, `out=${JSON.stringify(out)}`] });

function pdiff(args: string[], env: Record<string, string> = {}): { status: number | null; signal: string | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, ['--import', 'tsx', join(root, 'src/cli/main.ts'), ...args], {
    cwd: root, encoding: 'utf8', env: { ...process.env, PDIFF_QUIET_BACKEND: '1', ...env }, timeout: 180_000,
  });
  return { status: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stderr };
}

/** Every tensor of a safetensors file as name -> bytes (the metadata names the run folder, the tensors may not differ). */
function tensorBytes(path: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, t] of readSafetensors(path).tensors) out[name] = Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength).toString('base64');
  return out;
}

interface Summary { base: unknown; groups: unknown[]; tasks: TaskReport }
const summaryOf = (dir: string): Summary => JSON.parse(readFileSync(join(dir, 'summary.json'), 'utf8')) as Summary;

describe('task mode end to end', { skip: skipWithoutFashionMnist }, () => {
  const a = join(tmp, 'a');
  const plan = taskPlan(config(a))!;

  it('runs every stage, evaluates every unseen code and the seen sample, and reports them', async () => {
    const res = await runPipeline(config(a), { quiet: true });
    assert.equal(res.stages.length, 8);
    for (const f of ['ckpts-task.safetensors', 'tasks.json', 'tasks/zoo.json', 'tasks/tasks-0000.safetensors', 'tasks/tasks-0002.safetensors', 'zoo-eval.json',
      'recon-task.safetensors', 'diffusion.safetensors', 'generated-task.safetensors', 'summary.json', 'report.md', 'report.html', 'plots/tasks-generated-vs-oracle.svg']) {
      assert.ok(existsSync(join(a, f)), `missing ${f}`);
    }
    const t = summaryOf(a).tasks;
    assert.deepEqual(t.codes.map((c) => c.code), plan.evalCodes);
    assert.deepEqual(t.codes.map((c) => c.seen), [false, false, false, true, true]);
    assert.equal(t.zooTasks, 5);
    assert.equal(t.floats, 258);
    for (const c of t.codes) {
      assert.equal(c.generated.test.length, 2);
      assert.equal(c.oracle.test.length, 2);
      assert.equal(c.nearest.distance === 0, c.seen, c.code);
      for (const v of [...c.generated.test, ...c.oracle.test, ...c.nearest.test, c.ridge.test, c.meanSeen.test, c.majority.test]) assert.ok(v >= 0 && v <= 100);
    }
    const md = readFileSync(join(a, 'report.md'), 'utf8');
    assert.match(md, /^\*\*Goal (not )?met on 3 unseen codes: generated models reach \d+\.\d\d % test/m);
    assert.match(md, /## Tasks: generated against oracle and baselines/);
    assert.match(md, /^\| unseen \| 3 \|/m);
    assert.match(md, /^\| seen \| 2 \|/m);
    assert.ok(!md.includes('## Accuracy (%) and novelty'), 'no empty group table');
    // the denoiser is conditioned on 10-bit codes
    const den = loadDenoiser(join(a, 'diffusion.safetensors'), { d: 64, channels: config(a).diffusion.channels, backend: jsBackend() });
    assert.equal(den.model.condDim, 10);
  });

  it('the autoencoder and the denoiser learn from the seen codes\' rows only', () => {
    const store = new RunStore(a);
    const zoo = readTaskZoo(join(a, 'tasks'));
    const unseen = new Set(plan.split.unseen);
    assert.deepEqual(zoo.codes, plan.zooCodes);
    assert.ok(zoo.codes.every((c) => !unseen.has(c)));
    // the stack the autoencoder reads is the zoo's rows, bit for bit, and nothing else
    const stack = loadCheckpointStack(join(a, 'ckpts-task.safetensors'));
    assert.equal(stack.k, 5 * 2);
    assert.deepEqual(stack.ckpts, zoo.ckpts);
    // the denoiser's conditions are the zoo rows' codes, as +-1
    const cond = zooConditions(store, plan, 10);
    const codes = Array.from({ length: 10 }, (_, r) => Array.from(cond.data.subarray(r * 10, r * 10 + 10), (v) => (v > 0 ? '1' : '0')).join(''));
    assert.deepEqual(codes, zoo.codes.flatMap((c) => [c, c]));
  });

  it('a row of a held-out code is refused by the autoencoder and by the denoiser stage', async () => {
    for (const stage of ['ae', 'diffusion']) {
      const c = join(tmp, `poison-${stage}`);
      cpSync(a, c, { recursive: true });
      // the record of the zoo now claims that an unseen code's rows are in the stack
      const rec = JSON.parse(readFileSync(join(c, 'tasks.json'), 'utf8')) as { zooCodes: string[] };
      rec.zooCodes[1] = plan.split.unseen[0]!;
      writeFileSync(join(c, 'tasks.json'), JSON.stringify(rec));
      rmSync(join(c, 'stages', `${stage}.json`));
      await assert.rejects(runPipeline(config(c), { quiet: true, until: stage as 'ae' }),
        (e: unknown) => e instanceof ConfigError && e.message.startsWith(`${stage}: 1 unseen task code(s) (${plan.split.unseen[0]})`), stage);
    }
  });

  it('another guidance scale redoes generate and evaluate, and keeps every code\'s baselines', async () => {
    const c = join(tmp, 'guidance');
    cpSync(a, c, { recursive: true });
    const cfg = resolveConfig({ preset: 'fmnist-tiny', sets: [...TINY, `out=${JSON.stringify(c)}`, 'generate.guidance=2'] });
    const res = await runPipeline(cfg, { quiet: true, reconfigure: true });
    assert.deepEqual(res.stages.filter((s) => !s.skipped).map((s) => s.name), ['generate', 'evaluate', 'report']);
    const events = readFileSync(join(c, 'metrics.jsonl'), 'utf8').split('\n').filter((l) => l.includes('"event":"task"')).map((l) => JSON.parse(l) as { baselinesKept: boolean });
    assert.deepEqual(events.map((e) => e.baselinesKept), [...plan.evalCodes.map(() => false), ...plan.evalCodes.map(() => true)]);
    const [before, now] = [summaryOf(a).tasks, summaryOf(c).tasks];
    assert.equal(now.guidance, 2);
    assert.deepEqual(now.codes.map((x) => ({ ...x, generated: null })), before.codes.map((x) => ({ ...x, generated: null })));
    assert.notDeepEqual(now.codes.map((x) => x.generated), before.codes.map((x) => x.generated));
  });

  it('killed with SIGKILL inside each new or changed stage and restarted, it ends with the same tensors and results', () => {
    const b = join(tmp, 'b');
    // the base stage is the unconditional one (pipeline.test.ts kills it): b starts from a's base model
    for (const f of ['config.json', 'base.safetensors', 'base.json', 'stages/base.json']) cpSync(join(a, f), join(b, f));
    const args = ['run', '--preset', 'fmnist-tiny', '--out', b, '--quiet', ...TINY.flatMap((s) => ['--set', s])];
    // eval-originals (task mode: the zoo's own scores) keeps no state, a kill there reruns it whole;
    // the ae stage resumes as in an unconditional run (pipeline.test.ts), after the guard
    for (const kill of ['collect:1', 'diffusion:1', 'generate:1', 'evaluate:1']) {
      const r = pdiff(args, { PDIFF_KILL_AT: kill });
      assert.equal(r.signal, 'SIGKILL', `expected the run to be killed at ${kill}; status ${r.status}, stderr ${r.stderr.slice(-800)}`);
    }
    assert.ok(existsSync(join(b, 'eval', 'tasks', `${plan.evalCodes[0]}.json`)), 'the first code\'s result was kept');
    const scored = (): number => readFileSync(join(b, 'metrics.jsonl'), 'utf8').split('\n').filter((l) => l.includes('"event":"task"')).length;
    assert.equal(scored(), 1);
    const r = pdiff([...args, '--json']);
    assert.equal(r.status, 0, r.stderr);
    const out = JSON.parse(r.stdout) as { tasks: Array<{ set: string; codes: number }> };
    assert.deepEqual(out.tasks.map((x) => [x.set, x.codes]), [['unseen', 3], ['seen', 2]]);
    for (const f of ['ckpts-task.safetensors', 'tasks/tasks-0000.safetensors', 'tasks/tasks-0001.safetensors', 'tasks/tasks-0002.safetensors', 'latents.safetensors',
      'diffusion.safetensors', 'generated-task.safetensors']) {
      assert.deepEqual(tensorBytes(join(b, f)), tensorBytes(join(a, f)), f);
    }
    assert.deepEqual(summaryOf(b), summaryOf(a));
    assert.equal(scored(), plan.evalCodes.length, 'the resumed evaluation scored only the codes left');
    const resumes: Record<string, number> = {};
    for (const st of ['collect', 'ae', 'diffusion', 'generate', 'evaluate']) {
      const m = JSON.parse(readFileSync(join(b, 'stages', `${st}.json`), 'utf8')) as { resumes?: number };
      if (m.resumes) resumes[st] = m.resumes;
    }
    assert.deepEqual(resumes, { collect: 1, diffusion: 1, generate: 1, evaluate: 1 });
    assert.deepEqual(readdirSync(join(b, 'state')), [], 'no state or clock files are left');
  });

  it('pdiff generate --task writes the generated part for any code, which loads back', () => {
    const file = join(tmp, 'head.safetensors');
    const code = plan.split.unseen[1]!;
    const r = pdiff(['generate', '--out', a, '--task', code, '--num', '3', '--save', file]);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`^wrote ${file}: 3 parameter sets for task ${code} \\(positive: `, 'm'));
    const s = loadCheckpointStack(file);
    assert.equal(s.k, 3);
    assert.deepEqual(s.layout.names, ['bn3.weight', 'bn3.bias', 'fc.weight', 'fc.bias']);
    assert.deepEqual(s.layout.shapes, [[64], [64], [2, 64], [2]]);
    assert.equal(s.metadata.pdiff_task_code, code);
    // the library call gives the same sets (one seeded stream per code)
    const lib = generateForTask({ runDir: a, code, n: 3 });
    assert.deepEqual(lib.params, s.ckpts);
  });

  it('refuses a bad code, a condition on an unconditional run and a bad target accuracy, naming the flag and writing nothing', () => {
    const file = join(tmp, 'never.safetensors');
    const bad = (args: string[], message: RegExp): void => {
      const r = pdiff(['generate', ...args, '--save', file]);
      assert.equal(r.status, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, message);
      assert.ok(!existsSync(file), `${args.join(' ')} wrote ${file}`);
    };
    bad(['--out', a, '--task', '011001001'], /^pdiff: --task: expected a task code of 10 characters 0\/1 .* got "011001001" \(9 characters\)/);
    const u = join(tmp, 'uncond');
    rmSync(u, { recursive: true, force: true });
    cpSync(a, u, { recursive: true });
    writeFileSync(join(u, 'config.json'), JSON.stringify({ ...config(u), tasks: { ...config(u).tasks, condition: 'none' } }));
    bad(['--out', a, '--target-acc', '101'], /^pdiff: --target-acc: a target accuracy must lie in \[0, 100\] \(percent\), got "101"/);
    assert.throws(() => requireAccuracyRun(a), (e: unknown) => e instanceof ConfigError && /^--target-acc: run folder .* is not accuracy-conditioned \(tasks\.condition is "task"\)/.test(e.message));
    // the library refuses every kind of bad code with a TaskCodeError naming the flag, before reading the folder
    for (const [code, problem] of [['01100100', 'length'], ['01100100x1', 'characters'], ['0000000000', 'all-zeros'], ['1111111111', 'all-ones']] as const) {
      assert.throws(() => generateForTask({ runDir: join(tmp, 'nowhere'), code, out: file }), (e: unknown) => e instanceof TaskCodeError && e.problem === problem && e.message.startsWith('--task: '), code);
    }
    assert.throws(() => generateForTask({ runDir: u, code: '0110010011', out: file }),
      (e: unknown) => e instanceof ConfigError && /^--task: run folder .*uncond is not task-conditioned \(tasks\.condition is "none"\)/.test(e.message));
    assert.ok(!existsSync(file));
  });
});
