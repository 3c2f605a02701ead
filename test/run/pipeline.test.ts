/**
 * End to end: the CLI runs the whole pipeline on a small slice of Fashion-MNIST; the generated
 * models classify far above chance; a run killed with SIGKILL inside every stage and started
 * again finishes with the same summary as an uninterrupted run.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { skipWithoutFashionMnist } from '../helpers/data.js';
import { readSafetensors } from '../../src/zoo/safetensors.js';

const root = new URL('../..', import.meta.url).pathname;
const tmp = mkdtempSync(join(tmpdir(), 'pdiff-e2e-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

/** A pipeline small enough for a test (about half a minute on 2 cores). */
const MICRO = [
  'data.limitTrain=4000', 'data.limitTest=500', 'data.valSize=500', 'base.epochs=2', 'base.lr=0.01', 'collect.k=10',
  'ae.steps=40', 'diffusion.steps=40', 'diffusion.timesteps=100', 'generate.n=6', 'generate.batchSize=6',
  'eval.baselineCount=3', 'eval.avgOf=4', 'eval.latency=false', 'report.png=false',
];

function pdiff(args: string[], env: Record<string, string> = {}): { status: number | null; signal: string | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, ['--import', 'tsx', join(root, 'src/cli/main.ts'), ...args], {
    cwd: root, encoding: 'utf8', env: { ...process.env, PDIFF_QUIET_BACKEND: '1', ...env }, timeout: 300_000,
  });
  return { status: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stderr };
}

const runArgs = (out: string): string[] => ['run', '--preset', 'fmnist-tiny', '--out', out, '--quiet', ...MICRO.flatMap((s) => ['--set', s])];

interface Summary { base: unknown; groups: Array<{ name: string; accuracies: unknown; novelty: unknown; test: { mean: number } }>; perClass: unknown }
const comparable = (s: Summary): unknown => ({ base: s.base, groups: s.groups, perClass: s.perClass });

describe('pdiff run end to end', { skip: skipWithoutFashionMnist }, () => {
  const a = join(tmp, 'a');
  it('runs every stage, writes the report, and generated models are far above chance', () => {
    const r = pdiff(runArgs(a));
    assert.equal(r.status, 0, r.stderr);
    // The headline: originals, generated and the best baseline, the verdict's first sentence, the report's paths.
    assert.match(r.stdout, /^originals {6}test mean \d+\.\d\d %, test@best-val \d+\.\d\d % \(10 models\)$/m);
    assert.match(r.stdout, /^generated {6}test mean \d+\.\d\d %, test@best-val \d+\.\d\d % \(6 models\)$/m);
    assert.match(r.stdout, /^best baseline {2}test mean \d+\.\d\d %, test@best-val \d+\.\d\d % \((ensemble|avg16|gauss_fit|noise_[\d.]+): [a-z]/m);
    assert.match(r.stdout, /^verdict: [A-Z][^\n]*\.$/m);
    assert.ok(r.stdout.includes(`report: ${join(a, 'report.md')}\n        ${join(a, 'report.html')}\n`), r.stdout);
    for (const f of ['base.safetensors', 'ckpts-bn.safetensors', 'manifest.json', 'ae.safetensors', 'normalizer.json', 'diffusion.safetensors', 'generated-bn.safetensors', 'summary.json', 'report.md', 'report.html', 'metrics.jsonl', 'config.json']) {
      assert.ok(existsSync(join(a, f)), `missing ${f}`);
    }
    const s = JSON.parse(readFileSync(join(a, 'summary.json'), 'utf8')) as Summary;
    const names = s.groups.map((g) => g.name);
    for (const g of ['original', 'ensemble', 'ae_recon', 'generated', 'noise_0.001', 'noise_0.05', 'noise_0.15', 'avg16', 'gauss_fit']) assert.ok(names.includes(g), `group ${g}`);
    const gen = s.groups.find((g) => g.name === 'generated')!;
    assert.ok(gen.test.mean > 50, `generated test mean ${gen.test.mean}% is not far above chance (10%)`);
    const md = readFileSync(join(a, 'report.md'), 'utf8');
    assert.match(md, /generated/);
  });

  it('a second run skips every stage', () => {
    const r = pdiff([...runArgs(a), '--json']);
    assert.equal(r.status, 0, r.stderr);
    const out = JSON.parse(r.stdout) as { stages: Array<{ name: string; skipped: boolean }> };
    for (const st of out.stages) if (st.name !== 'report') assert.ok(st.skipped, `${st.name} was rerun`);
  });

  it('killed with SIGKILL inside each stage and restarted, it reaches the same summary', () => {
    const b = join(tmp, 'b');
    for (const kill of ['base:0', 'collect:1', 'eval-originals:0', 'evaluate-chunk:1', 'ae:1', 'diffusion:1', 'generate:0', 'evaluate:2', 'report:0']) {
      // evaluate-chunk:1: inside the originals' group, after its first image chunk was saved
      const r = pdiff(runArgs(b), { PDIFF_KILL_AT: kill, PDIFF_EVAL_SAVE_SECONDS: '0' });
      assert.equal(r.signal, 'SIGKILL', `expected the run to be killed at ${kill}; status ${r.status}, stderr ${r.stderr.slice(-500)}`);
      if (kill === 'evaluate-chunk:1') {
        const st = readSafetensors(join(b, 'state', 'eval-original.safetensors'));
        assert.equal(st.metadata?.chunksDone, '1');
      }
    }
    const resumed = readFileSync(join(b, 'metrics.jsonl'), 'utf8').split('\n').filter((l) => l.includes('"resume"')).map((l) => JSON.parse(l) as { group: string; chunksDone: number });
    assert.deepEqual(resumed.map((e) => [e.group, e.chunksDone]), [['original', 1]]);
    assert.ok(!existsSync(join(b, 'state', 'eval-original.safetensors')), 'the partial state of a finished group is removed');
    const r = pdiff(runArgs(b));
    assert.equal(r.status, 0, r.stderr);
    const sa = JSON.parse(readFileSync(join(a, 'summary.json'), 'utf8')) as Summary;
    const sb = JSON.parse(readFileSync(join(b, 'summary.json'), 'utf8')) as Summary;
    assert.deepEqual(comparable(sb), comparable(sa));
    // a stage that continued from saved state counts the earlier processes' time too
    const resumes: Record<string, number> = {};
    for (const st of ['base', 'collect', 'eval-originals', 'ae', 'diffusion', 'generate', 'evaluate', 'report']) {
      const m = JSON.parse(readFileSync(join(b, 'stages', `${st}.json`), 'utf8')) as { seconds: number; resumes?: number };
      assert.ok(m.seconds > 0, `${st}: ${m.seconds} s`);
      if (m.resumes) resumes[st] = m.resumes;
    }
    assert.deepEqual(resumes, { collect: 1, 'eval-originals': 1, ae: 1, diffusion: 1, evaluate: 1 });
    const done = readFileSync(join(b, 'metrics.jsonl'), 'utf8').split('\n').filter((l) => l.includes('"event":"done"'))
      .map((l) => JSON.parse(l) as { stage: string; seconds: number; ownSeconds?: number; resumes?: number });
    for (const d of done.filter((e) => e.resumes)) assert.ok(d.ownSeconds! < d.seconds, `${d.stage}: ${d.ownSeconds} s of ${d.seconds} s in the last process`);
    assert.deepEqual(readdirSync(join(b, 'state')), [], 'no state or clock files are left');
  });

  it('ae.normalize "coordinate" reruns from the ae stage on, records the normalizer, and still generates working models', () => {
    const c = join(tmp, 'c');
    cpSync(a, c, { recursive: true });
    const r = pdiff([...runArgs(c), '--set', 'ae.normalize="coordinate"', '--reconfigure', '--json']);
    assert.equal(r.status, 0, r.stderr);
    const out = JSON.parse(r.stdout) as { stages: Array<{ name: string; skipped: boolean }> };
    const skipped = out.stages.filter((st) => st.skipped).map((st) => st.name);
    assert.deepEqual(skipped, ['base', 'collect', 'eval-originals']);
    const norm = JSON.parse(readFileSync(join(c, 'normalizer.json'), 'utf8')) as { kind: string; mu: number[] };
    assert.equal(norm.kind, 'coordinate');
    assert.equal(norm.mu.length, 192);
    const s = JSON.parse(readFileSync(join(c, 'summary.json'), 'utf8')) as Summary;
    const gen = s.groups.find((g) => g.name === 'generated')!;
    assert.ok(gen.test.mean > 50, `generated test mean ${gen.test.mean}% is not far above chance (10%)`);
  });
});
