/**
 * The facts a reader needs to reproduce a run, gathered for the report's reproducibility block:
 * pdiff's version, the git commit of the checkout the code ran from, Node's version, backend and
 * device, the command line, the config's hash, and the files of the run folder.
 *
 * Everything is read from files (package.json, .git/HEAD, refs); no child process is started, so
 * the report does not depend on a `git` binary being installed.
 */
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { isAbsolute, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { configHash, type Config } from '../config/index.js';
import type { GitInfo, Provenance, RunFile } from './types.js';

/** The package root (the folder holding package.json): two levels above src/report or dist/report. */
export const PACKAGE_ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** pdiff's version from the package.json at `root`. */
export function packageVersion(root: string = PACKAGE_ROOT): string {
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version?: unknown };
  return typeof pkg.version === 'string' ? pkg.version : 'unknown';
}

const SHA = /^[0-9a-f]{40}([0-9a-f]{24})?$/;

function readTrimmed(path: string): string | null {
  try {
    return readFileSync(path, 'utf8').trim();
  } catch {
    return null;
  }
}

/** The commit a ref points to: a loose ref file first, then packed-refs. */
function resolveRef(gitDir: string, commonDir: string, ref: string): string | null {
  for (const dir of [gitDir, commonDir]) {
    const loose = readTrimmed(join(dir, ref));
    if (loose !== null && SHA.test(loose)) return loose;
  }
  const packed = readTrimmed(join(commonDir, 'packed-refs'));
  if (packed === null) return null;
  for (const line of packed.split('\n')) {
    // "<sha> <ref>"; '#' lines are the header, '^' lines peel the tag above them.
    const [sha, name] = line.split(' ');
    if (name === ref && sha !== undefined && SHA.test(sha)) return sha;
  }
  return null;
}

/**
 * The commit checked out at `root`, read from `root/.git` (a folder, or a file `gitdir: <path>` in
 * a worktree or submodule, whose refs live in the folder named by `commondir`). Null when `root`
 * is not a git checkout, or HEAD cannot be resolved (a branch without commits, a damaged
 * repository). Whether the work tree has local modifications is not determined: that would need
 * to hash every tracked file.
 */
export function gitInfo(root: string = PACKAGE_ROOT): GitInfo | null {
  const dotGit = join(root, '.git');
  let gitDir: string;
  try {
    if (statSync(dotGit).isDirectory()) gitDir = dotGit;
    else {
      const m = /^gitdir:\s*(.+)$/m.exec(readFileSync(dotGit, 'utf8'));
      if (!m) return null;
      gitDir = resolve(root, m[1]!.trim());
    }
  } catch {
    return null;
  }
  const common = readTrimmed(join(gitDir, 'commondir'));
  const commonDir = common === null ? gitDir : isAbsolute(common) ? common : resolve(gitDir, common);
  const head = readTrimmed(join(gitDir, 'HEAD'));
  if (head === null) return null;
  if (SHA.test(head)) return { commit: head, branch: null };
  const m = /^ref:\s*(\S+)$/.exec(head);
  if (!m) return null;
  const ref = m[1]!;
  const commit = resolveRef(gitDir, commonDir, ref);
  if (commit === null) return null;
  return { commit, branch: ref.startsWith('refs/heads/') ? ref.slice('refs/heads/'.length) : ref };
}

/** Folders of a run folder not listed: resumable stages' scratch state, gone after a clean run. */
const SKIPPED_DIRS = new Set(['state', 'node_modules']);
/** Deepest folder level listed (run folder = 0: eval/x.json is level 1). */
const MAX_DEPTH = 2;
/** At most this many files are listed (a run folder is a few dozen; this guards against a wrong `out`). */
export const MAX_LISTED_FILES = 500;

/**
 * The files of a run folder, sorted by path (folders after the files beside them), relative with
 * '/' separators. Hidden files (atomic writes' temporaries, editor files), lock files, state/ and anything
 * deeper than two folder levels are left out, and at most {@link MAX_LISTED_FILES} are listed. A
 * folder that cannot be read is skipped.
 */
export function listRunFiles(runDir: string): RunFile[] {
  const out: RunFile[] = [];
  const walk = (rel: string, depth: number): void => {
    let entries;
    try {
      entries = readdirSync(rel === '' ? runDir : join(runDir, rel), { withFileTypes: true });
    } catch {
      return;
    }
    const names = entries.filter((e) => !e.name.startsWith('.') && !e.name.endsWith('.tmp') && !e.name.endsWith('.lock'));
    const files = names.filter((e) => e.isFile()).map((e) => e.name).sort();
    const dirs = names.filter((e) => e.isDirectory() && !(depth === 0 && SKIPPED_DIRS.has(e.name))).map((e) => e.name).sort();
    for (const f of files) {
      if (out.length >= MAX_LISTED_FILES) return;
      const path = rel === '' ? f : `${rel}/${f}`;
      let bytes = 0;
      try {
        bytes = statSync(join(runDir, path)).size;
      } catch {
        continue; // removed while listing
      }
      out.push({ path, bytes });
    }
    if (depth < MAX_DEPTH) for (const d of dirs) walk(rel === '' ? d : `${rel}/${d}`, depth + 1);
  };
  if (existsSync(runDir)) walk('', 0);
  return out;
}

/** What {@link gatherProvenance} needs from the run. */
export interface ProvenanceArgs {
  /** The resolved configuration of the run. */
  config: Config;
  /** The command line that started the run, or "(library call)". */
  command: string;
  /** Earlier commands that ran in this run folder, oldest first (from metrics.jsonl). */
  earlierCommands?: string[];
  /** Backend name, e.g. 'blas'. */
  backend: string;
  /** The backend's one-line description of what it runs on (CPU threads, GPU adapter). */
  device: string;
  /** Package root to read the version and git commit from (default: this package's root). */
  root?: string;
}

/** The config keys the config hash covers: all but `out`, so the same experiment in another folder hashes alike. */
export function hashedConfigKeys(config: Config): string[] {
  return Object.keys(config).filter((k) => k !== 'out').sort();
}

/** The reproducibility facts of a run (the file list is added when the report is written). */
export function gatherProvenance(args: ProvenanceArgs): Provenance {
  const root = args.root ?? PACKAGE_ROOT;
  let version = 'unknown';
  try {
    version = packageVersion(root);
  } catch {
    // an unreadable package.json costs this one line, not the report
  }
  return {
    pdiffVersion: version,
    git: gitInfo(root),
    node: process.version,
    backend: args.backend,
    device: args.device,
    command: args.command,
    ...(args.earlierCommands && args.earlierCommands.length > 0 ? { earlierCommands: args.earlierCommands } : {}),
    configHash: configHash(args.config, hashedConfigKeys(args.config)),
  };
}
