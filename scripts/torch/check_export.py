#!/usr/bin/python3
"""Check files written by `pdiff export` (or scripts/export-archs.ts) outside pdiff, by hand.

    npx tsx scripts/export-archs.ts DIR && /usr/bin/python3 scripts/torch/check_export.py DIR
    pdiff export runs/fmnist-bn -o best.onnx && pdiff export runs/fmnist-bn -o best.safetensors
    /usr/bin/python3 scripts/torch/check_export.py best.onnx best.safetensors --time

Arguments are .onnx / .safetensors files or folders holding them. For each
* .onnx: onnx.checker.check_model(full_check=True) (Debian's python3-onnx), then the opset, the
  input and output with their shapes, and the operators used;
* .safetensors (pdiff_* metadata: arch, model options, input shape, classes): the torchvision
  model of that architecture (scripts/torch/arch_models.py; mlp and cnn-s below) loads it with
  load_state_dict(strict=True), num_batches_tracked added; where a .onnx of the same name is
  given or beside it, every state_dict tensor must equal the ONNX initializer of that name bit for
  bit; where a .json of the same name is beside it (scripts/export-archs.ts), the PyTorch logits
  must equal pdiff's to 1e-4. With --time: PyTorch's eval-mode latency at batch 1 and 128 (the
  PyTorch column of docs/export.md#latency; pdiff's tests never call Python).
Exits 1 on any failure. Never run by the tests.
"""

import glob
import json
import os
import struct
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)


def check_onnx(path):
    import onnx
    from onnx import numpy_helper

    m = onnx.load(path)
    onnx.checker.check_model(m, full_check=True)
    dims = lambda v: [d.dim_param or d.dim_value for d in v.type.tensor_type.shape.dim]  # noqa: E731
    ops = sorted({n.op_type for n in m.graph.node})
    meta = {p.key: p.value for p in m.metadata_props}
    opset = ", ".join(f"{o.domain or 'ai.onnx'} {o.version}" for o in m.opset_import)
    print(f"{path}: onnx.checker ok (full_check); IR {m.ir_version}, opset {opset}; "
          f"{len(m.graph.node)} nodes, {len(m.graph.initializer)} initializers; "
          + ", ".join(f"input {v.name} {dims(v)}" for v in m.graph.input) + "; "
          + ", ".join(f"output {v.name} {dims(v)}" for v in m.graph.output))
    print(f"  ops: {' '.join(ops)}")
    if "pdiff_member" in meta:
        print(f"  member: {meta['pdiff_member']}; input normalisation mean {meta.get('pdiff_input_mean')} std {meta.get('pdiff_input_std')}")
    return {i.name: numpy_helper.to_array(i) for i in m.graph.initializer}


def read_safetensors(path):
    """(metadata, {name: float32 array}) of an F32 safetensors file."""
    with open(path, "rb") as f:
        buf = f.read()
    (n,) = struct.unpack("<Q", buf[:8])
    header = json.loads(buf[8:8 + n])
    meta = header.pop("__metadata__", {}) or {}
    data = buf[8 + n:]
    out = {}
    for name, info in header.items():
        if info["dtype"] != "F32":
            raise ValueError(f"{path}: tensor {name} is {info['dtype']}, expected F32")
        b, e = info["data_offsets"]
        out[name] = np.frombuffer(data[b:e], dtype="<f4").reshape(info["shape"])
    return meta, out


def torch_model(arch, in_shape, num_classes, opts):
    """The PyTorch model of a pdiff architecture (torchvision's classes where it has them)."""
    import torch.nn as nn
    import torch.nn.functional as F

    c, h, w = in_shape
    if arch == "mlp":
        class Mlp(nn.Module):  # src/models/mlp.ts: fc1..fcN + ReLU, head
            def __init__(self):
                super().__init__()
                prev, self.hidden = c * h * w, []
                for i, width in enumerate(opts.get("mlpHidden") or [128]):
                    setattr(self, f"fc{i + 1}", nn.Linear(prev, width))
                    self.hidden.append(f"fc{i + 1}")
                    prev = width
                self.head = nn.Linear(prev, num_classes)

            def forward(self, x):
                x = x.flatten(1)
                for name in self.hidden:
                    x = F.relu(getattr(self, name)(x))
                return self.head(x)
        return Mlp().eval()
    if arch == "cnn-s":
        class CnnS(nn.Module):  # src/models/cnn-s.ts (scripts/torch/make_cnn_fixture.py for 1 channel)
            def __init__(self):
                super().__init__()
                self.conv1 = nn.Conv2d(c, 16, 3, padding=1, bias=False)
                self.bn1 = nn.BatchNorm2d(16)
                self.conv2 = nn.Conv2d(16, 32, 3, padding=1, bias=False)
                self.bn2 = nn.BatchNorm2d(32)
                self.conv3 = nn.Conv2d(32, 64, 3, padding=1, bias=False)
                self.bn3 = nn.BatchNorm2d(64)
                self.fc = nn.Linear(64, num_classes)

            def forward(self, x):
                x = F.max_pool2d(F.relu(self.bn1(self.conv1(x))), 2)
                x = F.max_pool2d(F.relu(self.bn2(self.conv2(x))), 2)
                return self.fc(F.relu(self.bn3(self.conv3(x))).mean(dim=(2, 3)))
        return CnnS().eval()
    from arch_models import build
    stem = opts.get("stem")
    return build(arch, tuple(in_shape), num_classes, vit=opts.get("vit"),
                 small_stem=None if stem in (None, "auto") else stem == "small")


def median_ms(fn, repeats):
    for _ in range(3):
        fn()
    t = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        t.append((time.perf_counter() - t0) * 1000)
    return float(np.median(t))


def check_safetensors(path, onnx_inits, timing):
    import torch

    meta, tensors = read_safetensors(path)
    if "pdiff_arch" not in meta:
        print(f"{path}: no pdiff_arch metadata (not written by pdiff export); skipped")
        return True
    arch, in_shape = meta["pdiff_arch"], json.loads(meta["pdiff_input_shape"])
    num_classes, opts = int(meta["pdiff_num_classes"]), json.loads(meta.get("pdiff_model", "{}"))
    m = torch_model(arch, in_shape, num_classes, opts)
    sd = {k: torch.from_numpy(a.copy()) for k, a in tensors.items()}
    for k, v in m.state_dict().items():
        if k.endswith("num_batches_tracked"):
            sd[k] = torch.zeros_like(v)
    m.load_state_dict(sd, strict=True)
    ok = True
    line = f"{path}: torch load_state_dict(strict=True) ok: {arch} {in_shape}, {len(tensors)} tensors"
    if onnx_inits is not None:
        same = [k for k in tensors if k in onnx_inits and np.array_equal(onnx_inits[k].view(np.uint32), tensors[k].view(np.uint32))]
        ok &= len(same) == len(tensors)
        line += f"; {len(same)}/{len(tensors)} equal the ONNX initializers bit for bit"
    spec_path = path[:-len(".safetensors")] + ".json"
    if os.path.exists(spec_path):
        spec = json.load(open(spec_path))
        x = torch.tensor(spec["x"], dtype=torch.float32).reshape(-1, *in_shape)
        with torch.no_grad():
            got = m(x).reshape(-1)
        want = torch.tensor(spec["logits"], dtype=torch.float32)
        diff = (got - want).abs().max().item()
        good = diff <= 1e-4 * (1 + want.abs().max().item())
        ok &= good
        line += f"; logits vs pdiff max |diff| {diff:.2e} {'ok' if good else 'MISMATCH'}"
    print(line + ("" if ok else "  FAILED"))
    if timing:
        torch.manual_seed(0)
        with torch.no_grad():
            lat = {b: median_ms(lambda b=b: m(torch.randn(b, *in_shape)), 20 if b == 1 else 5) for b in (1, 128)}
        print(f"  PyTorch {torch.__version__} eval latency ({torch.get_num_threads()} threads): batch 1 {lat[1]:.3f} ms, batch 128 {lat[128]:.2f} ms")
    return ok


def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    timing = "--time" in sys.argv
    if not args:
        sys.exit(__doc__)
    files = []
    for a in args:
        files += sorted(glob.glob(os.path.join(a, "*.onnx")) + glob.glob(os.path.join(a, "*.safetensors"))) if os.path.isdir(a) else [a]
    inits, bad = {}, 0
    for f in [f for f in files if f.endswith(".onnx")]:
        try:
            inits[f[:-len(".onnx")]] = check_onnx(f)
        except Exception as e:  # noqa: BLE001 - report every file
            print(f"{f}: FAILED: {e}")
            bad += 1
    for f in [f for f in files if f.endswith(".safetensors")]:
        stem = f[:-len(".safetensors")]
        if stem not in inits and os.path.exists(stem + ".onnx"):
            inits[stem] = check_onnx(stem + ".onnx")
        try:
            bad += not check_safetensors(f, inits.get(stem), timing)
        except Exception as e:  # noqa: BLE001
            print(f"{f}: FAILED: {e}")
            bad += 1
    print(f"{len(files)} files, {bad} failed")
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
