import { test } from 'node:test';
import assert from 'node:assert/strict';
import { erf, erfSeries } from '../../src/backend/cpu/elementwise.js';

// reference values: Python's math.erf (glibc), to the last digit printed
const KNOWN: Array<[number, number]> = [
  [0, 0], [1e-10, 1.1283791670955126e-10], [0.1, 0.1124629160182849], [0.5, 0.5204998778130465],
  [1, 0.8427007929497149], [1.7, 0.9837904585907745], [2, 0.9953222650189527], [2.9655, 0.9999725741009962],
  [3, 0.9999779095030014], [4.2, 0.9999999971445058], [5.99, 1], [6, 1], [40, 1],
];

test('erf: the table of Taylor polynomials matches known values to a few ulp, odd, saturating', () => {
  for (const [x, want] of KNOWN) {
    assert.ok(Math.abs(erf(x) - want) <= 4.5e-16 * Math.max(1, Math.abs(want)), `erf(${x}) = ${erf(x)}, want ${want}`);
    assert.ok(erf(-x) === -erf(x), `erf is odd at ${x}`);
  }
  assert.ok(Number.isNaN(erf(Number.NaN)));
  assert.equal(erf(Infinity), 1);
  assert.equal(erf(-Infinity), -1);
});

test('erf: agrees with the series it is built from across [-7, 7], grid points and midpoints included', () => {
  let worst = 0;
  for (let i = 0; i <= 20_000; i++) {
    const x = -7 + (14 * i) / 20_000;
    worst = Math.max(worst, Math.abs(erf(x) - erfSeries(x)));
  }
  // midpoints between table points (|h| = 1/128, the largest step of the polynomial)
  for (let j = 0; j < 6 * 64; j++) {
    const x = (j + 0.5) / 64;
    worst = Math.max(worst, Math.abs(erf(x) - erfSeries(x)));
  }
  assert.ok(worst < 1.2e-15, `largest difference ${worst}`);
});
