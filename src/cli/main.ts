/**
 * The `pdiff` command: parse arguments, call the library, print. All work happens in the library
 * (src/run/pipeline.ts and friends); this file only maps errors to exit codes.
 */
import { Command, Option } from 'commander';
import { readFileSync } from 'node:fs';
import { resolveBackend, type BackendName } from '../backend/index.js';
import { DEFAULT_PRESET, PRESETS, describeConfig, parseSet, resolveConfig, type Config } from '../config/index.js';
import { compareRuns, loadRunForCompare, renderComparison } from '../report/compare.js';
import { compareArchs, renderArchComparison } from '../report/compare-archs.js';
import { EXPORT_FORMATS, ExportError, exportMember, formatOfName, parseMember, type ExportFormat, type ExportResult } from '../export/index.js';
import { writeFileAtomic } from '../util/atomic.js';
import { headlineLines } from '../report/headline.js';
import { summaryTable } from '../report/render.js';
import { accuracyMethodRow } from '../report/accuracy.js';
import { taskSummaryRows } from '../report/tasks.js';
import { runFolderState } from '../run/folder.js';
import { STAGES, runPipeline, type StageName } from '../run/pipeline.js';
import { setQuiet } from '../util/progress.js';
import { datasetInfo } from '../data/info.js';
import { parseTargetAccuracy } from '../accuracy/prompts.js';
import { defaultTaskFile, generateForTask } from '../run/generate-task.js';
import { defaultAccuracyFile, generateForAccuracy } from '../run/generate-accuracy.js';
import { parseTaskCode } from '../tasks/codes.js';
import { inspectSafetensors } from '../zoo/safetensors.js';
import { ConfigError, PdiffError } from '../util/errors.js';
import { runSeedJob } from '../run/seed-job.js';
import { runTaskChunkJob } from '../run/task-job.js';
import { redactSecrets } from '../queue/url.js';

const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };

interface CommonOpts { preset?: string; config?: string; set: string[]; out?: string; seed?: string; backend?: string; json?: boolean; quiet?: boolean; reconfigure?: boolean; queue?: string }

const collectSet = (v: string, prev: string[]): string[] => [...prev, v];

function withCommon(cmd: Command): Command {
  return cmd
    .option('--preset <name>', `preset to start a new run from (${Object.keys(PRESETS).join(', ')}; default ${DEFAULT_PRESET})`)
    .option('-c, --config <file>', 'JSON config file merged over the preset')
    .option('-s, --set <key=value>', 'override one config key, e.g. --set ae.steps=500 (repeatable)', collectSet, [])
    .option('-o, --out <dir>', 'run folder (default: the config\'s "out", e.g. runs/fmnist-bn)')
    .option('--seed <n>', 'random seed (default: the config\'s "seed", 0)')
    .addOption(new Option('--backend <name>', 'compute backend (default: auto = blas when the OpenBLAS addon loads, else js)').choices(['auto', 'js', 'blas', 'webgpu']))
    .option('--json', 'print machine-readable JSON on stdout instead of text', false)
    .option('-q, --quiet', 'no progress bars or log lines on stderr', false)
    .option('--reconfigure', 'allow a config that differs from the run folder\'s own (the stages it affects are redone)', false)
    .addHelpText('after', RUN_FOLDER_HELP);
}

const RUN_FOLDER_HELP = `
A run folder is the record of one run. On a folder that holds a run, a command without --preset,
--config, --set or --seed continues it with its own config.json (--backend may change). Any
setting that differs from the folder's is refused, naming the keys, unless --reconfigure is given;
then the stages that depend on those keys are redone. --set without --preset changes keys of the
folder's config. Only one process works in a folder at a time (run.lock). Commands other than
run and collect start a new run only when a --preset, --config, --set or --seed says how.`;

/** The run folder a command means: --out, else an `out` named by --set or the config file, else the preset's. */
function folderOf(o: CommonOpts): string {
  if (o.out) return o.out;
  for (const text of [...o.set].reverse()) {
    const { key, value } = parseSet(text);
    if (key === 'out') return String(value);
  }
  if (o.config) {
    try {
      const f = JSON.parse(readFileSync(o.config, 'utf8')) as { out?: unknown };
      if (typeof f.out === 'string') return f.out;
    } catch { /* resolveConfig reports the file's problem */ }
  }
  return resolveConfig({ preset: o.preset }).out;
}

/**
 * The config of a command. On a folder that holds a run: the folder's config when no setting is
 * given, the folder's config with --config/--set over it when no preset is named, else the named
 * preset (runPipeline refuses a difference without --reconfigure). On a new folder: the preset,
 * file and sets; commands that do not start a run (`starts` false) then need one of them.
 */
function configFrom(o: CommonOpts, starts = true): Config {
  const sets = [...o.set];
  if (o.seed !== undefined) sets.push(`seed=${o.seed}`);
  const explicit = o.preset !== undefined || o.config !== undefined || sets.length > 0;
  const dir = folderOf(o);
  const local = [`out=${JSON.stringify(dir)}`, ...(o.backend ? [`backend=${JSON.stringify(o.backend)}`] : []), ...(o.queue ? [`collect.queue=${JSON.stringify(o.queue)}`] : [])];
  const state = runFolderState(dir);
  if (state.kind === 'run' && o.preset === undefined) {
    return resolveConfig({ base: { name: `run folder ${dir}`, config: state.config }, file: o.config, sets: [...sets, ...local] });
  }
  if (state.kind !== 'run' && !explicit && !starts) {
    throw new ConfigError(`config: ${dir} holds no pdiff run yet; start one with "pdiff run --out ${dir}", or name a --preset or --config for this command to start it`);
  }
  return resolveConfig({ preset: o.preset, file: o.config, sets: [...sets, ...local] });
}

async function runUntil(stage: StageName, o: CommonOpts, extraSets: string[] = [], starts = false): Promise<void> {
  o.set = [...o.set, ...extraSets];
  const cfg = configFrom(o, starts);
  setQuiet(!!o.quiet);
  // Under bin/supervise.js (the `pdiff` command): tell the parent which folder Ctrl-C would interrupt.
  if (process.env.PDIFF_SUPERVISED && process.send) {
    process.send({ runDir: cfg.out });
    process.channel?.unref();
  }
  // the command is recorded in the run folder: a queue URL's password is left out
  const command = ['pdiff', ...process.argv.slice(2).map(redactSecrets)].map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`)).join(' ');
  const res = await runPipeline(cfg, { until: stage, quiet: !!o.quiet, reconfigure: !!o.reconfigure, command });
  if (o.json) {
    console.log(JSON.stringify({
      runDir: res.runDir, stages: res.stages, report: res.reportPath ?? null, reportHtml: res.reportHtmlPath ?? null,
      summary: res.report ? summaryTable(res.report) : null,
      ...(res.report?.tasks ? { tasks: taskSummaryRows(res.report.tasks) } : {}),
      ...(res.report?.accuracy ? { accuracy: res.report.accuracy.methods.map((m) => accuracyMethodRow(res.report!.accuracy!, m)) } : {}),
    }));
  } else {
    for (const s of res.stages) console.log(`${s.name.padEnd(16)} ${s.skipped ? 'up to date' : `${s.seconds.toFixed(1)} s`}`);
    if (res.report && res.reportPath) {
      console.log('');
      for (const l of headlineLines(res.report, { md: res.reportPath, html: res.reportHtmlPath })) console.log(l);
    } else console.log(res.runDir);
  }
}

/** The text `pdiff export` prints. */
function exportLines(r: ExportResult): string[] {
  const size = r.bytes >= 1e6 ? `${(r.bytes / 1e6).toFixed(1)} MB` : `${(r.bytes / 1e3).toFixed(1)} kB`;
  const lines = [`wrote ${r.out} (${r.format === 'onnx' ? 'ONNX opset 17' : 'safetensors state_dict'}, ${size}): ${r.arch}, ${r.member.description}`];
  if (r.input && r.output) {
    const norm = r.input.mean.map((m, i) => `(pixel/255 - ${m}) / ${r.input!.std[i]}`).join(', ');
    lines.push(`input  "${r.input.name}" [${r.input.shape.join(', ')}] float32, normalised per channel: ${norm}`);
    lines.push(`output "${r.output.name}" [${r.output.shape.join(', ')}] float32 logits`);
  }
  if (r.check.ran) lines.push(`checked in ${r.check.runtime}: largest logit difference from pdiff ${r.check.maxAbsDiff.toExponential(1)} on ${r.check.batch} inputs`);
  else if (r.format === 'onnx') lines.push(`not checked in ONNX Runtime: ${r.check.reason}`);
  return lines;
}

const GENERATE_PROMPT_HELP = `
With --task, generate reads a finished task run (tasks.condition "task", e.g. --preset
fmnist-tasks, through the diffusion stage) and samples --num parameter sets of the generated part
for one code, seen or held out, with the run's sampler and guidance (docs/tasks.md#cli). The file
is a checkpoint stack: the task model's tensor names (cnn-s: bn3.weight, bn3.bias, fc.weight,
fc.bias), each [n, ...shape]. It runs no stage and changes nothing else in the run folder. A code
of the wrong length, with characters other than 0 and 1, or of all zeros or all ones, --task on a
run that is not task-conditioned, or --target-acc outside [0, 100] or on a run that is not
accuracy-conditioned exits with status 2 naming the flag, and writes nothing.
Example: pdiff generate --out runs/fmnist-tasks --task 0110010011 --num 5 --save head.safetensors`;

interface PromptOpts extends CommonOpts { num?: string; task?: string; save?: string; targetAcc?: string }

/** `pdiff generate --task CODE` / `--target-acc PCT`: every flag is checked before the run folder is read. */
function generatePrompt(o: PromptOpts): void {
  const acc = o.targetAcc !== undefined ? parseTargetAccuracy(o.targetAcc, '--target-acc') : undefined;
  const flag = o.task !== undefined ? '--task' : o.targetAcc !== undefined ? '--target-acc' : '--save';
  if (o.task !== undefined && acc !== undefined) throw new ConfigError('--target-acc: give --task or --target-acc, not both (a run is conditioned on one of them)');
  if (o.task === undefined && acc === undefined && o.save !== undefined) throw new ConfigError('--save: only with --task or --target-acc (without them, generate writes generated-<mode>.safetensors in the run folder)');
  const code = o.task !== undefined ? parseTaskCode(o.task, '--task') : undefined;
  let n = 1;
  if (o.num !== undefined) {
    n = Number(o.num);
    if (!/^\d+$/.test(o.num.trim()) || !(n >= 1)) throw new ConfigError(`--num: expected a positive integer number of parameter sets, got ${JSON.stringify(o.num)}`);
  }
  const changes = [...(o.config ? ['--config'] : []), ...(o.set.length > 0 ? ['--set'] : []), ...(o.seed !== undefined ? ['--seed'] : []), ...(o.reconfigure ? ['--reconfigure'] : [])];
  if (changes.length > 0) throw new ConfigError(`${flag}: ${changes.join(', ')} cannot be used with ${flag}: it samples from the run folder's own config and trained generator`);
  const dir = folderOf(o);
  if (acc !== undefined) {
    setQuiet(!!o.quiet);
    const r = generateForAccuracy({ runDir: dir, target: acc, n, out: o.save ?? defaultAccuracyFile(dir, acc), ...(o.backend ? { backend: resolveBackend(o.backend as BackendName, true) } : {}) });
    const inRange = acc >= r.scale.lo && acc <= r.scale.hi ? 'inside' : acc > r.scale.hi ? 'above' : 'below';
    if (o.json) {
      console.log(JSON.stringify({ out: r.out, targetAcc: r.target, n: r.n, zooRange: r.scale, tensors: r.layout.names.map((name, i) => ({ name, shape: [r.n, ...r.layout.shapes[i]!] })) }));
      return;
    }
    console.log(`wrote ${r.out}: ${r.n} parameter set${r.n === 1 ? '' : 's'} for a target val accuracy of ${r.target} % (${inRange} the zoo's range ${r.scale.lo.toFixed(2)}..${r.scale.hi.toFixed(2)} %) from run ${r.runDir}`);
    console.log(`tensors: ${r.layout.names.map((name, i) => `${name} [${[r.n, ...r.layout.shapes[i]!].join(', ')}]`).join(', ')}`);
    return;
  }
  setQuiet(!!o.quiet);
  const r = generateForTask({ runDir: dir, code: code!, n, out: o.save ?? defaultTaskFile(dir, code!), ...(o.backend ? { backend: resolveBackend(o.backend as BackendName, true) } : {}) });
  const classes = datasetInfo(r.config.data.dataset).classNames.filter((_, i) => r.code[i] === '1');
  if (o.json) {
    console.log(JSON.stringify({ out: r.out, code: r.code, n: r.n, positive: classes, tensors: r.layout.names.map((name, i) => ({ name, shape: [r.n, ...r.layout.shapes[i]!] })) }));
    return;
  }
  console.log(`wrote ${r.out}: ${r.n} parameter set${r.n === 1 ? '' : 's'} for task ${r.code} (positive: ${classes.join(', ')}) from run ${r.runDir}`);
  console.log(`tensors: ${r.layout.names.map((name, i) => `${name} [${[r.n, ...r.layout.shapes[i]!].join(', ')}]`).join(', ')}`);
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

const QUEUE_OPTION = '--queue <url>';
const QUEUE_HELP = 'collect the zoo through this Redis job queue (redis://HOST:PORT/DB; config collect.queue): one job per seed of a multi-seed zoo, or per chunk of a task zoo (tasks.chunkSize tasks), run by `pdiff worker` processes that share the run folder (docs/queue.md)';
withCommon(program.command('run').description('run the whole pipeline (skips stages that are up to date, resumes an interrupted one) and write the report'))
  .option(QUEUE_OPTION, QUEUE_HELP)
  .action((o: CommonOpts) => runUntil('report', o, [], true));
withCommon(program.command('collect').description('train the base model and collect the checkpoint zoo (ckpts-<mode>.safetensors)'))
  .option(QUEUE_OPTION, QUEUE_HELP)
  .action((o: CommonOpts) => runUntil('eval-originals', o, [], true));

program.command('worker')
  .description('take collection jobs (one seed of a multi-seed zoo, or one chunk of a task zoo, each) from a Redis job queue and run them, until Ctrl-C')
  .requiredOption('--queue <url>', 'the queue: redis://[:PASSWORD@]HOST:PORT/DB (the password may instead be in PDIFF_REDIS_PASSWORD)')
  .option('--concurrency <n>', 'jobs this process runs at once, each in a child process', '1')
  .addHelpText('after', `
Start any number of workers, on any machines that reach the Redis server and see the run folders
at the same paths as the coordinator (\`pdiff run --queue URL\` or \`pdiff collect --queue URL\`).
A job whose worker dies is put back in the queue when its lock runs out (30 s; PDIFF_QUEUE_LOCK_MS).
A wrong password or an unreachable server exits with status 5 and one line naming the URL.
Example: pdiff queue up && pdiff worker --queue redis://127.0.0.1:6379/0   (docs/queue.md)`)
  .action(async (o: { queue: string; concurrency: string }) => {
    const n = Number(o.concurrency);
    if (!(Number.isInteger(n) && n >= 1)) throw new ConfigError(`--concurrency: expected a positive integer, got "${o.concurrency}"`);
    const { runWorker } = await import('../queue/worker.js'); // BullMQ is loaded only by the commands that use it
    await runWorker({ url: o.queue, concurrency: n });
  });

program.command('queue-job', { hidden: true })
  .description('run one queue job (what `pdiff worker` starts for each job)')
  .requiredOption('--run <dir>', 'run folder')
  .requiredOption('--kind <kind>', 'seed or tasks')
  .requiredOption('--index <i>', 'the seed, or the task chunk')
  .requiredOption('--key <key>', 'the key the job was queued under')
  .action((o: { run: string; kind: string; index: string; key: string }) => {
    const index = Number(o.index);
    if (o.kind === 'seed') console.log(JSON.stringify(runSeedJob({ dir: o.run, seed: index, key: o.key })));
    else if (o.kind === 'tasks') console.log(JSON.stringify(runTaskChunkJob({ dir: o.run, index, key: o.key })));
    else throw new ConfigError(`--kind: expected seed or tasks, got "${o.kind}"`);
  });

const queueCmd = program.command('queue').description('a local Redis server for the job queue');
queueCmd.command('up')
  .description('start redis-server on 127.0.0.1 with the append-only file on (jobs survive a restart), in the background')
  .option('--port <n>', 'port', '6379')
  .option('--dir <dir>', 'folder for its data, log and pid file', '.pdiff-redis')
  .action(async (o: { port: string; dir: string }) => {
    const port = Number(o.port);
    if (!(Number.isInteger(port) && port >= 1 && port <= 65535)) throw new ConfigError(`--port: expected an integer in [1, 65535], got "${o.port}"`);
    const { queueUp } = await import('../queue/local.js');
    const r = await queueUp({ port, dir: o.dir });
    console.log(`redis-server ${r.pid !== null ? `(pid ${r.pid}) ` : ''}answers on ${r.url}; data and log in ${r.dir}`);
    console.log(`next: pdiff worker --queue ${r.url}   and   pdiff run --queue ${r.url} ...   (stop it: pdiff queue down --queue ${r.url})`);
  });
queueCmd.command('down')
  .description('stop the Redis server of a queue (it saves its append-only file first)')
  .requiredOption('--queue <url>', 'the queue, redis://HOST:PORT/DB')
  .action(async (o: { queue: string }) => { const { queueDown } = await import('../queue/local.js'); await queueDown(o.queue); });
withCommon(program.command('train-ae').description('train the parameter autoencoder on the collected checkpoints (runs earlier stages if needed)'))
  .action((o: CommonOpts) => runUntil('ae', o));
withCommon(program.command('train-diffusion').description('train the latent diffusion model (runs earlier stages if needed)'))
  .action((o: CommonOpts) => runUntil('diffusion', o));
withCommon(program.command('generate').description('sample new parameter sets (generated-<mode>.safetensors); with --task, the generated part for one task code of a task run'))
  .option('-n, --num <n>', 'number of parameter sets to generate (default: generate.n, 200; with --task: 1)')
  .option('--task <code>', 'task run only (tasks.condition "task"): generate for this 10-bit class code, character i = class i, e.g. 0110010011')
  .option('--save <file>', 'with --task or --target-acc: the safetensors file to write (default: <run folder>/generated-task-<code>.safetensors or generated-acc-<percent>.safetensors)')
  .option('--target-acc <percent>', 'accuracy-conditioned run only: generate for this target accuracy, in percent in [0, 100]')
  .addHelpText('after', GENERATE_PROMPT_HELP)
  .action((o: PromptOpts) => (o.task !== undefined || o.targetAcc !== undefined || o.save !== undefined ? generatePrompt(o) : runUntil('generate', o, o.num ? [`generate.n=${o.num}`] : [])));
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
Two task runs (tasks.condition "task") add their results per set of codes and method, B-A paired
over the codes both evaluated, judged against the standard error of those differences; two
accuracy runs add each method's MAE and Spearman inside the zoo's range, not judged. A conditional
run compares only with a run of its own kind.
Example: pdiff run -o runs/cpu && pdiff run --backend webgpu -o runs/gpu && pdiff compare runs/cpu runs/gpu`)
  .action((a: string, b: string, o: { json: boolean; check: boolean }) => {
    const c = compareRuns(loadRunForCompare(a), loadRunForCompare(b));
    console.log(o.json ? JSON.stringify(c) : renderComparison(c));
    if (o.check && !c.equivalent) process.exitCode = 4;
  });

program.command('compare-archs')
  .description('runs of different architectures side by side: parameters, accuracy of originals / generated / avg16, top-5, macro-F1, cost and times')
  .argument('<runDirs...>', 'run folders whose evaluate stage has finished (summary.json, config.json)')
  .option('--json', 'print JSON', false)
  .option('--out <file>', 'also write the markdown table to this file (atomically)')
  .addHelpText('after', `
One column per run, in the order given. Read from each folder: summary.json and config.json (both
required), manifest.json (subset size), base.json and stages/*.json (times). '-' marks what a run
did not measure: latency needs eval.latency; top-5 needs at least 5 classes.
Times: generation per model = sampling + decoding / generate.n; collection per checkpoint =
collection time / (collect.k x seeds); base training per epoch = training time / base.epochs.
Example: pdiff compare-archs runs/cnn-s runs/resnet20 --out archs.md`)
  .action((dirs: string[], o: { json: boolean; out?: string }) => {
    const c = compareArchs(dirs);
    const md = renderArchComparison(c);
    if (o.out) writeFileAtomic(o.out, md);
    process.stdout.write(o.json ? `${JSON.stringify(c)}\n` : md);
  });

program.command('export')
  .description('write one model of a run as a standalone file: ONNX (opset 17, checked in ONNX Runtime) or a PyTorch-named safetensors state_dict')
  .argument('<runDir>', 'run folder with generated models (generated-<mode>.safetensors)')
  .option('-m, --member <which>', 'best (the generated model best on val; needs the evaluate stage), an INDEX of a generated model (0-based), or ensemble (the mean of the collected checkpoints, the report\'s "ensemble")', 'best')
  .addOption(new Option('-f, --format <format>', 'file format (default: from the --out extension, .onnx or .safetensors)').choices([...EXPORT_FORMATS]))
  .requiredOption('-o, --out <file>', 'the file to write, in an existing folder (written atomically)')
  .option('--no-check', 'do not run the ONNX model in ONNX Runtime against pdiff\'s forward before writing it')
  .option('--json', 'print JSON', false)
  .addHelpText('after', `
The model is the run's architecture with the base model's parameters and the member's parameter
set written over the ones the run generates (the collected subset, e.g. the BN layers).
ONNX: input "input" [batch, C, H, W] float32, normalised as in training, (pixel/255 - mean[c]) /
std[c], with mean and std in the model's metadata (pdiff_input_mean, pdiff_input_std); output
"logits" [batch, classes]; batch is dynamic. When onnxruntime-node is installed the graph is run
on 4 inputs and must give pdiff's logits to 1e-4 before the file is written.
safetensors: the full state_dict (parameters and BN statistics) with PyTorch/torchvision names,
for load_state_dict(strict=True) (num_batches_tracked aside) or pdiff's loadStateDict.
Bad arguments exit with status 2, naming the argument; no partial file is ever left.
Example: pdiff export runs/fmnist-bn --member best -o best.onnx   (docs/export.md)`)
  .action(async (runDir: string, o: { member: string; format?: ExportFormat; out: string; check: boolean; json: boolean }) => {
    const format = o.format ?? formatOfName(o.out);
    if (!format) throw new ExportError('format', `missing, and the --out name "${o.out}" does not end in .onnx or .safetensors: give --format onnx or --format safetensors`);
    const r = await exportMember({ runDir, member: parseMember(o.member), format, out: o.out, check: o.check });
    if (o.json) { console.log(JSON.stringify(r)); return; }
    for (const l of exportLines(r)) console.log(l);
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
    console.log(JSON.stringify(configFrom(o, true), null, 2));
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
