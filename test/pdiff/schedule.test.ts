import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { makeSchedule } from '../../src/pdiff/schedule.js';
import { ddimTimesteps } from '../../src/pdiff/samplers.js';
import { ConfigError, ShapeError } from '../../src/util/errors.js';
import { assertClose } from '../helpers/assert.js';

interface DdpmFixture {
  T: number;
  beta_start: number;
  beta_end: number;
  linear: {
    t: number[]; betas: number[]; alphas_cumprod: number[]; posterior_variance: number[];
    sqrt_alphas_cumprod_487: number; sqrt_one_minus_alphas_cumprod_487: number; alphas_cumprod_sum: number;
  };
  cosine: { t: number[]; betas: number[]; alphas_cumprod: number[] };
  ddim_timesteps: { n: number; t: number[] };
}

// Computed independently in float64 with numpy (test/fixtures/torch-ops.json, section "ddpm").
const fx = (JSON.parse(readFileSync(new URL('../fixtures/torch-ops.json', import.meta.url), 'utf8')) as { ddpm: DdpmFixture }).ddpm;

const linear = makeSchedule('linear', fx.T, { betaStart: fx.beta_start, betaEnd: fx.beta_end });

test('linear schedule matches the numpy float64 tables at t = 0, 1, 487, 999 to 1e-12', () => {
  fx.linear.t.forEach((t, i) => {
    assertClose(linear.betas[t]!, fx.linear.betas[i]!, { rtol: 1e-12 }, `beta_${t}`);
    assertClose(linear.alphasCumprod[t]!, fx.linear.alphas_cumprod[i]!, { rtol: 1e-12 }, `abar_${t}`);
    if (t > 0) assertClose(linear.posteriorVariance[t]!, fx.linear.posterior_variance[i]!, { rtol: 1e-12 }, `posterior variance at ${t}`);
    else assert.equal(linear.posteriorVariance[0], 0);
  });
  assertClose(linear.sqrtAlphasCumprod[487]!, fx.linear.sqrt_alphas_cumprod_487, { rtol: 1e-12 }, 'sqrt abar_487');
  assertClose(linear.sqrtOneMinusAlphasCumprod[487]!, fx.linear.sqrt_one_minus_alphas_cumprod_487, { rtol: 1e-12 }, 'sqrt(1 - abar_487)');
  assertClose(linear.alphasCumprod.reduce((a, b) => a + b, 0), fx.linear.alphas_cumprod_sum, { rtol: 1e-12 }, 'sum of abar');
  assert.equal(linear.T, 1000);
  assert.equal(linear.name, 'linear');
});

test('linear schedule pins (literals, so drift in the fixture or the code is caught)', () => {
  assertClose(linear.alphasCumprod[0]!, 0.9999, { rtol: 1e-12 }, 'abar_0');
  assertClose(linear.alphasCumprod[1]!, 0.9997800920720721, { rtol: 1e-12 }, 'abar_1');
  assertClose(linear.alphasCumprod[487]!, 0.0885857323205931, { rtol: 1e-12 }, 'abar_487');
  assertClose(linear.alphasCumprod[999]!, 4.035829765375676e-05, { rtol: 1e-12 }, 'abar_999');
  assertClose(linear.posteriorVariance[1]!, 5.4531876613021935e-05, { rtol: 1e-12 }, 'sigma^2_1');
  assertClose(linear.posteriorVariance[487]!, 0.00979157198569004, { rtol: 1e-12 }, 'sigma^2_487');
  assertClose(linear.posteriorVariance[999]!, 0.01999998352656061, { rtol: 1e-12 }, 'sigma^2_999');
});

test('cosine schedule (Nichol & Dhariwal, s = 0.008, betas clipped at 0.999) matches numpy to 1e-12', () => {
  const cos = makeSchedule('cosine', fx.T, { betaStart: 1e-4, betaEnd: 0.02 });
  fx.cosine.t.forEach((t, i) => {
    assertClose(cos.betas[t]!, fx.cosine.betas[i]!, { rtol: 1e-12 }, `cosine beta_${t}`);
    assertClose(cos.alphasCumprod[t]!, fx.cosine.alphas_cumprod[i]!, { rtol: 1e-12 }, `cosine abar_${t}`);
  });
  assert.equal(cos.betas[999], 0.999);
  assert.equal(cos.name, 'cosine');
});

test('derived tables follow their definitions (abar_{-1} = 1, clipped log variance, posterior coefficients)', () => {
  const s = linear;
  assert.equal(s.alphasCumprodPrev[0], 1);
  for (const t of [1, 10, 487, 999]) {
    assert.equal(s.alphasCumprodPrev[t], s.alphasCumprod[t - 1]);
    assertClose(s.alphas[t]!, 1 - s.betas[t]!, { rtol: 1e-15 }, `alpha_${t}`);
    assertClose(s.posteriorLogVarianceClipped[t]!, Math.log(s.posteriorVariance[t]!), { rtol: 1e-14 }, `log var ${t}`);
    const ab = s.alphasCumprod[t]!, abp = s.alphasCumprod[t - 1]!;
    assertClose(s.posteriorMeanCoef1[t]!, (s.betas[t]! * Math.sqrt(abp)) / (1 - ab), { rtol: 1e-14 }, `coef1 ${t}`);
    assertClose(s.posteriorMeanCoef2[t]!, ((1 - abp) * Math.sqrt(s.alphas[t]!)) / (1 - ab), { rtol: 1e-14 }, `coef2 ${t}`);
  }
  assert.equal(s.posteriorLogVarianceClipped[0], s.posteriorLogVarianceClipped[1]);
  // At t = 0 the posterior mean is x0 itself: coef1 = 1, coef2 = 0.
  assertClose(s.posteriorMeanCoef1[0]!, 1, { rtol: 1e-12 }, 'coef1 at 0'); // 1 - abar_0 = beta_0 up to cancellation
  assert.equal(s.posteriorMeanCoef2[0], 0);
});

test('qSample is sqrt(abar_t) x0 + sqrt(1 - abar_t) eps per row', () => {
  const x0 = Float32Array.from([1, -2, 0.5, 3, 0.25, -1]);
  const eps = Float32Array.from([0.1, 0.2, -0.3, -1, 2, 0.5]);
  const t = Int32Array.from([0, 487, 999]);
  const out = linear.qSample(x0, t, eps, 3, 2, new Float32Array(6));
  for (let r = 0; r < 3; r++) {
    const ab = linear.alphasCumprod[t[r]!]!;
    for (let c = 0; c < 2; c++) {
      const i = r * 2 + c;
      const want = Math.fround(Math.sqrt(ab) * x0[i]! + Math.sqrt(1 - ab) * eps[i]!);
      assertClose(out[i]!, want, { rtol: 1e-7 }, `qSample[${r}, ${c}]`);
    }
  }
  assert.throws(() => linear.qSample(x0, Int32Array.from([0, 1, 1000]), eps, 3, 2, new Float32Array(6)), ShapeError);
  assert.throws(() => linear.qSample(x0, t, eps, 3, 3, new Float32Array(9)), /qSample: expected x0, eps and out with 3 x 3/);
});

test('qPosterior matches the closed form of q(x_{t-1} | x_t, x_0)', () => {
  const x0 = Float32Array.from([0.3, -0.7, 1.1, 0.0]);
  const xt = Float32Array.from([1.5, 0.2, -0.4, 2.0]);
  for (const t of [1, 487, 999]) {
    const ab = linear.alphasCumprod[t]!, abp = linear.alphasCumprod[t - 1]!, beta = linear.betas[t]!;
    const post = linear.qPosterior(x0, xt, t);
    for (let i = 0; i < 4; i++) {
      const mean = (Math.sqrt(abp) * beta / (1 - ab)) * x0[i]! + (Math.sqrt(1 - beta) * (1 - abp) / (1 - ab)) * xt[i]!;
      assertClose(post.mean[i]!, mean, { rtol: 1e-6 }, `posterior mean t=${t} i=${i}`);
    }
    assertClose(post.variance[0]!, (beta * (1 - abp)) / (1 - ab), { rtol: 1e-14 }, `posterior variance t=${t}`);
    assertClose(post.logVariance[0]!, Math.log((beta * (1 - abp)) / (1 - ab)), { rtol: 1e-13 }, `posterior log variance t=${t}`);
  }
  // One timestep per row.
  const rows = linear.qPosterior(x0, xt, [1, 999]);
  assert.equal(rows.variance.length, 2);
  assert.equal(rows.variance[1], linear.posteriorVariance[999]);
  assert.deepEqual([...rows.mean.subarray(2)], [...linear.qPosterior(x0.subarray(2), xt.subarray(2), 999).mean]);
  // t = 0: the mean is x0 and the log variance is clipped to that of t = 1.
  const p0 = linear.qPosterior(x0, xt, 0);
  assert.deepEqual([...p0.mean], [...x0]);
  assert.equal(p0.variance[0], 0);
  assert.equal(p0.logVariance[0], linear.posteriorLogVarianceClipped[1]);
});

test('ddimTimesteps(1000, 60) matches numpy round(linspace(0, 999, 60))', () => {
  assert.deepEqual([...ddimTimesteps(fx.T, fx.ddim_timesteps.n)], fx.ddim_timesteps.t);
  assert.deepEqual([...ddimTimesteps(10, 4)], [0, 3, 6, 9]);
  // numpy rounds half to even: linspace(0, 9, 7) = 0, 1.5, 3, 4.5, 6, 7.5, 9.
  assert.deepEqual([...ddimTimesteps(10, 7)], [0, 2, 3, 4, 6, 8, 9]);
  assert.deepEqual([...ddimTimesteps(5, 5)], [0, 1, 2, 3, 4]);
  assert.throws(() => ddimTimesteps(1000, 1001), /generate.ddimSteps: expected an integer in \[1, 1000\]/);
});

test('makeSchedule rejects bad arguments with ConfigError', () => {
  assert.throws(() => makeSchedule('linear', 1, { betaStart: 1e-4, betaEnd: 0.02 }), ConfigError);
  assert.throws(() => makeSchedule('linear', 100, { betaStart: 0.02, betaEnd: 1e-4 }), /betaStart < betaEnd/);
  assert.throws(() => makeSchedule('quadratic' as 'linear', 100, { betaStart: 1e-4, betaEnd: 0.02 }), /expected "linear" or "cosine", got "quadratic"/);
});
