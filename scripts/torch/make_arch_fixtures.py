#!/usr/bin/python3
"""Fixtures for pdiff's architectures from torchvision's constructors (scripts/torch/arch_models.py).

    /usr/bin/python3 scripts/torch/make_arch_fixtures.py [--out-dir test/fixtures]

Writes test/fixtures/arch_<name>.json for each case below: the torchvision state_dict's names and
shapes in order (num_batches_tracked omitted: pdiff keeps no such counter), an input batch x and
the eval-mode logits with every tensor filled by arch_models.det_fill. For the small models it
also writes arch_<name>.safetensors, torchvision's own random init (torch.manual_seed(0)) with
BN statistics moved off their init values, and the logits of those weights.
"""

import argparse
import json
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from arch_models import build, det_fill, state_names  # noqa: E402
from make_cnn_fixture import write_safetensors  # noqa: E402

VIT = {"patchSize": 4, "layers": 2, "heads": 2, "hidden": 16, "mlp": 32}

# name, arch, in_shape, classes, extra, write the random-init weights too
CASES = [
    ("resnet20", "resnet20", (3, 16, 16), 10, {}, True),
    ("resnet18_small", "resnet18", (3, 16, 16), 10, {}, False),
    ("resnet50_small", "resnet50", (3, 16, 16), 10, {}, False),
    ("resnet18_imagenet", "resnet18", (3, 32, 32), 10, {"small_stem": False}, False),
    ("efficientnet_s", "efficientnet-s", (1, 28, 28), 10, {}, False),
    ("efficientnet_b0", "efficientnet-b0", (3, 32, 32), 10, {"small_stem": False}, False),
    ("vit", "vit", (1, 16, 16), 10, {"vit": VIT}, True),
]


def flat(t):
    return [float(v) for v in t.detach().double().reshape(-1).tolist()]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out-dir", default=os.path.join(os.path.dirname(__file__), "..", "..", "test", "fixtures"))
    args = ap.parse_args()
    out_dir = os.path.normpath(args.out_dir)
    torch.set_num_threads(2)
    for name, arch, in_shape, classes, extra, write_init in CASES:
        torch.manual_seed(0)
        m = build(arch, in_shape, classes, vit=extra.get("vit"), small_stem=extra.get("small_stem"))
        x = torch.randn(3, *in_shape)
        doc = {
            "generator": "scripts/torch/make_arch_fixtures.py", "torch_version": torch.__version__,
            "arch": arch, "inShape": list(in_shape), "numClasses": classes,
            "stem": "imagenet" if extra.get("small_stem") is False else "auto", "vit": extra.get("vit"),
            "names": state_names(m), "x": {"shape": list(x.shape), "data": flat(x)},
        }
        if write_init:
            # torchvision's own init, BN statistics off their init (a few train-mode passes)
            m.train()
            with torch.no_grad():
                for _ in range(3):
                    m(torch.randn(8, *in_shape) * 1.5 + 0.2)
            m.eval()
            sd = {k: v.detach().clone().float() for k, v in m.state_dict().items() if not k.endswith("num_batches_tracked")}
            fname = f"arch_{name}.safetensors"
            write_safetensors(os.path.join(out_dir, fname), sd, metadata={"format": "pt"})
            with torch.no_grad():
                doc["initFile"] = fname
                doc["initLogits"] = flat(m(x))
        det_fill(m)
        with torch.no_grad():
            doc["logits"] = flat(m(x))
        path = os.path.join(out_dir, f"arch_{name}.json")
        with open(path, "w") as f:
            json.dump(doc, f)
        print(f"{path}: {len(doc['names'])} tensors, logits[0:3] {doc['logits'][:3]}")


if __name__ == "__main__":
    main()
