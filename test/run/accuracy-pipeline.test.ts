/**
 * Accuracy mode in the pipeline (tasks.condition "accuracy"; docs/accuracy.md#pipeline): a stage
 * that does not know the mode yet is refused before anything is written, instead of running the
 * unconditional pipeline on a config that asks for something else.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { resolveConfig } from '../../src/config/index.js';
import { ACCURACY_STAGES, STAGES, runPipeline } from '../../src/run/pipeline.js';
import { ConfigError } from '../../src/util/errors.js';

const tmp = mkdtempSync(join(tmpdir(), 'pdiff-accpipe-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

describe('accuracy pipeline', () => {
  it('refuses a run through a stage not wired for accuracy mode, naming tasks.condition, and writes nothing', async () => {
    const unwired = STAGES.find((s) => !ACCURACY_STAGES.has(s));
    assert.ok(unwired, 'every stage is wired: replace this test by the end-to-end one');
    const out = join(tmp, 'refused');
    const cfg = resolveConfig({ sets: ['tasks.condition="accuracy"', `out=${JSON.stringify(out)}`] });
    await assert.rejects(runPipeline(cfg, { quiet: true, until: unwired }), (e: unknown) => e instanceof ConfigError && /^tasks\.condition: "accuracy" runs are not wired/.test(e.message) && e.message.includes(unwired));
    assert.equal(existsSync(out), false);
  });
});
