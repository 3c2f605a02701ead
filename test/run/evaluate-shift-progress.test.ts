/**
 * The evaluate stage is never silent for long: on a tiny run with the shift evaluation on, the
 * phases after the groups (novelty, per-class metrics, cost, distribution shift) each say what
 * they did, and the shift pass shows progress lines while it runs (plain lines when stderr is not
 * a terminal, as in CI).
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { resolveConfig } from '../../src/config/load.js';
import { microOverrides, skipWithoutFashionMnist } from '../helpers/data.js';
import { runPipeline } from '../../src/run/pipeline.js';

const tmp = mkdtempSync(join(tmpdir(), 'pdiff-eval-progress-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

test('evaluate: the shift pass shows progress, and every phase after the groups says it ran', { skip: skipWithoutFashionMnist }, async () => {
  const cfg = resolveConfig({
    preset: 'fmnist-tiny',
    overrides: microOverrides(join(tmp, 'run'), { shift: { enabled: true, kinds: ['gaussian_noise', 'rotation'], severities: [1, 3], models: 2 } }),
  });
  const said: string[] = [];
  const stderr: string[] = [];
  const write = process.stderr.write.bind(process.stderr);
  const saved = process.env.PDIFF_PROGRESS;
  delete process.env.PDIFF_PROGRESS;
  process.stderr.write = ((chunk: string | Uint8Array): boolean => { stderr.push(String(chunk)); return true; }) as typeof process.stderr.write;
  try {
    await runPipeline(cfg, { until: 'evaluate', say: (l) => said.push(l) });
  } finally {
    process.stderr.write = write;
    if (saved !== undefined) process.env.PDIFF_PROGRESS = saved;
  }
  // 4 test sets x 2 chunks of 50 images x 5 models = 40 passes: progress lines, then the final one
  const shift = stderr.join('').split(/[\r\n]/).filter((l) => l.startsWith('[evaluate shift]'));
  assert.ok(shift.some((l) => / 2?\d\/40 on gaussian_noise 1 /.test(l)), `no shift progress while it ran:\n${shift.join('\n')}\n(stderr: ${stderr.join('').slice(-2000)})`);
  assert.ok(shift.some((l) => /on rotation 3 /.test(l)), shift.join('\n'));
  assert.match(shift.at(-1)!, /^\[evaluate shift\] done: 40 model-chunks in .*, mean test accuracy under shift: original \d+\.\d\d, generated \d+\.\d\d, ensemble \d+\.\d\d$/);
  const tail = said.slice(said.findIndex((l) => l.startsWith('[evaluate] original')));
  for (const phase of [/^\[evaluate\] novelty .*\(\d+\.\d s\)$/, /^\[evaluate\] per-class metrics .*\(\d+\.\d s\)$/, /^\[evaluate\] cost: .*\(\d+\.\d s\)$/, /^\[evaluate\] distribution shift: 2 corruptions x 2 severities, original 2, generated 2, ensemble 1 models$/]) {
    assert.ok(tail.some((l) => phase.test(l)), `no line matching ${phase} in\n${said.join('\n')}`);
  }
});
