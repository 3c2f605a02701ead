#!/usr/bin/python3
"""PyTorch baseline for evaluating parameter sets (SPEC section 8) on the 10,000 test images.

    /usr/bin/python3 bench/torch/evaluate.py [--mode bn|whole] [--models 20] [--base base.safetensors]
                                             [--data-dir /usr/share/datasets/fashion-mnist]

Each model is a perturbation of the base cnn-s (the --base F32 safetensors, e.g. pdiff's
base.safetensors, else a seed-0 random init): bn mode perturbs bn2/bn3 weight+bias, whole
mode every learnable tensor (x (1 + 0.01 N(0,1))). Evaluation is the plain full forward pass
in eval mode, batch 1000, under torch.no_grad. Prints ONE JSON line on stdout:
  {"torch_version", "torch_threads", "mode", "models", "models_per_s",
   "full_forward_ms_per_model", "mean_test_acc", ...}
In bn mode it also times what a PyTorch user would run for many parameter sets: the conv2 output
of the frozen stem computed once (channels-last), then bn2 .. fc per set on --chunk images at a
time ("cached_forward_ms_per_model"), for comparison with pdiff's cached evaluation.
"""

import argparse
import os
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import (BN_SUBSET, DEFAULT_DATA_DIR, CnnS, emit, load_fashion_mnist,  # noqa: E402
                    load_safetensors_state, log, setup)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mode", choices=["bn", "whole"], default="bn")
    ap.add_argument("--models", type=int, default=20)
    ap.add_argument("--base", default=None, help="F32 safetensors state_dict of the base cnn-s")
    ap.add_argument("--data-dir", default=DEFAULT_DATA_DIR)
    ap.add_argument("--batch", type=int, default=1000)
    ap.add_argument("--no-cached", action="store_true", help="skip the bn-mode cached timing")
    ap.add_argument("--chunk", type=int, default=200, help="images per tail forward in the cached timing (channels-last)")
    ap.add_argument("--threads", type=int, default=2, help="torch.set_num_threads (the baseline uses 2)")
    args = ap.parse_args()
    rec = setup(0, args.threads)
    rec.update({"mode": args.mode, "models": args.models, "batch": args.batch})

    x, y = load_fashion_mnist(args.data_dir)["test"]
    model = CnnS()
    if args.base:
        missing, unexpected = model.load_state_dict(load_safetensors_state(args.base), strict=False)
        if unexpected or [m for m in missing if not m.endswith("num_batches_tracked")]:
            raise SystemExit(f"{args.base}: missing {missing}, unexpected {unexpected}")
    model.eval()
    base = {k: v.detach().clone() for k, v in model.named_parameters()}
    names = BN_SUBSET if args.mode == "bn" else list(base)
    g = torch.Generator().manual_seed(1)
    variants = [{n: base[n] * (1 + 0.01 * torch.randn(base[n].shape, generator=g)) for n in names}
                for _ in range(args.models)]
    params = dict(model.named_parameters())

    def load(v):
        for n, t in v.items():
            params[n].copy_(t)

    accs = []
    with torch.no_grad():
        load(variants[0])  # warm-up
        model(x[:args.batch])
        t0 = time.perf_counter()
        for v in variants:
            load(v)
            correct = 0
            for i in range(0, len(x), args.batch):
                correct += int((model(x[i:i + args.batch]).argmax(1) == y[i:i + args.batch]).sum())
            accs.append(100.0 * correct / len(x))
        dt = time.perf_counter() - t0
    rec["models_per_s"] = args.models / dt
    rec["full_forward_ms_per_model"] = dt / args.models * 1e3
    rec["mean_test_acc"] = sum(accs) / len(accs)
    log(f"full forward: {rec['full_forward_ms_per_model']:.0f} ms/model, mean test acc {rec['mean_test_acc']:.2f}")

    if args.mode == "bn" and not args.no_cached:
        with torch.no_grad():
            t0 = time.perf_counter()
            stem = torch.cat([model.stem(x[i:i + args.batch]) for i in range(0, len(x), args.batch)])
            stem = stem.contiguous(memory_format=torch.channels_last)
            rec["cache_build_s"] = time.perf_counter() - t0
            t0 = time.perf_counter()
            cached_accs = []
            for v in variants:
                load(v)
                correct = 0
                for i in range(0, len(x), args.chunk):
                    correct += int((model.head(stem[i:i + args.chunk]).argmax(1) == y[i:i + args.chunk]).sum())
                cached_accs.append(100.0 * correct / len(x))
            dt = time.perf_counter() - t0
        rec["cached_matches_full"] = cached_accs == accs
        rec["cached_forward_ms_per_model"] = dt / args.models * 1e3
        log(f"cached: {rec['cached_forward_ms_per_model']:.0f} ms/model")
    rec["loadavg_1m"] = os.getloadavg()[0]
    emit(rec)


if __name__ == "__main__":
    main()
