/**
 * Times base training (SPEC section 3) and bn-mode checkpoint collection (section 4) of cnn-s on
 * the real Fashion-MNIST, and the same work in PyTorch (bench/torch/collect.py) when
 * `/usr/bin/python3 -c "import torch"` works, with ratios pdiff / PyTorch (lower is better).
 *
 *   node --import tsx bench/collect.ts [--epochs 1] [--no-torch]
 *
 * Prints one JSON line on stdout; progress goes to stderr. Takes minutes.
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { getBackend } from '../src/backend/index.js';
import { userEnv } from '../src/backend/native.js';
import { resolveConfig } from '../src/config/index.js';
import { loadFashionMnist } from '../src/data/dataset.js';
import { buildClassifier } from '../src/models/index.js';
import { Rng, deriveSeed } from '../src/tensor/random.js';
import { collectCheckpoints } from '../src/zoo/collect.js';
import { ParamLayout, selectParams } from '../src/zoo/layout.js';
import { evaluateClassifier, trainClassifier } from '../src/zoo/train.js';

export interface BenchCollectResult {
  backend: string;
  epochs: number;
  /** Wall time per epoch of base training (validation excluded). */
  base_epoch_s: number;
  base_val_acc: number;
  base_test_acc: number;
  k: number;
  /** Wall time per collection iteration, the 192-float copy included. */
  collect_per_ckpt_ms: number;
  torch_base_epoch_s?: number;
  torch_collect_per_ckpt_ms?: number;
  torch_base_test_acc?: number;
  /** pdiff / PyTorch (< 1: pdiff is faster). */
  ratio_base_epoch?: number;
  ratio_collect?: number;
  /** Why the PyTorch side did not run, when it did not. */
  torch_skipped?: string;
}

const PYTHON = '/usr/bin/python3';

function torchAvailable(): boolean {
  return spawnSync(PYTHON, ['-c', 'import torch'], { stdio: 'ignore' }).status === 0;
}

/** Run bench/torch/collect.py and parse its JSON line. */
function runTorch(epochs: number, k: number): { base_epoch_s: number; collect_per_ckpt_ms: number; base_test_acc?: number } {
  const script = fileURLToPath(new URL('./torch/collect.py', import.meta.url));
  const r = spawnSync(PYTHON, [script, '--epochs', String(epochs), '--k', String(k), '--seed', '0'], {
    encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 16 << 20, env: userEnv(),
  });
  if (r.status !== 0) throw new Error(`bench/torch/collect.py exited with ${r.status}`);
  const line = r.stdout.trim().split('\n').pop() ?? '';
  return JSON.parse(line) as { base_epoch_s: number; collect_per_ckpt_ms: number; base_test_acc?: number };
}

/** Train cnn-s for `epochs` (SPEC recipe, cosine over those epochs) and collect 200 bn checkpoints. */
export async function benchCollect(opts: { epochs?: number; torch?: boolean } = {}): Promise<BenchCollectResult> {
  const epochs = opts.epochs ?? 1;
  const cfg = resolveConfig({ sets: [`base.epochs=${epochs}`] });
  const { train, val, test } = loadFashionMnist({ valSize: cfg.data.valSize });
  const be = getBackend();
  const model = buildClassifier('cnn-s', { rng: new Rng(deriveSeed(cfg.seed, 'model')), backend: be, inShape: [train.c, train.h, train.w], numClasses: train.numClasses });
  const { history } = trainClassifier(model, train, cfg.base, { rng: new Rng(deriveSeed(cfg.seed, 'base')), evalBatch: cfg.eval.evalBatch });
  const baseVal = evaluateClassifier(model, val, { batch: cfg.eval.evalBatch }).acc;
  const baseTest = evaluateClassifier(model, test, { batch: cfg.eval.evalBatch }).acc;
  const layout = ParamLayout.fromModel(model, selectParams(model, 'bn'));
  const { seconds } = collectCheckpoints(model, train, layout, cfg.collect, { rng: new Rng(deriveSeed(cfg.seed, 'collect')) });
  const res: BenchCollectResult = {
    backend: be.name,
    epochs,
    base_epoch_s: history.reduce((s, h) => s + h.seconds, 0) / history.length,
    base_val_acc: baseVal,
    base_test_acc: baseTest,
    k: cfg.collect.k,
    collect_per_ckpt_ms: (seconds / cfg.collect.k) * 1000,
  };
  if (opts.torch === false) {
    res.torch_skipped = 'disabled';
  } else if (!torchAvailable()) {
    res.torch_skipped = `${PYTHON} cannot import torch`;
  } else {
    const t = runTorch(epochs, cfg.collect.k);
    res.torch_base_epoch_s = t.base_epoch_s;
    res.torch_collect_per_ckpt_ms = t.collect_per_ckpt_ms;
    if (t.base_test_acc !== undefined) res.torch_base_test_acc = t.base_test_acc;
    res.ratio_base_epoch = res.base_epoch_s / t.base_epoch_s;
    res.ratio_collect = res.collect_per_ckpt_ms / t.collect_per_ckpt_ms;
  }
  return res;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const args = process.argv.slice(2);
  const i = args.indexOf('--epochs');
  const epochs = i >= 0 ? Number(args[i + 1]) : 1;
  if (!Number.isInteger(epochs) || epochs < 1) throw new Error(`--epochs: expected a positive integer, got ${args[i + 1]}`);
  const res = await benchCollect({ epochs, torch: !args.includes('--no-torch') });
  process.stdout.write(`${JSON.stringify(res)}\n`);
}
