/**
 * Are two run folders the same computation? Compares every tensor of every safetensors file
 * (base, checkpoints, AE, latents, reconstructions, diffusion, generated, eval/<group>.preds)
 * byte for byte, and summary.json without its timings and memory figures. For refactors that
 * must keep results bit-identical: run the same preset with the old and the new code, then
 *
 *   node --import tsx scripts/same-bits.ts runs/before runs/after
 *
 * Exit 0 when everything matches, 1 with the differences listed otherwise.
 */
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { readSafetensors } from '../src/zoo/safetensors.js';

const [a, b] = process.argv.slice(2);
if (!a || !b) {
  console.error('usage: node --import tsx scripts/same-bits.ts RUN_A RUN_B');
  process.exit(2);
}

const filesOf = (dir: string): string[] => [
  ...readdirSync(dir).filter((f) => f.endsWith('.safetensors')),
  ...(existsSync(join(dir, 'eval')) ? readdirSync(join(dir, 'eval')).filter((f) => f.endsWith('.safetensors')).map((f) => `eval/${f}`) : []),
].sort();

const problems: string[] = [];
const fa = filesOf(a), fb = filesOf(b);
for (const f of fa.filter((x) => !fb.includes(x))) problems.push(`${f}: only in ${a}`);
for (const f of fb.filter((x) => !fa.includes(x))) problems.push(`${f}: only in ${b}`);
let tensors = 0, bytes = 0;
for (const f of fa.filter((x) => fb.includes(x))) {
  const ta = readSafetensors(join(a, f)).tensors, tb = readSafetensors(join(b, f)).tensors;
  for (const [name, t] of ta) {
    const u = tb.get(name);
    if (!u) { problems.push(`${f}: tensor ${name} only in ${a}`); continue; }
    const x = new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);
    const y = new Uint8Array(u.data.buffer, u.data.byteOffset, u.data.byteLength);
    tensors++;
    bytes += x.length;
    if (t.shape.join() !== u.shape.join() || x.length !== y.length) { problems.push(`${f}: ${name} shape [${t.shape}] vs [${u.shape}]`); continue; }
    let diff = -1;
    for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) { diff = i; break; }
    if (diff >= 0) problems.push(`${f}: ${name} differs (first at byte ${diff})`);
  }
  for (const name of tb.keys()) if (!ta.has(name)) problems.push(`${f}: tensor ${name} only in ${b}`);
}

/** summary.json without what depends on the machine's speed and memory. */
const TIMING = new Set(['peakRssMb', 'latencyMsBatch1', 'latencyMsBatch128', 'generateSecondsPerModel', 'trainSecondsPerCheckpoint']);
const strip = (v: unknown): unknown => {
  if (Array.isArray(v)) return v.map(strip);
  if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).filter(([k]) => !TIMING.has(k)).map(([k, x]) => [k, strip(x)]));
  return v;
};
const sa = join(a, 'summary.json'), sb = join(b, 'summary.json');
if (existsSync(sa) && existsSync(sb)) {
  const ja = JSON.stringify(strip(JSON.parse(readFileSync(sa, 'utf8'))));
  const jb = JSON.stringify(strip(JSON.parse(readFileSync(sb, 'utf8'))));
  if (ja !== jb) problems.push('summary.json differs (timings and memory excluded)');
}

if (problems.length > 0) {
  for (const p of problems) console.log(p);
  process.exit(1);
}
console.log(`same bits: ${fa.length} files, ${tensors} tensors, ${bytes} bytes${existsSync(sa) ? ', summary.json equal apart from timings' : ''}`);
