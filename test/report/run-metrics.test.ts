/**
 * On tiny runs (test/helpers/data.ts microOverrides, through the CLI as a user would start them):
 * every group's top-5 and macro-F1 in summary.json equal what fullMetrics gives member by member;
 * a run killed inside the evaluation and resumed gives the same numbers, and one whose saved
 * partial state has no top-5 hit counts (an older version's) starts that group over and gives them
 * too; a 3-class data set leaves top-5 out with the reason. Then `pdiff compare-archs` on the same
 * run folders. One run folder (A) serves every test.
 */
import assert from 'node:assert/strict';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { resolveBackend } from '../../src/backend/index.js';
import { resolveConfig } from '../../src/config/index.js';
import { ParamSetEvaluator } from '../../src/eval/evaluate.js';
import { compareArchs, loadArchRun, renderArchComparison } from '../../src/report/compare-archs.js';
import type { GroupReport } from '../../src/report/types.js';
import { makeContext, type RunContext } from '../../src/run/context.js';
import { evalGroup } from '../../src/run/groups.js';
import { evaluateGroups, top5OmittedReason, type EvalSummary } from '../../src/run/stages/evaluate.js';
import { buildReport } from '../../src/run/stages/report.js';
import { RunStore } from '../../src/run/store.js';
import { JsonlLog } from '../../src/util/jsonl.js';
import { readSafetensors, writeSafetensors } from '../../src/zoo/safetensors.js';
import { pdiff } from '../helpers/cli.js';
import { microOverrides, skipWithoutFashionMnist } from '../helpers/data.js';

const skip = skipWithoutFashionMnist;
const tmp = mkdtempSync(join(tmpdir(), 'pdiff-run-metrics-'));
after(() => rmSync(tmp, { recursive: true, force: true }));
const A = join(tmp, 'a'), B = join(tmp, 'b'), C = join(tmp, 'c');
const cfgFile = join(tmp, 'micro.json');

/** `pdiff run` of the micro config into `out`, with extra --set flags and environment. */
function microRun(out: string, args: string[] = [], env: Record<string, string> = {}): ReturnType<typeof pdiff> {
  const prev = { ...process.env };
  Object.assign(process.env, env);
  try {
    return pdiff('run', '--preset', 'fmnist-tiny', '--config', cfgFile, '--out', out, '--quiet', ...args);
  } finally {
    for (const k of Object.keys(env)) if (prev[k] === undefined) delete process.env[k]; else process.env[k] = prev[k];
  }
}

const summaryOf = (dir: string): EvalSummary => JSON.parse(readFileSync(join(dir, 'summary.json'), 'utf8')) as EvalSummary;

/** A run context on an existing run folder, in this process (the backend the CLI chose). */
function contextOn(dir: string): RunContext {
  const cfg = resolveConfig({ base: { name: dir, config: JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')) as Record<string, unknown> } });
  const store = new RunStore(dir);
  return makeContext({
    cfg, be: resolveBackend(cfg.backend, true), store, log: new JsonlLog(join(dir, 'metrics.jsonl')), say: () => {}, progress: false,
    command: '(test)', clock: store.clock('evaluate', 'test'),
  });
}

before(() => {
  if (skip) return;
  writeFileSync(cfgFile, JSON.stringify(microOverrides(A)));
  const r = microRun(A);
  assert.equal(r.status, 0, r.stderr);
});

describe('top-5 and macro-F1 of every group', { skip }, () => {
  it('equal fullMetrics of each member, and the mean and best-on-val member of the group', () => {
    const s = summaryOf(A);
    assert.equal(s.numClasses, 10);
    assert.equal(s.top5Omitted, undefined);
    const ctx = contextOn(A);
    const sp = ctx.splits();
    const ev = new ParamSetEvaluator({ model: ctx.baseModel(), layout: ctx.layout(), datasets: { val: sp.val, test: sp.test }, batch: ctx.cfg.eval.evalBatch });
    const T = ctx.layout().total;
    let members = 0;
    for (const g of s.groups) {
      const { sets, n } = evalGroup(g.name).sets(ctx);
      assert.equal(n, g.n);
      for (let i = 0; i < n; i++) {
        const m = ev.evaluateDetailed(sets.subarray(i * T, (i + 1) * T));
        for (const split of ['val', 'test'] as const) {
          assert.equal(g.top5!.members[split][i], m[split].top5, `${g.name}[${i}] ${split} top-5`);
          assert.equal(g.macroF1!.members[split][i], m[split].macroF1, `${g.name}[${i}] ${split} macro-F1`);
          assert.equal(g.accuracies[split][i], m[split].top1, `${g.name}[${i}] ${split} top-1`);
          members++;
        }
      }
      const best = g.accuracies.val.indexOf(Math.max(...g.accuracies.val));
      for (const metric of [g.top5!, g.macroF1!]) {
        for (const split of ['val', 'test'] as const) {
          const v = metric.members[split];
          assert.ok(Math.abs(metric.mean[split] - v.reduce((a, b) => a + b, 0) / v.length) < 1e-12, g.name);
          assert.equal(metric.atBestVal[split], v[best]);
        }
      }
    }
    assert.ok(members >= 20, String(members));
    const md = readFileSync(join(A, 'report.md'), 'utf8');
    const gen = s.groups.find((g) => g.name === 'generated')!;
    assert.match(md, /^## Top-1, top-5 and macro-F1 on test$/m);
    assert.ok(md.includes(`| generated | 2 | ${gen.test.mean.toFixed(2)} | ${gen.testAtBestVal.toFixed(2)} | ${gen.top5!.mean.test.toFixed(2)} | ${gen.top5!.atBestVal.test.toFixed(2)} | ${gen.macroF1!.mean.test.toFixed(4)} | ${gen.macroF1!.atBestVal.test.toFixed(4)} |`), md);
  });

  it('a run killed inside the evaluation resumes to the same numbers; a saved state without top-5 hits starts its group over', () => {
    const killed = microRun(B, [], { PDIFF_KILL_AT: 'evaluate-chunk:1', PDIFF_EVAL_SAVE_SECONDS: '0' });
    assert.equal(killed.status, null, killed.stderr);
    const state = join(B, 'state', 'eval-original.safetensors');
    const saved = readSafetensors(state);
    assert.equal(saved.metadata?.chunksDone, '1');
    const hits = saved.tensors.get('top5_hits')!;
    assert.deepEqual(hits.shape, [3, 4]); // k = 3 sets; 100 val + 100 test images in chunks of 50
    // C: the same state as an older version wrote it, without the hit counts
    cpSync(B, C, { recursive: true });
    writeSafetensors(join(C, 'state', 'eval-original.safetensors'), [{ name: 'preds', shape: saved.tensors.get('preds')!.shape, data: saved.tensors.get('preds')!.data as Float32Array }], saved.metadata ?? {});
    for (const dir of [B, C]) {
      const r = microRun(dir, [], { PDIFF_EVAL_SAVE_SECONDS: '0' });
      assert.equal(r.status, 0, r.stderr);
    }
    const resumes = (dir: string): unknown[] => readFileSync(join(dir, 'metrics.jsonl'), 'utf8').split('\n').filter((l) => l.includes('"event":"resume"')).map((l) => (JSON.parse(l) as { group: string; chunksDone: number }).chunksDone);
    assert.deepEqual(resumes(B), [1]);
    assert.deepEqual(resumes(C), []);
    const metrics = (s: EvalSummary): Array<Pick<GroupReport, 'name' | 'accuracies' | 'top5' | 'macroF1'>> => s.groups.map((g) => ({ name: g.name, accuracies: g.accuracies, top5: g.top5, macroF1: g.macroF1 }));
    assert.deepEqual(metrics(summaryOf(B)), metrics(summaryOf(A)));
    assert.deepEqual(metrics(summaryOf(C)), metrics(summaryOf(A)));
  });

  it('a 3-class data set leaves top-5 out and says why, in summary.json and the report', async () => {
    const D = join(tmp, 'three-classes');
    cpSync(A, D, { recursive: true });
    const ctx = contextOn(D);
    ctx.baseModel(); // loaded with the data set's 10 classes, before the labels are folded to 3
    const sp = ctx.splits();
    const three = { ...sp, ...Object.fromEntries((['train', 'val', 'test'] as const).map((k) => [k, { ...sp[k], labels: sp[k].labels.map((l) => l % 3), numClasses: 3, classNames: ['a', 'b', 'c'] }])) };
    ctx.splits = () => three;
    await evaluateGroups(ctx, null);
    const s = summaryOf(D);
    assert.equal(s.numClasses, 3);
    assert.equal(s.top5Omitted, top5OmittedReason(3));
    assert.match(s.top5Omitted!, /the data set has 3 classes, and top-5 needs at least 5/);
    assert.ok(s.groups.every((g) => g.top5 === undefined && g.macroF1 !== undefined));
    const { mdPath } = await buildReport(ctx);
    const md = readFileSync(mdPath, 'utf8');
    assert.match(md, /^## Top-1 and macro-F1 on test$/m);
    assert.match(md, /Top-5 accuracy is omitted: the data set has 3 classes/);
    assert.doesNotMatch(md, /top-5 mean/);
  });
});

describe('pdiff compare-archs', { skip }, () => {
  it('puts the runs side by side from their folders, with "-" for what a run did not measure', () => {
    const L = join(tmp, 'latency');
    cpSync(A, L, { recursive: true });
    const r0 = microRun(L, ['--set', 'eval.latency=true', '--reconfigure']);
    assert.equal(r0.status, 0, r0.stderr);
    const a = loadArchRun(A), l = loadArchRun(L);
    const s = summaryOf(A), cfg = JSON.parse(readFileSync(join(A, 'config.json'), 'utf8')) as { model: { arch: string }; base: { epochs: number } };
    const manifest = JSON.parse(readFileSync(join(A, 'manifest.json'), 'utf8')) as { layout: { total: number } };
    const gen = s.groups.find((g) => g.name === 'generated')!;
    assert.equal(a.arch, cfg.model.arch);
    assert.equal(a.params, s.cost!.params);
    assert.equal(a.subsetFloats, manifest.layout.total);
    assert.equal(a.baseTest, s.base.test);
    assert.equal(a.generatedTestMean, gen.test.mean);
    assert.equal(a.avg16TestMean, s.groups.find((g) => g.name === 'avg16')!.test.mean);
    assert.equal(a.generatedTop5Mean, gen.top5!.mean.test);
    assert.equal(a.generatedMacroF1Mean, gen.macroF1!.mean.test);
    assert.equal(a.generateSecondsPerModel, s.cost!.generateSecondsPerModel);
    assert.equal(a.baseSecondsPerEpoch, (JSON.parse(readFileSync(join(A, 'base.json'), 'utf8')) as { trainSeconds: number }).trainSeconds / cfg.base.epochs);
    assert.equal(a.latencyMsBatch1, null);
    assert.ok(l.latencyMsBatch1! > 0 && l.latencyMsBatch128! > 0);

    const r = pdiff('compare-archs', A, L);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, renderArchComparison(compareArchs([A, L])));
    const lines = r.stdout.split('\n');
    assert.equal(lines[0], `| quantity | ${a.arch} (a) | ${l.arch} (latency) |`);
    const row = (label: string): string[] => lines.find((x) => x.startsWith(`| ${label} |`))!.split('|').slice(2, -1).map((c) => c.trim());
    assert.deepEqual(row('latency, batch 1 (ms)'), ['-', l.latencyMsBatch1!.toFixed(3)]);
    assert.deepEqual(row('generated test mean (%)'), [gen.test.mean.toFixed(2), l.generatedTestMean!.toFixed(2)]);
    assert.deepEqual(row('parameters (total)'), [a.params!.toLocaleString('en-US'), l.params!.toLocaleString('en-US')]);
    for (const label of ['generated-subset floats', 'avg16 test mean (%)', 'generated top-5 mean (%)', 'generated macro-F1 mean', 'multiply-adds per image', 'peak memory (MiB)', 'generation per model (s)', 'collection per checkpoint (s)', 'base training per epoch (s)']) {
      assert.ok(row(label).every((c) => c !== '-' && c !== ''), label);
    }

    const out = join(tmp, 'archs.md');
    const j = pdiff('compare-archs', A, L, '--json', '--out', out);
    assert.equal(j.status, 0, j.stderr);
    const parsed = JSON.parse(j.stdout) as { runs: Array<{ dir: string; latencyMsBatch1: number | null }> };
    assert.deepEqual(parsed.runs.map((x) => [x.dir, x.latencyMsBatch1]), [[A, null], [L, l.latencyMsBatch1]]);
    assert.equal(readFileSync(out, 'utf8'), r.stdout);
  });

  it('without the cost figure, collection per checkpoint divides the collect stage by collect.k x seeds', () => {
    const S = join(tmp, 'seeds-fallback');
    cpSync(A, S, { recursive: true });
    const sum = JSON.parse(readFileSync(join(S, 'summary.json'), 'utf8')) as { cost: Record<string, unknown> };
    delete sum.cost.trainSecondsPerCheckpoint;
    writeFileSync(join(S, 'summary.json'), JSON.stringify(sum));
    const cfg = JSON.parse(readFileSync(join(S, 'config.json'), 'utf8')) as { collect: { k: number; seeds?: unknown } };
    const collectSeconds = (JSON.parse(readFileSync(join(S, 'stages', 'collect.json'), 'utf8')) as { seconds: number }).seconds;
    assert.equal(loadArchRun(S).collectSecondsPerCheckpoint, collectSeconds / cfg.collect.k);
    cfg.collect.seeds = 3;
    writeFileSync(join(S, 'config.json'), JSON.stringify(cfg));
    assert.equal(loadArchRun(S).collectSecondsPerCheckpoint, collectSeconds / (3 * cfg.collect.k));
    cfg.collect.seeds = ['a.safetensors', 'b.safetensors'];
    writeFileSync(join(S, 'config.json'), JSON.stringify(cfg));
    assert.equal(loadArchRun(S).collectSecondsPerCheckpoint, collectSeconds / (2 * cfg.collect.k));
  });

  it('names a folder without summary.json and exits 1; --help lists the command', () => {
    const empty = join(tmp, 'not-a-run');
    mkdirSync(empty);
    cpSync(join(A, 'config.json'), join(empty, 'config.json'));
    const r = pdiff('compare-archs', A, empty);
    assert.equal(r.status, 1);
    assert.equal(r.stderr.trim(), `pdiff: ${empty}: no summary.json; compare-archs needs run folders whose evaluate stage has finished (pdiff run -o ${empty}, or pdiff evaluate -o ${empty})`);
    assert.equal(r.stdout, '');
    assert.match(pdiff('--help').stdout, /\n {2}compare-archs /);
  });
});
