#!/usr/bin/python3
"""PyTorch baseline for pdiff's engine benchmarks: median training-step times and sgemm speed.

    /usr/bin/python3 bench/torch/engine.py [--steps 30] [--warmup 5] [--only cnn_s,ae,ae_whole,ddpm,sgemm]
        [--device cpu|cuda|auto] [--sgemm-size 512]

Prints ONE JSON line on stdout:
  {"torch_version", "torch_threads", "cnn_s_train_step_ms", "resnet20_train_step_ms",
   "effnet_s_train_step_ms", "vit_train_step_ms" (the Fashion-MNIST presets' architectures), "ae_train_step_ms",
   "ae_whole_train_step_ms", "ddpm_train_step_ms", "sgemm_gflops", "small_op_us", "steps", "warmup"}
Each *_train_step_ms is the median over --steps steps after --warmup of:
forward + loss + backward + AdamW step (zero_grad included), models in train mode.
On CUDA (--device cuda, or auto when a GPU is visible) every timed call ends with
torch.cuda.synchronize(), so the clock stops when the GPU is done, as pdiff's device
benchmark stops it after reading the loss back.
"""

import argparse
import os
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import CnnS, Denoiser, ParamAE, emit, linear_alphas_cumprod, log, median_ms, setup  # noqa: E402


DEV = torch.device("cpu")


def timed_ms(fn, steps, warmup):
    """median_ms of fn, synchronising the GPU after each call on CUDA."""
    if DEV.type != "cuda":
        return median_ms(fn, steps, warmup)

    def synced():
        fn()
        torch.cuda.synchronize()
    return median_ms(synced, steps, warmup)


def bench_cnn_s(steps, warmup):
    model = CnnS().train().to(DEV)
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=5e-3)
    x = torch.randn(128, 1, 28, 28, device=DEV)
    y = torch.randint(0, 10, (128,), device=DEV)

    def step():
        loss = F.cross_entropy(model(x), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    return timed_ms(step, steps, warmup)


def bench_ae(steps, warmup, length, channels, latent, batch, k=200):
    ae = ParamAE(length, channels, latent).train().to(DEV)
    opt = torch.optim.AdamW(ae.parameters(), lr=1e-3, weight_decay=0.0)
    z = torch.randn(k, length, device=DEV)  # stands in for the normalised checkpoint matrix

    def step():
        x = z[torch.randint(0, k, (batch,), device=DEV)]
        x = x + 0.001 * torch.randn_like(x)
        h = ae.encode(x)
        h = h + 0.1 * torch.randn_like(h)
        loss = F.mse_loss(ae.decode(h), x)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    return timed_ms(step, steps, warmup)


def bench_ddpm(steps, warmup, d=64, batch=50, k=200):
    net = Denoiser(d).train().to(DEV)
    opt = torch.optim.AdamW(net.parameters(), lr=1e-3, weight_decay=0.0)
    abar = torch.tensor(linear_alphas_cumprod(), dtype=torch.float32, device=DEV)
    lat = torch.randn(k, d, device=DEV)

    def step():
        x0 = lat[torch.randint(0, k, (batch,), device=DEV)]
        t = torch.randint(0, 1000, (batch,), device=DEV)
        eps = torch.randn_like(x0)
        a = abar[t][:, None]
        xt = a.sqrt() * x0 + (1 - a).sqrt() * eps
        loss = F.mse_loss(net(xt, t), eps)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    return timed_ms(step, steps, warmup)


def bench_small_op(k=5000):
    """Microseconds per elementwise op on a 4-element tensor: the fixed cost of one op (on CUDA
    a kernel launch), as pdiff's small_op_us; k pairs of add + mul, one sync at the end."""
    x = torch.ones(4, device=DEV)

    def run(n):
        y = x
        t0 = time.perf_counter()
        for _ in range(n):
            y = (y + 1.0) * 0.5
        y.cpu()
        return time.perf_counter() - t0
    run(200)
    return min(run(k) for _ in range(3)) / (2 * k) * 1e6


def bench_sgemm(n=512, reps=30):
    a, b = torch.randn(n, n, device=DEV), torch.randn(n, n, device=DEV)
    if DEV.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = False  # float32 throughput, as pdiff's WGSL sgemm
    ms = timed_ms(lambda: torch.mm(a, b), reps, 5)
    return 2.0 * n ** 3 / (ms * 1e-3) / 1e9


# The Fashion-MNIST presets' architectures (src/config/presets.ts), as in scripts/torch/arch_models.py.
ARCHS = {
    "resnet20": ("resnet20", None),
    "effnet_s": ("efficientnet-s", None),
    "vit": ("vit", {"patchSize": 7, "layers": 4, "heads": 4, "hidden": 64, "mlp": 128}),
}


def bench_arch(key, steps, warmup):
    """One training step (batch 128, 1x28x28, AdamW) of a preset's architecture, train mode."""
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "scripts", "torch"))
    from arch_models import build  # noqa: E402
    arch, vit = ARCHS[key]
    model = build(arch, (1, 28, 28), 10, vit=vit).train().to(DEV)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=5e-4)
    x = torch.randn(128, 1, 28, 28, device=DEV)
    y = torch.randint(0, 10, (128,), device=DEV)

    def step():
        loss = F.cross_entropy(model(x), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    return timed_ms(step, steps, warmup)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--only", default="cnn_s,ae,ae_whole,ddpm,sgemm,small_op,resnet20,effnet_s,vit",
                    help="comma-separated subset of cnn_s,ae,ae_whole,ddpm,sgemm,small_op,resnet20,effnet_s,vit")
    ap.add_argument("--threads", type=int, default=2, help="torch.set_num_threads (the baseline uses 2)")
    ap.add_argument("--device", default="cpu", choices=["cpu", "cuda", "auto"],
                    help="where to run (auto: cuda when torch sees a GPU, else cpu)")
    ap.add_argument("--sgemm-size", type=int, default=512, help="n of the n^3 sgemm")
    args = ap.parse_args()
    global DEV
    want = args.device
    if want == "auto":
        want = "cuda" if torch.cuda.is_available() else "cpu"
    if want == "cuda" and not torch.cuda.is_available():
        ap.error("--device cuda: torch.cuda.is_available() is False")
    DEV = torch.device(want)
    rec = setup(0, args.threads)
    rec["device"] = want if want == "cpu" else f"cuda ({torch.cuda.get_device_name(0)})"
    rec.update({"steps": args.steps, "warmup": args.warmup})
    todo = [s.strip() for s in args.only.split(",") if s.strip()]
    known = {"cnn_s", "ae", "ae_whole", "ddpm", "sgemm", "small_op", *ARCHS}
    bad = [s for s in todo if s not in known]
    if bad:
        ap.error(f"--only: unknown {bad}, expected some of {sorted(known)}")
    t0 = time.perf_counter()
    if "cnn_s" in todo:
        rec["cnn_s_train_step_ms"] = bench_cnn_s(args.steps, args.warmup)
        log(f"cnn_s_train_step_ms {rec['cnn_s_train_step_ms']:.2f}")
    if "ae" in todo:  # cpu preset, bn mode
        rec["ae_train_step_ms"] = bench_ae(args.steps, args.warmup, 192, [16, 32, 64, 64, 16], 64, 50)
        log(f"ae_train_step_ms {rec['ae_train_step_ms']:.2f}")
    if "ae_whole" in todo:  # cpu preset, whole mode
        rec["ae_whole_train_step_ms"] = bench_ae(args.steps, args.warmup, 24064, [8, 16, 32, 32, 16], 128, 16)
        log(f"ae_whole_train_step_ms {rec['ae_whole_train_step_ms']:.2f}")
    if "ddpm" in todo:
        rec["ddpm_train_step_ms"] = bench_ddpm(args.steps, args.warmup)
        log(f"ddpm_train_step_ms {rec['ddpm_train_step_ms']:.2f}")
    for key in ARCHS:
        if key in todo:
            rec[f"{key}_train_step_ms"] = bench_arch(key, args.steps, args.warmup)
            log(f"{key}_train_step_ms {rec[f'{key}_train_step_ms']:.2f}")
    if "small_op" in todo:
        rec["small_op_us"] = bench_small_op()
        log(f"small_op_us {rec['small_op_us']:.2f}")
    if "sgemm" in todo:
        rec["sgemm_gflops"] = bench_sgemm(args.sgemm_size)
        log(f"sgemm_gflops {rec['sgemm_gflops']:.1f}")
    rec["wall_s"] = time.perf_counter() - t0
    rec["loadavg_1m"] = os.getloadavg()[0]  # > 0.5 or so before the run means the numbers are contended
    emit(rec)


if __name__ == "__main__":
    main()
