#!/usr/bin/python3
"""A PyTorch cnn-s (SPEC section 2) with its eval-mode logits, for pdiff's model and safetensors tests.

    /usr/bin/python3 scripts/torch/make_cnn_fixture.py [--out-dir test/fixtures]

Writes, in test/fixtures/:
* cnn_s_torch.safetensors       state_dict (num_batches_tracked omitted), F32, state_dict order
* cnn_s_torch_f16.safetensors   the same tensors rounded to F16
* cnn_s_torch_bf16.safetensors  the same tensors rounded to BF16
* cnn_s_torch.json              input batch x [4,1,28,28] and the logits of each file's weights

The model is torch.manual_seed(0) init trained for 30 SGD steps in train mode on random data,
so BN weights and running statistics are not at their init values. x is drawn
from the same random task (labels recorded). The safetensors files
are written by hand (8-byte LE header length, JSON header padded with spaces to a multiple
of 8, raw little-endian data) with a "__metadata__" entry, as files from the Hugging Face
writer often have; the python safetensors package is used only to cross-check when present.
"""

import argparse
import copy
import json
import os
import struct

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


class CnnS(nn.Module):
    """SPEC section 2. PyTorch's default init is U(-1/sqrt(fan_in), 1/sqrt(fan_in)) here too."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 16, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(16)
        self.conv2 = nn.Conv2d(16, 32, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(32)
        self.conv3 = nn.Conv2d(32, 64, 3, padding=1, bias=False)
        self.bn3 = nn.BatchNorm2d(64)
        self.fc = nn.Linear(64, 10)

    def forward(self, x):  # x: [N, 1, 28, 28] -> logits [N, 10]
        x = F.max_pool2d(F.relu(self.bn1(self.conv1(x))), 2)
        x = F.max_pool2d(F.relu(self.bn2(self.conv2(x))), 2)
        x = F.relu(self.bn3(self.conv3(x))).mean(dim=(2, 3))
        return self.fc(x)


def state_dict_no_nbt(model):
    return {k: v.detach().clone() for k, v in model.state_dict().items()
            if not k.endswith("num_batches_tracked")}


DTYPES = {torch.float32: "F32", torch.float16: "F16", torch.bfloat16: "BF16"}


def tensor_bytes(t):
    t = t.contiguous().cpu()
    if t.dtype == torch.bfloat16:
        # numpy has no bfloat16: reinterpret as int16 and write the raw LE bits.
        return t.view(torch.int16).numpy().astype("<i2").tobytes()
    return t.numpy().astype(t.numpy().dtype.newbyteorder("<")).tobytes()


def write_safetensors(path, tensors, metadata=None):
    header = {}
    if metadata:
        header["__metadata__"] = metadata
    blobs, offset = [], 0
    for name, t in tensors.items():
        b = tensor_bytes(t)
        header[name] = {"dtype": DTYPES[t.dtype], "shape": list(t.shape),
                        "data_offsets": [offset, offset + len(b)]}
        blobs.append(b)
        offset += len(b)
    h = json.dumps(header, separators=(",", ":")).encode("utf-8")
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


def tj(t):
    return {"shape": list(t.shape), "data": [float(v) for v in t.detach().double().reshape(-1).tolist()]}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out-dir", default=os.path.join(os.path.dirname(__file__), "..", "..", "test", "fixtures"))
    args = ap.parse_args()
    out_dir = os.path.normpath(args.out_dir)
    os.makedirs(out_dir, exist_ok=True)

    torch.manual_seed(0)
    model = CnnS()
    # A learnable random task (class template + noise) so the logits differ between inputs.
    templates = torch.randn(10, 1, 28, 28)

    def batch(n):
        y = torch.randint(0, 10, (n,))
        return templates[y] + 1.0 * torch.randn(n, 1, 28, 28) + 0.3, y

    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    model.train()
    for _ in range(30):
        xb, yb = batch(32)
        loss = F.cross_entropy(model(xb), yb)
        opt.zero_grad()
        loss.backward()
        opt.step()

    sd = state_dict_no_nbt(model)
    x, y = batch(4)

    def logits_for(state, mode="eval", dtype=torch.float32):
        m = CnnS().to(dtype)
        m.load_state_dict({k: v.to(dtype) for k, v in state.items()}, strict=False)
        m.train(mode == "train")
        with torch.no_grad():
            return m(x.to(dtype))

    variants = {}
    for suffix, dt in [("", torch.float32), ("_f16", torch.float16), ("_bf16", torch.bfloat16)]:
        st = {k: v.to(dt) for k, v in sd.items()}
        fname = f"cnn_s_torch{suffix}.safetensors"
        write_safetensors(os.path.join(out_dir, fname), st, metadata={"format": "pt"})
        upcast = {k: v.float() for k, v in st.items()}
        variants[suffix] = (fname, DTYPES[dt], logits_for(upcast))

    eval_f32 = variants[""][2]
    doc = {
        "generator": "scripts/torch/make_cnn_fixture.py",
        "torch_version": torch.__version__,
        "model": "cnn-s (SPEC section 2), torch.manual_seed(0), 30 SGD steps (lr 0.05, momentum 0.9) "
                 "in train mode on random data (batch 32, class template + noise)",
        "tensors": [{"name": k, "shape": list(v.shape)} for k, v in sd.items()],
        "x": tj(x),
        "logits": tj(eval_f32),
        "logits_note": "eval mode (BN running stats), float32 forward of cnn_s_torch.safetensors",
        "logits_f64": tj(logits_for({k: v.double() for k, v in sd.items()}, dtype=torch.float64)),
        "logits_train_mode": tj(logits_for(sd, mode="train")),
        "logits_train_mode_note": "train mode (batch statistics of x), float32",
        "labels": [int(i) for i in y.tolist()],
        "argmax": [int(i) for i in eval_f32.argmax(dim=1).tolist()],
        "variants": [
            {"file": fname, "dtype": dname, "logits": tj(lg),
             "note": "float32 forward after upcasting every tensor of this file to F32"}
            for fname, dname, lg in variants.values()
        ],
    }
    with open(os.path.join(out_dir, "cnn_s_torch.json"), "w") as f:
        json.dump(doc, f, separators=(",", ":"))
        f.write("\n")

    # Cross-check our writer with the reference reader when it is installed.
    try:
        from safetensors.torch import load_file  # type: ignore
        for fname, _, _ in variants.values():
            loaded = load_file(os.path.join(out_dir, fname))
            assert list(loaded) == list(sd) or set(loaded) == set(sd)
        print("safetensors package: files load")
    except ImportError:
        pass
    print(f"wrote {out_dir}: cnn_s_torch{{,_f16,_bf16}}.safetensors, cnn_s_torch.json; "
          f"last loss {float(loss):.3f}; labels {doc['labels']} eval argmax {doc['argmax']}; "
          f"bn2.weight std {float(sd['bn2.weight'].std()):.3g}; "
          f"bn2.running_var[:3] {sd['bn2.running_var'][:3].tolist()}")
    for fname, dname, lg in variants.values():
        print(f"  {fname}: max |logits - f32 logits| = {float((lg - eval_f32).abs().max()):.3g}")


if __name__ == "__main__":
    main()
