// Temporary (helper h10): CPU and wall ms per training step of cnn-s, ae (L=192, bn) and ddpm.
import { blasBackend, jsBackend } from '../src/backend/index.js';
import type { Backend } from '../src/backend/backend.js';
import { aeStepMs, cnnStepMs, ddpmStepMs } from './engine.js';

const which = (process.argv[2] ?? 'cnn,ae,ddpm').split(',');
const beName = process.argv[3] ?? 'blas';
const reps = Number(process.argv[4] ?? 3);
const b = beName === 'js' ? jsBackend() : blasBackend();
if (typeof b === 'string') throw new Error(b);
const be: Backend = b;

function measure(name: string, steps: number, fn: (steps: number) => number): void {
  const walls: number[] = [], cpus: number[] = [];
  for (let r = 0; r < reps; r++) {
    const c0 = process.cpuUsage();
    const wall = fn(steps);
    const c = process.cpuUsage(c0);
    walls.push(wall);
    cpus.push((c.user + c.system) / 1000 / (steps + 3));
  }
  const f = (a: number[]) => a.map((v) => v.toFixed(1)).join(' ');
  console.log(`${name}: wall median ms [${f(walls)}]  cpu ms/step [${f(cpus)}]  min wall ${Math.min(...walls).toFixed(1)} min cpu ${Math.min(...cpus).toFixed(1)}`);
}
if (which.includes('cnn')) measure('cnn-s', 20, (s) => cnnStepMs(be, s));
if (which.includes('ae')) measure('ae', 20, (s) => aeStepMs(be, { L: 192, channels: [16, 32, 64, 64, 16], latent: 64, batch: 50 }, s));
if (which.includes('ddpm')) measure('ddpm', 20, (s) => ddpmStepMs(be, s));
