/**
 * Forward values and gradients against numbers computed once by PyTorch in float64
 * (scripts/torch/make_fixtures.py -> test/fixtures/torch-ops.json). No Python at test time.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Adam, AdamW, EMA, SGD, clipGradNorm, cosineLr, linearLr } from '../../src/nn/index.js';
import * as ops from '../../src/tensor/ops.js';
import { Tensor, backward } from '../../src/tensor/tensor.js';
import { be64 } from '../helpers/gradcheck.js';
import { assertClose } from '../helpers/assert.js';

import { fx, run, type Arr, type Case } from '../helpers/torch-cases.js';

describe('ops match PyTorch (float64 fixtures)', () => {
  for (const c of fx.cases as Case[]) {
    it(c.name, () => {
      if (c.op === 'timestep_embedding') {
        const emb = ops.timestepEmbedding(c.inputs.t!.data, c.attrs.dim, be64);
        assertClose(emb.toArray(), c.output.data, { rtol: 1e-9, atol: 1e-9 }, c.name);
        return;
      }
      const t: Record<string, Tensor> = {};
      for (const [k, v] of Object.entries(c.inputs)) {
        if (c.op === 'cross_entropy' && k === 'target') continue;
        t[k] = new Tensor(be64.fromArray(v.data), v.shape, be64, (c.requires_grad ?? []).includes(k));
      }
      const y = c.op === 'cross_entropy'
        ? ops.crossEntropy(t.input!, Int32Array.from(c.inputs.target!.data), { labelSmoothing: c.attrs.label_smoothing })
        : run(c, t);
      assertClose(y.toArray(), c.output.data, { rtol: 1e-9, atol: 1e-9 }, `${c.name} output`);
      if (c.running_mean_after) assertClose(t.running_mean!.toArray(), c.running_mean_after.data, { rtol: 1e-9, atol: 1e-9 }, `${c.name} running_mean`);
      if (c.running_var_after) assertClose(t.running_var!.toArray(), c.running_var_after.data, { rtol: 1e-9, atol: 1e-9 }, `${c.name} running_var`);
      if (c.grads && Object.keys(c.grads).length) {
        const up = new Tensor(be64.fromArray(c.upstream!.data), y.shape, be64);
        backward(ops.sum(ops.mul(y, up)));
        for (const [k, g] of Object.entries(c.grads)) assertClose(t[k]!.grad!.toArray(), g.data, { rtol: 1e-9, atol: 1e-9 }, `${c.name} grad ${k}`);
      }
    });
  }
});

describe('optimisers, clipping, schedules and EMA match PyTorch', () => {
  for (const o of fx.optim) {
    it(o.name, () => {
      const p = new Tensor(be64.fromArray(o.param0.data), o.param0.shape, be64, true);
      const h = o.hyper;
      const opt = o.optimizer === 'AdamW' ? new AdamW([p], { lr: h.lr, betas: h.betas, eps: h.eps, weightDecay: h.weight_decay })
        : o.optimizer === 'Adam' ? new Adam([p], { lr: h.lr, betas: h.betas, eps: h.eps, weightDecay: h.weight_decay })
          : new SGD([p], { lr: h.lr, momentum: h.momentum, dampening: h.dampening, nesterov: h.nesterov, weightDecay: h.weight_decay });
      o.grads.forEach((g: Arr, i: number) => {
        p.grad = new Tensor(be64.fromArray(g.data), g.shape, be64);
        opt.step();
        assertClose(p.toArray(), o.params_after[i].data, { rtol: 1e-12, atol: 1e-12 }, `${o.name} step ${i + 1}`);
      });
    });
  }
  for (const c of fx.clip_grad_norm) {
    it(c.name, () => {
      const ps = c.grads_before.map((g: Arr) => {
        const p = new Tensor(be64.alloc(g.data.length), g.shape, be64, true);
        p.grad = new Tensor(be64.fromArray(g.data), g.shape, be64);
        return p;
      });
      const norm = clipGradNorm(ps, c.max_norm);
      assert.ok(Math.abs(norm - c.total_norm) < 1e-12 * (1 + c.total_norm));
      ps.forEach((p: Tensor, i: number) => assertClose(p.grad!.toArray(), c.grads_after[i].data, { rtol: 1e-12, atol: 1e-12 }, `${c.name} grad ${i}`));
    });
  }
  for (const s of fx.schedules) {
    it(`schedule ${s.name}`, () => {
      const f = s.kind === 'cosine' ? cosineLr(s.lr0, s.T_max, s.eta_min) : linearLr(s.lr0, s.start_factor, s.end_factor, s.total_iters);
      s.steps.forEach((i: number, k: number) => assert.ok(Math.abs(f(i) - s.lr[k]) < 1e-15 + 1e-12 * s.lr[k], `${s.name} step ${i}: ${f(i)} vs ${s.lr[k]}`));
    });
  }
  for (const e of fx.ema) {
    it(e.name, () => {
      const p = new Tensor(be64.fromArray(e.param0.data), e.param0.shape, be64, true);
      const ema = new EMA([p], e.decay);
      e.params.forEach((q: Arr, i: number) => {
        be64.write(p.storage, q.data);
        ema.update();
        assertClose(be64.read(ema.shadow[0]!), e.shadow_after[i].data, { rtol: 1e-12, atol: 1e-12 }, `${e.name} update ${i + 1}`);
      });
    });
  }
});
