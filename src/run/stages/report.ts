/**
 * The report stage: gathers what earlier stages wrote (summary.json, loss curves, stage times)
 * plus a 2-D projection of the parameter sets and what is needed to reproduce the run (version,
 * commit, backend, command line, config hash), and renders report.md / report.html / plots.
 */
import { existsSync, readFileSync } from 'node:fs';
import { relative } from 'node:path';
import { pca2, tsne2 } from '../../eval/projection.js';
import { gatherProvenance } from '../../report/provenance.js';
import { readJsonl } from '../../util/jsonl.js';
import { writeReport } from '../../report/render.js';
import type { LossPoint, ProjectionReport, ReportData, StageTime } from '../../report/types.js';
import { Rng, deriveSeed } from '../../tensor/random.js';
import { loadCheckpointStack } from '../../zoo/checkpoint.js';
import { loadNormalizer } from '../artifacts.js';
import { ARTIFACTS, STAGES, type RunContext, type StageFn } from '../context.js';
import { evalGroup, groupNames } from '../groups.js';
import type { EvalSummary } from './evaluate.js';

function readJson<T>(path: string): T | null {
  return existsSync(path) ? (JSON.parse(readFileSync(path, 'utf8')) as T) : null;
}

/** The distinct commands logged in metrics.jsonl before `current` (at most the last 10), oldest first. */
function earlierCommands(metricsPath: string, current: string): string[] {
  if (!existsSync(metricsPath)) return [];
  const seen: string[] = [];
  for (const r of readJsonl<{ event?: string; command?: string }>(metricsPath)) {
    if (r.event !== 'invocation' || typeof r.command !== 'string') continue;
    const i = seen.indexOf(r.command);
    if (i >= 0) seen.splice(i, 1);
    seen.push(r.command);
  }
  return seen.filter((c) => c !== current).slice(-10);
}

/** A 2-D projection of the normalised parameter sets of the original and file-backed groups (at most 200 each). */
function projectGroups(ctx: RunContext): ProjectionReport | undefined {
  const { store, cfg } = ctx;
  const norm = loadNormalizer(store);
  const points: Float32Array[] = [];
  const labels: string[] = [];
  const addGroup = (name: string, sets: Float32Array, n: number, max = 200): void => {
    const z = norm.forward(sets);
    const L = norm.L;
    for (let i = 0; i < Math.min(n, max); i++) { points.push(z.subarray(i * L, (i + 1) * L)); labels.push(name); }
  };
  addGroup('original', ctx.ckpts(), ctx.K);
  for (const name of groupNames(ctx)) {
    const file = name === 'original' ? undefined : evalGroup(name).file?.(ctx.mode);
    if (file && existsSync(store.path(file))) { const r = loadCheckpointStack(store.path(file)); addGroup(name, r.ckpts, r.k); }
  }
  let projection: ProjectionReport | undefined;
  if (points.length >= 3) {
    if (cfg.eval.tsne) {
      const t = tsne2(points, { perplexity: Math.min(30, Math.floor((points.length - 1) / 3)), iterations: 500, rng: new Rng(deriveSeed(cfg.seed, 'tsne')) });
      projection = { method: 'tsne', points: t.coords.map(([x, y], i) => ({ x, y, group: labels[i]! })) };
    } else {
      const p = pca2(points);
      projection = { method: 'pca', explained: p.explained, points: p.coords.map(([x, y], i) => ({ x, y, group: labels[i]! })) };
    }
  }
  return projection;
}

export async function buildReport(ctx: RunContext): Promise<{ files: string[]; data: ReportData; mdPath: string }> {
  const { store, cfg } = ctx;
  const summary = readJson<EvalSummary>(store.path(ARTIFACTS.summary));
  if (!summary) throw new Error(`report: ${store.path(ARTIFACTS.summary)} is missing; run the evaluate stage first`);
  const curves: ReportData['curves'] = {};
  const ae = readJson<{ lossCurve: LossPoint[] }>(store.path(ARTIFACTS.aeJson));
  const diff = readJson<{ lossCurve: LossPoint[] }>(store.path(ARTIFACTS.diffusionJson));
  if (ae) curves.ae = ae.lossCurve;
  if (diff) curves.diffusion = diff.lossCurve;
  const stages: StageTime[] = [];
  for (const s of STAGES) {
    const m = store.marker(s);
    if (m && s !== 'report') stages.push({ name: s, seconds: m.seconds });
  }

  // Projection of normalised parameter vectors (the space the autoencoder sees); a task run's
  // zoo spans hundreds of tasks, and its report is the per-code table instead (docs/tasks.md#report);
  // an accuracy run's report is its per-prompt table (docs/accuracy.md#report).
  const projection = ctx.tasks || ctx.accuracy ? undefined : projectGroups(ctx);

  const data: ReportData = {
    title: `pdiff run: ${cfg.data.dataset}, ${cfg.model.arch}, ${ctx.mode} mode`,
    runDir: store.dir,
    config: cfg as unknown as Record<string, unknown>,
    createdAt: new Date().toISOString(),
    base: summary.base,
    groups: summary.groups,
    ...(summary.top5Omitted !== undefined ? { top5Omitted: summary.top5Omitted } : {}),
    perClass: summary.perClass,
    cost: summary.cost,
    shift: summary.shift,
    secondDataset: summary.secondDataset,
    ...(summary.seeds ? { seeds: summary.seeds } : {}),
    ...(summary.tasks ? { tasks: summary.tasks } : {}),
    ...(summary.accuracy ? { accuracy: summary.accuracy } : {}),
    curves,
    projection,
    stages,
    warnings: summary.warnings,
    provenance: gatherProvenance({ config: cfg, command: ctx.command, earlierCommands: earlierCommands(store.path(ARTIFACTS.metrics), ctx.command), backend: ctx.be.name, device: ctx.be.description }),
  };
  const w = await writeReport(store.dir, data, { png: cfg.report.png, html: cfg.report.html });
  const files = [w.md, ...(w.html ? [w.html] : []), ...w.plots].map((p) => relative(store.dir, p));
  return { files, data, mdPath: w.md };
}

/** Stage report: report.md, report.html and plots/ from what the earlier stages wrote. */
export const report: StageFn = async (ctx) => {
  const r = await buildReport(ctx);
  return { files: r.files, report: r.data, reportPath: r.mdPath };
};
