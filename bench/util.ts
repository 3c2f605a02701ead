import { spawnSync } from 'node:child_process';
import { userEnv } from '../src/backend/native.js';

/** Median of `fn`'s wall time in ms over `steps` runs after `warmup` runs. */
export function medianMs(fn: () => void, steps: number, warmup: number): number {
  for (let i = 0; i < warmup; i++) fn();
  const t: number[] = [];
  for (let i = 0; i < steps; i++) {
    const t0 = process.hrtime.bigint();
    fn();
    t.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  t.sort((a, b) => a - b);
  return t[Math.floor(t.length / 2)]!;
}

/** The Python with PyTorch: Debian's (/usr/bin/python3) unless PDIFF_TORCH_PYTHON names another. */
const TORCH_PY = process.env.PDIFF_TORCH_PYTHON || '/usr/bin/python3';

/** Whether Debian's PyTorch is importable (benchmarks compare against it when it is). */
export function torchAvailable(): boolean {
  const r = spawnSync(TORCH_PY, ['-c', 'import torch'], { stdio: 'ignore' });
  return r.status === 0;
}

/** Run a bench/torch script and parse the last JSON line it prints. */
export function runTorch(script: string, args: string[] = [], timeoutMs = 900_000): Record<string, number | string> | null {
  const r = spawnSync(TORCH_PY, [script, ...args], { encoding: 'utf8', timeout: timeoutMs, env: { ...userEnv(), OMP_NUM_THREADS: '2' } });
  if (r.status !== 0) {
    process.stderr.write(`bench: ${script} failed: ${r.stderr?.slice(-2000)}\n`);
    return null;
  }
  const lines = r.stdout.trim().split('\n');
  return JSON.parse(lines[lines.length - 1]!) as Record<string, number | string>;
}

export const round = (v: number, d = 3): number => Number(v.toFixed(d));
