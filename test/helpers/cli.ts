/** Runs the pdiff CLI (src/cli/main.ts through tsx) in a child process, for the CLI tests. */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';

/** The repository root. */
export const root = new URL('../..', import.meta.url).pathname;

export function pdiff(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, ['--import', 'tsx', join(root, 'src/cli/main.ts'), ...args], {
    cwd: root, encoding: 'utf8', env: { ...process.env, PDIFF_QUIET_BACKEND: '1' }, timeout: 180_000, // a hang fails the test; a loaded 2-core machine can take a minute for a micro run
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}
