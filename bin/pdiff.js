#!/usr/bin/env node
// The pdiff command. In a development checkout (src/ present and tsx installed) it runs the
// TypeScript sources, so it can never run a stale build; an installed package runs dist/.
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { dirname, join } from 'node:path';

// The commands that run pipeline stages run in a supervised child, so that Ctrl-C can say how to resume.
const PIPELINE_COMMANDS = new Set(['run', 'collect', 'train-ae', 'train-diffusion', 'generate', 'evaluate', 'report']);
if (PIPELINE_COMMANDS.has(process.argv[2] ?? '') && !process.env.PDIFF_SUPERVISED && !process.argv.includes('--help') && !process.argv.includes('-h')) {
  const { supervise } = await import('./supervise.js');
  supervise(fileURLToPath(import.meta.url), process.argv.slice(2));
} else {
  await main();
}

async function main() {
  const root = join(dirname(fileURLToPath(import.meta.url)), '..');
  const source = join(root, 'src', 'cli', 'main.ts');
  let tsx = null;
  if (existsSync(source)) {
    try { tsx = createRequire(import.meta.url).resolve('tsx/esm/api'); } catch { tsx = null; }
  }
  if (tsx) {
    const { register } = await import(pathToFileURL(tsx).href);
    register();
    await import(pathToFileURL(source).href);
  } else {
    await import(pathToFileURL(join(root, 'dist', 'cli', 'main.js')).href);
  }
}
