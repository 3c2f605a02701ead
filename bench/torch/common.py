"""Shared pieces of the PyTorch baselines: the SPEC's models, the Fashion-MNIST reader, timing.

Imported by engine.py, collect.py and evaluate.py (run them with /usr/bin/python3, which has
Debian's PyTorch). Everything follows /work/shared/SPEC.md; section numbers refer to it.
"""

import gzip
import json
import math
import os
import statistics
import struct
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

THREADS = 2
DEFAULT_DATA_DIR = "/usr/share/datasets/fashion-mnist"
MEAN, STD = 0.2860, 0.3530  # SPEC section 1 normalisation


def setup(seed=0, threads=THREADS):
    torch.set_num_threads(threads)
    torch.manual_seed(seed)
    return {"torch_version": torch.__version__, "torch_threads": torch.get_num_threads(),
            "loadavg_1m_before": os.getloadavg()[0]}


def emit(record):
    """One JSON line on stdout (results); progress goes to stderr."""
    sys.stdout.write(json.dumps(record) + "\n")
    sys.stdout.flush()


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def median_ms(fn, steps, warmup):
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(steps):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1e3)
    return statistics.median(times)


# ---------------------------------------------------------------- section 2: cnn-s

class CnnS(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 16, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(16)
        self.conv2 = nn.Conv2d(16, 32, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(32)
        self.conv3 = nn.Conv2d(32, 64, 3, padding=1, bias=False)
        self.bn3 = nn.BatchNorm2d(64)
        self.fc = nn.Linear(64, 10)

    def stem(self, x):  # [N,1,28,28] -> conv2 output [N,32,14,14] (input of bn2)
        return self.conv2(F.max_pool2d(F.relu(self.bn1(self.conv1(x))), 2))

    def head(self, h):  # conv2 output -> logits [N,10]
        h = F.max_pool2d(F.relu(self.bn2(h)), 2)
        h = F.relu(self.bn3(self.conv3(h))).mean(dim=(2, 3))
        return self.fc(h)

    def forward(self, x):
        return self.head(self.stem(x))


BN_SUBSET = ["bn2.weight", "bn2.bias", "bn3.weight", "bn3.bias"]


# ---------------------------------------------------------------- section 6: parameter autoencoder

class ParamAE(nn.Module):
    def __init__(self, length, channels, latent):
        super().__init__()
        assert length % 32 == 0, f"L = {length} must be a multiple of 32"
        c = list(channels)
        self.c5, self.l5 = c[-1], length // 32
        enc, prev = [], 1
        for ci in c:
            enc += [nn.Conv1d(prev, ci, 7, stride=2, padding=3), nn.BatchNorm1d(ci), nn.LeakyReLU(0.01)]
            prev = ci
        self.enc = nn.Sequential(*enc)
        self.enc_fc = nn.Sequential(nn.Linear(self.c5 * self.l5, latent), nn.Linear(latent, latent))
        self.dec_fc = nn.Linear(latent, self.c5 * self.l5)
        r = c[::-1]
        dec = []
        for a, b in zip(r[:-1], r[1:]):
            dec += [nn.ConvTranspose1d(a, b, 7, stride=2, padding=3, output_padding=1),
                    nn.BatchNorm1d(b), nn.ELU()]
        dec += [nn.ConvTranspose1d(c[0], c[0], 7, stride=2, padding=3, output_padding=1),
                nn.BatchNorm1d(c[0]), nn.ELU(), nn.Conv1d(c[0], 1, 7, stride=1, padding=3)]
        self.dec = nn.Sequential(*dec)

    def encode(self, x):  # [B, L] -> [B, d]
        return self.enc_fc(self.enc(x[:, None, :]).flatten(1))

    def decode(self, h):  # [B, d] -> [B, L]
        return self.dec(self.dec_fc(h).view(-1, self.c5, self.l5))[:, 0, :]


# ---------------------------------------------------------------- section 7: denoiser

def timestep_embedding(t, dim=256):
    half = dim // 2
    f = torch.exp(-math.log(10000.0) * torch.arange(half, dtype=torch.float32, device=t.device) / half)
    a = t.float()[:, None] * f[None, :]
    return torch.cat([torch.cos(a), torch.sin(a)], dim=1)


class Denoiser(nn.Module):
    def __init__(self, d, ch=(1, 16, 32, 64, 128, 64, 32, 16, 1)):
        super().__init__()
        assert len(ch) == 9
        self.time = nn.Sequential(nn.Linear(256, d), nn.SiLU(), nn.Linear(d, d))
        self.convs = nn.ModuleList([nn.Conv1d(ch[i], ch[i + 1], 7, padding=3) for i in range(8)])
        self.norms = nn.ModuleList([nn.BatchNorm1d(ch[i + 1]) for i in range(7)])

    def forward(self, x, t):  # x: [B, d], t: [B] -> [B, d]
        e = self.time(timestep_embedding(t))[:, None, :]  # [B, 1, d]
        h = x[:, None, :]
        skips = []
        for i in range(5):
            h = F.elu(self.norms[i](self.convs[i](h + e)))
            if i < 3:
                skips.append(h)
        for i in range(5, 8):
            h = h + skips[7 - i]  # s2, s1, s0
            h = self.convs[i](h + e)
            if i < 7:
                h = F.elu(self.norms[i](h))
        return h[:, 0, :]


def linear_alphas_cumprod(T=1000):
    betas = np.linspace(1e-4, 0.02, T, dtype=np.float64)
    return np.cumprod(1.0 - betas)


# ---------------------------------------------------------------- section 1: data

def read_idx(path):
    with gzip.open(path, "rb") as f:
        buf = f.read()
    ndim = buf[3]
    dims = struct.unpack(">" + "I" * ndim, buf[4:4 + 4 * ndim])
    return np.frombuffer(buf, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def load_fashion_mnist(data_dir):
    """-> dict of (x float32 [N,1,28,28] normalised, y int64 [N]) for train/val/test."""
    def find(stem):
        for name in (stem + ".gz", stem):
            p = os.path.join(data_dir, name)
            if os.path.exists(p):
                return p
        raise FileNotFoundError(f"{stem}(.gz) not found in {data_dir}")

    def norm(a):
        return torch.from_numpy(((a.astype(np.float32) / 255.0 - MEAN) / STD)[:, None, :, :].copy())

    xtr = norm(read_idx(find("train-images-idx3-ubyte")))
    ytr = torch.from_numpy(read_idx(find("train-labels-idx1-ubyte")).astype(np.int64))
    xte = norm(read_idx(find("t10k-images-idx3-ubyte")))
    yte = torch.from_numpy(read_idx(find("t10k-labels-idx1-ubyte")).astype(np.int64))
    return {"train": (xtr[:55000], ytr[:55000]), "val": (xtr[55000:], ytr[55000:]), "test": (xte, yte)}


@torch.no_grad()
def accuracy(model, x, y, batch=1000):
    model.eval()
    correct = 0
    for i in range(0, len(x), batch):
        correct += int((model(x[i:i + batch]).argmax(dim=1) == y[i:i + batch]).sum())
    return 100.0 * correct / len(x)


def save_safetensors_state(path, state):
    """{name: float tensor} -> F32 safetensors in the given order (num_batches_tracked dropped)."""
    header, blobs, off = {}, [], 0
    for name, t in state.items():
        if name.endswith("num_batches_tracked"):
            continue
        b = t.detach().float().contiguous().numpy().astype("<f4").tobytes()
        header[name] = {"dtype": "F32", "shape": list(t.shape), "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + b"".join(blobs))


def load_safetensors_state(path):
    """F32 safetensors (e.g. pdiff's base.safetensors) -> {name: tensor}, minimal reader."""
    with open(path, "rb") as f:
        buf = f.read()
    (n,) = struct.unpack("<Q", buf[:8])
    header = json.loads(buf[8:8 + n])
    header.pop("__metadata__", None)
    out = {}
    for name, info in header.items():
        if info["dtype"] != "F32":
            raise ValueError(f"{path}: {name} is {info['dtype']}, expected F32")
        b, e = info["data_offsets"]
        a = np.frombuffer(buf, dtype="<f4", count=(e - b) // 4, offset=8 + n + b)
        out[name] = torch.from_numpy(a.reshape(info["shape"]).copy())
    return out
