/**
 * Report charts as vega-lite specs, rendered headless: vega-lite -> vega -> View with the 'none'
 * renderer -> SVG string (no browser, no canvas package; text widths are estimated), and SVG ->
 * PNG with resvg. All data is inlined in the specs, so rendering never loads anything.
 */
import { createRequire } from 'node:module';
import * as vega from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';
import type { AccuracyReport, GroupReport, LossPoint, ProjectionReport, ReportData, SeedsReport, TaskReport } from './types.js';

export type { TopLevelSpec };

/** A chart the report writes as plots/<name>.svg (and .png). */
export interface ChartSpec {
  /** File stem, e.g. 'accuracy-hist'. */
  name: string;
  /** Caption used in the report. */
  title: string;
  spec: TopLevelSpec;
}

/** Curves longer than this are reduced to this many bucket means before plotting. */
const MAX_CURVE_POINTS = 400;
/** Font family written into the SVG; resvg maps it to {@link PNG_FONT_FAMILY}. */
const SVG_FONT = 'sans-serif';
/** Family resvg uses for 'sans-serif' and unknown families; resvg falls back to any loaded font if absent. */
const PNG_FONT_FAMILY = 'DejaVu Sans';

const BASE_CONFIG = {
  font: SVG_FONT,
  background: 'white',
  axis: { labelFontSize: 11, titleFontSize: 12 },
  legend: { labelFontSize: 11, titleFontSize: 12 },
  title: { fontSize: 14 },
} as const;

/**
 * Group colours shared by all charts, so a group keeps its colour everywhere. The groups a reader
 * compares are drawn in strong colours (originals blue, generated red, the best baseline green);
 * every other group gets a muted tone, so nine groups of points still let the generated ones be
 * picked out.
 */
export interface GroupColors {
  /** Group names in legend order. */
  domain: string[];
  /** One colour per name of `domain`. */
  range: string[];
  /** The names drawn in strong colours, in drawing order (drawn last, on top). */
  strong: string[];
  /** The baseline drawn in strong colours, if any. */
  bestBaseline?: string;
}

const STRONG_COLORS: Record<string, string> = { original: '#1f5fbf', generated: '#d62728' };
const BEST_BASELINE_COLOR = '#2ca02c';
/** Light, greyish tones that stay apart from each other but recede behind the strong colours. */
const MUTED_COLORS = ['#c9b48f', '#a9bfd6', '#c7a9c9', '#a8c8a0', '#d9a9a0', '#9fc9c4', '#c9c49a', '#b8b0d8', '#d0b8a0', '#b0b0b0'];

/**
 * Groups that are not part of the pipeline itself (originals, AE reconstructions, generated) are
 * the baselines; the best is the one with the highest test mean (the first on a tie).
 */
export function bestBaseline(groups: readonly GroupReport[]): string | undefined {
  let best: GroupReport | undefined;
  for (const g of groups) {
    if (g.name === 'original' || g.name === 'generated' || g.name === 'ae_recon') continue;
    if (!Number.isFinite(g.test.mean)) continue;
    if (best === undefined || g.test.mean > best.test.mean) best = g;
  }
  return best?.name;
}

/** The colours of `names`; `best` (see {@link bestBaseline}) is drawn strong too. */
export function groupColors(names: readonly string[], best?: string): GroupColors {
  const range: string[] = [];
  let muted = 0;
  for (const n of names) {
    const strong = STRONG_COLORS[n] ?? (n === best ? BEST_BASELINE_COLOR : undefined);
    range.push(strong ?? MUTED_COLORS[muted++ % MUTED_COLORS.length]!);
  }
  const strong = ['original', ...(best !== undefined && names.includes(best) ? [best] : []), 'generated'].filter((n) => names.includes(n));
  return { domain: [...names], range, strong, ...(best !== undefined && names.includes(best) ? { bestBaseline: best } : {}) };
}

/** Colours of `colors` restricted to `names` (same colour per group, legend in `names` order). */
function colorsFor(colors: GroupColors, names: readonly string[]): GroupColors {
  const domain: string[] = [];
  const range: string[] = [];
  for (const n of names) {
    const i = colors.domain.indexOf(n);
    domain.push(n);
    range.push(i >= 0 ? colors.range[i]! : MUTED_COLORS[domain.length % MUTED_COLORS.length]!);
  }
  const best = colors.bestBaseline !== undefined && names.includes(colors.bestBaseline) ? colors.bestBaseline : undefined;
  return { domain, range, strong: colors.strong.filter((n) => names.includes(n)), ...(best !== undefined ? { bestBaseline: best } : {}) };
}

function groupColor(colors: GroupColors): { field: string; type: 'nominal'; title: string; scale: { domain: string[]; range: string[] } } {
  return { field: 'group', type: 'nominal', title: 'group', scale: { domain: colors.domain, range: colors.range } };
}

/** "red: generated, blue: originals, green: best baseline (avg16)" for the groups drawn strong. */
function strongLegend(colors: GroupColors): string {
  const parts: string[] = [];
  if (colors.domain.includes('generated')) parts.push('red: generated');
  if (colors.domain.includes('original')) parts.push('blue: originals');
  if (colors.bestBaseline !== undefined) parts.push(`green: best baseline (${colors.bestBaseline})`);
  return parts.length > 0 ? `${parts.join(', ')}; other groups muted` : '';
}

/** (a) Test-accuracy histogram per group, one row per group, shared bins and x axis. */
export function accuracyHistogramSpec(
  groups: GroupReport[],
  referenceLines?: { bestOriginal?: number; meanOriginal?: number },
  colors: GroupColors = groupColors(groups.map((g) => g.name), bestBaseline(groups)),
): TopLevelSpec {
  const names = groups.map((g) => g.name);
  const values: Array<{ group: string; test: number }> = [];
  for (const g of groups) for (const t of g.accuracies.test) values.push({ group: g.name, test: t });
  const layers: unknown[] = [
    {
      mark: { type: 'bar', tooltip: true },
      encoding: {
        x: { field: 'test', type: 'quantitative', bin: { maxbins: 40 }, title: 'test accuracy (%)', axis: { tickCount: 8 } },
        y: { aggregate: 'count', type: 'quantitative', title: 'models' },
        color: { ...groupColor(colorsFor(colors, names)), legend: null },
      },
    },
  ];
  // A datum rule is drawn once per data row; aggregating to one row per group draws it once per panel.
  const onePerGroup = [{ aggregate: [{ op: 'count', as: 'count' }], groupby: ['group'] }];
  if (referenceLines?.meanOriginal !== undefined && Number.isFinite(referenceLines.meanOriginal)) {
    layers.push({
      transform: onePerGroup,
      mark: { type: 'rule', strokeDash: [4, 3], color: '#444' },
      encoding: { x: { datum: referenceLines.meanOriginal } },
    });
  }
  if (referenceLines?.bestOriginal !== undefined && Number.isFinite(referenceLines.bestOriginal)) {
    layers.push({ transform: onePerGroup, mark: { type: 'rule', color: '#c00' }, encoding: { x: { datum: referenceLines.bestOriginal } } });
  }
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    title: {
      text: 'Test accuracy per group',
      subtitle: 'dashed: original mean, red: best original',
    },
    data: { values },
    facet: {
      row: { field: 'group', type: 'nominal', sort: names, title: null, header: { labelAngle: 0, labelAlign: 'left', labelFontSize: 11 } },
    },
    spec: { width: 460, height: 48, layer: layers },
    resolve: { scale: { y: 'independent' } },
    config: BASE_CONFIG,
  } as TopLevelSpec;
}

/**
 * (b) Test accuracy against IoU-max, one point per model. Originals, generated and the best
 * baseline are drawn in strong colours on top of the other groups' muted points.
 */
export function noveltyScatterSpec(groups: GroupReport[], colors: GroupColors = groupColors(groups.map((g) => g.name), bestBaseline(groups))): TopLevelSpec {
  const withNovelty = groups.filter((g) => g.novelty !== undefined && g.novelty.iou.length > 0);
  const names = withNovelty.map((g) => g.name);
  const c = colorsFor(colors, names);
  // Drawn in data order: muted groups first, then the strong ones (generated last, on top).
  // Single-model groups (the ensemble) are drawn larger so they stand out of the clouds.
  const rank = (name: string): number => c.strong.indexOf(name);
  const drawOrder = [...withNovelty].sort((x, y) => rank(x.name) - rank(y.name));
  const values: Array<{ group: string; iou: number; test: number; nnL2: number | null; size: number; alpha: number }> = [];
  for (const g of drawOrder) {
    const nov = g.novelty!;
    const strong = rank(g.name) >= 0;
    const m = Math.min(nov.iou.length, g.accuracies.test.length);
    for (let i = 0; i < m; i++) {
      const iou = nov.iou[i]!;
      if (!Number.isFinite(iou)) continue;
      const l2 = nov.nnL2[i];
      values.push({
        group: g.name,
        iou,
        test: g.accuracies.test[i]!,
        nnL2: l2 !== undefined && Number.isFinite(l2) ? l2 : null,
        size: g.n === 1 ? 160 : strong ? 34 : 22,
        alpha: g.n === 1 ? 1 : strong ? 0.8 : 0.5,
      });
    }
  }
  const legend = strongLegend(c);
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    title: {
      text: 'Accuracy against novelty',
      subtitle: ['IoU-max near 1 = behaves like a training checkpoint', ...(legend ? [legend] : [])],
      anchor: 'start',
    },
    width: 460,
    height: 320,
    data: { values },
    mark: { type: 'point', filled: true, tooltip: true },
    encoding: {
      x: { field: 'iou', type: 'quantitative', title: 'IoU-max of wrong sets vs checkpoints', scale: { zero: false } },
      y: { field: 'test', type: 'quantitative', title: 'test accuracy (%)', scale: { zero: false } },
      color: groupColor(c),
      size: { field: 'size', type: 'quantitative', scale: null, legend: null },
      opacity: { field: 'alpha', type: 'quantitative', scale: null, legend: null },
    },
    config: BASE_CONFIG,
  } as TopLevelSpec;
}

/** Bucket means reducing a curve to at most `max` points; drops non-positive/non-finite losses (log axis). */
export function downsampleCurve(points: LossPoint[], max = MAX_CURVE_POINTS): LossPoint[] {
  const clean = points.filter((p) => Number.isFinite(p.loss) && p.loss > 0 && Number.isFinite(p.step));
  if (clean.length <= max) return clean;
  const out: LossPoint[] = [];
  const per = clean.length / max;
  for (let b = 0; b < max; b++) {
    const lo = Math.floor(b * per);
    const hi = Math.min(clean.length, Math.floor((b + 1) * per));
    if (hi <= lo) continue;
    let s = 0;
    let st = 0;
    for (let i = lo; i < hi; i++) {
      s += clean[i]!.loss;
      st += clean[i]!.step;
    }
    out.push({ step: st / (hi - lo), loss: s / (hi - lo) });
  }
  return out;
}

/** (c) Training-loss curves (log y), one panel per curve with its own axes. */
export function lossCurvesSpec(curves: ReportData['curves']): TopLevelSpec {
  const named: Array<[string, LossPoint[] | undefined]> = [
    ['base classifier', curves.base],
    ['autoencoder', curves.ae],
    ['diffusion', curves.diffusion],
  ];
  const order: string[] = [];
  const values: Array<{ curve: string; step: number; loss: number }> = [];
  for (const [name, pts] of named) {
    if (pts === undefined || pts.length === 0) continue;
    const ds = downsampleCurve(pts);
    if (ds.length === 0) continue;
    order.push(name);
    for (const p of ds) values.push({ curve: name, step: p.step, loss: p.loss });
  }
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    title: 'Training loss',
    data: { values },
    facet: { column: { field: 'curve', type: 'nominal', sort: order, title: null } },
    spec: {
      width: 260,
      height: 200,
      mark: { type: 'line', strokeWidth: 1.5 },
      encoding: {
        x: { field: 'step', type: 'quantitative', title: 'step' },
        y: { field: 'loss', type: 'quantitative', title: 'loss', scale: { type: 'log' } },
        color: { field: 'curve', type: 'nominal', legend: null, scale: { scheme: 'set1' } },
      },
    },
    resolve: { scale: { x: 'independent', y: 'independent' } },
    config: BASE_CONFIG,
  } as TopLevelSpec;
}

/** (d) 2-D projection of the parameter vectors, coloured by group. */
export function projectionSpec(projection: ProjectionReport, groupOrder?: string[], colors?: GroupColors): TopLevelSpec {
  const seen = new Set<string>();
  for (const p of projection.points) seen.add(p.group);
  const names = groupOrder ? [...groupOrder.filter((g) => seen.has(g)), ...[...seen].filter((g) => !groupOrder.includes(g))] : [...seen];
  const c = colorsFor(colors ?? groupColors(names), names);
  // Strong groups drawn last, on top of the muted ones.
  const rank = (name: string): number => c.strong.indexOf(name);
  const points = projection.points.filter((p) => Number.isFinite(p.x) && Number.isFinite(p.y));
  const drawn = [...points].sort((p, q) => rank(p.group) - rank(q.group));
  const legend = strongLegend(c);
  const label = projection.method === 'pca' ? 'PC' : 't-SNE ';
  const ex = projection.explained;
  const axis = (k: 0 | 1): string =>
    projection.method === 'pca' && ex ? `${label}${k + 1} (${(100 * ex[k]).toFixed(1)} % of variance)` : `${label}${k + 1}`;
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    title: { text: `Parameter space (${projection.method === 'pca' ? 'PCA' : 't-SNE'})`, subtitle: ['one point per model', ...(legend ? [legend] : [])], anchor: 'start' },
    width: 420,
    height: 340,
    data: { values: drawn },
    mark: { type: 'point', filled: true, opacity: 0.65, size: 26, tooltip: true },
    encoding: {
      x: { field: 'x', type: 'quantitative', title: axis(0), scale: { zero: false } },
      y: { field: 'y', type: 'quantitative', title: axis(1), scale: { zero: false } },
      color: groupColor(c),
    },
    config: BASE_CONFIG,
  } as TopLevelSpec;
}

/** (e) Test loss and accuracy along the line between two seeds, naive and aligned (multi-seed zoos). */
export function interpolationSpec(seeds: SeedsReport): TopLevelSpec {
  const it = seeds.interpolation;
  const values: Array<{ alpha: number; value: number; path: string; measure: string }> = [];
  const add = (path: string, l: { loss: number[]; acc: number[] }): void => {
    it.alphas.forEach((alpha, i) => {
      if (Number.isFinite(l.loss[i]!)) values.push({ alpha, value: l.loss[i]!, path, measure: 'test loss' });
      if (Number.isFinite(l.acc[i]!)) values.push({ alpha, value: l.acc[i]!, path, measure: 'test accuracy (%)' });
    });
  };
  add('naive', it.naive);
  if (it.aligned) add('aligned', it.aligned);
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    title: { text: `Between seed ${it.from} (alpha 0) and seed ${it.to} (alpha 1)`, subtitle: 'naive: as trained; aligned: seed ' + it.to + '\'s hidden units matched to seed ' + it.from + '\'s', anchor: 'start' },
    data: { values },
    facet: { column: { field: 'measure', type: 'nominal', sort: ['test loss', 'test accuracy (%)'], title: null } },
    spec: {
      width: 260,
      height: 200,
      mark: { type: 'line', point: true, strokeWidth: 1.5, tooltip: true },
      encoding: {
        x: { field: 'alpha', type: 'quantitative', title: 'alpha' },
        y: { field: 'value', type: 'quantitative', title: null, scale: { zero: false } },
        color: { field: 'path', type: 'nominal', title: 'path', scale: { domain: ['naive', 'aligned'], range: ['#d62728', '#1f5fbf'] } },
      },
    },
    resolve: { scale: { y: 'independent' } },
    config: BASE_CONFIG,
  } as TopLevelSpec;
}

/**
 * (f) A task run: per unseen code, the generated models' mean test accuracy (red) and the nearest
 * seen task's (grey, what memorising the zoo gives) against the oracle's; on the diagonal a
 * method matches training for the code.
 */
export function taskScatterSpec(tasks: TaskReport): TopLevelSpec {
  const mean = (v: readonly number[]): number => v.reduce((s, x) => s + x, 0) / v.length;
  const values: Array<{ code: string; oracle: number; acc: number; method: string }> = [];
  for (const c of tasks.codes) {
    if (c.seen) continue;
    const oracle = mean(c.oracle.test);
    values.push({ code: c.code, oracle, acc: mean(c.nearest.test), method: 'nearest seen' });
    values.push({ code: c.code, oracle, acc: mean(c.generated.test), method: 'generated' });
  }
  const all = values.flatMap((v) => [v.oracle, v.acc]).filter(Number.isFinite);
  const lo = all.length > 0 ? Math.floor(Math.min(...all)) : 0, hi = all.length > 0 ? Math.ceil(Math.max(...all)) : 100;
  const scale = { domain: [lo, hi], nice: false, zero: false };
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    title: { text: 'Unseen codes: generated against oracle', subtitle: 'one point per code and method; on the diagonal a method matches training for the code', anchor: 'start' },
    width: 400,
    height: 340,
    layer: [
      {
        data: { values: [{ x: lo, y: lo }, { x: hi, y: hi }] },
        mark: { type: 'line', color: '#888', strokeDash: [4, 3] },
        encoding: { x: { field: 'x', type: 'quantitative', scale }, y: { field: 'y', type: 'quantitative', scale } },
      },
      {
        data: { values },
        mark: { type: 'point', filled: true, size: 40, opacity: 0.8, tooltip: true },
        encoding: {
          x: { field: 'oracle', type: 'quantitative', title: 'oracle test accuracy (%)', scale },
          y: { field: 'acc', type: 'quantitative', title: 'test accuracy (%)', scale },
          color: { field: 'method', type: 'nominal', title: 'method', scale: { domain: ['generated', 'nearest seen'], range: [STRONG_COLORS.generated!, '#9a9a9a'] } },
        },
      },
    ],
    config: BASE_CONFIG,
  } as TopLevelSpec;
}

/**
 * (g) An accuracy run: achieved test accuracy against the prompt, one line per method (generated
 * red, with each prompt's models as dots; the baselines grey), on the diagonal y = x a method
 * delivers what is asked; the zoo's label range is shaded and the zoo's best test accuracy drawn.
 */
export function accuracyControlSpec(a: AccuracyReport): TopLevelSpec {
  const lines: Array<{ prompt: number; acc: number; method: string }> = [];
  for (const m of a.methods) for (const p of m.summary.perPrompt) lines.push({ prompt: p.prompt, acc: p.mean, method: m.method });
  const methods = a.methods.map((m) => m.method);
  const greys = ['#9a9a9a', '#6b6b6b', '#c4c4c4', '#4a4a4a', '#b0b0b0', '#808080'];
  const all = [...lines.map((v) => v.acc), ...a.prompts, a.zooBestTest].filter(Number.isFinite);
  const lo = Math.floor(Math.min(...all)), hi = Math.ceil(Math.max(...all));
  const scale = { domain: [lo, hi], nice: false, zero: false };
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    title: {
      text: 'Achieved test accuracy against the prompt',
      subtitle: [`shaded: the zoo's label range; dotted: its best test accuracy (${a.zooBestTest.toFixed(2)})`, 'on the dashed diagonal a method delivers the prompt'],
      anchor: 'start',
    },
    width: 420,
    height: 340,
    layer: [
      {
        data: { values: [{ x0: a.scale.lo, x1: a.scale.hi }] },
        mark: { type: 'rect', color: '#1f5fbf', opacity: 0.07 },
        encoding: { x: { field: 'x0', type: 'quantitative', scale }, x2: { field: 'x1' } },
      },
      {
        data: { values: [{ x: lo, y: lo }, { x: hi, y: hi }] },
        mark: { type: 'line', color: '#888', strokeDash: [4, 3] },
        encoding: { x: { field: 'x', type: 'quantitative', scale }, y: { field: 'y', type: 'quantitative', scale } },
      },
      {
        data: { values: [{ y: a.zooBestTest }] },
        mark: { type: 'rule', color: '#1f5fbf', strokeDash: [1, 2] },
        encoding: { y: { field: 'y', type: 'quantitative', scale } },
      },
      {
        data: { values: lines },
        mark: { type: 'line', point: true, strokeWidth: 1.5, tooltip: true },
        encoding: {
          x: { field: 'prompt', type: 'quantitative', title: 'prompt: target test accuracy (%)', scale },
          y: { field: 'acc', type: 'quantitative', title: 'achieved test accuracy, mean (%)', scale },
          color: { field: 'method', type: 'nominal', title: 'method', scale: { domain: methods, range: [STRONG_COLORS.generated!, ...greys].slice(0, methods.length) }, legend: { labelLimit: 240 } },
        },
      },
    ],
    config: BASE_CONFIG,
  } as TopLevelSpec;
}

/** The charts a report of `data` has data for, in display order. */
export function reportCharts(data: ReportData): ChartSpec[] {
  const charts: ChartSpec[] = [];
  const groups = data.groups.filter((g) => g.accuracies.test.length > 0);
  const orig = data.groups.find((g) => g.name === 'original');
  const colors = groupColors(data.groups.map((g) => g.name), bestBaseline(data.groups));
  if (groups.length > 0) {
    charts.push({
      name: 'accuracy-hist',
      title: 'Test accuracy per group',
      spec: accuracyHistogramSpec(groups, orig ? { bestOriginal: orig.test.best, meanOriginal: orig.test.mean } : undefined, colors),
    });
  }
  if (data.groups.some((g) => g.novelty !== undefined && g.novelty.iou.some(Number.isFinite))) {
    charts.push({ name: 'accuracy-vs-novelty', title: 'Test accuracy against IoU-max', spec: noveltyScatterSpec(data.groups, colors) });
  }
  const c = data.curves;
  if ([c.base, c.ae, c.diffusion].some((p) => p !== undefined && downsampleCurve(p).length > 0)) {
    charts.push({ name: 'loss-curves', title: 'Training loss', spec: lossCurvesSpec(c) });
  }
  if (data.seeds !== undefined && data.seeds.interpolation.alphas.length > 0) {
    charts.push({ name: 'interpolation', title: 'Test loss and accuracy between two seeds, naive and aligned', spec: interpolationSpec(data.seeds) });
  }
  if (data.tasks !== undefined && data.tasks.codes.some((c) => !c.seen)) {
    charts.push({ name: 'tasks-generated-vs-oracle', title: 'Unseen codes: generated and nearest-seen test accuracy against the oracle\'s', spec: taskScatterSpec(data.tasks) });
  }
  if (data.accuracy !== undefined && data.accuracy.methods.length > 0 && data.accuracy.prompts.length > 0) {
    charts.push({ name: 'accuracy-control', title: 'Achieved test accuracy against the prompt', spec: accuracyControlSpec(data.accuracy) });
  }
  if (data.projection !== undefined && data.projection.points.length > 0) {
    charts.push({
      name: 'projection',
      title: `Parameter-space projection (${data.projection.method})`,
      spec: projectionSpec(data.projection, data.groups.map((g) => g.name), colors),
    });
  }
  return charts;
}

/** Render a vega-lite spec to an SVG string, headless. */
export async function renderSvg(vlSpec: TopLevelSpec): Promise<string> {
  // Compiler and runtime warnings (style hints) are not the user's business; errors still throw.
  const vgSpec = compile(vlSpec, { logger: vega.logger(vega.Error) }).spec;
  const view = new vega.View(vega.parse(vgSpec), { renderer: 'none', logLevel: vega.Error });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

/**
 * Rasterise an SVG to PNG bytes with resvg. `width` (pixels) scales to that width; by default the
 * image is drawn at twice its natural size. System fonts are loaded; 'sans-serif' maps to
 * DejaVu Sans, and resvg falls back to any available font (or draws no text, without failing)
 * when that family is missing.
 */
export function svgToPng(svg: string, width?: number): Uint8Array {
  // Loaded on first use: resvg ships its native binary as an optional dependency, and a missing
  // one should cost the PNG files only, not the whole program.
  const { Resvg } = createRequire(import.meta.url)('@resvg/resvg-js') as typeof import('@resvg/resvg-js');
  const resvg = new Resvg(svg, {
    fitTo: width !== undefined ? { mode: 'width', value: Math.round(width) } : { mode: 'zoom', value: 2 },
    background: 'white',
    font: { loadSystemFonts: true, defaultFontFamily: PNG_FONT_FAMILY, sansSerifFamily: PNG_FONT_FAMILY },
  });
  const png = resvg.render().asPng();
  return new Uint8Array(png.buffer, png.byteOffset, png.byteLength);
}
