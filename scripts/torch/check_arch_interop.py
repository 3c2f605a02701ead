#!/usr/bin/python3
"""Load pdiff-written models into torchvision's constructors with strict=True and compare logits.

    npx tsx scripts/arch-interop.ts DIR && /usr/bin/python3 scripts/torch/check_arch_interop.py DIR

For each DIR/<name>.json (arch, input shape, model options, input batch, pdiff's logits) it builds
the torchvision model (scripts/torch/arch_models.py), loads DIR/<name>.safetensors with
load_state_dict(strict=True) (adding the num_batches_tracked counters pdiff does not keep), and
checks the eval-mode logits against pdiff's to 1e-4. Exits 1 on any mismatch.
"""

import glob
import json
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from arch_models import build  # noqa: E402
from check_pdiff_safetensors import read_safetensors  # noqa: E402


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    d = sys.argv[1]
    bad = 0
    for path in sorted(glob.glob(os.path.join(d, "*.json"))):
        name = os.path.basename(path)[:-5]
        spec = json.load(open(path))
        opts = spec["model"]
        stem = opts.get("stem")
        m = build(spec["arch"], tuple(spec["inShape"]), 10, vit=opts.get("vit"),
                  small_stem=None if stem in (None, "auto") else stem == "small")
        _, tensors = read_safetensors(os.path.join(d, f"{name}.safetensors"))
        sd = {k: torch.from_numpy(a.astype("float32")) for k, (_, a) in tensors.items()}
        for k, v in m.state_dict().items():
            if k.endswith("num_batches_tracked"):
                sd[k] = torch.zeros_like(v)
        m.load_state_dict(sd, strict=True)
        x = torch.tensor(spec["x"], dtype=torch.float32).reshape(-1, *spec["inShape"])
        with torch.no_grad():
            got = m.eval()(x).reshape(-1)
        want = torch.tensor(spec["logits"], dtype=torch.float32)
        diff = (got - want).abs().max().item()
        ok = diff <= 1e-4 * (1 + want.abs().max().item())
        bad += not ok
        print(f"{name}: strict load ok, {len(sd)} tensors, max |logit difference| {diff:.2e} {'ok' if ok else 'MISMATCH'}")
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
