import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import {
  canonicalJson,
  configHash,
  defaultConfig,
  describeConfig,
  parseConfig,
  parseSet,
  PRESETS,
  resolveConfig,
  type Config,
} from '../../src/config/index.js';
import { ConfigError } from '../../src/util/errors.js';

const dir = mkdtempSync(join(tmpdir(), 'pdiff-config-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function writeJson(name: string, text: string): string {
  const file = join(dir, name);
  writeFileSync(file, text);
  return file;
}

/** Assert that `fn` throws a ConfigError whose message is exactly `message`. */
function throwsConfig(fn: () => unknown, message: string): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof ConfigError, `expected ConfigError, got ${String(e)}`);
    assert.equal(e.message, message);
    return true;
  });
}

/** Dotted paths of every non-object value (arrays and null are leaves). */
function leafPaths(v: unknown, prefix = ''): string[] {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return [prefix];
  return Object.entries(v).flatMap(([k, c]) => leafPaths(c, prefix ? `${prefix}.${k}` : k));
}

describe('defaults', () => {
  test('equal the cpu recipe in bn mode', () => {
    const expected: Config = {
      seed: 0,
      backend: 'auto',
      out: 'runs/fmnist-bn',
      data: { dataset: 'fashion-mnist', dir: null, valSize: 5000, limitTrain: null, limitTest: null, augment: false },
      model: { arch: 'cnn-s', mlpHidden: [128], stem: 'auto', dropout: null, stochasticDepth: null, vit: { patchSize: 4, layers: 6, heads: 4, hidden: 64, mlp: 128 } },
      base: {
        epochs: 4,
        batchSize: 128,
        lr: 3e-3,
        weightDecay: 5e-3,
        schedule: 'cosine',
        warmupSteps: 0,
        optimizer: 'adamw',
        momentum: 0.9,
      },
      collect: { mode: 'bn', params: [], k: 200, lr: 0.01, weightDecay: 5e-4, batchSize: 128, bnMode: 'eval', saveEvery: 1, seeds: 1, align: 'none', queue: null },
      ae: {
        channels: [16, 32, 64, 64, 16],
        latentDim: 64,
        steps: 2000,
        batchSize: 50,
        lr: 1e-3,
        weightDecay: 0,
        schedule: 'cosine',
        inputNoise: 0.001,
        latentNoise: 0.1,
        normalize: 'tensor',
        kernel: 7,
        padMultiple: 64,
      },
      diffusion: {
        channels: [1, 16, 32, 64, 128, 64, 32, 16, 1],
        timesteps: 1000,
        schedule: 'linear',
        betaStart: 1e-4,
        betaEnd: 0.02,
        steps: 3000,
        batchSize: 50,
        lr: 1e-3,
        weightDecay: 0,
        lrSchedule: 'cosine',
        ema: 0,
        latentScale: 'none',
        condDropout: 0.1,
        kernel: 7,
      },
      generate: { n: 200, sampler: 'ddpm', ddimSteps: 60, eta: 0, batchSize: 200, guidance: 1 },
      eval: {
        baselines: true,
        noiseScales: [0.001, 0.05, 0.15],
        baselineCount: 50,
        avgOf: 16,
        shift: {
          enabled: true,
          kinds: ['gaussian_noise', 'gaussian_blur', 'contrast', 'brightness', 'rotation', 'translation'],
          severities: [1, 3, 5],
          models: 10,
        },
        secondDataset: null,
        latency: true,
        tsne: false,
        evalBatch: 1000,
      },
      report: { png: true, html: true },
      tasks: {
        condition: 'none', unseen: 50, seen: null, params: [],
        recipe: { steps: 200, saveEvery: 10, k: 10, lr: 0.01, batchSize: 128, weightDecay: 5e-4 },
        chunkSize: 16, evalSeen: 20, perCode: 10, ridgeLambda: 1e-3,
        accuracy: {
          runs: 10, params: [],
          recipe: { steps: 4000, lr: 3e-4, warmupSteps: 0, batchSize: 128, weightDecay: 5e-4, candidates: 100, k: 40, bnMode: 'train', init: 'shared' },
          prompts: { inside: 12, from: null, above: 2, step: 1 },
          perPrompt: 5, nearest: 5, ridgeDegrees: [1, 5], ridgeLambda: 0,
        },
      },
    };
    assert.deepEqual(defaultConfig(), expected);
    // the default preset adds the denoiser EMA to the schema's defaults (measured; see presets.ts)
    const preset = { ...expected, diffusion: { ...expected.diffusion, ema: 0.999 } };
    assert.deepEqual(resolveConfig({}), preset);
    assert.deepEqual(resolveConfig({ preset: 'fmnist-bn' }), preset);
  });

  test('a stored config reads back unchanged', () => {
    const cfg = resolveConfig({ preset: 'paper' });
    assert.deepEqual(parseConfig(JSON.parse(JSON.stringify(cfg))), cfg);
  });
});

describe('presets', () => {
  for (const name of Object.keys(PRESETS)) {
    test(`${name} validates and has a description`, () => {
      const cfg = resolveConfig({ preset: name });
      assert.ok((PRESETS[name]?.description ?? '').length > 0);
      if (name !== 'fmnist-bn') assert.notEqual(cfg.out, 'runs/fmnist-bn');
    });
  }

  test('fmnist-full follows the cpu recipe whole column', () => {
    const c = resolveConfig({ preset: 'fmnist-full' });
    assert.equal(c.out, 'runs/fmnist-full');
    assert.deepEqual(
      [c.collect.mode, c.collect.lr, c.collect.weightDecay, c.collect.k],
      ['whole', 1e-4, 5e-3, 200],
    );
    assert.deepEqual(c.ae.channels, [8, 16, 32, 32, 16]);
    assert.deepEqual([c.ae.latentDim, c.ae.steps, c.ae.batchSize, c.ae.lr], [128, 600, 16, 1e-3]);
    assert.deepEqual([c.diffusion.steps, c.diffusion.batchSize], [2000, 50]);
    assert.deepEqual(c.diffusion.channels, [1, 16, 32, 64, 128, 64, 32, 16, 1]);
    assert.equal(c.generate.n, 100);
    assert.equal(c.eval.baselineCount, 20);
  });

  test('paper follows the recipe paper column', () => {
    const c = resolveConfig({ preset: 'paper' });
    assert.equal(c.base.epochs, 25);
    assert.equal(c.data.augment, true);
    assert.deepEqual([c.collect.lr, c.collect.weightDecay, c.collect.k, c.collect.bnMode], [0.03, 5e-4, 300, 'train']);
    assert.deepEqual(c.ae.channels, [64, 128, 256, 256, 32]);
    assert.deepEqual([c.ae.latentDim, c.ae.lr, c.ae.steps, c.ae.batchSize], [128, 2e-5, 500, 50]);
    assert.deepEqual(c.diffusion.channels, [1, 64, 128, 256, 512, 256, 128, 64, 1]);
    assert.deepEqual([c.diffusion.lr, c.diffusion.steps, c.diffusion.batchSize], [1e-4, 1000, 50]);
    assert.equal(c.generate.n, 200);
  });

  test('fmnist-tiny is small', () => {
    const c = resolveConfig({ preset: 'fmnist-tiny' });
    assert.deepEqual([c.data.limitTrain, c.data.limitTest], [5000, 1000]);
    assert.deepEqual([c.base.epochs, c.collect.k, c.ae.steps, c.diffusion.steps], [2, 20, 300, 300]);
    assert.equal(c.diffusion.timesteps, 1000);
    assert.deepEqual([c.generate.n, c.eval.baselineCount, c.eval.shift.enabled], [10, 5, false]);
  });

  test('cifar10-resnet-bn collects the last two BN layers of resnet20', () => {
    const c = resolveConfig({ preset: 'cifar10-resnet-bn' });
    assert.deepEqual([c.data.dataset, c.model.arch, c.data.augment], ['cifar10', 'resnet20', true]);
    assert.equal(c.collect.mode, 'custom');
    assert.deepEqual(c.collect.params, ['layer3.2.bn1.*', 'layer3.2.bn2.*']);
    assert.ok(c.base.epochs > 4);
  });

  test('an unknown preset is an error listing the known ones', () => {
    throwsConfig(
      () => resolveConfig({ preset: 'fmnist-bm' }),
      'config: unknown preset "fmnist-bm" (did you mean "fmnist-bn"? known presets: fmnist-bn, fmnist-full, fmnist-seeds, fmnist-tasks, fmnist-target-acc, fmnist-tiny, fmnist-resnet20-bn, fmnist-effnet-bn, fmnist-vit-ln, cifar10-resnet18-bn, cifar10-effnet-bn, cifar10-vit-ln, cifar10-resnet-bn, paper)',
    );
  });
});

describe('merging', () => {
  test('preset < file < overrides < sets', () => {
    const file = writeJson('order.json', JSON.stringify({ ae: { steps: 111, lr: 0.5 }, seed: 3, out: 'runs/file' }));
    const c = resolveConfig({
      preset: 'fmnist-full',
      file,
      overrides: { ae: { lr: 0.25 }, out: 'runs/overrides' },
      sets: ['out=runs/set'],
    });
    assert.equal(c.ae.steps, 111); // file beats preset (600)
    assert.equal(c.ae.batchSize, 16); // preset kept where the file is silent
    assert.equal(c.ae.latentDim, 128);
    assert.equal(c.ae.lr, 0.25); // overrides beat file
    assert.equal(c.seed, 3);
    assert.equal(c.out, 'runs/set'); // sets beat everything
    assert.equal(resolveConfig({ file, sets: ['ae.steps=7'] }).ae.steps, 7);
  });

  test('arrays replace, never merge', () => {
    const c = resolveConfig({ preset: 'paper', sets: ['ae.channels=[1,2,3,4,5]'] });
    assert.deepEqual(c.ae.channels, [1, 2, 3, 4, 5]);
  });

  test('--set values: JSON when it parses, else a string', () => {
    const c = resolveConfig({
      sets: ['collect.params=["bn3.*"]', 'collect.mode=custom', 'data.dir=/data/fm', 'out=2024', 'data.augment=true'],
    });
    assert.deepEqual(c.collect.params, ['bn3.*']);
    assert.equal(c.collect.mode, 'custom');
    assert.equal(c.data.dir, '/data/fm');
    assert.equal(c.out, '2024'); // a string setting keeps the text of a number
    assert.equal(c.data.augment, true);
    assert.equal(resolveConfig({ file: writeJson('dir.json', '{"data":{"dir":"/x"}}'), sets: ['data.dir=null'] }).data.dir, null);
    assert.deepEqual(parseSet('ae.steps = 5=6'), { key: 'ae.steps', value: '5=6' });
  });

  test('a nullable section can be set whole or key by key', () => {
    const file = writeJson('second.json', JSON.stringify({ eval: { secondDataset: { dataset: 'kmnist' } } }));
    const c = resolveConfig({ file, sets: ['eval.secondDataset.dir=/k'] });
    assert.deepEqual(c.eval.secondDataset, { dataset: 'kmnist', dir: '/k' });
    assert.deepEqual(resolveConfig({ sets: ['eval.secondDataset.dir=/m'] }).eval.secondDataset, { dataset: 'mnist', dir: '/m' });
    assert.equal(resolveConfig({ file, sets: ['eval.secondDataset=null'] }).eval.secondDataset, null);
  });

  test('presets are not mutated by resolving', () => {
    const before = JSON.stringify(PRESETS);
    resolveConfig({ preset: 'paper', sets: ['ae.channels=[1,2,3,4,5]', 'collect.k=5', 'eval.avgOf=2'] });
    assert.equal(JSON.stringify(PRESETS), before);
  });
});

describe('errors', () => {
  test('unknown key with a suggestion', () => {
    throwsConfig(() => resolveConfig({ sets: ['ae.stepz=3'] }), 'config: unknown key "ae.stepz" (did you mean "ae.steps"?)');
    throwsConfig(
      () => resolveConfig({ sets: ['steps=3'] }),
      'config: unknown key "steps" (did you mean "ae.steps", "diffusion.steps", "tasks.recipe.steps" or "tasks.accuracy.recipe.steps"?)',
    );
    throwsConfig(
      () => resolveConfig({ sets: ['ae.steps.x=3'] }),
      'config: unknown key "ae.steps.x" ("ae.steps" is a setting, not a section)',
    );
    throwsConfig(
      () => resolveConfig({ sets: ['report.pdf=true'] }),
      'config: unknown key "report.pdf" (known keys in "report": png, html)',
    );
  });

  test('wrong type names the key, the expected type and the value', () => {
    throwsConfig(() => resolveConfig({ sets: ['ae.steps=abc'] }), 'config: ae.steps: expected integer, got string "abc"');
    throwsConfig(() => resolveConfig({ sets: ['ae.latentDim=1.5'] }), 'config: ae.latentDim: expected integer, got number 1.5');
    throwsConfig(
      () => resolveConfig({ sets: ['data.limitTrain="x"'] }),
      'config: data.limitTrain: expected integer or null, got string "x"',
    );
    throwsConfig(
      () => resolveConfig({ sets: ['collect.params=bn3.*'] }),
      'config: collect.params: expected array of strings, got string "bn3.*"',
    );
  });

  test('enum values are listed', () => {
    throwsConfig(
      () => resolveConfig({ sets: ['diffusion.schedule=quadratic'] }),
      'config: diffusion.schedule: expected one of "linear", "cosine", got "quadratic"',
    );
  });

  test('--set without "="', () => {
    throwsConfig(() => resolveConfig({ sets: ['ae.steps'] }), 'config: --set "ae.steps" needs the form key=value');
    throwsConfig(() => resolveConfig({ sets: ['=3'] }), 'config: --set "=3" needs the form key=value');
  });

  test('range checks', () => {
    const cases: Array<[string, string]> = [
      ['ae.steps=0', 'config: ae.steps: expected integer >= 1, got 0'],
      ['diffusion.batchSize=-2', 'config: diffusion.batchSize: expected integer >= 1, got -2'],
      ['generate.eta=1.5', 'config: generate.eta: expected number in [0, 1], got 1.5'],
      ['diffusion.ema=1', 'config: diffusion.ema: expected number in [0, 1), got 1'],
      ['base.lr=0', 'config: base.lr: expected number > 0, got 0'],
      [
        'ae.channels=[16,32,64,64]',
        'config: ae.channels: expected array of integers >= 1 with exactly 5 entries, got 4 entries',
      ],
      ['ae.channels=[16,32,0,64,16]', 'config: ae.channels[2]: expected integer >= 1, got 0'],
      [
        'diffusion.channels=[1,16,32]',
        'config: diffusion.channels: expected array of integers >= 1 with exactly 9 entries, got 3 entries',
      ],
      [
        'diffusion.channels=[2,16,32,64,128,64,32,16,1]',
        'config: diffusion.channels: expected the first and last entries to be 1, got [2,16,32,64,128,64,32,16,1]',
      ],
      ['eval.noiseScales=[0.1,-0.5]', 'config: eval.noiseScales[1]: expected number >= 0, got -0.5'],
      [
        'ae.padMultiple=48',
        'config: ae.padMultiple: expected a multiple of 32 (the encoder halves the length 5 times), got 48',
      ],
      ['ae.kernel=6', 'config: ae.kernel: expected an odd integer (same padding), got 6'],
      [
        'diffusion.betaEnd=0.00005',
        'config: diffusion.betaEnd: expected greater than diffusion.betaStart (0.0001), got 0.00005',
      ],
      ['eval.avgOf=201', 'config: eval.avgOf: expected at most collect.k (200), got 201'],
      ['generate.ddimSteps=1001', 'config: generate.ddimSteps: expected at most diffusion.timesteps (1000), got 1001'],
      [
        'collect.mode=custom',
        'config: collect.params: expected at least one pattern when collect.mode is "custom", got []',
      ],
    ];
    for (const [set, message] of cases) throwsConfig(() => resolveConfig({ sets: [set] }), message);
  });

  test('every issue is reported, one per line', () => {
    throwsConfig(
      () => resolveConfig({ sets: ['ae.stepz=1', 'ae.steps=abc', 'ae.lr=-1', 'generate.sampler=euler'] }),
      [
        'config: unknown key "ae.stepz" (did you mean "ae.steps"?)',
        'config: ae.steps: expected integer, got string "abc"',
        'config: ae.lr: expected number > 0, got -1',
        'config: generate.sampler: expected one of "ddpm", "ddim", got "euler"',
      ].join('\n'),
    );
  });

  test('file problems name the file', () => {
    const bad = writeJson('bad.json', '{"ae": {"steps": 3,}}');
    assert.throws(
      () => resolveConfig({ file: bad }),
      (e: unknown) => e instanceof ConfigError && e.message.startsWith(`config: config file "${bad}" is not valid JSON: `),
    );
    const missing = join(dir, 'missing.json');
    assert.throws(
      () => resolveConfig({ file: missing }),
      (e: unknown) => e instanceof ConfigError && e.message.startsWith(`config: cannot read config file "${missing}": `),
    );
    const arr = writeJson('arr.json', '[1]');
    throwsConfig(() => resolveConfig({ file: arr }), `config: config file "${arr}" must hold a JSON object, got array [1]`);
    const typo = writeJson('typo.json', JSON.stringify({ ae: { stepz: 3, lr: 'x' }, diffusion: { steps: 5 } }));
    throwsConfig(
      () => resolveConfig({ file: typo, sets: ['diffusion.steps=0'] }),
      [
        `config: ae.lr: expected number, got string "x" (from file "${typo}")`,
        `config: unknown key "ae.stepz" (did you mean "ae.steps"?) (from file "${typo}")`,
        'config: diffusion.steps: expected integer >= 1, got 0',
      ].join('\n'),
    );
  });

  test('a "__proto__" key in a file is an unknown key, not a prototype', () => {
    const file = writeJson('proto.json', '{"__proto__": {"polluted": 1}}');
    assert.throws(() => resolveConfig({ file }), /unknown key "__proto__"/);
    assert.equal((({}) as Record<string, unknown>)['polluted'], undefined);
  });

  test('errors are ConfigErrors with exit code 2', () => {
    try {
      resolveConfig({ sets: ['nope=1'] });
      assert.fail('expected a throw');
    } catch (e) {
      assert.ok(e instanceof ConfigError);
      assert.equal(e.exitCode, 2);
    }
  });
});

describe('describeConfig', () => {
  const info = describeConfig();
  const keys = new Set(info.map((i) => i.key));

  test('covers every leaf, with a one-line description and the default value', () => {
    const defaults = defaultConfig();
    const leaves = leafPaths(defaults);
    for (const leaf of leaves) assert.ok(keys.has(leaf), `describeConfig misses ${leaf}`);
    for (const i of info) {
      assert.ok(i.description.length > 0 && !i.description.includes('\n'), `bad description for ${i.key}`);
      assert.ok(i.type.length > 0);
      if (leaves.includes(i.key)) {
        let v: unknown = defaults;
        for (const s of i.key.split('.')) v = (v as Record<string, unknown>)[s];
        assert.deepEqual(i.default, v, i.key);
      } else {
        assert.ok(i.key.startsWith('eval.secondDataset.'), `unexpected key ${i.key}`);
      }
    }
    assert.equal(keys.size, info.length);
  });

  test('types carry their constraints', () => {
    const type = (k: string): string | undefined => info.find((i) => i.key === k)?.type;
    assert.equal(type('ae.steps'), 'integer >= 1');
    assert.equal(type('diffusion.ema'), 'number in [0, 1)');
    assert.equal(type('diffusion.schedule'), '"linear" | "cosine"');
    assert.equal(type('data.dir'), 'string | null');
    assert.equal(type('ae.channels'), 'integer[] (5 entries, each >= 1)');
    assert.equal(type('eval.secondDataset'), 'object | null');
    assert.equal(info.find((i) => i.key === 'eval.secondDataset.dataset')?.default, 'mnist');
  });
});

describe('configHash and canonicalJson', () => {
  test('keeps the base stage hash of folders made before the model section grew (stem, dropout, stochasticDepth, vit)', () => {
    // the hash of the default config's base-stage keys under pdiff 880fb13, before those keys existed
    const keys = ['seed', 'data', 'model', 'base'];
    assert.equal(configHash(resolveConfig({}), keys), 'db64dbad5680ef600b8c7f092096483b6a061da63c26cd8305018b6c96e8a230');
    assert.notEqual(configHash(resolveConfig({ sets: ['model.arch="vit"', 'model.vit.layers=2'] }), keys), configHash(resolveConfig({ sets: ['model.arch="vit"'] }), keys));
  });

  test('keeps the collect stage hash of folders made before collect.seeds and collect.align', () => {
    // the hash of the default config's collect section under pdiff 0cd6ab2, before those keys existed
    assert.equal(configHash(resolveConfig({}), ['collect']), 'd88ce7430881e183a13450d5b8e19c88f055ea05b5be4fdcd48d7a4bfdb655e7');
    const whole = resolveConfig({ sets: ['collect.mode="whole"'] });
    assert.notEqual(configHash(resolveConfig({ sets: ['collect.mode="whole"', 'collect.seeds=2'] }), ['collect']), configHash(whole, ['collect']));
    assert.notEqual(configHash(resolveConfig({ sets: ['collect.mode="whole"', 'collect.seeds=2', 'collect.align="weight-matching"'] }), ['collect']),
      configHash(resolveConfig({ sets: ['collect.mode="whole"', 'collect.seeds=2'] }), ['collect']));
  });

  test('keeps the diffusion and generate stage hashes of folders made before diffusion.condDropout and generate.guidance', () => {
    // the hashes of the default config's sections under pdiff 32d2c31, before those keys existed
    const cfg = resolveConfig({});
    assert.equal(configHash(cfg, ['diffusion']), '8e731bdf38fe60cbe9f1eeee7ee27ac7c6e721806dae82d699156e2f16d03eef');
    assert.equal(configHash(cfg, ['generate']), '147a79f7c12bfac527032646ed006079e7646cfda789c6936dae962e49099de3');
    assert.notEqual(configHash(resolveConfig({ sets: ['diffusion.condDropout=0.2'] }), ['diffusion']), configHash(cfg, ['diffusion']));
    assert.notEqual(configHash(resolveConfig({ sets: ['generate.guidance=2'] }), ['generate']), configHash(cfg, ['generate']));
  });

  test('diffusion.kernel: a later key (old hashes kept), odd, named in errors', () => {
    const cfg = resolveConfig({});
    assert.equal(configHash(cfg, ['diffusion']), '8e731bdf38fe60cbe9f1eeee7ee27ac7c6e721806dae82d699156e2f16d03eef');
    assert.notEqual(configHash(resolveConfig({ sets: ['diffusion.kernel=17'] }), ['diffusion']), configHash(cfg, ['diffusion']));
    assert.throws(() => resolveConfig({ sets: ['diffusion.kernel=8'] }), /config: diffusion\.kernel: expected an odd integer, got 8/);
    assert.throws(() => resolveConfig({ sets: ['diffusion.kernel=0'] }), /diffusion\.kernel/);
  });

  test('diffusion.condDropout and generate.guidance: errors name the key and the range', () => {
    assert.throws(() => resolveConfig({ sets: ['generate.guidance=-1'] }), /config: generate\.guidance: expected number >= 0, got -1/);
    assert.throws(() => resolveConfig({ sets: ['diffusion.condDropout=1'] }), /config: diffusion\.condDropout: expected number in \[0, 1\), got 1/);
    assert.throws(() => resolveConfig({ sets: ['diffusion.condDropout=-0.5'] }), /diffusion\.condDropout: expected number in \[0, 1\)/);
    assert.equal(resolveConfig({ sets: ['generate.guidance=0', 'diffusion.condDropout=0'] }).generate.guidance, 0);
  });

  test('canonicalJson sorts keys at every depth', () => {
    assert.equal(canonicalJson({ b: 1, a: [{ d: 2, c: null }], e: undefined }), '{"a":[{"c":null,"d":2}],"b":1}');
    assert.throws(() => canonicalJson({ a: NaN }), ConfigError);
  });

  test('is stable under key order and sensitive to values', () => {
    const cfg = defaultConfig();
    const reordered = JSON.parse(canonicalJson(cfg)) as Config; // keys now sorted, not schema order
    const keys = ['data', 'model', 'base', 'seed'];
    const h = configHash(cfg, keys);
    assert.match(h, /^[0-9a-f]{64}$/);
    assert.equal(configHash(reordered, keys), h);
    assert.equal(configHash(cfg, [...keys].reverse()), h);
    assert.notEqual(configHash({ ...cfg, base: { ...cfg.base, lr: 0.004 } }, keys), h);
    assert.notEqual(configHash({ ...cfg, seed: 1 }, keys), h);
    assert.equal(configHash({ ...cfg, ae: { ...cfg.ae, steps: 1 } }, keys), h); // outside the sub-trees
    assert.equal(configHash(cfg, ['ae.steps']), configHash(resolveConfig({ sets: ['ae.lr=0.5'] }), ['ae.steps']));
    assert.equal(configHash(cfg, ['eval.secondDataset.dir']).length, 64);
  });

  test('an unknown key is an error', () => {
    throwsConfig(() => configHash(defaultConfig(), ['ae.stepz']), 'config: configHash: unknown key "ae.stepz" (did you mean "ae.steps"?)');
  });
});
