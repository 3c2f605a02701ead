/**
 * Terminal progress lines fit the terminal: a redrawn line as wide as the terminal wraps, and
 * every later \r redraw then leaves the wrapped part behind (a trail of half lines).
 */
import { afterEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Progress, terminalColumns } from '../../src/util/progress.js';

/** A fake terminal of `columns` characters (or none) and a hand-driven clock. */
function terminal(columns?: number): { stream: { isTTY: boolean; columns?: number; write(s: string): boolean }; draws: () => string[]; tick: () => number } {
  const out: string[] = [];
  let t = 0;
  return {
    stream: { isTTY: true, columns, write: (s: string) => { out.push(s); return true; } },
    // the visible text of each redraw (no \r, no clear-to-end-of-line), not the final "done" line
    draws: () => out.filter((s) => !s.endsWith('\n')).map((s) => s.replace(/\r/g, '').replace(/\x1b\[K/g, '')),
    tick: () => (t += 150),
  };
}

const LONG_LABEL = 'evaluate noise_0.001 on the corrupted test sets of a very long run name';

afterEach(() => { delete process.env.COLUMNS; });

describe('Progress on a terminal', () => {
  for (const width of [40, 80, 120]) {
    it(`keeps every redraw shorter than ${width} columns, however long the label and values`, () => {
      for (const label of ['base', 'evaluate shift', LONG_LABEL]) {
        const term = terminal();
        const p = new Progress({ label, total: 123_450, stream: term.stream, now: term.tick, unit: 'model-chunk', columns: width });
        for (let i = 0; i < 50; i++) p.tick(2469, { epoch: '12/30', loss: 0.0123456, acc: 86.25, corruption: 'gaussian_noise 5' });
        const draws = term.draws();
        assert.ok(draws.length >= 40, `${draws.length} redraws`);
        for (const d of draws) assert.ok(d.length < width, `${d.length} characters on a ${width}-column terminal: ${JSON.stringify(d)}`);
        // what matters most stays: the label's start and the count
        assert.match(draws.at(-1)!, /^\[/);
        if (width >= 80) assert.match(draws.at(-1)!, /123450\/123450/);
      }
    });
  }

  it('keeps the full bar and label when the line fits', () => {
    const term = terminal();
    const p = new Progress({ label: 'collect', total: 200, stream: term.stream, now: term.tick, unit: 'ckpt', columns: 120 });
    p.tick(100, { loss: 0.5 });
    assert.match(term.draws()[0]!, /^\[collect\]  50% #{10}\.{10} 100\/200 loss 0\.500 /);
  });

  it('gives way in order: the bar shrinks, the rate goes, the bar goes, the label is shortened', () => {
    const draw = (columns: number): string => {
      const term = terminal();
      const p = new Progress({ label: 'evaluate shift', total: 1200, stream: term.stream, now: term.tick, unit: 'model-chunk', columns });
      p.tick(600, { on: 'gaussian_noise 5' });
      return term.draws()[0]!;
    };
    assert.equal(draw(120), '[evaluate shift]  50% ##########.......... 600/1200 on gaussian_noise 5 4000.0 model-chunk/s ETA 0.1 s');
    assert.equal(draw(95), '[evaluate shift]  50% ######...... 600/1200 on gaussian_noise 5 4000.0 model-chunk/s ETA 0.1 s');
    assert.equal(draw(80), '[evaluate shift]  50% #########......... 600/1200 on gaussian_noise 5 ETA 0.1 s');
    assert.equal(draw(60), '[evaluate shi…]  50% 600/1200 on gaussian_noise 5 ETA 0.1 s');
  });

  it('reads the width from the stream, then $COLUMNS, then assumes 80', () => {
    assert.equal(terminalColumns({ isTTY: true, columns: 57, write: () => true }), 57);
    process.env.COLUMNS = '66';
    assert.equal(terminalColumns({ isTTY: true, write: () => true }), 66);
    assert.equal(terminalColumns({ isTTY: true, columns: 57, write: () => true }, 100), 100);
    delete process.env.COLUMNS;
    assert.equal(terminalColumns({ isTTY: true, write: () => true }), 80);

    const term = terminal(45);
    const p = new Progress({ label: LONG_LABEL, total: 1000, stream: term.stream, now: term.tick });
    p.tick(500, { loss: 1.5 });
    assert.ok(term.draws()[0]!.length < 45, term.draws()[0]);
  });
});
