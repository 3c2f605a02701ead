/**
 * The P-Diff pipeline as a chain of resumable stages:
 *
 *   base -> collect -> eval-originals -> ae -> diffusion -> generate -> evaluate -> report
 *
 * Every stage (src/run/stages/, one file each) writes its outputs into the run folder atomically,
 * then a marker with the hash of the config sections and upstream stages it depends on
 * (src/run/context.ts). A rerun skips stages whose marker matches, and a stage that was
 * interrupted resumes from the state it saved last (state/<stage>.*), so a killed run started
 * again reaches the same result as an uninterrupted one. One process at a time works in a run
 * folder (run.lock), and a config that differs from the folder's is refused unless asked for.
 */
import { existsSync } from 'node:fs';
import { resolveBackend } from '../backend/index.js';
import { changeLines, configHash, diffConfigs, type Config, type ConfigChange } from '../config/index.js';
import type { ReportData } from '../report/types.js';
import { writeFileAtomic } from '../util/atomic.js';
import { ConfigError } from '../util/errors.js';
import { PathError, makeDir } from '../util/fsdir.js';
import { JsonlLog } from '../util/jsonl.js';
import { ARTIFACTS, STAGES, STAGE_KEYS, makeContext, stageInputFiles, type StageName } from './context.js';
import { runFolderState } from './folder.js';
import { RunLock } from './lock.js';
import { withoutQueuePassword } from '../queue/url.js';
import { STAGE_FNS } from './stages/index.js';
import { RunStore, fileDigest, maybeKill, sha256 } from './store.js';

export { STAGES, loadData, type RunContext, type StageName } from './context.js';

export interface PipelineOptions {
  /** Stop after this stage (default: report). */
  until?: StageName;
  /** No progress bars or log lines on stderr. */
  quiet?: boolean;
  /** Where log lines go (default stderr). */
  say?: (line: string) => void;
  /** The command line that started this run, for the report's reproducibility block (default: "(library call)"). */
  command?: string;
  /**
   * Allow a config that differs from the one the run folder was made with (default false: refused
   * with the keys that differ). Stages that depend on the changed keys are then redone.
   */
  reconfigure?: boolean;
  /**
   * Awaited before each stage that is about to run (not before one that is up to date), outside
   * that stage's clock: `npm run bench -- pipeline` runs PyTorch's side of the stage here.
   */
  beforeStage?: (stage: StageName) => Promise<void> | void;
}

export interface StageResult { name: StageName; seconds: number; skipped: boolean }

export interface RunResult {
  runDir: string;
  stages: StageResult[];
  /** Path of report.md when the report stage ran. */
  reportPath?: string;
  /** Path of report.html when the report stage wrote one. */
  reportHtmlPath?: string;
  report?: ReportData;
}

/** Run the pipeline up to `opts.until`, skipping stages that are up to date. */
export async function runPipeline(cfgIn: Config, opts: PipelineOptions = {}): Promise<RunResult> {
  const cfg = withoutQueuePassword(cfgIn);
  const say = opts.say ?? ((l: string) => { if (!opts.quiet) process.stderr.write(`${l}\n`); });
  const command = opts.command ?? '(library call)';
  const state = runFolderState(cfg.out);
  if (state.kind === 'other') {
    const shown = state.entries.slice(0, 5).join(', ') + (state.entries.length > 5 ? ', ...' : '');
    throw new PathError(`run folder ${cfg.out} is not empty and holds no pdiff run (no config.json; it has ${shown}); choose a new or empty folder with --out`);
  }
  makeDir(cfg.out);
  const lock = RunLock.acquire(cfg.out, command, (o) => say(`[run] ${cfg.out}: took over the lock of pid ${o.pid}, which is no longer running`));
  try {
    const changes = state.kind === 'run' ? diffConfigs(state.config, cfg) : [];
    if (changes.length > 0 && !opts.reconfigure) {
      throw new ConfigError([
        `config: run folder ${cfg.out} was made with another config; ${changes.length === 1 ? 'this key differs' : `these ${changes.length} keys differ`} (folder -> now):`,
        ...changeLines(changes).map((l) => `  ${l}`),
        `To continue that run, give no --preset, --config, --set or --seed; to change it, add --reconfigure (stages that depend on these keys are redone); or use another --out.`,
      ].join('\n'));
    }
    return await runStages(cfg, opts, say, command, changes);
  } finally {
    lock.release();
  }
}

async function runStages(cfg: Config, opts: PipelineOptions, say: (line: string) => void, command: string, changes: ConfigChange[]): Promise<RunResult> {
  const until = opts.until ?? 'report';
  const be = resolveBackend(cfg.backend, opts.quiet);
  const store = new RunStore(cfg.out);
  const log = new JsonlLog(store.path(ARTIFACTS.metrics));
  log.write({ event: 'invocation', command, at: new Date().toISOString(), until });
  if (changes.length > 0) {
    log.write({ event: 'reconfigure', command, changes });
    say(`[run] reconfigured: ${changeLines(changes).join('; ')}`);
  }
  writeFileAtomic(store.path(ARTIFACTS.config), JSON.stringify(cfg, null, 2) + '\n');

  const ctx = makeContext({
    cfg, be, store, log, say, progress: !opts.quiet, command,
    clock: store.clock('pipeline', ''), // replaced by the stage's own clock before each stage runs
  });

  const results: StageResult[] = [];
  let prevHash = sha256('pdiff-pipeline-v1');
  let report: ReportData | undefined;
  let reportPath: string | undefined;
  for (const stage of STAGES) {
    const hash = sha256(prevHash, stage, configHash(cfg, STAGE_KEYS[stage]), ...stageInputFiles(cfg, stage).map((f) => fileDigest(f.path, f.key)));
    prevHash = hash;
    if (store.isDone(stage, hash) && stage !== 'report') {
      results.push({ name: stage, seconds: store.marker(stage)!.seconds, skipped: true });
      say(`[${stage}] up to date`);
    } else {
      if (opts.beforeStage) await opts.beforeStage(stage);
      say(`[${stage}] running`);
      maybeKill(stage, 0);
      const clock = ctx.clock = store.clock(stage, hash);
      const outputs = await STAGE_FNS[stage](ctx, hash);
      if (stage === 'report') { report = outputs.report; reportPath = outputs.reportPath; }
      // One reading of the clock: the stage's total and this process's share must agree.
      const own = clock.own(), seconds = clock.prior + own;
      store.markDone(stage, hash, seconds, outputs.files, clock.resumes);
      store.clearState(stage);
      const resumes = clock.resumes;
      log.write({ stage, event: 'done', seconds, ...(resumes > 0 ? { resumes, ownSeconds: own } : {}) });
      say(`[${stage}] done in ${seconds.toFixed(1)} s${resumes > 0 ? ` (${own.toFixed(1)} s in this process; resumed ${resumes === 1 ? 'once' : `${resumes} times`})` : ''}`);
      results.push({ name: stage, seconds, skipped: false });
    }
    if (stage === until) break;
  }
  const html = store.path(ARTIFACTS.reportHtml);
  return { runDir: store.dir, stages: results, report, reportPath, ...(reportPath && existsSync(html) ? { reportHtmlPath: html } : {}) };
}

