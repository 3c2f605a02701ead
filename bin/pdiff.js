#!/usr/bin/env node
// The pdiff command. In a development checkout (src/ present and tsx installed) it runs the
// TypeScript sources, so it can never run a stale build; an installed package runs dist/.
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { dirname, join } from 'node:path';

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
