/**
 * Pipeline benchmark (issue 20): runs a preset (default fmnist-bn) from scratch in a fresh run
 * folder and, unless --no-torch, the same recipe in PyTorch (bench/torch/pipeline.py, which reads
 * the run folder's config.json) in the same invocation, stage by stage: before each pdiff stage
 * runs, PyTorch runs its counterpart (pipeline.py --interleave), so a slow spell of the machine,
 * which on this shared 2-core machine lasts minutes, weighs on both sides of a stage alike. Prints
 * one JSON line: each stage's seconds on both sides and their ratio (pdiff / PyTorch: below 1,
 * pdiff is faster), both totals and their ratio, the peak RSS, the load average, and the mean test
 * accuracy of the originals and the generated models on both sides.
 *
 *   npm run bench -- pipeline [--preset fmnist-bn] [--backend blas] [--out DIR] [--set key=value ...] [--no-torch]
 *
 * PyTorch runs the default recipe only (cnn-s, collect.mode "bn"); for other presets the PyTorch
 * side is skipped with the reason. The report stage (Markdown, HTML, plots) has no PyTorch
 * counterpart: it counts in pdiff's total.
 */
import { spawn } from 'node:child_process';
import { rmSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { resolveBackend } from '../src/backend/index.js';
import { userEnv } from '../src/backend/native.js';
import { resolveConfig } from '../src/config/index.js';
import { runPipeline } from '../src/run/pipeline.js';
import { round, torchAvailable } from './util.js';

const TORCH_PY = process.env.PDIFF_TORCH_PYTHON || '/usr/bin/python3';

type Json = Record<string, unknown>;

/**
 * bench/torch/pipeline.py --interleave as a child: it loads the data, says it is ready, then runs
 * each stage when told and answers with its seconds. Progress goes to our stderr.
 */
class TorchSide {
  private lines: string[] = [];
  private waiting: ((line: string | null) => void) | null = null;
  private closed = false;
  private exit = '';
  private readonly child;

  constructor(configPath: string) {
    const script = fileURLToPath(new URL('./torch/pipeline.py', import.meta.url));
    this.child = spawn(TORCH_PY, [script, '--config', configPath, '--interleave'], { stdio: ['pipe', 'pipe', 'inherit'], env: { ...userEnv(), OMP_NUM_THREADS: '2' } });
    let buf = '';
    this.child.stdout.setEncoding('utf8').on('data', (s: string) => {
      buf += s;
      let i;
      while ((i = buf.indexOf('\n')) >= 0) { this.push(buf.slice(0, i)); buf = buf.slice(i + 1); }
    });
    this.child.on('error', (e) => { this.exit = `did not start: ${e.message}`; this.finish(); });
    this.child.on('close', (code) => { if (!this.exit) this.exit = `exited with status ${code}`; this.finish(); });
  }

  private push(line: string): void {
    if (this.waiting) { const w = this.waiting; this.waiting = null; w(line); } else this.lines.push(line);
  }

  private finish(): void {
    this.closed = true;
    if (this.waiting) { const w = this.waiting; this.waiting = null; w(null); }
  }

  /** The next JSON line it prints; throws with why when it stops first or prints something else. */
  async next(): Promise<Json> {
    const line = this.lines.shift() ?? (this.closed ? null : await new Promise<string | null>((r) => { this.waiting = r; }));
    if (line === null) throw new Error(`bench/torch/pipeline.py ${this.exit} (see stderr)`);
    try {
      return JSON.parse(line) as Json;
    } catch {
      throw new Error(`bench/torch/pipeline.py printed a line that is not JSON: ${line.slice(0, 200)}`);
    }
  }

  /** Run one stage; its seconds. */
  async stage(name: string): Promise<number> {
    this.child.stdin.write(`${name}\n`);
    const r = await this.next();
    if (r.stage !== name) throw new Error(`bench/torch/pipeline.py answered ${JSON.stringify(r)} for stage ${name}`);
    return Number(r.s);
  }

  kill(): void { if (!this.closed) this.child.kill(); }
}

const TORCH_STAGES = new Set(['base', 'collect', 'eval-originals', 'ae', 'diffusion', 'generate', 'evaluate']);

export async function benchPipeline(opts: { preset?: string; backend?: string; out?: string; sets?: string[]; torch?: boolean } = {}): Promise<Json> {
  const preset = opts.preset ?? 'fmnist-bn';
  const out = opts.out ?? `bench/out/pipeline-${preset}`;
  rmSync(out, { recursive: true, force: true });
  const sets = [`out=${JSON.stringify(out)}`, ...(opts.backend ? [`backend=${JSON.stringify(opts.backend)}`] : []), ...(opts.sets ?? [])];
  const cfg = resolveConfig({ preset, sets });
  const recipeOk = cfg.model.arch === 'cnn-s' && cfg.collect.mode === 'bn' && cfg.collect.seeds === 1 && cfg.tasks.condition === 'none';
  let skipped: string | undefined;
  if (opts.torch === false) skipped = 'disabled (--no-torch)';
  else if (!recipeOk) skipped = `bench/torch/pipeline.py runs the default recipe only (cnn-s, collect.mode "bn"); ${preset} is not it`;
  else if (!torchAvailable()) skipped = `${TORCH_PY} cannot import torch (apt-get install python3-torch)`;

  let torch: TorchSide | undefined;
  const torchStages: Record<string, number> = {};
  let inTorch = 0; // seconds spent waiting for PyTorch, taken out of pdiff's wall time
  const loads: number[] = [];
  const beforeStage = skipped ? undefined : async (stage: string): Promise<void> => {
    if (!TORCH_STAGES.has(stage)) return;
    const t = performance.now();
    loads.push(loadavg()[0]!);
    if (!torch) {
      process.stderr.write('[bench pipeline] the same recipe in PyTorch, stage by stage before pdiff\'s: bench/torch/pipeline.py --interleave\n');
      torch = new TorchSide(join(out, 'config.json'));
      const ready = await torch.next();
      if (ready.ready !== true) throw new Error(`bench/torch/pipeline.py began with ${JSON.stringify(ready)}, not its ready line`);
    }
    torchStages[stage] = await torch.stage(stage);
    inTorch += (performance.now() - t) / 1000;
  };

  const loadBefore = loadavg()[0]!;
  const t0 = performance.now();
  let res;
  try {
    res = await runPipeline(cfg, { quiet: false, beforeStage });
  } catch (e) {
    torch?.kill();
    throw e;
  }
  const total = (performance.now() - t0) / 1000 - inTorch;
  const stages: Record<string, number> = {};
  for (const s of res.stages) stages[s.name] = round(s.seconds, 2);
  const gen = res.report?.groups.find((g) => g.name === 'generated');
  const orig = res.report?.groups.find((g) => g.name === 'original');
  const result: Json = {
    bench: 'pipeline', preset, backend: cfg.backend, device: resolveBackend(cfg.backend, true).description,
    ...Object.fromEntries(Object.entries(stages).map(([k, v]) => [`${k}_s`, v])), total_s: round(total, 1),
    peak_rss_mb: Math.round(process.resourceUsage().maxRSS / 1024), loadavg_1m_before: round(loadBefore, 2),
    original_test_mean: orig?.test.mean ?? null, generated_test_mean: gen?.test.mean ?? null, report: res.reportPath ?? null,
  };
  if (skipped) result.torch_skipped = skipped;
  else if (torch) {
    const t = await torch.next(); // its closing record
    const per: Record<string, { pdiff_s: number; torch_s: number; ratio: number }> = {};
    for (const [name, s] of Object.entries(torchStages)) {
      if (stages[name] !== undefined && s > 0) per[name] = { pdiff_s: stages[name]!, torch_s: s, ratio: round(stages[name]! / s, 2) };
    }
    const torchTotal = Number(t.total_s);
    Object.assign(result, {
      interleaved: true, torch_total_s: torchTotal, ratio_total: round(total / torchTotal, 3), stages_vs_torch: per,
      slowest_stage_ratio: Math.max(...Object.values(per).map((p) => p.ratio)),
      torch_version: t.torch_version, torch_threads: t.torch_threads, torch_data_s: round(Number(t.data_s), 2),
      loadavg_1m_before_stages: loads.map((l) => round(l, 2)),
      torch_original_test_mean: t.original_test_mean, torch_generated_test_mean: t.generated_test_mean,
    });
  }
  return result;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const i = process.argv.indexOf('--preset');
  console.log(JSON.stringify(await benchPipeline({ preset: i > 0 ? process.argv[i + 1] : undefined, torch: !process.argv.includes('--no-torch') })));
}
