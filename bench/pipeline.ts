/**
 * Pipeline benchmark (issue 20): runs a preset (default fmnist-bn) from scratch in a fresh run
 * folder, then, unless --no-torch, the same recipe in PyTorch (bench/torch/pipeline.py, which reads
 * the run folder's config.json) right after it in the same invocation, and prints one JSON line:
 * each stage's seconds on both sides and their ratio (pdiff / PyTorch: below 1, pdiff is faster),
 * both totals and their ratio, the peak RSS, the load average before each side, and the mean test
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
import { resolveConfig } from '../src/config/index.js';
import { runPipeline } from '../src/run/pipeline.js';
import { round, torchAvailable } from './util.js';

const TORCH_PY = process.env.PDIFF_TORCH_PYTHON || '/usr/bin/python3';

/** Run bench/torch/pipeline.py on a run folder's config, its progress on our stderr; its JSON line, or why not. */
function torchPipeline(configPath: string): Promise<Record<string, unknown> | string> {
  const script = fileURLToPath(new URL('./torch/pipeline.py', import.meta.url));
  return new Promise((resolve) => {
    const child = spawn(TORCH_PY, [script, '--config', configPath], { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, OMP_NUM_THREADS: '2' } });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (s: string) => { out += s; });
    child.on('error', (e) => resolve(`bench/torch/pipeline.py did not start: ${e.message}`));
    child.on('close', (code) => {
      if (code !== 0) { resolve(`bench/torch/pipeline.py exited with status ${code} (see stderr)`); return; }
      try {
        resolve(JSON.parse(out.trim().split('\n').at(-1)!) as Record<string, unknown>);
      } catch {
        resolve('bench/torch/pipeline.py printed no JSON line');
      }
    });
  });
}

export async function benchPipeline(opts: { preset?: string; backend?: string; out?: string; sets?: string[]; torch?: boolean } = {}): Promise<Record<string, unknown>> {
  const preset = opts.preset ?? 'fmnist-bn';
  const out = opts.out ?? `bench/out/pipeline-${preset}`;
  rmSync(out, { recursive: true, force: true });
  const sets = [`out=${JSON.stringify(out)}`, ...(opts.backend ? [`backend=${JSON.stringify(opts.backend)}`] : []), ...(opts.sets ?? [])];
  const cfg = resolveConfig({ preset, sets });
  const loadBefore = loadavg()[0]!;
  const t0 = performance.now();
  const res = await runPipeline(cfg, { quiet: false });
  const total = (performance.now() - t0) / 1000;
  const stages: Record<string, number> = {};
  for (const s of res.stages) stages[s.name] = round(s.seconds, 2);
  const gen = res.report?.groups.find((g) => g.name === 'generated');
  const orig = res.report?.groups.find((g) => g.name === 'original');
  const result: Record<string, unknown> = {
    bench: 'pipeline', preset, backend: cfg.backend, device: resolveBackend(cfg.backend, true).description,
    ...Object.fromEntries(Object.entries(stages).map(([k, v]) => [`${k}_s`, v])), total_s: round(total, 1),
    peak_rss_mb: Math.round(process.resourceUsage().maxRSS / 1024), loadavg_1m_before: round(loadBefore, 2),
    original_test_mean: orig?.test.mean ?? null, generated_test_mean: gen?.test.mean ?? null, report: res.reportPath ?? null,
  };
  const recipeOk = cfg.model.arch === 'cnn-s' && cfg.collect.mode === 'bn' && cfg.collect.seeds === 1 && cfg.tasks.condition === 'none';
  if (opts.torch === false) result.torch_skipped = 'disabled (--no-torch)';
  else if (!recipeOk) result.torch_skipped = `bench/torch/pipeline.py runs the default recipe only (cnn-s, collect.mode "bn"); ${preset} is not it`;
  else if (!torchAvailable()) result.torch_skipped = `${TORCH_PY} cannot import torch (apt-get install python3-torch)`;
  else {
    const loadTorch = loadavg()[0]!;
    process.stderr.write('[bench pipeline] the same recipe in PyTorch: bench/torch/pipeline.py\n');
    const t = await torchPipeline(join(out, 'config.json'));
    if (typeof t === 'string') result.torch_skipped = t;
    else {
      const ts = t.stages as Record<string, number>;
      const per: Record<string, { pdiff_s: number; torch_s: number; ratio: number }> = {};
      for (const [name, s] of Object.entries(ts)) {
        if (stages[name] !== undefined && s > 0) per[name] = { pdiff_s: stages[name]!, torch_s: s, ratio: round(stages[name]! / s, 2) };
      }
      const torchTotal = Number(t.total_s);
      Object.assign(result, {
        torch_total_s: torchTotal, ratio_total: round(total / torchTotal, 3), stages_vs_torch: per,
        slowest_stage_ratio: Math.max(...Object.values(per).map((p) => p.ratio)),
        torch_version: t.torch_version, torch_threads: t.torch_threads, loadavg_1m_before_torch: round(loadTorch, 2),
        torch_original_test_mean: t.original_test_mean, torch_generated_test_mean: t.generated_test_mean,
      });
    }
  }
  return result;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const i = process.argv.indexOf('--preset');
  console.log(JSON.stringify(await benchPipeline({ preset: i > 0 ? process.argv[i + 1] : undefined, torch: !process.argv.includes('--no-torch') })));
}
