/**
 * report.html in a real browser: headless Chromium (Debian's `chromium`) lays the report out at
 * 900 and 1400 px, and a script injected into a copy of it reports every element that sticks out
 * past the window's right edge without a scroll box around it. Skipped, with the reason, where
 * Chromium is not installed; PDIFF_CHROMIUM names another binary.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { writeReport } from '../../src/report/render.js';
import type { ReportData } from '../../src/report/types.js';
import { syntheticReport } from './fixtures.js';

function findChromium(): string | undefined {
  const env = process.env.PDIFF_CHROMIUM;
  if (env) return env;
  for (const name of ['chromium', 'chromium-browser', 'google-chrome', 'google-chrome-stable']) {
    for (const dir of (process.env.PATH ?? '').split(delimiter)) {
      if (dir && existsSync(join(dir, name))) return join(dir, name);
    }
  }
  return undefined;
}

/** Layout facts the injected script reports back (through the DOM, read with --dump-dom). */
interface Layout {
  /** The window's layout width (without a vertical scrollbar) and the page's scroll width. */
  clientWidth: number;
  scrollWidth: number;
  /**
   * Elements no scroll box (overflow-x other than visible) contains whose right edge is past
   * clientWidth, or whose content (a long word) is wider than they are.
   */
  overflowing: string[];
  /** Tables without a scroll box around them. */
  unwrappedTables: number;
  /** scrollWidth/clientWidth of each .scroll box. */
  scrollBoxes: Array<[number, number]>;
  /** Table-of-contents links whose target does not exist. */
  deadLinks: string[];
}

// Runs at the end of <body>, after layout; replaces the page by its findings so the dump is small.
const CHECK = `<script>
(() => {
  const W = document.documentElement.clientWidth;
  const overflowing = [];
  const inScrollBox = (el) => {
    for (let a = el.parentElement; a && a !== document.body; a = a.parentElement) if (getComputedStyle(a).overflowX !== 'visible') return true;
    return false;
  };
  for (const el of document.body.querySelectorAll('*')) {
    const svg = el.closest('svg');
    if (svg && svg !== el) continue;
    const r = el.getBoundingClientRect();
    if (r.width === 0 && r.height === 0) continue;
    if (inScrollBox(el)) continue;
    const name = el.tagName.toLowerCase() + (el.className && typeof el.className === 'string' ? '.' + el.className : '');
    if (r.right > W + 0.5) overflowing.push(name + ' right=' + Math.round(r.right));
    // text wider than its own box (a long word that does not wrap) sticks out too
    else if (!svg && el.clientWidth > 0 && el.scrollWidth > el.clientWidth + 1 && getComputedStyle(el).overflowX === 'visible') overflowing.push(name + ' content ' + el.scrollWidth + ' > ' + el.clientWidth);
  }
  const result = {
    clientWidth: W,
    scrollWidth: document.documentElement.scrollWidth,
    overflowing: overflowing.slice(0, 20),
    unwrappedTables: [...document.querySelectorAll('table')].filter((t) => !inScrollBox(t)).length,
    scrollBoxes: [...document.querySelectorAll('.scroll')].map((s) => [s.scrollWidth, s.clientWidth]),
    deadLinks: [...document.querySelectorAll('nav a[href^="#"]')].map((a) => a.getAttribute('href')).filter((h) => !document.getElementById(h.slice(1))),
  };
  document.body.innerHTML = '<pre id="layout">' + encodeURIComponent(JSON.stringify(result)) + '</pre>';
})();
</script>`;

async function layoutAt(chromium: string, page: string, width: number, profile: string): Promise<Layout> {
  const args = [
    '--headless', '--disable-gpu', '--no-sandbox', '--no-first-run', '--disable-extensions', `--user-data-dir=${profile}`,
    `--window-size=${width},1000`, '--dump-dom', pathToFileURL(page).href,
  ];
  const child = spawn(chromium, args, { stdio: ['ignore', 'pipe', 'ignore'] });
  let out = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
  const killer = setTimeout(() => child.kill('SIGKILL'), 100_000);
  const code = await new Promise<number | null>((res) => child.on('close', res));
  clearTimeout(killer);
  const m = /<pre id="layout">([^<]*)<\/pre>/.exec(out);
  assert.ok(m, `chromium (exit ${code}) printed no layout report for ${width} px: ${out.slice(0, 300)}`);
  return JSON.parse(decodeURIComponent(m[1]!)) as Layout;
}

/** The fixture with every section filled and made wide: more shift conditions, a long path and warning. */
function wideReport(): ReportData {
  const data = syntheticReport();
  data.runDir = '/home/someone/experiments/pdiff/runs/fashion_mnist_cnn_s_bn_mode_with_a_long_folder_name_that_has_no_place_to_break_a_line';
  data.warnings.push(`a warning naming a long path: ${data.runDir}/state/diffusion.safetensors_without_any_spaces_in_it_at_all`);
  data.shift = [];
  for (const kind of ['clean', 'gaussian_noise', 'contrast', 'rotation', 'brightness']) {
    for (const severity of kind === 'clean' ? [0] : [1, 3, 5]) {
      for (const group of ['original', 'ensemble', 'generated']) data.shift.push({ kind, severity, group, meanAcc: 88 - 3 * severity + (group === 'generated' ? 0.3 : 0) });
    }
  }
  return data;
}

const chromium = findChromium();

test(
  'report.html lays out at 900 and 1400 px in headless Chromium without widening the page',
  { skip: chromium ? false : 'Chromium not found on PATH (apt-get install chromium, or set PDIFF_CHROMIUM); browser layout not checked', timeout: 240_000 },
  async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pdiff-browser-'));
    try {
      const out = await writeReport(dir, wideReport(), { png: false, html: true });
      const page = join(dir, 'layout-check.html');
      writeFileSync(page, readFileSync(out.html!, 'utf8').replace('</body>', `${CHECK}\n</body>`));
      const widths = [900, 1400] as const;
      const layouts = await Promise.all(widths.map((w) => layoutAt(chromium!, page, w, join(dir, `profile-${w}`))));
      for (const [i, width] of widths.entries()) {
        const l = layouts[i]!;
        assert.ok(l.clientWidth > 0 && l.clientWidth <= width, `${width} px: odd window width ${l.clientWidth}`);
        assert.deepEqual(l.overflowing, [], `${width} px: elements stick out of the page`);
        assert.ok(l.scrollWidth <= l.clientWidth, `${width} px: the page is ${l.scrollWidth} px wide in a ${l.clientWidth} px window`);
        assert.equal(l.unwrappedTables, 0, `${width} px: a table is not in a scroll box`);
        assert.deepEqual(l.deadLinks, [], `${width} px: table-of-contents links without a target`);
        for (const [sw, cw] of l.scrollBoxes) assert.ok(cw <= l.clientWidth, `${width} px: a scroll box (${sw}/${cw}) is wider than the window`);
      }
      // The main table has 17 columns: at 900 px it must really scroll, or this test checks nothing.
      const main = layouts[0]!.scrollBoxes[0];
      assert.ok(main && main[0] > main[1], `at 900 px the main table should scroll inside its box, got ${JSON.stringify(main)}`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
);
