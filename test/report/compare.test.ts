/** `pdiff compare`: the noise model, the verdicts, bad run folders, and the CLI's exit codes. */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { compareRuns, disagreementRate, loadRunForCompare, renderComparison, type RunForCompare } from '../../src/report/compare.js';
import type { TaskCodeReport, TaskReport } from '../../src/report/types.js';
import { writeSafetensors } from '../../src/zoo/safetensors.js';
import { pdiff } from '../helpers/cli.js';

const tmp = mkdtempSync(join(tmpdir(), 'pdiff-compare-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

type Group = RunForCompare['groups'][number];
const group = (name: string, n: number, mean: number, std: number, atBest: number, nnL2?: number): Group =>
  ({ name, n, test: { mean, std, best: mean + 2 * std }, testAtBestVal: atBest, ...(nnL2 === undefined ? {} : { nnL2 }) });

function run(dir: string, groups: Group[], config: Record<string, unknown>, baseTest = 88): RunForCompare {
  return { dir, base: { val: baseTest + 0.5, test: baseTest }, groups, testSize: 10_000, config };
}

describe('compareRuns', () => {
  it('measures each difference in sigma units of the documented noise model', () => {
    const a = run('A', [group('original', 200, 88.0, 0.2, 88.5, 0.03), group('ensemble', 1, 88.4, 0, 88.4)], { seed: 0, backend: 'blas', out: 'runs/a', ae: { steps: 600 } });
    const b = run('B', [group('original', 100, 88.1, 0.3, 88.2), group('ensemble', 1, 88.4, 0, 88.4), group('extra', 5, 50, 1, 50)], { seed: 0, backend: 'webgpu', out: 'runs/b', ae: { steps: 600 } });
    const c = compareRuns(a, b);
    // base: 2q with p = 0.88, N = 10,000: q = 1e4 * 0.88 * 0.12 / 1e4 = 0.1056
    const base = c.rows[0]!;
    assert.equal(base.group, 'base');
    assert.ok(Math.abs(base.sigma - Math.sqrt(2 * 0.1056)) < 1e-9);
    assert.equal(base.delta, 0);
    // original mean: p = 0.8805
    const q = (1e4 * 0.8805 * (1 - 0.8805)) / 1e4;
    const mean = c.rows.find((r) => r.group === 'original' && r.metric === 'test mean')!;
    assert.ok(Math.abs(mean.sigma - Math.sqrt(0.04 / 200 + 0.09 / 100 + 2 * q)) < 1e-9);
    assert.ok(Math.abs(mean.delta - 0.1) < 1e-9);
    const pick = c.rows.find((r) => r.group === 'original' && r.metric === 'test@best-val')!;
    const qp = (1e4 * 0.8835 * (1 - 0.8835)) / 1e4;
    assert.ok(Math.abs(pick.sigma - Math.sqrt(0.04 + 0.09 + 2 * qp)) < 1e-9);
    assert.ok(Math.abs(pick.delta + 0.3) < 1e-9);
    // a one-member group has no test@best-val row; a group in one run only is listed, not compared
    assert.equal(c.rows.filter((r) => r.group === 'ensemble').length, 1);
    assert.deepEqual(c.onlyIn, { a: [], b: ['extra'] });
    assert.deepEqual(c.configDiff, [{ key: 'backend', a: 'blas', b: 'webgpu' }]);
    assert.deepEqual(c.novelty, [{ group: 'original', nnL2: [0.03, null], iouMax: [null, null] }]);
    assert.equal(c.equivalent, true);
    assert.ok(c.rows.every((r) => r.verdict === 'same'));
    assert.match(renderComparison(c), /backend: "blas" -> "webgpu"[\s\S]*equivalent within sampling noise/);
  });

  it('calls a difference beyond 3 sigma "differs" and the runs not equivalent', () => {
    const a = run('A', [group('generated', 200, 88.0, 0.2, 88.5)], {});
    // sigma of the mean ~ sqrt(0.0004 + 0.0004 + 0.2112) = 0.4605: 1.0 is 2.2 sigma, 1.5 is 3.3 sigma
    const close = compareRuns(a, run('B', [group('generated', 200, 89.0, 0.2, 88.5)], {}));
    assert.equal(close.rows.find((r) => r.metric === 'test mean')!.verdict, 'close');
    assert.equal(close.equivalent, true);
    const far = compareRuns(a, run('B', [group('generated', 200, 86.5, 0.2, 88.5)], {}));
    const row = far.rows.find((r) => r.metric === 'test mean')!;
    assert.equal(row.verdict, 'differs');
    assert.ok(row.z > 3 && row.z < 3.5, String(row.z));
    assert.equal(far.equivalent, false);
    assert.match(renderComparison(far), /NOT equivalent: generated test mean \(\|z\| 3\.\d\)/);
  });

  it('pairs the runs\' test predictions where both have them: q = 100^2 r / N', () => {
    const N = 1000;
    // member i of A and of B disagree on 10 * (i + 1) examples: r = mean(10, 20, 30) / 1000 = 0.02
    const predsA = new Float32Array(3 * N), predsB = new Float32Array(3 * N);
    for (let i = 0; i < 3; i++) for (let j = 0; j < 10 * (i + 1); j++) predsB[i * N + j] = 1;
    const withPreds = (r: RunForCompare, data: Float32Array): RunForCompare =>
      ({ ...r, testSize: N, preds: (g) => (g === 'original' ? { n: 3, data } : null) });
    const a = withPreds(run('A', [group('original', 3, 88, 0.3, 88.2), group('generated', 3, 88, 0.3, 88.2)], {}), predsA);
    const b = withPreds(run('B', [group('original', 3, 88.2, 0.3, 88.4), group('generated', 3, 88.2, 0.3, 88.4)], {}), predsB);
    const c = compareRuns(a, b);
    assert.ok(Math.abs(c.disagreement.original! - 0.02) < 1e-12);
    assert.equal(c.disagreement.generated, undefined);
    const get = (g: string, m: string) => c.rows.find((r) => r.group === g && r.metric === m)!;
    assert.equal(get('original', 'test mean').noise, 'paired');
    assert.ok(Math.abs(get('original', 'test mean').sigma - Math.sqrt(0.09 / 3 + 0.09 / 3 + (1e4 * 0.02) / N)) < 1e-9);
    assert.ok(Math.abs(get('base', 'test').sigma - Math.sqrt((1e4 * 0.02) / N)) < 1e-9, 'the base model uses the originals\' r');
    // without predictions for a group, the independent-models bound
    const gen = get('generated', 'test mean');
    assert.equal(gen.noise, 'binomial');
    assert.ok(Math.abs(gen.sigma - Math.sqrt(0.09 / 3 + 0.09 / 3 + (2e4 * 0.881 * 0.119) / N)) < 1e-9);
    assert.match(renderComparison(c), /paired \(2\.0 % disagree\)[\s\S]*binomial bound/);
  });

  it('disagreementRate spreads up to 50 pairs evenly over the members', () => {
    const N = 4, n = 101;
    const a = new Float32Array(n * N), b = new Float32Array(n * N);
    b[100 * N] = 1; // only the last pair differs, on one example of four
    const r = disagreementRate({ n, data: a }, { n, data: b }, N);
    assert.ok(Math.abs(r - 1 / (50 * N)) < 1e-15, String(r));
    assert.equal(disagreementRate({ n: 1, data: a }, { n: 1, data: b }, N), 0);
  });

  it('refuses runs evaluated on test sets of different sizes', () => {
    const a = run('A', [], {});
    assert.throws(() => compareRuns(a, { ...run('B', [], {}), testSize: 1000 }), /different test sets \(A: 10000 examples, B: 1000\)/);
  });

  it('compares two task runs per set of codes and method, paired over the common codes, and refuses mixing kinds', () => {
    const code = (c: string, seen: boolean, gen: number[], oracle: number): TaskCodeReport => ({
      code: c, seen, generated: { val: gen, test: gen }, oracle: { val: [oracle], test: [oracle] },
      nearest: { distance: 1, codes: ['0000000001'], val: [80], test: [80] }, meanSeen: { val: 50, test: 50 }, ridge: { val: 85, test: 85 }, majority: { val: 60, test: 60 },
    });
    const tasks = (codes: TaskCodeReport[]): TaskReport => ({ zooTasks: 900, k: 10, heldOut: 3, perCode: 2, params: ['fc.weight'], floats: 18, guidance: 1, ridgeLambda: 0, codes });
    const a = { ...run('A', [], {}), tasks: tasks([code('0000000011', false, [88, 90], 91), code('0000000101', false, [86, 86], 90), code('0000000111', false, [84, 86], 88), code('0000001001', true, [90, 90], 92)]) };
    const b = { ...run('B', [], {}), tasks: tasks([code('0000000011', false, [90, 92], 91), code('0000000101', false, [88, 88], 90), code('0000000111', false, [86, 88], 88), code('0000001111', true, [90, 90], 92)]) };
    const c = compareRuns(a, b);
    const gen = c.conditional!.find((r) => r.what === 'unseen' && r.metric === 'generated mean')!;
    assert.deepEqual([gen.n, gen.a.toFixed(3), gen.b.toFixed(3), gen.delta, gen.sigma, gen.verdict], [3, '86.667', '88.667', 2, 0, 'differs'], 'every code +2: no spread, so not noise');
    assert.equal(gen.z, Infinity);
    assert.equal(c.conditional!.find((r) => r.metric === 'oracle')!.verdict, 'same');
    assert.ok(!c.conditional!.some((r) => r.what === 'seen'), 'no seen code in common');
    assert.equal(c.equivalent, false);
    assert.match(renderComparison(c), /^unseen \(3\) +generated mean +86\.67 +88\.67 +\+2\.00 +0\.00 +inf +differs$/m);
    assert.throws(() => compareRuns(a, run('C', [], {})), /^PdiffError: A is a task-conditioned run and C is an unconditional run: their results are different tables/);
  });
});

/** A minimal finished run folder: summary.json, config.json and eval/original.preds.safetensors. */
function writeRun(dir: string, opts: { genMean?: number; backend?: string; testSize?: number; inSummary?: boolean } = {}): string {
  mkdirSync(join(dir, 'eval'), { recursive: true });
  const g = (name: string, n: number, mean: number) => ({
    name, n, val: { n, best: mean + 1, mean: mean + 0.5, median: mean + 0.5, min: mean, std: 0.2 },
    test: { n, best: mean + 0.4, mean, median: mean, min: mean - 0.4, std: 0.2 }, testAtBestVal: mean + 0.1, nnL2: 0.05, iouMax: 0.95,
  });
  const N = opts.testSize ?? 2000;
  writeFileSync(join(dir, 'summary.json'), JSON.stringify({
    base: { val: 88.5, test: 88 }, ...(opts.inSummary ? { testSize: N } : {}), groups: [g('original', 10, 88), g('generated', 10, opts.genMean ?? 88.1)], warnings: [],
  }));
  writeFileSync(join(dir, 'config.json'), JSON.stringify({ seed: 0, backend: opts.backend ?? 'blas', out: dir }));
  if (!opts.inSummary) writeSafetensors(join(dir, 'eval', 'original.preds.safetensors'), [{ name: 'test_preds', shape: [10, N], data: new Float32Array(10 * N) }]);
  return dir;
}


describe('loadRunForCompare and pdiff compare', () => {
  it('reads a run folder: groups, base, config and the test size (summary.json, or the predictions file of older runs)', () => {
    const r = loadRunForCompare(writeRun(join(tmp, 'read')));
    assert.equal(r.testSize, 2000);
    assert.equal(loadRunForCompare(writeRun(join(tmp, 'read-new'), { testSize: 1234, inSummary: true })).testSize, 1234);
    assert.deepEqual(r.groups.map((g) => g.name), ['original', 'generated']);
    assert.equal(r.groups[1]!.test.mean, 88.1);
    assert.equal(r.config.backend, 'blas');
  });

  it('names the file and the key when a run folder is incomplete or malformed', () => {
    const empty = join(tmp, 'empty');
    mkdirSync(empty, { recursive: true });
    assert.throws(() => loadRunForCompare(empty), (e: Error) => e.message.includes(join(empty, 'summary.json')) && /is missing/.test(e.message));
    const bad = writeRun(join(tmp, 'bad-json'));
    writeFileSync(join(bad, 'summary.json'), '{"base": ');
    assert.throws(() => loadRunForCompare(bad), (e: Error) => e.message.startsWith(join(bad, 'summary.json')) && /not valid JSON/.test(e.message));
    const wrongType = writeRun(join(tmp, 'wrong-type'));
    writeFileSync(join(wrongType, 'summary.json'), JSON.stringify({ base: { val: 1, test: 1 }, groups: [{ name: 'original', n: 3, test: { mean: '88', std: 0, best: 88 }, testAtBestVal: 88 }] }));
    assert.throws(() => loadRunForCompare(wrongType), /"groups\[0\] \(original\)\.test\.mean" should be a finite number, got "88"/);
    const noPreds = writeRun(join(tmp, 'no-preds'));
    rmSync(join(noPreds, 'eval', 'original.preds.safetensors'));
    assert.throws(() => loadRunForCompare(noPreds), /does not give the test size and .*original\.preds\.safetensors, which would, is missing/);
    const wrongPreds = writeRun(join(tmp, 'wrong-preds'), { testSize: 300, inSummary: true });
    writeSafetensors(join(wrongPreds, 'eval', 'generated.preds.safetensors'), [{ name: 'test_preds', shape: [10, 299], data: new Float32Array(2990) }]);
    assert.equal(loadRunForCompare(wrongPreds).preds!('original'), null);
    assert.throws(() => loadRunForCompare(wrongPreds).preds!('generated'), /generated\.preds\.safetensors: expected an F32 tensor "test_preds" of shape \[n, 300\] \(the run's test size\), got F32 \[10, 299\]/);
    const badSize = writeRun(join(tmp, 'bad-size'), { testSize: 10, inSummary: true });
    writeFileSync(join(badSize, 'summary.json'), readFileSync(join(badSize, 'summary.json'), 'utf8').replace('"testSize":10', '"testSize":2.5'));
    assert.throws(() => loadRunForCompare(badSize), /"testSize" should be a positive integer, got 2\.5/);
  });

  it('reads an unfinished run from its finished groups (eval/<group>.json) and says so', () => {
    const dir = join(tmp, 'partial');
    mkdirSync(join(dir, 'eval'), { recursive: true });
    writeFileSync(join(dir, 'config.json'), JSON.stringify({ seed: 0, backend: 'webgpu', out: dir }));
    writeFileSync(join(dir, 'base.json'), JSON.stringify({ val: 88.6, test: 88.2, history: [] }));
    const group = (name: string, val: number[], test: number[], N = 2000): void => {
      writeFileSync(join(dir, 'eval', `${name}.json`), JSON.stringify({ name, n: test.length, val, test, hash: 'h' }));
      writeSafetensors(join(dir, 'eval', `${name}.preds.safetensors`), [{ name: 'test_preds', shape: [test.length, N], data: new Float32Array(test.length * N) }]);
    };
    group('generated', [88, 89, 87], [88.2, 88.0, 88.4]);
    group('original', [88.5, 88.7], [88.1, 87.9]);
    writeFileSync(join(dir, 'eval', 'ensemble.json'), '{}'); // not finished: no predictions file
    const r = loadRunForCompare(dir);
    assert.equal(r.partial, true);
    assert.equal(r.testSize, 2000);
    assert.deepEqual(r.base, { val: 88.6, test: 88.2 });
    assert.deepEqual(r.groups.map((g) => g.name), ['original', 'generated']);
    const gen = r.groups[1]!;
    assert.ok(Math.abs(gen.test.mean - 88.2) < 1e-9 && gen.testAtBestVal === 88.0 && gen.n === 3 && gen.nnL2 === undefined);
    const c = compareRuns(loadRunForCompare(writeRun(join(tmp, 'partial-ref'))), r);
    assert.deepEqual(c.partial, [dir]);
    assert.match(renderComparison(c), new RegExp(`note: ${dir} has no summary.json \\(its evaluation has not finished\\)`));
    assert.equal(c.novelty.find((n) => n.group === 'generated')!.nnL2[1], null);
    writeFileSync(join(dir, 'eval', 'generated.json'), JSON.stringify({ name: 'generated', val: [88], test: [88, 89] }));
    assert.throws(() => loadRunForCompare(dir), /generated\.json: expected "val" and "test": equally long/);
  });

  it('prints the comparison, as JSON with --json, and exits 4 with --check when runs differ', () => {
    const a = writeRun(join(tmp, 'cli-a'));
    const b = writeRun(join(tmp, 'cli-b'), { backend: 'webgpu', genMean: 88.3 });
    const far = writeRun(join(tmp, 'cli-far'), { genMean: 80 });
    let r = pdiff('compare', a, b);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /backend: "blas" -> "webgpu"/);
    assert.match(r.stdout, /equivalent within sampling noise/);
    r = pdiff('compare', a, b, '--json', '--check');
    assert.equal(r.status, 0, r.stderr);
    const c = JSON.parse(r.stdout) as { equivalent: boolean; testSize: number; rows: Array<{ group: string; metric: string; delta: number }> };
    assert.equal(c.equivalent, true);
    assert.equal(c.testSize, 2000);
    assert.ok(Math.abs(c.rows.find((x) => x.group === 'generated' && x.metric === 'test mean')!.delta - 0.2) < 1e-9);
    r = pdiff('compare', a, far, '--check');
    assert.equal(r.status, 4);
    assert.match(r.stdout, /NOT equivalent: generated test mean/);
    r = pdiff('compare', a, join(tmp, 'nowhere'));
    assert.equal(r.status, 1);
    assert.match(r.stderr, /nowhere\/summary\.json is missing/);
    r = pdiff('compare', a, writeRun(join(tmp, 'cli-small'), { testSize: 500 }));
    assert.equal(r.status, 1);
    assert.match(r.stderr, /different test sets/);
  });
});
