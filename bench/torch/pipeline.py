#!/usr/bin/python3
"""The default pdiff recipe (preset fmnist-bn) in PyTorch, stage by stage, for `npm run bench -- pipeline`.

    /usr/bin/python3 bench/torch/pipeline.py --config RUN/config.json [--threads 2] [--data-dir DIR] [--interleave]

It reads the recipe from a pdiff run folder's config.json (cnn-s, collect.mode "bn", the sizes,
steps, learning rates, groups and shift settings of that run) and does what each stage of
`pdiff run` does, the way a PyTorch user would write it: plain training loops, torch.no_grad,
and for the evaluation of many parameter sets the cached tail (the frozen stem up to conv2 is
computed once per image set, channels-last, then bn2 .. fc per set on 200-image chunks).
Prints ONE JSON line on stdout: {"stages": {"base": s, ...}, "total_s", accuracies, threads, ...};
progress goes to stderr. Stage names and contents:

  base            AdamW (cosine per step), batch 128, the val accuracy after each epoch, then val and test
  collect         K AdamW steps on bn2/bn3 weight+bias (BN in eval mode), a 192-float checkpoint each
  eval-originals  the K checkpoints on val and test: top-1, top-5, macro-F1
  ae              per-tensor normalisation, the 1-D conv autoencoder (input and latent noise), then the
                  latents and reconstructions of the K checkpoints
  diffusion       the latent denoiser (eps loss, linear betas, EMA)
  generate        DDPM ancestral sampling of generate.n latents in one batch, decoded
  evaluate        every other group (ensemble, ae_recon, generated, noise_*, avg16, gauss_fit) on val and
                  test; novelty (IoU-max of wrong sets, nearest L2) against the originals; per-class
                  metrics of each group's best-on-val member; latency at batch 1; the shift evaluation
                  (eval.shift: kinds x severities, the first eval.shift.models members of original,
                  generated and the ensemble)

With --interleave (what `npm run bench -- pipeline` uses), it loads the data, prints {"ready": true},
then before each stage waits for that stage's name on stdin and after it prints {"stage": name, "s": seconds},
so the caller can run each stage of both sides back to back and a slow spell of the machine weighs
on both sides of a stage alike.

Random streams are torch's, not pdiff's, so the numbers are of the same recipe, not the same bits.
"""

import argparse
import json
import math
import os
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import (BN_SUBSET, DEFAULT_DATA_DIR, CnnS, Denoiser, ParamAE, accuracy, emit,  # noqa: E402
                    linear_alphas_cumprod, load_fashion_mnist, log, setup)

CHUNK = 200  # images per tail forward in the cached evaluation


def cosine(lr0, step, total):
    return lr0 * (1 + math.cos(math.pi * step / total)) / 2


def set_lr(opt, lr):
    for g in opt.param_groups:
        g["lr"] = lr


# ---------------------------------------------------------------- stages

def stage_base(cfg, model, data):
    b = cfg["base"]
    xtr, ytr = data["train"]
    B = b["batchSize"]
    steps_per_epoch = len(xtr) // B
    total = b["epochs"] * steps_per_epoch
    opt = torch.optim.AdamW(model.parameters(), lr=b["lr"], weight_decay=b["weightDecay"])
    it = 0
    for ep in range(b["epochs"]):
        model.train()
        perm = torch.randperm(len(xtr))
        for s in range(steps_per_epoch):
            set_lr(opt, cosine(b["lr"], it, total) if b["schedule"] == "cosine" else b["lr"])
            idx = perm[s * B:(s + 1) * B]
            loss = F.cross_entropy(model(xtr[idx]), ytr[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            it += 1
        log(f"[base] epoch {ep + 1}/{b['epochs']}: loss {float(loss):.4f}, val {accuracy(model, *data['val']):.2f} %")
    return {"val": accuracy(model, *data["val"]), "test": accuracy(model, *data["test"])}


def stage_collect(cfg, model, data):
    c = cfg["collect"]
    xtr, ytr = data["train"]
    params = dict(model.named_parameters())
    for p in model.parameters():
        p.requires_grad_(False)
    subset = [params[n] for n in BN_SUBSET]
    for p in subset:
        p.requires_grad_(True)
    opt = torch.optim.AdamW(subset, lr=c["lr"], weight_decay=c["weightDecay"])
    model.eval()  # collect.bnMode "eval": the running statistics stay the base model's
    ckpts = []
    for it in range(c["k"] * c["saveEvery"]):
        idx = torch.randint(0, len(xtr), (c["batchSize"],))
        loss = F.cross_entropy(model(xtr[idx]), ytr[idx])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if (it + 1) % c["saveEvery"] == 0:
            ckpts.append(torch.cat([p.detach().reshape(-1) for p in subset]).clone())
    for p in model.parameters():
        p.requires_grad_(False)
    return torch.stack(ckpts)


class CachedEvaluator:
    """Parameter sets of bn2/bn3 written into the model, scored through the cached tail."""

    def __init__(self, model, sets):  # sets: {name: (x, y)}
        self.model = model.eval()
        self.params = dict(model.named_parameters())
        self.base = torch.cat([self.params[n].detach().reshape(-1) for n in BN_SUBSET]).clone()
        self.data = {}
        with torch.no_grad():
            for name, (x, y) in sets.items():
                self.data[name] = (self.stem(x), y)

    def stem(self, x):
        with torch.no_grad():
            return torch.cat([self.model.stem(x[i:i + 1000]) for i in range(0, len(x), 1000)]).contiguous(memory_format=torch.channels_last)

    def load(self, vec):
        off = 0
        for n in BN_SUBSET:
            p = self.params[n]
            p.copy_(vec[off:off + p.numel()].view_as(p))
            off += p.numel()

    def logits(self, stem):
        return torch.cat([self.model.head(stem[i:i + CHUNK]) for i in range(0, len(stem), CHUNK)])

    @torch.no_grad()
    def score(self, vecs, which=("val", "test")):
        """-> {split: {"acc", "top5", "f1", "wrong"}} lists, one entry per set."""
        out = {s: {"acc": [], "top5": [], "f1": [], "preds": []} for s in which}
        for v in vecs:
            self.load(v)
            for s in which:
                stem, y = self.data[s]
                lg = self.logits(stem)
                pred = lg.argmax(1)
                top5 = (lg.topk(5, dim=1).indices == y[:, None]).any(1)
                out[s]["acc"].append(100.0 * float((pred == y).float().mean()))
                out[s]["top5"].append(100.0 * float(top5.float().mean()))
                out[s]["f1"].append(macro_f1(pred, y))
                out[s]["preds"].append(pred)
        self.load(self.base)
        return out


def macro_f1(pred, y, classes=10):
    cm = torch.bincount(y * classes + pred, minlength=classes * classes).view(classes, classes).double()
    tp = cm.diag()
    denom = cm.sum(0) + cm.sum(1)
    f1 = torch.where(denom > 0, 2 * tp / denom.clamp(min=1), torch.zeros_like(tp))
    return float(f1.mean())


def tensor_spans():
    sizes = [32, 32, 64, 64]  # bn2.weight, bn2.bias, bn3.weight, bn3.bias
    offs = [0, 32, 64, 128]
    return list(zip(offs, sizes))


def stage_ae(cfg, ckpts):
    a = cfg["ae"]
    K, total = ckpts.shape
    # per-tensor normalisation (ae.normalize "tensor"): one mean and std per tensor over the zoo
    mean, std = torch.empty(total), torch.empty(total)
    for off, n in tensor_spans():
        block = ckpts[:, off:off + n]
        mean[off:off + n] = block.mean()
        std[off:off + n] = block.std().clamp(min=1e-8)
    z = (ckpts - mean) / std
    L = math.ceil(total / a["padMultiple"]) * a["padMultiple"]
    z = F.pad(z, (0, L - total))
    ae = ParamAE(L, a["channels"], a["latentDim"])
    opt = torch.optim.AdamW(ae.parameters(), lr=a["lr"], weight_decay=a["weightDecay"])
    ae.train()
    B = a["batchSize"]
    for step in range(a["steps"]):
        set_lr(opt, cosine(a["lr"], step, a["steps"]) if a["schedule"] == "cosine" else a["lr"])
        x = z[torch.randint(0, K, (B,))] + a["inputNoise"] * torch.randn(B, L)
        h = ae.encode(x) + a["latentNoise"] * torch.randn(B, a["latentDim"])
        loss = F.mse_loss(ae.decode(h), x)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if (step + 1) % 500 == 0:
            log(f"[ae] step {step + 1}/{a['steps']}: loss {float(loss):.5f}")
    ae.eval()
    with torch.no_grad():
        latents = ae.encode(z)
        recon = ae.decode(latents)[:, :total] * std + mean
    return ae, latents, recon, (mean, std, total)


def stage_diffusion(cfg, latents):
    d = cfg["diffusion"]
    K, dim = latents.shape
    net = Denoiser(dim, tuple(d["channels"]))
    ema = Denoiser(dim, tuple(d["channels"]))
    ema.load_state_dict(net.state_dict())
    for p in ema.parameters():
        p.requires_grad_(False)
    abar = torch.tensor(linear_alphas_cumprod(d["timesteps"]), dtype=torch.float32)
    opt = torch.optim.AdamW(net.parameters(), lr=d["lr"], weight_decay=d["weightDecay"])
    net.train()
    B, T = d["batchSize"], d["timesteps"]
    for step in range(d["steps"]):
        set_lr(opt, cosine(d["lr"], step, d["steps"]) if d["lrSchedule"] == "cosine" else d["lr"])
        x0 = latents[torch.randint(0, K, (B,))]
        t = torch.randint(0, T, (B,))
        eps = torch.randn(B, dim)
        a = abar[t][:, None]
        xt = a.sqrt() * x0 + (1 - a).sqrt() * eps
        loss = F.mse_loss(net(xt, t), eps)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        with torch.no_grad():
            for pe, p in zip(ema.parameters(), net.parameters()):
                pe.mul_(d["ema"]).add_(p, alpha=1 - d["ema"])
            for be, b in zip(ema.buffers(), net.buffers()):
                be.copy_(b)
        if (step + 1) % 500 == 0:
            log(f"[diffusion] step {step + 1}/{d['steps']}: loss {float(loss):.5f}")
    return ema.eval()


@torch.no_grad()
def stage_generate(cfg, denoiser, ae, norm, dim):
    g, d = cfg["generate"], cfg["diffusion"]
    T = d["timesteps"]
    betas = torch.linspace(d["betaStart"], d["betaEnd"], T, dtype=torch.float64)
    alphas = 1 - betas
    abar = torch.cumprod(alphas, 0)
    n = g["n"]
    out = []
    for s in range(0, n, g["batchSize"]):
        b = min(g["batchSize"], n - s)
        x = torch.randn(b, dim)
        for t in range(T - 1, -1, -1):
            eps = denoiser(x, torch.full((b,), t, dtype=torch.long))
            a, ab = float(alphas[t]), float(abar[t])
            mean = (x - (1 - a) / math.sqrt(1 - ab) * eps) / math.sqrt(a)
            if t > 0:
                var = float(betas[t] * (1 - abar[t - 1]) / (1 - ab))
                x = mean + math.sqrt(var) * torch.randn_like(x)
            else:
                x = mean
        out.append(x)
    lat = torch.cat(out)
    mean, std, total = norm
    return ae.decode(lat)[:, :total] * std + mean


def baselines(cfg, ckpts):
    e = cfg["eval"]
    K, total = ckpts.shape
    n = e["baselineCount"]
    groups = {"ensemble": ckpts.mean(0, keepdim=True)}
    if e["baselines"]:
        for s in e["noiseScales"]:
            rows = ckpts[torch.randint(0, K, (n,))].clone()
            for off, m in tensor_spans():
                rows[:, off:off + m] += s * ckpts[:, off:off + m].std() * torch.randn(n, m)
            groups[f"noise_{s}"] = rows
        m = min(e["avgOf"], K)
        groups["avg16"] = torch.stack([ckpts[torch.randperm(K)[:m]].mean(0) for _ in range(n)])
        mu, sd = ckpts.mean(0), ckpts.std(0)
        groups["gauss_fit"] = mu + sd * torch.randn(n, total)
    return groups


def iou_max(wrong, ref, same):
    """Per row of wrong [n, N] (bool), the largest IoU with a row of ref [K, N] (itself left out when same)."""
    a, b = wrong.float(), ref.float()
    inter = a @ b.T
    union = a.sum(1, keepdim=True) + b.sum(1)[None, :] - inter
    iou = torch.where(union > 0, inter / union.clamp(min=1), torch.ones_like(inter))
    if same:
        iou.fill_diagonal_(-1)
    return iou.max(1).values


def nearest_l2(rows, ref, same):
    dist = torch.cdist(rows.double(), ref.double())
    if same:
        dist.fill_diagonal_(float("inf"))
    return dist.min(1).values


def corrupt(x, kind, severity, g):
    """pdiff's corruptions (src/data/shift.ts) on normalised images, in pixel space, clipped to [0, 1]."""
    from common import MEAN, STD
    table = {"gaussian_noise": [0.04, 0.08, 0.12, 0.16, 0.2], "gaussian_blur": [0.5, 1.0, 1.5, 2.0, 2.5],
             "contrast": [0.7, 0.575, 0.45, 0.325, 0.2], "brightness": [0.1, 0.2, 0.3, 0.4, 0.5],
             "rotation": [5, 10, 15, 20, 25], "translation": [1, 2, 3, 4, 5]}
    lv = table[kind][severity - 1]
    p = x * STD + MEAN
    n = len(p)
    if kind == "gaussian_noise":
        p = p + lv * torch.randn(p.shape, generator=g)
    elif kind == "gaussian_blur":
        r = max(1, math.ceil(3 * lv))
        k = torch.exp(-torch.arange(-r, r + 1, dtype=torch.float32) ** 2 / (2 * lv * lv))
        k = k / k.sum()
        p = F.conv2d(F.pad(p, (r, r, 0, 0), mode="replicate"), k.view(1, 1, 1, -1))
        p = F.conv2d(F.pad(p, (0, 0, r, r), mode="replicate"), k.view(1, 1, -1, 1))
    elif kind == "contrast":
        mu = p.mean(dim=(2, 3), keepdim=True)
        p = (p - mu) * lv + mu
    elif kind == "brightness":
        p = p + lv
    else:
        theta = torch.zeros(n, 2, 3)
        if kind == "rotation":
            ang = (torch.where(torch.rand(n, generator=g) < 0.5, -1.0, 1.0) * lv * math.pi / 180)
            theta[:, 0, 0], theta[:, 0, 1], theta[:, 1, 0], theta[:, 1, 1] = ang.cos(), -ang.sin(), ang.sin(), ang.cos()
        else:
            phi = 2 * math.pi * torch.rand(n, generator=g)
            theta[:, 0, 0] = theta[:, 1, 1] = 1
            theta[:, 0, 2], theta[:, 1, 2] = -lv * phi.cos() * 2 / p.shape[3], -lv * phi.sin() * 2 / p.shape[2]
        grid = F.affine_grid(theta, list(p.shape), align_corners=False)
        p = F.grid_sample(p, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    return (p.clamp(0, 1) - MEAN) / STD


def stage_evaluate(cfg, model, ev, ckpts, groups, orig_scores):
    e = cfg["eval"]
    t0 = time.perf_counter()
    scores = {"original": orig_scores}
    for name, rows in groups.items():
        scores[name] = ev.score(rows)
        log(f"[evaluate] {name}: {len(rows)} models, test mean {sum(scores[name]['test']['acc']) / len(rows):.2f} ({time.perf_counter() - t0:.1f} s)")
    # novelty against the originals
    y = ev.data["test"][1]
    orig_wrong = torch.stack([p != y for p in orig_scores["test"]["preds"]])
    novelty = {}
    for name, rows in [("original", ckpts)] + list(groups.items()):
        wrong = torch.stack([p != y for p in scores[name]["test"]["preds"]])
        same = name == "original"
        novelty[name] = {"iou_max": float(iou_max(wrong, orig_wrong, same).mean()), "nn_l2": float(nearest_l2(rows, ckpts, same).mean())}
    log(f"[evaluate] novelty ({time.perf_counter() - t0:.1f} s)")
    # per-class metrics of each group's best-on-val member
    for name in scores:
        val = scores[name]["val"]["acc"]
        best = max(range(len(val)), key=lambda i: val[i])
        pred = scores[name]["test"]["preds"][best]
        cm = torch.bincount(y * 10 + pred, minlength=100).view(10, 10)
        scores[name]["per_class_recall"] = (cm.diag().double() / cm.sum(1).clamp(min=1)).tolist()
    # latency at batch 1 (20 repeats after 3 warm-up passes, as pdiff's measureLatency)
    with torch.no_grad():
        x1 = ev_test_image()
        for _ in range(3):
            model(x1)
        tl = time.perf_counter()
        for _ in range(20):
            model(x1)
        latency_ms = (time.perf_counter() - tl) / 20 * 1e3
    log(f"[evaluate] cost: latency {latency_ms:.2f} ms at batch 1 ({time.perf_counter() - t0:.1f} s)")
    shift_rows = []
    sh = e["shift"]
    if sh["enabled"]:
        x, yt = DATA["test"]
        m = sh["models"]
        members = {"original": ckpts[:m], "generated": groups["generated"][:m], "ensemble": groups["ensemble"]}
        g = torch.Generator().manual_seed(0)
        for kind in sh["kinds"]:
            for sev in sh["severities"]:
                xc = corrupt(x, kind, sev, g)
                ev.data["shift"] = (ev.stem(xc), yt)
                for gname, rows in members.items():
                    accs = ev.score(rows, which=("shift",))["shift"]["acc"]
                    shift_rows.append({"kind": kind, "severity": sev, "group": gname, "mean_acc": sum(accs) / len(accs)})
            log(f"[evaluate] shift {kind} ({time.perf_counter() - t0:.1f} s)")
        ev.data.pop("shift", None)
    means = {n: sum(s["test"]["acc"]) / len(s["test"]["acc"]) for n, s in scores.items()}
    return {"test_mean": means, "novelty": novelty, "latency_ms": latency_ms, "shift_rows": len(shift_rows)}


DATA = {}


def ev_test_image():
    return DATA["test"][0][:1]


def load_data(cfg, data_dir):
    d = cfg["data"]
    full = load_fashion_mnist(data_dir)
    xall = torch.cat([full["train"][0], full["val"][0]])
    yall = torch.cat([full["train"][1], full["val"][1]])
    n_train = len(xall) - d["valSize"]
    if d["limitTrain"] is not None:
        n_train = min(n_train, d["limitTrain"] - d["valSize"])
    xt, yt = full["test"]
    if d["limitTest"] is not None:
        xt, yt = xt[:d["limitTest"]], yt[:d["limitTest"]]
    return {"train": (xall[:n_train], yall[:n_train]), "val": (xall[-d["valSize"]:], yall[-d["valSize"]:]), "test": (xt, yt)}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config", required=True, help="a pdiff run folder's config.json (the recipe to run)")
    ap.add_argument("--data-dir", default=DEFAULT_DATA_DIR)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--interleave", action="store_true",
                    help="wait for each stage's name on stdin before running it; a JSON line after each stage")
    args = ap.parse_args()
    with open(args.config) as f:
        cfg = json.load(f)
    if cfg["model"]["arch"] != "cnn-s" or cfg["collect"]["mode"] != "bn" or cfg["collect"]["seeds"] != 1 or cfg["tasks"]["condition"] != "none":
        raise SystemExit(f"{args.config}: pipeline.py runs the default recipe only (cnn-s, collect.mode \"bn\", one seed, unconditional)")
    rec = setup(args.seed, args.threads)
    stages = {}
    t_all = time.perf_counter()
    data = load_data(cfg, cfg["data"]["dir"] or args.data_dir)
    DATA.update(data)
    rec["data_s"] = time.perf_counter() - t_all
    if args.interleave:
        emit({"ready": True})

    def timed(name, fn):
        if args.interleave:
            line = sys.stdin.readline().strip()
            if line != name:
                raise SystemExit(f"pipeline.py --interleave: expected stage {name!r} on stdin, got {line!r}")
        log(f"[{name}] running")
        t = time.perf_counter()
        r = fn()
        stages[name] = round(time.perf_counter() - t, 2)
        log(f"[{name}] done in {stages[name]:.1f} s")
        if args.interleave:
            emit({"stage": name, "s": stages[name]})
        return r

    model = CnnS()
    rec["base"] = timed("base", lambda: stage_base(cfg, model, data))
    ckpts = timed("collect", lambda: stage_collect(cfg, model, data))

    def eval_originals():
        ev = CachedEvaluator(model, {"val": data["val"], "test": data["test"]})
        return ev, ev.score(ckpts)
    ev, orig = timed("eval-originals", eval_originals)
    rec["original_test_mean"] = sum(orig["test"]["acc"]) / len(orig["test"]["acc"])
    ae, latents, recon, norm = timed("ae", lambda: stage_ae(cfg, ckpts))
    denoiser = timed("diffusion", lambda: stage_diffusion(cfg, latents))
    generated = timed("generate", lambda: stage_generate(cfg, denoiser, ae, norm, latents.shape[1]))

    def evaluate():
        groups = {"ensemble": None, "ae_recon": recon, "generated": generated}
        groups.update(baselines(cfg, ckpts))
        return stage_evaluate(cfg, model, ev, ckpts, groups, orig)
    rec["evaluate"] = timed("evaluate", evaluate)
    rec["generated_test_mean"] = rec["evaluate"]["test_mean"].get("generated")
    rec["stages"] = stages
    rec["total_s"] = round(sum(stages.values()) + rec["data_s"], 1) if args.interleave else round(time.perf_counter() - t_all, 1)
    rec["loadavg_1m"] = os.getloadavg()[0]
    emit(rec)


if __name__ == "__main__":
    main()
