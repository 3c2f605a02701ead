/**
 * Progress reporting on stderr. On a terminal: one line redrawn with \r at most ~10 times a
 * second (bar, percent, count, rate, ETA and the latest loss/accuracy), kept shorter than the
 * terminal's width so that a redraw never wraps (a wrapped line leaves a trail). Elsewhere (a log file,
 * CI): plain lines, at most one per ~10 % of the work or per `logEverySeconds`, e.g.
 * `[base] epoch 2/4 step 300/1716 loss 0.412 acc 86.1% 12.3 s elapsed, ETA 20 s`.
 * Nothing at all is printed when quiet (`setQuiet(true)`, `enabled: false`, or PDIFF_PROGRESS=0).
 */

/** The part of a writable stream that progress needs (process.stderr fits). */
export interface ProgressStream {
  write(s: string): unknown;
  isTTY?: boolean;
  /** Width of the terminal in characters (a TTY stream has it). */
  columns?: number;
}

/** Values shown after the count: `loss` (3 significant digits), `acc` (percent), anything else as given. */
export type ProgressInfo = Record<string, number | string>;

export interface ProgressOptions {
  /** Shown in brackets at the start of every line, e.g. "base". */
  label: string;
  /** Number of units of work (steps); 0 or less = unknown (no percent or ETA). */
  total: number;
  /** Where to write; default process.stderr. */
  stream?: ProgressStream;
  /** false = print nothing. Default: on unless quiet or PDIFF_PROGRESS=0. */
  enabled?: boolean;
  /** Name of one unit in the count, default "step". */
  unit?: string;
  /** Non-terminal mode: also print a line when this many seconds passed since the last one. Default 30. */
  logEverySeconds?: number;
  /** Clock in milliseconds (tests inject one). Default performance.now. */
  now?: () => number;
  /** Units done before this process started (a resumed run): in the count, not in the rate or ETA. Default 0. */
  start?: number;
  /**
   * Terminal width in characters; every redrawn line is kept strictly shorter. Default: the
   * stream's `columns` (read at each redraw, so a resized terminal is followed), else $COLUMNS, else 80.
   */
  columns?: number;
}

let quiet = false;

/** Silence (or re-enable) every progress display of the process. */
export function setQuiet(on: boolean): void {
  quiet = on;
}

export function isQuiet(): boolean {
  return quiet;
}

/** Terminal redraw interval: at most ~10 redraws per second. */
const REDRAW_MS = 100;
/** Non-terminal mode prints a line per this fraction of the work. */
const LOG_FRACTION = 0.1;
const BAR_WIDTH = 20;
/** A bar narrower than this says little; below it the bar is left out (the percent stays). */
const MIN_BAR_WIDTH = 5;
/** The label is shortened to no fewer characters than this (with an ellipsis) before the line is cut. */
const MIN_LABEL = 8;
/** Width assumed when neither the stream nor $COLUMNS gives one. */
const DEFAULT_COLUMNS = 80;

/** Terminal width: `columns` if given, else the stream's, else $COLUMNS, else 80. */
export function terminalColumns(stream: ProgressStream, columns?: number): number {
  const valid = (n: number | undefined): n is number => n !== undefined && Number.isInteger(n) && n > 0;
  if (valid(columns)) return columns;
  if (stream.isTTY === true && valid(stream.columns)) return stream.columns;
  const env = Number(process.env.COLUMNS);
  return valid(env) ? env : DEFAULT_COLUMNS;
}

/** `s` cut to at most `n` characters, ending in an ellipsis when cut. */
function shorten(s: string, n: number): string {
  if (s.length <= n) return s;
  return n <= 1 ? s.slice(0, Math.max(0, n)) : `${s.slice(0, n - 1)}…`;
}

/** "12.3 s", "4 min 05 s", "1 h 02 min". */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '?';
  if (seconds < 10) return `${seconds.toFixed(1)} s`;
  if (seconds < 60) return `${Math.round(seconds)} s`;
  if (seconds < 3600) {
    const m = Math.floor(seconds / 60), s = Math.round(seconds - 60 * m);
    return s === 60 ? `${m + 1} min 00 s` : `${m} min ${String(s).padStart(2, '0')} s`;
  }
  const h = Math.floor(seconds / 3600), m = Math.round((seconds - 3600 * h) / 60);
  return `${h} h ${String(m).padStart(2, '0')} min`;
}

function formatValue(key: string, v: number | string): string {
  if (typeof v === 'string') return v;
  if (!Number.isFinite(v)) return String(v);
  if (key === 'acc' || key.endsWith('Acc') || key.endsWith('_acc')) return `${v.toFixed(1)}%`;
  if (Number.isInteger(v)) return String(v);
  const a = Math.abs(v);
  return a !== 0 && (a < 1e-3 || a >= 1e5) ? v.toExponential(2) : v.toPrecision(3);
}

/** Keys shown before the step count (where in the work we are), not after it. */
const POSITION_KEYS = new Set(['epoch', 'stage']);

/** `key value` pairs joined by spaces; `position` selects the epoch/stage keys or the others. */
export function formatInfo(info: ProgressInfo | undefined, position?: boolean): string {
  if (!info) return '';
  const parts: string[] = [];
  for (const [k, v] of Object.entries(info)) {
    if (position === undefined || POSITION_KEYS.has(k) === position) parts.push(`${k} ${formatValue(k, v)}`);
  }
  return parts.join(' ');
}

/** "epoch 2/4 step 300/1716 loss 0.412 acc 86.1%". */
function withCount(info: ProgressInfo | undefined, count: string): string {
  return [formatInfo(info, true), count, formatInfo(info, false)].filter((s) => s !== '').join(' ');
}

/** One progress display; call `tick` per unit of work and `done` at the end. */
export class Progress {
  readonly label: string;
  readonly total: number;
  /** Whether anything is printed at all. */
  readonly enabled: boolean;
  /** Redrawn terminal line (true) or plain log lines (false). */
  readonly tty: boolean;
  private readonly stream: ProgressStream;
  private readonly unit: string;
  private readonly logEveryMs: number;
  private readonly now: () => number;
  private readonly t0: number;
  private count: number;
  private readonly start: number;
  private readonly columns: number | undefined;
  private info: ProgressInfo | undefined;
  private lastDraw = -Infinity;
  private lastLogTime: number;
  /** Next count at which a non-terminal line is due. */
  private nextLogCount: number;
  private lastWidth = 0;
  private finished = false;

  constructor(opts: ProgressOptions) {
    this.label = opts.label;
    this.total = opts.total;
    this.stream = opts.stream ?? process.stderr;
    this.unit = opts.unit ?? 'step';
    this.logEveryMs = (opts.logEverySeconds ?? 30) * 1000;
    this.now = opts.now ?? (() => performance.now());
    this.enabled = opts.enabled !== false && !quiet && process.env.PDIFF_PROGRESS !== '0';
    this.tty = this.stream.isTTY === true;
    this.t0 = this.now();
    this.lastLogTime = this.t0;
    this.start = Math.max(0, opts.start ?? 0);
    this.columns = opts.columns;
    this.count = this.start;
    const every = Math.max(1, Math.ceil(this.total * LOG_FRACTION));
    this.nextLogCount = this.total > 0 ? (Math.floor(this.start / every) + 1) * every : Infinity;
  }

  /** Units done so far. */
  get current(): number {
    return this.count;
  }

  /** Record `n` more units of work and the latest values to show (loss, acc, epoch, ...). */
  tick(n = 1, info?: ProgressInfo): void {
    this.count += n;
    if (info) this.info = info;
    if (!this.enabled || this.finished) return;
    const t = this.now();
    if (this.tty) {
      if (t - this.lastDraw >= REDRAW_MS || (this.total > 0 && this.count >= this.total)) {
        this.lastDraw = t;
        this.draw(t);
      }
      return;
    }
    if (this.count >= this.nextLogCount || t - this.lastLogTime >= this.logEveryMs) {
      this.lastLogTime = t;
      while (this.nextLogCount <= this.count) this.nextLogCount += Math.max(1, Math.ceil(this.total * LOG_FRACTION));
      if (this.total <= 0 || this.count < this.total) this.stream.write(`${this.logLine(t)}\n`);
    }
  }

  /** Finish: a final line with the elapsed time and an optional summary. Idempotent. */
  done(summary?: string | ProgressInfo): void {
    if (this.finished) return;
    this.finished = true;
    if (!this.enabled) return;
    const t = this.now();
    const elapsed = (t - this.t0) / 1000;
    const sum = typeof summary === 'string' ? summary : formatInfo(summary ?? this.info);
    const resumed = this.start > 0 ? ` (${this.count - this.start} after resuming)` : '';
    const line = `[${this.label}] done: ${this.count} ${this.unit}s${resumed} in ${formatDuration(elapsed)}${sum ? `, ${sum}` : ''}`;
    if (this.tty) this.stream.write(`\r${line}\x1b[K\n`);
    else this.stream.write(`${line}\n`);
  }

  private rateAndEta(t: number): { elapsed: number; rate: number; eta: number } {
    const elapsed = (t - this.t0) / 1000;
    const rate = elapsed > 0 ? (this.count - this.start) / elapsed : 0;
    const eta = this.total > 0 && rate > 0 ? Math.max(0, this.total - this.count) / rate : NaN;
    return { elapsed, rate, eta };
  }

  private countText(): string {
    return this.total > 0 ? `${this.unit} ${this.count}/${this.total}` : `${this.unit} ${this.count}`;
  }

  /** The plain (non-terminal) line. */
  logLine(t = this.now()): string {
    const { elapsed, eta } = this.rateAndEta(t);
    const eta_ = Number.isFinite(eta) ? `, ETA ${formatDuration(eta)}` : '';
    return `[${this.label}] ${withCount(this.info, this.countText())} ${formatDuration(elapsed)} elapsed${eta_}`;
  }

  /**
   * The redrawn line, strictly shorter than the terminal width (a line of exactly the width
   * wraps on some terminals). What gives way, in order: the bar shrinks (to 5 characters), the
   * rate goes, the bar goes, the label is shortened; what still does not fit is cut at the end.
   */
  drawLine(t = this.now()): string {
    const { rate, eta } = this.rateAndEta(t);
    const max = terminalColumns(this.stream, this.columns) - 1;
    const frac = this.total > 0 ? Math.min(1, this.count / this.total) : 0;
    const pct = this.total > 0 ? `${(100 * frac).toFixed(0).padStart(3)}% ` : '';
    const eta_ = Number.isFinite(eta) ? ` ETA ${formatDuration(eta)}` : '';
    const count = withCount(this.info, `${this.count}${this.total > 0 ? `/${this.total}` : ''}`);
    const rate_ = ` ${rate.toFixed(1)} ${this.unit}/s`;
    const line = (label: string, barWidth: number, withRate: boolean): string => {
      const filled = Math.round(frac * barWidth);
      const bar = barWidth > 0 ? `${'#'.repeat(filled)}${'.'.repeat(barWidth - filled)} ` : '';
      return `[${label}] ${pct}${bar}${count}${withRate ? rate_ : ''}${eta_}`;
    };
    // the widest bar (and the space after it) that fits beside the rest, or 0 below MIN_BAR_WIDTH
    const barFor = (withRate: boolean): number => {
      const w = this.total > 0 ? Math.min(BAR_WIDTH, max - line(this.label, 0, withRate).length - 1) : 0;
      return w >= MIN_BAR_WIDTH ? w : 0;
    };
    for (const withRate of [true, false]) {
      const w = barFor(withRate);
      if (w > 0 || this.total <= 0) {
        const l = line(this.label, w, withRate);
        if (l.length <= max) return l;
      }
    }
    const bare = line(this.label, 0, false);
    const label = bare.length <= max ? this.label : shorten(this.label, Math.max(MIN_LABEL, this.label.length - (bare.length - max)));
    return shorten(line(label, 0, false), max);
  }

  private draw(t: number): void {
    const line = this.drawLine(t);
    // \x1b[K clears what a longer previous line left behind.
    this.stream.write(`\r${line}${line.length < this.lastWidth ? '\x1b[K' : ''}`);
    this.lastWidth = line.length;
  }
}
