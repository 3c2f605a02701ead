/**
 * The `pdiff` command: parse arguments, call the library, print. All work happens in the library
 * (src/run/pipeline.ts and friends); this file only maps errors to exit codes.
 */
import { Command, Option } from 'commander';
import { readFileSync } from 'node:fs';
import { resolveBackend } from '../backend/index.js';
import { PRESETS, describeConfig, resolveConfig, type Config } from '../config/index.js';
import { compareRuns, loadRunForCompare, renderComparison } from '../report/compare.js';
import { summaryTable } from '../report/render.js';
import { STAGES, runPipeline, type StageName } from '../run/pipeline.js';
import { setQuiet } from '../util/progress.js';
import { inspectSafetensors } from '../zoo/safetensors.js';
import { PdiffError } from '../util/errors.js';

const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };

interface CommonOpts { preset: string; config?: string; set: string[]; out?: string; seed?: string; backend?: string; json?: boolean; quiet?: boolean }

const collectSet = (v: string, prev: string[]): string[] => [...prev, v];

function withCommon(cmd: Command): Command {
  return cmd
    .option('--preset <name>', `preset to start from (${Object.keys(PRESETS).join(', ')})`, 'fmnist-bn')
    .option('-c, --config <file>', 'JSON config file merged over the preset')
    .option('-s, --set <key=value>', 'override one config key, e.g. --set ae.steps=500 (repeatable)', collectSet, [])
    .option('-o, --out <dir>', 'run folder (default: the config\'s "out", e.g. runs/fmnist-bn)')
    .option('--seed <n>', 'random seed (default: the config\'s "seed", 0)')
    .addOption(new Option('--backend <name>', 'compute backend (default: auto = blas when the OpenBLAS addon loads, else js)').choices(['auto', 'js', 'blas', 'webgpu']))
    .option('--json', 'print machine-readable JSON on stdout instead of text', false)
    .option('-q, --quiet', 'no progress bars or log lines on stderr', false);
}

function configFrom(o: CommonOpts): Config {
  const sets = [...o.set];
  if (o.out) sets.push(`out=${JSON.stringify(o.out)}`);
  if (o.seed !== undefined) sets.push(`seed=${o.seed}`);
  if (o.backend) sets.push(`backend=${JSON.stringify(o.backend)}`);
  return resolveConfig({ preset: o.preset, file: o.config, sets });
}

async function runUntil(stage: StageName, o: CommonOpts, extraSets: string[] = []): Promise<void> {
  o.set = [...o.set, ...extraSets];
  const cfg = configFrom(o);
  setQuiet(!!o.quiet);
  const res = await runPipeline(cfg, { until: stage, quiet: !!o.quiet });
  if (o.json) {
    console.log(JSON.stringify({ runDir: res.runDir, stages: res.stages, report: res.reportPath ?? null, summary: res.report ? summaryTable(res.report) : null }));
  } else {
    for (const s of res.stages) console.log(`${s.name.padEnd(16)} ${s.skipped ? 'up to date' : `${s.seconds.toFixed(1)} s`}`);
    if (res.reportPath) console.log(res.reportPath);
    else console.log(res.runDir);
  }
}

// `pdiff inspect f | head` closes stdout early: that is not an error.
process.stdout.on('error', (e: NodeJS.ErrnoException) => { if (e.code === 'EPIPE') process.exit(0); throw e; });

const program = new Command();
program
  .name('pdiff')
  .description('Neural-network parameter generation (P-Diff): train a classifier, collect checkpoints, autoencode them, fit a latent DDPM, generate and evaluate new weights.')
  .version(pkg.version)
  .showHelpAfterError()
  .configureHelp({ showGlobalOptions: true });

withCommon(program.command('run').description('run the whole pipeline (skips stages that are up to date, resumes an interrupted one) and write the report'))
  .action((o: CommonOpts) => runUntil('report', o));
withCommon(program.command('collect').description('train the base model and collect the checkpoint zoo (ckpts-<mode>.safetensors)'))
  .action((o: CommonOpts) => runUntil('eval-originals', o));
withCommon(program.command('train-ae').description('train the parameter autoencoder on the collected checkpoints (runs earlier stages if needed)'))
  .action((o: CommonOpts) => runUntil('ae', o));
withCommon(program.command('train-diffusion').description('train the latent diffusion model (runs earlier stages if needed)'))
  .action((o: CommonOpts) => runUntil('diffusion', o));
withCommon(program.command('generate').description('sample new parameter sets (generated-<mode>.safetensors)'))
  .option('-n, --num <n>', 'number of parameter sets to generate (default: generate.n, 200)')
  .action((o: CommonOpts & { num?: string }) => runUntil('generate', o, o.num ? [`generate.n=${o.num}`] : []));
withCommon(program.command('evaluate').description('evaluate checkpoints, reconstructions, generated models and baselines (summary.json)'))
  .action((o: CommonOpts) => runUntil('evaluate', o));
withCommon(program.command('report').description('write report.md, report.html and plots into the run folder'))
  .action((o: CommonOpts) => runUntil('report', o));

program.command('inspect')
  .description('list the tensors of a safetensors file: dtype, shape, statistics and metadata')
  .argument('<file>', 'a .safetensors file')
  .option('--json', 'print JSON', false)
  .action((file: string, o: { json: boolean }) => {
    const info = inspectSafetensors(file);
    if (o.json) { console.log(JSON.stringify(info)); return; }
    console.log(`${info.file}: ${info.tensors.length} tensors, ${info.fileBytes} bytes (header ${info.headerBytes})`);
    const fmt = (v: number): string => (Number.isFinite(v) ? v.toPrecision(5) : String(v));
    console.log(['name', 'dtype', 'shape', 'min', 'max', 'mean', 'std', 'nan'].join('\t'));
    for (const t of info.tensors) console.log([t.name, t.dtype, `[${t.shape.join(',')}]`, fmt(t.min), fmt(t.max), fmt(t.mean), fmt(t.std), t.nanCount].join('\t'));
    if (info.metadata) for (const [k, v] of Object.entries(info.metadata)) console.log(`metadata ${k}: ${v.length > 200 ? `${v.slice(0, 200)}...` : v}`);
  });

program.command('compare')
  .description('compare two runs (another seed, backend or setting): the result table side by side, each difference in units of the noise expected between runs')
  .argument('<runA>', 'run folder A (the reference)')
  .argument('<runB>', 'run folder B')
  .option('--json', 'print JSON', false)
  .option('--check', 'exit with status 4 when a difference exceeds 3 sigma', false)
  .addHelpText('after', `
Noise per row: a group mean is judged against sqrt(sA^2/nA + sB^2/nB + q), test@best-val against
sqrt(sA^2 + sB^2 + q), the base model against sqrt(q); s is the group's test std, q the test-set
sampling variance of an accuracy difference: 100^2 r/N, with r the fraction of the N test examples
where paired members of A and B predict differently (from eval/<group>.preds.safetensors), or,
without those files, 2 100^2 p(1-p)/N. |z| <= 2: same, <= 3: close, above: differs.
A run whose evaluate stage has not finished (no summary.json) is compared on the groups it has
finished (eval/<group>.json), without novelty; the output says so.
Example: pdiff run -o runs/cpu && pdiff run --backend webgpu -o runs/gpu && pdiff compare runs/cpu runs/gpu`)
  .action((a: string, b: string, o: { json: boolean; check: boolean }) => {
    const c = compareRuns(loadRunForCompare(a), loadRunForCompare(b));
    console.log(o.json ? JSON.stringify(c) : renderComparison(c));
    if (o.check && !c.equivalent) process.exitCode = 4;
  });

const configCmd = program.command('config').description('show configuration');
withCommon(configCmd.command('print').description('print the resolved config (preset < --config file < --set)'))
  .option('--describe', 'list every key with its type, default and description', false)
  .action((o: CommonOpts & { describe: boolean }) => {
    if (o.describe) {
      const rows = describeConfig();
      if (o.json) console.log(JSON.stringify(rows));
      else for (const r of rows) console.log(`${r.key.padEnd(28)} ${r.type.padEnd(24)} ${JSON.stringify(r.default).padEnd(28)} ${r.description}`);
      return;
    }
    console.log(JSON.stringify(configFrom(o), null, 2));
  });

program.command('backend').description('print which compute backend pdiff would use, and why').action(() => {
  const b = resolveBackend('auto', true);
  console.log(`${b.name}: ${b.description}`);
});

try {
  await program.parseAsync(process.argv);
} catch (e) {
  if (e instanceof PdiffError) {
    process.stderr.write(`pdiff: ${e.message}\n`);
    process.exit(e.exitCode);
  }
  const err = e as Error;
  process.stderr.write(`pdiff: ${err.message}\n${process.env.PDIFF_DEBUG ? `${err.stack}\n` : ''}`);
  process.exit(1);
}
