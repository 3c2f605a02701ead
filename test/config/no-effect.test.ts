/** A setting that does nothing under another setting is an error naming both keys. */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { CONDITIONAL_KEYS, defaultConfig, resolveConfig } from '../../src/config/index.js';
import { ConfigError } from '../../src/util/errors.js';

const tmp = mkdtempSync(join(tmpdir(), 'pdiff-noeffect-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

describe('keys without effect', () => {
  it('collect.params without collect.mode "custom" (the README example) is refused, naming both keys', () => {
    assert.throws(() => resolveConfig({ sets: ['collect.params=["bn3.*"]'] }), (e: unknown) => e instanceof ConfigError &&
      e.message === 'config: collect.params has no effect unless collect.mode is "custom" (collect.mode is "bn"); set collect.mode too, or leave collect.params out');
    const c = resolveConfig({ sets: ['collect.mode="custom"', 'collect.params=["bn3.*"]'] });
    assert.deepEqual(c.collect.params, ['bn3.*']);
  });

  it('covers each conditional key, from --set and from a config file', () => {
    const values: Record<string, unknown> = {
      'collect.params': ['fc.*'], 'collect.queue': 'redis://127.0.0.1:6379/0', 'model.mlpHidden': [7], 'base.momentum': 0.5, 'diffusion.betaStart': 2e-4, 'diffusion.betaEnd': 0.03,
      'generate.ddimSteps': 10, 'generate.eta': 0.5, 'eval.shift.kinds': ['gaussian_noise'], 'eval.shift.severities': [2], 'eval.shift.models': 3,
      'model.stem': 'small', 'model.dropout': 0.1, 'model.stochasticDepth': 0.1, 'model.vit': { patchSize: 7, layers: 2, heads: 2, hidden: 32, mlp: 64 },
      'tasks.unseen': 30, 'tasks.seen': 100, 'tasks.params': ['bn2.*', 'fc.*'], 'tasks.recipe': { steps: 50, saveEvery: 5, k: 3, lr: 0.02, batchSize: 64, weightDecay: 0 },
      'tasks.chunkSize': 4, 'tasks.evalSeen': 3, 'tasks.perCode': 2, 'tasks.ridgeLambda': 0.5, 'tasks.accuracy': { runs: 3 },
    };
    const off = ['diffusion.schedule="cosine"', 'eval.shift.enabled=false'];
    for (const rule of CONDITIONAL_KEYS) {
      const v = values[rule.key];
      assert.ok(v !== undefined, `a value for ${rule.key}`);
      assert.throws(() => resolveConfig({ sets: [...off, `${rule.key}=${JSON.stringify(v)}`] }),
        (e: unknown) => e instanceof ConfigError && e.message.includes(`${rule.key} has no effect unless ${rule.when} is ${rule.needs}`), rule.key);
      const segs = rule.key.split('.');
      let nested: unknown = v;
      for (let i = segs.length - 1; i >= 0; i--) nested = { [segs[i]!]: nested };
      const f = join(tmp, `${rule.key}.json`);
      writeFileSync(f, JSON.stringify(nested));
      assert.throws(() => resolveConfig({ file: f, sets: off }), (e: unknown) => e instanceof ConfigError && e.message.includes(`(from file "${f}")`), rule.key);
    }
  });

  it('accepts the default value, a preset\'s keys, a full stored config and a run folder\'s own config as a base', () => {
    resolveConfig({ sets: ['base.momentum=0.9'] }); // the default: harmless
    resolveConfig({ preset: 'cifar10-resnet-bn' }); // sets collect.params with mode custom
    const full = join(tmp, 'full.json');
    writeFileSync(full, JSON.stringify(defaultConfig()));
    resolveConfig({ file: full });
    const stored = { ...defaultConfig(), collect: { ...defaultConfig().collect, params: ['bn3.*'] } };
    const c = resolveConfig({ base: { name: 'run folder x', config: stored }, sets: ['ae.steps=5'] });
    assert.deepEqual(c.collect.params, ['bn3.*']);
  });
});
