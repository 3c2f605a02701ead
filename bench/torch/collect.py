#!/usr/bin/python3
"""PyTorch baseline for base training (SPEC section 3) and bn-mode checkpoint collection (section 4).

    /usr/bin/python3 bench/torch/collect.py [--data-dir /usr/share/datasets/fashion-mnist]
                                            [--epochs 1] [--k 200] [--seed 0] [--save-base PATH]

Prints ONE JSON line on stdout:
  {"torch_version", "torch_threads", "epochs", "base_epoch_s", "base_val_acc", "base_test_acc",
   "k", "collect_per_ckpt_ms", "collect_last_test_acc", "data_s"}
base_epoch_s: wall time per epoch of AdamW (lr 3e-3, wd 5e-3, cosine over all steps to 0),
batch 128, reshuffled, last partial batch dropped, BN in train mode. collect_per_ckpt_ms:
per iteration of the bn collection (bn2/bn3 weight+bias only, BN eval mode, AdamW lr 0.01
wd 5e-4, batch 128 drawn with replacement), including the copy of the 192-float checkpoint.
"""

import argparse
import math
import os
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import (BN_SUBSET, DEFAULT_DATA_DIR, CnnS, accuracy, emit, load_fashion_mnist,  # noqa: E402
                    log, save_safetensors_state, setup)


def train_base(model, xtr, ytr, epochs, batch=128, lr0=3e-3, wd=5e-3):
    opt = torch.optim.AdamW(model.parameters(), lr=lr0, weight_decay=wd)
    steps_per_epoch = len(xtr) // batch  # 429: last partial batch dropped
    total = epochs * steps_per_epoch
    it = 0
    epoch_s = []
    for ep in range(epochs):
        model.train()
        t0 = time.perf_counter()
        perm = torch.randperm(len(xtr))
        for s in range(steps_per_epoch):
            for g in opt.param_groups:  # cosine(total, 0), per iteration
                g["lr"] = lr0 * (1 + math.cos(math.pi * it / total)) / 2
            idx = perm[s * batch:(s + 1) * batch]
            loss = F.cross_entropy(model(xtr[idx]), ytr[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            it += 1
        epoch_s.append(time.perf_counter() - t0)
        log(f"epoch {ep + 1}/{epochs}: {epoch_s[-1]:.1f} s, last loss {float(loss):.4f}")
    return sum(epoch_s) / len(epoch_s)


def collect_bn(model, xtr, ytr, k, batch=128):
    params = dict(model.named_parameters())
    for p in model.parameters():
        p.requires_grad_(False)
    subset = [params[n] for n in BN_SUBSET]
    for p in subset:
        p.requires_grad_(True)
    opt = torch.optim.AdamW(subset, lr=0.01, weight_decay=5e-4)
    model.eval()  # running statistics frozen at the base model's
    ckpts = []
    t0 = time.perf_counter()
    for _ in range(k):
        idx = torch.randint(0, len(xtr), (batch,))
        loss = F.cross_entropy(model(xtr[idx]), ytr[idx])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        ckpts.append(torch.cat([p.detach().reshape(-1) for p in subset]).clone())
    per_ms = (time.perf_counter() - t0) / k * 1e3
    return per_ms, torch.stack(ckpts)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-dir", default=DEFAULT_DATA_DIR)
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--k", type=int, default=200)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--save-base", default=None,
                    help="write the trained base state_dict (F32 safetensors) here, e.g. for evaluate.py --base")
    ap.add_argument("--threads", type=int, default=2, help="torch.set_num_threads (the baseline uses 2)")
    args = ap.parse_args()
    rec = setup(args.seed, args.threads)
    t0 = time.perf_counter()
    data = load_fashion_mnist(args.data_dir)
    rec["data_s"] = time.perf_counter() - t0
    xtr, ytr = data["train"]
    model = CnnS()
    rec["epochs"] = args.epochs
    rec["base_epoch_s"] = train_base(model, xtr, ytr, args.epochs)
    rec["base_val_acc"] = accuracy(model, *data["val"])
    rec["base_test_acc"] = accuracy(model, *data["test"])
    log(f"base: val {rec['base_val_acc']:.2f} %, test {rec['base_test_acc']:.2f} %")
    if args.save_base:
        save_safetensors_state(args.save_base, model.state_dict())
    rec["k"] = args.k
    rec["collect_per_ckpt_ms"], ckpts = collect_bn(model, xtr, ytr, args.k)
    rec["collect_ckpt_shape"] = list(ckpts.shape)
    rec["collect_last_test_acc"] = accuracy(model, *data["test"])
    rec["loadavg_1m"] = os.getloadavg()[0]
    emit(rec)


if __name__ == "__main__":
    main()
