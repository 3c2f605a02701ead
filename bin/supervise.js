// Ctrl-C for the pipeline commands. The pipeline's stages are long synchronous loops, during which
// Node cannot run a JavaScript signal handler, so the work runs in a child process with the
// default SIGINT behaviour (it stops at once; every file it writes is atomic and the stages resume)
// while this small parent waits. When the child is interrupted, the parent removes the child's run
// lock and prints how to resume. The child reports its run folder over the IPC channel.
import { spawn } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';

/** Run `script` with `args` in a child and mirror its exit; never returns. */
export function supervise(script, args) {
  const child = spawn(process.execPath, [...process.execArgv, ...heapFlags(), script, ...args], {
    stdio: ['inherit', 'inherit', 'inherit', 'ipc'],
    env: { ...process.env, PDIFF_SUPERVISED: '1' },
  });
  let runDir = null;
  child.on('message', (m) => { if (m && typeof m.runDir === 'string') runDir = m.runDir; });
  let interrupted = false;
  // At a terminal the child gets the same SIGINT from the process group; a signal sent to this
  // process alone is passed on.
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
    process.on(sig, () => { interrupted = true; child.kill(sig); });
  }
  child.on('exit', (code, signal) => {
    if (signal === 'SIGINT' || signal === 'SIGTERM' || signal === 'SIGHUP' || (interrupted && code !== 0)) {
      if (runDir) {
        const lock = join(runDir, 'run.lock');
        try {
          if (JSON.parse(readFileSync(lock, 'utf8')).pid === child.pid) rmSync(lock, { force: true });
        } catch { /* no lock, or not the child's */ }
      }
      process.stderr.write(`\npdiff: interrupted${runDir ? `; run the same command again to resume ${runDir} where it stopped` : ''}\n`);
      process.exit(130);
    }
    if (signal) process.kill(process.pid, signal);
    else process.exit(code ?? 1);
  });
}

/**
 * A 64 MB young generation for the pipeline's process (V8's default is 16 MB), unless the user set
 * one: a training step's short-lived objects (tensors, tape entries) then die young instead of being
 * promoted and marked by major collections. The default run's base training took about 12 % fewer
 * seconds a step with it (RESULTS.md, issue 20).
 */
export function heapFlags() {
  const set = [...process.execArgv, process.env.NODE_OPTIONS ?? ''].some((a) => a.includes('--max-semi-space-size'));
  return set ? [] : ['--max-semi-space-size=64'];
}
