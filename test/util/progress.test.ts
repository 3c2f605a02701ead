import { afterEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FormatError } from '../../src/util/errors.js';
import { JsonlLog, readJsonl } from '../../src/util/jsonl.js';
import { Progress, formatDuration, setQuiet } from '../../src/util/progress.js';

/** A fake stream and a hand-driven clock. */
function harness(tty: boolean): { stream: { isTTY: boolean; write(s: string): boolean }; out: string[]; clock: { t: number }; now: () => number } {
  const out: string[] = [];
  const clock = { t: 0 };
  return { stream: { isTTY: tty, write: (s: string) => { out.push(s); return true; } }, out, clock, now: () => clock.t };
}

afterEach(() => {
  setQuiet(false);
  delete process.env.PDIFF_PROGRESS;
});

describe('Progress', () => {
  it('not a TTY: plain lines at most every ~10 % with count, loss, acc, elapsed and ETA', () => {
    const h = harness(false);
    const p = new Progress({ label: 'base', total: 100, stream: h.stream, now: h.now });
    for (let i = 0; i < 100; i++) {
      h.clock.t += 100; // 0.1 s per step
      p.tick(1, { epoch: '2/4', loss: 0.41234, acc: 86.123 });
    }
    p.done();
    // 9 progress lines (10 %, ..., 90 %) and the final one.
    assert.equal(h.out.length, 10);
    assert.equal(h.out[2], '[base] epoch 2/4 step 30/100 loss 0.412 acc 86.1% 3.0 s elapsed, ETA 7.0 s\n');
    assert.match(h.out[9]!, /^\[base\] done: 100 steps in 10 s, epoch 2\/4 loss 0.412 acc 86.1%\n$/);
    assert.ok(h.out.every((l) => !l.includes('\r')));
  });

  it('a resumed run counts the units done before it, but its rate and ETA only from its own', () => {
    const h = harness(false);
    const p = new Progress({ label: 'ae', total: 100, stream: h.stream, now: h.now, start: 60 });
    for (let i = 0; i < 40; i++) {
      h.clock.t += 1000; // 1 s per step in this run
      p.tick(1);
    }
    p.done();
    // lines at 70, 80, 90 % (none for the resumed 10 ... 60 %), then the final one
    assert.equal(h.out.length, 4);
    assert.equal(h.out[0], '[ae] step 70/100 10 s elapsed, ETA 30 s\n');
    assert.match(h.out[3]!, /^\[ae\] done: 100 steps \(40 after resuming\) in 40 s\n$/);
  });

  it('not a TTY: a slow run also logs every logEverySeconds', () => {
    const h = harness(false);
    const p = new Progress({ label: 'x', total: 1000, stream: h.stream, now: h.now, logEverySeconds: 5 });
    h.clock.t = 6000;
    p.tick(1);
    assert.equal(h.out.length, 1);
    h.clock.t = 7000;
    p.tick(1);
    assert.equal(h.out.length, 1);
  });

  it('TTY: redraws one line with \\r at most ~10 times per second, then ends it with a newline', () => {
    const h = harness(true);
    const p = new Progress({ label: 'collect', total: 200, stream: h.stream, now: h.now, unit: 'ckpt' });
    for (let i = 0; i < 200; i++) {
      h.clock.t += 10; // 100 ticks per second
      p.tick(1, { loss: 0.5 });
    }
    p.done('ok');
    const draws = h.out.filter((s) => s.startsWith('\r') && !s.endsWith('\n'));
    assert.ok(draws.length >= 18 && draws.length <= 22, `${draws.length} redraws in 2 s`);
    assert.match(draws[draws.length - 1]!, /100% #{20} 200\/200 loss 0.500 100.0 ckpt\/s ETA 0.0 s/);
    assert.equal(h.out[h.out.length - 1], '\r[collect] done: 200 ckpts in 2.0 s, ok\x1b[K\n');
  });

  it('prints nothing when disabled, quiet, or PDIFF_PROGRESS=0', () => {
    for (const setup of [
      () => ({ enabled: false }),
      () => { setQuiet(true); return {}; },
      () => { process.env.PDIFF_PROGRESS = '0'; return {}; },
    ]) {
      const h = harness(true);
      const p = new Progress({ label: 'q', total: 10, stream: h.stream, now: h.now, ...setup() });
      for (let i = 0; i < 10; i++) { h.clock.t += 1000; p.tick(); }
      p.done();
      assert.deepEqual(h.out, []);
      setQuiet(false);
      delete process.env.PDIFF_PROGRESS;
    }
  });

  it('formats durations', () => {
    assert.equal(formatDuration(3.21), '3.2 s');
    assert.equal(formatDuration(42.4), '42 s');
    assert.equal(formatDuration(125), '2 min 05 s');
    assert.equal(formatDuration(3720), '1 h 02 min');
    assert.equal(formatDuration(NaN), '?');
  });
});

describe('JsonlLog / readJsonl', () => {
  const dir = mkdtempSync(join(tmpdir(), 'pdiff-jsonl-'));
  process.on('exit', () => rmSync(dir, { recursive: true, force: true }));

  it('appends one JSON object per line (creating folders) and reads them back', () => {
    const path = join(dir, 'a', 'b', 'log.jsonl');
    const log = new JsonlLog(path);
    log.write({ step: 1, loss: 0.5 });
    log.write({ step: 2, loss: NaN, tag: 'x' });
    assert.deepEqual(readJsonl(path), [{ step: 1, loss: 0.5 }, { step: 2, loss: null, tag: 'x' }]);
  });

  it('drops a final line cut short by a crash; any other bad line is a FormatError with its number', () => {
    const path = join(dir, 'cut.jsonl');
    writeFileSync(path, '{"a":1}\n\n{"a":2}\n');
    appendFileSync(path, '{"a":');
    assert.deepEqual(readJsonl(path), [{ a: 1 }, { a: 2 }]);
    const bad = join(dir, 'bad.jsonl');
    writeFileSync(bad, '{"a":1}\nnot json\n{"a":2}\n');
    assert.throws(() => readJsonl(bad), (e: unknown) => e instanceof FormatError && e.message.startsWith(`${bad}: line 2 is not valid JSON`));
    assert.throws(() => readJsonl(join(dir, 'missing.jsonl')), FormatError);
  });
});
