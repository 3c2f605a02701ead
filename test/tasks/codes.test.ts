/** Task codes: parsing with errors that name the flag, the fixed code order, the seeded split, Hamming distance. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { allTaskCodes, codeBits, codeSigns, hamming, parseTaskCode, sampleCodes, splitCodes, TaskCodeError } from '../../src/tasks/codes.js';
import { ConfigError } from '../../src/util/errors.js';

describe('parseTaskCode', () => {
  it('returns a valid code unchanged', () => {
    assert.equal(parseTaskCode('0110010011', '--task'), '0110010011');
    assert.equal(parseTaskCode('1000000000', '--task'), '1000000000');
  });

  const bad: Array<[string, string, RegExp]> = [
    ['011001001', 'length', /--task: expected a task code of 10 characters .*"011001001" \(9 characters\)/],
    ['01100100111', 'length', /11 characters/],
    ['', 'length', /0 characters/],
    ['01100x0011', 'characters', /--task: expected only the characters 0 and 1 .*"x" at position 5/],
    ['0110 10011', 'characters', /" " at position 4/],
    ['0000000000', 'all-zeros', /--task: .*no positive class \(all zeros\)/],
    ['1111111111', 'all-ones', /--task: .*no negative class \(all ones\)/],
  ];
  for (const [text, problem, msg] of bad) {
    it(`refuses ${JSON.stringify(text)} (${problem}) naming the flag`, () => {
      assert.throws(() => parseTaskCode(text, '--task'), (e: unknown) => {
        assert.ok(e instanceof TaskCodeError && e instanceof ConfigError);
        assert.equal(e.flag, '--task');
        assert.equal(e.problem, problem);
        assert.equal(e.exitCode, 2);
        assert.match(e.message, msg);
        return true;
      });
    });
  }

  it('takes the code length from `classes`', () => {
    assert.equal(parseTaskCode('0110', 'tasks.code', 4), '0110');
    assert.throws(() => parseTaskCode('0110010011', 'tasks.code', 4), /tasks\.code: expected a task code of 4 characters/);
  });
});

describe('allTaskCodes', () => {
  it('lists the 1,022 codes of 10 classes once each, in lexicographic order, without all-zeros and all-ones', () => {
    const codes = allTaskCodes();
    assert.equal(codes.length, 1022);
    assert.equal(new Set(codes).size, 1022);
    assert.equal(codes[0], '0000000001');
    assert.equal(codes[1], '0000000010');
    assert.equal(codes[1021], '1111111110');
    assert.deepEqual([...codes].sort(), codes);
    for (const c of codes) assert.equal(parseTaskCode(c, 'x'), c);
  });

  it('has 2^C - 2 codes for C classes', () => {
    assert.deepEqual(allTaskCodes(3), ['001', '010', '011', '100', '101', '110']);
    assert.throws(() => allTaskCodes(1), ConfigError);
  });
});

describe('codeBits / codeSigns / hamming', () => {
  it('reads character i as class i', () => {
    assert.deepEqual([...codeBits('0110010011')], [0, 1, 1, 0, 0, 1, 0, 0, 1, 1]);
    assert.deepEqual([...codeSigns('0110010011')], [-1, 1, 1, -1, -1, 1, -1, -1, 1, 1]);
  });

  it('counts the classes on which two codes differ', () => {
    assert.equal(hamming('0110010011', '0110010011'), 0);
    assert.equal(hamming('0110010011', '1110010011'), 1);
    assert.equal(hamming('0110010011', '1001101100'), 10);
    assert.throws(() => hamming('01', '011'), /different lengths/);
  });
});

describe('splitCodes', () => {
  it('is exact and seeded: pinned unseen codes for seed 0', () => {
    const s = splitCodes({ seed: 0, unseenCount: 50 });
    assert.equal(s.unseen.length, 50);
    assert.equal(s.seen.length, 972);
    assert.deepEqual(s.unseen.slice(0, 5), ['0000010000', '0000111011', '0001001001', '0001101001', '0010001000']);
    assert.equal(s.seed, 0);
    assert.equal(s.classes, 10);
  });

  it('partitions the codes, both lists in allTaskCodes order, and reproduces from the seed', () => {
    const a = splitCodes({ seed: 123, unseenCount: 100 });
    const b = splitCodes({ seed: 123, unseenCount: 100 });
    assert.deepEqual(a, b);
    const all = allTaskCodes();
    assert.deepEqual([...a.seen, ...a.unseen].sort(), all);
    const seen = new Set(a.seen);
    assert.ok(a.unseen.every((c) => !seen.has(c)));
    const index = new Map(all.map((c, i) => [c, i]));
    for (const list of [a.seen, a.unseen]) for (let i = 1; i < list.length; i++) assert.ok(index.get(list[i - 1]!)! < index.get(list[i]!)!);
    assert.notDeepEqual(splitCodes({ seed: 124, unseenCount: 100 }).unseen, a.unseen);
  });

  it('takes a fraction: round(f * 1022) codes', () => {
    const s = splitCodes({ seed: 7, unseenFraction: 0.1 });
    assert.equal(s.unseen.length, 102);
    assert.deepEqual(s.unseen.slice(0, 3), ['0000011000', '0000011011', '0000100110']);
    assert.equal(splitCodes({ seed: 7, unseenFraction: 0.0001 }).unseen.length, 1);
  });

  it('refuses neither or both sizes, and sizes out of range', () => {
    assert.throws(() => splitCodes({ seed: 0 }), /exactly one of unseenCount and unseenFraction/);
    assert.throws(() => splitCodes({ seed: 0, unseenCount: 5, unseenFraction: 0.1 }), /exactly one/);
    assert.throws(() => splitCodes({ seed: 0, unseenCount: 0 }), /unseenCount must be an integer in \[1, 1021\], got 0/);
    assert.throws(() => splitCodes({ seed: 0, unseenCount: 1022 }), /got 1022/);
    assert.throws(() => splitCodes({ seed: 0, unseenFraction: 1 }), /unseenFraction must be in \(0, 1\)/);
    assert.throws(() => splitCodes({ seed: -1, unseenCount: 3 }), /seed must be an integer/);
  });
});

describe('sampleCodes', () => {
  it('picks n codes by seed, in list order', () => {
    const seen = splitCodes({ seed: 0, unseenCount: 50 }).seen;
    const a = sampleCodes(seen, 20, 3);
    assert.equal(a.length, 20);
    assert.deepEqual(a, sampleCodes(seen, 20, 3));
    assert.notDeepEqual(a, sampleCodes(seen, 20, 4));
    const at = a.map((c) => seen.indexOf(c));
    assert.ok(at.every((i, j) => i >= 0 && (j === 0 || i > at[j - 1]!)));
    assert.deepEqual(sampleCodes(seen.slice(0, 3), 5, 0), seen.slice(0, 3));
    assert.throws(() => sampleCodes(seen, -1, 0), /non-negative integer/);
  });
});
