/**
 * Times the CPU conv kernels (forward, backward data, backward weight) at the cnn-s shapes,
 * batch 128, Float32. GEMM: OpenBLAS via loadBlas() when the addon loads, else jsGemm, else a
 * naive loop. A second pass with a no-op GEMM isolates the data movement (im2col, col2im,
 * gather/scatter) from the arithmetic.
 *
 *   node --import tsx bench/conv-kernels.ts [--conv1d] [--depthwise] [--threads N] [--json]
 *
 * --threads sets the OpenBLAS thread count (default: OpenBLAS's own choice).
 * --conv1d adds the autoencoder / denoiser 1-D shapes of SPEC.md section 6-7 (batch 50).
 * --depthwise adds EfficientNet-like depthwise layers (the direct depthwise kernels of cpu/depthwise.ts).
 * Progress goes to stderr, results to stdout.
 */
import { cpus, loadavg } from 'node:os';
import type { Conv2dGeom, FloatArray, Gemm, Workspace } from '../src/backend/kernels.js';
import { convOutSize } from '../src/backend/kernels.js';
import { conv2dBackwardData, conv2dBackwardWeight, conv2dForward } from '../src/backend/cpu/conv.js';
import { depthwiseBackwardData, depthwiseBackwardWeight, depthwiseForward } from '../src/backend/cpu/depthwise.js';
import { Rng } from '../src/tensor/random.js';

const naiveGemm: Gemm = (transA, transB, m, n, k, alpha, a, aOff, lda, b, bOff, ldb, beta, c, cOff, ldc) => {
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let acc = 0;
      for (let p = 0; p < k; p++) {
        acc += (transA ? a[aOff + p * lda + i]! : a[aOff + i * lda + p]!) * (transB ? b[bOff + j * ldb + p]! : b[bOff + p * ldb + j]!);
      }
      const ci = cOff + i * ldc + j;
      c[ci] = beta === 0 ? alpha * acc : alpha * acc + beta * c[ci]!;
    }
  }
};

const noopGemm: Gemm = () => {};

/** The best GEMM on this machine, found at run time so the bench runs before native.ts / gemm.ts exist. */
async function pickGemm(threads: number | undefined): Promise<{ gemm: Gemm; name: string }> {
  const nativePath = '../src/backend/native.js';
  const gemmPath = '../src/backend/gemm.js';
  try {
    const mod = (await import(nativePath)) as {
      loadBlas?: () => { ok: true; gemm: Gemm; coreName: string; numThreads(): number; setNumThreads(n: number): void } | { ok: false; reason: string };
    };
    if (mod.loadBlas) {
      const r = mod.loadBlas();
      if (r.ok) {
        if (threads !== undefined) r.setNumThreads(threads);
        return { gemm: r.gemm, name: `OpenBLAS ${r.coreName}, ${r.numThreads()} thread(s)` };
      }
      process.stderr.write(`loadBlas failed: ${r.reason}\n`);
    }
  } catch (e) {
    process.stderr.write(`no native backend: ${(e as Error).message.split('\n')[0]}\n`);
  }
  try {
    const mod = (await import(gemmPath)) as { jsGemm?: Gemm };
    if (mod.jsGemm) return { gemm: mod.jsGemm, name: 'jsGemm' };
  } catch (e) {
    process.stderr.write(`no jsGemm: ${(e as Error).message.split('\n')[0]}\n`);
  }
  return { gemm: naiveGemm, name: 'naive triple loop' };
}

class BenchWorkspace implements Workspace {
  private readonly bufs = new Map<number, Float32Array>();
  get(n: number, slot = 0): FloatArray {
    let b = this.bufs.get(slot);
    if (b === undefined || b.length < n) {
      b = new Float32Array(n);
      this.bufs.set(slot, b);
    }
    return b;
  }
}

function geom(n: number, c: number, h: number, w: number, o: number, kh: number, kw: number,
  sh: number, sw: number, ph: number, pw: number): Conv2dGeom {
  return { n, c, h, w, o, kh, kw, sh, sw, ph, pw, oh: convOutSize(h, kh, sh, ph), ow: convOutSize(w, kw, sw, pw) };
}

/**
 * Median wall and CPU milliseconds of `fn` over enough repetitions to fill ~minMs (at least 3).
 * CPU time (all threads of this process) is the steadier number on a shared machine.
 */
function timeMs(fn: () => void, minMs: number): { wall: number; cpu: number } {
  fn(); // warm-up (JIT, workspace growth)
  const wall: number[] = [];
  const cpu: number[] = [];
  const start = performance.now();
  while (wall.length < 3 || (performance.now() - start < minMs && wall.length < 50)) {
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    fn();
    wall.push(performance.now() - t0);
    const c = process.cpuUsage(c0);
    cpu.push((c.user + c.system) / 1000);
  }
  const med = (a: number[]): number => a.sort((x, y) => x - y)[a.length >> 1]!;
  return { wall: med(wall), cpu: med(cpu) };
}

interface Row { layer: string; pass: string; ms: number; cpuMs: number; gflops: number; movementMs: number }

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const args = new Set(argv);
  const ti = argv.indexOf('--threads');
  const threads = ti >= 0 ? Number(argv[ti + 1]) : undefined;
  const { gemm, name } = await pickGemm(threads);
  process.stderr.write(`gemm: ${name}\n`);
  const layers: Array<[string, Conv2dGeom]> = [
    ['cnn-s conv1 1->16 28x28', geom(128, 1, 28, 28, 16, 3, 3, 1, 1, 1, 1)],
    ['cnn-s conv2 16->32 14x14', geom(128, 16, 14, 14, 32, 3, 3, 1, 1, 1, 1)],
    ['cnn-s conv3 32->64 7x7', geom(128, 32, 7, 7, 64, 3, 3, 1, 1, 1, 1)],
  ];
  if (args.has('--conv1d')) {
    layers.push(
      ['ae enc1 1->64 L=24064 k7 s2', geom(50, 1, 1, 24064, 64, 1, 7, 1, 2, 0, 3)],
      ['ae enc3 64->64 L=3008 k7 s2', geom(50, 64, 1, 3008, 64, 1, 7, 1, 2, 0, 3)],
      ['denoiser 64->128 L=128 k7 s1', geom(50, 64, 1, 128, 128, 1, 7, 1, 1, 0, 3)],
    );
  }
  const rng = new Rng(7);
  const ws = new BenchWorkspace();
  const rows: Row[] = [];
  for (const [layer, g] of layers) {
    const x = rng.fillNormal(new Float32Array(g.n * g.c * g.h * g.w)) as Float32Array;
    const w = rng.fillNormal(new Float32Array(g.o * g.c * g.kh * g.kw)) as Float32Array;
    const y = new Float32Array(g.n * g.o * g.oh * g.ow);
    const gy = rng.fillNormal(new Float32Array(y.length)) as Float32Array;
    const gx = new Float32Array(x.length);
    const gw = new Float32Array(w.length);
    const flops = 2 * g.n * g.o * g.c * g.kh * g.kw * g.oh * g.ow;
    const passes: Array<[string, (gm: Gemm) => void]> = [
      ['forward', (gm) => conv2dForward(x, w, null, y, g, gm, ws)],
      ['backward data', (gm) => conv2dBackwardData(gy, w, gx, g, gm, ws)],
      ['backward weight', (gm) => conv2dBackwardWeight(gy, x, gw, g, gm, ws)],
    ];
    for (const [pass, fn] of passes) {
      process.stderr.write(`${layer} ${pass}...\n`);
      const { wall: ms, cpu: cpuMs } = timeMs(() => fn(gemm), 400);
      const movementMs = timeMs(() => fn(noopGemm), 200).wall;
      rows.push({ layer, pass, ms, cpuMs, gflops: flops / ms / 1e6, movementMs });
    }
  }
  if (args.has('--depthwise')) {
    // EfficientNet-B0-like depthwise layers (groups = c): the direct TypeScript kernels, no GEMM
    // (movement is then the whole call).
    const dw: Array<[string, Conv2dGeom]> = [
      ['dw 96ch 56x56 k3 s2', { ...geom(32, 96, 56, 56, 96, 3, 3, 2, 2, 1, 1), groups: 96 }],
      ['dw 144ch 28x28 k5 s1', { ...geom(32, 144, 28, 28, 144, 5, 5, 1, 1, 2, 2), groups: 144 }],
    ];
    for (const [layer, g] of dw) {
      const x = rng.fillNormal(new Float32Array(g.n * g.c * g.h * g.w)) as Float32Array;
      const w = rng.fillNormal(new Float32Array(g.o * g.kh * g.kw)) as Float32Array;
      const gy = rng.fillNormal(new Float32Array(g.n * g.o * g.oh * g.ow)) as Float32Array;
      const y = new Float32Array(gy.length), gx = new Float32Array(x.length), gw = new Float32Array(w.length);
      const flops = 2 * g.n * g.o * g.kh * g.kw * g.oh * g.ow;
      const passes: Array<[string, () => void]> = [
        ['forward', () => depthwiseForward(x, w, null, y, g)],
        ['backward data', () => depthwiseBackwardData(gy, w, gx, g)],
        ['backward weight', () => depthwiseBackwardWeight(gy, x, gw, g)],
      ];
      for (const [pass, fn] of passes) {
        process.stderr.write(`${layer} ${pass}...\n`);
        const { wall: ms, cpu: cpuMs } = timeMs(fn, 400);
        rows.push({ layer, pass, ms, cpuMs, gflops: flops / ms / 1e6, movementMs: ms });
      }
    }
  }
  if (args.has('--json')) {
    process.stdout.write(JSON.stringify({ gemm: name, load: loadavg()[0], rows }, null, 2) + '\n');
    return;
  }
  process.stdout.write(`conv kernels, Float32, gemm = ${name}, load average ${loadavg()[0]!.toFixed(2)} on ${cpus().length} CPUs\n`);
  process.stdout.write('median ms per call (wall, and CPU summed over threads); GFLOP/s from wall;\n');
  process.stdout.write('movement = wall ms of the same call with a no-op gemm (im2col, scatter, ...)\n');
  process.stdout.write(`${'layer'.padEnd(32)}${'pass'.padEnd(17)}${'ms'.padStart(9)}${'cpu ms'.padStart(9)}${'GFLOP/s'.padStart(9)}${'movement'.padStart(10)}\n`);
  let total = 0;
  let totalCpu = 0;
  for (const r of rows) {
    total += r.ms;
    totalCpu += r.cpuMs;
    process.stdout.write(`${r.layer.padEnd(32)}${r.pass.padEnd(17)}${r.ms.toFixed(2).padStart(9)}${r.cpuMs.toFixed(2).padStart(9)}`
      + `${r.gflops.toFixed(1).padStart(9)}${r.movementMs.toFixed(2).padStart(10)}\n`);
  }
  process.stdout.write(`total ${total.toFixed(1)} ms wall, ${totalCpu.toFixed(1)} ms cpu\n`);
}

await main();
