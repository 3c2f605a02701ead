/**
 * Pipeline benchmark: runs a preset (default fmnist-bn) from scratch in a fresh run folder and
 * prints each stage's seconds and the peak RSS as one JSON line.
 */
import { rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { resolveBackend } from '../src/backend/index.js';
import { resolveConfig } from '../src/config/index.js';
import { runPipeline } from '../src/run/pipeline.js';

export async function benchPipeline(opts: { preset?: string; backend?: string; out?: string; sets?: string[] } = {}): Promise<Record<string, unknown>> {
  const preset = opts.preset ?? 'fmnist-bn';
  const out = opts.out ?? `bench/out/pipeline-${preset}`;
  rmSync(out, { recursive: true, force: true });
  const sets = [`out=${JSON.stringify(out)}`, ...(opts.backend ? [`backend=${JSON.stringify(opts.backend)}`] : []), ...(opts.sets ?? [])];
  const cfg = resolveConfig({ preset, sets });
  const t0 = performance.now();
  const res = await runPipeline(cfg, { quiet: false });
  const total = (performance.now() - t0) / 1000;
  const stages: Record<string, number> = {};
  for (const s of res.stages) stages[`${s.name}_s`] = Number(s.seconds.toFixed(2));
  const gen = res.report?.groups.find((g) => g.name === 'generated');
  const orig = res.report?.groups.find((g) => g.name === 'original');
  return {
    bench: 'pipeline', preset, backend: cfg.backend, device: resolveBackend(cfg.backend, true).description, ...stages, total_s: Number(total.toFixed(1)),
    peak_rss_mb: Math.round(process.resourceUsage().maxRSS / 1024),
    original_test_mean: orig?.test.mean ?? null, generated_test_mean: gen?.test.mean ?? null, report: res.reportPath ?? null,
  };
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const i = process.argv.indexOf('--preset');
  console.log(JSON.stringify(await benchPipeline({ preset: i > 0 ? process.argv[i + 1] : undefined })));
}
