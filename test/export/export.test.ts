/**
 * `pdiff export` on a tiny real run (test/helpers/data.ts microOverrides, up to the evaluate
 * stage): the best generated model, a member by index and the ensemble, in both formats; the
 * ONNX file run in ONNX Runtime on the run's test images gives the member's pdiff logits, the
 * safetensors file loads into pdiff and gives them bit for bit. Bad arguments exit non-zero,
 * name the argument and leave no file. Then the cost table's ONNX Runtime column.
 */
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { resolveBackend } from '../../src/backend/index.js';
import { resolveConfig } from '../../src/config/index.js';
import { DATASET_INFO } from '../../src/data/info.js';
import { ensembleAverage } from '../../src/eval/baselines.js';
import { argmaxFirst } from '../../src/eval/stats.js';
import { decodeModel, ExportError, exportMember, formatOfName, loadOnnxRuntime, loadRunMember, ONNX_INPUT, ONNX_OUTPUT, OnnxSession, parseMember, type ExportFormat, type ExportResult } from '../../src/export/index.js';
import { onnxLatencyCost } from '../../src/export/latency.js';
import { buildClassifier, CnnS, type Classifier } from '../../src/models/index.js';
import { renderMarkdown } from '../../src/report/render.js';
import { loadData } from '../../src/run/context.js';
import { runPipeline } from '../../src/run/pipeline.js';
import { Rng } from '../../src/tensor/random.js';
import { Tensor, noGrad } from '../../src/tensor/tensor.js';
import { loadCheckpointStack, loadStateDict } from '../../src/zoo/checkpoint.js';
import { readSafetensors } from '../../src/zoo/safetensors.js';
import { assertClose } from '../helpers/assert.js';
import { pdiff } from '../helpers/cli.js';
import { microOverrides, skipWithoutFashionMnist } from '../helpers/data.js';
import { syntheticReport } from '../report/fixtures.js';

const skip = skipWithoutFashionMnist;
const be = resolveBackend('blas', true);
const rt = await loadOnnxRuntime();
const noRuntime = rt.available ? false : rt.reason;
const tmp = mkdtempSync(join(tmpdir(), 'pdiff-export-'));
after(() => rmSync(tmp, { recursive: true, force: true }));
const RUN = join(tmp, 'run');
const cfg = resolveConfig({ preset: 'fmnist-tiny', overrides: microOverrides(RUN, { shift: { enabled: false } }) });

before(async () => {
  if (skip) return;
  await runPipeline(cfg, { until: 'evaluate', quiet: true, say: () => {} });
});

/** The first 7 test images of the run's data set [7, 1, 28, 28]. */
function testImages(): Float32Array {
  const t = loadData(cfg).test;
  return t.images.slice(0, 7 * t.c * t.h * t.w);
}

const logits = (model: Classifier, x: Float32Array): Float32Array | Float64Array =>
  noGrad(() => be.read(model.forward(new Tensor(be.fromArray(x), [x.length / 784, 1, 28, 28], be)).storage));

/** A fresh folder for one export's output. */
function outDir(name: string): string {
  const d = join(tmp, name);
  mkdirSync(d);
  return d;
}

describe('pdiff export on a tiny run', { skip }, () => {
  it('--member best as ONNX: the generated model best on val, checked and run in ONNX Runtime on test images', { skip: noRuntime }, async () => {
    const d = outDir('best');
    const out = join(d, 'best.onnx');
    const r = pdiff('export', RUN, '--member', 'best', '--out', out, '--json');
    assert.equal(r.status, 0, r.stderr);
    const res = JSON.parse(r.stdout) as ExportResult;
    const scores = JSON.parse(readFileSync(join(RUN, 'eval', 'generated.json'), 'utf8')) as { val: number[]; test: number[] };
    const best = argmaxFirst(scores.val);
    assert.deepEqual([res.format, res.arch, res.member.kind, res.member.chosenBy, res.member.index, res.member.valAcc], ['onnx', 'cnn-s', 'generated', 'best', best, scores.val[best]]);
    assert.deepEqual(res.input, { name: 'input', shape: ['batch', 1, 28, 28], mean: [0.286], std: [0.353] });
    assert.ok(res.check.ran && res.check.maxAbsDiff <= 1e-4, JSON.stringify(res.check));
    assert.deepEqual(readdirSync(d), ['best.onnx']);

    const bytes = readFileSync(out);
    const meta = Object.fromEntries(decodeModel(bytes).metadataProps.map((p) => [p.key, p.value]));
    assert.equal(meta.pdiff_member_index, String(best));
    assert.equal(meta.pdiff_input_mean, '[0.286]');
    assert.equal(JSON.parse(meta.pdiff_class_names!)[0], 'T-shirt/top');
    const session = await OnnxSession.create(rt as Extract<typeof rt, { available: true }>, { bytes, input: ONNX_INPUT, output: ONNX_OUTPUT });
    const x = testImages();
    const got = await session.run(x, [7, 1, 28, 28]);
    await session.release();
    const member = loadRunMember({ runDir: RUN, member: best, backend: be });
    assertClose(got.data, logits(member.model, x), { atol: 1e-4, rtol: 1e-4 }, 'ONNX Runtime logits of the best generated model');
  });

  it('--member INDEX as safetensors: the full state_dict, which loads into pdiff and gives the member\'s logits bit for bit', () => {
    const d = outDir('index');
    const out = join(d, 'm1.safetensors');
    const r = pdiff('export', RUN, '-m', '1', '-o', out);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^wrote .*m1\.safetensors \(safetensors state_dict, .*\): cnn-s, generated model 1 of 2 \(/);
    const file = readSafetensors(out);
    const model = buildClassifier('cnn-s', { rng: new Rng(5), backend: be, inShape: [1, 28, 28], numClasses: 10 }).eval();
    assert.deepEqual([...file.tensors.keys()], model.stateDict().map(([n]) => n));
    loadStateDict(out, model);
    const member = loadRunMember({ runDir: RUN, member: 1, backend: be });
    const x = testImages();
    assert.deepEqual(logits(model, x), logits(member.model, x));
    // the generated tensors are row 1 of the generated stack, the rest the base model's
    const gen = loadCheckpointStack(join(RUN, 'generated-bn.safetensors'));
    const total = gen.layout.total;
    gen.layout.names.forEach((name, i) => {
      const off = gen.layout.offsets[i]!, n = gen.layout.sizes[i]!;
      assert.deepEqual(file.tensors.get(name)!.data, gen.ckpts.slice(total + off, total + off + n), name);
    });
    assert.equal(file.metadata?.pdiff_member_kind, 'generated');
    assert.equal(file.metadata?.pdiff_input_std, '[0.353]');
  });

  it('--member ensemble: the mean of the collected checkpoints (the report\'s "ensemble" group)', async () => {
    const out = join(outDir('ensemble'), 'ens.safetensors');
    const res = await exportMember({ runDir: RUN, member: 'ensemble', format: 'safetensors', out, backend: be });
    assert.equal(res.member.kind, 'ensemble');
    const ck = loadCheckpointStack(join(RUN, 'ckpts-bn.safetensors'));
    const mean = ensembleAverage(ck.ckpts, ck.k, ck.layout.total);
    const file = readSafetensors(out);
    ck.layout.names.forEach((name, i) => {
      assert.deepEqual(file.tensors.get(name)!.data, mean.slice(ck.layout.offsets[i]!, ck.layout.offsets[i]! + ck.layout.sizes[i]!), name);
    });
    const ens = JSON.parse(readFileSync(join(RUN, 'eval', 'ensemble.json'), 'utf8')) as { test: number[] };
    assert.equal(res.member.testAcc, ens.test[0]);
  });

  it('without ONNX Runtime an ONNX export is still written and says why it was not checked', async () => {
    const out = join(outDir('no-runtime'), 'm0.onnx');
    const res = await exportMember({ runDir: RUN, member: 0, format: 'onnx', out, backend: be, runtime: { available: false, reason: 'onnxruntime-node is not installed (test)' } });
    assert.deepEqual(res.check, { ran: false, reason: 'onnxruntime-node is not installed (test)' });
    assert.ok(existsSync(out));
  });

  /** A bad export through the CLI: exit status, the first line of stderr, and no file left in the output folder. */
  function bad(name: string, args: string[], status: number, stderr: RegExp): void {
    const d = outDir(`bad-${name}`);
    const r = pdiff('export', ...args.map((a) => a.replace('OUT', d)));
    assert.equal(r.status, status, `${name}: ${r.stderr}`);
    assert.match(r.stderr, stderr, name);
    assert.deepEqual(readdirSync(d), [], `${name}: files left in the output folder`);
  }

  it('bad arguments on the command line: a clear error naming the argument, non-zero exit, no file', () => {
    const noGen = join(tmp, 'no-generated');
    mkdirSync(noGen);
    for (const f of ['config.json', 'base.safetensors', 'ckpts-bn.safetensors']) copyFileSync(join(RUN, f), join(noGen, f));
    bad('no-generated', [noGen, '-o', 'OUT/m.onnx'], 2, /^pdiff: RUN_DIR .*no-generated: holds no generated models \(generated-bn\.safetensors is missing\); run "pdiff generate -o /);
    // a conditional run has no one group of generated classifiers: export points to generate --task / --target-acc
    for (const [condition, hint] of [['task', /a task-conditioned run .* write one code's with "pdiff generate -o .* --task CODE --save FILE"/], ['accuracy', /an accuracy-conditioned run .* "pdiff generate -o .* --target-acc N --save FILE"/]] as const) {
      const dir = join(tmp, `cond-${condition}`);
      mkdirSync(dir);
      const c = JSON.parse(readFileSync(join(RUN, 'config.json'), 'utf8')) as { tasks?: Record<string, unknown> };
      writeFileSync(join(dir, 'config.json'), JSON.stringify({ ...c, tasks: { ...c.tasks, condition } }));
      copyFileSync(join(RUN, 'base.safetensors'), join(dir, 'base.safetensors'));
      bad(`cond-${condition}`, [dir, '-o', 'OUT/m.onnx'], 2, new RegExp(`^pdiff: RUN_DIR .*cond-${condition}: ${hint.source}`));
    }
    bad('index-out-of-range', [RUN, '--member', '2', '-o', 'OUT/m.onnx'], 2, /^pdiff: --member 2: out of range: .* has 2 generated models \(indices 0 to 1\)/);
    bad('unknown-format', [RUN, '--format', 'tflite', '-o', 'OUT/m.onnx'], 1, /option '-f, --format <format>' argument 'tflite' is invalid\. Allowed choices are onnx, safetensors/);
    bad('missing-folder', [RUN, '-o', 'OUT/nope/m.onnx'], 2, /^pdiff: --out .*nope\/m\.onnx: the folder .*nope does not exist \(pdiff export does not create folders\)/);
  });

  it('bad arguments in the library: ExportError (exit code 2) naming the argument, nothing written', async () => {
    const d = outDir('bad-library');
    const cases: Array<[() => unknown, RegExp]> = [
      [() => parseMember('worst'), /^--member "worst": expected best, ensemble or the index of a generated model/],
      [() => exportMember({ runDir: tmp, member: 0, format: 'onnx', out: join(d, 'm.onnx') }), /^RUN_DIR .*: not a pdiff run folder \(no config\.json\)/],
      [() => exportMember({ runDir: RUN, member: 0, format: 'tflite' as ExportFormat, out: join(d, 'm.onnx') }), /^--format "tflite": expected one of onnx, safetensors/],
      [() => exportMember({ runDir: RUN, member: 0, format: 'onnx', out: d }), /^--out .*: is a folder, expected a file name/],
    ];
    for (const [f, msg] of cases) {
      await assert.rejects(async () => f(), (e: unknown) => e instanceof ExportError && e.exitCode === 2 && msg.test(e.message), String(msg));
    }
    assert.deepEqual([formatOfName('a/b.ONNX'), formatOfName('m.safetensors'), formatOfName('m.pt')], ['onnx', 'safetensors', undefined]);
    assert.deepEqual(readdirSync(d), []);
  });

  it('--member best before the evaluate stage says what to run', async () => {
    const unevaluated = join(tmp, 'unevaluated');
    mkdirSync(unevaluated);
    for (const f of ['config.json', 'base.safetensors', 'generated-bn.safetensors']) copyFileSync(join(RUN, f), join(unevaluated, f));
    await assert.rejects(exportMember({ runDir: unevaluated, member: 'best', format: 'onnx', out: join(tmp, 'x.onnx') }),
      /RUN_DIR .*unevaluated: its generated models have not been evaluated .*run "pdiff evaluate -o .*", or pick one with --member INDEX/);
    // a generated stack newer than its scores is not trusted either
    mkdirSync(join(unevaluated, 'eval'));
    copyFileSync(join(RUN, 'eval', 'generated.json'), join(unevaluated, 'eval', 'generated.json'));
    unlinkSync(join(unevaluated, 'generated-bn.safetensors'));
    copyFileSync(join(RUN, 'generated-bn.safetensors'), join(unevaluated, 'generated-bn.safetensors'));
    await assert.rejects(exportMember({ runDir: unevaluated, member: 'best', format: 'onnx', out: join(tmp, 'x.onnx') }), /have not been evaluated/);
    assert.ok(!existsSync(join(tmp, 'x.onnx')));
  });

  it('the data set table agrees with the loader', () => {
    const t = loadData(cfg).test, info = DATASET_INFO['fashion-mnist'];
    assert.deepEqual([t.c, t.h, t.w, t.numClasses, t.classNames, t.norm], [...info.inShape, info.numClasses, [...info.classNames], info.norm]);
  });
});

describe('the cost table\'s ONNX Runtime latency', () => {
  it('is measured at batch 1 and 128 where onnxruntime-node is installed', { skip: noRuntime }, async () => {
    const model = new CnnS({ rng: new Rng(1), backend: be }).eval();
    const c = await onnxLatencyCost({ model, inShape: [1, 28, 28], numClasses: 10, repeats: { batch1: 2, batch128: 1 } });
    assert.ok(c.onnxLatencyMsBatch1! > 0 && c.onnxLatencyMsBatch128! > 0, JSON.stringify(c));
    assert.match(c.onnxRuntime!, /^onnxruntime-node \d+\.\d+/);
    assert.equal(c.onnxLatencyMissing, undefined);
  });

  it('says why it is missing, and the report shows both', async () => {
    const model = new CnnS({ rng: new Rng(1), backend: be }).eval();
    const c = await onnxLatencyCost({ model, inShape: [1, 28, 28], numClasses: 10, runtime: { available: false, reason: 'onnxruntime-node is not installed (test)' } });
    assert.deepEqual(c, { onnxLatencyMissing: 'onnxruntime-node is not installed (test)' });
    const data = syntheticReport();
    data.cost = { ...data.cost!, ...c };
    assert.match(renderMarkdown(data, []), /\| forward latency, ONNX Runtime \| not measured: onnxruntime-node is not installed \(test\) \|/);
    data.cost = { ...data.cost, onnxLatencyMissing: undefined, onnxLatencyMsBatch1: 0.123, onnxLatencyMsBatch128: 4.5, onnxRuntime: 'onnxruntime-node 1.30.0' };
    const md = renderMarkdown(data, []);
    assert.match(md, /\| forward latency, batch 1 \| 0\.410 ms \|\n\| forward latency, batch 128 \| 21\.30 ms \|\n\| forward latency, batch 1, onnxruntime-node 1\.30\.0 \| 0\.123 ms \|\n\| forward latency, batch 128, onnxruntime-node 1\.30\.0 \| 4\.50 ms \|/);
  });
});
