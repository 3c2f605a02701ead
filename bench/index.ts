/**
 * `npm run bench -- <engine|collect|evaluate|pipeline|queue> [--backend js|blas|webgpu] [--mode bn|whole] [--no-torch]`
 *   queue takes [--preset NAME] [--workers 1,2,3] [--tiny-jobs N] [--tiny-workers W] [--set key=value ...] (bench/queue.ts).
 *   pipeline also takes [--preset NAME] [--out DIR] [--set key=value ...] (config overrides, as `pdiff run --set`);
 *   it runs the same recipe in PyTorch (bench/torch/pipeline.py), each stage just before pdiff's, and prints per-stage ratios.
 * Each benchmark prints progress to stderr and, as its LAST line on stdout, one JSON object.
 */
const args = process.argv.slice(2);
const which = args.find((a) => !a.startsWith('--')) ?? 'engine';
const opt = (name: string): string | undefined => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : undefined;
};
const torch = !args.includes('--no-torch');
let result: unknown;
switch (which) {
  case 'engine': {
    const { benchEngine } = await import('./engine.js');
    result = await benchEngine({ backend: opt('backend'), torch });
    break;
  }
  case 'collect': {
    const { benchCollect } = await import('./collect.js');
    result = await benchCollect({ torch, epochs: opt('epochs') ? Number(opt('epochs')) : undefined });
    break;
  }
  case 'evaluate': {
    const { benchEvaluate } = await import('./evaluate.js');
    const mode = (opt('mode') ?? 'bn') as 'bn' | 'whole';
    result = await benchEvaluate({ mode, torch, models: opt('models') ? Number(opt('models')) : undefined });
    break;
  }
  case 'pipeline': {
    const { benchPipeline } = await import('./pipeline.js');
    const sets = args.flatMap((a, i) => (a === '--set' && args[i + 1] !== undefined ? [args[i + 1]!] : []));
    result = await benchPipeline({ preset: opt('preset') ?? 'fmnist-bn', backend: opt('backend'), out: opt('out'), sets, torch });
    break;
  }
  case 'queue': {
    const { benchQueue } = await import('./queue.js');
    const sets = args.flatMap((a, i) => (a === '--set' && args[i + 1] !== undefined ? [args[i + 1]!] : []));
    result = await benchQueue({
      preset: opt('preset'), sets,
      workers: opt('workers')?.split(',').map(Number), tinyJobs: opt('tiny-jobs') ? Number(opt('tiny-jobs')) : undefined, tinyWorkers: opt('tiny-workers') ? Number(opt('tiny-workers')) : undefined,
    });
    break;
  }
  default:
    console.error(`unknown benchmark "${which}": use engine, collect, evaluate, pipeline or queue`);
    process.exit(2);
}
console.log(JSON.stringify(result));
