#!/usr/bin/python3
"""Reference numbers from PyTorch for pdiff's op, optimiser and schedule tests.

Writes test/fixtures/torch-ops.json. Run once with Debian's PyTorch build:

    /usr/bin/python3 scripts/torch/make_fixtures.py [--out test/fixtures/torch-ops.json]

The tests never call Python; they read the committed JSON.

File layout (every tensor is {"shape": [...], "data": [flat row-major numbers]},
a scalar has shape [] and one datum):

* "cases": ops in float64. Each case has name, op, attrs (PyTorch's argument
  names, snake_case), inputs, and, unless forward-only, upstream R and grads of
  loss = sum(output * R) for every float input ("requires_grad" lists them).
  Integer inputs (cross_entropy targets) have "dtype": "int64". Extra outputs
  (batch-norm running statistics) are extra top-level tensor entries.
* "optim": optimiser runs (3 steps from param0 with fixed grads per step).
* "clip_grad_norm", "schedules", "ema": see the entries' "formula" fields.
* "ddpm": schedule tables computed in float64 numpy (SPEC section 7).
"""

import argparse
import json
import math
import os

import numpy as np
import torch
import torch.nn.functional as F

torch.set_default_dtype(torch.float64)
DT = torch.float64


def tj(t):
    """Tensor -> {"shape", "data"} with exact float64 reprs (or ints)."""
    t = t.detach().cpu()
    if t.dtype in (torch.int64, torch.int32):
        data = [int(v) for v in t.reshape(-1).tolist()]
    else:
        data = [float(v) for v in t.double().reshape(-1).tolist()]
    out = {"shape": list(t.shape), "data": data}
    if t.dtype == torch.int64:
        out["dtype"] = "int64"
    return out


def arr(a):
    a = np.asarray(a, dtype=np.float64)
    return {"shape": list(a.shape), "data": [float(v) for v in a.reshape(-1)]}


class Rng:
    """One torch.Generator per fixture section so adding a case elsewhere does not shift values."""

    def __init__(self, seed):
        self.g = torch.Generator().manual_seed(seed)

    def randn(self, *shape):
        return torch.randn(tuple(shape), generator=self.g, dtype=DT)

    def rand(self, *shape):
        return torch.rand(tuple(shape), generator=self.g, dtype=DT)

    def randint(self, high, shape):
        return torch.randint(0, high, shape, generator=self.g)

    def distinct(self, *shape):
        """Values with no ties (for max pooling): a random permutation scaled to ~N(0,1) size."""
        n = int(np.prod(shape))
        perm = torch.randperm(n, generator=self.g).to(DT)
        return ((perm - n / 2) / (n / 4) + 0.01 * self.rand(n)).reshape(shape)


CASES = []


def case(name, op, attrs, inputs, fn, grad_inputs=None, rng=None, extra=None, forward_only=False):
    """Record fn(**inputs). grad_inputs: names of inputs that require grad (default: all float)."""
    if grad_inputs is None:
        grad_inputs = [k for k, v in inputs.items() if v.is_floating_point()]
    leaves = {}
    for k, v in inputs.items():
        leaf = v.clone()
        if k in grad_inputs and not forward_only:
            leaf.requires_grad_(True)
        leaves[k] = leaf
    res = fn(**leaves)
    extras = {}
    if isinstance(res, tuple):
        res, extras = res
    rec = {
        "name": name,
        "op": op,
        "attrs": attrs,
        "inputs": {k: tj(v) for k, v in inputs.items()},
    }
    if forward_only:
        rec["output"] = tj(res)
    else:
        upstream = rng.randn(*res.shape)
        (res * upstream).sum().backward()
        rec["requires_grad"] = list(grad_inputs)
        rec["upstream"] = tj(upstream)
        rec["output"] = tj(res)
        rec["grads"] = {k: tj(leaves[k].grad) for k in grad_inputs}
    for k, v in extras.items():
        rec[k] = tj(v)
    if extra:
        rec.update(extra)
    CASES.append(rec)


def make_cases():
    r = Rng(1234)

    # ---- matmul / linear ----
    case("matmul_2d", "matmul", {}, {"a": r.randn(3, 4), "b": r.randn(4, 5)},
         lambda a, b: a @ b, rng=r)
    case("linear", "linear", {}, {"x": r.randn(4, 5), "w": r.randn(3, 5), "b": r.randn(3)},
         lambda x, w, b: F.linear(x, w, b), rng=r,
         extra={"note": "output = x @ w^T + b"})

    # ---- conv2d ----
    conv2d_specs = [
        ("conv2d_stride1_pad0", 1, 0, True, (2, 3, 5, 6), (4, 3, 3, 3)),
        ("conv2d_stride1_pad1_nobias", 1, 1, False, (2, 3, 5, 6), (4, 3, 3, 3)),
        ("conv2d_stride2_pad1", 2, 1, True, (2, 3, 7, 6), (4, 3, 3, 3)),
        ("conv2d_stride2_pad0_nobias", 2, 0, False, (1, 2, 7, 8), (3, 2, 3, 3)),
        ("conv2d_k1", 1, 0, True, (2, 3, 4, 5), (2, 3, 1, 1)),
        ("conv2d_cnn_s_conv1", 1, 1, False, (2, 1, 6, 5), (4, 1, 3, 3)),
    ]
    for name, s, p, bias, xs, ws in conv2d_specs:
        inputs = {"x": r.randn(*xs), "w": r.randn(*ws)}
        if bias:
            inputs["b"] = r.randn(ws[0])
        case(name, "conv2d", {"stride": s, "padding": p, "bias": bias}, inputs,
             lambda x, w, b=None, s=s, p=p: F.conv2d(x, w, b, stride=s, padding=p), rng=r)

    # ---- conv1d / conv_transpose1d (autoencoder and denoiser layers) ----
    case("conv1d_k7_s2_p3", "conv1d", {"stride": 2, "padding": 3, "bias": True},
         {"x": r.randn(2, 3, 16), "w": r.randn(4, 3, 7), "b": r.randn(4)},
         lambda x, w, b: F.conv1d(x, w, b, stride=2, padding=3), rng=r)
    case("conv1d_k7_s1_p3", "conv1d", {"stride": 1, "padding": 3, "bias": True},
         {"x": r.randn(2, 2, 9), "w": r.randn(3, 2, 7), "b": r.randn(3)},
         lambda x, w, b: F.conv1d(x, w, b, stride=1, padding=3), rng=r)
    case("conv_transpose1d_k7_s2_p3_op1", "conv_transpose1d",
         {"stride": 2, "padding": 3, "output_padding": 1, "bias": True},
         {"x": r.randn(2, 4, 8), "w": r.randn(4, 3, 7), "b": r.randn(3)},
         lambda x, w, b: F.conv_transpose1d(x, w, b, stride=2, padding=3, output_padding=1), rng=r,
         extra={"note": "weight shape [cin, cout, k]"})

    # ---- batch norm ----
    def bn_case(name, xshape, training):
        c = xshape[1]
        inputs = {"x": r.randn(*xshape), "w": 1 + 0.3 * r.randn(c), "b": 0.3 * r.randn(c),
                  "running_mean": 0.5 * r.randn(c), "running_var": 0.5 + r.rand(c)}

        def fn(x, w, b, running_mean, running_var):
            rm, rv = running_mean.clone(), running_var.clone()
            y = F.batch_norm(x, rm, rv, w, b, training=training, momentum=0.1, eps=1e-5)
            return y, {"running_mean_after": rm, "running_var_after": rv}

        case(name, "batch_norm", {"training": training, "momentum": 0.1, "eps": 1e-5},
             inputs, fn, grad_inputs=["x", "w", "b"], rng=r,
             extra={"note": "w = weight, b = bias; running_* are inputs, *_after the updated buffers "
                            "(training: running = 0.9 running + 0.1 batch, unbiased var)"})

    bn_case("batch_norm2d_train", (3, 3, 4, 5), True)
    bn_case("batch_norm2d_eval", (3, 3, 4, 5), False)
    bn_case("batch_norm1d_train_nc", (6, 4), True)
    bn_case("batch_norm1d_train_ncl", (3, 4, 5), True)
    bn_case("batch_norm1d_eval_ncl", (3, 4, 5), False)

    # ---- layer / group / instance norm ----
    case("layer_norm", "layer_norm", {"normalized_shape": [6], "eps": 1e-5},
         {"x": r.randn(3, 4, 6), "w": 1 + 0.3 * r.randn(6), "b": 0.3 * r.randn(6)},
         lambda x, w, b: F.layer_norm(x, [6], w, b, eps=1e-5), rng=r)
    case("group_norm", "group_norm", {"num_groups": 2, "eps": 1e-5},
         {"x": r.randn(2, 4, 5), "w": 1 + 0.3 * r.randn(4), "b": 0.3 * r.randn(4)},
         lambda x, w, b: F.group_norm(x, 2, w, b, eps=1e-5), rng=r)
    case("group_norm_4d", "group_norm", {"num_groups": 2, "eps": 1e-5},
         {"x": r.randn(2, 4, 3, 3), "w": 1 + 0.3 * r.randn(4), "b": 0.3 * r.randn(4)},
         lambda x, w, b: F.group_norm(x, 2, w, b, eps=1e-5), rng=r)
    case("instance_norm1d_affine", "instance_norm", {"eps": 1e-5, "affine": True},
         {"x": r.randn(2, 3, 6), "w": 1 + 0.3 * r.randn(3), "b": 0.3 * r.randn(3)},
         lambda x, w, b: F.instance_norm(x, weight=w, bias=b, use_input_stats=True, eps=1e-5), rng=r)

    # ---- activations (x ~ 2 N(0,1), no exact zeros) ----
    acts = [
        ("relu", "relu", {}, F.relu),
        ("leaky_relu", "leaky_relu", {"negative_slope": 0.01}, lambda x: F.leaky_relu(x, 0.01)),
        ("elu", "elu", {"alpha": 1.0}, lambda x: F.elu(x, 1.0)),
        ("silu", "silu", {}, F.silu),
        ("gelu", "gelu", {"approximate": "none"}, lambda x: F.gelu(x)),
        ("gelu_tanh", "gelu", {"approximate": "tanh"}, lambda x: F.gelu(x, approximate="tanh")),
        ("tanh", "tanh", {}, torch.tanh),
        ("sigmoid", "sigmoid", {}, torch.sigmoid),
    ]
    for name, op, attrs, f in acts:
        case(name, op, attrs, {"x": 2 * r.randn(3, 7)}, lambda x, f=f: f(x), rng=r)

    # ---- pooling ----
    case("max_pool2d_k2_s2", "max_pool2d", {"kernel_size": 2, "stride": 2, "padding": 0},
         {"x": r.distinct(2, 2, 6, 8)}, lambda x: F.max_pool2d(x, 2, 2), rng=r)
    case("max_pool2d_k3_s2_p1", "max_pool2d", {"kernel_size": 3, "stride": 2, "padding": 1},
         {"x": r.distinct(2, 2, 7, 8)}, lambda x: F.max_pool2d(x, 3, 2, 1), rng=r)
    case("avg_pool2d_k2_s2", "avg_pool2d", {"kernel_size": 2, "stride": 2, "padding": 0},
         {"x": r.randn(2, 2, 6, 8)}, lambda x: F.avg_pool2d(x, 2, 2), rng=r)
    case("avg_pool2d_k3_s1_p1", "avg_pool2d",
         {"kernel_size": 3, "stride": 1, "padding": 1, "count_include_pad": True},
         {"x": r.randn(2, 2, 5, 6)},
         lambda x: F.avg_pool2d(x, 3, 1, 1, count_include_pad=True), rng=r)
    case("adaptive_avg_pool2d_1", "adaptive_avg_pool2d", {"output_size": 1},
         {"x": r.randn(2, 3, 4, 5)}, lambda x: F.adaptive_avg_pool2d(x, 1), rng=r,
         extra={"note": "global average pool; output [N, C, 1, 1]"})

    # ---- broadcasting binary ops ----
    case("add_broadcast", "add", {}, {"a": r.randn(2, 3, 4), "b": r.randn(3, 1)},
         lambda a, b: a + b, rng=r)
    case("sub_broadcast", "sub", {}, {"a": r.randn(2, 3, 4), "b": r.randn(4)},
         lambda a, b: a - b, rng=r)
    case("mul_broadcast", "mul", {}, {"a": r.randn(2, 1, 4), "b": r.randn(3, 1)},
         lambda a, b: a * b, rng=r)
    case("div_broadcast", "div", {}, {"a": r.randn(2, 3, 4), "b": 0.5 + r.rand(1, 3, 1)},
         lambda a, b: a / b, rng=r)
    case("add_broadcast_time_embedding", "add", {},
         {"a": r.randn(2, 3, 5), "b": r.randn(2, 1, 5)}, lambda a, b: a + b, rng=r,
         extra={"note": "the denoiser's [B,1,d] time embedding added to [B,C,d]"})

    # ---- reductions ----
    for name, op, dim, keep in [("sum_dim1", "sum", [1], False),
                                ("sum_dim02_keepdim", "sum", [0, 2], True),
                                ("sum_all", "sum", None, False),
                                ("mean_dim2", "mean", [2], False),
                                ("mean_dim1_keepdim", "mean", [1], True),
                                ("mean_all", "mean", None, False)]:
        f = torch.sum if op == "sum" else torch.mean

        def fn(x, f=f, dim=dim, keep=keep):
            return f(x) if dim is None else f(x, dim=dim, keepdim=keep)

        case(name, op, {"dim": dim, "keepdim": keep}, {"x": r.randn(2, 3, 4)}, fn, rng=r)

    # ---- shape ops ----
    case("reshape", "reshape", {"shape": [4, 6]}, {"x": r.randn(2, 3, 4)},
         lambda x: x.reshape(4, 6), rng=r)
    case("permute", "permute", {"dims": [2, 0, 1]}, {"x": r.randn(2, 3, 4)},
         lambda x: x.permute(2, 0, 1), rng=r)
    case("cat_dim1", "cat", {"dim": 1},
         {"a": r.randn(2, 3, 4), "b": r.randn(2, 2, 4)},
         lambda a, b: torch.cat([a, b], dim=1), rng=r, extra={"note": "cat([a, b], dim=1)"})
    case("narrow", "narrow", {"dim": 1, "start": 1, "length": 3}, {"x": r.randn(3, 6)},
         lambda x: x.narrow(1, 1, 3), rng=r, extra={"note": "slice x[:, 1:4]"})
    case("pad_constant", "pad", {"pad": [2, 1], "mode": "constant", "value": 0.0},
         {"x": r.randn(2, 3, 5)}, lambda x: F.pad(x, (2, 1), "constant", 0.0), rng=r)
    case("pad_constant_end_value", "pad", {"pad": [0, 3], "mode": "constant", "value": 0.5},
         {"x": r.randn(2, 5)}, lambda x: F.pad(x, (0, 3), "constant", 0.5), rng=r)

    # ---- softmax family and losses ----
    case("softmax", "softmax", {"dim": -1}, {"x": 2 * r.randn(3, 5)},
         lambda x: F.softmax(x, dim=-1), rng=r)
    case("log_softmax", "log_softmax", {"dim": -1}, {"x": 2 * r.randn(3, 5)},
         lambda x: F.log_softmax(x, dim=-1), rng=r)
    case("cross_entropy", "cross_entropy", {"reduction": "mean", "label_smoothing": 0.0},
         {"input": 2 * r.randn(4, 5), "target": r.randint(5, (4,))},
         lambda input, target: F.cross_entropy(input, target), rng=r)
    case("cross_entropy_label_smoothing", "cross_entropy",
         {"reduction": "mean", "label_smoothing": 0.1},
         {"input": 2 * r.randn(4, 5), "target": r.randint(5, (4,))},
         lambda input, target: F.cross_entropy(input, target, label_smoothing=0.1), rng=r)
    case("mse_loss", "mse_loss", {"reduction": "mean"},
         {"input": r.randn(3, 4), "target": r.randn(3, 4)},
         lambda input, target: F.mse_loss(input, target), rng=r)

    # ---- sinusoidal timestep embedding (SPEC section 7), forward only ----
    def temb(t):
        i = torch.arange(128, dtype=DT)
        f = torch.exp(-math.log(10000.0) * i / 128)
        a = t[:, None] * f[None, :]
        return torch.cat([torch.cos(a), torch.sin(a)], dim=1)

    case("timestep_embedding", "timestep_embedding",
         {"dim": 256, "max_period": 10000},
         {"t": torch.tensor([0.0, 1.0, 487.0, 999.0], dtype=DT)}, temb, forward_only=True,
         extra={"note": "forward only; f_i = exp(-ln(10000) i / 128), i = 0..127; [cos(t f), sin(t f)]"})


def vision_cases():
    """Ops of EfficientNet and ViT (own generator: the cases above keep their values)."""
    r = Rng(2718)

    # ---- grouped and depthwise conv2d ----
    for name, s, p, g, bias, xs, ws in [
        ("conv2d_groups2_k3_s1_p1", 1, 1, 2, True, (2, 4, 5, 6), (6, 2, 3, 3)),
        ("conv2d_depthwise_k3_s1_p1", 1, 1, 3, True, (2, 3, 6, 5), (3, 1, 3, 3)),
        ("conv2d_depthwise_k5_s2_p2", 2, 2, 4, False, (2, 4, 9, 8), (4, 1, 5, 5)),
        ("conv2d_depthwise_k3_s2_p1_multiplier2", 2, 1, 2, True, (1, 2, 7, 6), (4, 1, 3, 3)),
    ]:
        inputs = {"x": r.randn(*xs), "w": r.randn(*ws)}
        if bias:
            inputs["b"] = r.randn(ws[0])
        case(name, "conv2d", {"stride": s, "padding": p, "groups": g, "bias": bias}, inputs,
             lambda x, w, b=None, s=s, p=p, g=g: F.conv2d(x, w, b, stride=s, padding=p, groups=g), rng=r)

    # ---- batched matmul with a transposed operand (attention: q @ k^T, attn^T @ g) ----
    case("matmul_batched_transB", "matmul", {"transB": True},
         {"a": r.randn(2, 3, 4), "b": r.randn(2, 5, 4)}, lambda a, b: a @ b.transpose(-1, -2), rng=r,
         extra={"note": "a @ b^T per batch item, b stored [B, n, k]"})
    case("matmul_batched_transA", "matmul", {"transA": True},
         {"a": r.randn(2, 4, 3), "b": r.randn(2, 4, 5)}, lambda a, b: a.transpose(-1, -2) @ b, rng=r,
         extra={"note": "a^T @ b per batch item, a stored [B, k, m]"})

    # ---- activations over a wide range, on a 4-D activation map ----
    for name, op, attrs, f in [
        ("silu_4d", "silu", {}, F.silu),
        ("gelu_4d", "gelu", {"approximate": "none"}, lambda x: F.gelu(x)),
        ("sigmoid_4d", "sigmoid", {}, torch.sigmoid),
    ]:
        case(name, op, attrs, {"x": 3 * r.randn(2, 3, 4, 5)}, lambda x, f=f: f(x), rng=r)

    # ---- attention softmax of a scaled input, ViT layer norm, squeeze-excitation gating ----
    case("softmax_scaled", "softmax_scaled", {"dim": -1, "scale": 0.125},
         {"x": 3 * r.randn(2, 2, 5, 5)}, lambda x: F.softmax(x * 0.125, dim=-1), rng=r,
         extra={"note": "softmax(x * scale) over the last axis"})
    case("layer_norm_btd", "layer_norm", {"normalized_shape": [8], "eps": 1e-6},
         {"x": r.randn(2, 5, 8), "w": 1 + 0.3 * r.randn(8), "b": 0.3 * r.randn(8)},
         lambda x, w, b: F.layer_norm(x, [8], w, b, eps=1e-6), rng=r)
    case("mul_gating_nchw_nc11", "mul", {},
         {"a": r.randn(2, 3, 4, 5), "b": r.randn(2, 3, 1, 1)}, lambda a, b: a * b, rng=r,
         extra={"note": "squeeze-excitation scale: [N, C, H, W] * [N, C, 1, 1]"})


# ---------------------------------------------------------------- optimisers

def optim_cases():
    r = Rng(99)
    out = []
    specs = [
        ("adamw", "AdamW", lambda p: torch.optim.AdamW(
            [p], lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2),
         {"lr": 1e-3, "betas": [0.9, 0.999], "eps": 1e-8, "weight_decay": 1e-2}),
        ("adam_l2", "Adam", lambda p: torch.optim.Adam(
            [p], lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2),
         {"lr": 1e-3, "betas": [0.9, 0.999], "eps": 1e-8, "weight_decay": 1e-2}),
        ("sgd_momentum", "SGD", lambda p: torch.optim.SGD([p], lr=0.1, momentum=0.9),
         {"lr": 0.1, "momentum": 0.9, "dampening": 0.0, "nesterov": False, "weight_decay": 0.0}),
        ("sgd_momentum_wd", "SGD", lambda p: torch.optim.SGD(
            [p], lr=0.1, momentum=0.9, weight_decay=5e-4),
         {"lr": 0.1, "momentum": 0.9, "dampening": 0.0, "nesterov": False, "weight_decay": 5e-4}),
        ("sgd_nesterov_wd", "SGD", lambda p: torch.optim.SGD(
            [p], lr=0.1, momentum=0.9, nesterov=True, weight_decay=5e-4),
         {"lr": 0.1, "momentum": 0.9, "dampening": 0.0, "nesterov": True, "weight_decay": 5e-4}),
    ]
    for name, kind, make, hyper in specs:
        p = torch.nn.Parameter(r.randn(2, 3))
        grads = [r.randn(2, 3) for _ in range(3)]
        rec = {"name": name, "optimizer": kind, "hyper": hyper, "param0": tj(p),
               "grads": [tj(g) for g in grads], "params_after": [], "state_after": []}
        opt = make(p)
        for g in grads:
            p.grad = g.clone()
            opt.step()
            rec["params_after"].append(tj(p))
            st = opt.state[p]
            if kind in ("Adam", "AdamW"):
                rec["state_after"].append({"exp_avg": tj(st["exp_avg"]),
                                           "exp_avg_sq": tj(st["exp_avg_sq"]),
                                           "step": int(st["step"])})
            else:
                rec["state_after"].append({"momentum_buffer": tj(st["momentum_buffer"])})
        out.append(rec)
    return out


def clip_cases():
    r = Rng(7)
    out = []
    for name, scale in [("clip_grad_norm_clips", 1.0), ("clip_grad_norm_no_clip", 0.05)]:
        g1, g2 = scale * r.randn(3, 4), scale * r.randn(5)
        p1 = torch.nn.Parameter(torch.zeros(3, 4))
        p2 = torch.nn.Parameter(torch.zeros(5))
        p1.grad, p2.grad = g1.clone(), g2.clone()
        total = torch.nn.utils.clip_grad_norm_([p1, p2], max_norm=1.0, norm_type=2.0)
        out.append({"name": name, "max_norm": 1.0, "norm_type": 2.0,
                    "formula": "total = ||concat(grads)||_2; coef = min(1, max_norm / (total + 1e-6)); "
                               "grads *= coef",
                    "grads_before": [tj(g1), tj(g2)], "grads_after": [tj(p1.grad), tj(p2.grad)],
                    "total_norm": float(total)})
    return out


def schedule_cases():
    out = []
    # PyTorch's own CosineAnnealingLR (recursive form), lr at steps 0..T_max.
    lr0, tmax, eta_min = 0.1, 10, 1e-3
    p = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([p], lr=lr0)
    sch = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=tmax, eta_min=eta_min)
    lrs = []
    for _ in range(tmax + 1):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        sch.step()
    closed = [eta_min + (lr0 - eta_min) * (1 + math.cos(math.pi * i / tmax)) / 2
              for i in range(tmax + 1)]
    assert max(abs(a - b) for a, b in zip(lrs, closed)) < 1e-12, (lrs, closed)
    out.append({"name": "cosine_annealing_lr", "kind": "cosine", "lr0": lr0, "T_max": tmax,
                "eta_min": eta_min, "steps": list(range(tmax + 1)), "lr": lrs,
                "formula": "lr_i = eta_min + (lr0 - eta_min)(1 + cos(pi i / T_max)) / 2 "
                           "(torch CosineAnnealingLR, get_lr before the i-th scheduler.step)"})
    # SPEC cosine(T, 0) for the cpu preset's AE (T = 2000), closed form at selected steps.
    lr0, T = 1e-3, 2000
    steps = [0, 1, 2, 500, 1000, 1500, 1999, 2000]
    out.append({"name": "cosine_spec_ae_cpu", "kind": "cosine", "lr0": lr0, "T_max": T,
                "eta_min": 0.0, "steps": steps,
                "lr": [(lr0) * (1 + math.cos(math.pi * i / T)) / 2 for i in steps],
                "formula": "lr_i = eta_min + (lr0 - eta_min)(1 + cos(pi i / T_max)) / 2 (closed form)"})
    # Constant 'cosine' (min = lr0), as in bn collection.
    out.append({"name": "cosine_constant", "kind": "cosine", "lr0": 0.01, "T_max": 200,
                "eta_min": 0.01, "steps": [0, 100, 199], "lr": [0.01, 0.01, 0.01],
                "formula": "min = lr0 gives a constant lr"})
    # Linear warm-up: torch LinearLR(start_factor=0.1, end_factor=1, total_iters=5).
    lr0 = 1e-3
    p = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([p], lr=lr0)
    sch = torch.optim.lr_scheduler.LinearLR(opt, start_factor=0.1, end_factor=1.0, total_iters=5)
    lrs = []
    for _ in range(8):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        sch.step()
    closed = [lr0 * (0.1 + 0.9 * min(i, 5) / 5) for i in range(8)]
    assert max(abs(a - b) for a, b in zip(lrs, closed)) < 1e-15, (lrs, closed)
    out.append({"name": "linear_warmup", "kind": "linear_warmup", "lr0": lr0,
                "start_factor": 0.1, "end_factor": 1.0, "total_iters": 5,
                "steps": list(range(8)), "lr": lrs,
                "formula": "lr_i = lr0 (start + (end - start) min(i, total_iters) / total_iters) "
                           "(torch LinearLR)"})
    return out


def ema_cases():
    r = Rng(5)
    decay = 0.999
    p0 = r.randn(2, 3)
    params = [p0 + 0.1 * r.randn(2, 3) * (k + 1) for k in range(3)]
    shadow = p0.clone()
    after = []
    for p in params:
        shadow = decay * shadow + (1 - decay) * p
        after.append(tj(shadow))
    return [{"name": "ema_0999", "decay": decay, "param0": tj(p0),
             "params": [tj(p) for p in params], "shadow_after": after,
             "formula": "shadow_0 = param0; shadow_k = decay shadow_{k-1} + (1 - decay) param_k"}]


# ---------------------------------------------------------------- DDPM tables

def ddpm_tables():
    T = 1000
    betas = np.linspace(1e-4, 0.02, T, dtype=np.float64)
    alphas = 1.0 - betas
    abar = np.cumprod(alphas)
    abar_prev = np.append(1.0, abar[:-1])
    post_var = betas * (1.0 - abar_prev) / (1.0 - abar)
    ts = [0, 1, 487, 999]

    def alpha_bar_cos(t, s=0.008):
        return math.cos((t + s) / (1 + s) * math.pi / 2) ** 2

    cos_betas = np.array([min(1 - alpha_bar_cos((i + 1) / T) / alpha_bar_cos(i / T), 0.999)
                          for i in range(T)], dtype=np.float64)
    cos_abar = np.cumprod(1.0 - cos_betas)

    ddim_ts = np.round(np.linspace(0, 999, 60)).astype(np.int64)

    # Deterministic loops with a dummy model eps(x, t) = 0.1 x + t / 1000 (no randomness):
    # DDIM (eta 0) over ddim_ts descending, and the DDPM posterior-mean loop (sigma_t z omitted).
    def eps_model(x, t):
        return 0.1 * x + t / 1000.0

    x_T = np.array([[0.5, -1.0, 2.0, 0.0], [1.5, -0.3, -2.2, 0.7]], dtype=np.float64)
    x = x_T.copy()
    rev = ddim_ts[::-1]
    for k, t in enumerate(rev):
        t = int(t)
        ap = abar[int(rev[k + 1])] if k + 1 < len(rev) else 1.0
        e = eps_model(x, t)
        x0 = (x - math.sqrt(1 - abar[t]) * e) / math.sqrt(abar[t])
        x = math.sqrt(ap) * x0 + math.sqrt(1 - ap) * e
    ddim_final = x
    x = x_T.copy()
    for t in range(T - 1, -1, -1):
        e = eps_model(x, t)
        x = (x - betas[t] / math.sqrt(1 - abar[t]) * e) / math.sqrt(alphas[t])
    ddpm_mean_final = x

    return {
        "T": T,
        "beta_start": 1e-4,
        "beta_end": 0.02,
        "linear": {
            "t": ts,
            "betas": [float(betas[t]) for t in ts],
            "alphas_cumprod": [float(abar[t]) for t in ts],
            "posterior_variance": [float(post_var[t]) for t in ts],
            "sqrt_alphas_cumprod_487": float(math.sqrt(abar[487])),
            "sqrt_one_minus_alphas_cumprod_487": float(math.sqrt(1 - abar[487])),
            "alphas_cumprod_sum": float(abar.sum()),
            "posterior_variance_formula": "beta_t (1 - abar_{t-1}) / (1 - abar_t), abar_{-1} = 1",
        },
        "cosine": {
            "s": 0.008,
            "max_beta": 0.999,
            "formula": "abar(t) = cos((t/T + s)/(1 + s) pi/2)^2; beta_i = min(1 - abar((i+1)/T)/abar(i/T), 0.999); "
                       "alphas_cumprod = cumprod(1 - beta)",
            "t": ts,
            "betas": [float(cos_betas[t]) for t in ts],
            "alphas_cumprod": [float(cos_abar[t]) for t in ts],
        },
        "ddim_timesteps": {
            "n": 60,
            "formula": "np.round(np.linspace(0, 999, 60)).astype(int), ascending (sample in reverse)",
            "t": [int(v) for v in ddim_ts],
        },
        "dummy_model_loops": {
            "eps_model": "eps(x, t) = 0.1 x + t / 1000",
            "x_T": arr(x_T),
            "ddim_eta0_final": arr(ddim_final),
            "ddim_note": "t over ddim_timesteps descending; abar_prev = abar of the next listed t, 1 after the last",
            "ddpm_mean_final": arr(ddpm_mean_final),
            "ddpm_note": "t = 999..0, x = (x - beta_t / sqrt(1 - abar_t) eps) / sqrt(alpha_t), sigma_t z omitted",
        },
    }


def dumps_one_entry_per_line(doc):
    """JSON with one top-level key per line and one list entry (case) per line, for readable diffs."""
    parts = []
    for k, v in doc.items():
        if isinstance(v, list):
            body = ",\n".join(json.dumps(e, separators=(",", ":")) for e in v)
            parts.append(f"{json.dumps(k)}: [\n{body}\n]")
        else:
            parts.append(f"{json.dumps(k)}: {json.dumps(v, separators=(',', ':'))}")
    return "{\n" + ",\n".join(parts) + "\n}\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "..", "..",
                                                  "test", "fixtures", "torch-ops.json"))
    args = ap.parse_args()
    torch.manual_seed(0)
    make_cases()
    vision_cases()
    doc = {
        "generator": "scripts/torch/make_fixtures.py",
        "torch_version": torch.__version__,
        "dtype": "float64",
        "grad_convention": "grads = d/d input of sum(output * upstream)",
        "cases": CASES,
        "optim": optim_cases(),
        "clip_grad_norm": clip_cases(),
        "schedules": schedule_cases(),
        "ema": ema_cases(),
        "ddpm": ddpm_tables(),
    }
    out = os.path.normpath(args.out)
    os.makedirs(os.path.dirname(out), exist_ok=True)
    with open(out, "w") as f:
        f.write(dumps_one_entry_per_line(doc))
    print(f"wrote {out}: {len(CASES)} op cases, {len(doc['optim'])} optimiser runs")


if __name__ == "__main__":
    main()
