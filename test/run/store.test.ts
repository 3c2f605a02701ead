/**
 * StageClock: a stage's working time across interrupted processes (state/<stage>.clock.json).
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { RunStore } from '../../src/run/store.js';

const tmp = mkdtempSync(join(tmpdir(), 'pdiff-store-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

describe('StageClock', () => {
  it('continues from the saved seconds of the same stage hash and counts the resumes', () => {
    const store = new RunStore(join(tmp, 'a'));
    const c1 = store.clock('ae', 'h1');
    assert.equal(c1.prior, 0);
    assert.equal(c1.resumes, 0);
    const before = c1.seconds();
    c1.save();
    const afterSave = c1.seconds();
    const c2 = store.clock('ae', 'h1');
    assert.equal(c2.resumes, 1);
    assert.ok(c2.prior >= before && c2.prior <= afterSave, `prior ${c2.prior}, saved between ${before} and ${afterSave}`);
    assert.ok(c2.seconds() >= c2.prior && c2.own() < c2.seconds());
    c2.save();
    assert.equal(store.clock('ae', 'h1').resumes, 2);
  });

  it('starts from zero for another hash, a damaged file or a file with wrong types; clearState removes it', () => {
    const store = new RunStore(join(tmp, 'b'));
    store.clock('diffusion', 'h1').save();
    assert.equal(store.clock('diffusion', 'h2').prior, 0, 'another config: the earlier time is not this stage\'s');
    const path = store.statePath('diffusion', 'clock.json');
    for (const text of ['{"hash": "h1", "seconds": ', '{"hash": "h1", "seconds": "12", "resumes": 0}', '{"hash": "h1", "seconds": -3, "resumes": 0}']) {
      writeFileSync(path, text);
      const c = store.clock('diffusion', 'h1');
      assert.equal(c.prior, 0, text);
      assert.equal(c.resumes, 0, text);
    }
    store.clock('diffusion', 'h1').save();
    assert.ok(existsSync(path));
    store.clearState('diffusion');
    assert.ok(!existsSync(path));
  });
});
